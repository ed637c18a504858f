//! The Parzen estimator: a weighted mixture of product kernels over the
//! search space, one kernel per observation plus a prior.
//!
//! A port of Optuna's `parzen_estimator.py` and the mixture in
//! `probability_distributions.py`. Numbers live in an internal
//! representation: a categorical value is its index, a numerical value is
//! itself (log-scaled parameters are modelled in log space here, but passed
//! in and out unlogged, as Optuna does).

use super::truncnorm;
use crate::distribution::unit;
use rand_core::RngCore;

/// The weight of the prior kernel (Optuna's `prior_weight`, default 1).
const PRIOR_WEIGHT: f64 = 1.0;

/// How wide the observations' kernels of numerical parameters are (the
/// prior's is always the whole range).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Widths {
    /// The floor of a bandwidth, relative to Optuna's magic clip
    /// (`range / min(100, n_kernels + 1)`).
    pub clip: f64,
    /// Every bandwidth, once clipped, multiplied by this.
    pub factor: f64,
}

impl Widths {
    /// Optuna's bandwidths.
    pub const OPTUNA: Widths = Widths { clip: 1.0, factor: 1.0 };
}

/// One parameter as the estimator models it.
#[derive(Debug, Clone, PartialEq)]
pub enum Space {
    /// A choice among `prior.len()` values, `prior` their prior probabilities.
    Categorical {
        /// Probability of each choice before any observation (sums to 1).
        prior: Vec<f64>,
    },
    /// A number in `[low, high]`, on a grid of `step` from `low` when `step > 0`.
    Numeric {
        /// Smallest value.
        low: f64,
        /// Largest value.
        high: f64,
        /// Grid step, 0 for a continuous range.
        step: f64,
        /// Modelled in log space.
        log: bool,
    },
}

impl Space {
    /// The range the kernels live on: widened by half a step for a grid (so
    /// each grid point owns a cell of equal width) and logged for a log scale.
    fn adapted_bounds(&self) -> (f64, f64) {
        match *self {
            Space::Numeric { low, high, step, log } => {
                let (lo, hi) = (low - step / 2.0, high + step / 2.0);
                if log { (lo.ln(), hi.ln()) } else { (lo, hi) }
            }
            Space::Categorical { .. } => unreachable!("bounds of a categorical space"),
        }
    }
}

/// Optuna's default weights of `n` observations in trial order: flat below
/// 25, else a ramp from `1/n` to 1 over the older ones and 1 for the newest 25.
pub fn default_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let mut w: Vec<f64> = (0..ramp)
        .map(|i| {
            // numpy.linspace(1/n, 1, ramp)
            let (start, stop) = (1.0 / n as f64, 1.0);
            if ramp == 1 {
                start
            } else {
                start + (stop - start) * i as f64 / (ramp - 1) as f64
            }
        })
        .collect();
    w.extend(std::iter::repeat_n(1.0, 25));
    w
}

/// The kernels of one parameter, one per mixture component.
#[derive(Debug, Clone)]
enum Kernels {
    /// Each component's probabilities over the choices.
    Categorical { probs: Vec<Vec<f64>> },
    /// Truncated normals (discretised on a grid when `step > 0`).
    Numeric {
        mu: Vec<f64>,
        sigma: Vec<f64>,
        low: f64,
        high: f64,
        step: f64,
        log: bool,
        /// The adapted range (see [`Space::adapted_bounds`]).
        lo: f64,
        hi: f64,
        /// Each kernel's log mass inside `[lo, hi]`, its normaliser.
        log_mass: Vec<f64>,
    },
}

/// A mixture of product distributions over a search space.
#[derive(Debug, Clone)]
pub struct ParzenEstimator {
    /// The components' weights, summing to 1; the last is the prior.
    weights: Vec<f64>,
    /// Their logs.
    log_weights: Vec<f64>,
    /// One entry per parameter.
    kernels: Vec<Kernels>,
}

impl ParzenEstimator {
    /// Optuna's estimator of `observations` (rows in trial order, one column
    /// per parameter of `space`, in the internal representation).
    #[cfg(test)]
    pub fn new(observations: &[Vec<f64>], space: &[Space]) -> Self {
        Self::fit(observations, &vec![1.0; observations.len()], space, Widths::OPTUNA)
    }

