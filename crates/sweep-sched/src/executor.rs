//! One trial attempt as a child process: started in its own process group,
//! its stdout read as the worker protocol, stopped on timeout or Ctrl-C with
//! SIGTERM to the group, a grace period, then SIGKILL.

use crate::output;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use sweep_core::{EpochMetrics, ParsedLine, TrialEvent, TrialId, TrialStatus};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};

/// What to run for one attempt.
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
    pub stdout_log: PathBuf,
    /// Where the worker's stderr goes (appended).
    pub stderr_log: PathBuf,
    /// Per-attempt time limit.
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// Whether running trials should stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// Keep going.
    Run,
    /// Stop gracefully: SIGTERM, grace period, SIGKILL.
    Graceful,
    /// Stop now: SIGKILL.
    Kill,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Its status.
    pub status: TrialStatus,
    /// Final metrics from the `done` event.
    pub metrics: EpochMetrics,
    /// Why it did not complete.
    pub error: Option<String>,
    /// How long it ran.
    pub seconds: f64,
}

/// What an executor tells the dispatcher.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecMsg {
    /// The process is running.
    Started {
        /// The trial.
        trial: TrialId,
        /// Its process id.
        pid: u32,
    },
    /// The attempt was submitted to SLURM as this job.
    Submitted {
        /// The trial.
        trial: TrialId,
        /// The SLURM job id.
        job: String,
    },
    /// The launcher refused the attempt (sbatch's complaint, with the spec
    /// line it came from): nothing was started, and the sweep stops.
    Refused {
        /// The trial.
        trial: TrialId,
        /// Why, verbatim.
        message: String,
    },
    /// A protocol event from the worker.
    Event {
        /// The trial.
        trial: TrialId,
        /// The event.
        event: TrialEvent,
    },
    /// Something the trial printed was ignored (a malformed protocol
    /// line); sent once per attempt, for the person watching.
    Warning {
        /// The trial.
        trial: TrialId,
        /// What was ignored and why.
        message: String,
    },
    /// The attempt ended.
    Finished {
        /// The trial.
        trial: TrialId,
        /// How.
        outcome: Outcome,
    },
}

/// What a trial's protocol lines said about how it ends: the `done`
/// metrics, why it diverged, the error it reported.
#[derive(Debug, Clone, Default)]
pub struct Ending {
    /// Final metrics, when it printed `done`.
    pub done: Option<EpochMetrics>,
    /// "epoch N: reason", when it printed `diverged`.
    pub diverged: Option<String>,
    /// Its `error` message.
    pub error: Option<String>,
}

impl Ending {
    /// Parses one stdout line; an event is noted, and returned for the dispatcher.
    pub fn see(&mut self, line: &str) -> ParsedLine {
        let parsed = TrialEvent::parse_line(line);
        match &parsed {
            ParsedLine::Event(TrialEvent::Done { metrics }) => self.done = Some(metrics.clone()),
            ParsedLine::Event(TrialEvent::Diverged { epoch, reason }) => {
                self.diverged = Some(format!("epoch {epoch}: {reason}"));
            }
            ParsedLine::Event(TrialEvent::Error { message }) => self.error = Some(message.clone()),
            _ => {}
        }
        parsed
    }
}

fn signal_group(pid: u32, sig: i32) {
    // SAFETY: killpg only sends a signal; the group is the child's own (it
    // was started with process_group(0)), so nothing else is hit.
    unsafe {
        libc::killpg(pid as libc::pid_t, sig);
    }
}

fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(sig)) => format!("killed by signal {sig} ({})", signal_name(sig)),
        _ => "ended without an exit code".into(),
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGINT => "SIGINT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        _ => "signal",
    }
}

