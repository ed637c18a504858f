//! Checkpoint files: what a trial keeps in `SWEEP_CHECKPOINT_DIR` so that an
//! attempt started again continues where the last one stopped.
//!
//! This module knows files, not burn: a checkpoint is a list of byte
//! sections (the trainer decides what they hold, see `crate::resume`) under
//! a one-line JSON header. Each file is
//!
//! ```text
//! {"magic":"sweep-checkpoint","format":1,"sweep":"0.1.0","kind":"state","fingerprint":"…","epoch":3,
//!  "sections":[812,200000,407554,815244],"xxh3":"…","best":{"file":"best-e0003.ckpt","epoch":3,"xxh3":"…"}}
//! <the sections, back to back>
//! ```
//!
//! The folder holds `state.ckpt` (the last checkpoint) and one
//! `best-eNNNN.ckpt` (the weights of the best epoch so far, written only
//! when the best epoch changes, named in `state.ckpt`'s header with its
//! checksum). Every file is written to a temporary name in the same folder,
//! synced, renamed into place, and the folder synced: a crash leaves the
//! previous checkpoint or the new one, never a mix. A best file is written
//! before the state that names it, and older best files are removed after.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::{Xxh3, xxh3_128};

/// Version of the file layout; a checkpoint of another version is refused.
pub const FORMAT: u32 = 1;
/// The version of sweep that writes (and alone reads) these checkpoints.
pub const SWEEP_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The last checkpoint's file name.
pub const STATE_FILE: &str = "state.ckpt";
/// Where a refused state file is moved (replacing an older refused one).
pub const REFUSED_FILE: &str = "refused-state.ckpt";
const MAGIC: &str = "sweep-checkpoint";
const TMP_PREFIX: &str = ".tmp-";
/// A header longer than this is no header.
const MAX_HEADER: usize = 64 * 1024;

/// The header line of a checkpoint file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always `sweep-checkpoint`.
    pub magic: String,
    /// [`FORMAT`] of the writer.
    pub format: u32,
    /// [`SWEEP_VERSION`] of the writer.
    pub sweep: String,
    /// `state` or `best`.
    pub kind: String,
    /// The trial's [`Fingerprint`]: its training configuration and data.
    pub fingerprint: String,
    /// The last epoch the file holds (the best epoch for a best file).
    pub epoch: u32,
    /// Length of each section, in order.
    pub sections: Vec<u64>,
    /// xxh3-128 of the sections, as 32 hex digits.
    pub xxh3: String,
    /// The best-weights file that goes with a state file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best: Option<BestRef>,
}

/// A state file's reference to its best-weights file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BestRef {
    /// File name in the checkpoint folder.
    pub file: String,
    /// The best epoch.
    pub epoch: u32,
    /// The best file's payload checksum (its header's `xxh3`).
    pub xxh3: String,
}

/// Why a checkpoint found in the folder is not used.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The file could not be read.
    #[error("cannot be read ({0})")]
    Unreadable(std::io::Error),
    /// No JSON header line, or not ours.
    #[error("unparsable header ({0})")]
    Header(String),
    /// Another file layout.
    #[error("format {found}, this sweep reads format {FORMAT}")]
    Format {
        /// The file's format.
        found: u32,
    },
    /// Written by another version of sweep.
    #[error("written by sweep {found}, this is sweep {SWEEP_VERSION}")]
    Version {
        /// The writer's version.
        found: String,
    },
    /// Written for another configuration, seed or dataset.
    #[error("written for another trial configuration (fingerprint {found}, this trial's is {expected})")]
    OtherConfig {
        /// The file's fingerprint.
        found: String,
        /// This trial's.
        expected: String,
    },
    /// Shorter (or longer) than its header says.
    #[error("truncated or padded: {have} payload bytes, the header says {need}")]
    Length {
        /// Bytes after the header.
        have: u64,
        /// Sum of the section lengths.
        need: u64,
    },
    /// The payload does not hash to the header's checksum.
    #[error("damaged: checksum {found} of the payload, the header says {expected}")]
    Checksum {
        /// The payload's hash.
        found: String,
        /// The header's.
        expected: String,
    },
    /// The best-weights file is missing or does not match.
    #[error("its best-weights file {file}: {why}")]
    Best {
        /// The best file's name.
        file: String,
        /// What is wrong with it.
        why: String,
    },
    /// The sections passed every check but their content is unusable.
    #[error("unusable content ({0})")]
    Content(String),
}

