//! The dispatcher: a state machine that owns all run state and turns each
//! [`Event`] (a trial started, reported an epoch, ended; a timer; Ctrl-C) into
//! [`Action`]s (write a journal entry, start an attempt, stop one, set a
//! timer, tell the person watching). It does no I/O itself: `run.rs` feeds it
//! events and carries out its actions, and the unit tests drive it by hand.
//!
//! This is cargo-nextest's dispatcher with its event handler. Everything it
//! decides is journaled before it is acted on (actions come out in order, and
//! a journal entry comes before the action it explains), so a resume is a
//! replay of the journal.

use crate::launcher::Caps;
use crate::pool::{Allocation, Pool, Request};
use crate::pruner::{Curve, CurveState, Pruner, StopKind};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::time::Duration;
use sweep_core::{EpochMetrics, TrialEvent, TrialId, TrialStatus};
use sweep_results::{Entry, Handle, Pruning, Replay, TrialRecord, now};
use sweep_spec::sampler::{Ask, ObsState, Observation, Trials};
use sweep_spec::{Spec, Trial};

/// How many upcoming trials of a grid or random search are listed (as
/// pending) before they are created.
pub const LOOKAHEAD: usize = 1000;

/// What happened, as the dispatcher hears it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The launcher started (or submitted) an attempt: its handle.
    Launched {
        /// The trial.
        trial: TrialId,
        /// The attempt.
        attempt: u32,
        /// What the launcher calls it.
        handle: Handle,
    },
    /// The launcher refused an attempt (sbatch's complaint): nothing ran.
    Refused {
        /// The trial.
        trial: TrialId,
        /// The attempt.
        attempt: u32,
        /// Why, verbatim.
        message: String,
    },
    /// A protocol event from the trial.
    Protocol {
        /// The trial.
        trial: TrialId,
        /// The attempt.
        attempt: u32,
        /// The event.
        event: TrialEvent,
    },
    /// Something the person should know about a trial (a malformed
    /// protocol line, an over-long line).
    Warning {
        /// The trial.
        trial: TrialId,
        /// What.
        message: String,
    },
    /// The attempt ended.
    Ended {
        /// The trial.
        trial: TrialId,
        /// The attempt.
        attempt: u32,
        /// How, as the launcher saw it.
        outcome: Outcome,
    },
    /// A retry's backoff is over.
    RetryDue {
        /// The trial.
        trial: TrialId,
    },
    /// An attempt's time limit is reached.
    TimeoutDue {
        /// The trial.
        trial: TrialId,
        /// The attempt.
        attempt: u32,
    },
    /// Ctrl-C or SIGTERM: the first stops gracefully, the second kills.
    Interrupt,
}

/// How an attempt ended, as its launcher saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Its status (a stop the dispatcher asked for overrides it).
    pub status: TrialStatus,
    /// Final metrics from the `done` event.
    pub metrics: EpochMetrics,
    /// Why it did not complete.
    pub error: Option<String>,
    /// How long it ran.
    pub seconds: f64,
    /// The attempt stopped so that a new one continues the trial from its
    /// checkpoint (the trainer suspended itself; a SLURM job reached its
    /// time limit, was preempted, or its node failed). `status` is what it
    /// ends with if it cannot be continued.
    pub continue_because: Option<Continuation>,
}

/// Why an attempt should be continued by a new one.
#[derive(Debug, Clone, PartialEq)]
pub struct Continuation {
    /// For a person (`SLURM job 12 reached its time limit (TIMEOUT)`).
    pub why: String,
    /// Only worth it if the attempt saved a checkpoint (a time limit: the
    /// next job would meet it again from the same place). A preemption or a
    /// node failure is not the trial's doing: continued regardless.
    pub needs_progress: bool,
}

/// One attempt to start (or to follow again, when `adopt` is set).
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The trial.
    pub trial: Trial,
    /// Which attempt, from 1.
    pub attempt: u32,
    /// The CPU slots and GPUs it holds.
    pub alloc: Allocation,
    /// Where it runs, for the journal and the display (`cpu`, `cuda:0`).
    pub device: String,
    /// A running attempt to re-attach to instead of starting one.
    pub adopt: Option<Handle>,
    /// Start only after this attempt ends (detached `max_concurrent` lanes).
    pub after: Option<Handle>,
    /// Only submit it: nobody follows it (`--detach`).
    pub detached: bool,
    /// The epoch of the trial's last checkpoint, from earlier attempts:
    /// the trainer continues after it (`SWEEP_RESUME_EPOCH`).
    pub resume_epoch: Option<u32>,
}

/// What the dispatcher wants done, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Append this entry to the journal (before any later action).
    Journal(Entry),
    /// A grid or random trial that will come (listed as pending).
    Upcoming(Trial),
    /// None of the trials announced with `Upcoming` will come.
    DropUpcoming,
    /// Start an attempt.
    Start(Attempt),
    /// Stop one attempt: SIGTERM, grace, SIGKILL (`kill`: at once).
    Stop {
        /// The trial.
        trial: TrialId,
        /// The attempt.
        attempt: u32,
        /// Kill at once.
        kill: bool,
    },
    /// Make sure an attempt of an earlier run, which this run does not
    /// follow, has stopped: its stop (pruned, diverged) was journaled before
    /// a crash, but a launcher whose jobs outlive the orchestrator (SLURM)
    /// may still be running it.
    StopLeftover {
        /// The trial.
        trial: TrialId,
        /// Its job.
        handle: Handle,
    },
    /// Deliver `event` after `delay`.
    After {
        /// How long.
        delay: Duration,
        /// What.
        event: Event,
    },
    /// Tell the person watching.
    Report(Progress),
}

