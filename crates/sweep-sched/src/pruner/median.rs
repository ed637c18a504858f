//! Optuna's median stopping rule (`early_terminate: {type: median}`).
//!
//! Follows `MedianPruner` (optuna/optuna `optuna/pruners/_median.py`: a
//! `PercentilePruner` at 50 with `n_min_trials` 1) and `PercentilePruner.prune`
//! in `optuna/pruners/_percentile.py`, with the step = the epoch (1, 2, ...):
//!
//! - no pruning while no trial is complete, or fewer than `n_startup_trials`
//!   are (pruned, failed and running trials do not count);
//! - none while `step < n_warmup_steps`;
//! - none unless the step is the first one reported in its interval
//!   (`_is_first_in_interval_step`: the nearest pruning step at or below it,
//!   `(step - warmup) // interval * interval + warmup`, is above every other
//!   step reported);
//! - the trial's best value so far (`nanmax`/`nanmin`: NaNs skipped) is NaN,
//!   i.e. every value is NaN: pruned;
//! - the threshold: `np.nanpercentile` at 50 of the completed trials' values at
//!   this step (those that reached it); none of them reached it, or all theirs
//!   are NaN: no pruning;
//! - pruned when the best so far is strictly worse than that median.
//!
//! Where this differs from Optuna: Optuna's steps usually start at 0, and its
//! `n_warmup_steps: w` then holds pruning back for `w` reports; here steps are
//! epochs from 1, so pruning can start at epoch `w` (after `w - 1` reports of
//! warm-up). With the default `n_warmup_steps: 0` every epoch is judged, the
//! first included. The percentile, the startup and interval rules and the NaN
//! handling are Optuna's.

use super::{Curve, CurveState, Pruner, StopDecision, StopKind, epoch_u32, find, nan_percentile};
use sweep_core::{Goal, TrialId};

/// Optuna's median stopping rule. Stateless: each report is judged from the curves alone.
#[derive(Debug, Clone)]
pub struct Median {
    n_startup_trials: u32,
    n_warmup_steps: u32,
    interval_steps: u32,
    goal: Goal,
}

impl Median {
    /// A rule with Optuna's parameters; `interval_steps` >= 1.
    pub fn new(n_startup_trials: u32, n_warmup_steps: u32, interval_steps: u32, goal: Goal) -> Median {
        Median {
            n_startup_trials,
            n_warmup_steps,
            interval_steps: interval_steps.max(1),
            goal,
        }
    }

    /// Optuna's `_is_first_in_interval_step` for a trial that reported every
    /// step `1..=step`: the other step reported last is `step - 1` (none at 1).
    fn first_in_interval(&self, step: u64) -> bool {
        let (warmup, interval) = (u64::from(self.n_warmup_steps), u64::from(self.interval_steps));
        if step < warmup {
            return false;
        }
        let nearest_lower = (step - warmup) / interval * interval + warmup;
        step == 1 || step - 1 < nearest_lower
    }
}

