//! W&B's hyperband stopping (`early_terminate: {type: hyperband}`).
//!
//! Follows `hyperband_stop_runs` in wandb/sweeps `src/sweeps/hyperband_stopping.py`
//! (the version after "Hyperband now correctly stops more runs", #99):
//!
//! - bands from `max_iter`: `band = max_iter; repeat s times: band /= eta;
//!   stop if band < 1; keep int(band)`, sorted ascending; from `min_iter`:
//!   `int(min_iter * eta^k)` for k = 0, 1, ..., 99;
//! - the threshold at band `b`: `h[b - 1]` of every run (any state, the judged
//!   one included) with at least `b` values, negated when maximizing, sorted;
//!   the element at `int(r * n)` with `r = 1 / eta`; no values: infinity;
//! - a running run is judged at its largest band `<= len(history)`: stopped
//!   when `history[band - 1]` (strict, the default) or `min(history)` (not
//!   strict) is strictly greater than the threshold (in the negated, minimizing
//!   form).
//!
//! Where this differs from W&B:
//!
//! - the threshold index is `int(n / eta)`; W&B computes `int((1 / eta) * n)`.
//!   The two agree for eta 2, 3, 4, ..., 10, 1.5 and 2.5 (checked for n below
//!   10⁶) but not always (eta 1.1, n 33: 30 against 29);
//! - W&B drops values that are not finite numbers from a run's history, which
//!   shifts its later values to earlier iterations; here a value stays at its
//!   epoch, is left out of thresholds, and counts as worst for the judged trial
//!   (at its band when strict; a trial's best so far ignores it unless every
//!   value is one);
//! - from `min_iter` W&B always makes 100 bands; bands past `u32::MAX` epochs
//!   can never be reached, so they are not made;
//! - W&B judges every running run each time it polls; here a trial is judged
//!   when it reports, with the curves of that moment.

use super::{Curve, Pruner, StopDecision, StopKind, epoch_u32, find};
use sweep_core::{Goal, TrialId};

/// W&B's hyperband stopping rule. Stateless: each report is judged from the curves alone.
#[derive(Debug, Clone)]
pub struct Hyperband {
    bands: Vec<u32>,
    eta: f64,
    strict: bool,
    goal: Goal,
}

/// The bands (epoch counts) of W&B's hyperband, ascending: from `max_iter`
/// (which wins, as in W&B, when both are given), `int(max_iter / eta^i)` for
/// i = 1..=s while at least 1; otherwise from `min_iter`, `int(min_iter * eta^k)`
/// for k = 0, 1, ... (W&B stops at 100 bands; here at `u32::MAX`). Empty when
/// neither is given.
pub fn bands(min_iter: Option<u32>, max_iter: Option<u32>, s: Option<u32>, eta: f64) -> Vec<u32> {
    let mut bands = Vec::new();
    if let Some(max_iter) = max_iter {
        let mut band = f64::from(max_iter);
        for _ in 0..s.unwrap_or(0) {
            band /= eta;
            if band < 1.0 {
                break;
            }
            bands.push(band as u32);
        }
        bands.sort_unstable();
    } else if let Some(min_iter) = min_iter {
        let mut band = f64::from(min_iter);
        for _ in 0..100 {
            if band > f64::from(u32::MAX) {
                break;
            }
            bands.push(band as u32);
            band *= eta;
        }
    }
    bands
}

impl Hyperband {
    /// A rule with these bands (see [`bands`]); `eta` > 1.
    pub fn new(bands: Vec<u32>, eta: f64, strict: bool, goal: Goal) -> Hyperband {
        Hyperband {
            bands,
            eta,
            strict,
            goal,
        }
    }

    /// The bands, ascending.
    pub fn bands(&self) -> &[u32] {
        &self.bands
    }
}