/// What the dispatcher tells the person watching.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// The sweep starts: how many trials, what a resume keeps.
    Planned {
        /// Trials in all, when known in advance.
        total: Option<usize>,
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
    /// The sweep stops a trial early (pruned, diverged metric, timeout).
    Stopping {
        /// The trial.
        trial: TrialId,
        /// The status it will end with.
        status: TrialStatus,
        /// Why.
        reason: String,
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
        /// Whether it continues from its checkpoint in a new attempt.
        continued: bool,
    },
    /// A warning about a trial, or the sweep (no trial).
    Warning {
        /// The trial it is about, if any.
        trial: Option<TrialId>,
        /// What.
        message: String,
    },
    /// Ctrl-C: no new trials; running ones are being stopped.
    Interrupted {
        /// True on the second Ctrl-C: killing at once.
        kill: bool,
    },
}

/// How the dispatcher runs: what the spec and the command line fixed.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The launcher's name, as journaled with handles.
    pub launcher: String,
    /// What the launcher can do.
    pub caps: Caps,
    /// GPUs, as `CUDA_VISIBLE_DEVICES` entries (devices shown to the person).
    pub gpus: Vec<String>,
    /// What each trial needs from the pool.
    pub request: Request,
    /// First retry delay; doubles with each failure, up to a minute.
    pub retry_backoff: Duration,
    /// Submit and return (`--detach`).
    pub detach: bool,
    /// Where the results go (for the display).
    pub results: PathBuf,
    /// Where an old folder was moved (for the display).
    pub moved_aside: Option<PathBuf>,
    /// At most this many new trials (`--count`).
    pub count: Option<u64>,
}

/// Why the dispatcher cannot start from a journal.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResumeError {
    /// The spec gives other trials than the journal created.
    #[error("{0}")]
    Diverged(String),
    /// Running attempts of another launcher that outlive their orchestrator.
    #[error("{0}")]
    ForeignHandles(String),
}

#[derive(Debug, Clone)]
struct Running {
    alloc: Allocation,
    attempt: u32,
    handle: Option<Handle>,
    /// A stop the dispatcher asked for: the status the attempt ends with.
    stop: Option<(TrialStatus, String)>,
    /// The trial's last checkpoint epoch when the attempt started.
    checkpoint_at_start: Option<u32>,
}

/// How the trials that ended in one run of a sweep ended: what
/// `max_initial_failures` and `sweep run`'s exit status go by.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunEndings {
    /// Trials that ended in this run: a final status, no retry or
    /// continuation to come, not interrupted.
    pub ended: u32,
    /// How many of them failed.
    pub failed: u32,
    /// The first that failed, with its error.
    pub first_failure: Option<(TrialId, String)>,
    /// Set when the first `max_initial_failures` to end all failed, so
    /// nothing new starts: why, for the person.
    pub gave_up: Option<String>,
}

impl RunEndings {
    /// Some trial ended and every one that did failed.
    pub fn all_failed(&self) -> bool {
        self.failed > 0 && self.failed == self.ended
    }
}

/// The sweep's run state, and the rules that change it.
pub struct Dispatcher {
    spec: Spec,
    settings: Settings,
    trials: Trials,
    replay: Replay,
    pool: Pool,
    pruner: Option<Box<dyn Pruner>>,
    /// Grid/random trials planned but not created (shown as pending).
    upcoming: VecDeque<Trial>,
    /// Created trials waiting for a slot, in order.
    queue: VecDeque<TrialId>,
    running: HashMap<TrialId, Running>,
    /// Trials waiting for a retry's backoff.
    retrying: HashSet<TrialId>,
    /// Trials adopted at start (to re-attach to).
    adopt: Vec<(TrialId, Handle)>,
    sampler_done: bool,
    /// A trial reached `metric.target`: nothing new is created.
    target_reached: bool,
    /// 0: running; 1: Ctrl-C once; 2: twice.
    interrupts: u8,
    /// The launcher refused an attempt: the sweep stops.
    refused: Option<String>,
    /// How the trials of this run ended (`max_initial_failures`).
    endings: RunEndings,
    /// Detached: jobs submitted, in order (the lanes of `max_concurrent`).
    detached: Vec<(TrialId, Handle)>,
    kept: usize,
    /// Detached: attempts started so far (the k-th waits for lane k-N).
    launches: usize,
    out: Vec<Action>,
    stopped: bool,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("running", &self.running.len())
            .field("queue", &self.queue.len())
            .field("stopped", &self.stopped)
            .finish()
    }
}

/// A trial's values of `metric`, epoch by epoch.
fn metric_values(r: &TrialRecord, metric: &str) -> Vec<f64> {
    let mut epochs: Vec<&(u32, EpochMetrics)> = r.epochs.iter().collect();
    epochs.sort_by_key(|(e, _)| *e);
    epochs.iter().filter_map(|(_, m)| m.get(metric).copied()).collect()
}

/// An epoch that a continued attempt reports again (up to its checkpoint):
/// it was judged when it was first trained.
fn reported_again(r: &TrialRecord, attempt: u32, epoch: u32) -> bool {
    r.resumed.iter().any(|&(a, from)| a == attempt && epoch <= from)
}

