//! The parameters of the built-in burn trainer: names, types, bounds, defaults.
//!
//! The spec validator checks a sweep's `parameters:` and `trainer:` settings
//! against this table, and the trainer reads its configuration through it, so
//! the two can never disagree about a name or a default.

use crate::{ParamValue, Params, format_float};

/// What values a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A real number in a range; `min_open` makes the lower bound exclusive.
    Float {
        /// Lower bound.
        min: f64,
        /// Whether `min` itself is refused (`lr > 0`).
        min_open: bool,
        /// Upper bound, if any, and whether it is exclusive.
        max: Option<(f64, bool)>,
    },
    /// A whole number, at least `min`.
    Int {
        /// Lower bound (inclusive).
        min: i64,
    },
    /// `true` or `false`.
    Bool,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// A list of whole numbers, each at least 1 (layer sizes); a single number is a list of one.
    Sizes,
    /// Free text (paths).
    Text,
    /// `cpu`, `cuda` or `cuda:N`.
    Device,
}

/// A parameter's default value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    /// No default: absent means "not set" (e.g. `data_dir` falls back to `data/`).
    Unset,
    /// A number.
    Float(f64),
    /// A whole number.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A word.
    Str(&'static str),
    /// Layer sizes.
    Sizes(&'static [i64]),
}

/// One parameter the built-in trainer accepts.
#[derive(Debug, Clone, Copy)]
pub struct ParamDef {
    /// Its name in specs and on the command line.
    pub name: &'static str,
    /// The values it takes.
    pub kind: Kind,
    /// Its value when a spec does not set it.
    pub default: Default,
    /// One line for help texts.
    pub doc: &'static str,
}

const fn float(min: f64, min_open: bool, max: Option<(f64, bool)>) -> Kind {
    Kind::Float { min, min_open, max }
}

/// The optimizers the trainer knows.
pub const OPTIMIZERS: &[&str] = &["sgd", "adam", "adamw", "rmsprop", "adagrad"];
/// The learning-rate schedules the trainer knows.
pub const SCHEDULES: &[&str] = &["constant", "step", "exponential", "cosine", "warmup_cosine"];
/// The input normalizations the trainer knows.
pub const NORMALIZATIONS: &[&str] = &["none", "minmax", "minmax_symmetric", "zscore", "meanstd"];
/// The datasets the trainer knows.
pub const DATASETS: &[&str] = &["mnist", "fashion-mnist"];
/// The models the trainer knows.
pub const MODELS: &[&str] = &["mlp", "cnn"];
/// The hidden-layer activations the trainer knows.
pub const ACTIVATIONS: &[&str] = &["relu", "tanh", "sigmoid"];

/// The metrics the built-in trainer reports each epoch, and which way is better.
pub const EPOCH_METRICS: &[(&str, crate::Goal)] = &[
    ("val_accuracy", crate::Goal::Maximize),
    ("val_loss", crate::Goal::Minimize),
    ("train_loss", crate::Goal::Minimize),
];

/// The metric a built-in trainer's sweep ranks by when its spec names none.
pub fn default_metric() -> crate::Metric {
    crate::Metric {
        name: "val_accuracy".into(),
        goal: crate::Goal::Maximize,
    }
}

/// Which way is better for a metric the built-in trainer reports (the goal a
/// spec may leave out); none for other names.
pub fn goal_of(metric: &str) -> Option<crate::Goal> {
    EPOCH_METRICS.iter().find(|(n, _)| *n == metric).map(|(_, g)| *g)
}

/// Every parameter of the built-in trainer.
pub const PARAMS: &[ParamDef] = &[
    ParamDef {
        name: "model",
        kind: Kind::Choice(MODELS),
        default: Default::Str("mlp"),
        doc: "network: mlp or cnn (LeNet-style)",
    },
    ParamDef {
        name: "dataset",
        kind: Kind::Choice(DATASETS),
        default: Default::Str("mnist"),
        doc: "training data",
    },
    ParamDef {
        name: "data_dir",
        kind: Kind::Text,
        default: Default::Unset,
        doc: "folder holding the dataset (default: $SWEEP_DATA_DIR, then data/)",
    },
    ParamDef {
        name: "device",
        kind: Kind::Device,
        default: Default::Str("cpu"),
        doc: "cpu, cuda or cuda:N",
    },
    ParamDef {
        name: "hidden",
        kind: Kind::Sizes,
        default: Default::Sizes(&[128]),
        doc: "hidden layer sizes of the mlp",
    },
    ParamDef {
        name: "activation",
        kind: Kind::Choice(ACTIVATIONS),
        default: Default::Str("relu"),
        doc: "hidden-layer activation",
    },
    ParamDef {
        name: "dropout",
        kind: float(0.0, false, Some((1.0, true))),
        default: Default::Float(0.0),
        doc: "dropout probability after each hidden layer",
    },
    ParamDef {
        name: "lr",
        kind: float(0.0, true, None),
        default: Default::Float(1e-3),
        doc: "learning rate",
    },
    ParamDef {
        name: "batch_size",
        kind: Kind::Int { min: 1 },
        default: Default::Int(64),
        doc: "mini-batch size",
    },
    ParamDef {
        name: "epochs",
        kind: Kind::Int { min: 1 },
        default: Default::Int(10),
        doc: "passes over the training set",
    },
    ParamDef {
        name: "optimizer",
        kind: Kind::Choice(OPTIMIZERS),
        default: Default::Str("adam"),
        doc: "sgd, adam, adamw, rmsprop or adagrad",
    },
    ParamDef {
        name: "momentum",
        kind: float(0.0, false, Some((1.0, true))),
        default: Default::Float(0.0),
        doc: "momentum (sgd, rmsprop)",
    },
    ParamDef {
        name: "nesterov",
        kind: Kind::Bool,
        default: Default::Bool(false),
        doc: "Nesterov momentum (sgd)",
    },
    ParamDef {
        name: "weight_decay",
        kind: float(0.0, false, None),
        default: Default::Unset,
        doc: "L2 penalty, decoupled for adamw (default: 0; adamw 0.01, as PyTorch)",
    },
    ParamDef {
        name: "beta1",
        kind: float(0.0, false, Some((1.0, true))),
        default: Default::Float(0.9),
        doc: "Adam/AdamW first-moment decay",
    },
    ParamDef {
        name: "beta2",
        kind: float(0.0, false, Some((1.0, true))),
        default: Default::Float(0.999),
        doc: "Adam/AdamW second-moment decay",
    },
    ParamDef {
        name: "eps",
        kind: float(0.0, true, None),
        default: Default::Unset,
        doc: "optimizer epsilon (default: PyTorch's, 1e-8; adagrad 1e-10)",
    },
    ParamDef {
        name: "grad_clip_norm",
        kind: float(0.0, false, None),
        default: Default::Float(0.0),
        doc: "clip each gradient tensor to this L2 norm (0: off)",
    },
    ParamDef {
        name: "lr_schedule",
        kind: Kind::Choice(SCHEDULES),
        default: Default::Str("constant"),
        doc: "learning-rate schedule",
    },
    ParamDef {
        name: "lr_step_size",
        kind: Kind::Int { min: 1 },
        default: Default::Int(3),
        doc: "epochs between decays (step)",
    },
    ParamDef {
        name: "lr_gamma",
        kind: float(0.0, true, Some((1.0, false))),
        default: Default::Float(0.1),
        doc: "decay factor (step: per step_size epochs; exponential: per epoch)",
    },
    ParamDef {
        name: "lr_min",
        kind: float(0.0, false, None),
        default: Default::Float(0.0),
        doc: "final learning rate (cosine, warmup_cosine)",
    },
    ParamDef {
        name: "warmup_epochs",
        kind: Kind::Int { min: 0 },
        default: Default::Int(1),
        doc: "linear warm-up length (warmup_cosine)",
    },
    ParamDef {
        name: "normalize",
        kind: Kind::Choice(NORMALIZATIONS),
        default: Default::Str("meanstd"),
        doc: "input normalization",
    },
    ParamDef {
        name: "norm_mean",
        kind: float(f64::NEG_INFINITY, false, None),
        default: Default::Float(0.5),
        doc: "mean for meanstd normalization",
    },
    ParamDef {
        name: "norm_std",
        kind: float(0.0, true, None),
        default: Default::Float(0.5),
        doc: "std for meanstd normalization",
    },
    ParamDef {
        name: "augment",
        kind: Kind::Bool,
        default: Default::Bool(false),
        doc: "random crop, rotation and scaling of training images",
    },
    ParamDef {
        name: "crop_padding",
        kind: Kind::Int { min: 0 },
        default: Default::Int(2),
        doc: "pixels of padding for random crops (augment)",
    },
    ParamDef {
        name: "rotation",
        kind: float(0.0, false, Some((180.0, false))),
        default: Default::Float(10.0),
        doc: "maximum rotation in degrees (augment)",
    },
    ParamDef {
        name: "scale",
        kind: float(0.0, false, Some((1.0, true))),
        default: Default::Float(0.1),
        doc: "maximum relative zoom in or out (augment)",
    },
    ParamDef {
        name: "val_size",
        kind: Kind::Int { min: 1 },
        default: Default::Int(10_000),
        doc: "images held out of the training set for validation",
    },
    ParamDef {
        name: "train_limit",
        kind: Kind::Int { min: 0 },
        default: Default::Int(0),
        doc: "train on only this many images (0: all)",
    },
    ParamDef {
        name: "test_limit",
        kind: Kind::Int { min: 0 },
        default: Default::Int(0),
        doc: "score only this many test images (0: all)",
    },
    ParamDef {
        name: "seed",
        kind: Kind::Int { min: 0 },
        default: Default::Unset,
        doc: "training seed (default: the spec's seed)",
    },
];

/// Looks up a parameter of the built-in trainer by name.
pub fn param(name: &str) -> Option<&'static ParamDef> {
    PARAMS.iter().find(|p| p.name == name)
}

