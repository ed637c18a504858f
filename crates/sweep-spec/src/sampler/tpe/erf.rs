//! The error function and its complement, for the normal distribution's CDF.
//!
//! `f64::erf` is not stable Rust, and a platform's C library may differ in the
//! last bits; this is FreeBSD's `s_erf.c` (by way of musl and Rust's `libm`
//! crate), so every machine computes the same values.
//!
//! Original notice:
//!
//! Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
//! Developed at SunPro, a Sun Microsystems, Inc. business.
//! Permission to use, copy, modify, and distribute this software is freely
//! granted, provided that this notice is preserved.

// The coefficients are written as the original gives them.
#![allow(clippy::excessive_precision, clippy::unreadable_literal)]

const ERX: f64 = 8.45062911510467529297e-01;
const PP0: f64 = 1.28379167095512558561e-01;
const PP1: f64 = -3.25042107247001499370e-01;
const PP2: f64 = -2.84817495755985104766e-02;
const PP3: f64 = -5.77027029648944159157e-03;
const PP4: f64 = -2.37630166566501626084e-05;
const QQ1: f64 = 3.97917223959155352819e-01;
const QQ2: f64 = 6.50222499887672944485e-02;
const QQ3: f64 = 5.08130628187576562776e-03;
const QQ4: f64 = 1.32494738004321644526e-04;
const QQ5: f64 = -3.96022827877536812320e-06;
const PA0: f64 = -2.36211856075265944077e-03;
const PA1: f64 = 4.14856118683748331666e-01;
const PA2: f64 = -3.72207876035701323847e-01;
const PA3: f64 = 3.18346619901161753674e-01;
const PA4: f64 = -1.10894694282396677476e-01;
const PA5: f64 = 3.54783043256182359371e-02;
const PA6: f64 = -2.16637559486879084300e-03;
const QA1: f64 = 1.06420880400844228286e-01;
const QA2: f64 = 5.40397917702171048937e-01;
const QA3: f64 = 7.18286544141962662868e-02;
const QA4: f64 = 1.26171219808761642112e-01;
const QA5: f64 = 1.36370839120290507362e-02;
const QA6: f64 = 1.19844998467991074170e-02;
const RA0: f64 = -9.86494403484714822705e-03;
const RA1: f64 = -6.93858572707181764372e-01;
const RA2: f64 = -1.05586262253232909814e01;
const RA3: f64 = -6.23753324503260060396e01;
const RA4: f64 = -1.62396669462573470355e02;
const RA5: f64 = -1.84605092906711035994e02;
const RA6: f64 = -8.12874355063065934246e01;
const RA7: f64 = -9.81432934416914548592e00;
const SA1: f64 = 1.96512716674392571292e01;
const SA2: f64 = 1.37657754143519042600e02;
const SA3: f64 = 4.34565877475229228821e02;
const SA4: f64 = 6.45387271733267880336e02;
const SA5: f64 = 4.29008140027567833386e02;
const SA6: f64 = 1.08635005541779435134e02;
const SA7: f64 = 6.57024977031928170135e00;
const SA8: f64 = -6.04244152148580987438e-02;
const RB0: f64 = -9.86494292470009928597e-03;
const RB1: f64 = -7.99283237680523006574e-01;
const RB2: f64 = -1.77579549177547519889e01;
const RB3: f64 = -1.60636384855821916062e02;
const RB4: f64 = -6.37566443368389627722e02;
const RB5: f64 = -1.02509513161107724954e03;
const RB6: f64 = -4.83519191608651397019e02;
const SB1: f64 = 3.03380607434824582924e01;
const SB2: f64 = 3.25792512996573918826e02;
const SB3: f64 = 1.53672958608443695994e03;
const SB4: f64 = 3.19985821950859553908e03;
const SB5: f64 = 2.55305040643316442583e03;
const SB6: f64 = 4.74528541206955367215e02;
const SB7: f64 = -2.24409524465858183362e01;
const EFX8: f64 = 1.027_033_336_764_100_7;

/// The high 32 bits of `x`.
fn high_word(x: f64) -> u32 {
    (x.to_bits() >> 32) as u32
}

/// `x` with its low 32 bits cleared.
fn clear_low_word(x: f64) -> f64 {
    f64::from_bits(x.to_bits() & 0xffff_ffff_0000_0000)
}

/// `erfc(|x|)` for `0.84375 <= |x| < 1.25`.
fn erfc1(x: f64) -> f64 {
    let s = x.abs() - 1.0;
    let p = PA0 + s * (PA1 + s * (PA2 + s * (PA3 + s * (PA4 + s * (PA5 + s * PA6)))));
    let q = 1.0 + s * (QA1 + s * (QA2 + s * (QA3 + s * (QA4 + s * (QA5 + s * QA6)))));
    1.0 - ERX - p / q
}