/// A resumed sweep's pruner, fed while the journal is read back
/// (`Journal::replay_with`): each report the live run judged, in the
/// journal's order, so that ASHA's rungs hold after a crash what they held
/// before it. Reports are skipped as the live run skips them: those of an
/// attempt being stopped, epochs a continued attempt reports again, and
/// values missing or not finite. One difference: reports that came between
/// a Ctrl-C and the trials' end (that stop is not journaled) are fed here.
struct ReportReplay<'p> {
    pruner: &'p mut dyn Pruner,
    metric: &'p sweep_core::Metric,
    /// Each trial's place in creation order, as the live run's curves have it.
    position: HashMap<TrialId, usize>,
    /// The last decision to stop each trial, with its attempt and epoch.
    decided: HashMap<TrialId, (u32, u32, crate::pruner::StopDecision)>,
}

impl<'p> ReportReplay<'p> {
    /// Feeds `pruner`, which judges `metric`.
    fn new(pruner: &'p mut dyn Pruner, metric: &'p sweep_core::Metric) -> Self {
        ReportReplay {
            pruner,
            metric,
            position: HashMap::new(),
            decided: HashMap::new(),
        }
    }

    /// One epoch entry, just applied to `replay`.
    fn feed(&mut self, replay: &Replay, trial: &TrialId, attempt: u32, epoch: u32) {
        for (i, id) in replay.order.iter().enumerate().skip(self.position.len()) {
            self.position.insert(id.clone(), i);
        }
        let (Some(r), Some(&at)) = (replay.trials.get(trial), self.position.get(trial)) else {
            return;
        };
        let name = &self.metric.name;
        let value = r
            .epochs
            .iter()
            .find(|(e, _)| *e == epoch)
            .and_then(|(_, m)| m.get(name));
        if r.attempts != attempt
            || r.stop.is_some()
            || reported_again(r, attempt, epoch)
            || !value.is_some_and(|v| v.is_finite())
        {
            return;
        }
        if let Some(d) = self.pruner.replay(trial, at, &metric_values(r, name)) {
            self.decided.insert(trial.clone(), (attempt, epoch, d));
        }
    }

    /// The decisions to prune that a crash kept out of the journal: the
    /// trial's latest report decided it, and no stop followed. Journal them,
    /// as the live run would have, and the resume records those trials
    /// pruned instead of training them again.
    fn lost_decisions(self, replay: &Replay) -> Vec<Entry> {
        let mut lost: Vec<Entry> = self
            .decided
            .into_iter()
            .filter(|(id, (attempt, epoch, d))| {
                let r = &replay.trials[id];
                d.kind != StopKind::MaxT
                    && r.status == TrialStatus::Running
                    && r.stop.is_none()
                    && r.attempts == *attempt
                    && r.epochs.iter().map(|(e, _)| *e).max() == Some(*epoch)
            })
            .map(|(trial, (attempt, _, d))| Entry::StopRequested {
                trial,
                attempt,
                status: TrialStatus::Pruned,
                reason: d.explain(&self.metric.name, self.metric.goal),
                pruning: Some(pruning_of(&d)),
            })
            .collect();
        lost.sort_by_key(|e| match e {
            Entry::StopRequested { trial, .. } => replay.trials[trial].ordinal,
            _ => 0,
        });
        lost
    }
}

/// What a sweep is resumed from: its journal read back, with its pruner.
pub struct ReadBack {
    /// Every trial's state.
    pub replay: Replay,
    /// The spec's pruner, fed the journal's reports ([`ReportReplay`]).
    pub pruner: Option<Box<dyn Pruner>>,
    /// Decisions to prune that a crash kept out of the journal: to be
    /// journaled and applied before the sweep goes on.
    pub lost: Vec<Entry>,
}

/// Reads a sweep's journal back for `spec`: `read` applies each entry to a
/// replay, calling the hook it is given after each epoch entry (as
/// `Journal::replay_with` does), and the spec's pruner is fed those reports.
pub fn read_back<E>(
    spec: &Spec,
    read: impl FnOnce(&mut dyn FnMut(&Replay, &TrialId, u32, u32)) -> Result<Replay, E>,
) -> Result<ReadBack, E> {
    let mut pruner = spec
        .early_terminate
        .as_ref()
        .map(|cfg| crate::pruner::build(cfg, spec.metric.goal));
    let mut reports = pruner.as_deref_mut().map(|p| ReportReplay::new(p, &spec.metric));
    let replay = read(&mut |r, trial, attempt, epoch| {
        if let Some(f) = reports.as_mut() {
            f.feed(r, trial, attempt, epoch);
        }
    })?;
    let lost = reports.map(|f| f.lost_decisions(&replay)).unwrap_or_default();
    Ok(ReadBack { replay, pruner, lost })
}

/// A decision as the journal keeps it.
fn pruning_of(d: &crate::pruner::StopDecision) -> Pruning {
    Pruning {
        rule: d.rule.clone(),
        epoch: d.epoch,
        rung: d.rung,
        value: d.value,
        threshold: d.threshold,
        compared: d.compared,
        kind: serde_json::to_value(d.kind)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
    }
}