    /// Fits the estimator to `observations` (rows in trial order, one column
    /// per parameter of `space`, in the internal representation), each
    /// observation's weight (Optuna's default for its place in trial order)
    /// multiplied by `scale[i]`, the observations' kernels as wide as
    /// `widths` says.
    pub fn fit(observations: &[Vec<f64>], scale: &[f64], space: &[Space], widths: Widths) -> Self {
        debug_assert_eq!(observations.len(), scale.len());
        let n = observations.len();
        let mut weights = default_weights(n);
        weights.iter_mut().zip(scale).for_each(|(w, s)| *w *= s);
        if n == 0 {
            weights = vec![1.0];
        } else {
            weights.push(PRIOR_WEIGHT);
        }
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let kernels = space
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let column: Vec<f64> = observations.iter().map(|row| row[i]).collect();
                match s {
                    Space::Categorical { prior } => categorical_kernels(&column, prior),
                    Space::Numeric { .. } => numerical_kernels(&column, s, widths),
                }
            })
            .collect();
        let log_weights = weights.iter().map(|w| w.ln()).collect();
        ParzenEstimator {
            weights,
            log_weights,
            kernels,
        }
    }

    /// Draws `size` points (rows in the internal representation; grid
    /// parameters land on their grid).
    pub fn sample(&self, rng: &mut impl RngCore, size: usize) -> Vec<Vec<f64>> {
        let active: Vec<usize> = (0..size).map(|_| pick(&self.weights, unit(rng))).collect();
        let mut out = vec![vec![0.0; self.kernels.len()]; size];
        // Categorical parameters first, then numerical ones, each parameter
        // drawing one uniform per point: the order Optuna draws in.
        for (p, k) in self.kernels.iter().enumerate() {
            if let Kernels::Categorical { probs } = k {
                for (row, &c) in out.iter_mut().zip(&active) {
                    row[p] = pick(&probs[c], unit(rng)) as f64;
                }
            }
        }
        for (p, k) in self.kernels.iter().enumerate() {
            let Kernels::Numeric {
                mu,
                sigma,
                low,
                high,
                step,
                log,
                lo,
                hi,
                ..
            } = k
            else {
                continue;
            };
            for (row, &c) in out.iter_mut().zip(&active) {
                let (m, s) = (mu[c], sigma[c]);
                let mut x = truncnorm::ppf(unit(rng), (lo - m) / s, (hi - m) / s) * s + m;
                if *log {
                    x = x.exp();
                }
                if *step > 0.0 {
                    x = (low + ((x - low) / step).round() * step).clamp(*low, *high);
                }
                row[p] = x;
            }
        }
        out
    }

    /// The log-density (log-mass for grids and choices) at `x`.
    pub fn log_pdf(&self, x: &[f64]) -> f64 {
        let mut per_component = self.log_weights.clone();
        for (k, &xi) in self.kernels.iter().zip(x) {
            match k {
                Kernels::Categorical { probs } => {
                    for (acc, row) in per_component.iter_mut().zip(probs) {
                        *acc += row[xi as usize].ln();
                    }
                }
                Kernels::Numeric {
                    mu,
                    sigma,
                    step,
                    log,
                    lo,
                    hi,
                    log_mass,
                    ..
                } => {
                    if *step == 0.0 {
                        let v = if *log { xi.ln() } else { xi };
                        for (c, acc) in per_component.iter_mut().enumerate() {
                            let (m, s) = (mu[c], sigma[c]);
                            *acc += truncnorm::logpdf(v, (lo - m) / s, (hi - m) / s, m, s, log_mass[c]);
                        }
                    } else {
                        let (left, right) = if *log {
                            ((xi - step / 2.0).ln(), (xi + step / 2.0).ln())
                        } else {
                            (xi - step / 2.0, xi + step / 2.0)
                        };
                        for (c, acc) in per_component.iter_mut().enumerate() {
                            let (m, s) = (mu[c], sigma[c]);
                            *acc += truncnorm::log_gauss_mass((left - m) / s, (right - m) / s) - log_mass[c];
                        }
                    }
                }
            }
        }
        log_sum_exp(&per_component)
    }
}

/// The index `i` with `cdf[i-1] <= u < cdf[i]` of the cumulative `weights`
/// (the last one with weight when rounding leaves the sum under `u`).
fn pick(weights: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (i, &w) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return i;
        }
    }
    weights.iter().rposition(|&w| w > 0.0).unwrap_or(weights.len() - 1)
}

