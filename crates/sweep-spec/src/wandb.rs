//! W&B sweep files, the agent side: the argv `wandb agent` builds for a run.
//!
//! A W&B sweep file names a `program` and optionally a `command:` list of
//! words and macros. [`agent_argv`] expands it exactly as `wandb/wandb_agent.py`
//! (`_command_run`) and `wandb/sdk/launch/sweeps/utils.py`
//! (`create_sweep_command`, `create_sweep_command_args`) do:
//!
//! - `${envvar:NAME}` anywhere in a word is replaced by the environment
//!   variable `NAME` (uppercase letters, digits, `_`), or by `NAME` itself
//!   when it is unset;
//! - a word that is a whole macro, `${...}`, becomes zero or more words:
//!   `${env}` `/usr/bin/env`, `${interpreter}` the python, `${program}` the
//!   program, `${args}` `--k=v` each, `${args_no_hyphens}` `k=v`,
//!   `${args_no_boolean_flags}` `--k=v` but `--k` for true and nothing for
//!   false, `${args_no_equals}` `--k v`, `${args_append_hydra}` `+k=v`,
//!   `${args_override_hydra}` `++k=v`, `${args_json}` one JSON object,
//!   `${args_json_file}` the path of a file holding it, `${args_dict}` the
//!   parameter names; any other whole-word macro vanishes, as in the agent;
//! - a macro inside a longer word is left as it is.
//!
//! Values are written as Python's `str()` writes them: `True`/`False`,
//! `0.001`, `1e-05`, `100.0`, `[64, 32]`, `['relu', 'gelu']`, and a nested
//! group as a dict, `{'lr': 0.01, 'name': 'adam'}`.
//!
//! Nested parameters (a parameter holding `parameters:`) are named in
//! [`Params`] by their path joined with dots (`optimizer.lr`); the spec's
//! [`crate::Trainer::Wandb::nested`] lists the groups, so a flat name that
//! merely contains a dot (`train.lr`) stays one `--train.lr=...` argument.
//! The agent receives nested values as one dict per top-level group.
//!
//! Order: the parameters' names sorted, top-level groups after the plain
//! parameters, as W&B's `HyperParameterSet.to_config` builds a run's config.

use std::path::{Path, PathBuf};
use sweep_core::{ParamValue, Params};

/// The command `wandb agent` runs when a sweep file has no `command:`.
pub const DEFAULT_COMMAND: [&str; 4] = ["${env}", "${interpreter}", "${program}", "${args}"];

/// The whole-word macros the agent expands (besides `${envvar:NAME}`).
pub const MACROS: &[&str] = &[
    "env",
    "interpreter",
    "program",
    "args",
    "args_no_hyphens",
    "args_no_boolean_flags",
    "args_no_equals",
    "args_append_hydra",
    "args_override_hydra",
    "args_json",
    "args_json_file",
    "args_dict",
];

/// One argument the agent passes: a parameter's value, or a nested group.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg<'a> {
    /// A plain value.
    Value(&'a ParamValue),
    /// A nested group, written as a Python dict.
    Dict(Vec<(String, Arg<'a>)>),
}

/// Named arguments, in the order the agent writes them.
pub type Args<'a> = Vec<(String, Arg<'a>)>;

/// The agent's arguments for a trial: plain parameters, then nested groups.
pub fn args<'a>(params: &'a Params, nested: &[String]) -> Args<'a> {
    let entries: Vec<(&str, &ParamValue)> = params.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let (mut plain, groups) = group(&entries, nested);
    plain.extend(groups);
    plain
}

