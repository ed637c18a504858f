//! Ray Tune's ASHA, stop-based (`early_terminate: {type: asha}`).
//!
//! Follows `AsyncHyperBandScheduler` (alias `ASHAScheduler`) and `_Bracket` in
//! ray-project/ray `python/ray/tune/schedulers/async_hyperband.py`, with Ray's
//! defaults (`max_t` 100, `grace_period` 1, `reduction_factor` 4, `brackets` 1,
//! `stop_last_trials` true) and `time_attr` = the epoch count:
//!
//! - bracket `s` (0, 1, ...) has `int(log(max_t / grace) / log(rf) - s + 1)`
//!   rungs at `grace * rf^(k + s)`, searched from the highest down;
//! - on a result at time `t >= max_t` the trial is stopped (`stop_last_trials`);
//! - otherwise its bracket's highest rung with `milestone <= t` that has no
//!   value of this trial yet is judged: the cutoff is
//!   `np.nanpercentile(recorded values, (1 - 1/rf) * 100)` of the values
//!   recorded there *before* this one (so the trial's own value is not in it),
//!   the trial is stopped when its value is below the cutoff (values are
//!   negated when minimizing, so the cut is the `1/rf` quantile of the raw
//!   values), and its value is then recorded there, stopped or not;
//! - a trial's results are recorded even after it is stopped elsewhere, and a
//!   finished or failed trial's values stay in the rungs.
//!
//! Where this differs from Ray:
//!
//! - no cut is made while fewer than `reduction_factor` values (NaNs not
//!   counted) are recorded at the rung before the trial's own; Ray cuts from
//!   the first recorded value (`cutoff` is `None` only when nothing is
//!   recorded), which with 1 or 2 values stops most of the early trials;
//! - a NaN value counts as worst: it is stopped wherever a cut is made (in Ray
//!   `nan < cutoff` is false and a NaN trial is never stopped). It is recorded,
//!   and left out of later cutoffs, as `nanpercentile` does;
//! - Ray places a trial in a bracket at random (`np.random.choice` with softmax
//!   weights `e^(rungs - max rungs)`); here the same weights are used with a
//!   deterministic draw from the trial's position in the sweep
//!   (`frac(i * 0.618...)`, a golden-ratio sequence), so that replaying the
//!   reports rebuilds the same brackets.
//!
//! The rung in a [`StopDecision`] is the epoch at which the rung is reached,
//! `ceil(milestone)` (milestones are fractional when `reduction_factor` is).

use super::{Curve, Pruner, StopDecision, StopKind, epoch_u32, find, nan_percentile};
use std::collections::HashMap;
use sweep_core::{Goal, TrialId};

/// One rung: a milestone (in epochs) and the values recorded there, by trial.
#[derive(Debug, Clone)]
struct Rung {
    milestone: f64,
    recorded: HashMap<TrialId, f64>,
}

/// Ray Tune's asynchronous successive halving, stop-based. Keeps the values
/// recorded at each rung: build a fresh one and replay the reports to resume.
#[derive(Debug, Clone)]
pub struct Asha {
    goal: Goal,
    rf: f64,
    max_t: u32,
    /// Each bracket's rungs, highest milestone first (as Ray keeps them).
    brackets: Vec<Vec<Rung>>,
    /// The bracket of each trial seen so far.
    bracket_of: HashMap<TrialId, usize>,
}

/// 1 / golden ratio: the step of the sequence that places trials in brackets.
const INV_GOLDEN: f64 = 0.618_033_988_749_894_9;