/// The names of every built-in parameter.
pub fn names() -> impl Iterator<Item = &'static str> {
    PARAMS.iter().map(|p| p.name)
}

impl Default {
    /// The default as a value, if there is one.
    pub fn value(self) -> Option<ParamValue> {
        match self {
            Default::Unset => None,
            Default::Float(x) => Some(ParamValue::Float(x)),
            Default::Int(i) => Some(ParamValue::Int(i)),
            Default::Bool(b) => Some(ParamValue::Bool(b)),
            Default::Str(s) => Some(ParamValue::Str(s.to_string())),
            Default::Sizes(s) => Some(ParamValue::List(s.iter().map(|&i| ParamValue::Int(i)).collect())),
        }
    }
}

impl ParamDef {
    /// True when the parameter takes numbers (so `min`/`max` make sense).
    pub fn is_numeric(&self) -> bool {
        matches!(self.kind, Kind::Float { .. } | Kind::Int { .. })
    }

    /// True when the parameter takes only whole numbers.
    pub fn is_integer(&self) -> bool {
        matches!(self.kind, Kind::Int { .. })
    }

    /// What the parameter expects, in words ("a number > 0").
    pub fn expected(&self) -> String {
        match self.kind {
            Kind::Float { min, min_open, max } => {
                let lo = if min == f64::NEG_INFINITY {
                    None
                } else {
                    Some(format!("{} {}", if min_open { ">" } else { ">=" }, bound(min)))
                };
                let hi = max.map(|(m, open)| format!("{} {}", if open { "<" } else { "<=" }, bound(m)));
                match (lo, hi) {
                    (None, None) => "a number".into(),
                    (Some(l), None) => format!("a number {l}"),
                    (None, Some(h)) => format!("a number {h}"),
                    (Some(l), Some(h)) => format!("a number {l} and {h}"),
                }
            }
            Kind::Int { min } => format!("an integer >= {min}"),
            Kind::Bool => "true or false".into(),
            Kind::Choice(words) => format!("one of {}", words.join(", ")),
            Kind::Sizes => "a list of layer sizes (integers >= 1), e.g. [256, 128]".into(),
            Kind::Text => "a string".into(),
            Kind::Device => "cpu, cuda or cuda:N".into(),
        }
    }

