//! The local launcher: each attempt a child process in its own process
//! group, its stdout read as the worker protocol, stopped with SIGTERM to the
//! group, a grace period, then SIGKILL. A trial dies with the orchestrator,
//! so nothing of it outlives a crash: a watcher process kills the groups of
//! the running trials when the orchestrator's end of a pipe closes (see
//! [`Reaper`]); where there is no `/bin/sh`, each trial is started with
//! PR_SET_PDEATHSIG instead.

use super::{Cancel, Caps, Ending, Job, JobPlan, Launcher};
use crate::dispatcher::{Attempt, Event, Outcome};
use crate::output;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use sweep_core::{EpochMetrics, TrialId, TrialStatus};
use sweep_results::Handle;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};

/// Child processes on this machine.
#[derive(Debug, Default)]
pub struct LocalLauncher {
    /// Each running attempt's stop switch.
    cancels: HashMap<(TrialId, u32), watch::Sender<Cancel>>,
}

impl Drop for LocalLauncher {
    /// The sweep is over: the watcher forgets the groups that ended, so it
    /// never kills a reused number when this process exits.
    fn drop(&mut self) {
        if let Some(r) = Reaper::started() {
            r.flush();
        }
    }
}

impl LocalLauncher {
    /// A launcher with nothing running.
    pub fn new() -> LocalLauncher {
        LocalLauncher::default()
    }
}

impl Launcher for LocalLauncher {
    fn name(&self) -> &'static str {
        "local"
    }

    fn check(&self, spec: &sweep_spec::Spec) -> Option<sweep_spec::Diagnostic> {
        super::job::missing_program(spec)
    }

    fn caps(&self) -> Caps {
        Caps {
            detach: false,
            enforces_timeout: false,
            reattach: false,
            local_gpus: true,
        }
    }

    fn start(&mut self, plan: JobPlan, attempt: Attempt, events: mpsc::UnboundedSender<Event>) {
        self.cancels.retain(|_, tx| !tx.is_closed());
        let (tx, rx) = watch::channel(Cancel::Run);
        self.cancels.insert((attempt.trial.id.clone(), attempt.attempt), tx);
        tokio::spawn(async move {
            if let Some(job) = super::prepare(plan, &events).await {
                execute(job, events, rx).await;
            }
        });
    }

    fn stop(&mut self, trial: &TrialId, attempt: u32, kill: bool) {
        if let Some(tx) = self.cancels.get(&(trial.clone(), attempt)) {
            let _ = tx.send(if kill { Cancel::Kill } else { Cancel::Graceful });
        }
    }
}

/// One watcher per orchestrator: a `/bin/sh` in a process group of its own
/// (so a Ctrl-C at the terminal does not reach it) that reads `+ PGID` and
/// `- PGID` lines on a pipe and, at the end of its input, kills every group
/// still listed. The pipe's write end is this process's alone (close on
/// exec), so the input ends when the orchestrator exits, however it exits:
/// a `kill -9` of the orchestrator kills its running trials, their own
/// children included. It replaces a `setpriv --pdeathsig` exec per trial,
/// about 0.9 ms of CPU each.
pub struct Reaper {
    pipe: std::sync::Mutex<ReaperPipe>,
}

/// The watcher's input, and the `- PGID` lines not yet written: a group's
/// end is told with the next `+` line (one write, one wakeup of the watcher
/// per trial), or when [`Reaper::flush`] is called, or when many wait.
struct ReaperPipe<W = std::process::ChildStdin> {
    stdin: W,
    pending: String,
}

impl<W: std::io::Write> ReaperPipe<W> {
    /// Watch `pgid`: written at once, with the ended groups held back.
    fn watch(&mut self, pgid: u32) -> bool {
        self.pending.push_str(&format!("+ {pgid}\n"));
        self.write()
    }

    /// `pgid` ended: held back until the next write, unless much is held.
    fn forget(&mut self, pgid: u32) {
        self.pending.push_str(&format!("- {pgid}\n"));
        if self.pending.len() >= REAPER_HELD_BYTES {
            self.write();
        }
    }

    /// Writes what is held; false when the watcher is gone.
    fn write(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let ok = self.stdin.write_all(self.pending.as_bytes()).is_ok();
        self.pending.clear();
        ok
    }
}

/// The most bytes of `- PGID` lines held back (about 80 lines).
const REAPER_HELD_BYTES: usize = 768;

