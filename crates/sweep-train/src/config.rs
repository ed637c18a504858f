//! A trial's parameters, checked and turned into the trainer's configuration:
//! the one place where parameter names meet burn's configs.

use crate::augment::Augment;
use crate::model::Activation;
use std::path::PathBuf;
use sweep_core::builtin;
use sweep_core::{Metric, ParamValue, Params};

/// Which network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// Multilayer perceptron.
    Mlp,
    /// LeNet-style convolutional network.
    Cnn,
}

/// Which optimizer, with its settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// SGD with optional (Nesterov) momentum, no dampening (as PyTorch).
    Sgd {
        /// Momentum factor, 0 for none.
        momentum: f64,
        /// Nesterov momentum.
        nesterov: bool,
    },
    /// Adam.
    Adam {
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
    },
    /// AdamW (decoupled weight decay).
    AdamW {
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
    },
    /// RMSprop (alpha 0.99, as PyTorch).
    RmsProp {
        /// Momentum factor, 0 for none.
        momentum: f64,
    },
    /// AdaGrad.
    AdaGrad,
}

/// How the learning rate changes over training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// The same rate throughout.
    Constant,
    /// Multiply by `gamma` every `step_size` epochs.
    Step {
        /// Epochs between decays.
        step_size: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// Multiply by `gamma` after each epoch.
    Exponential {
        /// Decay factor.
        gamma: f64,
    },
    /// Cosine annealing to `min_lr` over all steps.
    Cosine {
        /// Final rate.
        min_lr: f64,
    },
    /// Linear warm-up over `warmup_epochs`, then cosine annealing.
    WarmupCosine {
        /// Warm-up length.
        warmup_epochs: usize,
        /// Final rate.
        min_lr: f64,
    },
}

/// Everything one training run needs.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Network.
    pub model: ModelKind,
    /// Dataset name.
    pub dataset: String,
    /// Where the dataset is, if not in the default places.
    pub data_dir: Option<PathBuf>,
    /// `cpu`, `cuda`, `cuda:N`.
    pub device: String,
    /// MLP hidden layer sizes.
    pub hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
    /// Dropout probability.
    pub dropout: f64,
    /// Learning rate.
    pub lr: f64,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Epochs.
    pub epochs: usize,
    /// Optimizer.
    pub optimizer: Optimizer,
    /// Weight decay (L2, decoupled for AdamW).
    pub weight_decay: f64,
    /// Optimizer epsilon.
    pub eps: f64,
    /// Per-tensor gradient norm clip, 0 for none.
    pub grad_clip_norm: f64,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Normalization name.
    pub normalize: String,
    /// Mean for `meanstd`.
    pub norm_mean: f64,
    /// Std for `meanstd`.
    pub norm_std: f64,
    /// Augmentation of training images, if on.
    pub augment: Option<Augment>,
    /// Validation images held out of the training set.
    pub val_size: usize,
    /// Train on this many images (0: all).
    pub train_limit: usize,
    /// Score this many test images (0: all).
    pub test_limit: usize,
    /// Seed of initialization, shuffling, dropout and augmentation.
    pub seed: u64,
    /// What picks the best epoch.
    pub metric: Metric,
}

/// The default metric of the built-in trainer.
pub fn default_metric() -> Metric {
    builtin::default_metric()
}

