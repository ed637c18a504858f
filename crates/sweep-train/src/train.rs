//! The training loop: seeded mini-batches from the in-memory dataset, one
//! optimizer step each, validation after every epoch, the test set once at
//! the end; a checkpoint after every Nth epoch when asked (see
//! [`crate::checkpoint`]), continued from by the next attempt.

use crate::checkpoint::Store;
use crate::config::{ModelKind, Optimizer as OptimizerKind, Schedule, TrainConfig};
use crate::data::{Dataset, Normalization, Split};
use crate::model::{Cnn, Mlp, Net};
use crate::resume::{self, Meta};
use burn::grad_clipping::GradientClippingConfig;
use burn::lr_scheduler::LrScheduler;
use burn::lr_scheduler::cosine::{CosineAnnealingLrScheduler, CosineAnnealingLrSchedulerConfig};
use burn::lr_scheduler::exponential::{ExponentialLrScheduler, ExponentialLrSchedulerConfig};
use burn::lr_scheduler::linear::{LinearLrScheduler, LinearLrSchedulerConfig};
use burn::lr_scheduler::step::{StepLrScheduler, StepLrSchedulerConfig};
use burn::module::{AutodiffModule, Module};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdaGradConfig, AdamConfig, AdamWConfig, GradientsParams, Optimizer, RmsPropConfig, SgdConfig};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Device, ElementConversion, Int, Tensor, TensorData};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use sweep_core::{EpochMetrics, TrialEvent};

/// Number of classes of the MNIST-style datasets.
const CLASSES: usize = 10;
/// Images per evaluation batch.
const EVAL_BATCH: usize = 1000;

/// The splits a trial trains, validates and tests on, and how inputs are normalized.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Training images.
    pub train: Split,
    /// Validation images (held out of the published training set).
    pub val: Split,
    /// Test images.
    pub test: Split,
    /// Input normalization (statistics from `train` only).
    pub norm: Normalization,
}

/// Carves the validation split out of the training set and applies the limits.
pub fn prepare(cfg: &TrainConfig, data: &Dataset) -> Result<Prepared, String> {
    let n = data.train.len();
    if cfg.val_size >= n {
        return Err(format!(
            "val_size {} leaves no training images out of {n}",
            cfg.val_size
        ));
    }
    // The last `val_size` images validate; the first `train_limit` of the rest train.
    let val = data.train.range(n - cfg.val_size..n);
    let train = data.train.range(0..n - cfg.val_size).take(cfg.train_limit);
    let test = data.test.take(cfg.test_limit);
    let norm = Normalization::new(&cfg.normalize, cfg.norm_mean, cfg.norm_std, &train.images);
    Ok(Prepared { train, val, test, norm })
}

/// How a training run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// All epochs ran.
    Completed {
        /// Final metrics (test_accuracy, test_loss, best_epoch, ...).
        metrics: EpochMetrics,
    },
    /// The loss became NaN or infinite.
    Diverged {
        /// The epoch it happened in.
        epoch: u32,
        /// What was seen.
        reason: String,
    },
    /// Stopped on request ([`RunOptions::stop`]) before the last epoch.
    Suspended {
        /// The last epoch saved in a checkpoint (0: none).
        epoch: u32,
    },
}

/// Where and how often a run saves checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpointing {
    /// The trial's checkpoint folder (the same for all its attempts).
    pub dir: PathBuf,
    /// Save after every epoch that is a multiple of this (>= 1); the last
    /// epoch is never saved (the test set is scored right after it).
    pub every: u32,
}

/// How a run is driven besides its configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions<'a> {
    /// Checkpoints to continue from and to write; `None` for none.
    pub checkpoint: Option<&'a Checkpointing>,
    /// When this becomes true, the run stops before its next batch (after
    /// saving a checkpoint if it is at an epoch's end) and ends
    /// [`Outcome::Suspended`]. See [`crate::suspend`].
    pub stop: Option<&'a AtomicBool>,
}

/// Progress of the current epoch, for a progress bar.
pub trait Progress {
    /// `step` of `steps` done in `epoch`.
    fn step(&mut self, epoch: usize, step: usize, steps: usize);
}

impl Progress for () {
    fn step(&mut self, _: usize, _: usize, _: usize) {}
}

/// The learning rate per step, from burn's schedulers.
enum Lr {
    Constant(f64),
    Step(StepLrScheduler),
    /// Stepped once per epoch (PyTorch's ExponentialLR as usually used).
    Exponential(ExponentialLrScheduler, f64),
    Cosine(CosineAnnealingLrScheduler),
    WarmupCosine(LinearLrScheduler, usize, CosineAnnealingLrScheduler),
}

