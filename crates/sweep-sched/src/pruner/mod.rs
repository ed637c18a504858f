//! Early stopping: the rules that stop a trial whose metric is behind the other
//! trials' at the same epoch (the spec's `early_terminate:` block).
//!
//! Pure logic, no I/O: the dispatcher calls [`Pruner::on_report`] each time a
//! trial reports its metric for an epoch, with every trial's curve so far, and
//! stops the trial when it gets a [`StopDecision`]. Three rules, each following
//! the implementation its users know:
//!
//! - [`Hyperband`]: W&B's hyperband stopping (`wandb/sweeps`, `hyperband_stopping.py`);
//! - [`Asha`]: Ray Tune's `ASHAScheduler`, stop-based (`async_hyperband.py`);
//! - [`Median`]: Optuna's `MedianPruner` (`pruners/_percentile.py`).
//!
//! Each rule's module says where it departs from its source, and why.
//!
//! ```
//! use sweep_core::{Goal, TrialId};
//! use sweep_sched::pruner::{Curve, CurveState, build};
//! use sweep_spec::EarlyTerminate;
//!
//! let cfg = EarlyTerminate::Median { n_startup_trials: 1, n_warmup_steps: 0, interval_steps: 1 };
//! let mut pruner = build(&cfg, Goal::Maximize);
//! let (done, late) = (TrialId::from_string("done"), TrialId::from_string("late"));
//! let all = [
//!     Curve { trial: &done, values: &[0.90, 0.95], state: CurveState::Completed },
//!     Curve { trial: &late, values: &[0.80], state: CurveState::Running },
//! ];
//! let stop = pruner.on_report(&late, &all).unwrap();
//! assert_eq!(stop.explain("val_accuracy", Goal::Maximize),
//!            "stopped at epoch 1: best val_accuracy so far 0.8 below the median 0.9 of 1 completed trial at epoch 1");
//! ```

mod asha;
mod hyperband;
mod median;

pub use asha::Asha;
pub use hyperband::{Hyperband, bands};
pub use median::Median;

use serde::{Deserialize, Serialize};
use sweep_core::{Goal, TrialId, format_float, format_short};
use sweep_spec::EarlyTerminate;

/// What a pruner knows of one trial: the sweep metric's value at each report
/// (epoch 1, 2, ...), in order.
#[derive(Debug, Clone, Copy)]
pub struct Curve<'a> {
    /// The trial.
    pub trial: &'a TrialId,
    /// The metric at epochs 1, 2, ...: `values[e - 1]` is epoch `e`'s. NaN and
    /// infinities are allowed; each rule says how it counts them.
    pub values: &'a [f64],
    /// Where the trial stands.
    pub state: CurveState,
}

/// Where a trial stands, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurveState {
    /// Still training.
    Running,
    /// Trained to the end.
    Completed,
    /// Stopped by the rule.
    Pruned,
    /// Failed, diverged, timed out or interrupted.
    Other,
}

/// Why a trial is stopped: journaled, and shown to the user by [`StopDecision::explain`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopDecision {
    /// The rule: `hyperband`, `asha` or `median`.
    pub rule: String,
    /// The trial's epoch count when it was stopped (its last report).
    pub epoch: u32,
    /// The band, rung or step judged at, as an epoch count.
    pub rung: u32,
    /// The trial's value compared (see [`StopDecision::kind`]); NaN counts as worst.
    #[serde(with = "float_or_word")]
    pub value: f64,
    /// What it had to reach, in the metric's own units; for [`StopKind::MaxT`], `max_t`.
    #[serde(with = "float_or_word")]
    pub threshold: f64,
    /// How many values made the threshold.
    pub compared: usize,
    /// Which value was compared, or why the trial stops without a comparison.
    #[serde(default)]
    pub kind: StopKind,
}

/// What a [`StopDecision`] compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    /// The trial's value at epoch `rung` was worse than the threshold.
    #[default]
    Value,
    /// The trial's best value so far was worse than the threshold.
    BestSoFar,
    /// The trial reached ASHA's `max_t` (Ray's `stop_last_trials`): its budget
    /// is spent, it is not behind. When `max_t` is also the trial's last epoch
    /// it ends there anyway: the dispatcher may let it complete rather than
    /// record it as pruned (Ray's trial ends as terminated either way).
    MaxT,
}

