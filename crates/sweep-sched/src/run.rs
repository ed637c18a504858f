//! The dispatcher: one task that owns all run state (queue, pool, journal,
//! tables), starts executors, and reacts to their messages, to retry timers
//! and to Ctrl-C.

use crate::SchedError;
use crate::executor::{self, Cancel, ExecMsg, Job, Outcome};
use crate::pool::{Allocation, Pool, Request};
use crate::resume;
use crate::slurm::{self, SlurmJob};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;
use sweep_core::{EpochMetrics, ParamValue, Params, TrialEvent, TrialFile, TrialId, TrialStatus};
use sweep_results::{Entry, Journal, Replay, ResultsDir, TrialInfo, now, write_tables};
use sweep_spec::{Launcher, Plan, Spec, Trainer, Trial};
use tokio::sync::{mpsc, watch};

/// The most often the CSV tables are rewritten while trials finish.
const TABLES_EVERY: Duration = Duration::from_millis(500);

/// How `sweep run` runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// CPU slots (default: every core).
    pub cpus: Option<u32>,
    /// GPUs, as `CUDA_VISIBLE_DEVICES` entries.
    pub gpus: Vec<String>,
    /// The program that runs built-in trials (`sweep` itself: `sweep worker`).
    pub worker_exe: PathBuf,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// First retry delay; doubles with each failure, up to a minute.
    pub retry_backoff: Duration,
    /// Move an existing results folder aside and start over.
    pub restart: bool,
    /// Where trials run, overriding the spec's `launcher`.
    pub launcher: Option<Launcher>,
    /// SLURM only: submit every trial, journal the job ids and return
    /// without following them (`sweep run` again re-attaches).
    pub detach: bool,
}

impl RunOptions {
    /// Defaults: every core, the GPUs found, 10 s grace, 1 s backoff.
    pub fn new(worker_exe: PathBuf) -> RunOptions {
        RunOptions {
            cpus: None,
            gpus: crate::gpus::detect(),
            worker_exe,
            grace: Duration::from_secs(10),
            retry_backoff: Duration::from_secs(1),
            restart: false,
            launcher: None,
            detach: false,
        }
    }
}

/// What the dispatcher tells the person watching.
#[derive(Debug, Clone)]
pub enum Progress {
    /// The plan and what a resume keeps.
    Planned {
        /// Trials in the plan.
        total: usize,
        /// Already finished, kept.
        kept: usize,
        /// Where the results go.
        results: PathBuf,
        /// Where an old folder was moved (with --restart).
        moved_aside: Option<PathBuf>,
    },
    /// An attempt started.
    Started {
        /// The trial.
        trial: Trial,
        /// Which attempt.
        attempt: u32,
        /// Where.
        device: String,
    },
    /// An epoch ended.
    Epoch {
        /// The trial.
        trial: TrialId,
        /// The epoch.
        epoch: u32,
        /// Epochs planned, when known.
        of: Option<u64>,
        /// Its metrics.
        metrics: EpochMetrics,
    },
    /// An attempt ended.
    Finished {
        /// The trial.
        trial: Trial,
        /// How.
        status: TrialStatus,
        /// The sweep metric's best value.
        metric: Option<f64>,
        /// Why it did not complete.
        error: Option<String>,
        /// Seconds it ran.
        seconds: f64,
        /// Whether it will be tried again.
        retry: bool,
    },
    /// A trial printed something that was ignored (a malformed protocol
    /// line); once per attempt.
    Warning {
        /// The trial.
        trial: TrialId,
        /// What was ignored and why.
        message: String,
    },
    /// Ctrl-C: no new trials; running ones are being stopped.
    Stopping {
        /// True on the second Ctrl-C: killing at once.
        kill: bool,
    },
}

/// How the sweep ended.
#[derive(Debug, Clone)]
pub struct Summary {
    /// True when Ctrl-C stopped it.
    pub interrupted: bool,
    /// The SLURM jobs left running by `--detach`: (trial, job id).
    pub detached: Vec<(TrialId, String)>,
    /// The replayed journal at the end.
    pub replay: Replay,
}

struct Running {
    alloc: Allocation,
    attempt: u32,
    ordinal: usize,
}

enum Msg {
    Exec(ExecMsg),
    RetryDue(usize),
}

