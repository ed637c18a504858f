//! Search spaces of single parameters: what a grid enumerates and what random
//! search samples.
//!
//! Sampling uses only `next_u64` of a ChaCha8 stream and arithmetic written
//! here, never a library's distribution code, so a spec and seed give the same
//! trials on every machine and with every version of the `rand` crates.

use rand_core::RngCore;
use sweep_core::ParamValue;

/// The distribution names a spec may write.
pub const NAMES: &[&str] = &[
    "constant",
    "categorical",
    "categorical_w_probabilities",
    "uniform",
    "int_uniform",
    "log_uniform_values",
    "q_uniform",
    "q_log_uniform_values",
    "inv_log_uniform_values",
    "normal",
    "q_normal",
    "log_normal",
    "q_log_normal",
    "beta",
    "q_beta",
    "log_uniform",
    "q_log_uniform",
    "inv_log_uniform",
];

/// W&B's old distributions whose `min`/`max` are natural-log exponents; they
/// are read as the `*_values` forms with `e^min`, `e^max` (and a warning).
pub const EXPONENT_NAMES: &[&str] = &["log_uniform", "q_log_uniform", "inv_log_uniform"];

/// Rounding to a multiple of `q`: W&B's quantised distributions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// The step, > 0.
    pub q: f64,
    /// Whether values are integers (`q` written as an integer, as W&B decides).
    pub integer: bool,
}

/// The search space of one parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    /// One fixed value (`value: 64`).
    Constant(ParamValue),
    /// A choice among values (`values: [adam, sgd]`), optionally weighted.
    Categorical {
        /// The choices.
        values: Vec<ParamValue>,
        /// Their probabilities under random search (sum to 1); `None` is uniform.
        probabilities: Option<Vec<f64>>,
    },
    /// Uniform over the reals in `[min, max]`.
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Uniform over the integers in `[min, max]`.
    IntUniform {
        /// Lower bound.
        min: i64,
        /// Upper bound.
        max: i64,
    },
    /// Uniform in log space over `[min, max]`, `min > 0` (learning rates).
    LogUniform {
        /// Lower bound, > 0.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Uniform over the multiples of `q` in `[min, max]`.
    QUniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
        /// The step.
        q: f64,
        /// Whether values are integers (min, max and q all integers).
        integer: bool,
    },
    /// Log-uniform over `[min, max]`, then rounded to a multiple of `q`.
    QLogUniform {
        /// Lower bound, > 0.
        min: f64,
        /// Upper bound.
        max: f64,
        /// The step.
        q: f64,
        /// Whether values are integers (min, max and q all integers).
        integer: bool,
    },
    /// W&B's `normal` (`q_normal` with a step): `mu + sigma * z`, unbounded.
    Normal {
        /// The mean (0).
        mu: f64,
        /// The standard deviation (1), > 0.
        sigma: f64,
        /// `q_normal`'s step.
        q: Option<Step>,
    },
    /// W&B's `log_normal` (`q_log_normal`): `exp(mu + sigma * z)`, > 0.
    LogNormal {
        /// The mean of the logarithm (0).
        mu: f64,
        /// The standard deviation of the logarithm (1), > 0.
        sigma: f64,
        /// `q_log_normal`'s step.
        q: Option<Step>,
    },
    /// W&B's `beta` (`q_beta`): Beta(a, b) on `[0, 1]`.
    Beta {
        /// Shape a (1), > 0.
        a: f64,
        /// Shape b (1), > 0.
        b: f64,
        /// `q_beta`'s step.
        q: Option<Step>,
    },
}

