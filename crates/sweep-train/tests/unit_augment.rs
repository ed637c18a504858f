//! Unit tests of `sweep_train::augment` (kept outside the crate so that a test
//! build does not compile the whole trainer a second time).
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use sweep_train::augment::*;
use sweep_train::data::Normalization;

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
