//! The append-only journal and its replay.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use sweep_core::{EpochMetrics, Params, TrialId, TrialStatus};

/// What a launcher calls one running attempt, typed by the launcher that
/// started it: a process id (`local`), a SLURM job id (`slurm`). A resume
/// under another launcher never mistakes one for the other.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Handle {
    /// The launcher that started the attempt (`local`, `slurm`).
    pub launcher: String,
    /// Its id there.
    pub id: String,
}

impl std::fmt::Display for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.launcher, self.id)
    }
}

/// Why an early-termination rule stopped a trial, as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pruning {
    /// The rule (`hyperband`, `asha`, `median`).
    pub rule: String,
    /// The epoch at which it was stopped.
    pub epoch: u32,
    /// The band, rung or step it was judged at.
    pub rung: u32,
    /// The trial's value that was compared.
    pub value: f64,
    /// The threshold it missed.
    pub threshold: f64,
    /// How many values made the threshold.
    pub compared: usize,
    /// What was compared (`value`, `best_so_far`).
    #[serde(default)]
    pub kind: String,
}

/// Seconds since the Unix epoch, for journal timestamps.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    /// `sweep run` started (or resumed) the sweep.
    SweepStarted {
        /// When.
        time: f64,
        /// Trials in all, when known in advance (grid, random).
        trials: Option<u64>,
        /// Trials already finished (kept from an earlier run).
        kept: usize,
        /// The launcher trials run on (`local`, `slurm`).
        #[serde(default)]
        launcher: String,
    },
    /// A trial was created: its parameters and seed, before it ever starts.
    TrialCreated {
        /// The trial.
        trial: TrialId,
        /// Its place in the order of creation, from 0.
        ordinal: usize,
        /// Its swept parameters.
        params: Params,
        /// Its training seed.
        seed: u64,
    },
    /// An attempt of a trial started.
    TrialStarted {
        /// The trial.
        trial: TrialId,
        /// Which attempt, from 1.
        attempt: u32,
        /// When.
        time: f64,
        /// Where it runs (`cpu`, `cuda:0`).
        device: Option<String>,
    },
    /// An attempt got its launcher handle: a process id, or the SLURM job id
    /// (journaled as soon as sbatch answers).
    Launched {
        /// The trial.
        trial: TrialId,
        /// Which attempt.
        attempt: u32,
        /// The launcher's handle.
        handle: Handle,
    },
    /// The sweep decided to stop a running attempt (pruned, timed out,
    /// diverged metric): the decision stands even if the orchestrator dies
    /// before the attempt ends.
    StopRequested {
        /// The trial.
        trial: TrialId,
        /// Which attempt.
        attempt: u32,
        /// The status it will end with.
        status: TrialStatus,
        /// Why, for a person.
        reason: String,
        /// The early-termination rule's numbers, when pruned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pruning: Option<Pruning>,
    },
    /// The trainer saved a checkpoint after `epoch` (in the trial's
    /// `checkpoint/` folder): an attempt started again continues from it.
    Checkpointed {
        /// The trial.
        trial: TrialId,
        /// Which attempt.
        attempt: u32,
        /// The checkpoint's last epoch.
        epoch: u32,
        /// Its size, when the trainer said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bytes: Option<u64>,
        /// Seconds it took to write, when the trainer said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seconds: Option<f64>,
    },
    /// An attempt continued from a checkpoint taken after `epoch`: epochs up
    /// to it were not trained again.
    Resumed {
        /// The trial.
        trial: TrialId,
        /// Which attempt.
        attempt: u32,
        /// The checkpoint's last epoch.
        epoch: u32,
    },
    /// An epoch of a trial finished.
    Epoch {
        /// The trial.
        trial: TrialId,
        /// Which attempt.
        attempt: u32,
        /// The epoch, from 1.
        epoch: u32,
        /// Its metrics (non-finite values as `"NaN"`, `"Infinity"`).
        #[serde(with = "sweep_core::metrics_json")]
        metrics: EpochMetrics,
    },
    /// An attempt of a trial ended.
    TrialFinished {
        /// The trial.
        trial: TrialId,
        /// Which attempt.
        attempt: u32,
        /// When.
        time: f64,
        /// How it ended.
        status: TrialStatus,
        /// Final metrics (test_accuracy, best_epoch, ...).
        #[serde(default, with = "sweep_core::metrics_json")]
        metrics: EpochMetrics,
        /// Why it failed, for a person; at most about
        /// [`sweep_core::text::ERROR_MAX`] bytes are stored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Seconds the attempt ran.
        seconds: f64,
        /// Whether the trial will be tried again.
        #[serde(default)]
        retry: bool,
        /// The attempt stopped to be continued from its checkpoint (a
        /// SLURM time limit, preemption or node failure, or the trainer
        /// suspended itself): the next attempt is a continuation, counted
        /// against `checkpoint.max_continuations`, not `retries`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        continued: bool,
    },
    /// The sweep stopped (finished, or interrupted).
    SweepStopped {
        /// When.
        time: f64,
        /// True when Ctrl-C (or SIGTERM) stopped it.
        interrupted: bool,
    },
}