impl Lr {
    fn new(cfg: &TrainConfig, steps_per_epoch: usize) -> Result<Lr, String> {
        let total = cfg.epochs * steps_per_epoch;
        let lr = cfg.lr;
        Ok(match cfg.schedule {
            Schedule::Constant => Lr::Constant(lr),
            Schedule::Step { step_size, gamma } => Lr::Step(
                StepLrSchedulerConfig::new(lr, step_size * steps_per_epoch)
                    .with_gamma(gamma)
                    .init()?,
            ),
            Schedule::Exponential { gamma } => {
                let mut s = ExponentialLrSchedulerConfig::new(lr, gamma).init()?;
                let first = s.step();
                Lr::Exponential(s, first)
            }
            Schedule::Cosine { min_lr } => Lr::Cosine(
                CosineAnnealingLrSchedulerConfig::new(lr, total.max(1))
                    .with_min_lr(min_lr)
                    .init()?,
            ),
            Schedule::WarmupCosine { warmup_epochs, min_lr } => {
                let warm = (warmup_epochs * steps_per_epoch).min(total.saturating_sub(1)).max(1);
                let linear = LinearLrSchedulerConfig::new(lr / warm as f64, lr, warm).init()?;
                let cosine = CosineAnnealingLrSchedulerConfig::new(lr, (total - warm).max(1))
                    .with_min_lr(min_lr)
                    .init()?;
                Lr::WarmupCosine(linear, warm, cosine)
            }
        })
    }

    /// The rate for the next step; `epoch_start` is true on an epoch's first step.
    fn next(&mut self, epoch_start: bool, first_epoch: bool) -> f64 {
        match self {
            Lr::Constant(lr) => *lr,
            Lr::Step(s) => s.step(),
            Lr::Exponential(s, current) => {
                if epoch_start && !first_epoch {
                    *current = s.step();
                }
                *current
            }
            Lr::Cosine(s) => s.step(),
            Lr::WarmupCosine(warm, left, cos) => {
                if *left > 0 {
                    *left -= 1;
                    warm.step()
                } else {
                    cos.step()
                }
            }
        }
    }
}

fn decay(cfg: &TrainConfig) -> Option<WeightDecayConfig> {
    (cfg.weight_decay > 0.0).then(|| WeightDecayConfig::new(cfg.weight_decay as f32))
}

fn clipping(cfg: &TrainConfig) -> Option<GradientClippingConfig> {
    (cfg.grad_clip_norm > 0.0).then_some(GradientClippingConfig::Norm(cfg.grad_clip_norm as f32))
}

/// Trains one trial on backend `B`, reporting each epoch through `on_event`.
pub fn train<B: AutodiffBackend>(
    cfg: &TrainConfig,
    data: &Prepared,
    device: &Device<B>,
    opts: &RunOptions,
    on_event: &mut dyn FnMut(TrialEvent),
    progress: &mut dyn Progress,
) -> Result<Outcome, String> {
    // Parameters initialise from the backend's seeded generator.
    B::seed(device, cfg.seed);
    let side = data.train.images.rows;
    let inputs = data.train.images.size();
    let net: Net<B> = match cfg.model {
        ModelKind::Mlp => Net::mlp(Mlp::new(
            inputs,
            &cfg.hidden,
            CLASSES,
            cfg.activation,
            cfg.dropout,
            device,
        )),
        ModelKind::Cnn => Net::cnn(Cnn::new(side, CLASSES, cfg.activation, cfg.dropout, device)),
    };
    // burn's optimizers, configured with PyTorch's defaults where burn's
    // differ (epsilon, dampening 0, RMSprop momentum 0): users compare with PyTorch.
    let eps = cfg.eps as f32;
    match cfg.optimizer {
        OptimizerKind::Sgd { momentum, nesterov } => {
            let m = (momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(momentum)
                    .with_dampening(0.0)
                    .with_nesterov(nesterov)
            });
            let o = SgdConfig::new()
                .with_momentum(m)
                .with_weight_decay(decay(cfg))
                .with_gradient_clipping(clipping(cfg));
            run(cfg, data, device, net, o.init(), opts, on_event, progress)
        }
        OptimizerKind::Adam { beta1, beta2 } => {
            let o = AdamConfig::new()
                .with_beta_1(beta1 as f32)
                .with_beta_2(beta2 as f32)
                .with_epsilon(eps)
                .with_weight_decay(decay(cfg))
                .with_grad_clipping(clipping(cfg));
            run(cfg, data, device, net, o.init(), opts, on_event, progress)
        }
        OptimizerKind::AdamW { beta1, beta2 } => {
            let o = AdamWConfig::new()
                .with_beta_1(beta1 as f32)
                .with_beta_2(beta2 as f32)
                .with_epsilon(eps)
                .with_weight_decay(cfg.weight_decay as f32)
                .with_grad_clipping(clipping(cfg));
            run(cfg, data, device, net, o.init(), opts, on_event, progress)
        }
        OptimizerKind::RmsProp { momentum } => {
            let o = RmsPropConfig::new()
                .with_alpha(0.99)
                .with_momentum(momentum as f32)
                .with_epsilon(eps)
                .with_weight_decay(decay(cfg))
                .with_grad_clipping(clipping(cfg));
            run(cfg, data, device, net, o.init(), opts, on_event, progress)
        }
        OptimizerKind::AdaGrad => {
            let o = AdaGradConfig::new()
                .with_epsilon(eps)
                .with_weight_decay(decay(cfg))
                .with_grad_clipping(clipping(cfg));
            run(cfg, data, device, net, o.init(), opts, on_event, progress)
        }
    }
}

