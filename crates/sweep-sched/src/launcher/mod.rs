//! Launchers: where attempts run. Each launcher is one module implementing
//! [`Launcher`]: start an attempt (or re-attach to one by its journaled
//! [`Handle`]), stop one attempt, and, where it can, detach, show status and
//! cancel. The dispatcher and the CLI never name a launcher: they go through
//! this trait and the registry functions here ([`for_spec`],
//! [`outlives_orchestrator`], [`queue_states`], [`cancel`]).
//!
//! Adding a launcher means one module here, one arm in each registry
//! function, and one variant of `sweep_spec::Launcher`.

pub mod fake;
mod job;
pub mod local;
pub mod slurm;

pub use job::{JobPlan, substitute};

use crate::dispatcher::{Attempt, Event};
use std::path::Path;
use std::time::Duration;
use sweep_core::TrialId;
use sweep_results::Handle;
use tokio::sync::mpsc;

/// What a launcher can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// `--detach`: attempts run on without an orchestrator.
    pub detach: bool,
    /// The launcher enforces the spec's `timeout` itself (SLURM's --time);
    /// otherwise the dispatcher sets a timer.
    pub enforces_timeout: bool,
    /// It can follow a journaled attempt again after a crash.
    pub reattach: bool,
    /// Trials get their GPUs from this machine's pool (else the launcher
    /// assigns them: SLURM's --gres).
    pub local_gpus: bool,
}

/// What one attempt runs: the process, its environment and logs.
#[derive(Debug, Clone)]
pub struct Job {
    /// The trial.
    pub trial: TrialId,
    /// The attempt, from 1.
    pub attempt: u32,
    /// Program and arguments (no shell).
    pub argv: Vec<String>,
    /// Environment added to the orchestrator's.
    pub env: Vec<(String, String)>,
    /// Where the worker's stdout goes (appended).
    pub stdout_log: std::path::PathBuf,
    /// Where the worker's stderr goes (appended).
    pub stderr_log: std::path::PathBuf,
    /// The trial's folder.
    pub trial_dir: std::path::PathBuf,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// The spec's per-attempt time limit (for launchers that enforce it).
    pub timeout: Option<Duration>,
}

/// Where attempts run.
pub trait Launcher: Send {
    /// The launcher's name, journaled with its handles (`local`, `slurm`).
    fn name(&self) -> &'static str;

    /// What it can do.
    fn caps(&self) -> Caps;

    /// A problem with `spec` that would fail every attempt here (a
    /// `command:` program this machine does not have), found before the
    /// results folder is touched. Launchers whose trials run elsewhere
    /// (another node's PATH) cannot tell, and say nothing.
    fn check(&self, _spec: &sweep_spec::Spec) -> Option<sweep_spec::Diagnostic> {
        None
    }

    /// Starts `attempt` (or re-attaches to `attempt.adopt`): the job's files
    /// are written by `plan.prepare()` off the async runtime first.
    /// Everything learnt goes to `events`: `Launched` with the handle,
    /// protocol events, and exactly one `Ended` (or `Refused`), unless the
    /// attempt is detached.
    fn start(&mut self, plan: JobPlan, attempt: Attempt, events: mpsc::UnboundedSender<Event>);

    /// Stops one attempt: gracefully (SIGTERM, grace, SIGKILL; scancel), or
    /// at once.
    fn stop(&mut self, trial: &TrialId, attempt: u32, kill: bool);

    /// Stops an attempt that an earlier run started and journaled as
    /// stopped, if it still runs; this run does not follow it, and nothing
    /// is reported back. Launchers whose attempts die with the orchestrator
    /// have nothing to do.
    fn stop_leftover(&mut self, _trial: &TrialId, _handle: &Handle) {}

    /// The handle of an attempt started just before a crash, before the
    /// journal got its handle (SLURM finds the job by its name). Blocking.
    fn find_lost(&self, _trial: &TrialId, _attempt: u32) -> Option<Handle> {
        None
    }
}

/// Writes an attempt's files off the async runtime; when that fails, the
/// attempt ends failed (told through `events`) and `None` is returned.
pub(crate) async fn prepare(plan: JobPlan, events: &mpsc::UnboundedSender<Event>) -> Option<Job> {
    let (trial, attempt) = (plan.attempt.trial.id.clone(), plan.attempt.attempt);
    match off_runtime(move || plan.prepare()).await {
        Ok(Ok(job)) => Some(job),
        Ok(Err(e)) => {
            let _ = events.send(Event::Ended {
                trial,
                attempt,
                outcome: crate::dispatcher::Outcome {
                    status: sweep_core::TrialStatus::Failed,
                    metrics: sweep_core::EpochMetrics::new(),
                    error: Some(format!("cannot write the trial's folder: {e}")),
                    seconds: 0.0,
                    continue_because: None,
                },
            });
            None
        }
        Err(Panicked) => panic!("preparing a trial panicked"),
    }
}

/// Blocking work handed to the [`files`] thread.
type FileWork = Box<dyn FnOnce() + Send>;

/// The work panicked (on the [`files`] thread, which lives on).
#[derive(Debug)]
pub(crate) struct Panicked;

