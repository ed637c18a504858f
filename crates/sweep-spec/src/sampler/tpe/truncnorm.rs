//! The truncated normal distribution: log-density, interval mass and quantile.
//!
//! A port of Optuna's `optuna/samplers/_tpe/_truncnorm.py` (itself from
//! SciPy), scalar rather than vectorised. Everything works in log space on the
//! left tail, where the normal CDF is accurate, and mirrors right-tail cases
//! onto it.

use super::erf::{erf, erfc};
use std::f64::consts::{FRAC_1_SQRT_2, PI, SQRT_2};

/// `ln(sqrt(2 pi))`.
const NORM_PDF_LOG_C: f64 = 0.918_938_533_204_672_8;

/// The standard normal CDF (Optuna's `_ndtr_single`).
pub fn ndtr(a: f64) -> f64 {
    let x = a / SQRT_2;
    if x < -FRAC_1_SQRT_2 {
        0.5 * erfc(-x)
    } else if x < FRAC_1_SQRT_2 {
        0.5 + 0.5 * erf(x)
    } else {
        1.0 - 0.5 * erfc(x)
    }
}

/// `ln(ndtr(a))`, accurate far into the left tail (Optuna's `_log_ndtr_single`).
pub fn log_ndtr(a: f64) -> f64 {
    if a > 6.0 {
        return -ndtr(-a);
    }
    if a > -20.0 {
        return ndtr(a).ln();
    }
    // The asymptotic series of the Mills ratio.
    let log_lhs = -0.5 * a * a - (-a).ln() - 0.5 * (2.0 * PI).ln();
    let mut last_total = 0.0_f64;
    let mut right_hand_side = 1.0_f64;
    let mut numerator = 1.0;
    let mut denom_factor = 1.0;
    let denom_cons = 1.0 / (a * a);
    let mut sign = 1.0;
    let mut i = 0.0;
    while (last_total - right_hand_side).abs() > f64::EPSILON {
        i += 1.0;
        last_total = right_hand_side;
        sign = -sign;
        denom_factor *= denom_cons;
        numerator *= 2.0 * i - 1.0;
        right_hand_side += sign * numerator * denom_factor;
    }
    log_lhs + right_hand_side.ln()
}

/// `ln(exp(p) - exp(q))` for `p >= q`.
fn log_diff(log_p: f64, log_q: f64) -> f64 {
    log_p + (-(log_q - log_p).exp()).ln_1p()
}

/// `ln(exp(p) + exp(q))`.
fn log_sum(p: f64, q: f64) -> f64 {
    if p == f64::NEG_INFINITY {
        return q;
    }
    if q == f64::NEG_INFINITY {
        return p;
    }
    let m = p.max(q);
    m + ((p - m).exp() + (q - m).exp()).ln()
}

/// `ln` of the standard normal's mass in `[a, b]` (Optuna's `_log_gauss_mass`).
pub fn log_gauss_mass(a: f64, b: f64) -> f64 {
    if b <= 0.0 {
        log_diff(log_ndtr(b), log_ndtr(a))
    } else if a > 0.0 {
        log_diff(log_ndtr(-a), log_ndtr(-b))
    } else {
        // Both tails are small: 1 - left - right, without cancellation.
        (-ndtr(a) - ndtr(-b)).ln_1p()
    }
}

/// The `x` with `log_ndtr(x) = y` (`y <= 0`), by Newton's method from an
/// asymptotic first guess (Optuna's `_ndtri_exp`).
fn ndtri_exp(y: f64) -> f64 {
    // Near 0, solve for -x in the other tail: log_ndtr(-x) = ln(1 - e^y).
    let flipped = y > -1e-2;
    let z = if flipped { (-y.exp_m1()).ln() } else { y };
    let mut x = if z < -5.0 {
        -(-2.0 * (z + NORM_PDF_LOG_C)).sqrt()
    } else {
        -(3f64.sqrt() / PI) * (-z).exp_m1().ln()
    };
    for _ in 0..100 {
        let log_ndtr_x = log_ndtr(x);
        let log_norm_pdf_x = -0.5 * x * x - NORM_PDF_LOG_C;
        let dx = (log_ndtr_x - z) * (log_ndtr_x - log_norm_pdf_x).exp();
        x -= dx;
        // Converged, or NaN (which the caller clamps away).
        if dx.abs() < 1e-8 * x.abs() || dx.is_nan() {
            break;
        }
    }
    if flipped { -x } else { x }
}