/// Builds a batch: rows gathered into one buffer (faster than `select` on a
/// resident tensor), normalized through a lookup table or augmented.
struct Batcher {
    buf: Vec<f32>,
    labels: Vec<i64>,
    table: [f32; 256],
}

impl Batcher {
    fn new(norm: Normalization) -> Batcher {
        Batcher {
            buf: Vec::new(),
            labels: Vec::new(),
            table: norm.table(),
        }
    }

    fn fill(
        &mut self,
        split: &Split,
        idx: &[usize],
        augment: Option<(&crate::augment::Augment, &mut ChaCha8Rng)>,
        norm: Normalization,
    ) {
        let size = split.images.size();
        self.buf.clear();
        self.buf.resize(idx.len() * size, 0.0);
        self.labels.clear();
        match augment {
            None => {
                for (row, &i) in self.buf.chunks_exact_mut(size).zip(idx) {
                    for (o, &p) in row.iter_mut().zip(split.images.image(i)) {
                        *o = self.table[p as usize];
                    }
                }
            }
            Some((aug, rng)) => {
                let (rows, cols) = (split.images.rows, split.images.cols);
                for (row, &i) in self.buf.chunks_exact_mut(size).zip(idx) {
                    aug.apply(rng, split.images.image(i), rows, cols, norm, row);
                }
            }
        }
        self.labels.extend(idx.iter().map(|&i| i64::from(split.labels[i])));
    }

    /// Hands the filled buffers to burn (moved, not copied: this is the hot path).
    fn tensors<B: Backend>(&mut self, size: usize, device: &Device<B>) -> (Tensor<B, 2>, Tensor<B, 1, Int>) {
        let n = self.labels.len();
        let x = Tensor::<B, 2>::from_data(TensorData::new(std::mem::take(&mut self.buf), [n, size]), device);
        let y = Tensor::<B, 1, Int>::from_data(TensorData::new(std::mem::take(&mut self.labels), [n]), device);
        (x, y)
    }
}

/// Mean loss and accuracy of `net` on `split`.
fn evaluate<B: Backend>(net: &Net<B>, split: &Split, norm: Normalization, device: &Device<B>) -> (f64, f64) {
    let ce = CrossEntropyLossConfig::new().init(device);
    let mut batcher = Batcher::new(norm);
    let (mut loss_sum, mut correct) = (0.0f64, 0i64);
    let all: Vec<usize> = (0..split.len()).collect();
    for idx in all.chunks(EVAL_BATCH) {
        batcher.fill(split, idx, None, norm);
        let (x, y) = batcher.tensors::<B>(split.images.size(), device);
        let logits = net.forward(x);
        let loss: f64 = ce.forward(logits.clone(), y.clone()).into_scalar().elem();
        loss_sum += loss * idx.len() as f64;
        let pred = logits.argmax(1).reshape([idx.len()]);
        correct += pred.equal(y).int().sum().into_scalar().elem::<i64>();
    }
    let n = split.len().max(1) as f64;
    (loss_sum / n, correct as f64 / n)
}