impl Pruner for Median {
    fn on_report(&mut self, trial: &TrialId, all: &[Curve<'_>]) -> Option<StopDecision> {
        let (_, me) = find(trial, all)?;
        let step = me.values.len() as u64;
        let completed: Vec<&Curve> = all.iter().filter(|c| c.state == CurveState::Completed).collect();
        if step == 0 || completed.is_empty() || completed.len() < self.n_startup_trials as usize {
            return None;
        }
        if step < u64::from(self.n_warmup_steps) || !self.first_in_interval(step) {
            return None;
        }
        let at = me.values.len() - 1;
        let at_step: Vec<f64> = completed
            .iter()
            .filter(|c| c.values.len() > at)
            .map(|c| c.values[at])
            .collect();
        let median = nan_percentile(&at_step, 50.0);
        let compared = at_step.iter().filter(|v| !v.is_nan()).count();
        let best = best_so_far(me.values, self.goal);
        let decision = |threshold: f64| StopDecision {
            rule: "median".into(),
            epoch: epoch_u32(me.values.len()),
            rung: epoch_u32(me.values.len()),
            value: best,
            threshold,
            compared,
            kind: StopKind::BestSoFar,
        };
        if best.is_nan() {
            // Optuna prunes a trial whose values are all NaN before it looks at others.
            return Some(decision(median.unwrap_or(f64::NAN)));
        }
        let median = median?;
        let behind = match self.goal {
            Goal::Maximize => best < median,
            Goal::Minimize => best > median,
        };
        behind.then(|| decision(median))
    }
}

/// numpy's `nanmax` (maximizing) or `nanmin` of a curve: NaN only when every value is.
fn best_so_far(values: &[f64], goal: Goal) -> f64 {
    values
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .reduce(|a, b| if goal.better(b, a) { b } else { a })
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pruner::CurveState::{Completed, Other, Pruned, Running};
    use crate::pruner::sim::Sweep;

    /// Five completed trials (val_accuracy, maximizing):
    ///   c0 .50 .60 .70 | c1 .40 .55 .65 | c2 .45 .50 .60 | c3 .55 .65 .75 | c4 .35 .45 .50
    /// Medians: epoch 1 of {.50 .40 .45 .55 .35} = .45; epoch 2 of
    /// {.60 .55 .50 .65 .45} = .55; epoch 3 of {.70 .65 .60 .75 .50} = .65.
    const DONE: [&[f64]; 5] = [
        &[0.50, 0.60, 0.70],
        &[0.40, 0.55, 0.65],
        &[0.45, 0.50, 0.60],
        &[0.55, 0.65, 0.75],
        &[0.35, 0.45, 0.50],
    ];

    /// The five completed trials and `running` more, in that order.
    fn sweep(running: usize) -> Sweep {
        let mut curves: Vec<(&[f64], CurveState)> = DONE.iter().map(|c| (*c, Completed)).collect();
        curves.extend(std::iter::repeat_n((&[][..], Running), running));
        Sweep::with(&curves)
    }

    #[test]
    fn best_so_far_against_the_median_of_completed_trials() {
        let mut s = sweep(3);
        let mut m = Median::new(5, 0, 1, Goal::Maximize);
        // t5: .44 < .45 at epoch 1: stop.
        let d = s.report(&mut m, 5, 0.44).expect("t5 stops");
        assert_eq!(
            (d.epoch, d.rung, d.value, d.threshold, d.compared),
            (1, 1, 0.44, 0.45, 5)
        );
        // t6: .46 passes epoch 1; at epoch 2 its best is .50 < .55: stop.
        assert_eq!(s.report(&mut m, 6, 0.46), None);
        let d = s.report(&mut m, 6, 0.50).expect("t6 stops");
        assert_eq!((d.epoch, d.value, d.threshold), (2, 0.50, 0.55));
        assert_eq!(
            d.explain("val_accuracy", Goal::Maximize),
            "stopped at epoch 2: best val_accuracy so far 0.5 below the median 0.55 of 5 completed trials at epoch 2"
        );
        // t7: .60, .40, .30: its best, .60, passes .45 and .55 but not .65.
        assert_eq!(s.report(&mut m, 7, 0.60), None);
        assert_eq!(s.report(&mut m, 7, 0.40), None);
        let d = s.report(&mut m, 7, 0.30).expect("t7 stops at epoch 3");
        assert_eq!((d.epoch, d.value, d.threshold), (3, 0.60, 0.65));
    }

    #[test]
    fn minimizing() {
        // Losses 1 - accuracy: medians .55, .45, .35; best = the smallest.
        let losses: Vec<Vec<f64>> = DONE.iter().map(|c| c.iter().map(|a| 1.0 - a).collect()).collect();
        let mut curves: Vec<(&[f64], CurveState)> = losses.iter().map(|c| (&c[..], Completed)).collect();
        curves.push((&[], Running));
        let mut s = Sweep::with(&curves);
        let mut m = Median::new(5, 0, 1, Goal::Minimize);
        assert_eq!(s.report(&mut m, 5, 0.50), None); // .50 < .55
        let d = s.report(&mut m, 5, 0.47).expect(".47 > .45 at epoch 2");
        assert_eq!(d.value, 0.47);
        assert!((d.threshold - 0.45).abs() < 1e-12);
    }

    #[test]
    fn no_pruning_before_n_startup_trials_complete() {
        // Four completed, one pruned, one failed: not five completed.
        let mut curves: Vec<(&[f64], CurveState)> = DONE[..4].iter().map(|c| (*c, Completed)).collect();
        curves.push((DONE[4], Pruned));
        curves.push((&[0.1], Other));
        curves.push((&[], Running));
        let mut s = Sweep::with(&curves);
        let mut m = Median::new(5, 0, 1, Goal::Maximize);
        assert_eq!(s.report(&mut m, 6, 0.01), None);
        // With n_startup_trials 4 the four are enough: median of {.50 .40 .45 .55} = .475.
        let mut m = Median::new(4, 0, 1, Goal::Maximize);
        let d = s.judge(&mut m, 6).expect("stops");
        assert!((d.threshold - 0.475).abs() < 1e-12);
        assert_eq!(d.compared, 4);
        // n_startup_trials 0 still needs one completed trial (Optuna).
        let mut none = Sweep::with(&[(&[0.9], Running), (&[0.1], Running)]);
        assert_eq!(none.report(&mut Median::new(0, 0, 1, Goal::Maximize), 1, 0.05), None);
    }

    #[test]
    fn warmup_and_interval() {
        // Warm-up 2: epoch 1 is not judged, epoch 2 is (best .44 < .55).
        let mut s = sweep(1);
        let mut m = Median::new(5, 2, 1, Goal::Maximize);
        assert_eq!(s.report(&mut m, 5, 0.44), None);
        let d = s.report(&mut m, 5, 0.10).expect("judged at epoch 2");
        assert_eq!((d.epoch, d.value, d.threshold), (2, 0.44, 0.55));
        // Warm-up 1, interval 3: nearest pruning step (e - 1) // 3 * 3 + 1 is
        // 1 for epochs 1..3 and 4 for 4..6: judged at epochs 1, 4, 7, ...
        let m = Median::new(0, 1, 3, Goal::Maximize);
        let judged: Vec<u64> = (1..=10).filter(|&e| m.first_in_interval(e)).collect();
        assert_eq!(judged, [1, 4, 7, 10]);
        // No warm-up, interval 2: 0 // 2 = 0 is before epoch 1, whose check
        // falls to the first report; then 2, 4, ... (Optuna's postponed check).
        let m = Median::new(0, 0, 2, Goal::Maximize);
        let judged: Vec<u64> = (1..=6).filter(|&e| m.first_in_interval(e)).collect();
        assert_eq!(judged, [1, 2, 4, 6]);
        // Off the interval a bad value passes: epoch 2 with interval 3, warm-up 1.
        let mut s = sweep(1);
        let mut m = Median::new(5, 1, 3, Goal::Maximize);
        assert_eq!(s.report(&mut m, 5, 0.46), None);
        assert_eq!(s.report(&mut m, 5, 0.10), None);
    }

    #[test]
    fn nan_values() {
        let mut s = sweep(2);
        let mut m = Median::new(5, 0, 1, Goal::Maximize);
        // A NaN after .60: the best so far is still .60.
        assert_eq!(s.report(&mut m, 5, 0.60), None);
        assert_eq!(s.report(&mut m, 5, f64::NAN), None);
        // Only NaNs: pruned, as Optuna does.
        let d = s.report(&mut m, 6, f64::NAN).expect("all NaN stops");
        assert!(d.value.is_nan());
        assert_eq!(d.threshold, 0.45);
        assert_eq!(
            d.explain("val_accuracy", Goal::Maximize),
            "stopped at epoch 1: every val_accuracy so far is NaN, which counts as worst"
        );
        // Completed trials' NaNs are left out of the median; none reached the
        // step: no pruning.
        let mut s = Sweep::with(&[(&[f64::NAN, 0.9], Completed), (&[0.5, 0.6], Completed), (&[], Running)]);
        let mut m = Median::new(1, 0, 1, Goal::Maximize);
        let d = s.report(&mut m, 2, 0.4).expect("below 0.5");
        assert_eq!((d.threshold, d.compared), (0.5, 1));
        let mut s = Sweep::with(&[(&[0.5], Completed), (&[], Running)]);
        s.values[1] = vec![0.9];
        assert_eq!(
            s.report(&mut Median::new(1, 0, 1, Goal::Maximize), 1, 0.1),
            None,
            "no completed trial reached epoch 2"
        );
    }
}