/// Why the journal could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Reading or writing failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The journal.
        path: PathBuf,
        /// Why (not a `source`: the message holds it, and a chain would
        /// print it twice).
        error: std::io::Error,
    },
    /// A line in the middle is not an entry: the file was damaged or edited.
    #[error("{}:{line}: not a journal entry ({reason})", path.display())]
    Corrupt {
        /// The journal.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What the parser said.
        reason: String,
    },
}

/// An open journal, appending.
///
/// Every entry is written to the file (`write(2)`) before [`Journal::append`]
/// returns, so a killed orchestrator (`kill -9`, a panic) loses nothing. The
/// `fdatasync` that makes entries survive a power cut runs on a thread of its
/// own, as group commit: it starts [`SYNC_GATHER`] after the first entry not
/// yet on disk and covers every entry written before it began, so the
/// dispatcher never waits for the disk, and a sweep of short trials costs at
/// most one sync per [`SYNC_GATHER`] rather than one per entry.
/// [`Journal::sync`] waits until everything written is on disk (at once, not
/// after the gathering time).
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    written: u64,
    syncer: Arc<Syncer>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct SyncState {
    /// Entries written to the file.
    written: u64,
    /// Entries known to be on disk.
    synced: u64,
    /// The first sync that failed.
    error: Option<std::io::ErrorKind>,
    /// The journal was closed: sync what is left and end.
    closing: bool,
    /// The sync thread waits for an entry (only then does `append` wake it).
    idle: bool,
    /// Someone waits in [`Journal::sync`]: sync without gathering.
    urgent: bool,
}

/// How long the sync thread gathers entries before an `fdatasync`: a power
/// cut can lose at most the entries of the last this-long (plus the sync).
pub const SYNC_GATHER: std::time::Duration = std::time::Duration::from_millis(20);

#[derive(Debug, Default)]
struct Syncer {
    state: Mutex<SyncState>,
    wake: Condvar,
}

impl Syncer {
    fn run(&self, file: File) {
        let mut state = self.state.lock().expect("journal sync state");
        loop {
            while state.synced == state.written && !state.closing {
                state.idle = true;
                state = self.wake.wait(state).expect("journal sync state");
                state.idle = false;
            }
            if state.synced == state.written {
                return;
            }
            if !state.closing && !state.urgent {
                // Gather the entries of the next few milliseconds into this
                // sync; `sync` and closing cut it short.
                state = self
                    .wake
                    .wait_timeout(state, SYNC_GATHER)
                    .expect("journal sync state")
                    .0;
            }
            let target = state.written;
            drop(state);
            let result = file.sync_data();
            state = self.state.lock().expect("journal sync state");
            if let Err(e) = result {
                state.error.get_or_insert(e.kind());
            }
            state.synced = target;
            if state.synced == state.written {
                state.urgent = false;
            }
            self.wake.notify_all();
        }
    }
}