/// SplitMix64's finalizer: a well-mixed 64-bit value from any input.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of the backend's generator (dropout masks) for `epoch`. The
/// first epoch keeps the trial's seed (it also initializes the weights);
/// every later epoch starts from its own seed, because burn's CPU generator
/// cannot be saved: a run continued from a checkpoint then draws the same
/// masks as one that never stopped.
pub fn epoch_seed(seed: u64, epoch: u32) -> u64 {
    if epoch <= 1 {
        seed
    } else {
        splitmix64(seed ^ splitmix64(u64::from(epoch)))
    }
}

/// Everything of a run that later epochs depend on, besides the network
/// and the optimizer.
struct LoopState<B: Backend> {
    /// Epochs done.
    epoch: u32,
    order: Vec<usize>,
    shuffle: ChaCha8Rng,
    augment: ChaCha8Rng,
    lr: Lr,
    lr_steps: u64,
    /// Each done epoch's metrics, as reported.
    history: Vec<EpochMetrics>,
    /// The best epoch, its value and network.
    best: Option<(u32, f64, Net<B>)>,
    /// The best-weights file on disk, when one is.
    best_saved: Option<crate::checkpoint::BestRef>,
    /// The last epoch saved in a checkpoint.
    saved: Option<u32>,
    /// Seconds trained by earlier attempts, up to their checkpoint.
    seconds_before: f64,
}

impl<B: Backend> LoopState<B> {
    fn fresh(cfg: &TrainConfig, n: usize, steps: usize) -> Result<Self, String> {
        Ok(LoopState {
            epoch: 0,
            order: (0..n).collect(),
            shuffle: ChaCha8Rng::seed_from_u64(cfg.seed),
            augment: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xa0a0_5eed),
            lr: Lr::new(cfg, steps)?,
            lr_steps: 0,
            history: Vec::new(),
            best: None,
            best_saved: None,
            saved: None,
            seconds_before: 0.0,
        })
    }

    /// The rate of the next step, counted.
    fn next_lr(&mut self, step: usize, epoch: u32) -> f64 {
        self.lr_steps += 1;
        self.lr.next(step == 0, epoch == 1)
    }

    fn meta(&self, seconds: f64) -> Meta {
        let (best_epoch, best_value, _) = self.best.as_ref().expect("a checkpoint follows an epoch");
        Meta {
            epoch: self.epoch,
            history: self.history.iter().map(Meta::pack).collect(),
            best_epoch: *best_epoch,
            best_value: best_value.to_bits(),
            lr_steps: self.lr_steps,
            shuffle_pos: self.shuffle.get_word_pos().to_string(),
            augment_pos: self.augment.get_word_pos().to_string(),
            images: self.order.len() as u64,
            seconds: seconds.to_bits(),
        }
    }
}

/// The checkpoint folder of a run, with how often it is written.
struct Checkpoints {
    store: Store,
    every: u32,
}

/// Loads the last checkpoint into `net`, `optim` and `state`, reporting the
/// epochs it holds again; a checkpoint that cannot be used is refused with
/// a warning and moved aside, and training starts from epoch 1.
#[allow(clippy::too_many_arguments)]
fn resume<B: AutodiffBackend, O: Optimizer<Net<B>, B>>(
    ck: &Checkpoints,
    cfg: &TrainConfig,
    steps: usize,
    device: &Device<B>,
    net: &mut Option<Net<B>>,
    optim: &mut Option<O>,
    state: &mut LoopState<B>,
    on_event: &mut dyn FnMut(TrialEvent),
) -> Result<(), String> {
    let n = state.order.len();
    let restored = ck.store.load().and_then(|loaded| {
        loaded
            .map(|l| {
                let best_ref = l.best.as_ref().map(|(r, _)| r.clone());
                let best = l.best.map(|(r, s)| (r.epoch, s));
                resume::restore::<B, O::Record>(l.epoch, l.sections, best, n, steps, device).map(|r| (r, best_ref))
            })
            .transpose()
    });
    let (r, best_ref) = match restored {
        Ok(None) => return Ok(()),
        Ok(Some(r)) => r,
        Err(why) => {
            let path = ck.store.state_path();
            let mut message = format!("checkpoint {} refused: {why}; training from epoch 1", path.display());
            if let Err(e) = ck.store.set_aside() {
                message.push_str(&format!(" (it could not be moved aside: {e})"));
            }
            on_event(TrialEvent::Warning { message });
            return Ok(());
        }
    };
    // Replaying the schedule's steps puts burn's schedulers where they were.
    let mut lr = Lr::new(cfg, steps)?;
    for epoch in 1..=r.meta.epoch {
        for step in 0..steps {
            lr.next(step == 0, epoch == 1);
        }
    }
    state.shuffle.set_word_pos(r.shuffle_pos);
    state.augment.set_word_pos(r.augment_pos);
    state.lr = lr;
    state.lr_steps = r.meta.lr_steps;
    state.epoch = r.meta.epoch;
    state.order = r.order;
    state.history = r.meta.history.iter().map(|m| Meta::unpack(m)).collect();
    let best_net = net.clone().expect("a network").load_record(r.best_net);
    state.best = Some((r.meta.best_epoch, f64::from_bits(r.meta.best_value), best_net));
    state.best_saved = best_ref;
    state.saved = Some(r.meta.epoch);
    state.seconds_before = f64::from_bits(r.meta.seconds);
    *net = net.take().map(|m| m.load_record(r.net));
    *optim = optim.take().map(|o| o.load_record(r.optim));
    on_event(TrialEvent::Resumed { epoch: state.epoch });
    for (i, metrics) in state.history.iter().enumerate() {
        on_event(TrialEvent::Epoch {
            epoch: i as u32 + 1,
            metrics: metrics.clone(),
        });
    }
    Ok(())
}