/// A float in `[0, 1)` from 53 random bits: the same on every platform.
pub fn unit(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform index in `0..n` (n > 0).
fn below(rng: &mut impl RngCore, n: u64) -> u64 {
    // Multiply-shift: bias below 2^-64 * n, far under anything measurable.
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
}

impl Distribution {
    /// The distribution's name, as a spec writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Distribution::Constant(_) => "constant",
            Distribution::Categorical { .. } => "categorical",
            Distribution::Uniform { .. } => "uniform",
            Distribution::IntUniform { .. } => "int_uniform",
            Distribution::LogUniform { .. } => "log_uniform_values",
            Distribution::QUniform { .. } => "q_uniform",
            Distribution::QLogUniform { .. } => "q_log_uniform_values",
            Distribution::Normal { q: None, .. } => "normal",
            Distribution::Normal { q: Some(_), .. } => "q_normal",
            Distribution::LogNormal { q: None, .. } => "log_normal",
            Distribution::LogNormal { q: Some(_), .. } => "q_log_normal",
            Distribution::Beta { q: None, .. } => "beta",
            Distribution::Beta { q: Some(_), .. } => "q_beta",
        }
    }

    /// The search space in a few words: `log_uniform_values [1e-05, 0.1]`,
    /// `categorical {adam, sgd}`, `64`.
    pub fn describe(&self) -> String {
        match self {
            Distribution::Constant(v) => format!("= {v}"),
            Distribution::Categorical { values, .. } => format!(
                "in {{{}}}",
                values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
            ),
            Distribution::Uniform { min, max } | Distribution::LogUniform { min, max } => {
                format!("{} [{min}, {max}]", self.name())
            }
            Distribution::IntUniform { min, max } => format!("{} [{min}, {max}]", self.name()),
            Distribution::QUniform { min, max, q, .. } | Distribution::QLogUniform { min, max, q, .. } => {
                format!("{} [{min}, {max}] step {q}", self.name())
            }
            Distribution::Normal { mu, sigma, q } | Distribution::LogNormal { mu, sigma, q } => {
                format!("{} mu {mu} sigma {sigma}{}", self.name(), step_text(q))
            }
            Distribution::Beta { a, b, q } => format!("{} a {a} b {b}{}", self.name(), step_text(q)),
        }
    }

    /// How many values a grid enumerates, or `None` when the space is continuous.
    pub fn grid_len(&self) -> Option<u64> {
        match self {
            Distribution::Constant(_) => Some(1),
            Distribution::Categorical { values, .. } => Some(values.len() as u64),
            Distribution::IntUniform { min, max } => Some((max - min) as u64 + 1),
            Distribution::QUniform { min, max, q, .. } => {
                let (lo, hi) = q_range(*min, *max, *q);
                Some((hi - lo + 1).max(0) as u64)
            }
            Distribution::Uniform { .. }
            | Distribution::LogUniform { .. }
            | Distribution::QLogUniform { .. }
            | Distribution::Normal { .. }
            | Distribution::LogNormal { .. }
            | Distribution::Beta { .. } => None,
        }
    }

    /// The `i`-th value a grid enumerates (`i < grid_len()`).
    pub fn grid_value(&self, i: u64) -> ParamValue {
        match self {
            Distribution::Constant(v) => v.clone(),
            Distribution::Categorical { values, .. } => values[i as usize].clone(),
            Distribution::IntUniform { min, .. } => ParamValue::Int(min + i as i64),
            Distribution::QUniform { min, max, q, integer } => {
                let (lo, _) = q_range(*min, *max, *q);
                q_value(lo + i as i64, *q, *integer)
            }
            _ => unreachable!("grid_value on a continuous distribution"),
        }
    }

    /// Draws one value.
    pub fn sample(&self, rng: &mut impl RngCore) -> ParamValue {
        match self {
            Distribution::Constant(v) => v.clone(),
            Distribution::Categorical {
                values,
                probabilities: None,
            } => values[below(rng, values.len() as u64) as usize].clone(),
            Distribution::Categorical {
                values,
                probabilities: Some(p),
            } => {
                let u = unit(rng);
                let mut acc = 0.0;
                for (v, &w) in values.iter().zip(p) {
                    acc += w;
                    if u < acc {
                        return v.clone();
                    }
                }
                // Rounding left `acc` a hair under 1: the last value with weight.
                let last = p.iter().rposition(|&w| w > 0.0).unwrap_or(values.len() - 1);
                values[last].clone()
            }
            Distribution::Uniform { min, max } => {
                ParamValue::Float(round_sig(min + unit(rng) * (max - min)).clamp(*min, *max))
            }
            Distribution::IntUniform { min, max } => ParamValue::Int(min + below(rng, (max - min) as u64 + 1) as i64),
            Distribution::LogUniform { min, max } => {
                ParamValue::Float(round_sig(log_uniform(rng, *min, *max)).clamp(*min, *max))
            }
            Distribution::QUniform { min, max, q, integer } => {
                let (lo, hi) = q_range(*min, *max, *q);
                q_value(lo + below(rng, (hi - lo + 1) as u64) as i64, *q, *integer)
            }
            Distribution::QLogUniform { min, max, q, integer } => {
                let (lo, hi) = q_range(*min, *max, *q);
                let k = (log_uniform(rng, *min, *max) / q).round() as i64;
                q_value(k.clamp(lo, hi), *q, *integer)
            }
            Distribution::Normal { mu, sigma, q } => continuous(mu + sigma * normal(rng), *q),
            Distribution::LogNormal { mu, sigma, q } => continuous((mu + sigma * normal(rng)).exp(), *q),
            Distribution::Beta { a, b, q } => {
                let x = gamma(rng, *a);
                let y = gamma(rng, *b);
                let v = if x + y > 0.0 { x / (x + y) } else { 0.5 };
                continuous(v.clamp(0.0, 1.0), *q)
            }
        }
    }

    /// True when `value` lies in the support of the distribution.
    pub fn contains(&self, value: &ParamValue) -> bool {
        match self {
            Distribution::Constant(v) => v == value,
            Distribution::Categorical { values, probabilities } => values
                .iter()
                .enumerate()
                .any(|(i, v)| v == value && probabilities.as_ref().is_none_or(|p| p[i] > 0.0)),
            Distribution::Uniform { min, max } | Distribution::LogUniform { min, max } => {
                matches!(value, ParamValue::Float(x) if (min..=max).contains(&x))
            }
            Distribution::IntUniform { min, max } => {
                matches!(value, ParamValue::Int(i) if (min..=max).contains(&i))
            }
            Distribution::QUniform { min, max, q, integer } | Distribution::QLogUniform { min, max, q, integer } => {
                let (lo, hi) = q_range(*min, *max, *q);
                (lo..=hi).any(|k| q_value(k, *q, *integer) == *value)
            }
            Distribution::Normal { q, .. } | Distribution::LogNormal { q, .. } | Distribution::Beta { q, .. } => {
                let Some(x) = value.as_f64().filter(|x| x.is_finite()) else {
                    return false;
                };
                let in_support = match self {
                    Distribution::LogNormal { .. } => x >= 0.0,
                    Distribution::Beta { .. } => (0.0..=1.0).contains(&x),
                    _ => true,
                };
                in_support
                    && match q {
                        None => matches!(value, ParamValue::Float(_)),
                        Some(s) => q_value((x / s.q).round() as i64, s.q, s.integer) == *value,
                    }
            }
        }
    }

    /// Whether the space has finitely many values, and how many.
    pub fn finite_len(&self) -> Option<u64> {
        match self {
            Distribution::QLogUniform { min, max, q, .. } => {
                let (lo, hi) = q_range(*min, *max, *q);
                Some((hi - lo + 1).max(0) as u64)
            }
            other => other.grid_len(),
        }
    }
}