impl Dispatcher {
    /// A dispatcher for `spec`, resuming from `replay` (empty for a new
    /// sweep). Trials the journal shows running are re-attached when their
    /// handle is this launcher's and it can, run again when their launcher's
    /// attempts cannot outlive an orchestrator, and refused otherwise.
    pub fn new(
        spec: Spec,
        settings: Settings,
        mut trials: Trials,
        replay: Replay,
        pool: Pool,
        pruner: Option<Box<dyn Pruner>>,
    ) -> Result<Dispatcher, ResumeError> {
        // The sampler proposes again what the journal created, in order.
        for id in &replay.order {
            let r = &replay.trials[id];
            let t = trial_of(id, r);
            if !trials.replay(&t) {
                return Err(ResumeError::Diverged(format!(
                    "the journal's trial #{} ({id}) is not what the spec gives now: the spec changed; run with --restart to start over",
                    r.ordinal
                )));
            }
        }
        if let Some(n) = settings.count {
            trials.limit_new(n);
        }
        let foreign: Vec<&Handle> = replay
            .order
            .iter()
            .map(|id| &replay.trials[id])
            .filter(|r| r.status == TrialStatus::Running)
            .filter_map(|r| r.handle.as_ref())
            .filter(|h| h.launcher != settings.launcher && crate::launcher::outlives_orchestrator(&h.launcher))
            .collect();
        if !foreign.is_empty() {
            let kinds: Vec<&str> = foreign.iter().map(|h| h.launcher.as_str()).collect();
            return Err(ResumeError::ForeignHandles(format!(
                "{} trials of this sweep still run as {} attempts ({}), which outlive their orchestrator; re-attach with `--launcher {}`, or cancel them first (`sweep cancel`)",
                foreign.len(),
                kinds[0],
                foreign.iter().map(|h| h.id.as_str()).collect::<Vec<_>>().join(", "),
                kinds[0]
            )));
        }
        Ok(Dispatcher {
            spec,
            settings,
            trials,
            replay,
            pool,
            pruner,
            upcoming: VecDeque::new(),
            queue: VecDeque::new(),
            running: HashMap::new(),
            retrying: HashSet::new(),
            adopt: Vec::new(),
            sampler_done: false,
            target_reached: false,
            interrupts: 0,
            refused: None,
            endings: RunEndings::default(),
            detached: Vec::new(),
            kept: 0,
            launches: 0,
            out: Vec::new(),
            stopped: false,
        })
    }

    /// The first actions: settle what a crash cut off, journal the start,
    /// re-attach, and start what fits.
    pub fn start(&mut self) -> Vec<Action> {
        let order = self.replay.order.clone();
        for id in &order {
            let r = &self.replay.trials[id];
            if r.status != TrialStatus::Running {
                continue;
            }
            let attempt = r.attempts;
            match (&r.stop, &r.handle) {
                // A decision journaled before the crash stands: pruned,
                // diverged, or completed by ASHA's budget (a timeout is
                // retried, so that attempt is interrupted like any other).
                (Some((status, reason)), handle)
                    if matches!(
                        status,
                        TrialStatus::Pruned | TrialStatus::Diverged | TrialStatus::Completed
                    ) =>
                {
                    let (status, reason) = (*status, reason.clone());
                    let metrics = r.final_metrics.clone();
                    // The stop itself may not have reached a job that runs
                    // without us: ask again (a process of this machine died
                    // with the orchestrator).
                    if let Some(h) = handle
                        && h.launcher == self.settings.launcher
                        && self.settings.caps.reattach
                    {
                        self.out.push(Action::StopLeftover {
                            trial: id.clone(),
                            handle: h.clone(),
                        });
                    }
                    self.journal(Entry::TrialFinished {
                        trial: id.clone(),
                        attempt,
                        time: now(),
                        status,
                        metrics,
                        // As the live run records a stopped attempt.
                        error: (status != TrialStatus::Completed).then_some(reason),
                        seconds: 0.0,
                        retry: false,
                        continued: false,
                    });
                }
                (_, Some(h)) if h.launcher == self.settings.launcher && self.settings.caps.reattach => {
                    self.adopt.push((id.clone(), h.clone()));
                }
                // Its process died with the orchestrator (or was never
                // started): it runs again, as an interruption.
                _ => {
                    self.journal(Entry::TrialFinished {
                        trial: id.clone(),
                        attempt,
                        time: now(),
                        status: TrialStatus::Interrupted,
                        metrics: EpochMetrics::new(),
                        error: Some("the orchestrator stopped while it ran".into()),
                        seconds: 0.0,
                        retry: false,
                        continued: false,
                    });
                }
            }
        }
        // A target reached before the resume stands: nothing new is created.
        if let Some(target) = self.spec.metric_target {
            let metric = &self.spec.metric;
            self.target_reached = order.iter().any(|id| {
                self.replay.trials[id]
                    .value(metric)
                    .is_some_and(|v| v == target || metric.goal.better(v, target))
            });
            self.sampler_done |= self.target_reached;
        }
        for id in &order {
            let r = &self.replay.trials[id];
            if r.is_done() {
                self.kept += 1;
            } else if !self.adopt.iter().any(|(a, _)| a == id) {
                self.queue.push_back(id.clone());
            }
        }
        self.journal(Entry::SweepStarted {
            time: now(),
            trials: self.trials.total(),
            kept: self.kept,
            launcher: self.settings.launcher.clone(),
        });
        self.report(Progress::Planned {
            total: self.trials.total().map(|t| t as usize),
            kept: self.kept,
            results: self.settings.results.clone(),
            moved_aside: self.settings.moved_aside.clone(),
        });
        for (id, handle) in std::mem::take(&mut self.adopt) {
            let alloc = self.pool.adopt(self.settings.request.cpus);
            let r = &self.replay.trials[&id];
            let attempt = r.attempts;
            let trial = trial_of(&id, r);
            let device = r.device.clone().unwrap_or_else(|| "cpu".into());
            if self.settings.detach {
                // Already submitted: nothing to do but list it.
                self.pool.release(&alloc);
                self.detached.push((id, handle));
                continue;
            }
            self.running.insert(
                id.clone(),
                Running {
                    alloc: alloc.clone(),
                    attempt,
                    handle: Some(handle.clone()),
                    stop: None,
                    // Unknown for an attempt started by an earlier run.
                    checkpoint_at_start: None,
                },
            );
            self.report(Progress::Started {
                trial: trial.clone(),
                attempt,
                device: format!("{device} ({handle}, re-attached)"),
            });
            self.out.push(Action::Start(Attempt {
                trial,
                attempt,
                alloc,
                device,
                adopt: Some(handle),
                after: None,
                detached: false,
                resume_epoch: None,
            }));
        }
        self.fill();
        std::mem::take(&mut self.out)
    }

