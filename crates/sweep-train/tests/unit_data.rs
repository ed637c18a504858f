//! Unit tests of `sweep_train::data` (kept outside the crate so that a test
//! build does not compile the whole trainer a second time).
use sweep_train::data::*;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for w in [IMAGES_MAGIC, count, rows, cols] {
        v.extend_from_slice(&w.to_be_bytes());
    }
    v.extend_from_slice(pixels);
    v
}

#[test]
fn parses_a_small_image_file() {
    let imgs = parse_images(&idx_images(2, 2, 3, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])).unwrap();
    assert_eq!((imgs.count, imgs.rows, imgs.cols), (2, 2, 3));
    assert_eq!(imgs.image(1), &[6, 7, 8, 9, 10, 11]);
}

#[test]
fn rejects_wrong_magic_truncation_and_bad_labels() {
    let mut swapped = idx_images(1, 1, 1, &[0]);
    swapped[3] = 0x01;
    assert!(parse_images(&swapped).unwrap_err().contains("this is a label file"));
    let err = parse_images(&idx_images(2, 2, 2, &[0; 7])).unwrap_err();
    assert!(err.contains("truncated"), "{err}");
    assert!(
        parse_images(&[0, 0, 8])
            .unwrap_err()
            .contains("shorter than the 16-byte IDX header")
    );
    let mut labels = LABELS_MAGIC.to_be_bytes().to_vec();
    labels.extend_from_slice(&2u32.to_be_bytes());
    labels.extend_from_slice(&[3, 12]);
    assert_eq!(parse_labels(&labels).unwrap_err(), "label 1 is 12, outside 0..=9");
}

#[test]
fn damaged_gzip_is_reported() {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &idx_images(1, 2, 2, &[1, 2, 3, 4])).unwrap();
    let gz = enc.finish().unwrap();
    assert_eq!(
        parse_images(&decompress(&gz).unwrap()).unwrap().pixels,
        vec![1, 2, 3, 4]
    );
    let err = decompress(&gz[..gz.len() - 6]).unwrap_err();
    assert!(err.contains("damaged gzip"), "{err}");
}

#[test]
fn normalizations_map_pixels_as_documented() {
    let imgs = Images {
        count: 1,
        rows: 1,
        cols: 4,
        pixels: vec![0, 51, 204, 255],
    };
    let t = Normalization::new("meanstd", 0.5, 0.5, &imgs).table();
    assert!((t[0] + 1.0).abs() < 1e-6 && (t[255] - 1.0).abs() < 1e-6);
    let t = Normalization::new("minmax", 0.0, 1.0, &imgs).table();
    assert!((t[0]).abs() < 1e-6 && (t[255] - 1.0).abs() < 1e-6);
    let t = Normalization::new("minmax_symmetric", 0.0, 1.0, &imgs).table();
    assert!((t[0] + 1.0).abs() < 1e-6 && (t[255] - 1.0).abs() < 1e-6);
    let z = Normalization::new("zscore", 0.0, 1.0, &imgs);
    let mean: f32 = imgs.pixels.iter().map(|&p| z.a * f32::from(p) + z.b).sum::<f32>() / 4.0;
    assert!(mean.abs() < 1e-5, "zscore centres the training pixels: {mean}");
    assert_eq!(Normalization::new("none", 0.0, 1.0, &imgs).table()[200], 200.0);
}