fn log_sum_exp(xs: &[f64]) -> f64 {
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    max + xs.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

/// Optuna's categorical kernel: each observation's row is the prior spread
/// over all choices (`prior_weight / n_kernels` each) plus 1 on the observed
/// choice, normalised; the prior component's row is the prior alone.
///
/// With `probabilities` the prior spread follows them (uniform ones give
/// Optuna's exactly), and a choice of probability 0 gets none in any row.
fn categorical_kernels(observed: &[f64], prior: &[f64]) -> Kernels {
    let n_choices = prior.len() as f64;
    if observed.is_empty() {
        return Kernels::Categorical {
            probs: vec![prior.to_vec()],
        };
    }
    let n_kernels = (observed.len() + 1) as f64;
    let fill: Vec<f64> = prior.iter().map(|p| PRIOR_WEIGHT / n_kernels * p * n_choices).collect();
    let mut probs = vec![fill; observed.len() + 1];
    for (row, &x) in probs.iter_mut().zip(observed) {
        row[x as usize] += 1.0;
    }
    for row in &mut probs {
        for (w, p) in row.iter_mut().zip(prior) {
            if *p == 0.0 {
                *w = 0.0;
            }
        }
        let sum: f64 = row.iter().sum();
        if sum > 0.0 {
            row.iter_mut().for_each(|w| *w /= sum);
        }
    }
    Kernels::Categorical { probs }
}

/// Optuna's numerical kernels: one at each observation, its bandwidth the
/// larger gap to its sorted neighbours (the ends of the range count as
/// neighbours only for a lone observation: `consider_endpoints=False`),
/// clipped to `[clip * range / min(100, n_kernels + 1), range]` (the magic
/// clip; Optuna's with `clip` 1) and multiplied by `widths.factor` (Optuna:
/// 1), and a prior kernel at the centre with the whole range as bandwidth.
fn numerical_kernels(observed: &[f64], space: &Space, widths: Widths) -> Kernels {
    let Space::Numeric { low, high, step, log } = *space else {
        unreachable!()
    };
    let (lo, hi) = space.adapted_bounds();
    let mut mu: Vec<f64> = if log {
        observed.iter().map(|x| x.ln()).collect()
    } else {
        observed.to_vec()
    };
    let mut sigma = bandwidths(&mu, lo, hi, widths.clip);
    sigma.iter_mut().for_each(|s| *s *= widths.factor);
    mu.push(0.5 * (lo + hi));
    sigma.push(hi - lo);
    let log_mass = mu
        .iter()
        .zip(&sigma)
        .map(|(m, s)| truncnorm::log_gauss_mass((lo - m) / s, (hi - m) / s))
        .collect();
    Kernels::Numeric {
        mu,
        sigma,
        low,
        high,
        step,
        log,
        lo,
        hi,
        log_mass,
    }
}

/// The bandwidth of each kernel centred at `mus` on `[lo, hi]`, the magic
/// clip's floor multiplied by `clip`.
fn bandwidths(mus: &[f64], lo: f64, hi: f64, clip: f64) -> Vec<f64> {
    let n = mus.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| mus[a].partial_cmp(&mus[b]).unwrap_or(std::cmp::Ordering::Equal));
    let mut with_ends = Vec::with_capacity(n + 2);
    with_ends.push(lo);
    with_ends.extend(order.iter().map(|&i| mus[i]));
    with_ends.push(hi);
    let mut sorted: Vec<f64> = (1..=n)
        .map(|i| (with_ends[i] - with_ends[i - 1]).max(with_ends[i + 1] - with_ends[i]))
        .collect();
    if n >= 2 {
        sorted[0] = with_ends[2] - with_ends[1];
        sorted[n - 1] = with_ends[n] - with_ends[n - 1];
    }
    let max_sigma = hi - lo;
    let n_kernels = (n + 1) as f64;
    let min_sigma = clip * (hi - lo) / 100f64.min(1.0 + n_kernels);
    let mut sigmas = vec![0.0; n];
    for (rank, &i) in order.iter().enumerate() {
        sigmas[i] = sorted[rank].clamp(min_sigma, max_sigma);
    }
    sigmas
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    #[test]
    fn weights_ramp_over_old_observations() {
        assert_eq!(default_weights(3), vec![1.0; 3]);
        let w = default_weights(30);
        assert_eq!(w.len(), 30);
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-15);
        assert_eq!(w[4], 1.0);
        assert!(w[..5].windows(2).all(|p| p[0] < p[1]));
        assert_eq!(&w[5..], &[1.0; 25]);
        assert_eq!(default_weights(26), [vec![1.0 / 26.0], vec![1.0; 25]].concat());
    }

    #[test]
    fn weighted_scales_each_observation() {
        // The kernels do not depend on the weights, so with scale [1, s] the
        // density times (2 + s) (two observations and the prior) is
        // K1 + s K2 + P: linear in s.
        let space = [
            Space::Numeric {
                low: 0.0,
                high: 10.0,
                step: 0.0,
                log: false,
            },
            Space::Categorical { prior: vec![0.5; 2] },
        ];
        let obs = vec![vec![2.0, 0.0], vec![7.0, 1.0]];
        let pdf = |s: f64, x: &[f64]| {
            ParzenEstimator::fit(&obs, &[1.0, s], &space, Widths::OPTUNA)
                .log_pdf(x)
                .exp()
        };
        for x in [[1.0, 0.0], [6.5, 1.0], [9.0, 0.0]] {
            assert_eq!(pdf(1.0, &x), ParzenEstimator::new(&obs, &space).log_pdf(&x).exp());
            let a = 2.0 * pdf(0.0, &x);
            let b = 3.0 * pdf(1.0, &x) - a;
            let got = 2.1 * pdf(0.1, &x);
            assert!(
                (got - (a + 0.1 * b)).abs() < 1e-12 * got,
                "{x:?}: {got} vs {}",
                a + 0.1 * b
            );
        }
    }

    #[test]
    fn bandwidths_follow_optuna() {
        // Values checked against Optuna 5's _calculate_numerical_distributions
        // (low 0, high 10, observations [2, 3, 7]): sigmas [1, 4, 4] clipped
        // to at least 10 / 5.
        assert_eq!(bandwidths(&[2.0, 3.0, 7.0], 0.0, 10.0, 1.0), vec![2.0, 4.0, 4.0]);
        // A lone observation takes the larger gap to an end.
        assert_eq!(bandwidths(&[2.0], 0.0, 10.0, 1.0), vec![8.0]);
        // Unsorted input keeps its order.
        assert_eq!(bandwidths(&[7.0, 2.0, 3.0], 0.0, 10.0, 1.0), vec![4.0, 2.0, 4.0]);
    }

    #[test]
    fn the_clip_scales_the_smallest_bandwidth() {
        // Half the floor (10 / 5 / 2 = 1): the first kernel keeps its gap of 1.
        assert_eq!(bandwidths(&[2.0, 3.0, 7.0], 0.0, 10.0, 0.5), vec![1.0, 4.0, 4.0]);
        assert_eq!(bandwidths(&[2.0, 2.5, 7.0], 0.0, 10.0, 0.5), vec![1.0, 4.5, 4.5]);
        // With many kernels the floor is range / 100, halved.
        let mus: Vec<f64> = (0..200).map(|i| f64::from(i) * 1e-4).collect();
        assert!(bandwidths(&mus, 0.0, 10.0, 0.5).iter().all(|&s| s == 0.05));
        assert!(bandwidths(&mus, 0.0, 10.0, 1.0).iter().all(|&s| s == 0.1));
        // Only the floor moves: wide gaps are the same with either clip.
        let obs = vec![vec![2.0], vec![3.0], vec![7.0]];
        let space = [Space::Numeric {
            low: 0.0,
            high: 10.0,
            step: 0.0,
            log: false,
        }];
        let optuna = ParzenEstimator::fit(&obs, &[1.0; 3], &space, Widths::OPTUNA);
        let halved = ParzenEstimator::fit(&obs, &[1.0; 3], &space, Widths { clip: 0.5, factor: 1.0 });
        assert_eq!(
            optuna.log_pdf(&[2.0]),
            ParzenEstimator::new(&obs, &space).log_pdf(&[2.0])
        );
        assert!(halved.log_pdf(&[2.0]) > optuna.log_pdf(&[2.0]));
    }

    #[test]
    fn categorical_rows_mix_the_prior_in() {
        let Kernels::Categorical { probs } = categorical_kernels(&[0.0, 2.0], &[1.0 / 3.0; 3]) else {
            unreachable!()
        };
        // Each observation row: 1/3 on every choice plus 1 on its own, over 2.
        let third = 1.0 / 3.0;
        assert!((probs[0][0] - (third + 1.0) / 2.0).abs() < 1e-15);
        assert!((probs[0][1] - third / 2.0).abs() < 1e-15);
        assert!((probs[2][1] - third).abs() < 1e-15);
        let Kernels::Categorical { probs } = categorical_kernels(&[0.0], &[0.5, 0.0, 0.5]) else {
            unreachable!()
        };
        assert!(probs.iter().all(|row| row[1] == 0.0));
    }

    #[test]
    fn samples_stay_in_range_and_on_the_grid() {
        let space = [
            Space::Numeric {
                low: 1e-5,
                high: 1e-1,
                step: 0.0,
                log: true,
            },
            Space::Numeric {
                low: 2.0,
                high: 8.0,
                step: 2.0,
                log: false,
            },
            Space::Categorical { prior: vec![0.25; 4] },
        ];
        let obs = vec![vec![1e-3, 4.0, 1.0], vec![5e-2, 8.0, 3.0], vec![2e-5, 2.0, 1.0]];
        let pe = ParzenEstimator::new(&obs, &space);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for row in pe.sample(&mut rng, 500) {
            assert!((1e-5..=1e-1).contains(&row[0]), "{row:?}");
            assert!([2.0, 4.0, 6.0, 8.0].contains(&row[1]), "{row:?}");
            assert!((0.0..4.0).contains(&row[2]) && row[2].fract() == 0.0);
            assert!(pe.log_pdf(&row).is_finite());
        }
    }

    #[test]
    fn the_grid_masses_sum_to_one() {
        let space = [Space::Numeric {
            low: 1.0,
            high: 64.0,
            step: 1.0,
            log: true,
        }];
        let pe = ParzenEstimator::new(&[vec![3.0], vec![40.0]], &space);
        let total: f64 = (1..=64).map(|i| pe.log_pdf(&[f64::from(i)]).exp()).sum();
        assert!((total - 1.0).abs() < 1e-12, "{total}");
    }

    #[test]
    fn log_pdf_matches_optuna() {
        // Optuna 5's _ParzenEstimator.log_pdf on the same space, observations
        // and points: x Float(0, 10), lr Float(1e-4, 1, log), n Int(1, 8),
        // q Float(0, 1, step 0.25), k Int(2, 64, log), c Categorical(3).
        let num = |low: f64, high: f64, step: f64, log: bool| Space::Numeric { low, high, step, log };
        let space = [
            num(0.0, 10.0, 0.0, false),
            num(1e-4, 1.0, 0.0, true),
            num(1.0, 8.0, 1.0, false),
            num(0.0, 1.0, 0.25, false),
            num(2.0, 64.0, 1.0, true),
            Space::Categorical {
                prior: vec![1.0 / 3.0; 3],
            },
        ];
        let obs = vec![
            vec![2.0, 1e-3, 1.0, 0.25, 2.0, 0.0],
            vec![3.0, 0.5, 4.0, 1.0, 10.0, 2.0],
            vec![7.0, 2e-4, 4.0, 0.5, 33.0, 2.0],
            vec![9.5, 0.01, 8.0, 0.0, 64.0, 1.0],
        ];
        let points = [
            [2.5, 3e-3, 4.0, 0.25, 9.0, 2.0],
            [0.1, 1e-4, 1.0, 0.0, 2.0, 0.0],
            [9.9, 0.9, 8.0, 1.0, 64.0, 1.0],
        ];
        let fitted = ParzenEstimator::new(&obs, &space);
        let prior = ParzenEstimator::new(&[], &space);
        let want_fitted = [-12.238104629687797, -10.158975819191658, -16.542750225192936];
        let want_prior = [-12.69076653572496, -11.618635422104905, -15.130104029654216];
        for (i, x) in points.iter().enumerate() {
            let (got, want) = (fitted.log_pdf(x), want_fitted[i]);
            assert!((got - want).abs() < 1e-9, "point {i}: {got} vs Optuna's {want}");
            let (got, want) = (prior.log_pdf(x), want_prior[i]);
            assert!(
                (got - want).abs() < 1e-9,
                "point {i} (prior only): {got} vs Optuna's {want}"
            );
        }
    }
}
