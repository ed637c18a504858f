//! From YAML text to a validated [`Spec`], collecting every problem with its
//! key path and position.

use crate::distribution::{Distribution, NAMES as DIST_NAMES, Step};
use crate::duration::parse_duration;
use crate::error::{Diagnostic, Pos, SpecError};
use crate::locate::{Positions, index, join};
use crate::sampler::tpe::TpeSettings;
use crate::spec::{CheckpointSettings, Launcher, Method, Parameter, Resources, SlurmSettings, Spec, Trainer};
use crate::suggest::did_you_mean;
use serde_norway::Value;
use std::path::Path;
use sweep_core::{Goal, Metric, ParamValue, Params, builtin, format_float};

mod early_terminate;

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "method",
    "metric",
    "run_cap",
    "seed",
    "parameters",
    "trainer",
    "resources",
    "timeout",
    "retries",
    "max_initial_failures",
    "launcher",
    "slurm",
    "early_terminate",
    "tpe",
    "program",
    "command",
    "project",
    "entity",
    "checkpoint",
];
const CHECKPOINT_KEYS: &[&str] = &["every", "max_continuations", "signal_before"];
/// Keys of W&B's schema that only W&B's servers act on, with what to do instead.
const WANDB_SERVER_KEYS: &[(&str, &str)] = &[
    ("controller", "sweep is its own controller; remove `controller`"),
    (
        "job",
        "W&B Launch jobs are not run here; give `program:` (the training script) instead",
    ),
    (
        "image_uri",
        "container images are not run here; give `program:` (the training script) instead",
    ),
    (
        "scheduler",
        "custom W&B schedulers are not run here; use `method: random`, `grid` or `bayes`",
    ),
    (
        "metrics",
        "multi-objective sweeps are not supported; keep one `metric:`",
    ),
    ("apiVersion", "a W&B Launch setting; remove it"),
    ("kind", "a W&B Launch setting; remove it"),
];
/// The settings of the `tpe:` block.
const TPE_KEYS: &[&str] = &["n_startup_trials", "n_ei_candidates", "multivariate", "constant_liar"];
const SLURM_KEYS: &[&str] = &["partition", "account", "qos", "time", "mem", "constraint", "extra_args"];
const PARAM_KEYS: &[&str] = &[
    "value",
    "values",
    "probabilities",
    "distribution",
    "min",
    "max",
    "q",
    "mu",
    "sigma",
    "a",
    "b",
];
const METRIC_KEYS: &[&str] = &["name", "goal", "target", "impute", "impute_while_running"];
const RESOURCE_KEYS: &[&str] = &["cpus_per_trial", "gpus_per_trial", "max_concurrent"];
const COMMAND_KEYS: &[&str] = &["command", "env"];
/// Placeholders a `command:` may use besides its parameters.
pub const COMMAND_PLACEHOLDERS: &[&str] = &["trial_id", "trial_dir", "seed"];

/// Parses and validates a spec's text. `path` names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Spec, SpecError> {
    let mut cx = Cx {
        pos: Positions::of(text),
        diags: Vec::new(),
        warnings: Vec::new(),
        param_paths: Vec::new(),
        nested: Vec::new(),
    };
    let spec = match serde_norway::from_str::<Value>(text) {
        Ok(root) => cx.spec(&root, path),
        Err(e) => {
            cx.diags.push(syntax_error(&e));
            None
        }
    };
    // A misspelt key (`paramters`) already says what is missing.
    let typos: Vec<String> = cx
        .diags
        .iter()
        .filter_map(|d| {
            d.help
                .as_deref()?
                .strip_prefix("did you mean `")?
                .strip_suffix("`?")
                .map(String::from)
        })
        .collect();
    cx.diags
        .retain(|d| !(d.message.starts_with("missing `") && typos.contains(&d.path)));
    // In the order of the file.
    cx.diags.sort_by_key(|d| d.pos.map(|p| (p.line, p.col)));
    match spec {
        Some(spec) if cx.diags.is_empty() => Ok(spec),
        _ => {
            // A spec that parsed to nothing but still produced no diagnostic
            // cannot happen; keep the invariant "Invalid has at least one".
            if cx.diags.is_empty() {
                cx.diags.push(Diagnostic {
                    path: String::new(),
                    pos: None,
                    message: "invalid spec".into(),
                    help: None,
                });
            }
            Err(SpecError::Invalid {
                path: path.to_path_buf(),
                source_text: text.to_string(),
                diagnostics: cx.diags,
            })
        }
    }
}