/// The plan's trials as the results tables see them.
pub fn trial_infos(plan: &Plan) -> Vec<TrialInfo<'_>> {
    plan.trials
        .iter()
        .map(|t| TrialInfo {
            id: &t.id,
            ordinal: t.ordinal,
            params: &t.params,
            seed: t.seed,
        })
        .collect()
}

/// The argv words of a `command:` trainer, placeholders filled in.
pub fn substitute(argv: &[String], params: &Params, trial_id: &TrialId, trial_dir: &str, seed: u64) -> Vec<String> {
    argv.iter()
        .map(|arg| {
            let mut out = String::new();
            let mut rest = arg.as_str();
            while let Some(i) = rest.find("${") {
                out.push_str(&rest[..i]);
                let after = &rest[i + 2..];
                let Some(end) = after.find('}') else {
                    out.push_str(&rest[i..]);
                    rest = "";
                    break;
                };
                let name = &after[..end];
                let value = match (params.get(name), name) {
                    (Some(v), _) => v.to_arg(),
                    (None, "trial_id") => trial_id.to_string(),
                    (None, "trial_dir") => trial_dir.to_string(),
                    (None, "seed") => seed.to_string(),
                    (None, _) => format!("${{{name}}}"),
                };
                out.push_str(&value);
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            out
        })
        .collect()
}

/// Runs (or resumes) a sweep to its end, or until Ctrl-C.
pub async fn run_sweep(
    spec: &Spec,
    plan: &Plan,
    spec_text: &str,
    dir: &ResultsDir,
    opts: &RunOptions,
    report: &mut (dyn FnMut(Progress) + Send),
) -> Result<Summary, SchedError> {
    let launcher = opts.launcher.unwrap_or(spec.launcher);
    let cpus = opts
        .cpus
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
    // Under SLURM the cluster holds the CPUs and GPUs: the pool only keeps
    // max_concurrent jobs in the queue at once.
    let (mut pool, request) = match launcher {
        Launcher::Local => (
            Pool::new(cpus, opts.gpus.len(), spec.resources.max_concurrent),
            Request {
                cpus: spec.resources.cpus_per_trial,
                gpus: spec.resources.gpus_per_trial,
            },
        ),
        // Detached, max_concurrent holds through job dependencies instead
        // (see `lanes`): the pool only paces the submissions.
        Launcher::Slurm => (
            Pool::new(u32::MAX / 2, 0, spec.resources.max_concurrent),
            Request { cpus: 1, gpus: 0.0 },
        ),
    };
    if let Some(why) = pool.never_fits(request) {
        return Err(SchedError::NeverFits(why));
    }
    if opts.detach && launcher != Launcher::Slurm {
        return Err(SchedError::Usage(
            "--detach needs the SLURM launcher (`launcher: slurm` or --launcher slurm): local trials end with the orchestrator".into(),
        ));
    }
    // One orchestrator per results folder.
    let held = if dir.root().exists() {
        Some(resume::lock(dir)?)
    } else {
        None
    };
    let moved_aside = resume::prepare(dir, spec, plan, spec_text, opts.restart)?;
    // The lock moved aside with an old folder; a new folder gets its own.
    let _lock = match held {
        Some(lock) if moved_aside.is_none() => lock,
        _ => resume::lock(dir)?,
    };
    let io = |e: std::io::Error| SchedError::Io(dir.root().to_path_buf(), e);
    let mut replay = Journal::replay(&dir.journal())?;
    let mut journal = Journal::open(&dir.journal())?;
    let infos = trial_infos(plan);
    let columns: Vec<String> = spec.parameters.iter().map(|p| p.name.clone()).collect();

    // A trial the journal shows as running was cut off by a crash: it ran,
    // and it runs again, as an interruption, not a failure.
    let mut cut_off: Vec<TrialId> = replay
        .trials
        .iter()
        .filter(|(_, r)| r.status == TrialStatus::Running)
        .map(|(id, _)| id.clone())
        .collect();
    cut_off.sort();
    // Under SLURM a job outlives the orchestrator: a trial the journal shows
    // as running is followed again (never submitted twice), found by its
    // journaled job id or, if the crash came between sbatch and the journal,
    // by its job name in the queue.
    let mut adopt: Vec<(TrialId, String)> = Vec::new();
    if launcher == Launcher::Slurm {
        let mut still_cut = Vec::new();
        for id in cut_off {
            let rec = &replay.trials[&id];
            let job = match &rec.job {
                Some(j) => Some(j.clone()),
                None => slurm::find_by_name(&job_name(spec, &id, rec.attempts))
                    .await
                    .into_iter()
                    .next(),
            };
            match job {
                Some(job) => {
                    if rec.job.is_none() {
                        let entry = Entry::Launched {
                            trial: id.clone(),
                            attempt: rec.attempts,
                            job: job.clone(),
                        };
                        journal.append(&entry)?;
                        replay.apply(entry);
                    }
                    adopt.push((id, job));
                }
                None => still_cut.push(id),
            }
        }
        cut_off = still_cut;
    }
    for id in cut_off {
        let entry = Entry::TrialFinished {
            trial: id.clone(),
            attempt: replay.trials[&id].attempts,
            time: now(),
            status: TrialStatus::Interrupted,
            metrics: EpochMetrics::new(),
            error: Some("the orchestrator stopped while it ran".into()),
            seconds: 0.0,
            retry: false,
        };
        journal.append(&entry)?;
        replay.apply(entry);
    }
    let mut queue: VecDeque<usize> = VecDeque::new();
    let mut kept = 0;
    for t in &plan.trials {
        match replay.trials.get(&t.id) {
            Some(r) if r.is_done() => kept += 1,
            _ if adopt.iter().any(|(id, _)| *id == t.id) => {}
            _ => queue.push_back(t.ordinal),
        }
    }
    let entry = Entry::SweepStarted {
        time: now(),
        trials: plan.trials.len(),
        kept,
    };
    journal.append(&entry)?;
    replay.apply(entry);
    write_tables(dir, &infos, &columns, &replay, &spec.metric).map_err(io)?;
    report(Progress::Planned {
        total: plan.trials.len(),
        kept,
        results: dir.root().to_path_buf(),
        moved_aside,
    });

    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let (exec_tx, mut exec_rx) = mpsc::unbounded_channel::<ExecMsg>();
    let (cancel_tx, cancel_rx) = watch::channel(Cancel::Run);
    let mut running: HashMap<TrialId, Running> = HashMap::new();
    let mut retries_pending = 0usize;
    let mut stopping = false;
    // Tables are rewritten after a finished trial, at most once per
    // TABLES_EVERY (the journal has every event regardless): with
    // many short trials, rewriting and syncing two files per trial would
    // make the dispatcher the bottleneck.
    let mut tables_written = tokio::time::Instant::now();
    let mut tables_dirty = false;
    let queue_watch = (launcher == Launcher::Slurm).then(slurm::watch_queue);
    let mut refused: Option<String> = None;
    let mut detached: Vec<(TrialId, String)> = Vec::new();
    // Detached with max_concurrent N, the k-th job submitted waits for the
    // (k-N)-th to end (`--dependency=afterany`): N lanes, so SLURM itself
    // keeps at most N running with no orchestrator left to hold them back.
    let mut lanes: Vec<String> = Vec::new();
    let mut launches = 0usize;
    // Re-attach to jobs still in (or just gone from) the queue.
    for (id, job_id) in adopt {
        let Some(t) = plan.trials.iter().find(|t| t.id == id) else {
            continue;
        };
        let alloc = pool.adopt(request.cpus);
        let attempt = replay.trials[&id].attempts;
        let (job, device) =
            make_job(spec, t, attempt, &alloc, dir, opts).map_err(|e| SchedError::Io(dir.trial_dir(&id), e))?;
        running.insert(
            id.clone(),
            Running {
                alloc,
                attempt,
                ordinal: t.ordinal,
            },
        );
        report(Progress::Started {
            trial: t.clone(),
            attempt,
            device: format!("{device} (job {job_id}, re-attached)"),
        });
        if opts.detach {
            // Already in the queue: nothing to submit.
            if let Some(r) = running.remove(&id) {
                pool.release(&r.alloc);
            }
            detached.push((id.clone(), job_id));
            continue;
        }
        let sj = slurm_job(spec, t, job, dir);
        let queue = queue_watch.clone().expect("slurm");
        tokio::spawn(slurm::execute(
            sj,
            Some(job_id),
            true,
            exec_tx.clone(),
            cancel_rx.clone(),
            queue,
        ));
    }
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).map_err(io)?;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(io)?;

    loop {
        // Launch what fits (nothing new once stopping).
        while let Some(&ordinal) = queue.front().filter(|_| !stopping) {
            let Some(alloc) = pool.try_acquire(request) else { break };
            queue.pop_front();
            let trial = &plan.trials[ordinal];
            let attempt = replay.trials.get(&trial.id).map_or(0, |r| r.attempts) + 1;
            let (job, device) = match make_job(spec, trial, attempt, &alloc, dir, opts) {
                Ok(j) => j,
                Err(e) => {
                    pool.release(&alloc);
                    return Err(SchedError::Io(dir.trial_dir(&trial.id), e));
                }
            };
            let entry = Entry::TrialStarted {
                trial: trial.id.clone(),
                attempt,
                time: now(),
                device: Some(device.clone()),
                job: None,
            };
            journal.append(&entry)?;
            replay.apply(entry);
            running.insert(
                trial.id.clone(),
                Running {
                    alloc,
                    attempt,
                    ordinal,
                },
            );
            report(Progress::Started {
                trial: trial.clone(),
                attempt,
                device,
            });
            match &queue_watch {
                None => {
                    tokio::spawn(executor::execute(job, exec_tx.clone(), cancel_rx.clone()));
                }
                Some(queue) => {
                    let mut sj = slurm_job(spec, trial, job, dir);
                    if opts.detach
                        && let Some(n) = spec.resources.max_concurrent
                    {
                        sj.after = launches.checked_sub(n as usize).and_then(|k| lanes.get(k).cloned());
                    }
                    launches += 1;
                    tokio::spawn(slurm::execute(
                        sj,
                        None,
                        !opts.detach,
                        exec_tx.clone(),
                        cancel_rx.clone(),
                        queue.clone(),
                    ));
                }
            }
        }
        if running.is_empty() && (stopping || (queue.is_empty() && retries_pending == 0)) {
            break;
        }
        let msg = tokio::select! {
            _ = tokio::time::sleep_until(tables_written + TABLES_EVERY), if tables_dirty => {
                write_tables(dir, &infos, &columns, &replay, &spec.metric).map_err(io)?;
                tables_written = tokio::time::Instant::now();
                tables_dirty = false;
                continue
            }
            Some(m) = exec_rx.recv() => Msg::Exec(m),
            Some(m) = rx.recv() => m,
            _ = sigint.recv() => { stop(&mut stopping, &cancel_tx, report); continue }
            _ = sigterm.recv() => { stop(&mut stopping, &cancel_tx, report); continue }
        };
        match msg {
            Msg::RetryDue(ordinal) => {
                retries_pending -= 1;
                queue.push_front(ordinal);
            }
            Msg::Exec(ExecMsg::Started { trial, pid }) => {
                let Some(run) = running.get(&trial) else { continue };
                let entry = Entry::Launched {
                    trial,
                    attempt: run.attempt,
                    job: pid.to_string(),
                };
                journal.append(&entry)?;
                replay.apply(entry);
            }
            Msg::Exec(ExecMsg::Submitted { trial, job }) => {
                let Some(run) = running.get(&trial) else { continue };
                let entry = Entry::Launched {
                    trial: trial.clone(),
                    attempt: run.attempt,
                    job: job.clone(),
                };
                journal.append(&entry)?;
                replay.apply(entry);
                if opts.detach {
                    if let Some(r) = running.remove(&trial) {
                        pool.release(&r.alloc);
                    }
                    lanes.push(job.clone());
                    detached.push((trial, job));
                }
            }
            Msg::Exec(ExecMsg::Refused { trial, message }) => {
                let Some(run) = running.remove(&trial) else { continue };
                pool.release(&run.alloc);
                // Nothing ran: the trial is left to run again once the spec
                // is mended; the sweep stops.
                let entry = Entry::TrialFinished {
                    trial: trial.clone(),
                    attempt: run.attempt,
                    time: now(),
                    status: TrialStatus::Interrupted,
                    metrics: EpochMetrics::new(),
                    error: Some(format!("not submitted: {}", message.lines().next().unwrap_or(""))),
                    seconds: 0.0,
                    retry: false,
                };
                journal.append(&entry)?;
                replay.apply(entry);
                if refused.is_none() {
                    refused = Some(message);
                    // Start nothing more; cancel what was submitted.
                    stopping = true;
                    let _ = cancel_tx.send(Cancel::Graceful);
                }
            }
            Msg::Exec(ExecMsg::Event { trial, event }) => {
                let Some(run) = running.get(&trial) else { continue };
                if let TrialEvent::Epoch { epoch, metrics } = event {
                    let entry = Entry::Epoch {
                        trial: trial.clone(),
                        attempt: run.attempt,
                        epoch,
                        metrics: metrics.clone(),
                    };
                    journal.append(&entry)?;
                    replay.apply(entry);
                    let of = spec.epochs_of(&plan.trials[run.ordinal].params);
                    report(Progress::Epoch {
                        trial,
                        epoch,
                        of,
                        metrics,
                    });
                }
            }
            Msg::Exec(ExecMsg::Warning { trial, message }) => report(Progress::Warning { trial, message }),
            Msg::Exec(ExecMsg::Finished { trial, outcome }) => {
                let Some(run) = running.remove(&trial) else { continue };
                pool.release(&run.alloc);
                let Outcome {
                    status,
                    metrics,
                    error,
                    seconds,
                } = outcome;
                let failures = replay.trials.get(&trial).map_or(0, |r| r.failures)
                    + u32::from(matches!(status, TrialStatus::Failed | TrialStatus::TimedOut));
                let retry = !stopping
                    && matches!(status, TrialStatus::Failed | TrialStatus::TimedOut)
                    && failures <= spec.retries;
                let entry = Entry::TrialFinished {
                    trial: trial.clone(),
                    attempt: run.attempt,
                    time: now(),
                    status,
                    metrics,
                    error: error.clone(),
                    seconds,
                    retry,
                };
                journal.append(&entry)?;
                replay.apply(entry);
                if retry {
                    retries_pending += 1;
                    let delay = opts
                        .retry_backoff
                        .saturating_mul(1 << (failures - 1).min(6))
                        .min(Duration::from_secs(60));
                    let tx = tx.clone();
                    let ordinal = run.ordinal;
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = tx.send(Msg::RetryDue(ordinal));
                    });
                }
                if tables_written.elapsed() >= TABLES_EVERY {
                    write_tables(dir, &infos, &columns, &replay, &spec.metric).map_err(io)?;
                    tables_written = tokio::time::Instant::now();
                    tables_dirty = false;
                } else {
                    tables_dirty = true;
                }
                let metric = sweep_results::leaderboard_rows(&[infos[run.ordinal]], &replay, &spec.metric)
                    .first()
                    .and_then(|r| r.metric);
                report(Progress::Finished {
                    trial: plan.trials[run.ordinal].clone(),
                    status,
                    metric,
                    error,
                    seconds,
                    retry,
                });
            }
        }
    }
    if opts.detach && refused.is_none() {
        // The jobs run on: the journal shows them running, with their ids.
        journal.sync()?;
        write_tables(dir, &infos, &columns, &replay, &spec.metric).map_err(io)?;
        return Ok(Summary {
            interrupted: false,
            detached,
            replay,
        });
    }
    let entry = Entry::SweepStopped {
        time: now(),
        interrupted: stopping,
    };
    journal.append(&entry)?;
    journal.sync()?;
    replay.apply(entry);
    write_tables(dir, &infos, &columns, &replay, &spec.metric).map_err(io)?;
    if let Some(message) = refused {
        return Err(SchedError::Launcher(message));
    }
    Ok(Summary {
        interrupted: stopping,
        detached,
        replay,
    })
}

