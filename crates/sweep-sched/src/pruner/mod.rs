//! Early stopping: rules that stop a trial whose metric is behind the
//! others' at the same epoch (W&B's hyperband, ASHA, the median rule).

use sweep_core::{Goal, TrialId};

/// What a pruner knows of one trial: the sweep metric's value at each
/// report (epoch 1, 2, ...), in order.
#[derive(Debug, Clone, Copy)]
pub struct Curve<'a> {
    /// The trial.
    pub trial: &'a TrialId,
    /// Its values, one per epoch reported.
    pub values: &'a [f64],
    /// Where it stands.
    pub state: CurveState,
}

/// Where a trial stands, as a pruner needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurveState {
    /// Still training.
    Running,
    /// Trained to the end.
    Completed,
    /// Stopped by the pruner.
    Pruned,
    /// Failed, diverged, timed out or interrupted.
    Other,
}

/// Why a trial is stopped: journaled and shown to the user.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StopDecision {
    /// `hyperband`, `asha` or `median`.
    pub rule: String,
    /// The epoch at which it is stopped.
    pub epoch: u32,
    /// The band, rung or step it was judged at.
    pub rung: u32,
    /// Its value that was compared.
    pub value: f64,
    /// The threshold it missed.
    pub threshold: f64,
    /// How many values made the threshold.
    pub compared: usize,
}

impl StopDecision {
    /// One line for `sweep show`.
    pub fn explain(&self, metric: &str, goal: Goal) -> String {
        let side = match goal {
            Goal::Maximize => "below",
            Goal::Minimize => "above",
        };
        format!(
            "stopped at epoch {}: {metric} {} {side} the {} cut {} at {} ({} trials)",
            self.epoch,
            sweep_core::format_short(self.value),
            self.rule,
            sweep_core::format_short(self.threshold),
            self.rung,
            self.compared
        )
    }
}

/// An early-termination rule.
pub trait Pruner: Send {
    /// Called each time `trial` reports a new value; `all` holds every
    /// trial of the sweep created so far (including `trial`). Some(decision)
    /// stops it now.
    fn on_report(&mut self, trial: &TrialId, all: &[Curve<'_>]) -> Option<StopDecision>;
}