/// The quantile `q` in `[0, 1)` of the standard normal truncated to `[a, b]`
/// (Optuna's `ppf`).
pub fn ppf(q: f64, a: f64, b: f64) -> f64 {
    if q == 0.0 {
        return a;
    }
    if q == 1.0 {
        return b;
    }
    let log_mass = log_gauss_mass(a, b);
    let x = if a < 0.0 {
        ndtri_exp(log_sum(log_ndtr(a), q.ln() + log_mass))
    } else {
        -ndtri_exp(log_sum(log_ndtr(-b), (-q).ln_1p() + log_mass))
    };
    // Newton's method can leave the interval by a rounding error, or fail
    // where the CDF is 1 to the last bit; the answer is then an end.
    if x.is_nan() {
        if q < 0.5 { a } else { b }
    } else {
        x.clamp(a, b)
    }
}

/// The log-density at `x` of a normal `N(loc, scale)` truncated to the
/// standardised interval `[a, b]`; `-inf` outside it (Optuna's `logpdf`).
/// `log_mass` is `log_gauss_mass(a, b)`, computed once per kernel.
pub fn logpdf(x: f64, a: f64, b: f64, loc: f64, scale: f64, log_mass: f64) -> f64 {
    let z = (x - loc) / scale;
    if z < a || z > b {
        return f64::NEG_INFINITY;
    }
    -(z * z) / 2.0 - NORM_PDF_LOG_C - log_mass - scale.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cdf_is_accurate_in_both_tails() {
        assert!((ndtr(0.0) - 0.5).abs() < 1e-16);
        assert!((ndtr(1.0) - 0.841_344_746_068_542_9).abs() < 1e-15);
        // ln(erfc(-a / sqrt 2) / 2) by Python: -30, -10, and -ndtr(-8).
        assert!((log_ndtr(-30.0) - -454.321_243_956_343_1).abs() < 1e-9);
        assert!((log_ndtr(-10.0) - -53.231_285_150_512_46).abs() < 1e-10);
        assert!((log_ndtr(8.0) - -6.220_960_574_271_819e-16).abs() < 1e-25);
    }

    #[test]
    fn the_mass_of_an_interval() {
        let whole = log_gauss_mass(-1.0, 1.0).exp();
        assert!((whole - 0.682_689_492_137_085_9).abs() < 1e-14);
        // Far in a tail the mass is tiny but its log is finite.
        let tail = log_gauss_mass(20.0, 21.0);
        assert!(tail.is_finite() && tail < -200.0, "{tail}");
        assert_eq!(log_gauss_mass(-2.0, 3.0), log_gauss_mass(-3.0, 2.0));
    }

    #[test]
    fn ppf_inverts_the_truncated_cdf() {
        for &(a, b) in &[(-1.0, 1.0), (-5.0, -2.0), (0.5, 9.0), (-30.0, 30.0), (3.0, 3.5)] {
            let mass = log_gauss_mass(a, b).exp();
            for i in 1..20 {
                let q = f64::from(i) / 20.0;
                let x = ppf(q, a, b);
                assert!((a..=b).contains(&x), "ppf({q}, {a}, {b}) = {x}");
                let got = if x <= 0.0 {
                    (log_gauss_mass(a, x).exp()) / mass
                } else {
                    1.0 - log_gauss_mass(x, b).exp() / mass
                };
                assert!((got - q).abs() < 1e-7, "cdf(ppf({q}, {a}, {b})) = {got}");
            }
        }
        assert_eq!(ppf(0.0, -1.0, 2.0), -1.0);
    }

    #[test]
    fn logpdf_integrates_to_one() {
        let (lo, hi, loc, scale) = (0.0, 3.0, 2.5, 0.7);
        let (a, b) = ((lo - loc) / scale, (hi - loc) / scale);
        let mass = log_gauss_mass(a, b);
        let n = 30_000;
        let h = (hi - lo) / f64::from(n);
        let total: f64 = (0..n)
            .map(|i| logpdf(lo + (f64::from(i) + 0.5) * h, a, b, loc, scale, mass).exp() * h)
            .sum();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
        assert_eq!(logpdf(3.1, a, b, loc, scale, mass), f64::NEG_INFINITY);
    }
}