fn syntax_error(e: &serde_norway::Error) -> Diagnostic {
    let text = e.to_string();
    // serde_norway appends " at line L column C"; the location is shown apart.
    let message = match text.find(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    Diagnostic {
        path: String::new(),
        pos: e.location().map(|l| Pos {
            line: l.line(),
            col: l.column(),
        }),
        message: format!("invalid YAML: {message}"),
        help: None,
    }
}

struct Cx {
    pos: Positions,
    diags: Vec<Diagnostic>,
    /// Accepted but worth saying: (key path, message).
    warnings: Vec<(String, String)>,
    /// The YAML key path of each parameter (nested ones sit under
    /// `parameters.<group>.parameters`).
    param_paths: Vec<(String, String)>,
    /// Nested parameter groups, by their dotted names.
    nested: Vec<String>,
}

type Entries<'v> = Vec<(&'v str, &'v Value)>;

/// Describes a YAML value for "found ..." in messages.
fn found(v: &Value) -> String {
    match v {
        Value::Null => "nothing (an empty value)".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.is_empty() => "an empty string".into(),
        Value::String(s) => format!("the string `{s}`"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// A YAML value as a parameter value, or what is wrong with it.
fn to_param(v: &Value) -> Result<ParamValue, String> {
    match v {
        Value::Bool(b) => Ok(ParamValue::Bool(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(ParamValue::Int(i))
            } else {
                match n.as_f64() {
                    Some(x) if x.is_finite() => Ok(ParamValue::Float(x)),
                    _ => Err(format!("expected a finite number, found {n}")),
                }
            }
        }
        Value::String(s) if !s.is_empty() => Ok(ParamValue::Str(s.clone())),
        Value::Sequence(items) if !items.is_empty() => items
            .iter()
            .map(to_param)
            .collect::<Result<Vec<_>, _>>()
            .map(ParamValue::List),
        Value::Sequence(_) => Err("expected a value, found an empty list".into()),
        other => Err(format!(
            "expected a value (number, string, boolean or list), found {}",
            found(other)
        )),
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|x| x.is_finite()),
        // YAML 1.1 readers (PyYAML, so W&B) read `1e-3` as a string; a
        // bound is a number either way.
        Value::String(s) => number_text(s),
        _ => None,
    }
}

/// A string that spells a finite number in exponent form (`1e-3`, `5E+2`).
fn number_text(s: &str) -> Option<f64> {
    let t = s.trim();
    let looks = t.contains(['e', 'E'])
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, 'e' | 'E' | '+' | '-' | '.'));
    looks.then(|| t.parse::<f64>().ok()).flatten().filter(|x| x.is_finite())
}

fn is_int(v: &Value) -> bool {
    matches!(v, Value::Number(n) if n.as_i64().is_some())
}

impl Cx {
    fn err(&mut self, path: &str, pos: Option<Pos>, message: impl Into<String>, help: Option<String>) {
        self.diags.push(Diagnostic {
            path: path.to_string(),
            pos,
            message: message.into(),
            help,
        });
    }

    /// A problem with the value at `path`.
    fn bad_value(&mut self, path: &str, message: impl Into<String>, help: Option<String>) {
        let pos = self.pos.value(path);
        self.err(path, pos, message, help);
    }

    /// A problem with the key at `path` (unknown, misplaced, missing a part).
    fn bad_key(&mut self, path: &str, message: impl Into<String>, help: Option<String>) {
        let pos = self.pos.key(path);
        self.err(path, pos, message, help);
    }

    /// The entries of a mapping, reporting a non-mapping or non-string keys.
    fn mapping<'v>(&mut self, v: &'v Value, path: &str, what: &str) -> Option<Entries<'v>> {
        let Value::Mapping(m) = v else {
            self.bad_value(path, format!("expected {what}, found {}", found(v)), None);
            return None;
        };
        let mut out = Vec::with_capacity(m.len());
        for (k, val) in m {
            match k {
                Value::String(s) => out.push((s.as_str(), val)),
                other => self.bad_value(path, format!("keys must be names, found {}", found(other)), None),
            }
        }
        Some(out)
    }

    /// Reports keys not in `allowed`, with a suggestion or a hint.
    fn unknown_keys(&mut self, entries: &Entries, path: &str, allowed: &[&str], hint: impl Fn(&str) -> Option<String>) {
        for (k, _) in entries {
            if allowed.contains(k) {
                continue;
            }
            let kp = join(path, k);
            let help = hint(k).or_else(|| {
                Some(match did_you_mean(k, allowed.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("expected one of: {}", allowed.join(", ")),
                })
            });
            let place = if path.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in `{path}`")
            };
            self.bad_key(&kp, format!("unknown key `{k}` {place}"), help);
        }
    }

    fn get<'v>(entries: &Entries<'v>, key: &str) -> Option<&'v Value> {
        entries.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    fn string(&mut self, v: &Value, path: &str, what: &str) -> Option<String> {
        match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            other => {
                self.bad_value(path, format!("expected {what}, found {}", found(other)), None);
                None
            }
        }
    }

    fn uint(&mut self, v: &Value, path: &str, min: u64) -> Option<u64> {
        match v {
            Value::Number(n) if n.as_u64().is_some_and(|u| u >= min) => n.as_u64(),
            other => {
                self.bad_value(
                    path,
                    format!("expected an integer >= {min}, found {}", found(other)),
                    None,
                );
                None
            }
        }
    }

    fn word(&mut self, v: &Value, path: &str, words: &[&str], hint: impl Fn(&str) -> Option<String>) -> Option<String> {
        let expected = format!("one of {}", words.join(", "));
        let Value::String(s) = v else {
            self.bad_value(path, format!("expected {expected}, found {}", found(v)), None);
            return None;
        };
        if words.contains(&s.as_str()) {
            return Some(s.clone());
        }
        let help = hint(s).or_else(|| did_you_mean(s, words.iter().copied()).map(|w| format!("did you mean `{w}`?")));
        self.bad_value(path, format!("expected {expected}, found `{s}`"), help);
        None
    }

    fn spec(&mut self, root: &Value, path: &Path) -> Option<Spec> {
        if matches!(root, Value::Null) {
            self.err(
                "",
                Some(Pos { line: 1, col: 1 }),
                "the spec is empty",
                Some(example_help()),
            );
            return None;
        }
        let top = self.mapping(root, "", "a mapping of settings (method, parameters, ...)")?;
        let server_keys: Vec<&str> = WANDB_SERVER_KEYS.iter().map(|(k, _)| *k).collect();
        let allowed: Vec<&str> = TOP_KEYS.iter().chain(&server_keys).copied().collect();
        self.unknown_keys(&top, "", &allowed, wandb_hint);
        for (k, help) in WANDB_SERVER_KEYS {
            if Self::get(&top, k).is_some() {
                self.bad_key(
                    k,
                    format!("`{k}` only means something to W&B's servers"),
                    Some(help.to_string()),
                );
            }
        }
        let is_wandb = Self::get(&top, "program").is_some() || Self::get(&top, "command").is_some();
        let project = Self::get(&top, "project").and_then(|v| self.string(v, "project", "a W&B project name"));
        let entity = Self::get(&top, "entity").and_then(|v| self.string(v, "entity", "a W&B entity name"));

        let name = self.name(Self::get(&top, "name"), path, is_wandb);
        let description = Self::get(&top, "description").and_then(|v| self.string(v, "description", "a string"));
        let method = match Self::get(&top, "method") {
            None => {
                self.err(
                    "method",
                    Some(Pos { line: 1, col: 1 }),
                    "missing `method`",
                    Some(
                        "add `method: grid` (every combination), `method: random` or `method: tpe` (with run_cap)"
                            .into(),
                    ),
                );
                None
            }
            Some(v) => self
                .word(v, "method", &["grid", "random", "tpe", "bayes"], |w| match w {
                    "hyperband" | "asha" => Some("early stopping is not a search method; use `tpe` or `random`".into()),
                    "custom" => {
                        Some("W&B's custom schedulers are not run here; use `bayes` (TPE), `random` or `grid`".into())
                    }
                    _ => None,
                })
                .map(|w| match w.as_str() {
                    "grid" => Method::Grid,
                    "random" => Method::Random,
                    w => Method::Tpe { bayes: w == "bayes" },
                }),
        };
        let run_cap = Self::get(&top, "run_cap").and_then(|v| self.uint(v, "run_cap", 1));
        let seed = Self::get(&top, "seed").map_or(Some(0), |v| self.uint(v, "seed", 0));
        let retries = Self::get(&top, "retries").map_or(Some(0), |v| self.uint(v, "retries", 0));
        let retries = retries.and_then(|r| match u32::try_from(r) {
            Ok(r) if r <= 100 => Some(r),
            _ => {
                self.bad_value("retries", format!("expected at most 100 retries, found {r}"), None);
                None
            }
        });
        let max_initial_failures =
            Self::get(&top, "max_initial_failures").map_or(Some(crate::spec::MAX_INITIAL_FAILURES), |v| {
                self.uint(v, "max_initial_failures", 0)
                    .and_then(|n| match u32::try_from(n) {
                        Ok(n) => Some(n),
                        Err(_) => {
                            self.bad_value(
                                "max_initial_failures",
                                format!("expected at most {}, found {n}", u32::MAX),
                                None,
                            );
                            None
                        }
                    })
            });
        let timeout = Self::get(&top, "timeout").and_then(|v| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => {
                    self.bad_value(
                        "timeout",
                        format!("expected a duration like 30m, found {}", found(other)),
                        None,
                    );
                    return None;
                }
            };
            parse_duration(&text)
                .map_err(|e| self.bad_value("timeout", e, None))
                .ok()
        });
        let launcher = Self::get(&top, "launcher").map_or(Some(Launcher::Local), |v| {
            self.word(v, "launcher", &["local", "slurm"], |_| None)
                .map(|w| if w == "slurm" { Launcher::Slurm } else { Launcher::Local })
        });
        let slurm = Self::get(&top, "slurm").map_or(Some(SlurmSettings::default()), |v| self.slurm(v));
        let resources = Self::get(&top, "resources").map_or(Some(Resources::default()), |v| self.resources(v));
        let early_terminate =
            Self::get(&top, "early_terminate").map_or(Some(None), |v| self.early_terminate(v).map(Some));
        let tpe = Self::get(&top, "tpe").map_or(Some(TpeSettings::default()), |v| self.tpe(v));
        let checkpoint =
            Self::get(&top, "checkpoint").map_or(Some(CheckpointSettings::default()), |v| self.checkpoint(v));

        let parameters = match Self::get(&top, "parameters") {
            None => {
                self.err(
                    "parameters",
                    Some(Pos { line: 1, col: 1 }),
                    "missing `parameters`: a sweep needs at least one parameter",
                    Some("add e.g. `parameters: {lr: {values: [1e-4, 1e-3, 1e-2]}}`".into()),
                );
                None
            }
            Some(v) => self.parameters(v),
        };
        let trainer = match (Self::get(&top, "trainer"), is_wandb) {
            (Some(_), true) => {
                let at = if Self::get(&top, "program").is_some() {
                    "program"
                } else {
                    "command"
                };
                self.bad_key(
                    at,
                    format!("`{at}` (a W&B sweep file's program) and `trainer` both say what trains a trial"),
                    Some("keep `program:` (and `command:`) for a W&B training script, or `trainer:`".into()),
                );
                None
            }
            (None, true) => self.wandb_trainer(Self::get(&top, "program"), Self::get(&top, "command")),
            (None, false) => Some(Trainer::Builtin {
                settings: Params::new(),
            }),
            (Some(v), false) => self.trainer(v),
        };
        let (metric, metric_target) = match self.metric(Self::get(&top, "metric"), trainer.as_ref()) {
            Some((m, t)) => (Some(m), t),
            None => (None, None),
        };

        // Checks that need several sections at once.
        if let (Some(params), Some(trainer)) = (&parameters, &trainer) {
            self.check_against_trainer(params, trainer);
        }
        if let (Some(params), Some(method)) = (&parameters, method) {
            self.check_method(params, method);
        }
        if let Some(method) = method
            && !matches!(method, Method::Tpe { .. })
            && Self::get(&top, "tpe").is_some()
        {
            self.bad_key(
                "tpe",
                format!(
                    "`tpe` settings only apply to method: tpe, and this sweep is method: {}",
                    method.as_str()
                ),
                Some("remove the `tpe` block, or use `method: tpe`".into()),
            );
        }
        if let (Some(res), Some(Trainer::Builtin { settings })) = (&resources, &trainer) {
            let device = settings.get("device").and_then(|d| d.as_str());
            if device.is_some_and(|d| d.starts_with("cuda")) && res.gpus_per_trial == 0.0 {
                self.bad_value(
                    "trainer.device",
                    "the trainer trains on cuda but resources.gpus_per_trial is 0",
                    Some("set `resources: {gpus_per_trial: 1}` (or a fraction such as 0.25 to share a GPU)".into()),
                );
            }
        }

        Some(Spec {
            path: path.to_path_buf(),
            name: name?,
            description,
            method: method?,
            metric: metric?,
            run_cap,
            seed: seed?,
            parameters: parameters?,
            trainer: trainer?,
            resources: resources?,
            timeout,
            retries: retries?,
            max_initial_failures: max_initial_failures?,
            launcher: launcher?,
            slurm: slurm?,
            early_terminate: early_terminate?,
            tpe: tpe?,
            project,
            entity,
            metric_target,
            warnings: std::mem::take(&mut self.warnings),
            checkpoint: checkpoint?,
        })
    }

    /// `checkpoint: false`, `true`, or `{every, max_continuations, signal_before}`.
    fn checkpoint(&mut self, v: &Value) -> Option<CheckpointSettings> {
        let mut out = CheckpointSettings::default();
        match v {
            Value::Bool(true) => return Some(out),
            Value::Bool(false) => {
                out.every = 0;
                return Some(out);
            }
            _ => {}
        }
        let entries = self.mapping(
            v,
            "checkpoint",
            "false (no checkpoints), or a mapping such as {every: 2, max_continuations: 20, signal_before: 2m}",
        )?;
        self.unknown_keys(&entries, "checkpoint", CHECKPOINT_KEYS, |k| match k {
            "enabled" | "enable" => Some("write `checkpoint: false` to turn checkpoints off".into()),
            "dir" | "path" => Some("checkpoints live in each trial's folder (trials/<id>/checkpoint/)".into()),
            _ => None,
        });
        let mut ok = true;
        if let Some(v) = Self::get(&entries, "every") {
            match self.uint(v, "checkpoint.every", 0).map(u32::try_from) {
                Some(Ok(n)) => out.every = n,
                _ => ok = false,
            }
        }
        if let Some(v) = Self::get(&entries, "max_continuations") {
            match self.uint(v, "checkpoint.max_continuations", 0).map(u32::try_from) {
                Some(Ok(n)) => out.max_continuations = n,
                _ => ok = false,
            }
        }
        if let Some(v) = Self::get(&entries, "signal_before") {
            let text = match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                other => {
                    self.bad_value(
                        "checkpoint.signal_before",
                        format!("expected a duration like 2m, found {}", found(other)),
                        None,
                    );
                    None
                }
            };
            match text.map(|t| parse_duration(&t)) {
                Some(Ok(d)) => out.signal_before = d,
                Some(Err(e)) => {
                    self.bad_value("checkpoint.signal_before", e, None);
                    ok = false;
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A W&B sweep file's `program` and `command` as the trainer.
    fn wandb_trainer(&mut self, program: Option<&Value>, command: Option<&Value>) -> Option<Trainer> {
        let program = match program {
            Some(v) => Some(self.string(v, "program", "the training script, e.g. train.py")?),
            None => None,
        };
        let command = match command {
            None => None,
            Some(v) => Some(self.wandb_command(v)?),
        };
        let uses_program = command
            .as_ref()
            .is_none_or(|c| c.is_empty() || c.iter().any(|w| w == "${program}"));
        let program = match program {
            Some(p) => p,
            None if uses_program => {
                self.bad_key(
                    "command",
                    "`command` uses `${program}` but the file has no `program`",
                    Some("add e.g. `program: train.py`".into()),
                );
                return None;
            }
            None => String::new(),
        };
        Some(Trainer::Wandb {
            program,
            command,
            nested: self.nested.clone(),
        })
    }

    /// W&B's `command:` list: words and macros, checked against the macros
    /// the agent knows (an unknown whole-word macro is dropped by the agent:
    /// kept, with a warning).
    fn wandb_command(&mut self, v: &Value) -> Option<Vec<String>> {
        let Value::Sequence(items) = v else {
            self.bad_value(
                "command",
                format!("expected a list of words and macros, found {}", found(v)),
                Some("e.g. `command: [${env}, python, ${program}, ${args}]`".into()),
            );
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let ip = index("command", i);
            let word = match item {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
                other => {
                    ok = false;
                    self.bad_value(&ip, format!("expected a word, found {}", found(other)), None);
                    continue;
                }
            };
            if let Some(name) = word.strip_prefix("${").and_then(|w| w.strip_suffix('}'))
                && !name.starts_with("envvar:")
                && !crate::wandb::MACROS.contains(&name)
            {
                let hint = did_you_mean(name, crate::wandb::MACROS.iter().copied())
                    .map_or(String::new(), |m| format!(" (did you mean `${{{m}}}`?)"));
                self.warnings.push((
                    ip.clone(),
                    format!("`{word}` is not a W&B macro; the agent drops it, and so does sweep{hint}"),
                ));
            }
            out.push(word);
        }
        ok.then_some(out)
    }

    fn slurm(&mut self, v: &Value) -> Option<SlurmSettings> {
        let entries = self.mapping(
            v,
            "slurm",
            "a mapping of sbatch settings (partition, account, qos, time, mem, constraint, extra_args)",
        )?;
        self.unknown_keys(&entries, "slurm", SLURM_KEYS, |k| match k {
            "cpus_per_task" | "cpus-per-task" | "gres" | "gpus" => {
                Some("CPUs and GPUs per trial come from `resources` (cpus_per_trial, gpus_per_trial)".into())
            }
            "time_limit" | "timelimit" => Some("did you mean `time`?".into()),
            _ => None,
        });
        let mut out = SlurmSettings::default();
        let mut ok = true;
        for key in SLURM_KEYS {
            let Some(v) = Self::get(&entries, key) else { continue };
            let path = format!("slurm.{key}");
            if let Some(pos) = self.pos.key(&path) {
                out.lines.push((key.to_string(), pos.line));
            }
            if *key == "extra_args" {
                match v {
                    Value::Sequence(items) if items.iter().all(|i| matches!(i, Value::String(_))) => {
                        out.extra_args = items.iter().filter_map(|i| i.as_str().map(String::from)).collect();
                    }
                    other => {
                        ok = false;
                        self.bad_value(
                            &path,
                            format!("expected a list of sbatch arguments, found {}", found(other)),
                            Some("e.g. `extra_args: [\"--exclusive\", \"--nice=10\"]`".into()),
                        );
                    }
                }
                continue;
            }
            let text = match v {
                Value::String(s) if !s.trim().is_empty() => s.clone(),
                Value::Number(n) => n.to_string(),
                other => {
                    ok = false;
                    self.bad_value(
                        &path,
                        format!("expected a value for sbatch --{key}, found {}", found(other)),
                        None,
                    );
                    continue;
                }
            };
            let slot = match *key {
                "partition" => &mut out.partition,
                "account" => &mut out.account,
                "qos" => &mut out.qos,
                "time" => &mut out.time,
                "mem" => &mut out.mem,
                _ => &mut out.constraint,
            };
            *slot = Some(text);
        }
        ok.then_some(out)
    }

    fn tpe(&mut self, v: &Value) -> Option<TpeSettings> {
        let entries = self.mapping(
            v,
            "tpe",
            "a mapping of TPE settings (n_startup_trials, n_ei_candidates, multivariate, constant_liar)",
        )?;
        self.unknown_keys(&entries, "tpe", TPE_KEYS, |k| match k {
            "gamma"
            | "weights"
            | "prior_weight"
            | "consider_prior"
            | "consider_magic_clip"
            | "consider_endpoints"
            | "group" => Some(format!(
                "`{k}` is fixed at Optuna's default; the settings are {}",
                TPE_KEYS.join(", ")
            )),
            "seed" => Some("TPE draws from the sweep's top-level `seed`".into()),
            _ => None,
        });
        let mut out = TpeSettings::default();
        let mut ok = true;
        if let Some(v) = Self::get(&entries, "n_startup_trials") {
            match self.uint(v, "tpe.n_startup_trials", 0).map(u32::try_from) {
                Some(Ok(n)) => out.n_startup_trials = n,
                _ => ok = false,
            }
        }
        if let Some(v) = Self::get(&entries, "n_ei_candidates") {
            match v {
                Value::Number(n) if n.as_u64() == Some(0) => {
                    ok = false;
                    self.bad_value(
                        "tpe.n_ei_candidates",
                        "n_ei_candidates is 0: TPE picks the best of these candidates, so it needs at least one",
                        Some("remove it for Optuna's 24, or give a number >= 1".into()),
                    );
                }
                _ => match self.uint(v, "tpe.n_ei_candidates", 1).map(u32::try_from) {
                    Some(Ok(n)) => out.n_ei_candidates = n,
                    _ => ok = false,
                },
            }
        }
        for (key, slot) in [
            ("multivariate", &mut out.multivariate),
            ("constant_liar", &mut out.constant_liar),
        ] {
            let Some(v) = Self::get(&entries, key) else { continue };
            match v {
                Value::Bool(b) => *slot = *b,
                other => {
                    ok = false;
                    self.bad_value(
                        &format!("tpe.{key}"),
                        format!("expected true or false, found {}", found(other)),
                        None,
                    );
                }
            }
        }
        ok.then_some(out)
    }

    fn name(&mut self, v: Option<&Value>, path: &Path, wandb: bool) -> Option<String> {
        let (name, from_file) = match v {
            Some(v) => (self.string(v, "name", "a name for the results folder")?, false),
            None => (
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                true,
            ),
        };
        let ok = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            return Some(name);
        }
        if wandb && !from_file {
            // W&B's `name` is a display name ("LR sweep #2"): make a folder name of it.
            let slug = slug(&name);
            if !slug.is_empty() {
                self.warnings.push((
                    "name".into(),
                    format!("results go to `results/{slug}` (`{name}` made a folder name)"),
                ));
                return Some(slug);
            }
        }
        let help = Some("use letters, digits, `-`, `_` and `.`, e.g. `name: lr-sweep`".to_string());
        if from_file {
            self.err(
                "name",
                Some(Pos { line: 1, col: 1 }),
                format!("the file name `{name}` can't name a results folder, and the spec has no `name`"),
                help,
            );
        } else {
            self.bad_value("name", format!("`{name}` can't name a results folder"), help);
        }
        None
    }

    fn resources(&mut self, v: &Value) -> Option<Resources> {
        let entries = self.mapping(
            v,
            "resources",
            "a mapping (cpus_per_trial, gpus_per_trial, max_concurrent)",
        )?;
        self.unknown_keys(&entries, "resources", RESOURCE_KEYS, |_| None);
        let mut res = Resources::default();
        let mut ok = true;
        if let Some(v) = Self::get(&entries, "cpus_per_trial") {
            match self.uint(v, "resources.cpus_per_trial", 0).map(u32::try_from) {
                Some(Ok(c)) => res.cpus_per_trial = c,
                _ => ok = false,
            }
        }
        if let Some(v) = Self::get(&entries, "gpus_per_trial") {
            match as_f64(v) {
                Some(g) if g >= 0.0 && (g <= 1.0 || g.fract() == 0.0) => res.gpus_per_trial = g,
                Some(g) if g > 1.0 => {
                    ok = false;
                    self.bad_value(
                        "resources.gpus_per_trial",
                        format!("expected a whole number of GPUs above 1, found {g}"),
                        Some(
                            "fractions share one GPU (0.25 runs four trials on it); above one GPU use 2, 3, ...".into(),
                        ),
                    );
                }
                _ => {
                    ok = false;
                    self.bad_value(
                        "resources.gpus_per_trial",
                        format!("expected a number of GPUs >= 0, found {}", found(v)),
                        None,
                    );
                }
            }
        }
        if let Some(v) = Self::get(&entries, "max_concurrent") {
            match self.uint(v, "resources.max_concurrent", 1).map(u32::try_from) {
                Some(Ok(m)) => res.max_concurrent = Some(m),
                _ => ok = false,
            }
        }
        ok.then_some(res)
    }

    fn metric(&mut self, v: Option<&Value>, trainer: Option<&Trainer>) -> Option<(Metric, Option<f64>)> {
        let builtin = matches!(trainer, Some(Trainer::Builtin { .. }));
        let wandb = matches!(trainer, Some(Trainer::Wandb { .. }));
        let Some(v) = v else {
            if builtin {
                return Some((builtin::default_metric(), None));
            }
            if trainer.is_some() {
                self.err(
                    "metric",
                    Some(Pos { line: 1, col: 1 }),
                    "missing `metric`: a command trainer's sweep must say what to rank by",
                    Some("add e.g. `metric: {name: val_loss, goal: minimize}`".into()),
                );
            }
            return None;
        };
        let entries = self.mapping(v, "metric", "a mapping such as {name: val_accuracy, goal: maximize}")?;
        self.unknown_keys(&entries, "metric", METRIC_KEYS, |_| None);
        let target = Self::get(&entries, "target").and_then(|t| match as_f64(t) {
            Some(x) => Some(x),
            None => {
                self.bad_value(
                    "metric.target",
                    format!("expected a number, found {}", found(t)),
                    Some("the sweep stops once a trial's metric reaches `target`".into()),
                );
                None
            }
        });
        for k in ["impute", "impute_while_running"] {
            if Self::get(&entries, k).is_some() {
                self.warnings.push((
                    join("metric", k),
                    format!("`metric.{k}` is ignored: TPE models failed trials on its own"),
                ));
            }
        }
        let name = match Self::get(&entries, "name") {
            Some(v) => self.string(v, "metric.name", "the name of a metric the trainer reports"),
            None => {
                self.bad_key(
                    "metric",
                    "missing `metric.name`",
                    Some("e.g. `name: val_accuracy`".into()),
                );
                None
            }
        }?;
        let known_goal = builtin::goal_of(&name);
        if builtin && known_goal.is_none() {
            let names: Vec<&str> = builtin::EPOCH_METRICS.iter().map(|(n, _)| *n).collect();
            let help = if name == "test_accuracy" || name == "test_loss" {
                "the test set is scored once, at the end; choosing hyperparameters on it leaks the test set into the result. Rank by val_accuracy or val_loss".to_string()
            } else {
                match did_you_mean(&name, names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("the built-in trainer reports {}", names.join(", ")),
                }
            };
            self.bad_value(
                "metric.name",
                format!("the built-in trainer does not rank by `{name}`"),
                Some(help),
            );
            return None;
        }
        let goal = match Self::get(&entries, "goal") {
            Some(v) => self
                .word(v, "metric.goal", &["minimize", "maximize"], |w| match w {
                    "min" | "minimise" => Some("did you mean `minimize`?".into()),
                    "max" | "maximise" => Some("did you mean `maximize`?".into()),
                    _ => None,
                })
                .map(|w| {
                    if w == "minimize" {
                        Goal::Minimize
                    } else {
                        Goal::Maximize
                    }
                }),
            None => match known_goal {
                Some(g) => Some(g),
                // W&B's schema: `goal` defaults to minimize.
                None if wandb => Some(Goal::Minimize),
                None => {
                    self.bad_key(
                        "metric",
                        format!("missing `metric.goal`: is a larger `{name}` better or worse?"),
                        Some("add `goal: maximize` or `goal: minimize`".into()),
                    );
                    None
                }
            },
        }?;
        Some((Metric { name, goal }, target))
    }

    fn parameters(&mut self, v: &Value) -> Option<Vec<Parameter>> {
        let mut out = Vec::new();
        let ok = self.parameter_group(v, "parameters", "", &mut out);
        if ok && out.is_empty() {
            self.bad_value(
                "parameters",
                "`parameters` is empty: a sweep needs at least one parameter",
                None,
            );
            return None;
        }
        ok.then_some(out)
    }

    /// The parameters of one `parameters:` mapping at YAML path `path`, their
    /// names prefixed with `prefix` (`optimizer.` inside a nested group).
    fn parameter_group(&mut self, v: &Value, path: &str, prefix: &str, out: &mut Vec<Parameter>) -> bool {
        let Some(entries) = self.mapping(v, path, "a mapping from parameter names to their values") else {
            return false;
        };
        if entries.is_empty() && !prefix.is_empty() {
            self.bad_value(path, "a nested `parameters` is empty", None);
            return false;
        }
        let mut ok = true;
        for (name, pv) in entries {
            let ypath = join(path, name);
            let full = format!("{prefix}{name}");
            if out.iter().any(|p| p.name == full) || self.nested.contains(&full) {
                ok = false;
                self.bad_key(&ypath, format!("`{full}` is named twice"), None);
                continue;
            }
            // W&B's param_dict: a mapping holding only `parameters:`.
            if let Value::Mapping(m) = pv
                && m.contains_key("parameters")
            {
                if m.len() > 1 {
                    ok = false;
                    self.bad_key(
                        &ypath,
                        format!("`{name}` holds `parameters:` (a nested group) and other keys"),
                        Some("a nested group holds only `parameters:`; move the other keys under it".into()),
                    );
                    continue;
                }
                self.nested.push(full.clone());
                ok &= self.parameter_group(&m["parameters"], &join(&ypath, "parameters"), &format!("{full}."), out);
                continue;
            }
            self.param_paths.push((full.clone(), ypath.clone()));
            match self.parameter(name, &ypath, pv) {
                Some(distribution) => out.push(Parameter {
                    name: full,
                    distribution,
                }),
                None => ok = false,
            }
        }
        ok
    }

    /// The YAML key path of a parameter.
    fn param_path(&self, name: &str) -> String {
        self.param_paths
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| join("parameters", name), |(_, p)| p.clone())
    }

    fn parameter(&mut self, name: &str, path: &str, v: &Value) -> Option<Distribution> {
        let path = path.to_string();
        let Value::Mapping(_) = v else {
            let help = match v {
                Value::Sequence(_) => {
                    format!("to try several values write `{name}: {{values: [...]}}`")
                }
                Value::Null => {
                    format!("write `{name}: {{value: ...}}` or `{name}: {{values: [...]}}`")
                }
                _ => format!(
                    "to fix it for every trial write `{name}: {{value: ...}}` (or move it under `trainer:`); to sweep it, `{name}: {{values: [...]}}`"
                ),
            };
            self.bad_value(
                &path,
                format!("expected a mapping (value, values, or min/max), found {}", found(v)),
                Some(help),
            );
            return None;
        };
        let entries = self.mapping(v, &path, "a mapping")?;
        self.unknown_keys(&entries, &path, PARAM_KEYS, |_| None);
        let get = |k: &str| Self::get(&entries, k);
        let explicit = match get("distribution") {
            None => None,
            Some(dv) => Some(self.word(dv, &join(&path, "distribution"), DIST_NAMES, |_| None)?),
        };
        let kind = match explicit.as_deref() {
            // W&B's name for a weighted choice: our categorical with `probabilities`.
            Some("categorical_w_probabilities") => "categorical",
            Some(k) => k,
            None if get("value").is_some() => "constant",
            None if get("values").is_some() => "categorical",
            // W&B's rule: integer min and max are int_uniform, any other
            // numbers uniform (`1e-3` read as a string by PyYAML included).
            None if get("min").is_some() || get("max").is_some() => {
                if get("min").is_some_and(is_int) && get("max").is_some_and(is_int) && get("q").is_none() {
                    "int_uniform"
                } else if get("q").is_some() {
                    "q_uniform"
                } else {
                    "uniform"
                }
            }
            None => {
                self.bad_key(
                    &path,
                    format!("`{name}` needs `value`, `values`, or `min` and `max`"),
                    Some(format!("e.g. `{name}: {{values: [1, 2, 3]}}`")),
                );
                return None;
            }
        };
        // Keys that make no sense for this kind.
        let allowed: &[&str] = match kind {
            "constant" => &["value", "distribution"],
            "categorical" => &["values", "probabilities", "distribution"],
            "uniform"
            | "int_uniform"
            | "log_uniform_values"
            | "inv_log_uniform_values"
            | "log_uniform"
            | "inv_log_uniform" => &["min", "max", "distribution"],
            "normal" | "log_normal" => &["mu", "sigma", "distribution"],
            "q_normal" | "q_log_normal" => &["mu", "sigma", "q", "distribution"],
            "beta" => &["a", "b", "distribution"],
            "q_beta" => &["a", "b", "q", "distribution"],
            _ => &["min", "max", "q", "distribution"],
        };
        let mut ok = true;
        for (k, _) in &entries {
            if PARAM_KEYS.contains(k) && !allowed.contains(k) {
                ok = false;
                let (why, help) = match (*k, kind) {
                    ("value", "categorical") | ("values", "constant") => (
                        "`value` and `values` exclude each other".to_string(),
                        "write `value: x` for one fixed value, or `values: [x, y]` to try several".to_string(),
                    ),
                    _ => (
                        format!("`{k}` does not apply to a {kind} parameter"),
                        format!("{kind} takes {}", allowed.join(", ")),
                    ),
                };
                self.bad_key(&join(&path, k), why, Some(help));
            }
        }
        let dist = match kind {
            "constant" => {
                let vp = join(&path, "value");
                let Some(v) = get("value") else {
                    self.bad_key(&path, "a constant needs `value`", None);
                    return None;
                };
                match to_param(v) {
                    Ok(p) => Some(Distribution::Constant(p)),
                    Err(e) => {
                        self.bad_value(&vp, e, None);
                        None
                    }
                }
            }
            "categorical" => self.categorical(&path, get("values"), get("probabilities")),
            "normal" | "q_normal" | "log_normal" | "q_log_normal" | "beta" | "q_beta" => {
                self.unbounded(&path, kind, &entries)
            }
            k if crate::distribution::EXPONENT_NAMES.contains(&k) => self.exponent_bounded(&path, kind, &entries),
            _ => self.numeric(&path, kind, get("min"), get("max"), get("q")),
        };
        if ok { dist } else { None }
    }

    /// W&B's normal, log_normal and beta (and their q_ forms), with W&B's
    /// defaults: mu 0, sigma 1, a 1, b 1, q 1.0.
    fn unbounded(&mut self, path: &str, kind: &str, entries: &Entries) -> Option<Distribution> {
        let mut number = |key: &str, default: f64, positive: bool| -> Option<f64> {
            let Some(v) = Self::get(entries, key) else {
                return Some(default);
            };
            match as_f64(v) {
                Some(x) if !positive || x > 0.0 => Some(x),
                _ => {
                    let want = if positive { "a number > 0" } else { "a number" };
                    self.bad_value(&join(path, key), format!("expected {want}, found {}", found(v)), None);
                    None
                }
            }
        };
        let (p1, p2) = if kind.ends_with("beta") {
            (number("a", 1.0, true), number("b", 1.0, true))
        } else {
            (number("mu", 0.0, false), number("sigma", 1.0, true))
        };
        let q = if kind.starts_with("q_") {
            let x = number("q", 1.0, true)?;
            // W&B: `isinstance(q, int)` makes the values integers.
            let integer = Self::get(entries, "q").is_some_and(is_int);
            Some(Step { q: x, integer })
        } else {
            None
        };
        let (p1, p2) = (p1?, p2?);
        Some(match kind.trim_start_matches("q_") {
            "normal" => Distribution::Normal { mu: p1, sigma: p2, q },
            "log_normal" => Distribution::LogNormal { mu: p1, sigma: p2, q },
            _ => Distribution::Beta { a: p1, b: p2, q },
        })
    }

    /// W&B's old `log_uniform`, `q_log_uniform` and `inv_log_uniform`, whose
    /// `min`/`max` are natural-log exponents: read as the `*_values` forms
    /// (`inv_log_uniform` draws `exp(-U(min, max))`, log-uniform on
    /// `[e^-max, e^-min]`), with a warning as W&B gives.
    fn exponent_bounded(&mut self, path: &str, kind: &str, entries: &Entries) -> Option<Distribution> {
        let lo = Self::get(entries, "min").and_then(as_f64);
        let hi = Self::get(entries, "max").and_then(as_f64);
        let (Some(lo), Some(hi)) = (lo, hi) else {
            // Let numeric() report what is missing or wrong.
            return self.numeric(
                path,
                "uniform",
                Self::get(entries, "min"),
                Self::get(entries, "max"),
                None,
            );
        };
        let (vlo, vhi) = if kind == "inv_log_uniform" {
            ((-hi).exp(), (-lo).exp())
        } else {
            (lo.exp(), hi.exp())
        };
        let (vlo, vhi) = (crate::distribution::round_sig(vlo), crate::distribution::round_sig(vhi));
        let values_kind = if kind == "q_log_uniform" {
            "q_log_uniform_values"
        } else {
            "log_uniform_values"
        };
        let min = Value::Number(vlo.into());
        let max = Value::Number(vhi.into());
        let mut dist = self.numeric(path, values_kind, Some(&min), Some(&max), Self::get(entries, "q"))?;
        if let Distribution::QLogUniform { integer, .. } = &mut dist {
            // W&B: `isinstance(q, int)` makes the values integers.
            *integer = Self::get(entries, "q").is_some_and(is_int);
        }
        self.warnings.push((
            join(path, "distribution"),
            format!(
                "`{kind}` takes natural-log exponents: min {} and max {} are the values {} to {}; write `distribution: {values_kind}, min: {}, max: {}` to say so",
                format_float(lo),
                format_float(hi),
                format_float(vlo),
                format_float(vhi),
                format_float(vlo),
                format_float(vhi),
            ),
        ));
        Some(dist)
    }

    fn categorical(&mut self, path: &str, values: Option<&Value>, probs: Option<&Value>) -> Option<Distribution> {
        let vp = join(path, "values");
        let Some(values) = values else {
            self.bad_key(path, "a categorical parameter needs `values`", None);
            return None;
        };
        let Value::Sequence(items) = values else {
            self.bad_value(&vp, format!("expected a list of values, found {}", found(values)), None);
            return None;
        };
        if items.is_empty() {
            self.bad_value(&vp, "`values` is empty: give at least one value", None);
            return None;
        }
        let mut out: Vec<ParamValue> = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match to_param(item) {
                Ok(p) if out.contains(&p) => {
                    ok = false;
                    self.bad_value(
                        &index(&vp, i),
                        format!("`{p}` is listed twice"),
                        Some("each value once: a duplicate would run the same trial twice".into()),
                    );
                }
                Ok(p) => out.push(p),
                Err(e) => {
                    ok = false;
                    self.bad_value(&index(&vp, i), e, None);
                }
            }
        }
        let probabilities = match probs {
            None => None,
            Some(pv) => {
                let pp = join(path, "probabilities");
                let Value::Sequence(ps) = pv else {
                    self.bad_value(
                        &pp,
                        format!("expected a list of probabilities, found {}", found(pv)),
                        None,
                    );
                    return None;
                };
                let mut weights = Vec::with_capacity(ps.len());
                for (i, p) in ps.iter().enumerate() {
                    match as_f64(p) {
                        Some(w) if w >= 0.0 => weights.push(w),
                        _ => {
                            ok = false;
                            self.bad_value(
                                &index(&pp, i),
                                format!("expected a probability >= 0, found {}", found(p)),
                                None,
                            );
                        }
                    }
                }
                if ok && weights.len() != items.len() {
                    ok = false;
                    self.bad_value(
                        &pp,
                        format!("{} probabilities for {} values", weights.len(), items.len()),
                        Some("give one probability per value".into()),
                    );
                }
                let sum: f64 = weights.iter().sum();
                if ok && (sum - 1.0).abs() > 1e-6 {
                    ok = false;
                    self.bad_value(
                        &pp,
                        format!("the probabilities sum to {}, not 1", format_float(sum)),
                        None,
                    );
                }
                Some(weights)
            }
        };
        ok.then_some(Distribution::Categorical {
            values: out,
            probabilities,
        })
    }

    fn numeric(
        &mut self,
        path: &str,
        kind: &str,
        min: Option<&Value>,
        max: Option<&Value>,
        q: Option<&Value>,
    ) -> Option<Distribution> {
        let mut bound = |key: &str, v: Option<&Value>| -> Option<f64> {
            let kp = join(path, key);
            match v {
                None => {
                    self.bad_key(
                        path,
                        format!("{kind} needs `{key}`"),
                        Some("give both `min` and `max`".into()),
                    );
                    None
                }
                Some(v) => match as_f64(v) {
                    Some(x) => Some(x),
                    None => {
                        self.bad_value(&kp, format!("expected a number, found {}", found(v)), None);
                        None
                    }
                },
            }
        };
        let lo = bound("min", min);
        let hi = bound("max", max);
        let step = match q {
            None => Some(1.0),
            Some(v) => match as_f64(v) {
                Some(x) if x > 0.0 => Some(x),
                _ => {
                    self.bad_value(
                        &join(path, "q"),
                        format!("expected a step > 0, found {}", found(v)),
                        None,
                    );
                    None
                }
            },
        };
        let (lo, hi, step) = (lo?, hi?, step?);
        let ints = min.is_some_and(is_int) && max.is_some_and(is_int) && q.is_none_or(is_int);
        if lo > hi || (lo == hi && kind != "int_uniform") {
            self.bad_value(
                &join(path, "min"),
                format!("min ({}) must be below max ({})", format_float(lo), format_float(hi)),
                Some(if lo == hi {
                    "for a single value write `value:`".into()
                } else {
                    "swap them".into()
                }),
            );
            return None;
        }
        if kind.contains("log") && lo <= 0.0 {
            self.bad_value(
                &join(path, "min"),
                format!("{kind} needs min > 0, found {}", format_float(lo)),
                Some("a log scale has no zero or negatives; e.g. min: 1e-5".into()),
            );
            return None;
        }
        Some(match kind {
            "uniform" => Distribution::Uniform { min: lo, max: hi },
            // Drawn as exp(-U(-ln max, -ln min)): the same law as log_uniform_values.
            "log_uniform_values" | "inv_log_uniform_values" => Distribution::LogUniform { min: lo, max: hi },
            "int_uniform" => {
                if !ints {
                    self.bad_value(
                        path,
                        "int_uniform needs integer min and max",
                        Some("for real numbers use `distribution: uniform`".into()),
                    );
                    return None;
                }
                Distribution::IntUniform {
                    min: lo as i64,
                    max: hi as i64,
                }
            }
            "q_uniform" | "q_log_uniform_values" => {
                let (k_lo, k_hi) = crate::distribution::q_range(lo, hi, step);
                if k_lo > k_hi {
                    self.bad_value(
                        &join(path, "q"),
                        format!("no multiple of q ({}) lies between min and max", format_float(step)),
                        None,
                    );
                    return None;
                }
                if kind == "q_uniform" {
                    Distribution::QUniform {
                        min: lo,
                        max: hi,
                        q: step,
                        integer: ints,
                    }
                } else {
                    Distribution::QLogUniform {
                        min: lo,
                        max: hi,
                        q: step,
                        integer: ints,
                    }
                }
            }
            _ => unreachable!("numeric() called with {kind}"),
        })
    }

    fn trainer(&mut self, v: &Value) -> Option<Trainer> {
        let entries = self.mapping(v, "trainer", "a mapping of trainer settings, or `command: [...]`")?;
        if let Some(cmd) = Self::get(&entries, "command") {
            self.unknown_keys(&entries, "trainer", COMMAND_KEYS, |k| {
                builtin::param(k).map(|_| {
                    format!(
                        "`{k}` is a built-in trainer setting; a command trainer takes its settings from `parameters`"
                    )
                })
            });
            let argv = self.argv(cmd);
            let env = match Self::get(&entries, "env") {
                None => Some(Vec::new()),
                Some(ev) => self.env(ev),
            };
            return Some(Trainer::Command { argv: argv?, env: env? });
        }
        let mut settings = Params::new();
        let mut ok = true;
        for (k, val) in entries {
            let kp = join("trainer", k);
            let Some(def) = builtin::param(k) else {
                ok = false;
                let help = match did_you_mean(k, builtin::names().chain(["command"])) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => {
                        "`sweep params` lists the built-in trainer's settings; `command: [...]` runs your own program"
                            .into()
                    }
                };
                self.bad_key(&kp, format!("the built-in trainer has no setting `{k}`"), Some(help));
                continue;
            };
            match to_param(val).and_then(|p| def.check(&p)) {
                Ok(p) => {
                    settings.insert(k.to_string(), p);
                }
                Err(e) => {
                    ok = false;
                    self.bad_value(&kp, e, None);
                }
            }
        }
        ok.then_some(Trainer::Builtin { settings })
    }

    fn argv(&mut self, v: &Value) -> Option<Vec<String>> {
        let path = "trainer.command";
        let Value::Sequence(items) = v else {
            let help = match v {
                Value::String(s) => format!(
                    "commands run without a shell: write the words as a list, e.g. [{}]",
                    s.split_whitespace().collect::<Vec<_>>().join(", ")
                ),
                _ => "e.g. `command: [python, train.py, --lr, \"${lr}\"]`".into(),
            };
            self.bad_value(
                path,
                format!("expected a list of words (program, arguments), found {}", found(v)),
                Some(help),
            );
            return None;
        };
        if items.is_empty() {
            self.bad_value(path, "`command` is empty: name the program to run", None);
            return None;
        }
        let mut argv = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let ip = index(path, i);
            match item {
                Value::String(s) if !(i == 0 && s.trim().is_empty()) => argv.push(s.clone()),
                Value::Number(n) => argv.push(n.to_string()),
                Value::Bool(b) => argv.push(b.to_string()),
                other => {
                    ok = false;
                    self.bad_value(&ip, format!("expected a word, found {}", found(other)), None);
                }
            }
        }
        ok.then_some(argv)
    }

    fn env(&mut self, v: &Value) -> Option<Vec<(String, String)>> {
        let entries = self.mapping(v, "trainer.env", "a mapping of environment variables")?;
        let mut out = Vec::new();
        let mut ok = true;
        for (k, val) in entries {
            let kp = join("trainer.env", k);
            let valid_name = !k.is_empty()
                && !k.starts_with(|c: char| c.is_ascii_digit())
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                ok = false;
                self.bad_key(&kp, format!("`{k}` is not a valid environment variable name"), None);
                continue;
            }
            match val {
                Value::String(s) => out.push((k.to_string(), s.clone())),
                Value::Number(n) => out.push((k.to_string(), n.to_string())),
                Value::Bool(b) => out.push((k.to_string(), b.to_string())),
                other => {
                    ok = false;
                    self.bad_value(&kp, format!("expected a string, found {}", found(other)), None);
                }
            }
        }
        ok.then_some(out)
    }

    /// Parameter names and values against what the trainer accepts.
    fn check_against_trainer(&mut self, params: &[Parameter], trainer: &Trainer) {
        match trainer {
            Trainer::Builtin { settings } => {
                for p in params {
                    let path = self.param_path(&p.name);
                    let Some(def) = builtin::param(&p.name) else {
                        let help = match did_you_mean(&p.name, builtin::names()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "`sweep params` lists what the built-in trainer accepts; to sweep your own program use `trainer: {command: [...]}`".into(),
                        };
                        self.bad_key(
                            &path,
                            format!("the built-in trainer has no parameter `{}`", p.name),
                            Some(help),
                        );
                        continue;
                    };
                    if settings.contains_key(&p.name) {
                        let line = self
                            .pos
                            .key(&join("trainer", &p.name))
                            .map_or(String::new(), |pos| format!(" (line {})", pos.line));
                        self.bad_key(
                            &path,
                            format!("`{}` is both fixed in `trainer`{line} and swept here", p.name),
                            Some("keep one of the two".into()),
                        );
                    }
                    self.check_builtin_values(&path, def, &p.distribution);
                }
            }
            Trainer::Command { argv, .. } => {
                for (i, arg) in argv.iter().enumerate() {
                    let ip = index("trainer.command", i);
                    match placeholders(arg) {
                        Err(e) => self.bad_value(&ip, e, Some("write placeholders as ${name}".into())),
                        Ok(names) => {
                            for n in names {
                                if params.iter().any(|p| p.name == n) || COMMAND_PLACEHOLDERS.contains(&n) {
                                    continue;
                                }
                                let candidates = params
                                    .iter()
                                    .map(|p| p.name.as_str())
                                    .chain(COMMAND_PLACEHOLDERS.iter().copied());
                                let help = match did_you_mean(n, candidates) {
                                    Some(s) => format!("did you mean `${{{s}}}`?"),
                                    None => format!(
                                        "placeholders are the parameters and {}",
                                        COMMAND_PLACEHOLDERS.join(", ")
                                    ),
                                };
                                self.bad_value(&ip, format!("`${{{n}}}` is not a parameter of this sweep"), Some(help));
                            }
                        }
                    }
                }
            }
            Trainer::Wandb { .. } => {}
        }
    }

    fn check_builtin_values(&mut self, path: &str, def: &builtin::ParamDef, dist: &Distribution) {
        match dist {
            Distribution::Constant(v) => {
                if let Err(e) = def.check(v) {
                    self.bad_value(&join(path, "value"), e, None);
                }
            }
            Distribution::Categorical { values, .. } => {
                for (i, v) in values.iter().enumerate() {
                    if let Err(e) = def.check(v) {
                        let help = match (def.kind, v) {
                            (builtin::Kind::Choice(words), ParamValue::Str(s)) => {
                                did_you_mean(s, words.iter().copied()).map(|w| format!("did you mean `{w}`?"))
                            }
                            _ => None,
                        };
                        self.bad_value(&index(&join(path, "values"), i), e, help);
                    }
                }
            }
            numeric => {
                if !def.is_numeric() {
                    self.bad_key(
                        path,
                        format!(
                            "`{}` takes {}: `min`/`max` ({}) need a numeric parameter",
                            def.name,
                            def.expected(),
                            numeric.name()
                        ),
                        Some("list the choices with `values: [...]`".into()),
                    );
                    return;
                }
                let integer_dist = matches!(
                    numeric,
                    Distribution::IntUniform { .. }
                        | Distribution::QUniform { integer: true, .. }
                        | Distribution::QLogUniform { integer: true, .. }
                );
                if def.is_integer() && !integer_dist {
                    self.bad_key(
                        path,
                        format!(
                            "`{}` takes integers, but {} draws real numbers",
                            def.name,
                            numeric.name()
                        ),
                        Some("use int_uniform, or q_uniform / q_log_uniform_values with integer min, max and q".into()),
                    );
                    return;
                }
                let (lo, hi) = match *numeric {
                    Distribution::Uniform { min, max }
                    | Distribution::LogUniform { min, max }
                    | Distribution::QUniform { min, max, .. }
                    | Distribution::QLogUniform { min, max, .. } => (min, max),
                    Distribution::IntUniform { min, max } => (min as f64, max as f64),
                    _ => {
                        self.bad_key(
                            path,
                            format!("`{}` needs bounds, and {} has none", def.name, numeric.name()),
                            Some("use uniform, log_uniform_values or int_uniform with min and max".into()),
                        );
                        return;
                    }
                };
                for (key, x) in [("min", lo), ("max", hi)] {
                    let v = if def.is_integer() {
                        ParamValue::Int(x as i64)
                    } else {
                        ParamValue::Float(x)
                    };
                    if let Err(e) = def.check(&v) {
                        self.bad_value(&join(path, key), e, None);
                    }
                }
            }
        }
    }

    fn check_method(&mut self, params: &[Parameter], method: Method) {
        match method {
            Method::Grid => {
                for p in params {
                    let path = self.param_path(&p.name);
                    if let Distribution::Categorical {
                        probabilities: Some(_), ..
                    } = p.distribution
                    {
                        self.bad_key(
                            &join(&path, "probabilities"),
                            "`probabilities` only apply to method: random; a grid tries every value once",
                            Some("remove `probabilities`, or use `method: random`".into()),
                        );
                    }
                    if p.distribution.grid_len().is_none() {
                        let dp = if self.pos.key(&join(&path, "distribution")).is_some() {
                            join(&path, "distribution")
                        } else {
                            path.clone()
                        };
                        self.bad_key(
                            &dp,
                            format!(
                                "a grid can't enumerate `{}`: {} is continuous",
                                p.name,
                                p.distribution.name()
                            ),
                            Some(grid_suggestion(&p.name, &p.distribution)),
                        );
                    }
                }
            }
            Method::Random => {}
            Method::Tpe { .. } => {
                for p in params {
                    if matches!(
                        p.distribution,
                        Distribution::Normal { .. } | Distribution::LogNormal { .. } | Distribution::Beta { .. }
                    ) {
                        let path = self.param_path(&p.name);
                        let dp = if self.pos.key(&join(&path, "distribution")).is_some() {
                            join(&path, "distribution")
                        } else {
                            path
                        };
                        self.bad_value(
                            &dp,
                            format!(
                                "method: {} can't model `{}`: TPE needs a bounded space, and {} is not one",
                                method.as_str(),
                                p.name,
                                p.distribution.name()
                            ),
                            Some(
                                "use `method: random` to draw from it, or a bounded distribution (uniform, log_uniform_values, q_uniform)"
                                    .into(),
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// The `${name}` placeholders in one argv word, or why it is malformed.
pub fn placeholders(arg: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unclosed placeholder in `{arg}`"));
        };
        let name = &after[..end];
        // Any name W&B allows: `train.learning_rate`, `model-dim`, `^lr`.
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || matches!(c, '{' | '$')) {
            return Err(format!("`${{{name}}}` in `{arg}` is not a placeholder name"));
        }
        out.push(name);
        rest = &after[end + 1..];
    }
    Ok(out)
}

/// What to write instead of a continuous distribution in a grid.
fn grid_suggestion(name: &str, dist: &Distribution) -> String {
    let values: Vec<String> = match *dist {
        Distribution::LogUniform { min, max } | Distribution::QLogUniform { min, max, .. } => {
            let (a, b) = (min.log10(), max.log10());
            (0..4)
                .map(|i| format_float(sig3(10f64.powf(a + (b - a) * f64::from(i) / 3.0))))
                .collect()
        }
        Distribution::Uniform { min, max } => (0..5)
            .map(|i| format_float(sig3(min + (max - min) * f64::from(i) / 4.0)))
            .collect(),
        _ => Vec::new(),
    };
    format!(
        "list the values to try, e.g. `{name}: {{values: [{}]}}`, or use `method: random`",
        values.join(", ")
    )
}

/// Rounds to three significant digits, for suggestions people will edit anyway.
fn sig3(x: f64) -> f64 {
    crate::distribution::round_to_digits(x, 3)
}

fn wandb_hint(key: &str) -> Option<String> {
    Some(match key {
        "early_terminate_config" | "sweep" => {
            "W&B sweep files are read as they are; this key is not one of W&B's".into()
        }
        _ => return None,
    })
}

/// A results-folder name made of a display name: lowercase letters, digits,
/// `.`, `_`, and `-` for every other run of characters.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.') {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches(|c| c == '-' || c == '.').to_string()
}

fn example_help() -> String {
    "a minimal spec: `method: grid` and `parameters: {lr: {values: [1e-3, 1e-2]}}`".into()
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::error::{Diagnostic, Pos};
    use crate::plan::plan;
    use crate::sampler::tpe::TpeSettings;
    use crate::spec::Method;

    const PARAMS: &str = "parameters:\n  lr: {min: 1e-4, max: 1e-1, distribution: log_uniform_values}\n";

    fn problems(text: &str) -> Vec<Diagnostic> {
        parse(text, "t.yaml".as_ref()).unwrap_err().diagnostics().to_vec()
    }

    fn at(line: usize, col: usize) -> Option<Pos> {
        Some(Pos { line, col })
    }

    #[test]
    fn tpe_and_bayes_are_one_method() {
        for (word, bayes) in [("tpe", false), ("bayes", true)] {
            let spec = parse(&format!("method: {word}\nrun_cap: 30\n{PARAMS}"), "t.yaml".as_ref()).unwrap();
            assert_eq!(spec.method, Method::Tpe { bayes });
            assert_eq!(spec.method.as_str(), word);
            assert_eq!(spec.tpe, TpeSettings::default());
        }
        let d = TpeSettings::default();
        assert_eq!(
            (d.n_startup_trials, d.n_ei_candidates, d.multivariate, d.constant_liar),
            (10, 24, true, true)
        );
    }

    #[test]
    fn the_tpe_block_sets_each_setting() {
        let text = format!(
            "method: tpe\nrun_cap: 30\ntpe:\n  n_startup_trials: 5\n  n_ei_candidates: 64\n  multivariate: false\n  constant_liar: false\n{PARAMS}"
        );
        let spec = parse(&text, "t.yaml".as_ref()).unwrap();
        assert_eq!(
            spec.tpe,
            TpeSettings {
                n_startup_trials: 5,
                n_ei_candidates: 64,
                multivariate: false,
                constant_liar: false,
            }
        );
        // Only some: the others keep Optuna's defaults.
        let text = format!("method: tpe\nrun_cap: 30\ntpe: {{n_startup_trials: 0}}\n{PARAMS}");
        let spec = parse(&text, "t.yaml".as_ref()).unwrap();
        assert_eq!(spec.tpe.n_startup_trials, 0);
        assert_eq!(spec.tpe.n_ei_candidates, 24);
    }

    #[test]
    fn tpe_and_random_without_run_cap_are_valid_but_have_no_end() {
        for method in ["bayes", "random"] {
            let spec = parse(&format!("method: {method}\n{PARAMS}"), "t.yaml".as_ref()).unwrap();
            assert_eq!(spec.run_cap, None);
            assert_eq!(crate::plan::ending(&spec, None), None, "{method}");
            assert_eq!(
                crate::plan::ending(&spec, Some(5)).as_deref(),
                Some("after --count 5 new trials")
            );
            assert!(plan(&spec).is_err(), "no full list for {method}");
        }
        let spec = parse(
            &format!("method: bayes\nrun_cap: 40\nmetric: {{name: val_loss, goal: minimize, target: 0.1}}\n{PARAMS}"),
            "t.yaml".as_ref(),
        )
        .unwrap();
        assert_eq!(
            crate::plan::ending(&spec, Some(5)).as_deref(),
            Some(
                "after run_cap = 40 trials, after --count 5 new trials, or once a trial's val_loss reaches 0.1 (metric.target), whichever comes first"
            )
        );
        // A random search over a finite space ends once every point is drawn.
        let spec = parse(
            "method: random\nparameters:\n  batch_size: {values: [16, 32, 64]}\n",
            "t.yaml".as_ref(),
        )
        .unwrap();
        assert_eq!(
            crate::plan::ending(&spec, None).as_deref(),
            Some("after all 3 distinct combinations are drawn")
        );
        assert_eq!(plan(&spec).unwrap().trials.len(), 3);
    }

    #[test]
    fn tpe_block_errors_are_located() {
        let text = format!(
            "method: tpe\nrun_cap: 30\ntpe:\n  n_startup_trial: 5\n  n_ei_candidates: 0\n  multivariate: yes\n  constant_liar: 1\n  gamma: 0.2\n{PARAMS}"
        );
        let d = problems(&text);
        let found: Vec<(&str, Option<Pos>, &str, Option<&str>)> = d
            .iter()
            .map(|d| (d.path.as_str(), d.pos, d.message.as_str(), d.help.as_deref()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "tpe.n_startup_trial",
                    at(4, 3),
                    "unknown key `n_startup_trial` in `tpe`",
                    Some("did you mean `n_startup_trials`?")
                ),
                (
                    "tpe.n_ei_candidates",
                    at(5, 20),
                    "n_ei_candidates is 0: TPE picks the best of these candidates, so it needs at least one",
                    Some("remove it for Optuna's 24, or give a number >= 1")
                ),
                (
                    "tpe.multivariate",
                    at(6, 17),
                    "expected true or false, found the string `yes`",
                    None
                ),
                (
                    "tpe.constant_liar",
                    at(7, 18),
                    "expected true or false, found the number 1",
                    None
                ),
                (
                    "tpe.gamma",
                    at(8, 3),
                    "unknown key `gamma` in `tpe`",
                    Some(
                        "`gamma` is fixed at Optuna's default; the settings are n_startup_trials, n_ei_candidates, multivariate, constant_liar"
                    )
                ),
            ]
        );
        let d = problems(&format!(
            "method: tpe\nrun_cap: 30\ntpe: {{n_startup_trials: -1}}\n{PARAMS}"
        ));
        assert_eq!(d[0].path, "tpe.n_startup_trials");
        assert_eq!(d[0].message, "expected an integer >= 0, found the number -1");
        let d = problems(&format!("method: tpe\nrun_cap: 30\ntpe: 5\n{PARAMS}"));
        assert_eq!(d[0].pos, at(3, 6));
        assert!(
            d[0].message.starts_with("expected a mapping of TPE settings"),
            "{}",
            d[0].message
        );
    }

    #[test]
    fn the_tpe_block_belongs_to_tpe() {
        let d = problems(&format!(
            "method: random\nrun_cap: 5\ntpe: {{multivariate: false}}\n{PARAMS}"
        ));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!((d[0].path.as_str(), d[0].pos), ("tpe", at(3, 1)));
        assert_eq!(
            d[0].message,
            "`tpe` settings only apply to method: tpe, and this sweep is method: random"
        );
    }

    #[test]
    fn a_tpe_spec_has_no_plan_ahead() {
        let spec = parse(&format!("method: tpe\nrun_cap: 30\n{PARAMS}"), "t.yaml".as_ref()).unwrap();
        let e = plan(&spec).unwrap_err();
        assert_eq!(e.path, "method");
        assert!(e.message.contains("as the sweep runs"), "{}", e.message);
    }

    #[test]
    fn an_unknown_method_lists_tpe() {
        let d = problems(&format!("method: hyperopt\nrun_cap: 3\n{PARAMS}"));
        assert_eq!(
            d[0].message,
            "expected one of grid, random, tpe, bayes, found `hyperopt`"
        );
    }

    const WANDB_HEAD: &str = "program: train.py\nmethod: random\nrun_cap: 3\nmetric: {name: loss}\n";

    fn wandb(params: &str) -> crate::spec::Spec {
        parse(&format!("{WANDB_HEAD}parameters:\n{params}"), "t.yaml".as_ref()).unwrap()
    }

    #[test]
    fn a_wandb_file_becomes_a_wandb_trainer_with_wandbs_defaults() {
        let spec = parse(
            &format!("{WANDB_HEAD}project: p\nentity: e\ncommand:\n  - ${{env}}\n  - ${{interpreter}}\n  - ${{program}}\n  - ${{args}}\nparameters:\n  lr: {{min: 0.1, max: 1}}\n"),
            "t.yaml".as_ref(),
        )
        .unwrap();
        assert_eq!(spec.project.as_deref(), Some("p"));
        assert_eq!(spec.entity.as_deref(), Some("e"));
        // W&B's schema: goal defaults to minimize.
        assert_eq!(spec.metric.goal, sweep_core::Goal::Minimize);
        let crate::spec::Trainer::Wandb {
            program,
            command,
            nested,
        } = &spec.trainer
        else {
            panic!("{:?}", spec.trainer)
        };
        assert_eq!(program, "train.py");
        assert_eq!(command.as_ref().unwrap().len(), 4);
        assert!(nested.is_empty());
    }

    #[test]
    fn wandbs_inference_rule_for_min_and_max() {
        use crate::distribution::Distribution as D;
        let spec = wandb(
            "  a: {max: 10, min: 1}\n  b: {min: 0, max: 0.5}\n  c: {min: \"1e-4\", max: 1e-2}\n  d: {min: 1e-4, max: 1e-2}\n",
        );
        let d: Vec<&D> = spec.parameters.iter().map(|p| &p.distribution).collect();
        assert_eq!(*d[0], D::IntUniform { min: 1, max: 10 });
        assert_eq!(*d[1], D::Uniform { min: 0.0, max: 0.5 });
        // `1e-4` quoted (or read by PyYAML) is still a number.
        assert_eq!(*d[2], D::Uniform { min: 1e-4, max: 1e-2 });
        assert_eq!(*d[3], D::Uniform { min: 1e-4, max: 1e-2 });
    }

    #[test]
    fn server_only_keys_are_refused_where_they_are() {
        let d = problems(&format!(
            "{WANDB_HEAD}job: my-job:latest\nimage_uri: x\nparameters:\n  lr: {{values: [1]}}\n"
        ));
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].message, "`job` only means something to W&B's servers");
        assert_eq!(d[0].pos, at(5, 1));
        assert!(d[0].help.as_deref().unwrap().contains("program:"));
        assert_eq!(d[1].path, "image_uri");
    }

    #[test]
    fn metric_target_is_kept_and_checked() {
        let spec = parse(
            "program: t.py\nmethod: grid\nmetric: {name: acc, goal: maximize, target: 0.99}\nparameters:\n  x: {values: [1]}\n",
            "t.yaml".as_ref(),
        )
        .unwrap();
        assert_eq!(spec.metric_target, Some(0.99));
        let d = problems(
            "program: t.py\nmethod: grid\nmetric: {name: acc, target: high}\nparameters:\n  x: {values: [1]}\n",
        );
        assert_eq!(d[0].path, "metric.target");
        assert_eq!(d[0].message, "expected a number, found the string `high`");
    }

    #[test]
    fn nested_groups_name_their_parameters_with_dots() {
        let spec = wandb(
            "  opt:\n    parameters:\n      lr: {value: 0.1}\n      inner:\n        parameters:\n          m: {values: [1, 2]}\n  top: {value: 1}\n",
        );
        let names: Vec<&str> = spec.parameters.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["opt.lr", "opt.inner.m", "top"]);
        let crate::spec::Trainer::Wandb { nested, .. } = &spec.trainer else {
            panic!()
        };
        assert_eq!(nested, &["opt", "opt.inner"]);
        let d = problems(&format!(
            "{WANDB_HEAD}parameters:\n  opt:\n    parameters:\n      lr: {{value: 0.1}}\n    value: 3\n"
        ));
        assert_eq!(
            d[0].message,
            "`opt` holds `parameters:` (a nested group) and other keys"
        );
        assert_eq!(d[0].pos, at(6, 3));
        // Errors inside a group point into it.
        let d = problems(&format!(
            "{WANDB_HEAD}parameters:\n  opt:\n    parameters:\n      lr: {{min: 1, max: x}}\n"
        ));
        assert_eq!(d[0].path, "parameters.opt.parameters.lr.max");
        assert_eq!(d[0].pos.map(|p| p.line), Some(8));
    }

    #[test]
    fn tpe_refuses_unbounded_distributions_where_they_are() {
        let d = problems(
            "program: t.py\nmethod: bayes\nrun_cap: 5\nmetric: {name: l}\nparameters:\n  w: {distribution: beta, a: 2}\n  x: {distribution: normal}\n",
        );
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].path, "parameters.w.distribution");
        assert!(d[0].message.contains("TPE needs a bounded space, and beta is not one"));
        assert_eq!(d[1].pos, at(7, 21));
    }

    #[test]
    fn unbounded_distributions_check_their_settings() {
        let d = problems(&format!(
            "{WANDB_HEAD}parameters:\n  x: {{distribution: normal, sigma: -1, min: 0}}\n"
        ));
        let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "expected a number > 0, found the number -1",
                "`min` does not apply to a normal parameter"
            ]
        );
    }

    #[test]
    fn unknown_macros_and_display_names_are_warnings() {
        let spec = parse(
            &format!("{WANDB_HEAD}name: LR sweep (v2)\ncommand:\n  - python\n  - ${{program}}\n  - ${{arg}}\nparameters:\n  x: {{values: [1]}}\n"),
            "t.yaml".as_ref(),
        )
        .unwrap();
        assert_eq!(spec.name, "lr-sweep-v2");
        assert_eq!(spec.warnings.len(), 2);
        assert_eq!(spec.warnings[1].0, "command[2]");
        assert!(
            spec.warnings[1].1.contains("did you mean `${args}`?"),
            "{:?}",
            spec.warnings
        );
    }

    #[test]
    fn method_custom_says_what_to_use() {
        let d = problems("program: t.py\nmethod: custom\nmetric: {name: l}\nparameters:\n  x: {values: [1]}\n");
        assert!(d[0].help.as_deref().unwrap().contains("custom schedulers"), "{d:?}");
    }

    #[test]
    fn placeholders_take_every_name_wandb_allows() {
        let spec = parse(
            "method: grid\nmetric: {name: l, goal: minimize}\ntrainer:\n  command: [python, t.py, \"--lr=${train.learning_rate}\", \"${model-dim}\", \"${^w}\"]\nparameters:\n  train.learning_rate: {values: [0.1]}\n  model-dim: {values: [8]}\n  ^w: {values: [1]}\n",
            "t.yaml".as_ref(),
        );
        assert!(spec.is_ok(), "{spec:?}");
        assert_eq!(
            super::placeholders("${a b}").unwrap_err(),
            "`${a b}` in `${a b}` is not a placeholder name"
        );
    }
}