impl StopDecision {
    /// One line for `sweep show`, e.g. `stopped at epoch 3: val_accuracy 0.912
    /// below the ASHA rung-3 cut 0.941 (9 trials at that rung)`.
    pub fn explain(&self, metric: &str, goal: Goal) -> String {
        let head = format!("stopped at epoch {}", self.epoch);
        if self.kind == StopKind::MaxT {
            return format!("{head}: reached ASHA's max_t ({} epochs)", self.rung);
        }
        let (value, threshold) = numbers(self.value, self.threshold);
        let what = match self.kind {
            StopKind::BestSoFar => format!("best {metric} so far"),
            _ if self.rung != self.epoch => format!("{metric} at epoch {}", self.rung),
            _ => metric.to_string(),
        };
        let trials = |n: usize| {
            if n == 1 {
                "1 trial".to_string()
            } else {
                format!("{n} trials")
            }
        };
        let cut = match self.rule.as_str() {
            "hyperband" => format!(
                "the hyperband band-{} cut {threshold} ({} at that band)",
                self.rung,
                trials(self.compared)
            ),
            "asha" => format!(
                "the ASHA rung-{} cut {threshold} ({} at that rung)",
                self.rung,
                trials(self.compared)
            ),
            "median" => format!(
                "the median {threshold} of {} completed {} at epoch {}",
                self.compared,
                if self.compared == 1 { "trial" } else { "trials" },
                self.rung
            ),
            other => format!("the {other} cut {threshold} at epoch {}", self.rung),
        };
        if self.value.is_nan() {
            if self.kind == StopKind::BestSoFar {
                return format!("{head}: every {metric} so far is NaN, which counts as worst");
            }
            return format!("{head}: {what} is NaN, which counts as worst (against {cut})");
        }
        let side = match goal {
            Goal::Maximize => "below",
            Goal::Minimize => "above",
        };
        format!("{head}: {what} {value} {side} {cut}")
    }
}

/// The value and threshold for people: four significant digits, or every
/// digit where four would show two different numbers as one.
fn numbers(value: f64, threshold: f64) -> (String, String) {
    let (v, t) = (format_short(value), format_short(threshold));
    if v == t && value != threshold {
        (format_float(value), format_float(threshold))
    } else {
        (v, t)
    }
}

