//! MNIST-style datasets: the IDX loader, train/validation/test splits, and
//! normalization as one affine map on raw pixel values.

use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// IDX magic number of an image file (unsigned bytes, 3 dimensions).
const IMAGES_MAGIC: u32 = 0x0000_0803;
/// IDX magic number of a label file (unsigned bytes, 1 dimension).
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Why a dataset could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// None of the places looked in has the dataset.
    #[error(
        "dataset `{dataset}` not found; looked for {file} in:\n{}\n{hint}",
        looked.iter().map(|p| format!("  - {}", p.display())).collect::<Vec<_>>().join("\n")
    )]
    Missing {
        /// The dataset's name.
        dataset: String,
        /// The file looked for.
        file: String,
        /// Every folder looked in.
        looked: Vec<PathBuf>,
        /// How to get it.
        hint: String,
    },
    /// A file exists but is not a valid IDX file.
    #[error("{}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why (not a `source`: the message holds it, and a chain would
        /// print it twice).
        error: std::io::Error,
    },
}

/// Images of one split: `count` images of `rows x cols` bytes, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    /// Number of images.
    pub count: usize,
    /// Height.
    pub rows: usize,
    /// Width.
    pub cols: usize,
    /// All pixels, image after image.
    pub pixels: Vec<u8>,
}

impl Images {
    /// Pixels per image.
    pub fn size(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * self.size()..(i + 1) * self.size()]
    }

    /// The images `range`, copied.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Images {
        let s = self.size();
        Images {
            count: range.len(),
            rows: self.rows,
            cols: self.cols,
            pixels: self.pixels[range.start * s..range.end * s].to_vec(),
        }
    }
}

/// Images and their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The images.
    pub images: Images,
    /// One label (0..=9) per image.
    pub labels: Vec<u8>,
}

impl Split {
    /// The first `n` items, or all of them when `n` is 0 or too large.
    pub fn take(&self, n: usize) -> Split {
        let n = if n == 0 { self.len() } else { n.min(self.len()) };
        self.range(0..n)
    }

    /// Items `range`, copied.
    pub fn range(&self, range: std::ops::Range<usize>) -> Split {
        Split {
            images: self.images.slice(range.clone()),
            labels: self.labels[range].to_vec(),
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no items.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// A dataset as published: the training and the test set.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The 60,000 training items (validation is carved out of these).
    pub train: Split,
    /// The 10,000 test items.
    pub test: Split,
}

/// Where the dataset's files are looked for, in order.
pub fn search_dirs(dataset: &str, data_dir: Option<&Path>) -> Vec<PathBuf> {
    // An explicit `data_dir` is the only place looked in: no surprises.
    if let Some(d) = data_dir {
        return vec![d.join(dataset), d.to_path_buf()];
    }
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("SWEEP_DATA_DIR") {
        dirs.push(PathBuf::from(d).join(dataset));
    }
    dirs.push(PathBuf::from("data").join(dataset));
    // The checkout this binary was built from: `cargo run` from anywhere inside it.
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data").join(dataset);
    if built_in.is_dir() {
        dirs.push(built_in);
    }
    dirs
}

fn hint(dataset: &str) -> String {
    match dataset {
        "fashion-mnist" => "get it with scripts/get-fashion-mnist (from Debian's dataset-fashion-mnist package), \
             or put the four canonical *-ubyte.gz files in data/fashion-mnist/ or $SWEEP_DATA_DIR/fashion-mnist/"
            .into(),
        _ => format!(
            "the repository ships MNIST in data/mnist/; run from the checkout, set `data_dir`, \
             or set SWEEP_DATA_DIR to a folder holding {dataset}/"
        ),
    }
}

/// Loads a dataset (`mnist`, `fashion-mnist`) from the first folder that has it.
pub fn load(dataset: &str, data_dir: Option<&Path>) -> Result<Dataset, DataError> {
    let dirs = search_dirs(dataset, data_dir);
    let first = "train-images-idx3-ubyte";
    let dir = dirs
        .iter()
        .find(|d| d.join(format!("{first}.gz")).is_file() || d.join(first).is_file())
        .ok_or_else(|| DataError::Missing {
            dataset: dataset.to_string(),
            file: format!("{first}[.gz]"),
            looked: dirs.clone(),
            hint: hint(dataset),
        })?;
    let split = |images: &str, labels: &str| -> Result<Split, DataError> {
        let (ipath, ibytes) = read_file(dir, images)?;
        let (lpath, lbytes) = read_file(dir, labels)?;
        let images = parse_images(&ibytes).map_err(|reason| DataError::Corrupt {
            path: ipath.clone(),
            reason,
        })?;
        let labels = parse_labels(&lbytes).map_err(|reason| DataError::Corrupt { path: lpath, reason })?;
        if images.count != labels.len() {
            return Err(DataError::Corrupt {
                path: ipath,
                reason: format!("{} images but {} labels", images.count, labels.len()),
            });
        }
        Ok(Split { images, labels })
    };
    Ok(Dataset {
        train: split("train-images-idx3-ubyte", "train-labels-idx1-ubyte")?,
        test: split("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")?,
    })
}

/// Reads `dir/name.gz` (or `dir/name`), decompressing gzip by its magic bytes.
fn read_file(dir: &Path, name: &str) -> Result<(PathBuf, Vec<u8>), DataError> {
    let gz = dir.join(format!("{name}.gz"));
    let path = if gz.is_file() { gz } else { dir.join(name) };
    let raw = std::fs::read(&path).map_err(|error| DataError::Io {
        path: path.clone(),
        error,
    })?;
    let bytes = decompress(&raw).map_err(|reason| DataError::Corrupt {
        path: path.clone(),
        reason,
    })?;
    Ok((path, bytes))
}

/// Gunzips `raw` when it starts with the gzip magic; returns it as is otherwise.
pub fn decompress(raw: &[u8]) -> Result<Vec<u8>, String> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        GzDecoder::new(raw)
            .read_to_end(&mut out)
            .map_err(|e| format!("damaged gzip data ({e}); download the file again"))?;
        Ok(out)
    } else {
        Ok(raw.to_vec())
    }
}