static REAPER: std::sync::OnceLock<Option<Reaper>> = std::sync::OnceLock::new();

/// The watcher's program: a set of groups kept in one string, no forks.
const REAPER_SCRIPT: &str = r#"trap '' INT TERM HUP QUIT
live=' '
while read -r op g; do
  case "$op" in
    +) live="$live$g " ;;
    -) case "$live" in *" $g "*) live="${live%% $g *} ${live#* $g }" ;; esac ;;
  esac
done
for g in $live; do kill -9 "-$g" 2>/dev/null; done
"#;

impl Reaper {
    /// This process's watcher, started on first use; `None` when it cannot
    /// be started.
    pub fn get() -> Option<&'static Reaper> {
        REAPER
            .get_or_init(|| {
                if std::env::var_os("SWEEP_NO_REAPER").is_some() {
                    return None;
                }
                use std::os::unix::process::CommandExt;
                let mut child = std::process::Command::new("/bin/sh")
                    .args(["-c", REAPER_SCRIPT])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .process_group(0)
                    .spawn()
                    .ok()?;
                let stdin = child.stdin.take()?;
                Some(Reaper {
                    pipe: std::sync::Mutex::new(ReaperPipe {
                        stdin,
                        pending: String::new(),
                    }),
                })
            })
            .as_ref()
    }

    /// The watcher, if one was started.
    fn started() -> Option<&'static Reaper> {
        REAPER.get().and_then(Option::as_ref)
    }

    fn pipe(&self) -> std::sync::MutexGuard<'_, ReaperPipe> {
        self.pipe.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Kill the process group `pgid` should the orchestrator die.
    pub fn watch(&self, pgid: u32) -> bool {
        self.pipe().watch(pgid)
    }

    /// The group `pgid` ended: forget it (its number may be reused), told
    /// to the watcher with the next group to watch.
    pub fn forget(&self, pgid: u32) {
        self.pipe().forget(pgid);
    }

    /// Tells the watcher every group that ended.
    pub fn flush(&self) {
        self.pipe().write();
    }
}

impl std::fmt::Debug for Reaper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reaper")
    }
}