impl Pruner for Hyperband {
    fn on_report(&mut self, trial: &TrialId, all: &[Curve<'_>]) -> Option<StopDecision> {
        let (_, me) = find(trial, all)?;
        let len = me.values.len();
        // W&B: the last band with `band <= len(history)` (bands are ascending).
        let band = self
            .bands
            .iter()
            .copied()
            .filter(|&b| b >= 1 && b as usize <= len)
            .max()?;
        let at = band as usize - 1;
        // W&B minimizes: values are negated when maximizing.
        let sign = match self.goal {
            Goal::Minimize => 1.0,
            Goal::Maximize => -1.0,
        };
        let mut at_band: Vec<f64> = all
            .iter()
            .filter(|c| c.values.len() > at)
            .map(|c| c.values[at])
            .filter(|v| v.is_finite())
            .map(|v| sign * v)
            .collect();
        if at_band.is_empty() {
            // W&B's threshold is infinity: nothing is above it.
            return None;
        }
        at_band.sort_by(f64::total_cmp);
        let n = at_band.len();
        // W&B: `sorted(band_values)[int(r * len(band_values))]`, r = 1/eta.
        let threshold = at_band[((n as f64 / self.eta) as usize).min(n - 1)];
        let (value, kind) = if self.strict {
            (me.values[at], StopKind::Value)
        } else {
            (best_so_far(me.values, self.goal), StopKind::BestSoFar)
        };
        let judged = if value.is_finite() { sign * value } else { f64::INFINITY };
        (judged > threshold).then(|| StopDecision {
            rule: "hyperband".into(),
            epoch: epoch_u32(len),
            rung: band,
            value,
            threshold: sign * threshold,
            compared: n,
            kind,
        })
    }
}

/// The best finite value of a curve (W&B's `min(history)` of the valid
/// values); NaN when there is none.
fn best_so_far(values: &[f64], goal: Goal) -> f64 {
    values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .reduce(|a, b| if goal.better(b, a) { b } else { a })
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pruner::CurveState::{Completed, Running};
    use crate::pruner::sim::Sweep;

    fn rule(bands: Vec<u32>, eta: f64, strict: bool, goal: Goal) -> Hyperband {
        Hyperband::new(bands, eta, strict, goal)
    }

    #[test]
    fn bands_from_max_iter_and_s() {
        // W&B's own test: max_iter 81, eta 3, s 3: 81/3 = 27, 9, 3.
        assert_eq!(bands(None, Some(81), Some(3), 3.0), [3, 9, 27]);
        // s beyond what max_iter allows: 27/3 = 9, 3, 1, then 1/3 < 1 stops.
        assert_eq!(bands(None, Some(27), Some(5), 3.0), [1, 3, 9]);
        // W&B's docstring: max_iter 5, eta 2, s 2: 2.5 -> 2, 1.25 -> 1.
        assert_eq!(bands(None, Some(5), Some(2), 2.0), [1, 2]);
        // A fractional eta: 10/2.5 = 4, 1.6 -> 1, 0.64 stops.
        assert_eq!(bands(None, Some(10), Some(3), 2.5), [1, 4]);
        // max_iter wins over min_iter, as in W&B.
        assert_eq!(bands(Some(1), Some(9), Some(1), 3.0), [3]);
        assert_eq!(bands(None, None, None, 3.0), Vec::<u32>::new());
    }

    #[test]
    fn bands_from_min_iter() {
        // W&B's own test: min_iter 3, eta 3 starts 3, 9, 27.
        let b = bands(Some(3), None, None, 3.0);
        assert_eq!(b[..3], [3, 9, 27]);
        // 3^20 = 3486784401 fits in u32, 3^21 does not: 20 bands (W&B: 100).
        assert_eq!(b.len(), 20);
        assert_eq!(*b.last().unwrap(), 3_486_784_401);
        // eta 1.5 from 1: 1, 1.5, 2.25, 3.375, 5.06, 7.59, 11.4 truncate to
        // 1, 1, 2, 3, 5, 7, 11 (W&B keeps the repeated 1 too).
        assert_eq!(bands(Some(1), None, None, 1.5)[..7], [1, 1, 2, 3, 5, 7, 11]);
    }

    /// W&B's `test_hyperband_min_iter_bands`: min_iter 3, eta 3 (bands 3, 9, ...).
    /// run1 = [10, 10, 10, 10], run2 = [10, 9, ..., 1], both running, minimizing.
    /// Band 3 for run1 (4 values): values[2] of both = {10, 8}, sorted, index
    /// int(2/3) = 0: threshold 8; 10 > 8: stop. run2 (10 values) is at band 9:
    /// only its own 2 reached it, threshold 2, and 2 > 2 is false.
    #[test]
    fn wandb_min_iter_example() {
        let run1 = [10.0; 4];
        let run2: Vec<f64> = (0..10).map(|i| 10.0 - f64::from(i)).collect();
        let s = Sweep::with(&[(&run1, Running), (&run2, Running)]);
        let mut hb = rule(bands(Some(3), None, None, 3.0), 3.0, true, Goal::Minimize);
        let d = s.judge(&mut hb, 0).expect("run1 stops");
        assert_eq!(
            (d.epoch, d.rung, d.value, d.threshold, d.compared),
            (4, 3, 10.0, 8.0, 2)
        );
        assert_eq!(s.judge(&mut hb, 1), None);
        // The same maximizing (W&B's test_hyperband_min_iter_bands_max).
        let run1 = [10.0; 4];
        let run2: Vec<f64> = (0..10).map(|i| 10.0 + f64::from(i)).collect();
        let s = Sweep::with(&[(&run1, Running), (&run2, Running)]);
        let mut hb = rule(bands(Some(3), None, None, 3.0), 3.0, true, Goal::Maximize);
        let d = s.judge(&mut hb, 0).expect("run1 stops");
        assert_eq!((d.rung, d.value, d.threshold), (3, 10.0, 12.0));
        assert_eq!(s.judge(&mut hb, 1), None);
    }

    /// W&B's docstring: max_iter 5, eta 2, s 2 (bands 1, 2), minimizing loss.
    /// a (finished) 10, 9; b 10, 10; c 10, 8, 8; d 10, 7, 7; e (finished) 10, 6, 6.
    /// Band 2: values[1] = {9, 10, 8, 7, 6} sorted 6 7 8 9 10, index int(5/2)
    /// = 2: threshold 8. b: 10 > 8 stops; c: 8 > 8 is false; d: 7 stays.
    #[test]
    fn wandb_docstring_example() {
        let s = Sweep::with(&[
            (&[10.0, 9.0], Completed),
            (&[10.0, 10.0], Running),
            (&[10.0, 8.0, 8.0], Running),
            (&[10.0, 7.0, 7.0], Running),
            (&[10.0, 6.0, 6.0], Completed),
        ]);
        for strict in [true, false] {
            let mut hb = rule(bands(None, Some(5), Some(2), 2.0), 2.0, strict, Goal::Minimize);
            let d = s.judge(&mut hb, 1).expect("b stops");
            assert_eq!(
                (d.epoch, d.rung, d.value, d.threshold, d.compared),
                (2, 2, 10.0, 8.0, 5)
            );
            assert_eq!(s.judge(&mut hb, 2), None, "c stays (strict: {strict})");
            assert_eq!(s.judge(&mut hb, 3), None);
        }
    }

    /// Six trials maximizing val_accuracy, eta 3, bands from min_iter 1: 1, 3, 9.
    /// After three epochs each, values at epoch 3:
    ///   t0 .70, t1 .65, t2 .80, t3 .40, t4 .55, t5 NaN.
    /// Negated and sorted (NaN left out, n = 5): -.80 -.70 -.65 -.55 -.40;
    /// index int(5/3) = 1: threshold -.70, i.e. 0.70. Strict: stop every trial
    /// whose epoch-3 value is below 0.70: t1, t3, t4, and t5 (NaN is worst);
    /// t0 (exactly 0.70) and t2 go on: the best third, as hyperband means.
    #[test]
    fn six_curves_maximizing_strict_and_not() {
        let curves: [&[f64]; 6] = [
            &[0.50, 0.60, 0.70],
            &[0.72, 0.68, 0.65],
            &[0.55, 0.70, 0.80],
            &[0.30, 0.35, 0.40],
            &[0.40, 0.50, 0.55],
            &[0.45, 0.50, f64::NAN],
        ];
        let s = Sweep::with(&curves.map(|c| (c, Running)));
        let mut hb = rule(bands(Some(1), None, None, 3.0), 3.0, true, Goal::Maximize);
        let stopped: Vec<usize> = (0..6).filter(|&i| s.judge(&mut hb, i).is_some()).collect();
        assert_eq!(stopped, [1, 3, 4, 5]);
        let d = s.judge(&mut hb, 1).unwrap();
        assert_eq!(
            (d.epoch, d.rung, d.value, d.threshold, d.compared),
            (3, 3, 0.65, 0.70, 5)
        );
        assert_eq!(d.kind, StopKind::Value);
        assert!(s.judge(&mut hb, 5).unwrap().value.is_nan());
        // Not strict: each trial's best so far against the same 0.70. t1's best
        // is its first epoch, 0.72: it stays; t5's best is 0.50: it stops.
        let mut hb = rule(bands(Some(1), None, None, 3.0), 3.0, false, Goal::Maximize);
        let stopped: Vec<usize> = (0..6).filter(|&i| s.judge(&mut hb, i).is_some()).collect();
        assert_eq!(stopped, [3, 4, 5]);
        let d = s.judge(&mut hb, 5).unwrap();
        assert_eq!((d.value, d.threshold, d.kind), (0.50, 0.70, StopKind::BestSoFar));
    }

    /// The same shape minimizing val_loss. Losses at epoch 3:
    ///   t0 .30, t1 .35, t2 .20, t3 .60, t4 .45, t5 inf (left out: n = 5).
    /// Sorted .20 .30 .35 .45 .60, index 1: threshold .30. Above it: t1, t3,
    /// t4, and t5 (inf counts as worst).
    #[test]
    fn six_curves_minimizing() {
        let curves: [&[f64]; 6] = [
            &[0.9, 0.5, 0.30],
            &[0.8, 0.4, 0.35],
            &[0.7, 0.3, 0.20],
            &[0.9, 0.7, 0.60],
            &[0.8, 0.6, 0.45],
            &[0.6, 0.5, f64::INFINITY],
        ];
        let s = Sweep::with(&curves.map(|c| (c, Running)));
        let mut hb = rule(vec![1, 3, 9], 3.0, true, Goal::Minimize);
        let stopped: Vec<usize> = (0..6).filter(|&i| s.judge(&mut hb, i).is_some()).collect();
        assert_eq!(stopped, [1, 3, 4, 5]);
        let d = s.judge(&mut hb, 3).unwrap();
        assert_eq!((d.rung, d.value, d.threshold, d.compared), (3, 0.60, 0.30, 5));
    }

    /// Bands 1 and 3, minimizing, eta 3; trials report one epoch at a time.
    /// Each report is judged at the trial's largest band reached, against every
    /// trial that reached that band (stopped ones too), itself included.
    #[test]
    fn reports_judged_at_the_largest_band_reached() {
        let mut s = Sweep::new(4);
        let mut hb = rule(vec![1, 3], 3.0, true, Goal::Minimize);
        // Epoch 1 of t0: {1.0}, index int(1/3) = 0, threshold 1.0; not above.
        assert_eq!(s.report(&mut hb, 0, 1.0), None);
        // t1: {1.0, 2.0}, index int(2/3) = 0: threshold 1.0 and 2.0 is above.
        // With few trials only the best passes, as in W&B.
        let d = s.report(&mut hb, 1, 2.0).expect("t1 stops");
        assert_eq!((d.epoch, d.rung, d.threshold, d.compared), (1, 1, 1.0, 2));
        // t2: {1.0, 2.0, 0.5} sorted, index 1: threshold 1.0; 0.5 passes.
        assert_eq!(s.report(&mut hb, 2, 0.5), None);
        // t0's epoch 2 is still judged at band 1, on its epoch-1 value 1.0.
        assert_eq!(s.report(&mut hb, 0, 0.9), None);
        // t0's epoch 3 alone at band 3: threshold is its own 0.8.
        assert_eq!(s.report(&mut hb, 0, 0.8), None);
        assert_eq!(s.report(&mut hb, 2, 0.45), None);
        // t2 at band 3: {0.8, 0.85}, index 0: threshold 0.8; 0.85 is above.
        let d = s.report(&mut hb, 2, 0.85).expect("t2 stops");
        assert_eq!(
            (d.epoch, d.rung, d.value, d.threshold, d.compared),
            (3, 3, 0.85, 0.8, 2)
        );
        // t3 at band 1: {1, 2, 0.5, 1.5} sorted, index int(4/3) = 1: 1.0; 1.5 stops.
        let d = s.report(&mut hb, 3, 1.5).expect("t3 stops");
        assert_eq!((d.threshold, d.compared), (1.0, 4));
    }

    #[test]
    fn nothing_before_the_first_band() {
        let s = Sweep::with(&[(&[5.0, 5.0], Running), (&[1.0, 1.0], Completed)]);
        let mut hb = rule(vec![3, 9], 3.0, true, Goal::Minimize);
        assert_eq!(s.judge(&mut hb, 0), None);
        let mut none = rule(Vec::new(), 3.0, true, Goal::Minimize);
        assert_eq!(s.judge(&mut none, 0), None);
    }
}