impl Asha {
    /// A rule with Ray's parameters: `grace_period` >= 1, `reduction_factor` > 1,
    /// `max_t` >= `grace_period`, `brackets` >= 1.
    pub fn new(grace_period: u32, reduction_factor: f64, max_t: u32, brackets: u32, goal: Goal) -> Asha {
        let (min_t, rf) = (f64::from(grace_period.max(1)), reduction_factor);
        let brackets = (0..brackets.max(1))
            .map(|s| {
                let s = f64::from(s);
                // Ray: MAX_RUNGS = int(np.log(max_t / min_t) / np.log(rf) - s + 1)
                let count = ((f64::from(max_t) / min_t).ln() / rf.ln() - s + 1.0).trunc();
                let count = if count > 0.0 { count as u32 } else { 0 };
                (0..count)
                    .rev()
                    .map(|k| Rung {
                        milestone: min_t * rf.powf(f64::from(k) + s),
                        recorded: HashMap::new(),
                    })
                    .collect()
            })
            .collect();
        Asha {
            goal,
            rf,
            max_t,
            brackets,
            bracket_of: HashMap::new(),
        }
    }

    /// Each bracket's rung milestones, highest first.
    pub fn milestones(&self) -> Vec<Vec<f64>> {
        self.brackets
            .iter()
            .map(|b| b.iter().map(|r| r.milestone).collect())
            .collect()
    }

    /// The bracket for the trial at `position` in the sweep: Ray's softmax
    /// weights over the brackets' rung counts, drawn deterministically.
    fn bracket_for(&self, position: usize) -> usize {
        let sizes: Vec<f64> = self.brackets.iter().map(|b| b.len() as f64).collect();
        let max = sizes.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = sizes.iter().map(|s| (s - max).exp()).collect();
        let total: f64 = weights.iter().sum();
        let u = (position as f64 * INV_GOLDEN).fract();
        let mut cumulative = 0.0;
        for (i, w) in weights.iter().enumerate() {
            cumulative += w / total;
            if u < cumulative {
                return i;
            }
        }
        weights.len() - 1
    }

    /// Ray's `_Bracket.cutoff`: the `(1 - 1/rf)` percentile of the recorded
    /// values, or `None` while fewer than `rf` are there (Ray: while none).
    fn cutoff(&self, recorded: &HashMap<TrialId, f64>) -> Option<(f64, usize)> {
        let values: Vec<f64> = recorded.values().copied().collect();
        let count = values.iter().filter(|v| !v.is_nan()).count();
        if (count as f64) < self.rf {
            return None;
        }
        nan_percentile(&values, (1.0 - 1.0 / self.rf) * 100.0).map(|c| (c, count))
    }
}

