//! The async shell around the [`Dispatcher`]: it opens the results folder
//! and the journal, feeds the dispatcher events (from the launcher, timers,
//! Ctrl-C) and carries out its actions in order: journal entries first
//! (written before anything after them happens), then starts, stops, timers
//! and reports. The tables are written by their own thread ([`TableWriter`]).

use crate::SchedError;
use crate::dispatcher::{Action, Dispatcher, Event, Progress, ReadBack, RunEndings, Settings, read_back};
use crate::launcher::{self, JobPlan, Launcher};
use crate::pool::{Pool, Request};
use crate::resume;
use crate::writer::TableWriter;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use sweep_core::{TrialId, TrialStatus};
use sweep_results::{Entry, Handle, Journal, Replay, ResultsDir};
use sweep_spec::sampler::Trials;
use sweep_spec::{Launcher as LauncherKind, Spec};
use tokio::sync::mpsc;

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
    pub launcher: Option<LauncherKind>,
    /// Submit every trial, journal the handles and return without following
    /// them (`sweep run` again re-attaches); launchers that can only.
    pub detach: bool,
    /// Create at most this many new trials in this run (`--count`, as
    /// `wandb agent --count`); trials of an earlier run do not count.
    pub count: Option<u64>,
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
            count: None,
        }
    }
}

/// How the sweep ended.
#[derive(Debug, Clone)]
pub struct Summary {
    /// True when Ctrl-C stopped it.
    pub interrupted: bool,
    /// The attempts left running by `--detach`: (trial, handle).
    pub detached: Vec<(TrialId, Handle)>,
    /// The replayed journal at the end.
    pub replay: Replay,
    /// How the trials that ended in this run ended.
    pub endings: RunEndings,
}

/// Runs (or resumes) a sweep to its end, or until Ctrl-C, on the launcher
/// the spec (or `opts.launcher`) names.
pub async fn run_sweep(
    spec: &Spec,
    spec_text: &str,
    dir: &ResultsDir,
    opts: &RunOptions,
    report: &mut (dyn FnMut(Progress) + Send),
) -> Result<Summary, SchedError> {
    let kind = opts.launcher.unwrap_or(spec.launcher);
    let launcher = launcher::for_spec(kind, spec, dir.root());
    run_with(spec, spec_text, dir, opts, launcher, report).await
}

