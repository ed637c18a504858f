//! What the training loop saves in a checkpoint and restores from one: the
//! sections of [`crate::checkpoint`] files, built from burn's records and
//! the loop's own state.
//!
//! A state file holds four sections:
//! 0. [`Meta`] as JSON: epochs done, every epoch's metrics (as f64 bits,
//!    re-reported exactly), best epoch and value, learning-rate steps
//!    taken, the word positions of the shuffle and augmentation streams,
//!    training seconds so far;
//! 1. the shuffle order (u32 little-endian): each epoch shuffles the last
//!    epoch's order;
//! 2. the network (burn's named MessagePack record, full precision);
//! 3. the optimizer's state (its record: moments, step counts).
//!
//! A best file holds one section: the best epoch's network.
//! burn's CPU generator (dropout) cannot be saved; the loop reseeds it at
//! the start of every epoch after the first instead (see `train::epoch_seed`).

use crate::checkpoint::{Fingerprint, Refusal, bytes};
use crate::config::TrainConfig;
use crate::model::Net;
use crate::train::Prepared;
use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Record, Recorder};
use burn::tensor::Device;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};
use sweep_core::EpochMetrics;

type Rec = NamedMpkBytesRecorder<FullPrecisionSettings>;

/// The loop's state besides the weights and the optimizer, as saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Meta {
    /// Epochs done.
    pub epoch: u32,
    /// Each done epoch's metrics, values as f64 bits.
    pub history: Vec<Vec<(String, u64)>>,
    /// The best epoch so far.
    pub best_epoch: u32,
    /// Its metric value, as f64 bits.
    pub best_value: u64,
    /// Learning-rate schedule steps taken.
    pub lr_steps: u64,
    /// Word position of the shuffle stream (decimal; JSON numbers stop at 2^64).
    pub shuffle_pos: String,
    /// Word position of the augmentation stream.
    pub augment_pos: String,
    /// Training images (the length of the order).
    pub images: u64,
    /// Seconds spent up to this checkpoint, as f64 bits.
    pub seconds: u64,
}

impl Meta {
    /// Metrics as f64 bits, so that they come back bit for bit.
    pub fn pack(m: &EpochMetrics) -> Vec<(String, u64)> {
        m.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
    }

    /// The inverse of [`Meta::pack`].
    pub fn unpack(m: &[(String, u64)]) -> EpochMetrics {
        m.iter().map(|(k, v)| (k.clone(), f64::from_bits(*v))).collect()
    }
}

/// A trial's fingerprint: its configuration (without the dataset folder,
/// which may differ between machines) and the contents of the training and
/// validation images it trains on.
pub(crate) fn fingerprint(cfg: &TrainConfig, data: &Prepared) -> String {
    let canonical = TrainConfig {
        data_dir: None,
        ..cfg.clone()
    };
    let mut f = Fingerprint::new();
    f.add(format!("{canonical:?}").as_bytes());
    for split in [&data.train, &data.val] {
        let dims = [split.images.count, split.images.rows, split.images.cols].map(|d| d as u64);
        f.add(&dims.iter().flat_map(|d| d.to_le_bytes()).collect::<Vec<u8>>());
        f.add(&split.images.pixels).add(&split.labels);
    }
    f.add(&data.norm.a.to_bits().to_le_bytes())
        .add(&data.norm.b.to_bits().to_le_bytes());
    f.hex()
}

/// Any burn record as bytes.
pub(crate) fn encode<B: Backend, R: Record<B>>(record: R) -> Result<Vec<u8>, String> {
    <Rec as Recorder<B>>::record(&Rec::default(), record, ()).map_err(|e| e.to_string())
}

/// Bytes back into a burn record; a panic in a decoder is an error too.
pub(crate) fn decode<B: Backend, R: Record<B>>(bytes: Vec<u8>, device: &Device<B>) -> Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        <Rec as Recorder<B>>::load::<R>(&Rec::default(), bytes, device).map_err(|e| e.to_string())
    }))
    .unwrap_or_else(|_| Err("the record decoder panicked".into()))
}