/// Runs one attempt to its end, reporting through `tx`.
pub async fn execute(job: Job, tx: mpsc::UnboundedSender<ExecMsg>, mut cancel: watch::Receiver<Cancel>) {
    let started = Instant::now();
    let finish = |status, error: Option<String>, metrics| ExecMsg::Finished {
        trial: job.trial.clone(),
        outcome: Outcome {
            status,
            metrics,
            error,
            seconds: started.elapsed().as_secs_f64(),
        },
    };
    let open = |p: &PathBuf| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map(tokio::fs::File::from_std)
    };
    let (mut out_log, mut err_log) = match (open(&job.stdout_log), open(&job.stderr_log)) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            let _ = tx.send(finish(
                TrialStatus::Failed,
                Some(format!("cannot open the trial's logs: {e}")),
                EpochMetrics::new(),
            ));
            return;
        }
    };
    let mut cmd = tokio::process::Command::new(&job.argv[0]);
    cmd.args(&job.argv[1..])
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: prctl in the forked child before exec; it touches no memory of
    // the parent. Linux only: a trial dies with the orchestrator (even when
    // that is killed with -9) instead of running on as an orphan that a
    // resumed sweep would start again.
    #[cfg(target_os = "linux")]
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("cannot start `{}`: {e}", job.argv[0]);
            let _ = err_log.write_all(format!("{msg}\n").as_bytes()).await;
            let _ = tx.send(finish(TrialStatus::Failed, Some(msg), EpochMetrics::new()));
            return;
        }
    };
    let pid = child.id().unwrap_or(0);
    let _ = tx.send(ExecMsg::Started {
        trial: job.trial.clone(),
        pid,
    });

    // stdout: the protocol, also logged byte for byte (bounded: see output.rs).
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (note_tx, note_rx) = mpsc::unbounded_channel();
    let mut protocol = output::Protocol::new(job.trial.clone(), tx.clone());
    let out_task = tokio::spawn(async move {
        let mut split = output::LineSplitter::new(output::LINE_LIMIT);
        let _ = output::copy_lines(&mut stdout, &mut out_log, &mut split, |line| {
            if let Some(note) = protocol.see(line) {
                let _ = note_tx.send(note);
            }
        })
        .await;
        protocol.into_ending()
    });
    // stderr: logged with the protocol's notes, its tail kept for the error message.
    let stderr = child.stderr.take().expect("piped stderr");
    let err_task = tokio::spawn(output::copy_stderr(stderr, err_log, note_rx));

    enum End {
        Exited(std::io::Result<ExitStatus>),
        TimedOut,
        Cancelled,
    }
    let deadline = job.timeout.map(|t| tokio::time::Instant::now() + t);
    let end = tokio::select! {
        status = child.wait() => End::Exited(status),
        _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => End::TimedOut,
        _ = async { while *cancel.borrow_and_update() == Cancel::Run { if cancel.changed().await.is_err() { std::future::pending::<()>().await } } } => End::Cancelled,
    };
    let exit = match &end {
        End::Exited(status) => status.as_ref().ok().copied(),
        End::TimedOut | End::Cancelled => {
            let kill_now = *cancel.borrow() == Cancel::Kill;
            signal_group(pid, if kill_now { libc::SIGKILL } else { libc::SIGTERM });
            tokio::select! {
                status = child.wait() => status.ok(),
                _ = tokio::time::sleep(job.grace) => { signal_group(pid, libc::SIGKILL); child.wait().await.ok() }
                _ = async { while *cancel.borrow_and_update() != Cancel::Kill { if cancel.changed().await.is_err() { std::future::pending::<()>().await } } } => {
                    signal_group(pid, libc::SIGKILL);
                    child.wait().await.ok()
                }
            }
        }
    };
    // Stragglers the trial left in its group would hold the pipes open.
    signal_group(pid, libc::SIGKILL);
    let Ending { done, diverged, error } = tokio::time::timeout(Duration::from_secs(5), out_task)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let tail = tokio::time::timeout(Duration::from_secs(5), err_task)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default()
        .text();

    let with_tail = |msg: String| {
        if tail.is_empty() {
            msg
        } else {
            format!("{msg}; stderr: {tail}")
        }
    };
    let metrics = done.clone().unwrap_or_default();
    let msg = match end {
        End::TimedOut => {
            let t = job.timeout.unwrap_or_default();
            finish(
                TrialStatus::TimedOut,
                Some(format!(
                    "ran past its timeout of {}",
                    sweep_spec::duration::format_duration(t)
                )),
                metrics,
            )
        }
        End::Cancelled => finish(TrialStatus::Interrupted, Some("interrupted".into()), metrics),
        End::Exited(_) => match (exit, diverged) {
            (_, Some(reason)) => finish(TrialStatus::Diverged, Some(reason), metrics),
            (Some(s), None) if s.success() => finish(TrialStatus::Completed, None, metrics),
            (Some(s), None) => {
                let why = error.map_or_else(|| describe_exit(s), |e| format!("{e} ({})", describe_exit(s)));
                finish(TrialStatus::Failed, Some(with_tail(why)), metrics)
            }
            (None, None) => finish(
                TrialStatus::Failed,
                Some(with_tail("lost track of the process".into())),
                metrics,
            ),
        },
    };
    let _ = tx.send(msg);
}