/// Splits entries into plain ones and groups (each group's entries in name
/// order, inner groups placed where their first member sorts).
fn group<'a>(entries: &[(&str, &'a ParamValue)], nested: &[String]) -> (Args<'a>, Args<'a>) {
    // The outermost groups: those inside no other group.
    let mut tops: Vec<&String> = nested
        .iter()
        .filter(|g| !nested.iter().any(|h| g.starts_with(&format!("{h}."))))
        .collect();
    tops.sort();
    tops.dedup();
    let member = |key: &str| tops.iter().find(|g| key.starts_with(&format!("{g}."))).copied();
    let mut plain = Vec::new();
    let mut groups = Vec::new();
    for (key, value) in entries {
        if member(key).is_none() {
            plain.push((key.to_string(), Arg::Value(value)));
        }
    }
    for g in tops {
        let prefix = format!("{g}.");
        let inner: Vec<(&str, &ParamValue)> = entries
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|rest| (rest, *v)))
            .collect();
        let inner_nested: Vec<String> = nested
            .iter()
            .filter_map(|h| h.strip_prefix(&prefix).map(str::to_string))
            .collect();
        let (mut items, subgroups) = group(&inner, &inner_nested);
        items.extend(subgroups);
        items.sort_by(|a, b| a.0.cmp(&b.0));
        groups.push((g.clone(), Arg::Dict(items)));
    }
    (plain, groups)
}

/// The argv `wandb agent` runs for a trial with these parameters.
///
/// `command` is the sweep file's `command:` (`None`: [`DEFAULT_COMMAND`]),
/// `python` stands for `${interpreter}`, `nested` lists the nested groups
/// and `args_json_file` is what `${args_json_file}` becomes: the caller
/// writes [`args_json`] there before starting the trial (see
/// [`uses_args_json_file`]). `${envvar:NAME}` reads this process's environment.
pub fn agent_argv(
    command: Option<&[String]>,
    program: &str,
    params: &Params,
    python: &str,
    nested: &[String],
    args_json_file: &Path,
) -> Vec<String> {
    expand(command, program, params, python, nested, args_json_file, &|name| {
        std::env::var(name).ok()
    })
}

/// Everything the launcher needs to start one trial of a W&B sweep file as
/// `wandb agent` would: the argv, the files to write first, the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentJob {
    /// The command, macros expanded ([`agent_argv`]).
    pub argv: Vec<String>,
    /// Files to write before starting it: the run config
    /// ([`run_config_yaml`]) and, when the command uses `${args_json_file}`,
    /// the arguments as JSON ([`args_json`]).
    pub files: Vec<(PathBuf, String)>,
    /// `WANDB_SWEEP_ID`, `WANDB_RUN_ID` and `WANDB_SWEEP_PARAM_PATH`, as the
    /// agent sets them (so `wandb.init()` finds the run's config).
    pub env: Vec<(String, String)>,
}

/// The file name, in the trial's folder, of `${args_json_file}`.
pub const ARGS_JSON_FILE: &str = "wandb-args.json";
/// The file name, in the trial's folder, of the run config (`$WANDB_SWEEP_PARAM_PATH`).
pub const RUN_CONFIG_FILE: &str = "wandb-config.yaml";

/// One trial's [`AgentJob`]: files go in `trial_dir`; `sweep_id` and
/// `run_id` fill the agent's environment variables.
#[allow(clippy::too_many_arguments)]
pub fn agent_job(
    command: Option<&[String]>,
    program: &str,
    params: &Params,
    python: &str,
    nested: &[String],
    trial_dir: &Path,
    sweep_id: &str,
    run_id: &str,
) -> AgentJob {
    let json_file = trial_dir.join(ARGS_JSON_FILE);
    let config_file = trial_dir.join(RUN_CONFIG_FILE);
    let mut files = vec![(config_file.clone(), run_config_yaml(params, nested))];
    if uses_args_json_file(command) {
        files.push((json_file.clone(), args_json(params, nested)));
    }
    AgentJob {
        argv: agent_argv(command, program, params, python, nested, &json_file),
        files,
        env: vec![
            ("WANDB_SWEEP_ID".into(), sweep_id.into()),
            ("WANDB_RUN_ID".into(), run_id.into()),
            ("WANDB_SWEEP_PARAM_PATH".into(), config_file.display().to_string()),
        ],
    }
}

/// Whether a `command:` uses `${args_json_file}`, so the launcher must write
/// [`args_json`] to the path it gives [`agent_argv`].
pub fn uses_args_json_file(command: Option<&[String]>) -> bool {
    command.is_some_and(|c| c.iter().any(|w| w == "${args_json_file}"))
}

/// `${args_json}`: the arguments as Python's `json.dumps` writes them.
pub fn args_json(params: &Params, nested: &[String]) -> String {
    json_dict(&args(params, nested))
}

