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

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    const IDENTITY: Normalization = Normalization { a: 1.0, b: 0.0 };

    fn digit() -> Vec<u8> {
        // A 28x28 image with a bright 6x10 bar in the middle.
        let mut img = vec![0u8; 28 * 28];
        for y in 9..19 {
            for x in 11..17 {
                img[y * 28 + x] = 255;
            }
        }
        img
    }

    #[test]
    fn no_augmentation_is_the_identity() {
        let aug = Augment {
            crop_padding: 0,
            rotation_deg: 0.0,
            scale: 0.0,
        };
        let img = digit();
        let mut out = vec![0.0; 784];
        aug.apply(&mut ChaCha8Rng::seed_from_u64(1), &img, 28, 28, IDENTITY, &mut out);
        let back: Vec<u8> = out.iter().map(|&v| v.round() as u8).collect();
        assert_eq!(back, img);
    }

    #[test]
    fn shifts_stay_within_the_padding_and_keep_the_ink() {
        let aug = Augment {
            crop_padding: 2,
            rotation_deg: 0.0,
            scale: 0.0,
        };
        let img = digit();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut seen_shift = false;
        for _ in 0..50 {
            let mut out = vec![0.0; 784];
            aug.apply(&mut rng, &img, 28, 28, IDENTITY, &mut out);
            let ink: f32 = out.iter().sum();
            assert!(
                (ink - 255.0 * 60.0).abs() < 1e-2,
                "a shift of the centred bar loses no ink"
            );
            let first = out.iter().position(|&v| v > 0.0).unwrap();
            let (y, x) = (first / 28, first % 28);
            assert!((7..=11).contains(&y) && (9..=13).contains(&x), "bar starts at {y},{x}");
            seen_shift |= (y, x) != (9, 11);
        }
        assert!(seen_shift);
    }

    #[test]
    fn rotation_and_scaling_are_reproducible_and_change_pixels() {
        let aug = Augment {
            crop_padding: 2,
            rotation_deg: 15.0,
            scale: 0.1,
        };
        let img = digit();
        let run = |seed| {
            let mut out = vec![0.0; 784];
            aug.apply(&mut ChaCha8Rng::seed_from_u64(seed), &img, 28, 28, IDENTITY, &mut out);
            out
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        let out = run(3);
        assert!(out.iter().all(|v| (0.0..=255.0).contains(v)));
        let ink: f32 = out.iter().sum();
        assert!(ink > 0.7 * 255.0 * 60.0 && ink < 1.3 * 255.0 * 60.0, "ink {ink}");
    }
}