impl TrainConfig {
    /// Checks `params` against the built-in trainer's table and builds the
    /// configuration; unset parameters take their defaults.
    pub fn from_params(params: &Params, seed: u64, metric: Metric) -> Result<TrainConfig, String> {
        let mut checked = Params::new();
        for (name, value) in params {
            let def = builtin::param(name).ok_or_else(|| {
                let names: Vec<&str> = builtin::names().collect();
                format!(
                    "unknown parameter `{name}`; the built-in trainer takes {}",
                    names.join(", ")
                )
            })?;
            checked.insert(
                name.clone(),
                def.check(value).map_err(|e| format!("parameter `{name}`: {e}"))?,
            );
        }
        if !builtin::EPOCH_METRICS.iter().any(|(n, _)| *n == metric.name) {
            return Err(format!(
                "the built-in trainer does not report a metric `{}`",
                metric.name
            ));
        }
        let get = |name: &str| builtin::value_or_default(&checked, name);
        let f = |name: &str| get(name).and_then(|v| v.as_f64()).expect("numeric default");
        let u = |name: &str| get(name).and_then(|v| v.as_i64()).expect("integer default") as usize;
        let s = |name: &str| {
            get(name)
                .and_then(|v| v.as_str().map(String::from))
                .expect("word default")
        };
        let b = |name: &str| get(name).and_then(|v| v.as_bool()).expect("bool default");
        let optimizer_name = s("optimizer");
        let optimizer = match optimizer_name.as_str() {
            "sgd" => Optimizer::Sgd {
                momentum: f("momentum"),
                nesterov: b("nesterov"),
            },
            "adam" => Optimizer::Adam {
                beta1: f("beta1"),
                beta2: f("beta2"),
            },
            "adamw" => Optimizer::AdamW {
                beta1: f("beta1"),
                beta2: f("beta2"),
            },
            "rmsprop" => Optimizer::RmsProp {
                momentum: f("momentum"),
            },
            "adagrad" => Optimizer::AdaGrad,
            other => return Err(format!("unknown optimizer `{other}`")),
        };
        if let Optimizer::Sgd {
            momentum,
            nesterov: true,
        } = optimizer
            && momentum == 0.0
        {
            return Err("nesterov needs momentum > 0 (as in PyTorch)".into());
        }
        // PyTorch's defaults where burn's differ: users compare against PyTorch.
        let weight_decay = get("weight_decay")
            .and_then(|v| v.as_f64())
            .unwrap_or(if optimizer_name == "adamw" { 0.01 } else { 0.0 });
        let eps = get("eps")
            .and_then(|v| v.as_f64())
            .unwrap_or(if optimizer_name == "adagrad" { 1e-10 } else { 1e-8 });
        let schedule = match s("lr_schedule").as_str() {
            "constant" => Schedule::Constant,
            "step" => Schedule::Step {
                step_size: u("lr_step_size"),
                gamma: f("lr_gamma"),
            },
            "exponential" => Schedule::Exponential { gamma: f("lr_gamma") },
            "cosine" => Schedule::Cosine { min_lr: f("lr_min") },
            "warmup_cosine" => Schedule::WarmupCosine {
                warmup_epochs: u("warmup_epochs"),
                min_lr: f("lr_min"),
            },
            other => return Err(format!("unknown lr_schedule `{other}`")),
        };
        let lr = f("lr");
        if matches!(schedule, Schedule::Cosine { .. } | Schedule::WarmupCosine { .. }) {
            if lr > 1.0 {
                return Err(format!(
                    "cosine schedules take lr <= 1 (burn's cosine annealing), got {lr}"
                ));
            }
            if f("lr_min") > lr {
                return Err(format!("lr_min ({}) is above lr ({lr})", f("lr_min")));
            }
        }
        let hidden = match get("hidden") {
            Some(ParamValue::List(items)) => items.iter().filter_map(|v| v.as_i64()).map(|i| i as usize).collect(),
            _ => vec![128],
        };
        let augment = b("augment").then(|| Augment {
            crop_padding: u("crop_padding") as u32,
            rotation_deg: f("rotation") as f32,
            scale: f("scale") as f32,
        });
        Ok(TrainConfig {
            model: if s("model") == "cnn" {
                ModelKind::Cnn
            } else {
                ModelKind::Mlp
            },
            dataset: s("dataset"),
            data_dir: get("data_dir").and_then(|v| v.as_str().map(PathBuf::from)),
            device: s("device"),
            hidden,
            activation: Activation::parse(&s("activation")).ok_or("unknown activation")?,
            dropout: f("dropout"),
            lr,
            batch_size: u("batch_size"),
            epochs: u("epochs"),
            optimizer,
            weight_decay,
            eps,
            grad_clip_norm: f("grad_clip_norm"),
            schedule,
            normalize: s("normalize"),
            norm_mean: f("norm_mean"),
            norm_std: f("norm_std"),
            augment,
            val_size: u("val_size"),
            train_limit: u("train_limit"),
            test_limit: u("test_limit"),
            seed: get("seed").and_then(|v| v.as_i64()).map_or(seed, |s| s as u64),
            metric,
        })
    }
}