/// `erfc(|x|)` for `0.84375 <= |x| < 28`; `ix` is the high word of `|x|`.
fn erfc2(ix: u32, x: f64) -> f64 {
    if ix < 0x3ff4_0000 {
        return erfc1(x);
    }
    let x = x.abs();
    let s = 1.0 / (x * x);
    let (r, big_s) = if ix < 0x4006_db6d {
        (
            RA0 + s * (RA1 + s * (RA2 + s * (RA3 + s * (RA4 + s * (RA5 + s * (RA6 + s * RA7)))))),
            1.0 + s * (SA1 + s * (SA2 + s * (SA3 + s * (SA4 + s * (SA5 + s * (SA6 + s * (SA7 + s * SA8))))))),
        )
    } else {
        (
            RB0 + s * (RB1 + s * (RB2 + s * (RB3 + s * (RB4 + s * (RB5 + s * RB6))))),
            1.0 + s * (SB1 + s * (SB2 + s * (SB3 + s * (SB4 + s * (SB5 + s * (SB6 + s * SB7)))))),
        )
    };
    let z = clear_low_word(x);
    (-z * z - 0.5625).exp() * ((z - x) * (z + x) + r / big_s).exp() / x
}

/// The error function.
pub fn erf(x: f64) -> f64 {
    let hx = high_word(x);
    let negative = hx >> 31 != 0;
    let ix = hx & 0x7fff_ffff;
    if ix >= 0x7ff0_0000 {
        // erf(nan) = nan, erf(+-inf) = +-1.
        return if x.is_nan() { x } else { x.signum() };
    }
    if ix < 0x3feb_0000 {
        // |x| < 0.84375
        if ix < 0x3e30_0000 {
            // |x| < 2**-28
            return 0.125 * (8.0 * x + EFX8 * x);
        }
        let z = x * x;
        let r = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
        let s = 1.0 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
        return x + x * (r / s);
    }
    let y = if ix < 0x4018_0000 {
        // 0.84375 <= |x| < 6
        1.0 - erfc2(ix, x)
    } else {
        1.0 - f64::from_bits(0x0010_0000_0000_0000)
    };
    if negative { -y } else { y }
}

/// The complementary error function, `1 - erf(x)` without the cancellation.
pub fn erfc(x: f64) -> f64 {
    let hx = high_word(x);
    let negative = hx >> 31 != 0;
    let ix = hx & 0x7fff_ffff;
    if ix >= 0x7ff0_0000 {
        // erfc(nan) = nan, erfc(+inf) = 0, erfc(-inf) = 2.
        return if x.is_nan() {
            x
        } else if negative {
            2.0
        } else {
            0.0
        };
    }
    if ix < 0x3feb_0000 {
        // |x| < 0.84375
        if ix < 0x3c70_0000 {
            // |x| < 2**-56
            return 1.0 - x;
        }
        let z = x * x;
        let r = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
        let s = 1.0 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
        let y = r / s;
        if negative || ix < 0x3fd0_0000 {
            // x < 1/4
            return 1.0 - (x + x * y);
        }
        return 0.5 - (x - 0.5 + x * y);
    }
    if ix < 0x403c_0000 {
        // 0.84375 <= |x| < 28
        return if negative { 2.0 - erfc2(ix, x) } else { erfc2(ix, x) };
    }
    let tiny = f64::from_bits(0x0010_0000_0000_0000);
    if negative { 2.0 - tiny } else { tiny * tiny }
}

#[cfg(test)]
mod tests {
    use super::{erf, erfc};

    #[test]
    fn matches_known_values() {
        // Reference values: Python's math.erf and math.erfc.
        let cases = [
            (0.0, 0.0),
            (1e-30, 1.1283791670955127e-30),
            (0.5, 0.5204998778130465),
            (1.0, 0.8427007929497149),
            (2.0, 0.9953222650189527),
            (3.5, 0.9999992569016276),
            (-1.0, -0.8427007929497149),
        ];
        for (x, want) in cases {
            assert!(
                (erf(x) - want).abs() <= 2.0 * f64::EPSILON * want.abs().max(1e-300),
                "erf({x}) = {}",
                erf(x)
            );
        }
        let cases = [
            (0.0, 1.0),
            (0.5, 0.4795001221869535),
            (1.0, 0.15729920705028513),
            (3.0, 2.2090496998585438e-5),
            (10.0, 2.088487583762545e-45),
            (27.0, 5.23705e-319),
            (-1.0, 1.842700792949715),
        ];
        for (x, want) in cases {
            assert!(
                (erfc(x) - want).abs() <= 4.0 * f64::EPSILON * want.abs() + 1e-320,
                "erfc({x}) = {}",
                erfc(x)
            );
        }
        assert!(erf(f64::NAN).is_nan());
        assert_eq!(erfc(f64::INFINITY), 0.0);
        assert_eq!(erfc(f64::NEG_INFINITY), 2.0);
    }
}