/// A decision's numbers in the journal: JSON has no NaN or infinity, so those
/// are written as the words `NaN`, `inf` and `-inf` (and `null` reads as NaN).
mod float_or_word {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        match *x {
            x if x.is_finite() => s.serialize_f64(x),
            x if x.is_nan() => s.serialize_str("NaN"),
            x if x > 0.0 => s.serialize_str("inf"),
            _ => s.serialize_str("-inf"),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Number(f64),
        Word(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Option::<Repr>::deserialize(d)? {
            None => Ok(f64::NAN),
            Some(Repr::Number(x)) => Ok(x),
            Some(Repr::Word(w)) => match w.as_str() {
                "NaN" | "nan" => Ok(f64::NAN),
                "inf" | "+inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(serde::de::Error::custom(format!("expected a number, found `{other}`"))),
            },
        }
    }
}

/// An early-stopping rule.
pub trait Pruner: Send {
    /// Called each time trial `trial` reports a new value (its curve now ends
    /// with it). `all` holds every trial of the sweep created so far, in the
    /// order they were created (including `trial` itself, running, finished,
    /// pruned). Returns `Some(decision)` to stop it now.
    ///
    /// The reporting trial is judged whatever its `state` says. A stateful rule
    /// (ASHA) gives the same decisions when a fresh one is fed the same
    /// sequence of reports again.
    fn on_report(&mut self, trial: &TrialId, all: &[Curve<'_>]) -> Option<StopDecision>;

    /// On resume: a report the journal holds, fed again in the journal's
    /// order so that a stateful rule (ASHA's rungs) knows what it knew before
    /// the crash. `position` is the trial's place in creation order and
    /// `values` its curve as it was then. Returns the decision made then
    /// (normally journaled already). Rules that keep no state need not
    /// answer: their decisions come from the curves alone.
    fn replay(&mut self, _trial: &TrialId, _position: usize, _values: &[f64]) -> Option<StopDecision> {
        None
    }
}

/// Builds the configured pruner.
pub fn build(cfg: &EarlyTerminate, goal: Goal) -> Box<dyn Pruner> {
    match *cfg {
        EarlyTerminate::Hyperband {
            min_iter,
            max_iter,
            s,
            eta,
            strict,
        } => Box::new(Hyperband::new(bands(min_iter, max_iter, s, eta), eta, strict, goal)),
        EarlyTerminate::Asha {
            grace_period,
            reduction_factor,
            max_t,
            brackets,
        } => Box::new(Asha::new(grace_period, reduction_factor, max_t, brackets, goal)),
        EarlyTerminate::Median {
            n_startup_trials,
            n_warmup_steps,
            interval_steps,
        } => Box::new(Median::new(n_startup_trials, n_warmup_steps, interval_steps, goal)),
    }
}

/// The reporting trial's position in `all`, and its curve.
fn find<'c, 'a>(trial: &TrialId, all: &'c [Curve<'a>]) -> Option<(usize, &'c Curve<'a>)> {
    all.iter().enumerate().find(|(_, c)| c.trial == trial)
}

/// An epoch count as the decision stores it.
fn epoch_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// numpy's `nanpercentile(values, percentile)` with its default (linear)
/// interpolation; `None` where numpy gives NaN (no value but NaNs).
///
/// As numpy: NaNs are dropped, the rest sorted, the virtual index is
/// `(n - 1) * q` with `q = percentile / 100`, and the two neighbours are
/// interpolated from the upper one when the fraction is 0.5 or more
/// (`numpy/lib/_function_base_impl.py`, `_quantile` and `_lerp`).
pub(crate) fn nan_percentile(values: &[f64], percentile: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let virtual_index = (n - 1) as f64 * (percentile / 100.0);
    if virtual_index >= (n - 1) as f64 {
        return Some(v[n - 1]);
    }
    if virtual_index < 0.0 {
        return Some(v[0]);
    }
    let prev = virtual_index.floor();
    let gamma = virtual_index - prev;
    let (a, b) = (v[prev as usize], v[prev as usize + 1]);
    let diff = b - a;
    Some(if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    })
}

#[cfg(test)]
pub(crate) mod sim {
    //! A small sweep for the rules' tests: trials report values in a given
    //! order, a stopped trial reports no more, and a trial that reports its
    //! last epoch completes.

    use super::{Curve, CurveState, Pruner, StopDecision};
    use sweep_core::TrialId;

    /// Trials `t0`, `t1`, ... and their curves so far.
    pub struct Sweep {
        pub ids: Vec<TrialId>,
        pub values: Vec<Vec<f64>>,
        pub states: Vec<CurveState>,
        /// How many epochs each trial trains, when it completes at all.
        pub epochs: Vec<Option<usize>>,
    }

    impl Sweep {
        /// `n` trials, running, with nothing reported yet.
        pub fn new(n: usize) -> Sweep {
            Sweep {
                ids: (0..n).map(|i| TrialId::from_string(format!("t{i}"))).collect(),
                values: vec![Vec::new(); n],
                states: vec![CurveState::Running; n],
                epochs: vec![None; n],
            }
        }

        /// A sweep whose trials have these curves and states already.
        pub fn with(curves: &[(&[f64], CurveState)]) -> Sweep {
            let mut s = Sweep::new(curves.len());
            for (i, (values, state)) in curves.iter().enumerate() {
                s.values[i] = values.to_vec();
                s.states[i] = *state;
            }
            s
        }

        pub fn curves(&self) -> Vec<Curve<'_>> {
            (0..self.ids.len())
                .map(|i| Curve {
                    trial: &self.ids[i],
                    values: &self.values[i],
                    state: self.states[i],
                })
                .collect()
        }