fn step_text(q: &Option<Step>) -> String {
    q.map_or(String::new(), |s| format!(" step {}", s.q))
}

/// A draw of an unbounded distribution: rounded to [`SIGNIFICANT_DIGITS`],
/// or to the nearest multiple of the step (W&B's `round(x / q) * q`).
fn continuous(x: f64, q: Option<Step>) -> ParamValue {
    match q {
        None => ParamValue::Float(round_sig(x)),
        Some(s) => q_value((x / s.q).round() as i64, s.q, s.integer),
    }
}

/// A standard normal draw (Box-Muller, cosine branch, two `unit()` draws).
pub fn normal(rng: &mut impl RngCore) -> f64 {
    let u1 = 1.0 - unit(rng); // (0, 1]: ln is finite
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Gamma(shape, 1) draw (Marsaglia-Tsang; shape < 1 boosted by `u^(1/shape)`).
pub fn gamma(rng: &mut impl RngCore, shape: f64) -> f64 {
    if shape < 1.0 {
        let boost = (1.0 - unit(rng)).powf(1.0 / shape);
        return gamma(rng, shape + 1.0) * boost;
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let z = normal(rng);
        let v = (1.0 + c * z).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - unit(rng);
        if u.ln() < 0.5 * z * z + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// Significant digits kept of a continuous draw.
pub const SIGNIFICANT_DIGITS: i32 = 4;

/// Rounds a draw to [`SIGNIFICANT_DIGITS`], so the value a table shows
/// (`9.193e-4`) is exactly the value that trains and that the id is made of.
/// No hyperparameter is sensitive to the fifth digit.
pub fn round_sig(x: f64) -> f64 {
    round_to_digits(x, SIGNIFICANT_DIGITS)
}

pub use sweep_core::round_to_digits;

fn log_uniform(rng: &mut impl RngCore, min: f64, max: f64) -> f64 {
    let (a, b) = (min.ln(), max.ln());
    (a + unit(rng) * (b - a)).exp().clamp(min, max)
}

/// The range of multipliers `k` with `k * q` in `[min, max]`.
pub fn q_range(min: f64, max: f64, q: f64) -> (i64, i64) {
    // A tolerance of one part in 1e9 of a step absorbs decimal rounding
    // (0.3 / 0.1 = 2.9999999999999996).
    let lo = (min / q - 1e-9).ceil() as i64;
    let hi = (max / q + 1e-9).floor() as i64;
    (lo, hi)
}

/// `k * q`, as an integer, or as a float rounded to `q`'s decimals so that
/// 3 * 0.1 prints as 0.3, not 0.30000000000000004.
pub fn q_value(k: i64, q: f64, integer: bool) -> ParamValue {
    if integer {
        return ParamValue::Int(k * q as i64);
    }
    let x = k as f64 * q;
    let decimals = decimals_of(q);
    let rounded: f64 = format!("{x:.decimals$}").parse().unwrap_or(x);
    ParamValue::Float(rounded)
}

/// How many decimals the shortest form of `q` has (0.25 has 2, 1e-3 has 3).
fn decimals_of(q: f64) -> usize {
    let s = format!("{q:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let frac = mantissa.split_once('.').map_or(0, |(_, f)| f.len() as i64);
    (frac - exp).clamp(0, 17) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    #[test]
    fn draws_keep_four_significant_digits() {
        assert_eq!(round_sig(9.192731335644149e-4), 9.193e-4);
        assert_eq!(round_sig(0.6006077261152344), 0.6006);
        assert_eq!(round_sig(123456.7), 123500.0);
        assert_eq!(round_sig(-0.0123456), -0.01235);
    }

    #[test]
    fn q_values_print_cleanly() {
        let d = Distribution::QUniform {
            min: 0.0,
            max: 1.0,
            q: 0.1,
            integer: false,
        };
        assert_eq!(d.grid_len(), Some(11));
        assert_eq!(d.grid_value(3), ParamValue::Float(0.3));
        assert_eq!(decimals_of(0.25), 2);
        assert_eq!(decimals_of(1e-3), 3);
        assert_eq!(decimals_of(8.0), 0);
    }

    #[test]
    fn int_q_log_uniform_gives_multiples() {
        let d = Distribution::QLogUniform {
            min: 16.0,
            max: 512.0,
            q: 16.0,
            integer: true,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..1000 {
            let v = d.sample(&mut rng);
            let i = v.as_i64().unwrap();
            assert!(i % 16 == 0 && (16..=512).contains(&i), "{i}");
            assert!(d.contains(&v));
        }
    }

    #[test]
    fn zero_probability_values_are_never_drawn() {
        let d = Distribution::Categorical {
            values: vec![ParamValue::Int(1), ParamValue::Int(2), ParamValue::Int(3)],
            probabilities: Some(vec![0.5, 0.0, 0.5]),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let draws: Vec<_> = (0..2000).map(|_| d.sample(&mut rng)).collect();
        assert!(!draws.contains(&ParamValue::Int(2)));
        let ones = draws.iter().filter(|v| **v == ParamValue::Int(1)).count();
        assert!((850..1150).contains(&ones), "{ones}");
    }

    #[test]
    fn sampling_is_fixed_for_a_seed() {
        // The same seed must give the same values on every machine and
        // version: these numbers may only change with a new id version.
        let d = Distribution::LogUniform { min: 1e-5, max: 1e-1 };
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let got: Vec<String> = (0..3).map(|_| d.sample(&mut rng).to_string()).collect();
        assert_eq!(got, ["0.005341", "0.06326", "5.129e-4"]);
    }

    fn moments(d: &Distribution, n: usize) -> (f64, f64) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let xs: Vec<f64> = (0..n).map(|_| d.sample(&mut rng).as_f64().unwrap()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        (mean, var)
    }

    #[test]
    fn normal_has_its_mean_and_spread() {
        let d = Distribution::Normal {
            mu: 2.0,
            sigma: 0.5,
            q: None,
        };
        let (mean, var) = moments(&d, 20_000);
        assert!((mean - 2.0).abs() < 0.02, "{mean}");
        assert!((var - 0.25).abs() < 0.01, "{var}");
    }

    #[test]
    fn beta_has_its_mean_and_stays_in_range() {
        for (a, b) in [(2.0, 5.0), (0.5, 0.5), (1.0, 1.0)] {
            let d = Distribution::Beta { a, b, q: None };
            let (mean, var) = moments(&d, 20_000);
            let want_var = a * b / ((a + b) * (a + b) * (a + b + 1.0));
            assert!((mean - a / (a + b)).abs() < 0.01, "{a} {b} {mean}");
            assert!((var - want_var).abs() < 0.01, "{a} {b} {var}");
        }
    }

    #[test]
    fn quantised_normals_give_multiples() {
        let d = Distribution::LogNormal {
            mu: 3.0,
            sigma: 0.5,
            q: Some(Step { q: 8.0, integer: true }),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..500 {
            let v = d.sample(&mut rng);
            assert!(v.as_i64().unwrap() % 8 == 0, "{v}");
            assert!(d.contains(&v));
        }
    }

    #[test]
    fn wandb_sampling_is_fixed_for_a_seed() {
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let got: Vec<String> = [
            Distribution::Normal {
                mu: 0.0,
                sigma: 1.0,
                q: None,
            },
            Distribution::LogNormal {
                mu: 0.0,
                sigma: 1.0,
                q: None,
            },
            Distribution::Beta {
                a: 2.0,
                b: 3.0,
                q: None,
            },
            Distribution::Beta {
                a: 1.0,
                b: 1.0,
                q: Some(Step { q: 0.1, integer: false }),
            },
        ]
        .iter()
        .map(|d| d.sample(&mut rng).to_string())
        .collect();
        assert_eq!(got, ["1.44", "0.4792", "0.4355", "0.8"]);
    }
}
