//! The built-in burn trainer of `sweep`.
//!
//! A trial's parameters become a [`TrainConfig`] (checked against
//! `sweep_core::builtin`), the dataset is loaded from IDX files ([`data`]),
//! and [`run_trial`] trains an MLP or CNN on the CPU (burn-ndarray) or a CUDA
//! GPU, reporting each epoch as a [`sweep_core::TrialEvent`]. With a
//! checkpoint folder ([`run_trial_with`]), it saves its state every N epochs
//! ([`checkpoint`]) and a later attempt continues from it, bit
//! for bit; SIGUSR1 ([`suspend`]) stops it early with its state saved.
//!
//! ```no_run
//! use sweep_train::{TrainConfig, config::default_metric, run_trial};
//! let cfg = TrainConfig::from_params(&Default::default(), 42, default_metric()).unwrap();
//! let outcome = run_trial(&cfg, &mut |event| println!("{}", event.to_line()), &mut ()).unwrap();
//! ```

pub mod augment;
pub mod backend;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod layers;
pub mod model;
pub(crate) mod resume;
pub mod suspend;
pub mod train;

pub use backend::{DeviceKind, cuda_devices};
pub use config::TrainConfig;
pub use train::{Checkpointing, Outcome, Progress, RunOptions};

use burn::backend::{Autodiff, NdArray};
use sweep_core::TrialEvent;

/// The CPU training backend.
pub type CpuBackend = Autodiff<NdArray<f32>>;
/// The GPU training backend.
#[cfg(feature = "cuda")]
pub type CudaBackend = Autodiff<burn::backend::Cuda<f32>>;

/// Why a trial could not train (as opposed to training and diverging).
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The dataset is missing or corrupt.
    #[error(transparent)]
    Data(#[from] data::DataError),
    /// The configuration or device cannot be used.
    #[error("{0}")]
    Config(String),
}

/// Loads the data and trains one trial on the configured device.
pub fn run_trial(
    cfg: &TrainConfig,
    on_event: &mut dyn FnMut(TrialEvent),
    progress: &mut dyn Progress,
) -> Result<Outcome, TrainError> {
    run_trial_with(cfg, &RunOptions::default(), on_event, progress)
}

/// [`run_trial`] with checkpoints and a stop flag.
pub fn run_trial_with(
    cfg: &TrainConfig,
    opts: &RunOptions,
    on_event: &mut dyn FnMut(TrialEvent),
    progress: &mut dyn Progress,
) -> Result<Outcome, TrainError> {
    let device = DeviceKind::parse(&cfg.device).map_err(TrainError::Config)?;
    backend::check_device(device).map_err(TrainError::Config)?;
    let dataset = data::load(&cfg.dataset, cfg.data_dir.as_deref())?;
    let prepared = train::prepare(cfg, &dataset).map_err(TrainError::Config)?;
    drop(dataset);
    on_event(TrialEvent::Started {
        device: Some(device.to_string()),
    });
    let result = match device {
        DeviceKind::Cpu => {
            backend::flush_denormals();
            train::train::<CpuBackend>(cfg, &prepared, &Default::default(), opts, on_event, progress)
        }
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda(i) => {
            let dev = burn::backend::cuda::CudaDevice::new(i);
            train::train::<CudaBackend>(cfg, &prepared, &dev, opts, on_event, progress)
        }
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda(_) => unreachable!("check_device refuses cuda without the feature"),
    };
    result.map_err(TrainError::Config)
}
