//! Data augmentation: random crop (pad and crop), rotation and scaling of each
//! training image, as one affine warp with bilinear sampling, drawn per image
//! from the trial's seeded stream.

use crate::data::Normalization;
use rand_core::RngCore;

/// How training images are perturbed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augment {
    /// Pixels of zero padding around the image before a random crop of the
    /// original size: a shift of up to this many pixels in each direction.
    pub crop_padding: u32,
    /// Maximum rotation, degrees, either way.
    pub rotation_deg: f32,
    /// Maximum relative zoom: a factor drawn from `[1 - scale, 1 + scale]`.
    pub scale: f32,
}

/// A float in `[0, 1)` from 24 random bits.
fn unit(rng: &mut impl RngCore) -> f32 {
    (rng.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

impl Augment {
    /// Warps one `rows x cols` image into `out`, normalized through `norm`.
    pub fn apply(
        &self,
        rng: &mut impl RngCore,
        img: &[u8],
        rows: usize,
        cols: usize,
        norm: Normalization,
        out: &mut [f32],
    ) {
        let p = self.crop_padding as i64;
        // Integer shifts, as a pad-and-crop gives.
        let shift = |rng: &mut dyn RngCore| {
            if p == 0 {
                0.0
            } else {
                ((rng.next_u32() as i64).rem_euclid(2 * p + 1) - p) as f32
            }
        };
        let tx = shift(rng);
        let ty = shift(rng);
        let angle = (unit(rng) * 2.0 - 1.0) * self.rotation_deg.to_radians();
        let zoom = 1.0 + (unit(rng) * 2.0 - 1.0) * self.scale;
        let (sin, cos) = angle.sin_cos();
        let (cx, cy) = ((cols as f32 - 1.0) / 2.0, (rows as f32 - 1.0) / 2.0);
        let pixel = |x: i64, y: i64| -> f32 {
            if x < 0 || y < 0 || x >= cols as i64 || y >= rows as i64 {
                0.0
            } else {
                f32::from(img[y as usize * cols + x as usize])
            }
        };
        for y in 0..rows {
            for x in 0..cols {
                // Inverse map: where in the source does this output pixel come from?
                let (dx, dy) = (x as f32 - cx - tx, y as f32 - cy - ty);
                let sx = (cos * dx + sin * dy) / zoom + cx;
                let sy = (-sin * dx + cos * dy) / zoom + cy;
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let (x0, y0) = (x0 as i64, y0 as i64);
                let v = pixel(x0, y0) * (1.0 - fx) * (1.0 - fy)
                    + pixel(x0 + 1, y0) * fx * (1.0 - fy)
                    + pixel(x0, y0 + 1) * (1.0 - fx) * fy
                    + pixel(x0 + 1, y0 + 1) * fx * fy;
                // Rounding can leave v a hair outside the pixel range.
                out[y * cols + x] = norm.a * v.clamp(0.0, 255.0) + norm.b;
            }
        }
    }
}
