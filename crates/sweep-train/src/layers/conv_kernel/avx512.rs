//! The convolution's products written with AVX-512 intrinsics: the same sums
//! as the plain loops of the parent module, in the same order (each output
//! element accumulates its terms one after the other, with one rounding per
//! product and sum), so the same bits. Only how many elements are computed
//! together differs: the accumulators of a block stay in the 32 vector
//! registers, which the plain loops do not achieve.

// Block loops index several arrays by the same channel and tap.
#![allow(clippy::needless_range_loop)]

use super::{LANES, Lanes};
use std::arch::x86_64::{__m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps};

/// The 16 values of `data` at `at`.
#[inline(always)]
unsafe fn load(data: &[f32], at: usize) -> __m512 {
    let lanes = &data[at..at + LANES];
    // SAFETY: `lanes` holds 16 values; the load is unaligned.
    unsafe { _mm512_loadu_ps(lanes.as_ptr()) }
}

/// Writes `v` to the 16 values of `data` at `at`.
#[inline(always)]
unsafe fn store(data: &mut [f32], at: usize, v: __m512) {
    let lanes = &mut data[at..at + LANES];
    // SAFETY: `lanes` holds 16 values; the store is unaligned.
    unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), v) }
}

/// `out[c, p] = bias[c] + sum over t of weight[c, t] * cols[t, p]`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn forward_image(weight: &[f32], bias: &[f32], cols: &[f32], k: usize, row: usize, out: &mut [f32]) {
    let o = bias.len();
    assert!(weight.len() >= o * k && cols.len() >= k * row && out.len() >= o * row && row.is_multiple_of(LANES));
    let mut c0 = 0;
    while c0 < o {
        // SAFETY: the features are enabled; the loads and stores are in bounds (checked).
        c0 += block!(o - c0, 8, |C| unsafe {
            forward_block::<C>(weight, bias, cols, k, row, c0, out)
        });
    }
}

#[inline(always)]
unsafe fn forward_block<const C: usize>(
    weight: &[f32],
    bias: &[f32],
    cols: &[f32],
    k: usize,
    row: usize,
    c0: usize,
    out: &mut [f32],
) {
    let w: [&[f32]; C] = std::array::from_fn(|c| &weight[(c0 + c) * k..(c0 + c + 1) * k]);
    let mut p = 0;
    // Two pixel blocks at a time while there are two: twice the sums in flight.
    while p + 2 * LANES <= row {
        // SAFETY (this block): in bounds as `load` and `store` check.
        unsafe {
            let mut a: [__m512; C] = std::array::from_fn(|c| _mm512_set1_ps(bias[c0 + c]));
            let mut b = a;
            for t in 0..k {
                let u = load(cols, t * row + p);
                let v = load(cols, t * row + p + LANES);
                for c in 0..C {
                    let wc = _mm512_set1_ps(w[c][t]);
                    a[c] = _mm512_fmadd_ps(wc, u, a[c]);
                    b[c] = _mm512_fmadd_ps(wc, v, b[c]);
                }
            }
            for c in 0..C {
                store(out, (c0 + c) * row + p, a[c]);
                store(out, (c0 + c) * row + p + LANES, b[c]);
            }
        }
        p += 2 * LANES;
    }
    while p < row {
        // SAFETY: as above.
        unsafe {
            let mut a: [__m512; C] = std::array::from_fn(|c| _mm512_set1_ps(bias[c0 + c]));
            for t in 0..k {
                let u = load(cols, t * row + p);
                for c in 0..C {
                    a[c] = _mm512_fmadd_ps(_mm512_set1_ps(w[c][t]), u, a[c]);
                }
            }
            for c in 0..C {
                store(out, (c0 + c) * row + p, a[c]);
            }
        }
        p += LANES;
    }
}