fn header(bytes: &[u8], words: usize) -> Result<Vec<u32>, String> {
    if bytes.len() < 4 * words {
        return Err(format!(
            "truncated: {} bytes, shorter than the {}-byte IDX header",
            bytes.len(),
            4 * words
        ));
    }
    Ok((0..words)
        .map(|i| u32::from_be_bytes(bytes[4 * i..4 * i + 4].try_into().expect("4 bytes")))
        .collect())
}

/// Parses an IDX image file (magic 2051), checking its size exactly.
pub fn parse_images(bytes: &[u8]) -> Result<Images, String> {
    let h = header(bytes, 4)?;
    if h[0] != IMAGES_MAGIC {
        return Err(format!(
            "not an IDX image file: magic number {:#010x}, expected {IMAGES_MAGIC:#010x}{}",
            h[0],
            if h[0] == LABELS_MAGIC {
                " (this is a label file)"
            } else {
                ""
            }
        ));
    }
    let (count, rows, cols) = (h[1] as usize, h[2] as usize, h[3] as usize);
    if rows == 0 || cols == 0 || rows > 4096 || cols > 4096 {
        return Err(format!("implausible image size {rows}x{cols}"));
    }
    let expected = 16 + count * rows * cols;
    if bytes.len() != expected {
        return Err(format!(
            "{} bytes, but a header of {count} images of {rows}x{cols} needs {expected}{}",
            bytes.len(),
            if bytes.len() < expected { " (truncated)" } else { "" }
        ));
    }
    Ok(Images {
        count,
        rows,
        cols,
        pixels: bytes[16..].to_vec(),
    })
}

/// Parses an IDX label file (magic 2049), checking its size and that labels are 0..=9.
pub fn parse_labels(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let h = header(bytes, 2)?;
    if h[0] != LABELS_MAGIC {
        return Err(format!(
            "not an IDX label file: magic number {:#010x}, expected {LABELS_MAGIC:#010x}{}",
            h[0],
            if h[0] == IMAGES_MAGIC {
                " (this is an image file)"
            } else {
                ""
            }
        ));
    }
    let count = h[1] as usize;
    if bytes.len() != 8 + count {
        return Err(format!(
            "{} bytes, but a header of {count} labels needs {}{}",
            bytes.len(),
            8 + count,
            if bytes.len() < 8 + count { " (truncated)" } else { "" }
        ));
    }
    let labels = bytes[8..].to_vec();
    if let Some(i) = labels.iter().position(|&l| l > 9) {
        return Err(format!("label {i} is {}, outside 0..=9", labels[i]));
    }
    Ok(labels)
}

/// Input normalization as `a * pixel + b` on raw pixel values 0..=255.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalization {
    /// Scale.
    pub a: f32,
    /// Shift.
    pub b: f32,
}

impl Normalization {
    /// The normalization called `name`; `zscore` and the min-max ones use
    /// statistics of `train` (the training split only, never validation or test).
    pub fn new(name: &str, mean: f64, std: f64, train: &Images) -> Normalization {
        let (lo, hi) = train
            .pixels
            .iter()
            .fold((255u8, 0u8), |(lo, hi), &p| (lo.min(p), hi.max(p)));
        let range = f64::from(hi.saturating_sub(lo)).max(1.0);
        let (a, b) = match name {
            "none" => (1.0, 0.0),
            "minmax" => (1.0 / range, -f64::from(lo) / range),
            "minmax_symmetric" => (2.0 / range, -2.0 * f64::from(lo) / range - 1.0),
            "zscore" => {
                let n = train.pixels.len().max(1) as f64;
                let m = train.pixels.iter().map(|&p| f64::from(p)).sum::<f64>() / n;
                let var = train.pixels.iter().map(|&p| (f64::from(p) - m).powi(2)).sum::<f64>() / n;
                let sd = var.sqrt().max(1e-6);
                (1.0 / sd, -m / sd)
            }
            // meanstd: pixels scaled to [0, 1], then (x - mean) / std.
            _ => (1.0 / (255.0 * std), -mean / std),
        };
        Normalization {
            a: a as f32,
            b: b as f32,
        }
    }

    /// The normalized value of every possible pixel byte.
    pub fn table(&self) -> [f32; 256] {
        std::array::from_fn(|p| self.a * p as f32 + self.b)
    }
}