/// A fingerprint of everything a trial's training state depends on:
/// an xxh3-128 over length-prefixed parts.
#[derive(Clone, Default)]
pub struct Fingerprint(Xxh3);

impl Fingerprint {
    /// An empty fingerprint.
    pub fn new() -> Fingerprint {
        Fingerprint(Xxh3::new())
    }

    /// Adds one part (its length first, so parts cannot run into each other).
    pub fn add(&mut self, part: &[u8]) -> &mut Self {
        self.0.update(&(part.len() as u64).to_le_bytes());
        self.0.update(part);
        self
    }

    /// The fingerprint as 32 hex digits.
    pub fn hex(&self) -> String {
        format!("{:032x}", self.0.digest128())
    }
}

/// A checkpoint read back and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The last epoch it holds.
    pub epoch: u32,
    /// The state's sections.
    pub sections: Vec<Vec<u8>>,
    /// The best epoch and its sections, when the state names a best file.
    pub best: Option<(BestRef, Vec<Vec<u8>>)>,
}

/// The checkpoint folder of one trial.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    fingerprint: String,
}

fn checksum(sections: &[Vec<u8>]) -> String {
    let mut h = Xxh3::new();
    for s in sections {
        h.update(s);
    }
    format!("{:032x}", h.digest128())
}

/// Splits a file into its header and payload and checks everything the
/// header promises. `kind` is `state` or `best`.
pub fn parse(bytes: &[u8], kind: &str, fingerprint: &str) -> Result<(Header, Vec<Vec<u8>>), Refusal> {
    let end = bytes
        .iter()
        .take(MAX_HEADER)
        .position(|&b| b == b'\n')
        .ok_or_else(|| Refusal::Header("no header line".into()))?;
    let header: Header = serde_json::from_slice(&bytes[..end]).map_err(|e| Refusal::Header(e.to_string()))?;
    if header.magic != MAGIC || header.kind != kind {
        return Err(Refusal::Header(format!(
            "a `{}` file of `{}`, expected a `{kind}` file of `{MAGIC}`",
            header.kind, header.magic
        )));
    }
    if header.format != FORMAT {
        return Err(Refusal::Format { found: header.format });
    }
    if header.sweep != SWEEP_VERSION {
        return Err(Refusal::Version { found: header.sweep });
    }
    if header.fingerprint != fingerprint {
        return Err(Refusal::OtherConfig {
            found: header.fingerprint,
            expected: fingerprint.to_string(),
        });
    }
    let payload = &bytes[end + 1..];
    let need = header
        .sections
        .iter()
        .try_fold(0u64, |a, &l| a.checked_add(l))
        .ok_or_else(|| Refusal::Header("section lengths overflow".into()))?;
    if payload.len() as u64 != need {
        return Err(Refusal::Length {
            have: payload.len() as u64,
            need,
        });
    }
    let found = format!("{:032x}", xxh3_128(payload));
    if found != header.xxh3 {
        return Err(Refusal::Checksum {
            found,
            expected: header.xxh3,
        });
    }
    let mut sections = Vec::with_capacity(header.sections.len());
    let mut at = 0usize;
    for &len in &header.sections {
        sections.push(payload[at..at + len as usize].to_vec());
        at += len as usize;
    }
    Ok((header, sections))
}