    /// Turns one event into actions.
    pub fn handle(&mut self, event: Event) -> Vec<Action> {
        if !self.stopped {
            self.on(event);
            self.fill();
        }
        std::mem::take(&mut self.out)
    }

    /// True once the sweep is over: nothing runs and nothing more will start.
    pub fn is_finished(&self) -> bool {
        self.stopped
    }

    /// True when Ctrl-C stopped the sweep.
    pub fn interrupted(&self) -> bool {
        self.interrupts > 0
    }

    /// The launcher's refusal that stopped the sweep.
    pub fn refused(&self) -> Option<&str> {
        self.refused.as_deref()
    }

    /// How the trials that ended in this run ended.
    pub fn endings(&self) -> &RunEndings {
        &self.endings
    }

    /// Detached attempts: (trial, handle).
    pub fn detached(&self) -> &[(TrialId, Handle)] {
        &self.detached
    }

    /// Every trial's state, as journaled.
    pub fn replay(&self) -> &Replay {
        &self.replay
    }

    /// Every trial's state, as journaled, once the sweep is over.
    pub fn into_replay(self) -> Replay {
        self.replay
    }

    /// Trials running now.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// True while this attempt of `trial` runs.
    fn is_running(&self, trial: &TrialId, attempt: u32) -> bool {
        self.running.get(trial).is_some_and(|r| r.attempt == attempt)
    }

    fn journal(&mut self, entry: Entry) {
        self.replay.apply(entry.clone());
        self.out.push(Action::Journal(entry));
    }

    fn report(&mut self, p: Progress) {
        self.out.push(Action::Report(p));
    }

    fn on(&mut self, event: Event) {
        match event {
            Event::Launched { trial, attempt, handle } => {
                let Some(run) = self.running.get_mut(&trial).filter(|r| r.attempt == attempt) else {
                    return;
                };
                run.handle = Some(handle.clone());
                self.journal(Entry::Launched {
                    trial: trial.clone(),
                    attempt,
                    handle: handle.clone(),
                });
                if self.settings.detach {
                    if let Some(r) = self.running.remove(&trial) {
                        self.pool.release(&r.alloc);
                    }
                    self.detached.push((trial, handle));
                }
            }
            Event::Refused {
                trial,
                attempt,
                message,
            } => {
                let Some(run) = self.running.remove(&trial).filter(|r| r.attempt == attempt) else {
                    return;
                };
                self.pool.release(&run.alloc);
                // Nothing ran: the trial is left to run again once the spec
                // is mended; the sweep stops.
                self.journal(Entry::TrialFinished {
                    trial,
                    attempt,
                    time: now(),
                    status: TrialStatus::Interrupted,
                    metrics: EpochMetrics::new(),
                    error: Some(format!("not submitted: {}", message.lines().next().unwrap_or(""))),
                    seconds: 0.0,
                    retry: false,
                    continued: false,
                });
                if self.refused.is_none() {
                    self.refused = Some(message);
                    self.stop_all(false, "interrupted");
                }
            }
            Event::Protocol { trial, attempt, event } => {
                if !self.is_running(&trial, attempt) {
                    return;
                }
                match event {
                    TrialEvent::Epoch { epoch, metrics } => self.on_epoch(trial, attempt, epoch, metrics),
                    TrialEvent::Checkpoint { epoch, bytes, seconds } => self.journal(Entry::Checkpointed {
                        trial,
                        attempt,
                        epoch,
                        bytes,
                        seconds,
                    }),
                    TrialEvent::Resumed { epoch } => {
                        self.journal(Entry::Resumed {
                            trial: trial.clone(),
                            attempt,
                            epoch,
                        });
                        self.report(Progress::Warning {
                            trial: Some(trial),
                            message: format!("continues from its checkpoint after epoch {epoch}"),
                        });
                    }
                    TrialEvent::Warning { message } => self.report(Progress::Warning {
                        trial: Some(trial),
                        message,
                    }),
                    _ => {}
                }
            }
            Event::Warning { trial, message } => self.report(Progress::Warning {
                trial: Some(trial),
                message,
            }),
            Event::Ended {
                trial,
                attempt,
                outcome,
            } => self.on_ended(trial, attempt, outcome),
            Event::RetryDue { trial } => {
                if self.retrying.remove(&trial) {
                    self.queue.push_front(trial);
                }
            }
            Event::TimeoutDue { trial, attempt } => {
                if self.is_running(&trial, attempt) {
                    let t = self.spec.timeout.unwrap_or_default();
                    self.stop_one(
                        &trial,
                        TrialStatus::TimedOut,
                        format!("ran past its timeout of {}", sweep_spec::duration::format_duration(t)),
                        None,
                    );
                }
            }
            Event::Interrupt => {
                if self.interrupts == 0 {
                    self.interrupts = 1;
                    self.report(Progress::Interrupted { kill: false });
                    self.stop_all(false, "interrupted");
                } else {
                    self.interrupts = 2;
                    self.report(Progress::Interrupted { kill: true });
                    self.stop_all(true, "interrupted");
                }
            }
        }
    }