/// Saves the state after `state.epoch`: the best weights first when they
/// changed since the last save, then the state. Reports a `checkpoint`
/// event, or a warning when the files could not be written (training goes on).
fn save<B: AutodiffBackend, O: Optimizer<Net<B>, B>>(
    ck: &Checkpoints,
    net: &Net<B>,
    optim: &O,
    state: &mut LoopState<B>,
    seconds: f64,
    on_event: &mut dyn FnMut(TrialEvent),
) {
    let t0 = Instant::now();
    let epoch = state.epoch;
    let result = write_checkpoint(ck, net, optim, state, seconds);
    match result {
        Ok(bytes) => {
            state.saved = Some(epoch);
            on_event(TrialEvent::Checkpoint {
                epoch,
                bytes: Some(bytes),
                seconds: Some(t0.elapsed().as_secs_f64()),
            });
        }
        Err(e) => on_event(TrialEvent::Warning {
            message: format!(
                "checkpoint after epoch {epoch} not written to {}: {e}",
                ck.store.dir().display()
            ),
        }),
    }
}

/// Writes the best weights when they are not on disk yet, then the state;
/// returns the checkpoint's size on disk (state and best file).
fn write_checkpoint<B: AutodiffBackend, O: Optimizer<Net<B>, B>>(
    ck: &Checkpoints,
    net: &Net<B>,
    optim: &O,
    state: &mut LoopState<B>,
    seconds: f64,
) -> Result<u64, String> {
    let (best_epoch, best_net) = match &state.best {
        Some((e, _, n)) => (*e, n.clone()),
        None => return Err("no epoch done".into()),
    };
    let best_bytes = match &state.best_saved {
        Some(b) if b.epoch == best_epoch => std::fs::metadata(ck.store.dir().join(&b.file)).map_or(0, |m| m.len()),
        _ => {
            let sections = vec![resume::encode::<B, _>(best_net.into_record())?];
            let (r, bytes) = ck.store.save_best(best_epoch, &sections).map_err(|e| e.to_string())?;
            state.best_saved = Some(r);
            bytes
        }
    };
    let sections = resume::state_sections::<B, _>(&state.meta(seconds), &state.order, net, optim.to_record())?;
    let bytes = ck
        .store
        .save(state.epoch, &sections, state.best_saved.as_ref())
        .map_err(|e| e.to_string())?;
    Ok(bytes + best_bytes)
}

