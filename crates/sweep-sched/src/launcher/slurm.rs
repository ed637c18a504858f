//! The SLURM launcher: one job per trial attempt. The job runs the same
//! program a local trial runs, with the same environment; its stdout (the
//! worker protocol) goes to `trials/<id>/events.jsonl` on the shared
//! filesystem, which the executor follows. The queue (one `squeue` for all
//! trials, every second) only says whether a job is still there; how it
//! ended comes from its events, then from `scontrol show job` (the exit code,
//! TIMEOUT, CANCELLED, NODE_FAIL, ...).

use super::{Cancel, Caps, Ending, Job, JobPlan, Launcher};
use crate::dispatcher::{Attempt, Continuation, Event, Outcome};
use crate::output::{FollowFile, Notes, Protocol, file_tail};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use sweep_core::{EpochMetrics, TrialId, TrialStatus};
use sweep_results::Handle;
use sweep_spec::{CheckpointSettings, SlurmSettings};
use tokio::sync::{mpsc, watch};

/// How often the events files are read.
const FOLLOW_EVERY: Duration = Duration::from_millis(300);
/// How often the queue is asked.
const QUEUE_EVERY: Duration = Duration::from_secs(1);

/// One SLURM job per attempt.
#[derive(Debug)]
pub struct SlurmLauncher {
    sweep: String,
    cpus: u32,
    gpus: u32,
    settings: SlurmSettings,
    checkpoint: CheckpointSettings,
    spec_path: PathBuf,
    results: PathBuf,
    queue: Option<watch::Receiver<QueueSnapshot>>,
    cancels: HashMap<(TrialId, u32), watch::Sender<Cancel>>,
}

impl SlurmLauncher {
    /// The launcher for `spec`'s jobs, results in `results`.
    pub fn new(spec: &sweep_spec::Spec, results: &Path) -> SlurmLauncher {
        SlurmLauncher {
            sweep: spec.name.clone(),
            cpus: spec.resources.cpus_per_trial,
            gpus: spec.resources.gpus_per_trial.ceil() as u32,
            settings: spec.slurm.clone(),
            checkpoint: spec.checkpoint,
            spec_path: spec.path.clone(),
            results: results.to_path_buf(),
            queue: None,
            cancels: HashMap::new(),
        }
    }
}

/// The SLURM job name of a trial's attempt: `sweep-<sweep>-<id>-<attempt>`.
pub fn job_name(sweep: &str, id: &TrialId, attempt: u32) -> String {
    format!("sweep-{sweep}-{id}-{attempt}")
}

impl Launcher for SlurmLauncher {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn caps(&self) -> Caps {
        Caps {
            detach: true,
            enforces_timeout: true,
            reattach: true,
            local_gpus: false,
        }
    }

    fn start(&mut self, plan: JobPlan, attempt: Attempt, events: mpsc::UnboundedSender<Event>) {
        self.cancels.retain(|_, tx| !tx.is_closed());
        let (tx, rx) = watch::channel(Cancel::Run);
        self.cancels.insert((attempt.trial.id.clone(), attempt.attempt), tx);
        let queue = self.queue.get_or_insert_with(watch_queue).clone();
        let name = job_name(&self.sweep, &attempt.trial.id, attempt.attempt);
        let checkpoint = self.checkpoint;
        let (cpus, gpus, settings, spec_path, results) = (
            self.cpus,
            self.gpus,
            self.settings.clone(),
            self.spec_path.clone(),
            self.results.clone(),
        );
        tokio::spawn(async move {
            let Some(job) = super::prepare(plan, &events).await else {
                return;
            };
            let sj = SlurmJob {
                name,
                cpus,
                gpus,
                settings,
                checkpoint,
                spec_path,
                events: job.trial_dir.join("events.jsonl"),
                trial_dir: job.trial_dir.clone(),
                results,
                after: attempt.after.map(|h| h.id),
                job,
            };
            execute(sj, attempt.adopt.map(|h| h.id), !attempt.detached, events, rx, queue).await;
        });
    }

    fn stop(&mut self, trial: &TrialId, attempt: u32, kill: bool) {
        if let Some(tx) = self.cancels.get(&(trial.clone(), attempt)) {
            let _ = tx.send(if kill { Cancel::Kill } else { Cancel::Graceful });
        }
    }