        /// Asks the pruner about trial `i` as its curve stands.
        pub fn judge(&self, p: &mut dyn Pruner, i: usize) -> Option<StopDecision> {
            p.on_report(&self.ids[i], &self.curves())
        }

        /// Trial `i` reports `v`; a stop marks it pruned.
        pub fn report(&mut self, p: &mut dyn Pruner, i: usize, v: f64) -> Option<StopDecision> {
            assert_eq!(self.states[i], CurveState::Running, "t{i} reports but is not running");
            self.values[i].push(v);
            let d = self.judge(p, i);
            if d.is_some() {
                self.states[i] = CurveState::Pruned;
            } else if self.epochs[i] == Some(self.values[i].len()) {
                self.states[i] = CurveState::Completed;
            }
            d
        }

        /// Feeds `(trial, value)` reports in order, skipping stopped trials;
        /// returns every decision with its trial.
        pub fn run(&mut self, p: &mut dyn Pruner, reports: &[(usize, f64)]) -> Vec<(usize, StopDecision)> {
            let mut out = Vec::new();
            for &(i, v) in reports {
                if self.states[i] != CurveState::Running {
                    continue;
                }
                if let Some(d) = self.report(p, i, v) {
                    out.push((i, d));
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sim::Sweep;
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn percentiles_match_numpy() {
        // np.nanpercentile([0.4, 0.5, 0.6, 0.7], 75) == 0.625: index 3 * 0.75 = 2.25.
        assert!(close(nan_percentile(&[0.7, 0.4, 0.6, 0.5], 75.0).unwrap(), 0.625));
        // np.nanpercentile([1, 2, 3, 4], 50) == 2.5; NaNs are dropped.
        assert_eq!(nan_percentile(&[4.0, f64::NAN, 1.0, 3.0, 2.0], 50.0), Some(2.5));
        // Index 4 * 0.75 = 3 exactly: the fourth value.
        assert_eq!(nan_percentile(&[5.0, 1.0, 4.0, 2.0, 3.0], 75.0), Some(4.0));
        assert_eq!(nan_percentile(&[7.0], 66.0), Some(7.0));
        assert_eq!(nan_percentile(&[f64::NAN], 50.0), None);
        assert_eq!(nan_percentile(&[], 50.0), None);
        // (1 - 1/3) * 100: index 2 * 0.6667 = 1.3333 between 20 and 30.
        let p = nan_percentile(&[10.0, 20.0, 30.0], (1.0 - 1.0 / 3.0) * 100.0).unwrap();
        assert!((p - 23.333_333_333_333_33).abs() < 1e-9, "{p}");
    }

    #[test]
    fn decisions_explain_themselves() {
        let d = StopDecision {
            rule: "asha".into(),
            epoch: 3,
            rung: 3,
            value: 0.912,
            threshold: 0.941,
            compared: 9,
            kind: StopKind::Value,
        };
        assert_eq!(
            d.explain("val_accuracy", Goal::Maximize),
            "stopped at epoch 3: val_accuracy 0.912 below the ASHA rung-3 cut 0.941 (9 trials at that rung)"
        );
        let d = StopDecision {
            rule: "hyperband".into(),
            epoch: 5,
            rung: 3,
            value: 0.41,
            threshold: 0.383_21,
            compared: 1,
            ..d
        };
        assert_eq!(
            d.explain("val_loss", Goal::Minimize),
            "stopped at epoch 5: val_loss at epoch 3 0.41 above the hyperband band-3 cut 0.3832 (1 trial at that band)"
        );
        let best = StopDecision {
            kind: StopKind::BestSoFar,
            ..d.clone()
        };
        assert_eq!(
            best.explain("val_loss", Goal::Minimize),
            "stopped at epoch 5: best val_loss so far 0.41 above the hyperband band-3 cut 0.3832 (1 trial at that band)"
        );
        // Four digits would show the same number twice: every digit instead.
        let tight = StopDecision {
            value: 0.941_21,
            threshold: 0.941_24,
            ..d.clone()
        };
        assert!(
            tight
                .explain("val_loss", Goal::Minimize)
                .contains("0.94121 above the hyperband band-3 cut 0.94124")
        );
        let nan = StopDecision {
            value: f64::NAN,
            ..d.clone()
        };
        assert_eq!(
            nan.explain("val_loss", Goal::Minimize),
            "stopped at epoch 5: val_loss at epoch 3 is NaN, which counts as worst (against the hyperband band-3 cut 0.3832 (1 trial at that band))"
        );
        let max_t = StopDecision {
            rule: "asha".into(),
            epoch: 16,
            rung: 16,
            value: 0.5,
            threshold: 16.0,
            compared: 0,
            kind: StopKind::MaxT,
        };
        assert_eq!(
            max_t.explain("val_loss", Goal::Minimize),
            "stopped at epoch 16: reached ASHA's max_t (16 epochs)"
        );
    }

    #[test]
    fn decisions_round_trip_through_json_even_with_nan() {
        for value in [0.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let d = StopDecision {
                rule: "median".into(),
                epoch: 2,
                rung: 2,
                value,
                threshold: f64::NAN,
                compared: 4,
                kind: StopKind::BestSoFar,
            };
            let json = serde_json::to_string(&d).unwrap();
            let back: StopDecision = serde_json::from_str(&json).unwrap();
            assert_eq!(back.value.to_bits(), d.value.to_bits(), "{json}");
            assert!(back.threshold.is_nan());
            assert_eq!((back.kind, back.compared), (StopKind::BestSoFar, 4));
        }
        // An older line without `kind`, and a NaN written as null.
        let back: StopDecision =
            serde_json::from_str(r#"{"rule":"asha","epoch":4,"rung":4,"value":null,"threshold":0.5,"compared":4}"#)
                .unwrap();
        assert!(back.value.is_nan());
        assert_eq!(back.kind, StopKind::Value);
    }

    /// A sweep of eight trials reporting in an interleaved order: what the
    /// dispatcher replays on resume. A fresh pruner fed the same reports must
    /// stop the same trials at the same epochs, for the same reasons.
    #[test]
    fn replaying_the_same_reports_gives_the_same_decisions() {
        // Trial t trains 4 + 2t epochs and improves at its own rate; t5 turns
        // NaN at epoch 4. Every third round the trials report in reverse order.
        let epochs = |t: usize| 4 + 2 * t;
        let mut reports = Vec::new();
        for epoch in 0..epochs(7) {
            let mut order: Vec<usize> = (0..8).filter(|&t| epoch < epochs(t)).collect();
            if epoch % 3 == 0 {
                order.reverse();
            }
            for t in order {
                let v = if t == 5 && epoch >= 3 {
                    f64::NAN
                } else {
                    1.0 - 1.0 / (2.0 + epoch as f64 * (0.2 + 0.1 * ((t * 5) % 8) as f64))
                };
                reports.push((t, v));
            }
        }
        let sweep = || {
            let mut s = Sweep::new(8);
            s.epochs = (0..8).map(|t| Some(epochs(t))).collect();
            s
        };
        let configs = [
            EarlyTerminate::Hyperband {
                min_iter: Some(1),
                max_iter: None,
                s: None,
                eta: 2.0,
                strict: true,
            },
            EarlyTerminate::Asha {
                grace_period: 1,
                reduction_factor: 2.0,
                max_t: 12,
                brackets: 2,
            },
            EarlyTerminate::Median {
                n_startup_trials: 0,
                n_warmup_steps: 2,
                interval_steps: 1,
            },
        ];
        for cfg in configs {
            let first = sweep().run(build(&cfg, Goal::Maximize).as_mut(), &reports);
            let again = sweep().run(build(&cfg, Goal::Maximize).as_mut(), &reports);
            assert!(!first.is_empty(), "{cfg:?} stopped nothing: a weak test");
            let bits = |d: &[(usize, StopDecision)]| -> Vec<_> {
                d.iter()
                    .map(|(t, d)| {
                        (
                            *t,
                            d.epoch,
                            d.rung,
                            d.value.to_bits(),
                            d.threshold.to_bits(),
                            d.compared,
                            d.kind,
                        )
                    })
                    .collect()
            };
            assert_eq!(bits(&first), bits(&again), "{cfg:?}");
        }
    }
}