/// Writes `bytes` to `dir/name` atomically: a temporary file in `dir`,
/// synced, renamed over `name`, and `dir` synced.
fn write_atomic(dir: &Path, name: &str, parts: &[&[u8]]) -> std::io::Result<u64> {
    let tmp = dir.join(format!("{TMP_PREFIX}{name}-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        let mut len = 0u64;
        for p in parts {
            f.write_all(p)?;
            len += p.len() as u64;
        }
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, dir.join(name))?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(len)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl Store {
    /// The checkpoints in `dir` of the trial with `fingerprint`.
    pub fn new(dir: impl Into<PathBuf>, fingerprint: impl Into<String>) -> Store {
        Store {
            dir: dir.into(),
            fingerprint: fingerprint.into(),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last checkpoint's path.
    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// The last checkpoint: `None` when there is none, a refusal when one is
    /// there but must not be trained on. Stray temporary files of an
    /// attempt that was killed while writing are removed.
    pub fn load(&self) -> Result<Option<Loaded>, Refusal> {
        self.remove_temporaries();
        let bytes = match std::fs::read(self.state_path()) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Refusal::Unreadable(e)),
        };
        let (header, sections) = parse(&bytes, "state", &self.fingerprint)?;
        let best = match header.best {
            None => None,
            Some(r) => {
                let bad = |why: String| Refusal::Best {
                    file: r.file.clone(),
                    why,
                };
                if r.file.contains('/') || r.file.starts_with('.') {
                    return Err(bad("not a file name of this folder".into()));
                }
                let bytes = std::fs::read(self.dir.join(&r.file)).map_err(|e| bad(e.to_string()))?;
                let (h, s) = parse(&bytes, "best", &self.fingerprint).map_err(|e| bad(e.to_string()))?;
                if h.xxh3 != r.xxh3 || h.epoch != r.epoch {
                    return Err(bad(format!(
                        "holds epoch {} with checksum {}, the state names epoch {} with {}",
                        h.epoch, h.xxh3, r.epoch, r.xxh3
                    )));
                }
                Some((r, s))
            }
        };
        Ok(Some(Loaded {
            epoch: header.epoch,
            sections,
            best,
        }))
    }

    fn header(&self, kind: &str, epoch: u32, sections: &[Vec<u8>], best: Option<&BestRef>) -> Header {
        Header {
            magic: MAGIC.into(),
            format: FORMAT,
            sweep: SWEEP_VERSION.into(),
            kind: kind.into(),
            fingerprint: self.fingerprint.clone(),
            epoch,
            sections: sections.iter().map(|s| s.len() as u64).collect(),
            xxh3: checksum(sections),
            best: best.cloned(),
        }
    }

    fn write(&self, name: &str, header: &Header, sections: &[Vec<u8>]) -> std::io::Result<u64> {
        std::fs::create_dir_all(&self.dir)?;
        let mut line = serde_json::to_vec(header).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut parts: Vec<&[u8]> = vec![&line];
        parts.extend(sections.iter().map(Vec::as_slice));
        write_atomic(&self.dir, name, &parts)
    }

    /// Writes the best epoch's weights (before the state that names them).
    /// Returns the reference for [`Store::save`] and the file's size.
    pub fn save_best(&self, epoch: u32, sections: &[Vec<u8>]) -> std::io::Result<(BestRef, u64)> {
        let header = self.header("best", epoch, sections, None);
        let file = format!("best-e{epoch:04}.ckpt");
        let bytes = self.write(&file, &header, sections)?;
        Ok((
            BestRef {
                file,
                epoch,
                xxh3: header.xxh3,
            },
            bytes,
        ))
    }

    /// Writes the state after `epoch`, naming `best`, then removes best
    /// files no longer named. Returns the state file's size.
    pub fn save(&self, epoch: u32, sections: &[Vec<u8>], best: Option<&BestRef>) -> std::io::Result<u64> {
        let header = self.header("state", epoch, sections, best);
        let bytes = self.write(STATE_FILE, &header, sections)?;
        for entry in std::fs::read_dir(&self.dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let named = best.is_some_and(|b| b.file == name);
            if name.starts_with("best-e") && name.ends_with(".ckpt") && !named {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(bytes)
    }

    /// Moves a refused checkpoint aside (to [`REFUSED_FILE`], for a person
    /// to look at) and removes its best files: the next attempt starts clean.
    pub fn set_aside(&self) -> std::io::Result<()> {
        let state = self.state_path();
        if state.exists() {
            std::fs::rename(&state, self.dir.join(REFUSED_FILE))?;
        }
        for entry in std::fs::read_dir(&self.dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("best-e") && name.ends_with(".ckpt") {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }

    fn remove_temporaries(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Sections are stored back to back; these helpers pack numbers into them.
pub mod bytes {
    /// `u32`s, little-endian.
    pub fn from_u32s(v: &[u32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// The inverse of [`from_u32s`]; `None` when the length is not a multiple of 4.
    pub fn to_u32s(b: &[u8]) -> Option<Vec<u32>> {
        b.len().is_multiple_of(4).then(|| {
            b.chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect()
        })
    }
}