/// The one thread that does the trials' blocking file work, in the order
/// it is handed over, started on first use and kept for the process. One
/// thread fed by a channel instead of a blocking-pool task per trial: it
/// takes whatever is queued without being woken again, where each
/// `spawn_blocking` woke a pool thread (a measurable share of the
/// orchestrator's CPU with many short trials).
fn files() -> &'static std::sync::mpsc::Sender<FileWork> {
    static FILES: std::sync::OnceLock<std::sync::mpsc::Sender<FileWork>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<FileWork>();
        std::thread::Builder::new()
            .name("trial-files".into())
            .spawn(move || {
                for work in rx {
                    // A panic is the caller's (its reply is dropped); the
                    // thread serves the next trial.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
                }
            })
            .expect("cannot start the trial-files thread");
        tx
    })
}

/// Runs blocking `work` on the [`files`] thread and waits for it without
/// blocking the async runtime.
pub(crate) async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Panicked> {
    hand_over(work).await.map_err(|_| Panicked)
}

/// Hands blocking `work` to the [`files`] thread; its result comes on the
/// receiver (closed without one if it panicked).
pub(crate) fn hand_over<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> tokio::sync::oneshot::Receiver<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    files()
        .send(Box::new(move || {
            let _ = tx.send(work());
        }))
        .expect("the trial-files thread lives as long as the process");
    rx
}

/// The launcher a spec (or `--launcher`) asks for.
pub fn for_spec(kind: sweep_spec::Launcher, spec: &sweep_spec::Spec, results: &Path) -> Box<dyn Launcher> {
    match kind {
        sweep_spec::Launcher::Local => Box::new(local::LocalLauncher::new()),
        sweep_spec::Launcher::Slurm => Box::new(slurm::SlurmLauncher::new(spec, results)),
    }
}

/// True when attempts of the launcher named `name` keep running after
/// their orchestrator dies (a SLURM job does; a local process dies with
/// it): a resume under another launcher must not run them again.
pub fn outlives_orchestrator(name: &str) -> bool {
    match name {
        "local" | "fake" => false,
        // Unknown launchers are assumed to outlive: never run twice.
        _ => true,
    }
}

/// The state of each handle in its launcher's queue (`queued (Priority)`,
/// `running`, `ended`), for `sweep status`; handles whose launcher has no
/// queue are left out. An error says the queue could not be read.
pub fn queue_states(handles: &[Handle]) -> Result<std::collections::HashMap<Handle, String>, String> {
    let mut out = std::collections::HashMap::new();
    let slurm_ids: Vec<&Handle> = handles.iter().filter(|h| h.launcher == "slurm").collect();
    if !slurm_ids.is_empty() {
        let queue = slurm::queue_now()?;
        for h in slurm_ids {
            let state = match queue.get(&h.id) {
                Some((st, reason)) if st == "PENDING" => format!("queued ({reason})"),
                Some((st, _)) => st.to_lowercase(),
                None => "ended, not recorded yet".into(),
            };
            out.insert(h.clone(), state);
        }
    }
    Ok(out)
}

/// Cancels running attempts by their handles (`sweep cancel`), each
/// through its own launcher, and says what it did. Local processes end with
/// their orchestrator and are left to it.
pub fn cancel(results: &Path, handles: &[Handle]) -> Result<Vec<String>, String> {
    let mut said = Vec::new();
    let mut slurm_ids: Vec<String> = handles
        .iter()
        .filter(|h| h.launcher == "slurm")
        .map(|h| h.id.clone())
        .collect();
    slurm_ids.sort();
    slurm_ids.dedup();
    if !slurm_ids.is_empty() {
        let status = slurm::cancel_jobs(results, &slurm_ids).map_err(|e| format!("cannot run scancel: {e}"))?;
        if !status.success() {
            return Err(format!("scancel failed ({status}) for jobs {}", slurm_ids.join(" ")));
        }
        said.push(format!("cancelled {} jobs: {}", slurm_ids.len(), slurm_ids.join(" ")));
    }
    let local = handles.iter().filter(|h| h.launcher == "local").count();
    if local > 0 {
        said.push(format!(
            "{local} local trials end with their orchestrator: stop it with Ctrl-C (they are not cancelled from here)"
        ));
    }
    Ok(said)
}

/// Whether a running attempt should stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// Keep going.
    Run,
    /// Stop gracefully: SIGTERM, grace period, SIGKILL.
    Graceful,
    /// Stop now: SIGKILL.
    Kill,
}

/// What a trial's protocol lines said about how it ends: the `done`
/// metrics, why it diverged, the error it reported.
#[derive(Debug, Clone, Default)]
pub struct Ending {
    /// Final metrics, when it printed `done`.
    pub done: Option<sweep_core::EpochMetrics>,
    /// "epoch N: reason", when it printed `diverged`.
    pub diverged: Option<String>,
    /// Its `error` message.
    pub error: Option<String>,
    /// The checkpoint's epoch, when it printed `suspended` (saved its state
    /// to be continued).
    pub suspended: Option<u32>,
}

impl Ending {
    /// Parses one stdout line; an event is noted, and returned for the dispatcher.
    pub fn see(&mut self, line: &str) -> sweep_core::ParsedLine {
        use sweep_core::{ParsedLine, TrialEvent};
        let parsed = TrialEvent::parse_line(line);
        match &parsed {
            ParsedLine::Event(TrialEvent::Done { metrics }) => self.done = Some(metrics.clone()),
            ParsedLine::Event(TrialEvent::Diverged { epoch, reason }) => {
                self.diverged = Some(format!("epoch {epoch}: {reason}"));
            }
            ParsedLine::Event(TrialEvent::Error { message }) => self.error = Some(message.clone()),
            ParsedLine::Event(TrialEvent::Suspended { epoch }) => self.suspended = Some(*epoch),
            _ => {}
        }
        parsed
    }
}