/// The run config the agent writes to `$WANDB_SWEEP_PARAM_PATH` before
/// starting a run (`config_util.save_config_file_from_dict`), which
/// `wandb.init()` loads into `wandb.config`: `wandb_version: 1`, then
/// `name: {value: ...}` per argument. Values are written in flow style that
/// PyYAML reads back as the same types (floats always carry a `.`: `1.0e-05`).
pub fn run_config_yaml(params: &Params, nested: &[String]) -> String {
    let mut out = String::from("wandb_version: 1\n");
    let args = args(params, nested);
    if !args.is_empty() {
        out.push('\n');
    }
    for (k, v) in &args {
        out.push_str(&format!("{}:\n  value: {}\n", json_str(k), yaml_arg(v)));
    }
    out
}

fn yaml_arg(arg: &Arg) -> String {
    match arg {
        Arg::Value(v) => yaml_value(v),
        Arg::Dict(items) => {
            let inner: Vec<String> = items
                .iter()
                .map(|(k, v)| format!("{}: {}", json_str(k), yaml_arg(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

fn yaml_value(v: &ParamValue) -> String {
    match v {
        ParamValue::Float(x) if x.is_nan() => ".nan".into(),
        ParamValue::Float(x) if x.is_infinite() => if *x > 0.0 { ".inf" } else { "-.inf" }.into(),
        // PyYAML's represent_float: YAML 1.1 needs a `.` in `1e-05`.
        ParamValue::Float(x) => {
            let r = py_float(*x);
            match r.split_once('e') {
                Some((m, e)) if !m.contains('.') => format!("{m}.0e{e}"),
                _ => r,
            }
        }
        ParamValue::List(items) => {
            let inner: Vec<String> = items.iter().map(yaml_value).collect();
            format!("[{}]", inner.join(", "))
        }
        other => json_value(other),
    }
}

fn expand(
    command: Option<&[String]>,
    program: &str,
    params: &Params,
    python: &str,
    nested: &[String],
    args_json_file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    let default: Vec<String> = DEFAULT_COMMAND.iter().map(|s| s.to_string()).collect();
    // The agent treats an empty list like no list (`command or DEFAULT`).
    let words = match command {
        Some(c) if !c.is_empty() => c,
        _ => &default[..],
    };
    let args = args(params, nested);
    let mut out = Vec::new();
    for word in words {
        let word = envvars(word, env);
        let Some(name) = word.strip_prefix("${").and_then(|w| w.strip_suffix('}')) else {
            out.push(word);
            continue;
        };
        let flags =
            |f: &dyn Fn(&str, &Arg) -> Vec<String>| -> Vec<String> { args.iter().flat_map(|(k, v)| f(k, v)).collect() };
        out.extend(match name {
            "env" => vec!["/usr/bin/env".to_string()],
            "interpreter" => vec![python.to_string()],
            "program" => vec![program.to_string()],
            "args" => flags(&|k, v| vec![format!("--{k}={}", py_str(v))]),
            "args_no_hyphens" => flags(&|k, v| vec![format!("{k}={}", py_str(v))]),
            "args_append_hydra" => flags(&|k, v| vec![format!("+{k}={}", py_str(v))]),
            "args_override_hydra" => flags(&|k, v| vec![format!("++{k}={}", py_str(v))]),
            "args_no_equals" => flags(&|k, v| vec![format!("--{k}"), py_str(v)]),
            "args_no_boolean_flags" => flags(&|k, v| match v {
                Arg::Value(ParamValue::Bool(true)) => vec![format!("--{k}")],
                Arg::Value(ParamValue::Bool(false)) => vec![],
                _ => vec![format!("--{k}={}", py_str(v))],
            }),
            "args_json" => vec![json_dict(&args)],
            "args_json_file" => vec![args_json_file.display().to_string()],
            "args_dict" => args.iter().map(|(k, _)| k.clone()).collect(),
            _ => vec![],
        });
    }
    out
}

/// Replaces every `${envvar:NAME}` in a word (`NAME` in `[A-Z0-9_]*`).
fn envvars(word: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    const OPEN: &str = "${envvar:";
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find(OPEN) {
        let after = &rest[i + OPEN.len()..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(after.len());
        if !after[name_len..].starts_with('}') {
            out.push_str(&rest[..i + OPEN.len()]);
            rest = after;
            continue;
        }
        let name = &after[..name_len];
        out.push_str(&rest[..i]);
        out.push_str(&env(name).unwrap_or_else(|| name.to_string()));
        rest = &after[name_len + 1..];
    }
    out.push_str(rest);
    out
}

/// Python's `str()` of an argument.
pub fn py_str(arg: &Arg) -> String {
    match arg {
        Arg::Value(ParamValue::Str(s)) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of an argument (how values inside lists and dicts print).
pub fn py_repr(arg: &Arg) -> String {
    match arg {
        Arg::Value(v) => py_repr_value(v),
        Arg::Dict(items) => {
            let inner: Vec<String> = items
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr_str(k), py_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

fn py_repr_value(v: &ParamValue) -> String {
    match v {
        ParamValue::Bool(true) => "True".into(),
        ParamValue::Bool(false) => "False".into(),
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Float(x) => py_float(*x),
        ParamValue::Str(s) => py_repr_str(s),
        ParamValue::List(items) => {
            let inner: Vec<String> = items.iter().map(py_repr_value).collect();
            format!("[{}]", inner.join(", "))
        }
    }
}

/// Python's `repr()` of a string: single quotes unless the text holds a
/// single quote and no double quote.
pub fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` of a float: the shortest digits that read back, in
/// fixed notation for exponents -4..=15 (with `.0` when whole), otherwise
/// scientific with a signed two-digit exponent (`1e-05`, `1.5e+16`).
pub fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if x < 0.0 { "-" } else { "" };
    let decpt = exp + 1;
    let n = digits.len() as i32;
    let body = if decpt <= -4 || decpt > 16 {
        let frac = if n > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{}{frac}e{esign}{:02}", &digits[..1], exp.abs())
    } else if decpt <= 0 {
        format!("0.{}{digits}", "0".repeat((-decpt) as usize))
    } else if decpt >= n {
        format!("{digits}{}.0", "0".repeat((decpt - n) as usize))
    } else {
        format!("{}.{}", &digits[..decpt as usize], &digits[decpt as usize..])
    };
    format!("{sign}{body}")
}

/// `json.dumps` of the arguments (default separators, `ensure_ascii`).
fn json_dict(items: &[(String, Arg)]) -> String {
    let inner: Vec<String> = items
        .iter()
        .map(|(k, v)| format!("{}: {}", json_str(k), json_arg(v)))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

fn json_arg(arg: &Arg) -> String {
    match arg {
        Arg::Value(v) => json_value(v),
        Arg::Dict(items) => json_dict(items),
    }
}

fn json_value(v: &ParamValue) -> String {
    match v {
        ParamValue::Bool(b) => b.to_string(),
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Float(x) if x.is_nan() => "NaN".into(),
        ParamValue::Float(x) if x.is_infinite() => if *x > 0.0 { "Infinity" } else { "-Infinity" }.into(),
        ParamValue::Float(x) => py_float(*x),
        ParamValue::Str(s) => json_str(s),
        ParamValue::List(items) => {
            let inner: Vec<String> = items.iter().map(json_value).collect();
            format!("[{}]", inner.join(", "))
        }
    }
}

/// A JSON string as Python writes it with `ensure_ascii=True`.
fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if c.is_ascii() && (c as u32) >= 0x20 => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        let mut p = Params::new();
        p.insert("lr".into(), ParamValue::Float(0.001));
        p.insert("epochs".into(), ParamValue::Int(10));
        p.insert("use_bn".into(), ParamValue::Bool(true));
        p.insert("dropout_last".into(), ParamValue::Bool(false));
        p.insert(
            "layers".into(),
            ParamValue::List(vec![ParamValue::Int(64), ParamValue::Int(32)]),
        );
        p.insert("act".into(), ParamValue::Str("relu".into()));
        p
    }

    fn argv(command: &[&str], params: &Params, nested: &[String]) -> Vec<String> {
        let command: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        let env = |name: &str| (name == "DATA_DIR").then(|| "/data".to_string());
        expand(
            Some(&command),
            "train.py",
            params,
            "python3",
            nested,
            &PathBuf::from("/runs/t1/args.json"),
            &env,
        )
    }

    const ARGS: [&str; 6] = [
        "--act=relu",
        "--dropout_last=False",
        "--epochs=10",
        "--layers=[64, 32]",
        "--lr=0.001",
        "--use_bn=True",
    ];

    #[test]
    fn the_default_command_is_env_interpreter_program_args() {
        let got = expand(None, "train.py", &params(), "python", &[], Path::new("a.json"), &|_| {
            None
        });
        let mut want = vec!["/usr/bin/env", "python", "train.py"];
        want.extend(ARGS);
        assert_eq!(got, want);
        // An empty list is no list, as `command or DEFAULT_SWEEP_COMMAND`.
        let empty = expand(
            Some(&[]),
            "train.py",
            &params(),
            "python",
            &[],
            Path::new("a.json"),
            &|_| None,
        );
        assert_eq!(empty, want);
    }

    #[test]
    fn args_writes_python_values() {
        let got = argv(&["${args}"], &params(), &[]);
        assert_eq!(got, ARGS);
    }

    #[test]
    fn args_no_hyphens_and_hydra_forms() {
        let p = params();
        assert_eq!(
            argv(&["${args_no_hyphens}"], &p, &[]),
            [
                "act=relu",
                "dropout_last=False",
                "epochs=10",
                "layers=[64, 32]",
                "lr=0.001",
                "use_bn=True"
            ]
        );
        assert_eq!(argv(&["${args_append_hydra}"], &p, &[])[0], "+act=relu");
        assert_eq!(argv(&["${args_override_hydra}"], &p, &[])[4], "++lr=0.001");
    }

    #[test]
    fn args_no_boolean_flags_drops_false_and_bares_true() {
        assert_eq!(
            argv(&["${args_no_boolean_flags}"], &params(), &[]),
            [
                "--act=relu",
                "--epochs=10",
                "--layers=[64, 32]",
                "--lr=0.001",
                "--use_bn"
            ]
        );
    }

    #[test]
    fn args_no_equals_splits_flag_and_value() {
        assert_eq!(
            argv(&["${args_no_equals}"], &params(), &[])[..4],
            ["--act", "relu", "--dropout_last", "False"]
        );
    }

    #[test]
    fn args_json_is_one_word_as_json_dumps_writes_it() {
        assert_eq!(
            argv(&["${args_json}"], &params(), &[]),
            [
                r#"{"act": "relu", "dropout_last": false, "epochs": 10, "layers": [64, 32], "lr": 0.001, "use_bn": true}"#
            ]
        );
    }

    #[test]
    fn args_json_file_is_the_given_path() {
        let cmd = ["python", "${program}", "--config", "${args_json_file}"];
        assert_eq!(
            argv(&cmd, &params(), &[]),
            ["python", "train.py", "--config", "/runs/t1/args.json"]
        );
        let owned: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        assert!(uses_args_json_file(Some(&owned)));
        assert!(!uses_args_json_file(None));
    }

    #[test]
    fn env_interpreter_program_and_args_dict() {
        assert_eq!(
            argv(
                &["${env}", "${interpreter}", "${program}", "${args_dict}"],
                &params(),
                &[]
            ),
            [
                "/usr/bin/env",
                "python3",
                "train.py",
                "act",
                "dropout_last",
                "epochs",
                "layers",
                "lr",
                "use_bn"
            ]
        );
    }

    #[test]
    fn envvar_macros_are_replaced_inside_words() {
        assert_eq!(
            argv(
                &["--data=${envvar:DATA_DIR}/x", "${envvar:UNSET_ONE}", "${envvar:lower}"],
                &Params::new(),
                &[]
            ),
            // A lowercase name is no envvar macro; as a whole word it is an
            // unknown macro, which the agent drops.
            ["--data=/data/x", "UNSET_ONE"]
        );
    }

    #[test]
    fn unknown_whole_word_macros_vanish_and_partial_ones_stay() {
        assert_eq!(
            argv(
                &["accelerate", "launch", "${program}", "${nope}", "--x=${args}"],
                &Params::new(),
                &[]
            ),
            ["accelerate", "launch", "train.py", "--x=${args}"]
        );
    }

    #[test]
    fn nested_groups_are_dicts_after_plain_parameters() {
        let mut p = Params::new();
        p.insert("optimizer.lr".into(), ParamValue::Float(0.01));
        p.insert("optimizer.name".into(), ParamValue::Str("adam".into()));
        p.insert("optimizer.betas.b1".into(), ParamValue::Float(0.9));
        p.insert("train.lr".into(), ParamValue::Float(0.5));
        p.insert("zeta".into(), ParamValue::Int(1));
        let nested = vec!["optimizer".to_string(), "optimizer.betas".to_string()];
        assert_eq!(
            argv(&["${args}"], &p, &nested),
            [
                "--train.lr=0.5",
                "--zeta=1",
                "--optimizer={'betas': {'b1': 0.9}, 'lr': 0.01, 'name': 'adam'}"
            ]
        );
        assert_eq!(
            args_json(&p, &nested),
            r#"{"train.lr": 0.5, "zeta": 1, "optimizer": {"betas": {"b1": 0.9}, "lr": 0.01, "name": "adam"}}"#
        );
    }

    #[test]
    fn floats_print_as_python_repr() {
        for (x, want) in [
            (0.001, "0.001"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (100.0, "100.0"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345e22, "1.2345e+22"),
            (0.0, "0.0"),
            (123.456, "123.456"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(py_float(x), want, "{x}");
        }
    }

    #[test]
    fn strings_in_lists_are_quoted_as_python_does() {
        let v = ParamValue::List(vec![
            ParamValue::Str("relu".into()),
            ParamValue::Str("it's".into()),
            ParamValue::Bool(false),
            ParamValue::Float(0.1),
        ]);
        assert_eq!(py_str(&Arg::Value(&v)), r#"['relu', "it's", False, 0.1]"#);
        assert_eq!(json_str("é\""), r#""\u00e9\"""#);
    }

    #[test]
    fn the_run_config_file_reads_back_with_its_types() {
        let mut p = params();
        p.insert("tiny".into(), ParamValue::Float(1e-5));
        p.insert("opt.name".into(), ParamValue::Str("adam".into()));
        let yaml = run_config_yaml(&p, &["opt".to_string()]);
        assert_eq!(
            yaml,
            "wandb_version: 1\n\n\"act\":\n  value: \"relu\"\n\"dropout_last\":\n  value: false\n\"epochs\":\n  value: 10\n\"layers\":\n  value: [64, 32]\n\"lr\":\n  value: 0.001\n\"tiny\":\n  value: 1.0e-05\n\"use_bn\":\n  value: true\n\"opt\":\n  value: {\"name\": \"adam\"}\n"
        );
        // Our own YAML reader agrees on every value.
        let back: serde_norway::Value = serde_norway::from_str(&yaml).unwrap();
        assert_eq!(back["tiny"]["value"].as_f64(), Some(1e-5));
        assert_eq!(back["opt"]["value"]["name"].as_str(), Some("adam"));
    }

    proptest::proptest! {
        /// Python's float repr reads back as the same float.
        #[test]
        fn py_float_round_trips(x in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO) {
            proptest::prop_assert_eq!(py_float(x).parse::<f64>().unwrap(), x);
        }
    }

    #[test]
    fn an_agent_job_writes_the_config_and_the_json_only_when_used() {
        let dir = Path::new("/r/t1");
        let plain = agent_job(None, "train.py", &params(), "python", &[], dir, "s", "t1");
        assert_eq!(plain.files.len(), 1);
        assert_eq!(plain.files[0].0, dir.join(RUN_CONFIG_FILE));
        assert_eq!(
            plain.env[2],
            (
                "WANDB_SWEEP_PARAM_PATH".to_string(),
                "/r/t1/wandb-config.yaml".to_string()
            )
        );
        let cmd = vec!["${program}".to_string(), "${args_json_file}".to_string()];
        let json = agent_job(Some(&cmd), "train.py", &params(), "python", &[], dir, "s", "t1");
        assert_eq!(json.argv, ["train.py", "/r/t1/wandb-args.json"]);
        assert_eq!(json.files[1], (dir.join(ARGS_JSON_FILE), args_json(&params(), &[])));
    }
}
