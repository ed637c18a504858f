//! 2-D convolution (stride 1, no dilation, one group) on plain slices,
//! forward and backward. No burn types here.
//!
//! Each image is unfolded (im2col) into a scratch matrix of `c * kh * kw`
//! rows, one per kernel tap, each row the input pixels that tap reads for
//! every output pixel, padded with zeros to a multiple of [`LANES`]. The
//! products with it are register-blocked loops over 16 output pixels at a
//! time: up to 8 output channels (forward), 4 channels by 4 taps (weight
//! gradient) or 8 taps (input gradient) accumulate in registers, so nothing is
//! packed or copied per product, and the unfolded image stays in the L2 cache.
//! The backward pass unfolds the input again rather than keeping every
//! image's unfolded copy (25 times the input for a 5x5 kernel).
//!
//! Every sum runs in a fixed order with `mul_add` (one rounding, as the FMA
//! instruction), so the bits are the same whichever instruction set the
//! machine has: `dispatch!` runs hand-written AVX-512 kernels when the processor
//! has AVX-512, else the same loops in plain Rust (compiled for AVX2 with FMA
//! when it has those).

/// Calls `$call` with the const `$n` set to the block size for `$left` items
/// left (at most `$max`, which is at most 8), and evaluates to that size:
/// `i += block!(n - i, 8, |N| kernel::<N>(i))`.
macro_rules! block {
    ($left:expr, $max:literal, |$n:ident| $call:expr) => {
        block!(@ ($left).min($max), $n, $call; 1 2 3 4 5 6 7)
    };
    (@ $size:expr, $n:ident, $call:expr; $($k:literal)*) => {
        match $size {
            $($k => {
                const $n: usize = $k;
                $call;
                $k
            })*
            _ => {
                const $n: usize = 8;
                $call;
                8
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod avx512;

/// Output pixels computed together: one 512-bit register of `f32`.
pub const LANES: usize = 16;

/// One value per output pixel of a block.
pub type Lanes = [f32; LANES];

/// The sizes of one convolution (stride 1, no dilation, one group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Images in the batch.
    pub batch: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Output channels.
    pub out_channels: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Zero padding: top, left, bottom, right.
    pub padding: [usize; 4],
    /// Output height and width.
    pub output: [usize; 2],
}

impl ConvShape {
    /// From the input `[n, c, h, w]` and weight `[o, c, kh, kw]` dimensions.
    pub fn new(x: [usize; 4], weight: [usize; 4], padding: [usize; 4]) -> ConvShape {
        let [batch, in_channels, h, w] = x;
        let [out_channels, c, kh, kw] = weight;
        assert_eq!(c, in_channels, "input channels of the input and the weight");
        let [top, left, bottom, right] = padding;
        assert!(
            h + top + bottom >= kh && w + left + right >= kw,
            "kernel larger than the padded input"
        );
        ConvShape {
            batch,
            in_channels,
            input: [h, w],
            out_channels,
            kernel: [kh, kw],
            padding,
            output: [h + top + bottom + 1 - kh, w + left + right + 1 - kw],
        }
    }

    /// `[n, c, h, w]`.
    pub fn input_dims(&self) -> [usize; 4] {
        [self.batch, self.in_channels, self.input[0], self.input[1]]
    }

    /// `[o, c, kh, kw]`.
    pub fn weight_dims(&self) -> [usize; 4] {
        [self.out_channels, self.in_channels, self.kernel[0], self.kernel[1]]
    }

    /// `[n, o, oh, ow]`.
    pub fn output_dims(&self) -> [usize; 4] {
        [self.batch, self.out_channels, self.output[0], self.output[1]]
    }

    /// Rows of an image's unfolded input: c * kh * kw.
    fn patch(&self) -> usize {
        self.in_channels * self.kernel[0] * self.kernel[1]
    }

    /// Output pixels per channel: oh * ow.
    fn pixels(&self) -> usize {
        self.output[0] * self.output[1]
    }

    /// A row of the unfolded image: the pixels rounded up to whole lanes.
    fn row(&self) -> usize {
        self.pixels().div_ceil(LANES) * LANES
    }

    fn image(&self) -> usize {
        self.in_channels * self.input[0] * self.input[1]
    }

    /// The output `[n, o, oh, ow]` for input `x` `[n, c, h, w]`, weight
    /// `[o, c, kh, kw]` and bias `[o]`.
    pub fn forward(&self, x: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f32> {
        let (o, k, l, row) = (self.out_channels, self.patch(), self.pixels(), self.row());
        assert_eq!(x.len(), self.batch * self.image());
        assert_eq!(weight.len(), o * k);
        assert_eq!(bias.len(), o);
        let mut y = vec![0.0f32; self.batch * o * l];
        let mut cols = vec![0.0f32; k * row];
        let mut out = vec![0.0f32; o * row];
        if l == 0 {
            return y;
        }
        for (image, y) in x.chunks_exact(self.image()).zip(y.chunks_exact_mut(o * l)) {
            self.im2col(image, &mut cols);
            forward_image(weight, bias, &cols, k, row, &mut out);
            for (y, out) in y.chunks_exact_mut(l).zip(out.chunks_exact(row)) {
                y.copy_from_slice(&out[..l]);
            }
        }
        y
    }

    /// The gradients of the input (when `want_dx`), the weight and the bias,
    /// from the input `x`, the weight and the output's gradient `dy`.
    pub fn backward(
        &self,
        x: &[f32],
        weight: &[f32],
        dy: &[f32],
        want_dx: bool,
    ) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
        let (o, k, l, row) = (self.out_channels, self.patch(), self.pixels(), self.row());
        assert_eq!(x.len(), self.batch * self.image());
        assert_eq!(weight.len(), o * k);
        assert_eq!(dy.len(), self.batch * o * l);
        // Per-lane sums over every image, added up lane by lane at the end.
        let mut dw_lanes = vec![[0.0f32; LANES]; o * k];
        let mut db_lanes = vec![[0.0f32; LANES]; o];
        let mut dx = want_dx.then(|| vec![0.0f32; self.batch * self.image()]);
        let mut cols = vec![0.0f32; k * row];
        let mut dyp = vec![0.0f32; o * row];
        let mut dcols = vec![0.0f32; k * row];
        if l > 0 {
            for (b, (image, dy)) in x.chunks_exact(self.image()).zip(dy.chunks_exact(o * l)).enumerate() {
                self.im2col(image, &mut cols);
                for (p, dy) in dyp.chunks_exact_mut(row).zip(dy.chunks_exact(l)) {
                    p[..l].copy_from_slice(dy);
                }
                weight_grad_image(&dyp, &cols, o, k, row, &mut dw_lanes, &mut db_lanes);
                if let Some(dx) = dx.as_mut() {
                    input_grad_image(weight, &dyp, o, k, row, &mut dcols);
                    self.col2im(&dcols, &mut dx[b * self.image()..(b + 1) * self.image()]);
                }
            }
        }
        let sum = |lanes: &Lanes| lanes.iter().fold(0.0f32, |s, v| s + v);
        (
            dx,
            dw_lanes.iter().map(sum).collect(),
            db_lanes.iter().map(sum).collect(),
        )
    }

    /// Visits every row run of the unfolded image: for channel `c`, kernel
    /// offset (i, j) and output row y, the output columns `x0..x1` that read
    /// input pixels `start..start + (x1 - x0)` of the image (all other columns
    /// of the run read zero padding), as
    /// `f(row of the unfolded image, y, x0, x1, Some(start) or None)`.
    fn runs(&self, mut f: impl FnMut(usize, usize, usize, usize, Option<usize>)) {
        let [h, w] = self.input;
        let [kh, kw] = self.kernel;
        let [oh, ow] = self.output;
        let [top, left, _, _] = self.padding;
        for c in 0..self.in_channels {
            for i in 0..kh {
                for j in 0..kw {
                    let row = (c * kh + i) * kw + j;
                    // Input column x + j - left lies in 0..w for x in x0..x1.
                    let x0 = left.saturating_sub(j).min(ow);
                    let x1 = (w + left).saturating_sub(j).clamp(x0, ow);
                    for y in 0..oh {
                        let sy = (y + i).checked_sub(top).filter(|&sy| sy < h);
                        let start = sy.filter(|_| x1 > x0).map(|sy| (c * h + sy) * w + x0 + j - left);
                        f(row, y, x0, x1, start);
                    }
                }
            }
        }
    }

    /// Writes `cols[(c, i, j), (y, x)] = image[c, y + i - top, x + j - left]`
    /// (zero outside the image), rows `self.row()` apart; the padding at the
    /// end of each row is never written (it stays zero).
    fn im2col(&self, image: &[f32], cols: &mut [f32]) {
        let (row_len, ow) = (self.row(), self.output[1]);
        self.runs(|row, y, x0, x1, start| {
            let run = &mut cols[row * row_len + y * ow..row * row_len + (y + 1) * ow];
            match start {
                Some(s) => {
                    run[..x0].fill(0.0);
                    run[x0..x1].copy_from_slice(&image[s..s + (x1 - x0)]);
                    run[x1..].fill(0.0);
                }
                None => run.fill(0.0),
            }
        });
    }

    /// The adjoint of `im2col`: adds each unfolded value into `image`.
    fn col2im(&self, cols: &[f32], image: &mut [f32]) {
        let (row_len, ow) = (self.row(), self.output[1]);
        self.runs(|row, y, x0, x1, start| {
            if let Some(s) = start {
                let run = &cols[row * row_len + y * ow + x0..row * row_len + y * ow + x1];
                for (d, v) in image[s..s + run.len()].iter_mut().zip(run) {
                    *d += v;
                }
            }
        });
    }
}

/// Defines `fn $name($args)`: with AVX-512, the hand-written kernel of the
/// same name in [`avx512`]; else `plain_$name`, compiled for AVX2 with FMA
/// when the processor has them (its helpers are `#[inline(always)]`, so they
/// are compiled for them too), or as it is. Both compute the same sums in the
/// same order with one rounding per product, so they give the same bits.
macro_rules! dispatch {
    ($name:ident, $plain:ident($($arg:ident: $ty:ty),* $(,)?)) => {
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) {
                    $plain($($arg),*)
                }
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the processor has the features the kernel enables.
                    return unsafe { avx512::$name($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the processor has the features `avx2` enables.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $plain($($arg),*)
        }
    };
}

dispatch!(forward_image, plain_forward_image(weight: &[f32], bias: &[f32], cols: &[f32], k: usize, row: usize, out: &mut [f32]));
dispatch!(weight_grad_image, plain_weight_grad_image(dy: &[f32], cols: &[f32], o: usize, k: usize, row: usize, dw: &mut [Lanes], db: &mut [Lanes]));
dispatch!(input_grad_image, plain_input_grad_image(weight: &[f32], dy: &[f32], o: usize, k: usize, row: usize, dcols: &mut [f32]));

/// `lanes[i] = a * v[i] + lanes[i]` for every lane, with one rounding.
#[inline(always)]
fn fma(lanes: &mut Lanes, a: f32, v: &Lanes) {
    for (s, v) in lanes.iter_mut().zip(v) {
        *s = a.mul_add(*v, *s);
    }
}

/// The lanes of `data` starting at `at`.
#[inline(always)]
fn lanes(data: &[f32], at: usize) -> &Lanes {
    data[at..at + LANES].try_into().expect("LANES values")
}

/// One image: `out[c, p] = bias[c] + sum over t of weight[c, t] * cols[t, p]`,
/// rows `row` apart, channels in blocks of up to 8 (`block!`).
#[inline(always)]
fn plain_forward_image(weight: &[f32], bias: &[f32], cols: &[f32], k: usize, row: usize, out: &mut [f32]) {
    let o = bias.len();
    let mut c0 = 0;
    while c0 < o {
        c0 += block!(o - c0, 8, |C| forward_block::<C>(weight, bias, cols, k, row, c0, out));
    }
}

#[inline(always)]
#[allow(clippy::needless_range_loop)] // `t` indexes every channel's weights
fn forward_block<const C: usize>(
    weight: &[f32],
    bias: &[f32],
    cols: &[f32],
    k: usize,
    row: usize,
    c0: usize,
    out: &mut [f32],
) {
    let w: [&[f32]; C] = std::array::from_fn(|c| &weight[(c0 + c) * k..(c0 + c + 1) * k]);
    for p in (0..row).step_by(LANES) {
        let mut acc: [Lanes; C] = std::array::from_fn(|c| [bias[c0 + c]; LANES]);
        for t in 0..k {
            let v = lanes(cols, t * row + p);
            for c in 0..C {
                fma(&mut acc[c], w[c][t], v);
            }
        }
        for (c, acc) in acc.iter().enumerate() {
            out[(c0 + c) * row + p..(c0 + c) * row + p + LANES].copy_from_slice(acc);
        }
    }
}

/// One image's share of the weight and bias gradients, added lane by lane:
/// `dw[c, t] += dy[c, p] * cols[t, p]` and `db[c] += dy[c, p]` over `p`.
#[inline(always)]
fn plain_weight_grad_image(
    dy: &[f32],
    cols: &[f32],
    o: usize,
    k: usize,
    row: usize,
    dw: &mut [Lanes],
    db: &mut [Lanes],
) {
    for (c, db) in db.iter_mut().enumerate() {
        for p in (0..row).step_by(LANES) {
            for (s, v) in db.iter_mut().zip(lanes(dy, c * row + p)) {
                *s += v;
            }
        }
    }
    let mut c0 = 0;
    while c0 < o {
        let cs = if o - c0 >= 4 { 4 } else { 1 };
        let mut t0 = 0;
        while t0 < k {
            match (cs, k - t0 >= 4) {
                (4, true) => weight_grad_block::<4, 4>(dy, cols, k, row, c0, t0, dw),
                (4, false) => weight_grad_block::<4, 1>(dy, cols, k, row, c0, t0, dw),
                (_, true) => weight_grad_block::<1, 4>(dy, cols, k, row, c0, t0, dw),
                (_, false) => weight_grad_block::<1, 1>(dy, cols, k, row, c0, t0, dw),
            }
            t0 += if k - t0 >= 4 { 4 } else { 1 };
        }
        c0 += cs;
    }
}

#[inline(always)]
fn weight_grad_block<const C: usize, const T: usize>(
    dy: &[f32],
    cols: &[f32],
    k: usize,
    row: usize,
    c0: usize,
    t0: usize,
    dw: &mut [Lanes],
) {
    let mut acc: [[Lanes; T]; C] = std::array::from_fn(|c| std::array::from_fn(|t| dw[(c0 + c) * k + t0 + t]));
    for p in (0..row).step_by(LANES) {
        let d: [&Lanes; C] = std::array::from_fn(|c| lanes(dy, (c0 + c) * row + p));
        let v: [&Lanes; T] = std::array::from_fn(|t| lanes(cols, (t0 + t) * row + p));
        for c in 0..C {
            for t in 0..T {
                for ((s, d), v) in acc[c][t].iter_mut().zip(d[c]).zip(v[t]) {
                    *s = d.mul_add(*v, *s);
                }
            }
        }
    }
    for (c, acc) in acc.iter().enumerate() {
        for (t, acc) in acc.iter().enumerate() {
            dw[(c0 + c) * k + t0 + t] = *acc;
        }
    }
}

/// One image's unfolded input gradient:
/// `dcols[t, p] = sum over c of weight[c, t] * dy[c, p]`, taps in blocks of 8.
#[inline(always)]
fn plain_input_grad_image(weight: &[f32], dy: &[f32], o: usize, k: usize, row: usize, dcols: &mut [f32]) {
    let mut t0 = 0;
    while t0 < k {
        t0 += block!(k - t0, 8, |T| input_grad_block::<T>(weight, dy, o, k, row, t0, dcols));
    }
}

#[inline(always)]
fn input_grad_block<const T: usize>(
    weight: &[f32],
    dy: &[f32],
    o: usize,
    k: usize,
    row: usize,
    t0: usize,
    dcols: &mut [f32],
) {
    for p in (0..row).step_by(LANES) {
        let mut acc = [[0.0f32; LANES]; T];
        for c in 0..o {
            let v = lanes(dy, c * row + p);
            for (t, acc) in acc.iter_mut().enumerate() {
                fma(acc, weight[c * k + t0 + t], v);
            }
        }
        for (t, acc) in acc.iter().enumerate() {
            dcols[(t0 + t) * row + p..(t0 + t) * row + p + LANES].copy_from_slice(acc);
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    fn values(n: usize, seed: &mut u64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (*seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|v| v.to_bits()).collect()
    }

    /// The AVX-512 kernels and the plain loops give the same bits, for the
    /// CNN's shapes and for block sizes that leave remainders.
    #[test]
    fn avx512_kernels_give_the_plain_loops_bits() {
        if !std::is_x86_feature_detected!("avx512f") {
            eprintln!("this processor has no AVX-512: only the plain loops run here");
            return;
        }
        let mut seed = 7;
        for (o, k, row) in [(6, 25, 784), (16, 150, 112), (5, 7, 48), (3, 11, 16), (9, 2, 32)] {
            let weight = values(o * k, &mut seed);
            let bias = values(o, &mut seed);
            let cols = values(k * row, &mut seed);
            let dy = values(o * row, &mut seed);
            let (mut a, mut b) = (vec![0.0; o * row], vec![0.0; o * row]);
            // SAFETY: the processor has AVX-512 (checked above).
            unsafe { avx512::forward_image(&weight, &bias, &cols, k, row, &mut a) };
            plain_forward_image(&weight, &bias, &cols, k, row, &mut b);
            assert_eq!(bits(&a), bits(&b), "forward, o {o} k {k}");

            let start: Vec<Lanes> = (0..o * k).map(|i| [i as f32 * 0.25; LANES]).collect();
            let (mut dw_a, mut db_a) = (start.clone(), vec![[1.0; LANES]; o]);
            let (mut dw_b, mut db_b) = (start, vec![[1.0; LANES]; o]);
            // SAFETY: as above.
            unsafe { avx512::weight_grad_image(&dy, &cols, o, k, row, &mut dw_a, &mut db_a) };
            plain_weight_grad_image(&dy, &cols, o, k, row, &mut dw_b, &mut db_b);
            assert_eq!(
                bits(dw_a.as_flattened()),
                bits(dw_b.as_flattened()),
                "weight grad, o {o} k {k}"
            );
            assert_eq!(
                bits(db_a.as_flattened()),
                bits(db_b.as_flattened()),
                "bias grad, o {o} k {k}"
            );

            let (mut dc_a, mut dc_b) = (vec![0.0; k * row], vec![0.0; k * row]);
            // SAFETY: as above.
            unsafe { avx512::input_grad_image(&weight, &dy, o, k, row, &mut dc_a) };
            plain_input_grad_image(&weight, &dy, o, k, row, &mut dc_b);
            assert_eq!(bits(&dc_a), bits(&dc_b), "input grad, o {o} k {k}");
        }
    }
}