    fn on_epoch(&mut self, trial: TrialId, attempt: u32, epoch: u32, metrics: EpochMetrics) {
        let value = metrics.get(&self.spec.metric.name).copied();
        self.journal(Entry::Epoch {
            trial: trial.clone(),
            attempt,
            epoch,
            metrics: metrics.clone(),
        });
        let of = self.spec.epochs_of(&self.replay.trials[&trial].params);
        self.report(Progress::Epoch {
            trial: trial.clone(),
            epoch,
            of,
            metrics,
        });
        if self.running.get(&trial).is_some_and(|r| r.stop.is_some()) {
            return;
        }
        if reported_again(&self.replay.trials[&trial], attempt, epoch) {
            return;
        }
        let Some(value) = value else { return };
        self.check_target(&trial, value, &format!("at epoch {epoch}"));
        if !value.is_finite() {
            let reason = format!(
                "epoch {epoch}: {} is {}",
                self.spec.metric.name,
                sweep_core::format_float(value)
            );
            self.stop_one(&trial, TrialStatus::Diverged, reason, None);
            return;
        }
        if self.pruner.is_none() {
            return;
        }
        let curves = self.curves();
        let decision = self.pruner.as_mut().and_then(|p| {
            let all: Vec<Curve<'_>> = curves
                .iter()
                .map(|(id, values, state)| Curve {
                    trial: id,
                    values,
                    state: *state,
                })
                .collect();
            p.on_report(&trial, &all)
        });
        if let Some(d) = decision {
            let reason = d.explain(&self.spec.metric.name, self.spec.metric.goal);
            if d.kind == StopKind::MaxT {
                // ASHA's budget is spent: not behind, so not pruned. A trial
                // at its own last epoch ends by itself.
                let last = self.spec.epochs_of(&self.replay.trials[&trial].params);
                if last.is_none_or(|n| u64::from(epoch) < n) {
                    self.stop_one(&trial, TrialStatus::Completed, reason, None);
                }
                return;
            }
            self.stop_one(&trial, TrialStatus::Pruned, reason, Some(pruning_of(&d)));
        }
    }

    /// A trial's values of the sweep's metric, epoch by epoch.
    fn metric_values(&self, r: &TrialRecord) -> Vec<f64> {
        metric_values(r, &self.spec.metric.name)
    }

    /// Every created trial's metric values, for the pruner.
    fn curves(&self) -> Vec<(TrialId, Vec<f64>, CurveState)> {
        self.replay
            .order
            .iter()
            .map(|id| {
                let r = &self.replay.trials[id];
                let values = self.metric_values(r);
                let state = match r.status {
                    TrialStatus::Running | TrialStatus::Pending => CurveState::Running,
                    TrialStatus::Completed => CurveState::Completed,
                    TrialStatus::Pruned => CurveState::Pruned,
                    _ => CurveState::Other,
                };
                (id.clone(), values, state)
            })
            .collect()
    }

    /// Stops one running attempt, to end with `status`: journaled first.
    fn stop_one(&mut self, trial: &TrialId, status: TrialStatus, reason: String, pruning: Option<Pruning>) {
        let Some(run) = self.running.get_mut(trial) else { return };
        if run.stop.is_some() {
            return;
        }
        run.stop = Some((status, reason.clone()));
        let attempt = run.attempt;
        self.journal(Entry::StopRequested {
            trial: trial.clone(),
            attempt,
            status,
            reason: reason.clone(),
            pruning,
        });
        self.report(Progress::Stopping {
            trial: trial.clone(),
            status,
            reason,
        });
        self.out.push(Action::Stop {
            trial: trial.clone(),
            attempt,
            kill: false,
        });
    }

    /// Ctrl-C or a refusal: nothing new starts; every running attempt stops
    /// (one already being stopped keeps the status decided for it).
    fn stop_all(&mut self, kill: bool, reason: &str) {
        let mut ids: Vec<TrialId> = self.running.keys().cloned().collect();
        ids.sort();
        for id in ids {
            let run = self.running.get_mut(&id).expect("running");
            let already = run.stop.is_some();
            run.stop.get_or_insert((TrialStatus::Interrupted, reason.to_string()));
            if kill || !already {
                self.out.push(Action::Stop {
                    trial: id.clone(),
                    attempt: run.attempt,
                    kill,
                });
            }
        }
    }