fn stop(stopping: &mut bool, cancel: &watch::Sender<Cancel>, report: &mut (dyn FnMut(Progress) + Send)) {
    if *stopping {
        let _ = cancel.send(Cancel::Kill);
        report(Progress::Stopping { kill: true });
    } else {
        *stopping = true;
        let _ = cancel.send(Cancel::Graceful);
        report(Progress::Stopping { kill: false });
    }
}

/// The SLURM job name of a trial's attempt: `sweep-<sweep>-<id>-<attempt>`.
fn job_name(spec: &Spec, id: &TrialId, attempt: u32) -> String {
    format!("sweep-{}-{id}-{attempt}", spec.name)
}

/// The SLURM side of an attempt.
fn slurm_job(spec: &Spec, trial: &Trial, job: Job, dir: &ResultsDir) -> SlurmJob {
    SlurmJob {
        name: job_name(spec, &trial.id, job.attempt),
        cpus: spec.resources.cpus_per_trial,
        gpus: spec.resources.gpus_per_trial.ceil() as u32,
        settings: spec.slurm.clone(),
        spec_path: spec.path.clone(),
        trial_dir: dir.trial_dir(&trial.id),
        events: dir.trial_dir(&trial.id).join("events.jsonl"),
        results: dir.root().to_path_buf(),
        after: None,
        job,
    }
}