    /// Checks a value against the parameter, returning it in canonical form
    /// (an integer where a float is expected becomes a float; `hidden: 128`
    /// becomes `[128]`), or what was expected.
    pub fn check(&self, value: &ParamValue) -> Result<ParamValue, String> {
        let bad = || Err(format!("expected {}, found {}", self.expected(), describe(value)));
        match (self.kind, value) {
            (Kind::Float { min, min_open, max }, ParamValue::Int(_) | ParamValue::Float(_)) => {
                let x = value.as_f64().unwrap_or(f64::NAN);
                let lo_ok = if min_open { x > min } else { x >= min };
                let hi_ok = match max {
                    None => x.is_finite(),
                    Some((m, true)) => x < m,
                    Some((m, false)) => x <= m,
                };
                if lo_ok && hi_ok {
                    Ok(ParamValue::Float(x))
                } else {
                    bad()
                }
            }
            (Kind::Int { min }, ParamValue::Int(i)) if *i >= min => Ok(value.clone()),
            (Kind::Bool, ParamValue::Bool(_)) => Ok(value.clone()),
            (Kind::Choice(words), ParamValue::Str(s)) if words.contains(&s.as_str()) => Ok(value.clone()),
            (Kind::Sizes, ParamValue::Int(i)) if *i >= 1 => Ok(ParamValue::List(vec![value.clone()])),
            (Kind::Sizes, ParamValue::List(items))
                if !items.is_empty() && items.iter().all(|v| v.as_i64().is_some_and(|i| i >= 1)) =>
            {
                Ok(value.clone())
            }
            (Kind::Text, ParamValue::Str(_)) => Ok(value.clone()),
            (Kind::Device, ParamValue::Str(s)) if is_device(s) => Ok(value.clone()),
            _ => bad(),
        }
    }
}