    fn on_ended(&mut self, trial: TrialId, attempt: u32, outcome: Outcome) {
        if !self.is_running(&trial, attempt) {
            return;
        }
        let run = self.running.remove(&trial).expect("running");
        self.pool.release(&run.alloc);
        let Outcome {
            mut status,
            metrics,
            mut error,
            seconds,
            mut continue_because,
        } = outcome;
        if run.stop.is_some() {
            // Stopped by the sweep: never continued.
            continue_because = None;
        }
        if let Some((decided, reason)) = run.stop {
            // The attempt may have ended on its own meanwhile; a decision
            // that was journaled stands, a Ctrl-C does not undo a result.
            let finished_anyway = decided == TrialStatus::Interrupted && status == TrialStatus::Completed;
            if !finished_anyway {
                status = decided;
                error = (decided != TrialStatus::Completed).then_some(reason);
            }
        }
        let continued = match continue_because {
            Some(Continuation { why, needs_progress }) => {
                let rec = &self.replay.trials[&trial];
                let cap = self.spec.checkpoint.max_continuations;
                let progressed = rec.checkpoint.map(|c| c.epoch) > run.checkpoint_at_start;
                let from = rec.checkpoint.map_or_else(
                    || "from epoch 1: no checkpoint yet".to_string(),
                    |c| format!("from its checkpoint after epoch {}", c.epoch),
                );
                if needs_progress && !progressed {
                    error = Some(format!(
                        "{why}; not continued: it saved no checkpoint in this attempt, so the next one would start from where this one did"
                    ));
                    false
                } else if rec.continuations < cap {
                    status = TrialStatus::Interrupted;
                    error = Some(format!("{why}; continues {from} ({}/{cap})", rec.continuations + 1));
                    true
                } else {
                    error = Some(format!(
                        "{why}; not continued: it was continued {cap} times already (checkpoint.max_continuations)"
                    ));
                    false
                }
            }
            None => false,
        };
        let failures = self.replay.trials.get(&trial).map_or(0, |r| r.failures)
            + u32::from(matches!(status, TrialStatus::Failed | TrialStatus::TimedOut));
        let retry = self.interrupts == 0
            && self.refused.is_none()
            && (continued
                || (matches!(status, TrialStatus::Failed | TrialStatus::TimedOut) && failures <= self.spec.retries));
        let continued = continued && retry;
        self.journal(Entry::TrialFinished {
            trial: trial.clone(),
            attempt,
            time: now(),
            status,
            metrics,
            error: error.clone(),
            seconds,
            retry,
            continued,
        });
        if continued {
            // No backoff: nothing failed.
            self.queue.push_front(trial.clone());
        } else if retry {
            self.retrying.insert(trial.clone());
            let delay = self
                .settings
                .retry_backoff
                .saturating_mul(1 << (failures - 1).min(6))
                .min(Duration::from_secs(60));
            self.out.push(Action::After {
                delay,
                event: Event::RetryDue { trial: trial.clone() },
            });
        }
        let ended = !retry && status != TrialStatus::Interrupted;
        let failure = (status == TrialStatus::Failed).then(|| error.clone().unwrap_or_else(|| "failed".into()));
        let rec = &self.replay.trials[&trial];
        let metric = rec.value(&self.spec.metric);
        let t = trial_of(&trial, rec);
        self.report(Progress::Finished {
            trial: t,
            status,
            metric,
            error,
            seconds,
            retry,
            continued,
        });
        if status == TrialStatus::Completed
            && let Some(value) = metric
        {
            self.check_target(&trial, value, "at its end");
        }
        if ended {
            self.count_ending(&trial, failure);
        }
    }

    /// W&B's `metric.target`: once a trial's value reaches it (`when`: at
    /// an epoch, or at its end for a trainer that reports only then), no new
    /// trial is created; those running finish.
    fn check_target(&mut self, trial: &TrialId, value: f64, when: &str) {
        let Some(target) = self.spec.metric_target else { return };
        if !value.is_finite()
            || self.target_reached
            || !(value == target || self.spec.metric.goal.better(value, target))
        {
            return;
        }
        self.target_reached = true;
        self.sampler_done = true;
        self.upcoming.clear();
        self.out.push(Action::DropUpcoming);
        self.report(Progress::Warning {
            trial: Some(trial.clone()),
            message: format!(
                "reached the target {} = {} {when}: no new trials",
                self.spec.metric.name,
                sweep_core::format_float(value)
            ),
        });
    }

    /// Counts a trial that ended in this run; once `max_initial_failures`
    /// have ended and every one failed, nothing new starts (W&B's agent:
    /// "Detected 5 failed runs in a row, shutting down"). Trials already
    /// running finish: their results are kept.
    fn count_ending(&mut self, trial: &TrialId, failure: Option<String>) {
        let e = &mut self.endings;
        e.ended += 1;
        let Some(error) = failure else { return };
        e.failed += 1;
        e.first_failure.get_or_insert_with(|| (trial.clone(), error));
        let limit = self.spec.max_initial_failures;
        if limit == 0 || e.gave_up.is_some() || e.failed < limit || !e.all_failed() {
            return;
        }
        let why = format!(
            "the first {limit} trials to end all failed, so no new trial started (max_initial_failures: {limit}; 0 turns this off)"
        );
        let running = match self.running.len() {
            0 => String::new(),
            1 => "; the one running finishes".to_string(),
            n => format!("; the {n} running finish"),
        };
        self.report(Progress::Warning {
            trial: None,
            message: format!("{why}{running}"),
        });
        self.endings.gave_up = Some(why);
    }

    /// What a sampler sees of every trial created so far.
    fn observations(&self) -> Vec<Observation> {
        self.replay
            .order
            .iter()
            .map(|id| {
                let r = &self.replay.trials[id];
                let intermediate = self.metric_values(r);
                let state = match r.status {
                    TrialStatus::Completed => ObsState::Complete,
                    TrialStatus::Pruned => ObsState::Pruned,
                    s if s.is_final() && !r.retry => ObsState::Failed,
                    _ => ObsState::Running,
                };
                Observation {
                    params: r.params.clone(),
                    state,
                    value: r.value(&self.spec.metric),
                    intermediate,
                }
            })
            .collect()
    }

