//! The built-in trainer's parameters as command-line flags (`--lr 0.001`),
//! generated from the one table in `sweep_core::builtin`.

use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};
use sweep_core::builtin::{self, Kind};
use sweep_core::{ParamValue, Params};

/// Parameters given as flags, checked against the trainer's table.
#[derive(Debug, Clone, Default)]
pub struct ParamFlags(pub Params);

/// Reads one flag value: a list for layer sizes (`256,128`), else a bool,
/// integer, number or word, then checked like a spec value.
fn parse_value(def: &builtin::ParamDef, text: &str) -> Result<ParamValue, String> {
    let scalar = |t: &str| -> ParamValue {
        let t = t.trim();
        if let Ok(i) = t.parse::<i64>() {
            ParamValue::Int(i)
        } else if let Ok(x) = t.parse::<f64>() {
            ParamValue::Float(x)
        } else if let Ok(b) = t.parse::<bool>() {
            ParamValue::Bool(b)
        } else {
            ParamValue::Str(t.to_string())
        }
    };
    let value = match def.kind {
        Kind::Sizes => ParamValue::List(text.trim_matches(['[', ']']).split(',').map(scalar).collect()),
        Kind::Text => ParamValue::Str(text.to_string()),
        _ => scalar(text),
    };
    def.check(&value)
}

impl FromArgMatches for ParamFlags {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut params = Params::new();
        for def in builtin::PARAMS {
            if let Some(v) = m.get_one::<ParamValue>(def.name) {
                params.insert(def.name.to_string(), v.clone());
            }
        }
        Ok(ParamFlags(params))
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for ParamFlags {
    fn augment_args(mut cmd: Command) -> Command {
        for def in builtin::PARAMS {
            let default = def
                .default
                .value()
                .map_or_else(String::new, |v| format!(" [default: {v}]"));
            // `--batch-size`, clap's kebab case, with the parameter's own
            // name (`--batch_size`) kept as an alias.
            let kebab: &'static str = Box::leak(def.name.replace('_', "-").into_boxed_str());
            let mut arg = Arg::new(def.name).long(kebab);
            if kebab != def.name {
                arg = arg.visible_alias(def.name);
            }
            cmd = cmd.arg(
                arg.allow_negative_numbers(true)
                    .value_parser(move |text: &str| parse_value(def, text))
                    .value_name(match def.kind {
                        Kind::Int { .. } => "N",
                        Kind::Float { .. } => "X",
                        Kind::Sizes => "N,N..",
                        Kind::Bool => "BOOL",
                        Kind::Choice(_) | Kind::Device => "NAME",
                        Kind::Text => "PATH",
                    })
                    .help(format!("{}{default}", def.doc))
                    .help_heading("Trainer parameters"),
            );
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_check() {
        let hidden = builtin::param("hidden").unwrap();
        assert_eq!(
            parse_value(hidden, "256,128"),
            Ok(ParamValue::List(vec![ParamValue::Int(256), ParamValue::Int(128)]))
        );
        let lr = builtin::param("lr").unwrap();
        assert_eq!(parse_value(lr, "1e-3"), Ok(ParamValue::Float(1e-3)));
        assert!(parse_value(lr, "-1").is_err());
        let aug = builtin::param("augment").unwrap();
        assert_eq!(parse_value(aug, "true"), Ok(ParamValue::Bool(true)));
    }

    #[test]
    fn kebab_case_flags_and_the_parameter_names_both_work() {
        for flag in ["--batch-size", "--batch_size"] {
            let m = ParamFlags::augment_args(Command::new("t"))
                .try_get_matches_from(["t", flag, "32", "--lr", "0.01"])
                .unwrap();
            let p = ParamFlags::from_arg_matches(&m).unwrap().0;
            assert_eq!(p["batch_size"], ParamValue::Int(32), "{flag}");
            assert_eq!(p["lr"], ParamValue::Float(0.01));
        }
    }
}