/// `dw[c, t] += dy[c, p] * cols[t, p]` and `db[c] += dy[c, p]`, lane by lane,
/// in blocks of up to 4 channels by 4 taps.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn weight_grad_image(
    dy: &[f32],
    cols: &[f32],
    o: usize,
    k: usize,
    row: usize,
    dw: &mut [Lanes],
    db: &mut [Lanes],
) {
    assert!(
        dy.len() >= o * row && cols.len() >= k * row && dw.len() >= o * k && db.len() >= o && row.is_multiple_of(LANES)
    );
    for (c, db) in db.iter_mut().enumerate().take(o) {
        // SAFETY: in bounds as `load` and `store` check.
        unsafe {
            let mut s = _mm512_loadu_ps(db.as_ptr());
            for p in (0..row).step_by(LANES) {
                s = _mm512_add_ps(s, load(dy, c * row + p));
            }
            _mm512_storeu_ps(db.as_mut_ptr(), s);
        }
    }
    let mut c0 = 0;
    while c0 < o {
        let cs = (o - c0).min(4);
        let mut t0 = 0;
        while t0 < k {
            let ts = (k - t0).min(4);
            // SAFETY: the features are enabled; in bounds (checked).
            t0 += unsafe {
                match (cs, ts) {
                    (4, 4) => weight_grad_block::<4, 4>(dy, cols, k, row, c0, t0, dw),
                    (4, 3) => weight_grad_block::<4, 3>(dy, cols, k, row, c0, t0, dw),
                    (4, 2) => weight_grad_block::<4, 2>(dy, cols, k, row, c0, t0, dw),
                    (4, _) => weight_grad_block::<4, 1>(dy, cols, k, row, c0, t0, dw),
                    (3, 4) => weight_grad_block::<3, 4>(dy, cols, k, row, c0, t0, dw),
                    (3, _) => weight_grad_block::<3, 1>(dy, cols, k, row, c0, t0, dw),
                    (2, 4) => weight_grad_block::<2, 4>(dy, cols, k, row, c0, t0, dw),
                    (2, _) => weight_grad_block::<2, 1>(dy, cols, k, row, c0, t0, dw),
                    (_, 4) => weight_grad_block::<1, 4>(dy, cols, k, row, c0, t0, dw),
                    (_, _) => weight_grad_block::<1, 1>(dy, cols, k, row, c0, t0, dw),
                }
            };
        }
        c0 += cs;
    }
}

#[inline(always)]
unsafe fn weight_grad_block<const C: usize, const T: usize>(
    dy: &[f32],
    cols: &[f32],
    k: usize,
    row: usize,
    c0: usize,
    t0: usize,
    dw: &mut [Lanes],
) -> usize {
    // SAFETY (this function): in bounds as `load` checks and the indexing of `dw` does.
    unsafe {
        let mut acc: [[__m512; T]; C] =
            std::array::from_fn(|c| std::array::from_fn(|t| _mm512_loadu_ps(dw[(c0 + c) * k + t0 + t].as_ptr())));
        for p in (0..row).step_by(LANES) {
            let d: [__m512; C] = std::array::from_fn(|c| load(dy, (c0 + c) * row + p));
            let v: [__m512; T] = std::array::from_fn(|t| load(cols, (t0 + t) * row + p));
            for c in 0..C {
                for t in 0..T {
                    acc[c][t] = _mm512_fmadd_ps(d[c], v[t], acc[c][t]);
                }
            }
        }
        for c in 0..C {
            for t in 0..T {
                _mm512_storeu_ps(dw[(c0 + c) * k + t0 + t].as_mut_ptr(), acc[c][t]);
            }
        }
    }
    T
}

/// `dcols[t, p] = sum over c of weight[c, t] * dy[c, p]`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn input_grad_image(weight: &[f32], dy: &[f32], o: usize, k: usize, row: usize, dcols: &mut [f32]) {
    assert!(weight.len() >= o * k && dy.len() >= o * row && dcols.len() >= k * row && row.is_multiple_of(LANES));
    let mut t0 = 0;
    while t0 < k {
        // SAFETY: the features are enabled; in bounds (checked).
        t0 += block!(k - t0, 8, |T| unsafe {
            input_grad_block::<T>(weight, dy, o, k, row, t0, dcols)
        });
    }
}

#[inline(always)]
unsafe fn input_grad_block<const T: usize>(
    weight: &[f32],
    dy: &[f32],
    o: usize,
    k: usize,
    row: usize,
    t0: usize,
    dcols: &mut [f32],
) {
    for p in (0..row).step_by(LANES) {
        // SAFETY: in bounds as `load` and `store` check.
        unsafe {
            let mut acc: [__m512; T] = [_mm512_set1_ps(0.0); T];
            for c in 0..o {
                let v = load(dy, c * row + p);
                for (t, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm512_fmadd_ps(_mm512_set1_ps(weight[c * k + t0 + t]), v, *acc);
                }
            }
            for (t, acc) in acc.iter().enumerate() {
                store(dcols, (t0 + t) * row + p, *acc);
            }
        }
    }
}