    /// The next trial to start: one waiting, else a new one.
    fn next_trial(&mut self) -> Option<TrialId> {
        if let Some(id) = self.queue.pop_front() {
            return Some(id);
        }
        let trial = match self.upcoming.pop_front() {
            Some(t) => t,
            None if self.sampler_done => return None,
            None => {
                let history = if self.trials.fixed() {
                    Vec::new()
                } else {
                    self.observations()
                };
                match self.trials.next(&history) {
                    Ask::Trial(t) => t,
                    Ask::Wait => return None,
                    Ask::Done => {
                        self.sampler_done = true;
                        return None;
                    }
                    Ask::Failed(e) => {
                        self.sampler_failed(&e);
                        return None;
                    }
                }
            }
        };
        self.journal(Entry::TrialCreated {
            trial: trial.id.clone(),
            ordinal: trial.ordinal,
            params: trial.params.clone(),
            seed: trial.seed,
        });
        Some(trial.id)
    }

    /// The sampler cannot go on: no new trials; the person is told why.
    fn sampler_failed(&mut self, e: &sweep_spec::PlanError) {
        self.sampler_done = true;
        self.report(Progress::Warning {
            trial: None,
            message: format!("{}: {} ({})", e.path, e.message, e.help),
        });
    }

    /// Keeps the list of upcoming grid/random trials full.
    fn look_ahead(&mut self) {
        if !self.trials.fixed() {
            return;
        }
        while !self.sampler_done && self.upcoming.len() < LOOKAHEAD {
            match self.trials.next(&[]) {
                Ask::Trial(t) => {
                    self.out.push(Action::Upcoming(t.clone()));
                    self.upcoming.push_back(t);
                }
                Ask::Wait => break,
                Ask::Done => self.sampler_done = true,
                Ask::Failed(e) => self.sampler_failed(&e),
            }
        }
    }

    /// Starts what fits, then checks whether the sweep is over.
    fn fill(&mut self) {
        while self.interrupts == 0 && self.refused.is_none() && self.endings.gave_up.is_none() {
            let Some(alloc) = self.pool.try_acquire(self.settings.request) else {
                break;
            };
            let Some(id) = self.next_trial() else {
                self.pool.release(&alloc);
                break;
            };
            self.launch(id, alloc);
        }
        self.look_ahead();
        let idle = self.running.is_empty();
        let nothing_left =
            self.queue.is_empty() && self.retrying.is_empty() && self.upcoming.is_empty() && self.sampler_done;
        let cannot_go_on = self.interrupts > 0 || self.refused.is_some() || self.endings.gave_up.is_some();
        // A sampler that waits for results while nothing runs would wait forever.
        let starved = idle && self.queue.is_empty() && self.retrying.is_empty() && self.upcoming.is_empty();
        if idle && (cannot_go_on || nothing_left || starved) {
            self.stopped = true;
            if !(self.settings.detach && self.refused.is_none()) {
                self.journal(Entry::SweepStopped {
                    time: now(),
                    interrupted: self.interrupts > 0,
                });
            }
        }
    }

    fn launch(&mut self, id: TrialId, alloc: Allocation) {
        let rec = &self.replay.trials[&id];
        let attempt = rec.attempts + 1;
        let trial = trial_of(&id, rec);
        let device = self.device(&alloc, &trial.params);
        self.journal(Entry::TrialStarted {
            trial: id.clone(),
            attempt,
            time: now(),
            device: Some(device.clone()),
        });
        let after = match (self.settings.detach, self.spec.resources.max_concurrent) {
            // Detached with max_concurrent N, the k-th submission waits for
            // the (k-N)-th to end: N lanes, so the launcher keeps at most N
            // running with no orchestrator left to hold them back.
            (true, Some(n)) => self
                .launches
                .checked_sub(n as usize)
                .and_then(|k| self.detached.get(k))
                .map(|(_, h)| h.clone()),
            _ => None,
        };
        self.launches += 1;
        self.running.insert(
            id.clone(),
            Running {
                alloc: alloc.clone(),
                attempt,
                handle: None,
                stop: None,
                checkpoint_at_start: self.replay.trials[&id].checkpoint.map(|c| c.epoch),
            },
        );
        self.report(Progress::Started {
            trial: trial.clone(),
            attempt,
            device: device.clone(),
        });
        self.out.push(Action::Start(Attempt {
            trial,
            attempt,
            alloc,
            device,
            adopt: None,
            after,
            detached: self.settings.detach,
            resume_epoch: self.replay.trials[&id].checkpoint.map(|c| c.epoch),
        }));
        if let Some(t) = self.spec.timeout
            && !self.settings.caps.enforces_timeout
        {
            self.out.push(Action::After {
                delay: t,
                event: Event::TimeoutDue { trial: id, attempt },
            });
        }
    }

    /// Where an attempt with `alloc` runs, as shown and journaled.
    fn device(&self, alloc: &Allocation, params: &sweep_core::Params) -> String {
        let visible: Vec<&str> = alloc
            .gpus
            .iter()
            .map(|&(i, _)| self.settings.gpus[i].as_str())
            .collect();
        if !self.settings.caps.local_gpus && self.spec.resources.gpus_per_trial > 0.0 {
            return "cuda".into();
        }
        if !visible.is_empty() {
            return format!("cuda:{}", visible.join("+"));
        }
        match &self.spec.trainer {
            sweep_spec::Trainer::Builtin { .. } => self
                .spec
                .trainer_params(params)
                .get("device")
                .map_or_else(|| "cpu".to_string(), |d| d.to_string()),
            sweep_spec::Trainer::Command { .. } | sweep_spec::Trainer::Wandb { .. } => "cpu".into(),
        }
    }
}

/// A created trial as the spec crate describes it.
pub fn trial_of(id: &TrialId, r: &TrialRecord) -> Trial {
    Trial {
        id: id.clone(),
        ordinal: r.ordinal,
        params: r.params.clone(),
        seed: r.seed,
    }
}