/// Writes the trial's folder and describes the process to start.
fn make_job(
    spec: &Spec,
    trial: &Trial,
    attempt: u32,
    alloc: &Allocation,
    dir: &ResultsDir,
    opts: &RunOptions,
) -> std::io::Result<(Job, String)> {
    let tdir = dir.trial_dir(&trial.id);
    std::fs::create_dir_all(&tdir)?;
    let visible: Vec<&str> = alloc.gpus.iter().map(|&(i, _)| opts.gpus[i].as_str()).collect();
    // Under SLURM the job's GPUs come from --gres, and SLURM sets
    // CUDA_VISIBLE_DEVICES in the job.
    let slurm_gpus = opts.launcher.unwrap_or(spec.launcher) == Launcher::Slurm && spec.resources.gpus_per_trial > 0.0;
    let threads = alloc.cpus.max(1).to_string();
    let params_json = serde_json::to_string(&trial.params).expect("params serialize");
    let mut env = vec![
        ("SWEEP_TRIAL_ID".to_string(), trial.id.to_string()),
        ("SWEEP_TRIAL_DIR".to_string(), tdir.display().to_string()),
        ("SWEEP_PARAMS_JSON".to_string(), params_json),
        ("SWEEP_SEED".to_string(), trial.seed.to_string()),
        ("SWEEP_ATTEMPT".to_string(), attempt.to_string()),
        ("RAYON_NUM_THREADS".to_string(), threads.clone()),
        ("OMP_NUM_THREADS".to_string(), threads.clone()),
        ("MKL_NUM_THREADS".to_string(), threads),
    ];
    if !slurm_gpus {
        // Trials without GPUs see none: no accidental sharing.
        env.push(("CUDA_VISIBLE_DEVICES".to_string(), visible.join(",")));
    }
    let (argv, device) = match &spec.trainer {
        Trainer::Builtin { .. } => {
            let mut params = spec.trainer_params(&trial.params);
            let device = if slurm_gpus {
                params.insert("device".into(), ParamValue::Str("cuda".into()));
                "cuda".to_string()
            } else if visible.is_empty() {
                params
                    .get("device")
                    .map_or_else(|| "cpu".to_string(), |d| d.to_string())
            } else {
                // The trial's GPUs are cuda:0.. inside its CUDA_VISIBLE_DEVICES.
                params.insert("device".into(), ParamValue::Str("cuda".into()));
                format!("cuda:{}", visible.join("+"))
            };
            let file = TrialFile {
                id: trial.id.clone(),
                ordinal: trial.ordinal,
                seed: trial.seed,
                params,
                metric: spec.metric.clone(),
            };
            let path = dir.trial_file(&trial.id);
            sweep_results::write_atomic(
                &path,
                serde_json::to_string_pretty(&file).expect("serializes").as_bytes(),
            )?;
            let argv = vec![
                opts.worker_exe.display().to_string(),
                "worker".into(),
                "--trial".into(),
                path.display().to_string(),
            ];
            (argv, device)
        }
        Trainer::Command { argv, env: extra } => {
            env.extend(extra.iter().cloned());
            let argv = substitute(argv, &trial.params, &trial.id, &tdir.display().to_string(), trial.seed);
            let device = if slurm_gpus {
                "cuda".to_string()
            } else if visible.is_empty() {
                "cpu".to_string()
            } else {
                format!("cuda:{}", visible.join("+"))
            };
            (argv, device)
        }
    };
    let job = Job {
        trial: trial.id.clone(),
        attempt,
        argv,
        env,
        stdout_log: dir.stdout_log(&trial.id),
        stderr_log: dir.stderr_log(&trial.id),
        timeout: spec.timeout,
        grace: opts.grace,
    };
    Ok((job, device))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_substituted_without_a_shell() {
        let params: Params = [
            ("lr".to_string(), ParamValue::Float(1e-3)),
            ("name".to_string(), ParamValue::Str("a b".into())),
        ]
        .into_iter()
        .collect();
        let id = TrialId::from_string("abc");
        let argv: Vec<String> = [
            "python3",
            "t.py",
            "--lr=${lr}",
            "${name}",
            "${trial_dir}/out",
            "${seed}",
            "$HOME",
            "${trial_id}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            substitute(&argv, &params, &id, "/r/trials/abc", 7),
            [
                "python3",
                "t.py",
                "--lr=0.001",
                "a b",
                "/r/trials/abc/out",
                "7",
                "$HOME",
                "abc"
            ]
        );
    }
}
