//! The sweep scheduler.
//!
//! [`run_sweep`] runs a sweep as cargo-nextest runs tests: a [`dispatcher`]
//! (a state machine with no I/O) owns all run state and turns each event
//! into actions; the async shell in `run.rs` feeds it events from a
//! [`launcher`] (local processes, SLURM jobs, a fake in tests), timers and
//! Ctrl-C, and carries its actions out. Trials come from a sampler
//! (`sweep_spec::sampler`) as the sweep goes; [`pruner`]s stop trials early;
//! the [`pool`] holds CPU slots and GPUs; the tables are written by their
//! own thread ([`writer`]). The scheduler never links the trainer; it speaks
//! the worker protocol (`sweep_core::TrialEvent`), read by [`output`] in
//! bounded memory whatever the trial prints.

pub mod dispatcher;
pub mod gpus;
pub mod launcher;
pub mod output;
pub mod pool;
pub mod pruner;
mod resume;
mod run;
pub mod writer;

pub use dispatcher::{Progress, ResumeError};
pub use resume::folder_in_use;
pub use run::{RunOptions, Summary, run_sweep, run_with};

use std::path::PathBuf;

/// Why a sweep could not run.
#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    /// The trials can never fit on this machine.
    #[error("no trial can start: {0}")]
    NeverFits(String),
    /// A resume with a spec that would change the results.
    #[error(
        "{} holds a sweep run with a different spec:\n{}\nrun with --restart to start over (the old folder is kept, renamed), or restore the spec",
        folder.display(),
        changes.iter().map(|c| format!("  - {c}")).collect::<Vec<_>>().join("\n")
    )]
    SpecChanged {
        /// The results folder.
        folder: PathBuf,
        /// What changed.
        changes: Vec<String>,
    },
    /// The spec stored in the results folder cannot be read any more.
    #[error("the results folder's spec.yaml is not a valid spec any more ({0}); use --restart")]
    OldSpec(String),
    /// The journal is damaged or cannot be written.
    #[error(transparent)]
    Journal(#[from] sweep_results::JournalError),
    /// Another `sweep run` holds the results folder.
    #[error("{} is in use by another `sweep run` (pid {pid}); wait for it, or stop it first", .0.display(), pid = .1)]
    Busy(PathBuf, String),
    /// Options that do not go together.
    #[error("{0}")]
    Usage(String),
    /// The spec cannot work on this launcher (its program is not there).
    #[error(transparent)]
    Spec(#[from] sweep_spec::SpecError),
    /// The launcher refused a trial (sbatch's complaint, verbatim).
    #[error("the launcher refused a trial:\n{0}")]
    Launcher(String),
    /// The journal does not fit the spec or this launcher.
    #[error(transparent)]
    Resume(#[from] ResumeError),
    /// A file could not be written.
    #[error("{path}: {err}", path = .0.display(), err = .1)]
    Io(PathBuf, std::io::Error),
}