/// A bound as people write it: `0`, `1`, `0.5`.
fn bound(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format_float(x)
    }
}

fn is_device(s: &str) -> bool {
    s == "cpu"
        || s == "cuda"
        || s.strip_prefix("cuda:")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn describe(value: &ParamValue) -> String {
    match value {
        ParamValue::Str(s) => format!("`{s}`"),
        ParamValue::List(_) => format!("the list {value}"),
        other => format!("{} ({other})", other.type_name()),
    }
}

/// The value of `name` for a trial: its own parameter, else the default.
///
/// # Panics
/// If `name` is not a built-in parameter (a programming error).
pub fn value_or_default(params: &Params, name: &str) -> Option<ParamValue> {
    let def = param(name).unwrap_or_else(|| panic!("`{name}` is not a built-in trainer parameter"));
    params.get(name).cloned().or_else(|| def.default.value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_their_own_checks() {
        for p in PARAMS {
            if let Some(v) = p.default.value() {
                assert_eq!(p.check(&v).as_ref(), Ok(&v), "default of {}", p.name);
            }
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PARAMS.len());
    }

    #[test]
    fn checks_coerce_and_refuse() {
        let lr = param("lr").unwrap();
        assert_eq!(lr.check(&ParamValue::Int(1)), Ok(ParamValue::Float(1.0)));
        assert_eq!(
            lr.check(&ParamValue::Float(0.0)).unwrap_err(),
            "expected a number > 0, found a number (0.0)"
        );
        let hidden = param("hidden").unwrap();
        assert_eq!(
            hidden.check(&ParamValue::Int(64)),
            Ok(ParamValue::List(vec![ParamValue::Int(64)]))
        );
        assert!(hidden.check(&ParamValue::List(vec![])).is_err());
        let dev = param("device").unwrap();
        for ok in ["cpu", "cuda", "cuda:1"] {
            assert!(dev.check(&ParamValue::Str(ok.into())).is_ok(), "{ok}");
        }
        for bad in ["gpu", "cuda:", "cuda:x"] {
            assert!(dev.check(&ParamValue::Str(bad.into())).is_err(), "{bad}");
        }
        let opt = param("optimizer").unwrap();
        assert_eq!(
            opt.check(&ParamValue::Str("adamax".into())).unwrap_err(),
            "expected one of sgd, adam, adamw, rmsprop, adagrad, found `adamax`"
        );
    }
}