/// `setpriv` when it is installed and takes `--pdeathsig` (util-linux
/// 2.33 and later): checked once.
fn deathsig_wrapper() -> Option<&'static std::path::Path> {
    static WRAPPER: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    WRAPPER
        .get_or_init(|| {
            ["/usr/bin/setpriv", "/bin/setpriv"]
                .iter()
                .map(PathBuf::from)
                .find(|p| {
                    std::process::Command::new(p)
                        .args(["--pdeathsig", "KILL", "--", "true"])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success())
                })
        })
        .as_deref()
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
async fn execute(job: Job, tx: mpsc::UnboundedSender<Event>, mut cancel: watch::Receiver<Cancel>) {
    let started = Instant::now();
    let finish = |status, error: Option<String>, metrics| Event::Ended {
        trial: job.trial.clone(),
        attempt: job.attempt,
        outcome: Outcome {
            status,
            metrics,
            error,
            seconds: started.elapsed().as_secs_f64(),
            continue_because: None,
        },
    };
    // Created by their first byte: a quiet trial leaves no empty logs.
    let (mut out_log, mut err_log) = (
        output::LazyFile::new(&job.stdout_log),
        output::LazyFile::new(&job.stderr_log),
    );
    let reaper = Reaper::get();
    let wrapper = if reaper.is_some() { None } else { deathsig_wrapper() };
    // A program that does not resolve is started without the wrapper, so the
    // error says "cannot start" as it should.
    let mut cmd = match wrapper.filter(|_| super::job::resolve(&job.argv[0], None).is_ok()) {
        // posix_spawn (no fork of this process, whose page tables and
        // threads make each fork cost a millisecond or more) of setpriv,
        // which sets PR_SET_PDEATHSIG and execs the trial in place.
        Some(wrapper) => {
            let mut cmd = tokio::process::Command::new(wrapper);
            cmd.args(["--pdeathsig", "KILL", "--"]).args(&job.argv);
            cmd
        }
        None if reaper.is_some() => {
            // posix_spawn: the watcher kills the group if we die.
            let mut cmd = tokio::process::Command::new(&job.argv[0]);
            cmd.args(&job.argv[1..]);
            cmd
        }
        None => {
            let mut cmd = tokio::process::Command::new(&job.argv[0]);
            cmd.args(&job.argv[1..]);
            // SAFETY: prctl in the forked child before exec; it touches no
            // memory of the parent.
            #[cfg(target_os = "linux")]
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            cmd
        }
    };
    // A trial dies with the orchestrator (even when that is killed with -9)
    // instead of running on as an orphan that a resumed sweep would start
    // again: the watcher, else PR_SET_PDEATHSIG (Linux only).
    cmd.envs(job.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
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
    if let Some(r) = reaper
        && !r.watch(pid)
    {
        // The watcher is gone: this trial would outlive a crash.
        signal_group(pid, libc::SIGKILL);
        let _ = child.wait().await;
        let _ = tx.send(finish(
            TrialStatus::Failed,
            Some("the orchestrator's process watcher died; not started".into()),
            EpochMetrics::new(),
        ));
        return;
    }
    let _ = tx.send(Event::Launched {
        trial: job.trial.clone(),
        attempt: job.attempt,
        handle: Handle {
            launcher: "local".into(),
            id: pid.to_string(),
        },
    });

    // stdout: the protocol, also logged byte for byte (bounded: see output.rs).
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (note_tx, note_rx) = mpsc::unbounded_channel();
    let mut protocol = output::Protocol::new(job.trial.clone(), job.attempt, tx.clone());
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
        Cancelled,
    }
    let end = tokio::select! {
        status = child.wait() => End::Exited(status),
        _ = async { while *cancel.borrow_and_update() == Cancel::Run { if cancel.changed().await.is_err() { std::future::pending::<()>().await } } } => End::Cancelled,
    };
    let exit = match &end {
        End::Exited(status) => status.as_ref().ok().copied(),
        End::Cancelled => {
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
    if let Some(r) = reaper {
        r.forget(pid);
    }
    let Ending {
        done,
        diverged,
        error,
        suspended,
    } = tokio::time::timeout(Duration::from_secs(5), out_task)
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
    let cancelled = matches!(end, End::Cancelled);
    let mut msg = match end {
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
    // The trainer saved its state and stopped on its own: continued.
    if let (Some(epoch), false, Event::Ended { outcome, .. }) = (suspended, cancelled, &mut msg)
        && outcome.status != TrialStatus::Diverged
    {
        outcome.continue_because = Some(crate::dispatcher::Continuation {
            why: format!("the trainer suspended itself after epoch {epoch}"),
            needs_progress: true,
        });
        if outcome.status == TrialStatus::Completed {
            outcome.status = TrialStatus::Interrupted;
        }
    }
    let _ = tx.send(msg);
}

#[cfg(test)]
mod reaper_tests {
    use super::{REAPER_HELD_BYTES, ReaperPipe};

    fn watch(p: &mut ReaperPipe<Vec<u8>>, g: u32) {
        assert!(p.watch(g));
    }

    fn forget(p: &mut ReaperPipe<Vec<u8>>, g: u32) {
        p.forget(g);
    }

    #[test]
    fn ended_groups_are_told_with_the_next_watch_or_a_flush() {
        let mut p = ReaperPipe {
            stdin: Vec::new(),
            pending: String::new(),
        };
        watch(&mut p, 10);
        watch(&mut p, 11);
        assert_eq!(
            String::from_utf8_lossy(&p.stdin),
            "+ 10\n+ 11\n",
            "a watch is written at once"
        );
        forget(&mut p, 10);
        assert_eq!(p.stdin.len(), 10, "an ended group waits for the next write");
        watch(&mut p, 12);
        assert_eq!(String::from_utf8_lossy(&p.stdin), "+ 10\n+ 11\n- 10\n+ 12\n");
        forget(&mut p, 11);
        forget(&mut p, 12);
        assert!(p.write());
        assert!(
            String::from_utf8_lossy(&p.stdin).ends_with("+ 12\n- 11\n- 12\n"),
            "a flush writes what waits"
        );
        let before = p.stdin.len();
        assert!(p.write());
        assert_eq!(p.stdin.len(), before, "an empty flush writes nothing");
    }

    #[test]
    fn many_ended_groups_are_written_without_a_watch() {
        let mut p = ReaperPipe {
            stdin: Vec::new(),
            pending: String::new(),
        };
        for g in 0..REAPER_HELD_BYTES as u32 / 5 {
            forget(&mut p, 1_000_000 + g);
        }
        assert!(!p.stdin.is_empty(), "held back lines are bounded");
        assert!(p.pending.len() < REAPER_HELD_BYTES);
    }
}