impl Journal {
    /// Opens (creating if needed) the journal for appending. A last line torn
    /// by a crash is cut off first, so new entries start on a line of their own.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let io = |error| JournalError::Io {
            path: path.to_path_buf(),
            error,
        };
        if let Ok(bytes) = std::fs::read(path)
            && !bytes.is_empty()
            && !bytes.ends_with(b"\n")
        {
            let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let f = OpenOptions::new().write(true).open(path).map_err(io)?;
            f.set_len(keep as u64).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        let for_sync = file.try_clone().map_err(io)?;
        let syncer = Arc::new(Syncer::default());
        let thread = std::thread::Builder::new()
            .name("journal-sync".into())
            .spawn({
                let syncer = Arc::clone(&syncer);
                move || syncer.run(for_sync)
            })
            .map_err(io)?;
        Ok(Journal {
            file,
            path: path.to_path_buf(),
            written: 0,
            syncer,
            thread: Some(thread),
        })
    }

    /// Appends one entry: written to the file before returning, and handed
    /// to the sync thread. A sync that failed earlier is reported here.
    pub fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let capped = capped_error(entry);
        let entry = capped.as_ref().unwrap_or(entry);
        let mut line = serde_json::to_vec(entry).expect("entries serialize");
        line.push(b'\n');
        self.file.write_all(&line).map_err(|error| JournalError::Io {
            path: self.path.clone(),
            error,
        })?;
        self.written += 1;
        let mut state = self.syncer.state.lock().expect("journal sync state");
        state.written = self.written;
        if state.idle {
            self.syncer.wake.notify_all();
        }
        self.sync_error(&state)
    }

    /// Waits until every entry appended so far is on disk.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        let mut state = self.syncer.state.lock().expect("journal sync state");
        if state.synced < self.written {
            state.urgent = true;
            self.syncer.wake.notify_all();
        }
        while state.synced < self.written && state.error.is_none() {
            state = self.syncer.wake.wait(state).expect("journal sync state");
        }
        self.sync_error(&state)
    }

    fn sync_error(&self, state: &SyncState) -> Result<(), JournalError> {
        match state.error {
            Some(kind) => Err(JournalError::Io {
                path: self.path.clone(),
                error: std::io::Error::new(kind, "syncing the journal to disk failed"),
            }),
            None => Ok(()),
        }
    }

    /// Rebuilds every trial's state from the journal at `path` (empty if absent).
    pub fn replay(path: &Path) -> Result<Replay, JournalError> {
        Self::replay_with(path, |_, _, _, _| {})
    }

    /// [`Journal::replay`], calling `on_epoch(replay, trial, attempt, epoch)`
    /// after each epoch entry is applied: the state as it was when that
    /// report came, for rules that must see the reports again in order.
    pub fn replay_with(
        path: &Path,
        mut on_epoch: impl FnMut(&Replay, &TrialId, u32, u32),
    ) -> Result<Replay, JournalError> {
        let mut replay = Replay::default();
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(replay),
            Err(error) => {
                return Err(JournalError::Io {
                    path: path.to_path_buf(),
                    error,
                });
            }
        };
        let lines: Vec<String> = BufReader::new(file)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(|error| JournalError::Io {
                path: path.to_path_buf(),
                error,
            })?;
        let last = lines.len();
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Entry>(line) {
                Ok(entry) => replay.apply_reporting(entry, &mut on_epoch),
                // A crash can tear the last line; anywhere else is damage.
                Err(_) if i + 1 == last => replay.torn_tail = true,
                Err(e) => {
                    return Err(JournalError::Corrupt {
                        path: path.to_path_buf(),
                        line: i + 1,
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok(replay)
    }
}

/// `entry` with its error message cut to [`sweep_core::text::ERROR_MAX`]
/// bytes, when it is a finish with a longer one: whatever a trial printed,
/// the journal and the tables built from it stay small.
fn capped_error(entry: &Entry) -> Option<Entry> {
    let Entry::TrialFinished { error: Some(e), .. } = entry else {
        return None;
    };
    let std::borrow::Cow::Owned(short) = sweep_core::text::cap_middle(e, sweep_core::text::ERROR_MAX) else {
        return None;
    };
    let mut entry = entry.clone();
    if let Entry::TrialFinished { error, .. } = &mut entry {
        *error = Some(short);
    }
    Some(entry)
}

impl Drop for Journal {
    fn drop(&mut self) {
        if let Ok(mut state) = self.syncer.state.lock() {
            state.closing = true;
            self.syncer.wake.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the journal says of one trial.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRecord {
    /// Its place in the order of creation.
    pub ordinal: usize,
    /// Its swept parameters (empty for a trial the journal never created).
    pub params: Params,
    /// Its training seed.
    pub seed: u64,
    /// Its latest status.
    pub status: TrialStatus,
    /// Attempts started.
    pub attempts: u32,
    /// Attempts that failed (count against `retries`; interruptions do not).
    pub failures: u32,
    /// The epochs of the latest attempt.
    pub epochs: Vec<(u32, EpochMetrics)>,
    /// Final metrics of the latest attempt.
    pub final_metrics: EpochMetrics,
    /// Why the latest attempt failed.
    pub error: Option<String>,
    /// Where the latest attempt ran.
    pub device: Option<String>,
    /// The launcher's handle of each attempt.
    pub handles: Vec<Handle>,
    /// The launcher's handle of the latest attempt, once known.
    pub handle: Option<Handle>,
    /// A stop the sweep decided for the latest attempt: status and reason.
    pub stop: Option<(TrialStatus, String)>,
    /// Why an early-termination rule stopped it.
    pub pruning: Option<Pruning>,
    /// Seconds the latest attempt ran (while running: since it started).
    pub seconds: f64,
    /// When the latest attempt started.
    pub started: f64,
    /// Whether a retry was promised after the latest attempt.
    pub retry: bool,
    /// Attempts that ended to be continued (`continued`).
    pub continuations: u32,
    /// The last checkpoint the trainer reported, over all attempts.
    pub checkpoint: Option<Checkpoint>,
    /// Checkpoints written, over all attempts, and the seconds they took.
    pub checkpoint_writes: u32,
    /// Seconds spent writing the checkpoints counted in `checkpoint_writes`
    /// (those that said).
    pub checkpoint_seconds: f64,
    /// Each continuation from a checkpoint: (attempt, the checkpoint's epoch).
    pub resumed: Vec<(u32, u32)>,
    /// The epochs of the attempts before the latest one (a continuation
    /// takes those up to its checkpoint from here).
    pub earlier_epochs: Vec<(u32, EpochMetrics)>,
}

/// A checkpoint a trainer reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Checkpoint {
    /// Its last epoch.
    pub epoch: u32,
    /// Its size, when said.
    pub bytes: Option<u64>,
}

impl TrialRecord {
    /// True when the trial is finished for good: a resume keeps it.
    pub fn is_done(&self) -> bool {
        self.status.is_final() && !self.retry
    }

    /// The trial's value of `metric` and the epoch it came from: the best
    /// finite value over its epochs, else its final value (a trainer that
    /// reports only at its end: `{"event": "done", "loss": 0.3}`), with no
    /// epoch. What the leaderboard ranks by and TPE learns from.
    pub fn best(&self, metric: &sweep_core::Metric) -> Option<(f64, Option<u32>)> {
        let best = self
            .epochs
            .iter()
            .filter_map(|(e, m)| m.get(&metric.name).filter(|v| v.is_finite()).map(|v| (*e, *v)))
            .fold(None, |acc: Option<(u32, f64)>, (e, v)| match acc {
                Some((_, b)) if !metric.goal.better(v, b) => acc,
                _ => Some((e, v)),
            });
        match best {
            Some((e, v)) => Some((v, Some(e))),
            None => self.final_metrics.get(&metric.name).map(|&v| (v, None)),
        }
    }

    /// The trial's value of `metric` ([`TrialRecord::best`]).
    pub fn value(&self, metric: &sweep_core::Metric) -> Option<f64> {
        self.best(metric).map(|(v, _)| v)
    }
}

/// The state of every trial the journal mentions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replay {
    /// By trial id.
    pub trials: HashMap<TrialId, TrialRecord>,
    /// The trials in order of creation.
    pub order: Vec<TrialId>,
    /// The launcher of the latest `sweep run`.
    pub launcher: Option<String>,
    /// Trials in all, when the sampler knew it in advance.
    pub total: Option<u64>,
    /// Whether the last line was torn (a crash mid-write).
    pub torn_tail: bool,
    /// Whether the sweep was ever started.
    pub started: bool,
    /// A trial started that the journal never created: written by an older
    /// `sweep` that did not journal parameters.
    pub legacy: bool,
}

impl Replay {
    /// [`Replay::apply`], then for an epoch entry `on_epoch(self, trial,
    /// attempt, epoch)` (see [`Journal::replay_with`]).
    pub fn apply_reporting(&mut self, entry: Entry, on_epoch: &mut dyn FnMut(&Replay, &TrialId, u32, u32)) {
        let report = match &entry {
            Entry::Epoch {
                trial, attempt, epoch, ..
            } => Some((trial.clone(), *attempt, *epoch)),
            _ => None,
        };
        self.apply(entry);
        if let Some((trial, attempt, epoch)) = report {
            on_epoch(self, &trial, attempt, epoch);
        }
    }

    /// Applies one entry.
    pub fn apply(&mut self, entry: Entry) {
        match entry {
            Entry::SweepStarted { launcher, trials, .. } => {
                self.started = true;
                self.total = trials;
                if !launcher.is_empty() {
                    self.launcher = Some(launcher);
                }
            }
            Entry::SweepStopped { .. } => {}
            Entry::TrialCreated {
                trial,
                ordinal,
                params,
                seed,
            } => {
                let r = self.record(trial);
                r.ordinal = ordinal;
                r.params = params;
                r.seed = seed;
            }
            Entry::TrialStarted {
                trial,
                attempt,
                time,
                device,
            } => {
                if !self.trials.contains_key(&trial) {
                    self.legacy = true;
                }
                let r = self.record(trial);
                r.status = TrialStatus::Running;
                r.attempts = r.attempts.max(attempt);
                let latest = std::mem::take(&mut r.epochs);
                for (e, m) in latest {
                    r.earlier_epochs.retain(|(x, _)| *x != e);
                    r.earlier_epochs.push((e, m));
                }
                r.final_metrics.clear();
                r.error = None;
                r.device = device;
                r.handle = None;
                r.stop = None;
                r.pruning = None;
                r.started = time;
                r.retry = false;
            }
            Entry::Launched { trial, attempt, handle } => {
                if let Some(r) = self.trials.get_mut(&trial)
                    && r.attempts == attempt
                {
                    r.handle = Some(handle.clone());
                    r.handles.push(handle);
                }
            }
            Entry::StopRequested {
                trial,
                attempt,
                status,
                reason,
                pruning,
            } => {
                if let Some(r) = self.trials.get_mut(&trial)
                    && r.attempts == attempt
                {
                    r.stop = Some((status, reason));
                    r.pruning = pruning;
                }
            }
            Entry::Checkpointed {
                trial,
                epoch,
                bytes,
                seconds,
                ..
            } => {
                if let Some(r) = self.trials.get_mut(&trial) {
                    r.checkpoint = Some(Checkpoint { epoch, bytes });
                    r.checkpoint_writes += 1;
                    r.checkpoint_seconds += seconds.unwrap_or(0.0);
                }
            }
            Entry::Resumed { trial, attempt, epoch } => {
                if let Some(r) = self.trials.get_mut(&trial) {
                    r.resumed.push((attempt, epoch));
                    // Epochs up to the checkpoint come from earlier attempts,
                    // unless this one reports them again.
                    for (e, m) in &r.earlier_epochs {
                        if *e <= epoch && !r.epochs.iter().any(|(x, _)| x == e) {
                            r.epochs.push((*e, m.clone()));
                        }
                    }
                }
            }
            Entry::Epoch {
                trial, epoch, metrics, ..
            } => {
                if let Some(r) = self.trials.get_mut(&trial) {
                    r.epochs.retain(|(e, _)| *e != epoch);
                    r.epochs.push((epoch, metrics));
                }
            }
            Entry::TrialFinished {
                trial,
                status,
                metrics,
                error,
                seconds,
                retry,
                continued,
                ..
            } => {
                if let Some(r) = self.trials.get_mut(&trial) {
                    if continued {
                        r.continuations += 1;
                    }
                    r.status = status;
                    r.final_metrics = metrics;
                    r.error = error.map(|e| sweep_core::text::cap_middle(&e, sweep_core::text::ERROR_MAX).into_owned());
                    r.seconds = seconds;
                    r.retry = retry;
                    r.handle = None;
                    if matches!(status, TrialStatus::Failed | TrialStatus::TimedOut) {
                        r.failures += 1;
                    }
                }
            }
        }
    }

    /// The record of `trial`, created (pending) if the journal had not
    /// mentioned it.
    fn record(&mut self, trial: TrialId) -> &mut TrialRecord {
        let ordinal = self.order.len();
        if !self.trials.contains_key(&trial) {
            self.order.push(trial.clone());
        }
        self.trials.entry(trial).or_insert_with(|| TrialRecord {
            ordinal,
            params: Params::new(),
            seed: 0,
            status: TrialStatus::Pending,
            attempts: 0,
            failures: 0,
            epochs: Vec::new(),
            final_metrics: EpochMetrics::new(),
            error: None,
            device: None,
            handles: Vec::new(),
            handle: None,
            stop: None,
            pruning: None,
            seconds: 0.0,
            started: 0.0,
            retry: false,
            continuations: 0,
            checkpoint: None,
            checkpoint_writes: 0,
            checkpoint_seconds: 0.0,
            resumed: Vec::new(),
            earlier_epochs: Vec::new(),
        })
    }

    /// Every created trial as the tables see it, in order of creation.
    pub fn infos(&self) -> Vec<crate::TrialInfo<'_>> {
        self.order
            .iter()
            .map(|id| {
                let r = &self.trials[id];
                crate::TrialInfo {
                    id,
                    ordinal: r.ordinal,
                    params: &r.params,
                    seed: r.seed,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(id: &str, attempt: u32) -> Entry {
        Entry::TrialStarted {
            trial: TrialId::from_string(id),
            attempt,
            time: 1.0,
            device: None,
        }
    }

    fn finished(id: &str, attempt: u32, status: TrialStatus, retry: bool) -> Entry {
        Entry::TrialFinished {
            trial: TrialId::from_string(id),
            attempt,
            time: 2.0,
            status,
            metrics: EpochMetrics::new(),
            error: None,
            seconds: 1.0,
            retry,
            continued: false,
        }
    }

    #[test]
    fn replay_follows_attempts_and_retries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::open(&path).unwrap();
        let launched = |attempt: u32, id: &str| Entry::Launched {
            trial: TrialId::from_string("a"),
            attempt,
            handle: Handle {
                launcher: "local".into(),
                id: id.into(),
            },
        };
        for e in [
            started("a", 1),
            launched(1, "41"),
            finished("a", 1, TrialStatus::Failed, true),
            started("a", 2),
            launched(2, "42"),
            finished("a", 2, TrialStatus::Completed, false),
            started("b", 1),
            finished("b", 1, TrialStatus::Failed, true),
            started("c", 1),
        ] {
            j.append(&e).unwrap();
        }
        let r = Journal::replay(&path).unwrap();
        let a = &r.trials[&TrialId::from_string("a")];
        assert!(a.is_done());
        assert_eq!((a.attempts, a.failures, a.handles.len()), (2, 1, 2));
        assert_eq!(a.handles[1].to_string(), "local 42");
        assert_eq!(a.handle, None, "a finished attempt holds no handle");
        assert!(
            !r.trials[&TrialId::from_string("b")].is_done(),
            "a promised retry is not done"
        );
        assert_eq!(r.trials[&TrialId::from_string("c")].status, TrialStatus::Running);
    }

    #[test]
    fn a_torn_last_line_is_tolerated_and_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::open(&path).unwrap();
        j.append(&started("a", 1)).unwrap();
        drop(j);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"event\":\"trial_fin");
        std::fs::write(&path, &text).unwrap();
        let r = Journal::replay(&path).unwrap();
        assert!(r.torn_tail);
        assert_eq!(r.trials.len(), 1);
        let mut j = Journal::open(&path).unwrap();
        j.append(&finished("a", 1, TrialStatus::Completed, false)).unwrap();
        let r = Journal::replay(&path).unwrap();
        assert!(!r.torn_tail);
        assert!(r.trials[&TrialId::from_string("a")].is_done());
    }

    #[test]
    fn entries_are_in_the_file_when_append_returns_and_on_disk_after_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::open(&path).unwrap();
        for i in 0..200 {
            j.append(&started(&format!("t{i}"), 1)).unwrap();
            // Another reader (a resume after kill -9) sees every entry at once.
            let lines = std::fs::read_to_string(&path).unwrap().lines().count();
            assert_eq!(lines, i + 1);
        }
        j.sync().unwrap();
        let state = j.syncer.state.lock().unwrap();
        assert_eq!((state.written, state.synced), (200, 200));
        drop(state);
        drop(j);
        assert_eq!(Journal::replay(&path).unwrap().trials.len(), 200);
    }

    #[test]
    fn non_finite_metrics_and_long_errors_go_through_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::open(&path).unwrap();
        let mut metrics = EpochMetrics::new();
        metrics.insert("loss".into(), f64::NAN);
        metrics.insert("grad".into(), f64::INFINITY);
        metrics.insert("lo".into(), f64::NEG_INFINITY);
        metrics.insert("lr".into(), 0.1);
        j.append(&started("a", 1)).unwrap();
        j.append(&Entry::Epoch {
            trial: TrialId::from_string("a"),
            attempt: 1,
            epoch: 2,
            metrics: metrics.clone(),
        })
        .unwrap();
        let mut fin = finished("a", 1, TrialStatus::Failed, false);
        if let Entry::TrialFinished {
            error,
            metrics: final_metrics,
            ..
        } = &mut fin
        {
            *error = Some(format!("exit code 1; stderr: {}", "x".repeat(10_000_000)));
            *final_metrics = metrics;
        }
        j.append(&fin).unwrap();
        drop(j);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""loss":"NaN""#), "{text}");
        assert!(text.lines().all(|l| l.len() < 4096), "every line is small");
        let r = Journal::replay(&path).unwrap();
        let a = &r.trials[&TrialId::from_string("a")];
        for m in [&a.epochs[0].1, &a.final_metrics] {
            assert!(m["loss"].is_nan());
            assert_eq!((m["grad"], m["lo"], m["lr"]), (f64::INFINITY, f64::NEG_INFINITY, 0.1));
        }
        let error = a.error.as_deref().unwrap();
        assert!(error.starts_with("exit code 1; stderr: xxx") && error.contains("bytes cut"));
        assert!(error.len() < 2200, "{}", error.len());
        // A replay of an uncapped entry (an older journal) caps it too.
        let mut replay = Replay::default();
        replay.apply(started("b", 1));
        let mut fin = finished("b", 1, TrialStatus::Failed, false);
        if let Entry::TrialFinished { error, .. } = &mut fin {
            *error = Some("y".repeat(100_000));
        }
        replay.apply(fin);
        assert!(replay.trials[&TrialId::from_string("b")].error.as_ref().unwrap().len() < 2200);
    }

    #[test]
    fn damage_in_the_middle_is_an_error_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(
            &path,
            "not json\n{\"event\":\"sweep_stopped\",\"time\":1,\"interrupted\":false}\n",
        )
        .unwrap();
        let err = Journal::replay(&path).unwrap_err().to_string();
        assert!(err.contains("journal.jsonl:1: not a journal entry"), "{err}");
    }
}