    fn stop_leftover(&mut self, trial: &TrialId, handle: &Handle) {
        // Blocking, and only on a resume: done before the sweep goes on, so
        // it is done even if nothing else is left to run. A job that already
        // ended makes scancel complain, which is no news.
        let done = tokio::task::block_in_place(|| {
            std::process::Command::new("scancel")
                .arg(&handle.id)
                .stderr(std::process::Stdio::null())
                .status()
        });
        if let Err(e) = done {
            tracing::warn!("cannot run scancel for trial {trial}'s job {}: {e}", handle.id);
        }
    }

    fn find_lost(&self, trial: &TrialId, attempt: u32) -> Option<Handle> {
        let name = job_name(&self.sweep, trial, attempt);
        let out = std::process::Command::new("squeue")
            .args(["-h", "-o", "%i", "--me", "--name", &name])
            .stdin(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .find(|l| !l.is_empty())
            .map(|id| Handle {
                launcher: "slurm".into(),
                id,
            })
    }
}

/// The states of the jobs in the queue, and when they were read.
#[derive(Debug, Clone)]
pub struct QueueSnapshot {
    /// Job id -> state (PENDING, RUNNING, COMPLETING, ...).
    pub jobs: Arc<HashMap<String, String>>,
    /// When `squeue` was asked.
    pub taken: Instant,
    /// Whether `squeue` answered (a failed call says nothing about jobs).
    pub ok: bool,
}

/// Asks `squeue` for the states of this user's jobs, every second, and
/// publishes them. Ends when every receiver is gone.
pub fn watch_queue() -> watch::Receiver<QueueSnapshot> {
    let (tx, rx) = watch::channel(QueueSnapshot {
        jobs: Arc::new(HashMap::new()),
        taken: Instant::now(),
        ok: false,
    });
    tokio::spawn(async move {
        loop {
            let taken = Instant::now();
            let out = tokio::process::Command::new("squeue")
                .args(["-h", "-o", "%i %T", "--me"])
                .stdin(std::process::Stdio::null())
                .output()
                .await;
            let (jobs, ok) = match out {
                Ok(o) if o.status.success() => (
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .filter_map(|l| l.split_once(' '))
                        .map(|(id, st)| (id.trim().to_string(), st.trim().to_string()))
                        .collect(),
                    true,
                ),
                _ => (HashMap::new(), false),
            };
            if tx
                .send(QueueSnapshot {
                    jobs: Arc::new(jobs),
                    taken,
                    ok,
                })
                .is_err()
            {
                return;
            }
            tokio::time::sleep(QUEUE_EVERY).await;
        }
    });
    rx
}

/// What the SLURM executor needs besides the local [`Job`].
#[derive(Debug, Clone)]
pub struct SlurmJob {
    /// The attempt, as for a local run.
    pub job: Job,
    /// `sweep-<sweep>-<trial id>-<attempt>`: found again after a crash.
    pub name: String,
    /// CPUs per task.
    pub cpus: u32,
    /// Whole GPUs per job (`--gres=gpu:N`).
    pub gpus: u32,
    /// The spec's sbatch settings.
    pub settings: SlurmSettings,
    /// Checkpoints: the warning signal before the time limit, and whether
    /// a job that reaches its limit is continued.
    pub checkpoint: CheckpointSettings,
    /// The spec file, to point sbatch's complaints at.
    pub spec_path: PathBuf,
    /// The trial's folder.
    pub trial_dir: PathBuf,
    /// Where the job's stdout (the protocol) goes.
    pub events: PathBuf,
    /// The sweep's results folder.
    pub results: PathBuf,
    /// A job this one starts after (`--dependency=afterany:`), whatever its end.
    pub after: Option<String>,
}

/// The file `sweep cancel` lists the jobs it cancelled in, one id a line.
pub fn cancelled_file(results: &Path) -> PathBuf {
    results.join("cancelled-jobs")
}

fn cancelled_by_sweep(results: &Path, id: &str) -> bool {
    std::fs::read_to_string(cancelled_file(results)).is_ok_and(|t| t.lines().any(|l| l.trim() == id))
}

/// Cancels jobs with `scancel`, listing them first in the results folder so
/// whoever follows them records an interruption, not a failure.
pub fn cancel_jobs(results: &Path, ids: &[String]) -> std::io::Result<std::process::ExitStatus> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(cancelled_file(results))?;
    for id in ids {
        writeln!(f, "{id}")?;
    }
    f.sync_all()?;
    std::process::Command::new("scancel").args(ids).status()
}