#[allow(clippy::too_many_arguments)]
fn run<B: AutodiffBackend, O: Optimizer<Net<B>, B>>(
    cfg: &TrainConfig,
    data: &Prepared,
    device: &Device<B>,
    net: Net<B>,
    optim: O,
    opts: &RunOptions,
    on_event: &mut dyn FnMut(TrialEvent),
    progress: &mut dyn Progress,
) -> Result<Outcome, String> {
    let started = Instant::now();
    let n = data.train.len();
    if n == 0 {
        return Err("no training images".into());
    }
    let size = data.train.images.size();
    let steps = n.div_ceil(cfg.batch_size);
    let mut state = LoopState::<B>::fresh(cfg, n, steps)?;
    let checkpoints = opts.checkpoint.map(|c| Checkpoints {
        store: Store::new(&c.dir, resume::fingerprint(cfg, data)),
        every: c.every.max(1),
    });
    let (mut net, mut optim) = (Some(net), Some(optim));
    if let Some(ck) = &checkpoints {
        resume(ck, cfg, steps, device, &mut net, &mut optim, &mut state, on_event)?;
    }
    let (mut net, mut optim) = (net.expect("a network"), optim.expect("an optimizer"));
    let ce = CrossEntropyLossConfig::new().init(device);
    let mut batcher = Batcher::new(data.norm);
    let goal = cfg.metric.goal;
    let stop_requested = || opts.stop.is_some_and(|s| s.load(Ordering::SeqCst));
    let seconds_so_far = |state: &LoopState<B>| state.seconds_before + started.elapsed().as_secs_f64();

    for epoch in state.epoch + 1..=cfg.epochs as u32 {
        let t0 = Instant::now();
        B::seed(device, epoch_seed(cfg.seed, epoch));
        // Fisher-Yates with the trial's own stream: the same seed, the same batches.
        for i in (1..n).rev() {
            let j = (state.shuffle.next_u64() % (i as u64 + 1)) as usize;
            state.order.swap(i, j);
        }
        let mut loss_sum = 0.0f64;
        let mut lr = cfg.lr;
        let order = std::mem::take(&mut state.order);
        for (step, idx) in order.chunks(cfg.batch_size).enumerate() {
            if stop_requested() {
                // The partial epoch is lost: the next attempt redoes it.
                return Ok(Outcome::Suspended {
                    epoch: state.saved.unwrap_or(0),
                });
            }
            lr = state.next_lr(step, epoch);
            let aug = cfg.augment.as_ref().map(|a| (a, &mut state.augment));
            batcher.fill(&data.train, idx, aug, data.norm);
            let (x, y) = batcher.tensors::<B>(size, device);
            let loss = ce.forward(net.forward(x), y);
            let value: f64 = loss.clone().into_scalar().elem();
            if !value.is_finite() {
                return Ok(Outcome::Diverged {
                    epoch,
                    reason: format!(
                        "training loss is {value} at step {} of epoch {epoch} (lr {lr})",
                        step + 1
                    ),
                });
            }
            loss_sum += value * idx.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(lr, net, grads);
            progress.step(epoch as usize, step + 1, steps);
        }
        state.order = order;
        let seconds = t0.elapsed().as_secs_f64();
        let (val_loss, val_accuracy) = evaluate(&net.valid(), &data.val, data.norm, device);
        if !val_loss.is_finite() {
            return Ok(Outcome::Diverged {
                epoch,
                reason: format!("validation loss is {val_loss}"),
            });
        }
        let mut metrics = EpochMetrics::new();
        metrics.insert("train_loss".into(), loss_sum / n as f64);
        metrics.insert("val_loss".into(), val_loss);
        metrics.insert("val_accuracy".into(), val_accuracy);
        metrics.insert("lr".into(), lr);
        metrics.insert("seconds".into(), seconds);
        metrics.insert("samples_per_sec".into(), n as f64 / seconds.max(1e-9));
        let value = metrics[cfg.metric.name.as_str()];
        if state.best.as_ref().is_none_or(|(_, b, _)| goal.better(value, *b)) {
            state.best = Some((epoch, value, net.clone()));
        }
        state.history.push(metrics.clone());
        state.epoch = epoch;
        on_event(TrialEvent::Epoch { epoch, metrics });
        // The last epoch needs no checkpoint: the test set is scored next.
        let last = epoch as usize == cfg.epochs;
        let stopping = !last && stop_requested();
        if let Some(ck) = &checkpoints
            && !last
            && (epoch.is_multiple_of(ck.every) || stopping)
        {
            let seconds = seconds_so_far(&state);
            save(ck, &net, &optim, &mut state, seconds, on_event);
        }
        if stopping {
            return Ok(Outcome::Suspended {
                epoch: state.saved.unwrap_or(0),
            });
        }
    }
    let (best_epoch, best_value, best_net) = state.best.take().expect("at least one epoch");
    // The test set is scored once, with the weights of the best validation epoch.
    let (test_loss, test_accuracy) = evaluate(&best_net.valid(), &data.test, data.norm, device);
    let mut metrics = EpochMetrics::new();
    metrics.insert("test_accuracy".into(), test_accuracy);
    metrics.insert("test_loss".into(), test_loss);
    metrics.insert("best_epoch".into(), f64::from(best_epoch));
    metrics.insert(format!("best_{}", cfg.metric.name), best_value);
    metrics.insert("seconds".into(), seconds_so_far(&state));
    Ok(Outcome::Completed { metrics })
}
