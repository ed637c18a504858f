//! The training loop: seeded mini-batches from the in-memory dataset, one
//! optimizer step each, validation after every epoch, the test set once at the end.

use crate::config::{ModelKind, Optimizer as OptimizerKind, Schedule, TrainConfig};
use crate::data::{Dataset, Normalization, Split};
use crate::model::{Cnn, Mlp, Net};
use burn::grad_clipping::GradientClippingConfig;
use burn::lr_scheduler::LrScheduler;
use burn::lr_scheduler::cosine::{CosineAnnealingLrScheduler, CosineAnnealingLrSchedulerConfig};
use burn::lr_scheduler::exponential::{ExponentialLrScheduler, ExponentialLrSchedulerConfig};
use burn::lr_scheduler::linear::{LinearLrScheduler, LinearLrSchedulerConfig};
use burn::lr_scheduler::step::{StepLrScheduler, StepLrSchedulerConfig};
use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdaGradConfig, AdamConfig, AdamWConfig, GradientsParams, Optimizer, RmsPropConfig, SgdConfig};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Device, ElementConversion, Int, Tensor, TensorData};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
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
            run(cfg, data, device, net, o.init(), on_event, progress)
        }
        OptimizerKind::Adam { beta1, beta2 } => {
            let o = AdamConfig::new()
                .with_beta_1(beta1 as f32)
                .with_beta_2(beta2 as f32)
                .with_epsilon(eps)
                .with_weight_decay(decay(cfg))
                .with_grad_clipping(clipping(cfg));
            run(cfg, data, device, net, o.init(), on_event, progress)
        }
        OptimizerKind::AdamW { beta1, beta2 } => {
            let o = AdamWConfig::new()
                .with_beta_1(beta1 as f32)
                .with_beta_2(beta2 as f32)
                .with_epsilon(eps)
                .with_weight_decay(cfg.weight_decay as f32)
                .with_grad_clipping(clipping(cfg));
            run(cfg, data, device, net, o.init(), on_event, progress)
        }
        OptimizerKind::RmsProp { momentum } => {
            let o = RmsPropConfig::new()
                .with_alpha(0.99)
                .with_momentum(momentum as f32)
                .with_epsilon(eps)
                .with_weight_decay(decay(cfg))
                .with_grad_clipping(clipping(cfg));
            run(cfg, data, device, net, o.init(), on_event, progress)
        }
        OptimizerKind::AdaGrad => {
            let o = AdaGradConfig::new()
                .with_epsilon(eps)
                .with_weight_decay(decay(cfg))
                .with_grad_clipping(clipping(cfg));
            run(cfg, data, device, net, o.init(), on_event, progress)
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

#[allow(clippy::too_many_arguments)]
fn run<B: AutodiffBackend, O: Optimizer<Net<B>, B>>(
    cfg: &TrainConfig,
    data: &Prepared,
    device: &Device<B>,
    mut net: Net<B>,
    mut optim: O,
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
    let mut lr_schedule = Lr::new(cfg, steps)?;
    let ce = CrossEntropyLossConfig::new().init(device);
    let mut shuffle = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut aug_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xa0a0_5eed);
    let mut batcher = Batcher::new(data.norm);
    let mut order: Vec<usize> = (0..n).collect();
    let goal = cfg.metric.goal;
    let mut best: Option<(u32, f64, Net<B>)> = None;

    for epoch in 1..=cfg.epochs as u32 {
        let t0 = Instant::now();
        // Fisher-Yates with the trial's own stream: the same seed, the same batches.
        for i in (1..n).rev() {
            let j = (shuffle.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let mut loss_sum = 0.0f64;
        let mut lr = cfg.lr;
        for (step, idx) in order.chunks(cfg.batch_size).enumerate() {
            lr = lr_schedule.next(step == 0, epoch == 1);
            let aug = cfg.augment.as_ref().map(|a| (a, &mut aug_rng));
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
        if best.as_ref().is_none_or(|(_, b, _)| goal.better(value, *b)) {
            best = Some((epoch, value, net.clone()));
        }
        on_event(TrialEvent::Epoch { epoch, metrics });
    }
    let (best_epoch, best_value, best_net) = best.expect("at least one epoch");
    // The test set is scored once, with the weights of the best validation epoch.
    let (test_loss, test_accuracy) = evaluate(&best_net.valid(), &data.test, data.norm, device);
    let mut metrics = EpochMetrics::new();
    metrics.insert("test_accuracy".into(), test_accuracy);
    metrics.insert("test_loss".into(), test_loss);
    metrics.insert("best_epoch".into(), f64::from(best_epoch));
    metrics.insert(format!("best_{}", cfg.metric.name), best_value);
    metrics.insert("seconds".into(), started.elapsed().as_secs_f64());
    Ok(Outcome::Completed { metrics })
}