/// The sections of a state file.
pub(crate) fn state_sections<B: Backend, OR: Record<B>>(
    meta: &Meta,
    order: &[usize],
    net: &Net<B>,
    optim: OR,
) -> Result<Vec<Vec<u8>>, String> {
    let order: Vec<u32> = order.iter().map(|&i| i as u32).collect();
    Ok(vec![
        serde_json::to_vec(meta).map_err(|e| e.to_string())?,
        bytes::from_u32s(&order),
        encode::<B, _>(net.clone().into_record())?,
        encode::<B, _>(optim)?,
    ])
}

/// A state read back: everything decoded, nothing applied yet.
pub(crate) struct Restored<B: Backend, OR> {
    pub meta: Meta,
    pub shuffle_pos: u128,
    pub augment_pos: u128,
    pub order: Vec<usize>,
    pub net: <Net<B> as Module<B>>::Record,
    pub optim: OR,
    pub best_net: <Net<B> as Module<B>>::Record,
}

/// Decodes a checked checkpoint's sections; `n` is the number of training
/// images and `lr_steps` the schedule steps its epoch count implies.
pub(crate) fn restore<B: Backend, OR: Record<B>>(
    epoch: u32,
    mut sections: Vec<Vec<u8>>,
    best: Option<(u32, Vec<Vec<u8>>)>,
    n: usize,
    steps_per_epoch: usize,
    device: &Device<B>,
) -> Result<Restored<B, OR>, Refusal> {
    let bad = Refusal::Content;
    if sections.len() != 4 {
        return Err(bad(format!("{} sections, expected 4", sections.len())));
    }
    let meta: Meta = serde_json::from_slice(&sections[0]).map_err(|e| bad(format!("metadata: {e}")))?;
    if meta.epoch != epoch || meta.history.len() != epoch as usize || epoch == 0 {
        return Err(bad(format!(
            "the header says epoch {epoch}, the metadata {} with {} epochs of metrics",
            meta.epoch,
            meta.history.len()
        )));
    }
    if meta.images != n as u64 || meta.lr_steps != u64::from(epoch) * steps_per_epoch as u64 {
        return Err(bad(format!(
            "{} images and {} schedule steps, this run has {n} images and {} steps per epoch",
            meta.images, meta.lr_steps, steps_per_epoch
        )));
    }
    let pos = |s: &str| {
        s.parse::<u128>()
            .map_err(|e| bad(format!("stream position `{s}`: {e}")))
    };
    let (shuffle_pos, augment_pos) = (pos(&meta.shuffle_pos)?, pos(&meta.augment_pos)?);
    let order = bytes::to_u32s(&sections[1]).ok_or_else(|| bad("shuffle order".into()))?;
    let mut seen = vec![false; n];
    for &i in &order {
        match seen.get_mut(i as usize) {
            Some(s) if !*s => *s = true,
            _ => return Err(bad("the shuffle order is not a permutation".into())),
        }
    }
    if order.len() != n {
        return Err(bad("the shuffle order is not a permutation".into()));
    }
    let (best_epoch, mut best_sections) = best.ok_or_else(|| bad("no best-weights file named".into()))?;
    if best_epoch != meta.best_epoch || best_sections.len() != 1 {
        return Err(bad(format!(
            "best epoch {} in the metadata, the best file holds {best_epoch}",
            meta.best_epoch
        )));
    }
    let optim =
        decode::<B, OR>(sections.pop().expect("4 sections"), device).map_err(|e| bad(format!("optimizer: {e}")))?;
    let net = decode::<B, _>(sections.pop().expect("4 sections"), device).map_err(|e| bad(format!("network: {e}")))?;
    let best_net = decode::<B, _>(best_sections.pop().expect("1 section"), device)
        .map_err(|e| bad(format!("best network: {e}")))?;
    Ok(Restored {
        meta,
        shuffle_pos,
        augment_pos,
        order: order.into_iter().map(|i| i as usize).collect(),
        net,
        optim,
        best_net,
    })
}