impl Pruner for Asha {
    fn on_report(&mut self, trial: &TrialId, all: &[Curve<'_>]) -> Option<StopDecision> {
        let (position, me) = find(trial, all)?;
        self.judge(trial, position, me.values)
    }

    fn replay(&mut self, trial: &TrialId, position: usize, values: &[f64]) -> Option<StopDecision> {
        self.judge(trial, position, values)
    }
}

impl Asha {
    /// Judges trial `trial` (at `position` in creation order) on the last of
    /// its `values`, recording that value at the rung judged.
    fn judge(&mut self, trial: &TrialId, position: usize, values: &[f64]) -> Option<StopDecision> {
        let &raw = values.last()?;
        let t = values.len();
        if t as u64 >= u64::from(self.max_t) {
            // Ray's stop_last_trials: the budget is spent; nothing recorded.
            return Some(StopDecision {
                rule: "asha".into(),
                epoch: epoch_u32(t),
                rung: self.max_t,
                value: raw,
                threshold: f64::from(self.max_t),
                compared: 0,
                kind: StopKind::MaxT,
            });
        }
        let bracket = match self.bracket_of.get(trial) {
            Some(&b) => b,
            None => {
                let b = self.bracket_for(position);
                self.bracket_of.insert(trial.clone(), b);
                b
            }
        };
        // Ray maximizes: `metric_op * value`, metric_op -1 when minimizing.
        let op = match self.goal {
            Goal::Maximize => 1.0,
            Goal::Minimize => -1.0,
        };
        let reward = op * raw;
        let rung = self.brackets[bracket]
            .iter()
            .position(|r| t as f64 >= r.milestone && !r.recorded.contains_key(trial))?;
        let cut = self.cutoff(&self.brackets[bracket][rung].recorded);
        let r = &mut self.brackets[bracket][rung];
        r.recorded.insert(trial.clone(), reward);
        let (cutoff, count) = cut?;
        // NaN counts as worst; a NaN cut (from infinities) cuts nothing, as in Ray.
        let behind = reward.is_nan() || reward < cutoff;
        (behind && !cutoff.is_nan()).then(|| StopDecision {
            rule: "asha".into(),
            epoch: epoch_u32(t),
            rung: r.milestone.ceil() as u32,
            value: raw,
            threshold: op * cutoff,
            compared: count,
            kind: StopKind::Value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pruner::sim::Sweep;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn rungs_as_ray_builds_them() {
        // grace 1, rf 4, max_t 16: log(16)/log(4) + 1 = 3 rungs: 16, 4, 1.
        assert_eq!(
            Asha::new(1, 4.0, 16, 1, Goal::Maximize).milestones(),
            [vec![16.0, 4.0, 1.0]]
        );
        // Ray's defaults (max_t 100): log(100)/log(4) = 3.32 -> 4 rungs.
        assert_eq!(
            Asha::new(1, 4.0, 100, 1, Goal::Maximize).milestones(),
            [vec![64.0, 16.0, 4.0, 1.0]]
        );
        // Two brackets, rf 2, max_t 8: bracket 0 at 8 4 2 1, bracket 1 at 8 4 2.
        assert_eq!(
            Asha::new(1, 2.0, 8, 2, Goal::Maximize).milestones(),
            [vec![8.0, 4.0, 2.0, 1.0], vec![8.0, 4.0, 2.0]]
        );
        // A fractional factor: grace 2, rf 2.5, max_t 20: log(10)/log(2.5) = 2.51 -> 3 rungs.
        assert_eq!(
            Asha::new(2, 2.5, 20, 1, Goal::Maximize).milestones(),
            [vec![12.5, 5.0, 2.0]]
        );
    }

    #[test]
    fn brackets_follow_rays_weights_deterministically() {
        // Rung counts 4 and 3: weights 1 and e^-1, i.e. 0.731 and 0.269.
        // Position i draws frac(0.618 i): 0, .618, .236, .854, .472, .090,
        // .708, .326, .944: brackets 0 0 0 1 0 0 0 0 1.
        let asha = Asha::new(1, 2.0, 8, 2, Goal::Maximize);
        let got: Vec<usize> = (0..9).map(|i| asha.bracket_for(i)).collect();
        assert_eq!(got, [0, 0, 0, 1, 0, 0, 0, 0, 1]);
        // One bracket: everyone in it.
        let one = Asha::new(1, 4.0, 100, 1, Goal::Maximize);
        assert!((0..50).all(|i| one.bracket_for(i) == 0));
    }

    /// rf 4, grace 1, max_t 16 (rungs 1, 4, 16), maximizing val_accuracy.
    /// Six trials report epoch 1 in turn: .50 .60 .40 .70 .45 .65.
    /// - t0..t3 find 0, 1, 2, 3 values at rung 1: fewer than rf = 4, no cut
    ///   (Ray would already stop t2: the 75th percentile of {.50, .60} is .575).
    /// - t4 finds {.50 .60 .40 .70}: sorted .40 .50 .60 .70, index 3 * .75 =
    ///   2.25, cut .60 + .25 * (.70 - .60) = .625; .45 is below: stop.
    /// - t5 finds five values, .40 .45 .50 .60 .70: index 4 * .75 = 3, cut .60;
    ///   .65 goes on.
    #[test]
    fn six_trials_at_the_first_rung_maximizing() {
        let mut s = Sweep::new(6);
        let mut asha = Asha::new(1, 4.0, 16, 1, Goal::Maximize);
        for (i, v) in [0.50, 0.60, 0.40, 0.70].into_iter().enumerate() {
            assert_eq!(s.report(&mut asha, i, v), None, "t{i}");
        }
        let d = s.report(&mut asha, 4, 0.45).expect("t4 stops");
        assert_eq!(
            (d.rule.as_str(), d.epoch, d.rung, d.value, d.compared),
            ("asha", 1, 1, 0.45, 4)
        );
        assert!(close(d.threshold, 0.625), "{}", d.threshold);
        assert_eq!(s.report(&mut asha, 5, 0.65), None);
        // The next rung (4) starts empty: t0's epochs 2..4 pass.
        for v in [0.6, 0.7, 0.8] {
            assert_eq!(s.report(&mut asha, 0, v), None);
        }
    }

    /// The same minimizing val_loss = 1 - accuracy: .50 .40 .60 .30, then .55.
    /// Ray negates: recorded -.50 -.40 -.60 -.30, sorted -.60 -.50 -.40 -.30,
    /// cut at index 2.25: -.40 + .25 * .10 = -.375, i.e. a loss cut of .375;
    /// -.55 < -.375: stop.
    #[test]
    fn minimizing_mirrors_the_quantile() {
        let mut s = Sweep::new(5);
        let mut asha = Asha::new(1, 4.0, 16, 1, Goal::Minimize);
        for (i, v) in [0.50, 0.40, 0.60, 0.30].into_iter().enumerate() {
            assert_eq!(s.report(&mut asha, i, v), None);
        }
        let d = s.report(&mut asha, 4, 0.55).expect("t4 stops");
        assert!(close(d.threshold, 0.375), "{}", d.threshold);
        assert_eq!(
            d.explain("val_loss", Goal::Minimize),
            "stopped at epoch 1: val_loss 0.55 above the ASHA rung-1 cut 0.375 (4 trials at that rung)"
        );
    }

    #[test]
    fn nan_counts_as_worst_and_is_left_out_of_cuts() {
        let mut s = Sweep::new(7);
        let mut asha = Asha::new(1, 2.0, 16, 1, Goal::Maximize);
        // t0 NaN: nothing recorded yet, no cut; recorded as NaN.
        assert_eq!(s.report(&mut asha, 0, f64::NAN), None);
        // t1 finds one value, and it is NaN: still fewer than 2, no cut.
        assert_eq!(s.report(&mut asha, 1, 0.5), None);
        assert_eq!(s.report(&mut asha, 2, 0.7), None);
        // t3 finds {NaN, .5, .7}: 2 values count; 50th percentile .6; NaN is worst.
        let d = s.report(&mut asha, 3, f64::NAN).expect("NaN stops");
        assert!(d.value.is_nan());
        assert!(close(d.threshold, 0.6));
        assert_eq!(d.compared, 2);
    }

    #[test]
    fn a_trial_reaching_max_t_is_stopped() {
        let mut s = Sweep::new(1);
        let mut asha = Asha::new(1, 4.0, 3, 1, Goal::Maximize);
        assert_eq!(s.report(&mut asha, 0, 0.1), None);
        assert_eq!(s.report(&mut asha, 0, 0.2), None);
        let d = s.report(&mut asha, 0, 0.3).expect("max_t stops");
        assert_eq!(
            (d.epoch, d.rung, d.value, d.threshold, d.kind),
            (3, 3, 0.3, 3.0, StopKind::MaxT)
        );
    }

    /// A trial in bracket 1 (first rung at 2 epochs) is not judged at epoch 1.
    #[test]
    fn a_later_bracket_starts_later() {
        let mut s = Sweep::new(4);
        let mut asha = Asha::new(1, 2.0, 8, 2, Goal::Maximize);
        // Positions 0..2 are in bracket 0, position 3 in bracket 1.
        assert_eq!(s.report(&mut asha, 0, 0.9), None);
        assert_eq!(s.report(&mut asha, 1, 0.8), None);
        assert!(s.report(&mut asha, 2, 0.1).is_some(), "bracket 0 cuts at rung 1");
        assert_eq!(s.report(&mut asha, 3, 0.0), None, "bracket 1 has no rung at 1");
    }
}
