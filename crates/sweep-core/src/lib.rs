//! The shared vocabulary of `sweep`.
//!
//! Every other crate speaks in these types: a trial's [`Params`] and its
//! stable [`TrialId`], the [`Goal`] of a sweep's metric, the [`TrialEvent`]s a
//! worker prints (the worker protocol) and the final [`TrialStatus`] of a trial.
//! [`builtin`] describes the parameters the built-in burn trainer accepts, so the
//! spec validator and the trainer agree on one list.
//!
//! ```
//! use sweep_core::{ParamValue, Params, TrialId};
//! let mut params = Params::new();
//! params.insert("lr".into(), ParamValue::Float(1e-3));
//! params.insert("optimizer".into(), ParamValue::Str("adam".into()));
//! let id = TrialId::derive(&params, 42);
//! assert_eq!(id, TrialId::derive(&params.clone(), 42));
//! assert_ne!(id, TrialId::derive(&params, 43));
//! ```

pub mod builtin;
mod event;
mod id;
pub mod metrics_json;
mod param;
mod status;
pub mod text;

pub use event::{EpochMetrics, ParsedLine, TrialEvent, starts_like_event};
pub use id::TrialId;
pub use param::{ParamValue, Params, format_float, format_short, round_to_digits};
pub use status::TrialStatus;

use serde::{Deserialize, Serialize};

/// Whether a sweep looks for the smallest or the largest value of its metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Goal {
    /// Smaller is better (losses, errors).
    Minimize,
    /// Larger is better (accuracies).
    Maximize,
}

impl Goal {
    /// The word used in specs and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Goal::Minimize => "minimize",
            Goal::Maximize => "maximize",
        }
    }

    /// True when `a` is strictly better than `b` under this goal.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Goal::Minimize => a < b,
            Goal::Maximize => a > b,
        }
    }
}

/// The metric a sweep ranks its trials by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// The name of the metric, as the trainer reports it (`val_accuracy`).
    pub name: String,
    /// Which direction is better.
    pub goal: Goal,
}

/// What a worker is told about its trial: the `trial.json` of the worker protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialFile {
    /// The trial's id.
    pub id: TrialId,
    /// Its position in the plan.
    pub ordinal: usize,
    /// The training seed.
    pub seed: u64,
    /// Every setting: the trainer's fixed ones and the trial's parameters.
    pub params: Params,
    /// The sweep's metric, which picks the best epoch.
    pub metric: Metric,
}