/// The states of this user's jobs now (`squeue` once), or why not.
pub fn queue_now() -> Result<HashMap<String, (String, String)>, String> {
    let out = std::process::Command::new("squeue")
        .args(["-h", "-o", "%i|%T|%r", "--me"])
        .output()
        .map_err(|e| format!("cannot run squeue: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split('|');
            Some((
                parts.next()?.trim().to_string(),
                (
                    parts.next()?.trim().to_string(),
                    parts.next().unwrap_or("").trim().to_string(),
                ),
            ))
        })
        .collect())
}

/// Quotes a word for /bin/sh.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `--time` in minutes, rounded up, from the spec's timeout.
fn minutes(t: Duration) -> u64 {
    t.as_secs().div_ceil(60).max(1)
}

/// Submits the attempt; returns the job id or sbatch's complaint.
pub async fn submit(sj: &SlurmJob) -> Result<String, String> {
    let script = sj.trial_dir.join("job.sh");
    let cwd = std::env::current_dir().map_err(|e| format!("cannot read the working directory: {e}"))?;
    let body = format!(
        "#!/bin/sh\n# sweep: trial {} attempt {}\ncd {}\nexec {}\n",
        sj.job.trial,
        sj.job.attempt,
        sh_quote(&cwd.display().to_string()),
        sj.job.argv.iter().map(|a| sh_quote(a)).collect::<Vec<_>>().join(" ")
    );
    std::fs::write(&script, body).map_err(|e| format!("{}: {e}", script.display()))?;
    // A new attempt starts a fresh events file: sbatch truncates --output
    // only once the job starts, and the follower must not read the last
    // attempt's lines as this one's meanwhile.
    match std::fs::remove_file(&sj.events) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", sj.events.display())),
    }
    let mut args = vec![
        "--parsable".to_string(),
        format!("--job-name={}", sj.name),
        format!("--output={}", sj.events.display()),
        format!("--error={}", sj.job.stderr_log.display()),
        format!("--cpus-per-task={}", sj.cpus.max(1)),
    ];
    if sj.gpus > 0 {
        args.push(format!("--gres=gpu:{}", sj.gpus));
    }
    if let Some(after) = &sj.after {
        args.push(format!("--dependency=afterany:{after}"));
    }
    if sj.settings.time.is_none()
        && let Some(t) = sj.job.timeout
    {
        args.push(format!("--time={}", minutes(t)));
    }
    // The job's own limit (not the trial's `timeout`): warned, continued.
    let job_limit = sj.settings.time.is_some() || sj.job.timeout.is_none();
    if sj.checkpoint.enabled() && job_limit {
        // SIGUSR1 to the job's shell, which is the trainer (`exec`), a
        // while before the time limit: it saves and stops, to be continued.
        args.push(format!(
            "--signal=B:USR1@{}",
            sj.checkpoint.signal_before.as_secs().max(1)
        ));
    }
    // Preempted and failed jobs are continued by the orchestrator, as a new
    // journaled job; SLURM requeueing one would hide it under the same id.
    if !sj.settings.extra_args.iter().any(|a| a.starts_with("--requeue")) {
        args.push("--no-requeue".into());
    }
    let settings = sj.settings.sbatch_args();
    args.extend(settings.iter().map(|(a, _)| a.clone()));
    args.push(script.display().to_string());
    let out = tokio::process::Command::new("sbatch")
        .args(&args)
        .envs(sj.job.env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run sbatch: {e} (is SLURM installed here?)"))?;
    if out.status.success() {
        let text = String::from_utf8_lossy(&out.stdout);
        // --parsable: "123" or "123;cluster".
        let id = text.trim().split(';').next().unwrap_or("").to_string();
        if id.is_empty() {
            return Err(format!("sbatch printed no job id: {text}"));
        }
        return Ok(id);
    }
    let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
    // Point at the spec line of the setting sbatch names, if any.
    let culprit = settings
        .iter()
        .find(|(a, _)| {
            let value = a.split_once('=').map_or(a.as_str(), |(_, v)| v);
            !value.is_empty() && said.contains(value)
        })
        .or_else(|| {
            settings.iter().find(|(_, key)| {
                said.to_lowercase()
                    .contains(&key.replace("time", "time limit").to_lowercase())
                    || said.to_lowercase().contains(key)
            })
        });
    let at = culprit
        .map(|(_, key)| match sj.settings.line_of(key) {
            Some(line) => format!("\n  --> {}:{line} (slurm.{key})", sj.spec_path.display()),
            None => format!("\n  (from slurm.{key})"),
        })
        .unwrap_or_default();
    Err(format!("{said}{at}"))
}

