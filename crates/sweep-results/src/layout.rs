//! Where everything of a results folder lives: `spec.yaml`, `journal.jsonl`,
//! the two tables, and each trial's folder (`trials/<id>/`, with its logs,
//! `trial.json` and checkpoints); the README's "Layout" section lists them.

use std::path::{Path, PathBuf};
use sweep_core::TrialId;

/// The paths of one sweep's results folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultsDir {
    root: PathBuf,
}

impl ResultsDir {
    /// The folder at `root` (not created).
    pub fn new(root: impl Into<PathBuf>) -> ResultsDir {
        ResultsDir { root: root.into() }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The spec as run.
    pub fn spec(&self) -> PathBuf {
        self.root.join("spec.yaml")
    }

    /// The append-only event log.
    pub fn journal(&self) -> PathBuf {
        self.root.join("journal.jsonl")
    }

    /// One row per trial, ranked.
    pub fn leaderboard(&self) -> PathBuf {
        self.root.join("leaderboard.csv")
    }

    /// One row per trial and epoch.
    pub fn epochs(&self) -> PathBuf {
        self.root.join("epochs.csv")
    }

    /// A trial's own folder.
    pub fn trial_dir(&self, id: &TrialId) -> PathBuf {
        self.root.join("trials").join(id.as_str())
    }

    /// The trial's checkpoint folder (`SWEEP_CHECKPOINT_DIR`), the same for
    /// every attempt; the trainer creates it.
    pub fn checkpoint_dir(&self, id: &TrialId) -> PathBuf {
        self.trial_dir(id).join("checkpoint")
    }

    /// What a worker is told about its trial.
    pub fn trial_file(&self, id: &TrialId) -> PathBuf {
        self.trial_dir(id).join("trial.json")
    }

    /// The trial's stdout, as the worker printed it.
    pub fn stdout_log(&self, id: &TrialId) -> PathBuf {
        self.trial_dir(id).join("stdout.log")
    }

    /// The trial's stderr.
    pub fn stderr_log(&self, id: &TrialId) -> PathBuf {
        self.trial_dir(id).join("stderr.log")
    }
}