/// Runs (or resumes) a sweep on `launcher`.
pub async fn run_with(
    spec: &Spec,
    spec_text: &str,
    dir: &ResultsDir,
    opts: &RunOptions,
    mut launcher: Box<dyn Launcher>,
    report: &mut (dyn FnMut(Progress) + Send),
) -> Result<Summary, SchedError> {
    let caps = launcher.caps();
    if opts.detach && !caps.detach {
        return Err(SchedError::Usage(format!(
            "--detach needs a launcher whose trials outlive the orchestrator (`launcher: slurm` or --launcher slurm); {} trials end with the orchestrator",
            launcher.name()
        )));
    }
    let cpus = opts
        .cpus
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
    // A launcher that places trials itself (SLURM) holds the CPUs and GPUs:
    // the pool only keeps max_concurrent attempts going at once.
    let (pool, request) = if caps.local_gpus {
        (
            Pool::new(cpus, opts.gpus.len(), spec.resources.max_concurrent),
            Request {
                cpus: spec.resources.cpus_per_trial,
                gpus: spec.resources.gpus_per_trial,
            },
        )
    } else {
        (
            Pool::new(u32::MAX / 2, 0, spec.resources.max_concurrent),
            Request { cpus: 1, gpus: 0.0 },
        )
    };
    if let Some(why) = pool.never_fits(request) {
        return Err(SchedError::NeverFits(why));
    }
    let trials = Trials::new(spec).map_err(|e| SchedError::Usage(format!("{}: {} ({})", e.path, e.message, e.help)))?;
    if sweep_spec::ending(spec, opts.count).is_none() {
        return Err(SchedError::Usage(format!(
            "method: {} with no `run_cap` and no `metric.target` never stops on its own: pass `--count N` to create N trials (as `wandb agent --count`), or add `run_cap` to {}",
            spec.method.as_str(),
            spec.path.display()
        )));
    }
    if opts.detach && !trials.fixed() {
        return Err(SchedError::Usage(format!(
            "--detach submits every trial at once, but method: {} creates each trial from the results so far, so the orchestrator must keep running: run `sweep run` without --detach (inside an sbatch job of its own for an overnight run)",
            spec.method.as_str()
        )));
    }
    if let Some(mut problem) = launcher.check(spec) {
        problem.pos = sweep_spec::Positions::of(spec_text).value(&problem.path);
        return Err(SchedError::Spec(sweep_spec::SpecError::Invalid {
            path: spec.path.clone(),
            source_text: spec_text.to_string(),
            diagnostics: vec![problem],
        }));
    }
    // One orchestrator per results folder.
    let held = if dir.root().exists() {
        Some(resume::lock(dir)?)
    } else {
        None
    };
    let moved_aside = resume::prepare(dir, spec, spec_text, opts.restart)?;
    // The lock moved aside with an old folder; a new folder gets its own.
    let _lock = match held {
        Some(lock) if moved_aside.is_none() => lock,
        _ => resume::lock(dir)?,
    };
    // A stateful pruner (ASHA) sees the journal's reports again, in order.
    let ReadBack {
        mut replay,
        pruner,
        lost,
    } = read_back(spec, |hook| Journal::replay_with(&dir.journal(), hook))?;
    if replay.legacy {
        return Err(SchedError::Usage(format!(
            "{} was written by an older sweep whose journal does not record the trials' parameters; run with --restart (the old folder is kept, renamed)",
            dir.root().display()
        )));
    }
    let mut journal = Journal::open(&dir.journal())?;
    // Decisions to prune made just before a crash stand, as journaled ones do.
    for entry in lost {
        journal.append(&entry)?;
        replay.apply(entry);
    }
    // A crash between a submission and its journal entry: the launcher may
    // find the attempt by its name.
    if caps.reattach {
        let lost: Vec<(TrialId, u32)> = replay
            .order
            .iter()
            .map(|id| (id, &replay.trials[id]))
            .filter(|(_, r)| r.status == TrialStatus::Running && r.handle.is_none() && r.stop.is_none())
            .map(|(id, r)| (id.clone(), r.attempts))
            .collect();
        for (trial, attempt) in lost {
            let found = tokio::task::block_in_place(|| launcher.find_lost(&trial, attempt));
            if let Some(handle) = found {
                let entry = Entry::Launched { trial, attempt, handle };
                journal.append(&entry)?;
                replay.apply(entry);
            }
        }
    }
    let settings = Settings {
        launcher: launcher.name().to_string(),
        caps,
        gpus: opts.gpus.clone(),
        request,
        retry_backoff: opts.retry_backoff,
        detach: opts.detach,
        results: dir.root().to_path_buf(),
        moved_aside,
        count: opts.count,
    };
    let mut dispatcher = Dispatcher::new(spec.clone(), settings, trials, replay, pool, pruner)?;
    let columns: Vec<String> = spec.parameters.iter().map(|p| p.name.clone()).collect();
    let writer = TableWriter::start(dir.clone(), columns, spec.metric.clone(), dispatcher.replay().clone());
    let shell = Shell {
        spec: Arc::new(spec.clone()),
        dir: dir.clone(),
        opts: opts.clone(),
        launcher_gpus: !caps.local_gpus,
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let io = |e: std::io::Error| SchedError::Io(dir.root().to_path_buf(), e);
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).map_err(io)?;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(io)?;

    let actions = dispatcher.start();
    shell.perform(actions, &mut journal, &writer, launcher.as_mut(), &tx, report)?;
    // The tables as the sweep starts: every trial known, none half-written.
    flush_tables(&writer, dir).await?;
    while !dispatcher.is_finished() {
        let event = tokio::select! {
            Some(e) = rx.recv() => e,
            _ = sigint.recv() => Event::Interrupt,
            _ = sigterm.recv() => Event::Interrupt,
        };
        let actions = dispatcher.handle(event);
        shell.perform(actions, &mut journal, &writer, launcher.as_mut(), &tx, report)?;
    }
    journal.sync()?;
    flush_tables(&writer, dir).await?;
    if let Some(message) = dispatcher.refused() {
        return Err(SchedError::Launcher(message.to_string()));
    }
    Ok(Summary {
        interrupted: dispatcher.interrupted(),
        detached: dispatcher.detached().to_vec(),
        endings: dispatcher.endings().clone(),
        replay: dispatcher.into_replay(),
    })
}

/// Writes the tables now, off the async runtime, and waits for it.
async fn flush_tables(writer: &TableWriter, dir: &ResultsDir) -> Result<(), SchedError> {
    let w = writer.clone();
    let io = |e: std::io::Error| SchedError::Io(dir.root().to_path_buf(), e);
    tokio::task::spawn_blocking(move || w.flush())
        .await
        .map_err(|e| io(std::io::Error::other(e.to_string())))?
        .map_err(io)
}

/// What the shell needs to carry out actions.
struct Shell {
    spec: Arc<Spec>,
    dir: ResultsDir,
    opts: RunOptions,
    launcher_gpus: bool,
}

impl Shell {
    fn perform(
        &self,
        actions: Vec<Action>,
        journal: &mut Journal,
        writer: &TableWriter,
        launcher: &mut dyn Launcher,
        tx: &mpsc::UnboundedSender<Event>,
        report: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(), SchedError> {
        for action in actions {
            match action {
                Action::Journal(entry) => {
                    journal.append(&entry)?;
                    writer.entry(&entry);
                }
                Action::Upcoming(t) => writer.upcoming(t),
                Action::DropUpcoming => writer.drop_upcoming(),
                Action::Start(attempt) => {
                    let plan = JobPlan {
                        spec: Arc::clone(&self.spec),
                        attempt: attempt.clone(),
                        dir: self.dir.clone(),
                        worker_exe: self.opts.worker_exe.clone(),
                        grace: self.opts.grace,
                        gpus: self.opts.gpus.clone(),
                        launcher_gpus: self.launcher_gpus,
                    };
                    launcher.start(plan, attempt, tx.clone());
                }
                Action::Stop { trial, attempt, kill } => launcher.stop(&trial, attempt, kill),
                Action::StopLeftover { trial, handle } => launcher.stop_leftover(&trial, &handle),
                Action::After { delay, event } => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = tx.send(event);
                    });
                }
                Action::Report(p) => report(p),
            }
        }
        Ok(())
    }
}