/// The job's final state, exit code and reason: from `scontrol` while the
/// controller remembers the job (MinJobAge), else from `sacct` where
/// accounting is kept.
async fn final_state(id: &str) -> Option<(String, Option<(i32, i32)>, String)> {
    let out = tokio::process::Command::new("scontrol")
        .args(["show", "job", "-o", id])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .ok()?;
    if !out.status.success() {
        let acct = tokio::process::Command::new("sacct")
            .args(["-j", id, "-X", "-n", "-P", "-o", "State,ExitCode,Reason"])
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .ok()
            .filter(|o| o.status.success())?;
        let text = String::from_utf8_lossy(&acct.stdout).into_owned();
        let mut f = text.lines().next()?.split('|');
        // "CANCELLED by 0" -> CANCELLED
        let state = f.next()?.split_whitespace().next()?.to_string();
        let exit = f.next().and_then(|e| {
            let (a, b) = e.split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        });
        return Some((state, exit, f.next().unwrap_or("").to_string()));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .map(String::from)
    };
    let state = field("JobState=")?;
    let exit = field("ExitCode=").and_then(|e| {
        let (a, b) = e.split_once(':')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    });
    let reason = field("Reason=").unwrap_or_default();
    Some((state, exit, reason))
}

/// Runs one attempt as a SLURM job: submits it (or adopts the job `adopt`
/// found in the journal or the queue), follows its events, and reports
/// like a local executor. `Event::Launched` carries the job id; without
/// `follow_job` (a detached sweep) that is the last message.
async fn execute(
    sj: SlurmJob,
    adopt: Option<String>,
    follow_job: bool,
    tx: mpsc::UnboundedSender<Event>,
    mut cancel: watch::Receiver<Cancel>,
    mut queue: watch::Receiver<QueueSnapshot>,
) {
    let started = Instant::now();
    let trial = sj.job.trial.clone();
    let attempt = sj.job.attempt;
    let finish = |status, error: Option<String>, metrics| Event::Ended {
        trial: trial.clone(),
        attempt,
        outcome: Outcome {
            status,
            metrics,
            error,
            seconds: started.elapsed().as_secs_f64(),
            continue_because: None,
        },
    };
    let id = match adopt {
        Some(id) => id,
        None => match submit(&sj).await {
            Ok(id) => {
                let _ = tx.send(Event::Launched {
                    trial: trial.clone(),
                    attempt,
                    handle: Handle {
                        launcher: "slurm".into(),
                        id: id.clone(),
                    },
                });
                id
            }
            Err(message) => {
                let _ = tx.send(Event::Refused {
                    trial: trial.clone(),
                    attempt,
                    message,
                });
                return;
            }
        },
    };
    if !follow_job {
        return;
    }
    let submitted = Instant::now();
    let mut events = FollowFile::new(&sj.events);
    let mut protocol = Protocol::new(trial.clone(), attempt, tx.clone());
    let mut notes = Notes::default();
    let mut cancelled = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
            changed = cancel.changed(), if !cancelled => {
                if changed.is_ok() && *cancel.borrow() != Cancel::Run {
                    cancelled = true;
                    let _ = tokio::process::Command::new("scancel").arg(&id).status().await;
                }
            }
        }
        events.read_new(|line| notes.add(protocol.see(line)));
        let snap = queue.borrow_and_update().clone();
        // A snapshot from before the submission cannot know the job yet.
        if !snap.ok || snap.taken < submitted {
            continue;
        }
        if !snap.jobs.contains_key(&id) {
            break;
        }
    }
    events.finish(|line| notes.add(protocol.see(line)));
    let Ending {
        done,
        diverged,
        error,
        suspended,
    } = protocol.into_ending();
    let metrics = done.clone().unwrap_or_else(EpochMetrics::new);
    let state = final_state(&id).await;
    let tail = file_tail(&sj.job.stderr_log);
    notes.append_to(&sj.job.stderr_log);
    let with_tail = |msg: String| {
        if tail.is_empty() {
            msg
        } else {
            format!("{msg}; stderr: {tail}")
        }
    };
    let (state_name, exit, reason) = state.unwrap_or_else(|| ("unknown".into(), None, String::new()));
    let job = format!("SLURM job {id}");
    // The job's own limit (sbatch's --time from `slurm.time`, or the
    // partition's), not the trial's `timeout`: the trial goes on in a new job.
    let job_limit = sj.settings.time.is_some() || sj.job.timeout.is_none();
    let continued = |status, why: String, needs_progress, metrics| {
        let mut e = finish(status, Some(why.clone()), metrics);
        if let Event::Ended { outcome, .. } = &mut e {
            outcome.continue_because = Some(Continuation { why, needs_progress });
        }
        e
    };
    let msg = match (state_name.as_str(), done.is_some(), diverged) {
        (_, _, Some(why)) => finish(TrialStatus::Diverged, Some(why), metrics),
        _ if suspended.is_some() && !cancelled => continued(
            TrialStatus::TimedOut,
            format!(
                "{job} neared its time limit; the trainer saved its state after epoch {} and stopped",
                suspended.unwrap_or(0)
            ),
            true,
            metrics,
        ),
        ("TIMEOUT", ..) if job_limit && sj.checkpoint.enabled() => continued(
            TrialStatus::TimedOut,
            format!("{job} reached its time limit (TIMEOUT)"),
            true,
            metrics,
        ),
        // A trainer that does not handle SLURM's warning signal dies of it.
        ("FAILED", ..)
            if !cancelled
                && sj.checkpoint.enabled()
                && job_limit
                && exit.is_some_and(|(_, sig)| sig == libc::SIGUSR1) =>
        {
            continued(
                TrialStatus::TimedOut,
                format!("{job} neared its time limit and its trainer died of the warning signal (SIGUSR1)"),
                true,
                metrics,
            )
        }
        ("PREEMPTED", ..) if !cancelled => {
            continued(TrialStatus::Failed, format!("{job} was preempted"), false, metrics)
        }
        ("NODE_FAIL", ..) if !cancelled => continued(
            TrialStatus::Failed,
            format!("{job} ended as NODE_FAIL (its node failed)"),
            false,
            metrics,
        ),
        ("BOOT_FAIL", ..) if !cancelled => continued(
            TrialStatus::Failed,
            format!("{job} ended as BOOT_FAIL (its node did not boot)"),
            false,
            metrics,
        ),
        ("COMPLETED", _, None) | ("unknown", true, None) => finish(TrialStatus::Completed, None, metrics),
        ("TIMEOUT", ..) => finish(
            TrialStatus::TimedOut,
            Some(format!("{job} ran past its time limit (TIMEOUT)")),
            metrics,
        ),
        ("CANCELLED", ..) if cancelled => finish(TrialStatus::Interrupted, Some("interrupted".into()), metrics),
        ("CANCELLED", ..) if cancelled_by_sweep(&sj.results, &id) => finish(
            TrialStatus::Interrupted,
            Some(format!("{job} cancelled by `sweep cancel`")),
            metrics,
        ),
        ("CANCELLED", ..) => finish(
            TrialStatus::Failed,
            Some(format!("{job} was cancelled outside sweep (scancel)")),
            metrics,
        ),
        ("FAILED", ..) => {
            let code = exit.map_or_else(String::new, |(c, s)| {
                if s != 0 {
                    format!(", killed by signal {s}")
                } else {
                    format!(", exit code {c}")
                }
            });
            let why = error.unwrap_or_else(|| format!("{job} failed{code}"));
            finish(TrialStatus::Failed, Some(with_tail(why)), metrics)
        }
        (other, ..) => {
            let why = if reason.is_empty() || reason == "None" {
                format!("{job} ended as {other} without a result")
            } else {
                format!("{job} ended as {other} ({reason}) without a result")
            };
            finish(TrialStatus::Failed, Some(with_tail(why)), metrics)
        }
    };
    let _ = tx.send(msg);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_minutes() {
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
        assert_eq!(minutes(Duration::from_secs(61)), 2);
        assert_eq!(minutes(Duration::from_secs(5)), 1);
    }
}
