//! The dispatcher driven by hand: no processes, no sleeping, no files. Each
//! test feeds it events as a launcher and timers would, and checks the
//! actions it answers with.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;
use sweep_core::{EpochMetrics, TrialEvent, TrialId, TrialStatus};
use sweep_results::{Entry, Handle, Replay};
use sweep_sched::dispatcher::{Action, Attempt, Dispatcher, Event, Outcome, Settings, read_back};
use sweep_sched::launcher::Caps;
use sweep_sched::pool::{Pool, Request};
use sweep_sched::{ResumeError, pruner};
use sweep_spec::Spec;
use sweep_spec::sampler::Trials;

fn spec(extra: &str, params: &str) -> Spec {
    let text = format!(
        "name: t\nmethod: grid\nmetric: {{name: loss, goal: minimize}}\n{extra}trainer: {{command: [\"true\"]}}\nparameters:\n{params}"
    );
    sweep_spec::parse(&text, "t.yaml".as_ref()).unwrap()
}

fn local_caps() -> Caps {
    Caps {
        detach: false,
        enforces_timeout: false,
        reattach: false,
        local_gpus: true,
    }
}

fn slurm_caps() -> Caps {
    Caps {
        detach: true,
        enforces_timeout: true,
        reattach: true,
        local_gpus: false,
    }
}

/// A dispatcher and everything it asked for.
struct Harness {
    d: Dispatcher,
    journal: Vec<Entry>,
    starts: Vec<Attempt>,
    stops: Vec<(TrialId, u32, bool)>,
    /// Jobs of an earlier run it asked to make sure are stopped.
    leftovers: Vec<(TrialId, Handle)>,
    timers: Vec<(Duration, Event)>,
    /// Attempts started and not yet ended.
    live: Vec<(TrialId, u32)>,
    next_handle: u64,
    launcher: String,
}

impl Harness {
    fn new(
        spec: &Spec,
        caps: Caps,
        launcher: &str,
        cpus: u32,
        replay: Replay,
        detach: bool,
    ) -> Result<Harness, ResumeError> {
        Harness::counted(spec, caps, launcher, cpus, replay, detach, None)
    }

    /// As [`Harness::new`], creating at most `count` new trials (`--count`).
    fn counted(
        spec: &Spec,
        caps: Caps,
        launcher: &str,
        cpus: u32,
        replay: Replay,
        detach: bool,
        count: Option<u64>,
    ) -> Result<Harness, ResumeError> {
        let pruner = spec
            .early_terminate
            .as_ref()
            .map(|cfg| pruner::build(cfg, spec.metric.goal));
        Harness::with_pruner(spec, caps, launcher, cpus, replay, detach, count, pruner)
    }

    /// A sweep resumed from `entries` as `sweep run` resumes one: the
    /// journal read back with the pruner fed its reports.
    fn resumed(spec: &Spec, entries: &[Entry]) -> Harness {
        let back = read_back(spec, |hook| {
            let mut replay = Replay::default();
            for e in entries {
                replay.apply_reporting(e.clone(), hook);
            }
            Ok::<_, ()>(replay)
        })
        .unwrap();
        let mut replay = back.replay;
        for e in back.lost {
            replay.apply(e);
        }
        Harness::with_pruner(spec, local_caps(), "local", 1, replay, false, None, back.pruner).unwrap()
    }

    #[allow(clippy::too_many_arguments)]
    fn with_pruner(
        spec: &Spec,
        caps: Caps,
        launcher: &str,
        cpus: u32,
        replay: Replay,
        detach: bool,
        count: Option<u64>,
        pruner: Option<Box<dyn pruner::Pruner>>,
    ) -> Result<Harness, ResumeError> {
        let request = if caps.local_gpus {
            Request {
                cpus: spec.resources.cpus_per_trial,
                gpus: spec.resources.gpus_per_trial,
            }
        } else {
            Request { cpus: 1, gpus: 0.0 }
        };
        let gpus = vec!["0".to_string(), "1".to_string()];
        let pool = if caps.local_gpus {
            Pool::new(cpus, gpus.len(), spec.resources.max_concurrent)
        } else {
            Pool::new(u32::MAX / 2, 0, spec.resources.max_concurrent)
        };
        let settings = Settings {
            launcher: launcher.into(),
            caps,
            gpus,
            request,
            retry_backoff: Duration::from_secs(1),
            detach,
            results: PathBuf::from("results/t"),
            moved_aside: None,
            count,
        };
        let d = Dispatcher::new(spec.clone(), settings, Trials::new(spec).unwrap(), replay, pool, pruner)?;
        let mut h = Harness {
            d,
            journal: Vec::new(),
            starts: Vec::new(),
            stops: Vec::new(),
            leftovers: Vec::new(),
            timers: Vec::new(),
            live: Vec::new(),
            next_handle: 100,
            launcher: launcher.into(),
        };
        let actions = h.d.start();
        h.absorb(actions);
        Ok(h)
    }

    fn absorb(&mut self, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Journal(e) => self.journal.push(e),
                Action::Start(at) => {
                    self.live.push((at.trial.id.clone(), at.attempt));
                    self.starts.push(at);
                }
                Action::Stop { trial, attempt, kill } => self.stops.push((trial, attempt, kill)),
                Action::StopLeftover { trial, handle } => self.leftovers.push((trial, handle)),
                Action::After { delay, event } => self.timers.push((delay, event)),
                Action::Upcoming(_) | Action::DropUpcoming | Action::Report(_) => {}
            }
        }
    }

    fn send(&mut self, e: Event) {
        let actions = self.d.handle(e);
        self.absorb(actions);
    }

    fn launched(&mut self, trial: &TrialId, attempt: u32) -> Handle {
        self.next_handle += 1;
        let handle = Handle {
            launcher: self.launcher.clone(),
            id: self.next_handle.to_string(),
        };
        self.send(Event::Launched {
            trial: trial.clone(),
            attempt,
            handle: handle.clone(),
        });
        handle
    }

    fn epoch(&mut self, trial: &TrialId, attempt: u32, epoch: u32, loss: f64) {
        let metrics: EpochMetrics = [("loss".to_string(), loss)].into_iter().collect();
        self.send(Event::Protocol {
            trial: trial.clone(),
            attempt,
            event: TrialEvent::Epoch { epoch, metrics },
        });
    }

    fn end(&mut self, trial: &TrialId, attempt: u32, status: TrialStatus) {
        self.end_with(trial, attempt, status, EpochMetrics::new());
    }

    /// Ends the attempt with final metrics (`{"event": "done", ...}`).
    fn end_with(&mut self, trial: &TrialId, attempt: u32, status: TrialStatus, metrics: EpochMetrics) {
        self.live.retain(|(t, a)| !(t == trial && *a == attempt));
        self.send(Event::Ended {
            trial: trial.clone(),
            attempt,
            outcome: Outcome {
                status,
                metrics,
                error: (status == TrialStatus::Failed).then(|| "exit code 1".to_string()),
                seconds: 1.0,
                continue_because: None,
            },
        });
    }

    /// The trainer (or the launcher) says something besides an epoch.
    fn said(&mut self, trial: &TrialId, attempt: u32, event: TrialEvent) {
        self.send(Event::Protocol {
            trial: trial.clone(),
            attempt,
            event,
        });
    }

    /// The attempt stopped to be continued (a SLURM time limit), ending as
    /// `fallback` if it cannot be.
    fn end_to_continue(&mut self, trial: &TrialId, attempt: u32, fallback: TrialStatus) {
        self.live.retain(|(t, a)| !(t == trial && *a == attempt));
        self.send(Event::Ended {
            trial: trial.clone(),
            attempt,
            outcome: Outcome {
                status: fallback,
                metrics: EpochMetrics::new(),
                error: Some("SLURM job 7 reached its time limit (TIMEOUT)".into()),
                seconds: 1.0,
                continue_because: Some(sweep_sched::dispatcher::Continuation {
                    why: "SLURM job 7 reached its time limit (TIMEOUT)".into(),
                    needs_progress: true,
                }),
            },
        });
    }

    /// Runs the oldest live attempt to the end: launched, `epochs` epochs
    /// with loss = 1 / (x + 1) / epoch, completed (or the status given).
    fn finish_oldest(&mut self, epochs: u32, status: TrialStatus) -> Option<TrialId> {
        let (trial, attempt) = self.live.first().cloned()?;
        self.launched(&trial, attempt);
        let x = self.d.replay().trials[&trial]
            .params
            .get("x")
            .and_then(|v| v.as_i64())
            .unwrap_or(0) as f64;
        for e in 1..=epochs {
            if !self.live.contains(&(trial.clone(), attempt)) {
                break;
            }
            self.epoch(&trial, attempt, e, 1.0 / (x + 1.0) / f64::from(e));
        }
        if self.live.contains(&(trial.clone(), attempt)) {
            self.end(&trial, attempt, status);
        }
        Some(trial)
    }

    fn statuses(&self) -> HashMap<TrialId, TrialStatus> {
        self.d
            .replay()
            .trials
            .iter()
            .map(|(id, r)| (id.clone(), r.status))
            .collect()
    }

    fn running_now(&self) -> usize {
        self.live.len()
    }
}

fn xs(n: usize) -> String {
    format!(
        "  x: {{values: [{}]}}\n",
        (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
    )
}

#[test]
fn trials_are_created_journaled_and_started_in_grid_order_within_max_concurrent() {
    let spec = spec("resources: {cpus_per_trial: 0, max_concurrent: 2}\n", &xs(5));
    let mut h = Harness::new(&spec, local_caps(), "local", 2, Replay::default(), false).unwrap();
    assert_eq!(h.starts.len(), 2, "max_concurrent 2");
    let plan = sweep_spec::plan(&spec).unwrap();
    while h.finish_oldest(2, TrialStatus::Completed).is_some() {
        assert!(h.running_now() <= 2);
    }
    assert!(h.d.is_finished());
    let started: Vec<&TrialId> = h.starts.iter().map(|a| &a.trial.id).collect();
    let planned: Vec<&TrialId> = plan.trials.iter().map(|t| &t.id).collect();
    assert_eq!(started, planned, "the same trials, ids and order as the plan");
    // Each trial is journaled with its parameters before it starts.
    for t in &plan.trials {
        let created = h
            .journal
            .iter()
            .position(|e| matches!(e, Entry::TrialCreated { trial, params, seed, .. } if *trial == t.id && *params == t.params && *seed == t.seed))
            .unwrap();
        let started = h
            .journal
            .iter()
            .position(|e| matches!(e, Entry::TrialStarted { trial, .. } if *trial == t.id))
            .unwrap();
        assert!(created < started);
    }
    assert!(h.statuses().values().all(|s| *s == TrialStatus::Completed));
    assert!(matches!(
        h.journal.last(),
        Some(Entry::SweepStopped { interrupted: false, .. })
    ));
}

#[test]
fn resource_packing_cpu_slots_and_fractional_gpus() {
    let spec = spec("resources: {cpus_per_trial: 1, gpus_per_trial: 0.5}\n", &xs(8));
    let h = Harness::new(&spec, local_caps(), "local", 16, Replay::default(), false).unwrap();
    // Two GPUs at half a GPU each: four at once, two per GPU.
    assert_eq!(h.starts.len(), 4);
    let devices: Vec<&str> = h.starts.iter().map(|a| a.device.as_str()).collect();
    assert_eq!(devices, ["cuda:0", "cuda:0", "cuda:1", "cuda:1"]);
    let spec = spec_cpu3();
    let h = Harness::new(&spec, local_caps(), "local", 7, Replay::default(), false).unwrap();
    assert_eq!(h.starts.len(), 2, "3-slot trials on 7 slots: two at once");
}

fn spec_cpu3() -> Spec {
    spec("resources: {cpus_per_trial: 3}\n", &xs(4))
}

#[test]
fn failed_trials_are_retried_with_doubling_backoff_then_recorded_failed() {
    let spec = spec(
        "retries: 2\nresources: {cpus_per_trial: 0, max_concurrent: 1}\n",
        &xs(1),
    );
    let mut h = Harness::new(&spec, local_caps(), "local", 1, Replay::default(), false).unwrap();
    let id = h.starts[0].trial.id.clone();
    for (attempt, backoff) in [(1, 1), (2, 2)] {
        h.launched(&id, attempt);
        h.end(&id, attempt, TrialStatus::Failed);
        let (delay, event) = h.timers.pop().unwrap();
        assert_eq!(delay, Duration::from_secs(backoff));
        assert_eq!(event, Event::RetryDue { trial: id.clone() });
        assert!(!h.d.is_finished(), "a retry is pending");
        assert_eq!(h.starts.len(), attempt as usize, "nothing starts before the backoff");
        h.send(event);
        assert_eq!(h.starts.last().unwrap().attempt, attempt + 1);
    }
    h.launched(&id, 3);
    h.end(&id, 3, TrialStatus::Failed);
    assert!(h.timers.is_empty(), "retries spent");
    assert!(h.d.is_finished());
    let r = &h.d.replay().trials[&id];
    assert_eq!((r.status, r.attempts, r.failures), (TrialStatus::Failed, 3, 3));
}

#[test]
fn a_timeout_stops_that_trial_only_and_records_it_timed_out() {
    let spec = spec(
        "timeout: 90s\nresources: {cpus_per_trial: 0, max_concurrent: 2}\n",
        &xs(2),
    );
    let mut h = Harness::new(&spec, local_caps(), "local", 2, Replay::default(), false).unwrap();
    let (a, b) = (h.starts[0].trial.id.clone(), h.starts[1].trial.id.clone());
    let timer = h
        .timers
        .iter()
        .find(|(_, e)| matches!(e, Event::TimeoutDue { trial, .. } if *trial == a))
        .cloned()
        .unwrap();
    assert_eq!(timer.0, Duration::from_secs(90));
    h.launched(&a, 1);
    h.send(timer.1);
    assert_eq!(h.stops, [(a.clone(), 1, false)], "only that trial is stopped");
    // The process ends because it was signalled.
    h.end(&a, 1, TrialStatus::Interrupted);
    let r = &h.d.replay().trials[&a];
    assert_eq!(r.status, TrialStatus::TimedOut);
    assert!(
        r.error.as_deref().unwrap().contains("timeout of 1m30s"),
        "{:?}",
        r.error
    );
    assert_eq!(h.statuses()[&b], TrialStatus::Running);
    // A launcher that enforces timeouts itself gets no timer.
    let h = Harness::new(&spec, slurm_caps(), "slurm", 2, Replay::default(), false).unwrap();
    assert!(h.timers.is_empty());
}

#[test]
fn first_ctrl_c_stops_gracefully_and_starts_nothing_second_kills() {
    let spec = spec("resources: {cpus_per_trial: 0, max_concurrent: 2}\n", &xs(6));
    let mut h = Harness::new(&spec, local_caps(), "local", 2, Replay::default(), false).unwrap();
    let ids: Vec<TrialId> = h.starts.iter().map(|a| a.trial.id.clone()).collect();
    h.send(Event::Interrupt);
    let mut graceful: Vec<_> = h.stops.clone();
    graceful.sort();
    let mut want: Vec<_> = ids.iter().map(|id| (id.clone(), 1, false)).collect();
    want.sort();
    assert_eq!(graceful, want);
    h.send(Event::Interrupt);
    assert_eq!(
        h.stops.iter().filter(|s| s.2).count(),
        2,
        "the second Ctrl-C kills both"
    );
    h.end(&ids[0], 1, TrialStatus::Interrupted);
    // A trial that finished on its own meanwhile keeps its result.
    h.end(&ids[1], 1, TrialStatus::Completed);
    assert!(h.d.is_finished());
    assert_eq!(h.starts.len(), 2, "nothing new started");
    let s = h.statuses();
    assert_eq!(s[&ids[0]], TrialStatus::Interrupted);
    assert_eq!(s[&ids[1]], TrialStatus::Completed);
    assert!(h.d.interrupted());
    assert!(matches!(
        h.journal.last(),
        Some(Entry::SweepStopped { interrupted: true, .. })
    ));
}

#[test]
fn a_non_finite_metric_stops_the_trial_as_diverged() {
    let spec = spec("resources: {cpus_per_trial: 0, max_concurrent: 1}\n", &xs(2));
    let mut h = Harness::new(&spec, local_caps(), "local", 1, Replay::default(), false).unwrap();
    let id = h.starts[0].trial.id.clone();
    h.launched(&id, 1);
    h.epoch(&id, 1, 1, 0.5);
    h.epoch(&id, 1, 2, f64::NAN);
    assert_eq!(h.stops, [(id.clone(), 1, false)]);
    h.end(&id, 1, TrialStatus::Completed);
    let r = &h.d.replay().trials[&id];
    assert_eq!(r.status, TrialStatus::Diverged);
    assert!(r.error.as_deref().unwrap().contains("loss is NaN"), "{:?}", r.error);
    assert_eq!(h.starts.len(), 2, "the next trial starts");
}

#[test]
fn the_pruner_stops_one_trial_at_an_epoch_and_the_decision_is_journaled() {
    // Hyperband with min_iter 1, eta 3: at epoch 1, a trial worse than the
    // threshold of the values at epoch 1 is stopped.
    let spec = spec(
        "early_terminate: {type: hyperband, min_iter: 1, eta: 3}\nresources: {cpus_per_trial: 0, max_concurrent: 1}\n",
        &xs(4),
    );
    let mut h = Harness::new(&spec, local_caps(), "local", 1, Replay::default(), false).unwrap();
    // Losses at epoch 1: trial x gets 1/(x+1), so later trials are better;
    // feed them worst-last by finishing trials in order with a custom curve.
    let mut losses = [0.1, 0.2, 0.3, 0.9].into_iter();
    let mut pruned = Vec::new();
    while let Some((id, attempt)) = h.live.first().cloned() {
        let loss = losses.next().unwrap();
        h.launched(&id, attempt);
        h.epoch(&id, attempt, 1, loss);
        if h.stops.iter().any(|(t, _, _)| *t == id) {
            pruned.push(loss);
            h.end(&id, attempt, TrialStatus::Interrupted);
        } else {
            h.epoch(&id, attempt, 2, loss / 2.0);
            h.end(&id, attempt, TrialStatus::Completed);
        }
    }
    // W&B's rule at band 1, each trial judged when it reports, its own
    // value included: the first sees [0.1], threshold element int(1/3) = 0
    // -> 0.1, not worse. The second: [0.1, 0.2], element int(2/3) = 0 ->
    // 0.1; 0.2 is worse: pruned. The third: [0.1, 0.2, 0.3], element 1 ->
    // 0.2; 0.3 is worse. The fourth: [0.1, 0.2, 0.3, 0.9], element 1 -> 0.2.
    assert_eq!(pruned, [0.2, 0.3, 0.9]);
    let stop = h
        .journal
        .iter()
        .find_map(|e| match e {
            Entry::StopRequested {
                status: TrialStatus::Pruned,
                pruning: Some(p),
                ..
            } => Some(p.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!((stop.rule.as_str(), stop.epoch, stop.threshold), ("hyperband", 1, 0.1));
    let pruned_trials = h.statuses().values().filter(|s| **s == TrialStatus::Pruned).count();
    assert_eq!(pruned_trials, 3);
}

#[test]
fn a_prune_journaled_before_a_crash_stops_the_job_that_outlived_it() {
    // Two trials at once under a launcher whose jobs run on without the
    // orchestrator. The second is pruned at epoch 1 (hyperband, as above),
    // or diverges, and the orchestrator dies between journaling the stop
    // and the job's end: the job may still be running.
    let spec = spec(
        "early_terminate: {type: hyperband, min_iter: 1, eta: 3}\nresources: {cpus_per_trial: 1, max_concurrent: 2}\n",
        &xs(3),
    );
    let cases = [
        (slurm_caps(), "slurm", true, 0.5, TrialStatus::Pruned),
        (local_caps(), "local", false, 0.5, TrialStatus::Pruned),
        (slurm_caps(), "slurm", true, f64::NAN, TrialStatus::Diverged),
        (local_caps(), "local", false, f64::NAN, TrialStatus::Diverged),
    ];
    for (caps, launcher, asks, loss, decided) in cases {
        let mut h = Harness::new(&spec, caps, launcher, 2, Replay::default(), false).unwrap();
        let (a, b) = (h.starts[0].trial.id.clone(), h.starts[1].trial.id.clone());
        h.launched(&a, 1);
        let job = h.launched(&b, 1);
        h.epoch(&a, 1, 1, 0.1);
        h.epoch(&b, 1, 1, loss);
        assert_eq!(h.stops, [(b.clone(), 1, false)], "{launcher}: b is stopped");
        let cut = h
            .journal
            .iter()
            .position(|e| matches!(e, Entry::StopRequested { trial, .. } if *trial == b))
            .unwrap();
        let mut replay = Replay::default();
        for e in h.journal[..=cut].iter().cloned() {
            replay.apply(e);
        }
        let h2 = Harness::new(&spec, caps, launcher, 2, replay, false).unwrap();
        assert_eq!(h2.statuses()[&b], decided, "{launcher}: the decision stands");
        if asks {
            assert_eq!(h2.leftovers, [(b.clone(), job)], "slurm: its job is cancelled");
            // a is re-attached, not stopped.
            assert!(h2.starts.iter().any(|s| s.trial.id == a && s.adopt.is_some()));
        } else {
            assert!(h2.leftovers.is_empty(), "local: the process died with the orchestrator");
        }
        assert!(
            h2.starts.iter().all(|s| s.trial.id != b),
            "{launcher}: b never runs again"
        );
    }
}

#[test]
fn detached_submissions_keep_max_concurrent_lanes_then_reattach() {
    let spec = spec("resources: {cpus_per_trial: 1, max_concurrent: 2}\n", &xs(4));
    let mut h = Harness::new(&spec, slurm_caps(), "slurm", 2, Replay::default(), true).unwrap();
    let mut handles = Vec::new();
    while let Some((id, attempt)) = h.live.first().cloned() {
        h.live.remove(0);
        handles.push(h.launched(&id, attempt));
    }
    assert!(h.d.is_finished());
    assert_eq!(h.d.detached().len(), 4);
    let afters: Vec<Option<String>> = h
        .starts
        .iter()
        .map(|a| a.after.as_ref().map(|x| x.id.clone()))
        .collect();
    assert_eq!(
        afters,
        [None, None, Some(handles[0].id.clone()), Some(handles[1].id.clone())],
        "the k-th waits for the (k-2)-th"
    );
    assert!(
        !h.journal.iter().any(|e| matches!(e, Entry::SweepStopped { .. })),
        "a detached sweep is not over"
    );
    // Re-attach: every journaled job is followed, none submitted again.
    let mut replay = Replay::default();
    for e in h.journal.clone() {
        replay.apply(e);
    }
    let mut h2 = Harness::new(&spec, slurm_caps(), "slurm", 2, replay, false).unwrap();
    let adopted: Vec<Option<Handle>> = h2.starts.iter().map(|a| a.adopt.clone()).collect();
    assert_eq!(adopted, handles.iter().cloned().map(Some).collect::<Vec<_>>());
    while let Some((id, attempt)) = h2.live.first().cloned() {
        h2.end(&id, attempt, TrialStatus::Completed);
    }
    assert!(h2.d.is_finished());
    assert!(h2.statuses().values().all(|s| *s == TrialStatus::Completed));
}

#[test]
fn handles_of_another_launcher_are_never_adopted() {
    let spec = spec("resources: {cpus_per_trial: 1, max_concurrent: 2}\n", &xs(3));
    // A local sweep dies with two trials running (process ids journaled).
    let mut h = Harness::new(&spec, local_caps(), "local", 2, Replay::default(), false).unwrap();
    let ids: Vec<TrialId> = h.starts.iter().map(|a| a.trial.id.clone()).collect();
    for id in &ids {
        h.launched(id, 1);
    }
    let mut replay = Replay::default();
    for e in h.journal.clone() {
        replay.apply(e);
    }
    // Resumed under SLURM: the pids are not job ids; those trials run again.
    let h2 = Harness::new(&spec, slurm_caps(), "slurm", 2, replay, false).unwrap();
    assert!(h2.starts.iter().all(|a| a.adopt.is_none()));
    assert_eq!(h2.starts.len(), 2);
    assert_eq!(h2.starts[0].attempt, 2, "a fresh attempt, after an interruption");
    for id in &ids {
        let finished = h2
            .journal
            .iter()
            .find(|e| matches!(e, Entry::TrialFinished { trial, .. } if trial == id))
            .unwrap();
        assert!(matches!(
            finished,
            Entry::TrialFinished {
                status: TrialStatus::Interrupted,
                ..
            }
        ));
    }
    // The reverse: SLURM jobs still running are refused under the local launcher.
    let mut s = Harness::new(&spec, slurm_caps(), "slurm", 2, Replay::default(), false).unwrap();
    let id = s.starts[0].trial.id.clone();
    s.launched(&id, 1);
    let mut replay = Replay::default();
    for e in s.journal.clone() {
        replay.apply(e);
    }
    let err = Harness::new(&spec, local_caps(), "local", 2, replay, false)
        .err()
        .unwrap();
    assert!(err.to_string().contains("--launcher slurm"), "{err}");
}

/// Records a whole sweep (with a retry and a prune), then resumes from the
/// journal cut after every line: the resumed sweep ends with every trial
/// done, the same trials, and no completed or pruned trial run again.
#[test]
fn resume_from_a_journal_cut_at_every_line() {
    let spec = spec(
        "retries: 1\nearly_terminate: {type: median, n_startup_trials: 1}\nresources: {cpus_per_trial: 0, max_concurrent: 2}\n",
        &xs(5),
    );
    let drive = |h: &mut Harness| {
        let mut failed_once = HashSet::new();
        while let Some((id, attempt)) = h.live.first().cloned() {
            h.launched(&id, attempt);
            let x = h.d.replay().trials[&id].params["x"].as_i64().unwrap();
            // x = 2 fails once; the rest report 3 epochs, later trials worse.
            if x == 2 && failed_once.insert(id.clone()) && attempt == 1 {
                h.end(&id, attempt, TrialStatus::Failed);
                while let Some((_, e)) = h.timers.pop() {
                    if matches!(e, Event::RetryDue { .. }) {
                        h.send(e);
                    }
                }
                continue;
            }
            let mut stopped = false;
            for e in 1..=3 {
                h.epoch(&id, attempt, e, (x + 1) as f64 / f64::from(e));
                if h.stops.iter().any(|(t, a, _)| *t == id && *a == attempt) {
                    stopped = true;
                    break;
                }
            }
            h.end(
                &id,
                attempt,
                if stopped {
                    TrialStatus::Interrupted
                } else {
                    TrialStatus::Completed
                },
            );
        }
    };
    let mut full = Harness::new(&spec, local_caps(), "local", 2, Replay::default(), false).unwrap();
    drive(&mut full);
    assert!(full.d.is_finished());
    let recorded = full.journal.clone();
    let final_status = full.statuses();
    assert!(
        final_status.values().any(|s| *s == TrialStatus::Pruned),
        "{final_status:?}"
    );
    let plan_ids: HashSet<TrialId> = sweep_spec::plan(&spec)
        .unwrap()
        .trials
        .into_iter()
        .map(|t| t.id)
        .collect();
    for cut in 0..=recorded.len() {
        let mut replay = Replay::default();
        for e in &recorded[..cut] {
            replay.apply(e.clone());
        }
        let done_before: HashSet<TrialId> = replay
            .trials
            .iter()
            .filter(|(_, r)| r.is_done())
            .map(|(id, _)| id.clone())
            .collect();
        let pruned_before: HashSet<TrialId> = replay
            .trials
            .iter()
            .filter(|(_, r)| r.stop.as_ref().is_some_and(|(s, _)| *s == TrialStatus::Pruned))
            .map(|(id, _)| id.clone())
            .collect();
        let mut h = Harness::new(&spec, local_caps(), "local", 2, replay, false).unwrap();
        drive(&mut h);
        assert!(h.d.is_finished(), "cut {cut}");
        let ids: HashSet<TrialId> = h.d.replay().trials.keys().cloned().collect();
        assert_eq!(ids, plan_ids, "cut {cut}: the same trials");
        for r in h.d.replay().trials.values() {
            assert!(r.is_done(), "cut {cut}: every trial done");
        }
        for a in &h.starts {
            assert!(
                !done_before.contains(&a.trial.id),
                "cut {cut}: {} ran again",
                a.trial.id
            );
            assert!(
                !pruned_before.contains(&a.trial.id),
                "cut {cut}: a journaled prune stands"
            );
        }
        for id in &pruned_before {
            assert_eq!(h.d.replay().trials[id].status, TrialStatus::Pruned, "cut {cut}");
        }
    }
}

/// ASHA keeps the values recorded at each rung. A sweep killed anywhere and
/// resumed must know them, as the uninterrupted sweep does: the curves of
/// tests/prune.rs, one trial at a time, grace 1, rf 2 (a cut needs 2 values
/// at the rung). Uninterrupted, C is cut at rung 1, D at rung 2 and F at
/// rung 4; a resumed sweep whose rungs started empty cut none of them when
/// A, B and C had finished before the crash.
#[test]
fn asha_resumed_from_any_cut_of_its_journal_prunes_as_if_never_stopped() {
    let spec = spec(
        "early_terminate: {type: asha, grace_period: 1, reduction_factor: 2, max_t: 8}\nresources: {cpus_per_trial: 0, max_concurrent: 1}\n",
        &xs(6),
    );
    const CURVES: [[f64; 4]; 6] = [
        [1.0, 0.8, 0.6, 0.4],
        [0.9, 0.7, 0.5, 0.3],
        [1.2, 1.1, 1.0, 0.9],
        [0.95, 0.85, 0.4, 0.2],
        [0.5, 0.4, 0.3, 0.1],
        [0.45, 0.35, 0.3, 0.9],
    ];
    let drive = |h: &mut Harness| {
        while let Some((id, attempt)) = h.live.first().cloned() {
            h.launched(&id, attempt);
            let x = h.d.replay().trials[&id].params["x"].as_i64().unwrap() as usize;
            let mut stopped = false;
            for (e, loss) in (1..).zip(CURVES[x]) {
                h.epoch(&id, attempt, e, loss);
                if h.stops.iter().any(|(t, a, _)| *t == id && *a == attempt) {
                    stopped = true;
                    break;
                }
            }
            let status = if stopped {
                TrialStatus::Interrupted
            } else {
                TrialStatus::Completed
            };
            h.end(&id, attempt, status);
        }
    };
    // x -> the epoch it was pruned at.
    let pruned = |h: &Harness| -> Vec<(i64, u32)> {
        let mut v: Vec<(i64, u32)> =
            h.d.replay()
                .trials
                .values()
                .filter(|r| r.status == TrialStatus::Pruned)
                .map(|r| (r.params["x"].as_i64().unwrap(), r.pruning.as_ref().unwrap().epoch))
                .collect();
        v.sort();
        v
    };
    let mut full = Harness::new(&spec, local_caps(), "local", 1, Replay::default(), false).unwrap();
    drive(&mut full);
    assert_eq!(pruned(&full), [(2, 1), (3, 2), (5, 4)]);
    let recorded = full.journal.clone();
    for cut in 0..=recorded.len() {
        let mut h = Harness::resumed(&spec, &recorded[..cut]);
        drive(&mut h);
        assert!(h.d.is_finished(), "cut {cut}");
        assert_eq!(pruned(&h), pruned(&full), "cut {cut} of {}", recorded.len());
    }
}

#[test]
fn a_changed_grid_is_refused_on_resume() {
    let spec_a = spec(
        "resources: {cpus_per_trial: 0, max_concurrent: 1}\n",
        "  x: {values: [1, 2]}\n",
    );
    let mut h = Harness::new(&spec_a, local_caps(), "local", 1, Replay::default(), false).unwrap();
    h.finish_oldest(1, TrialStatus::Completed);
    let mut replay = Replay::default();
    for e in h.journal.clone() {
        replay.apply(e);
    }
    let spec_b = spec(
        "resources: {cpus_per_trial: 0, max_concurrent: 1}\n",
        "  x: {values: [3, 2]}\n",
    );
    let err = Harness::new(&spec_b, local_caps(), "local", 1, replay, false)
        .err()
        .unwrap();
    assert!(err.to_string().contains("the spec changed"), "{err}");
}

/// TPE: a sweep cut off mid-trial and resumed from its journal makes the
/// same suggestions as one that ran through, given the same results in the
/// same order (one trial at a time).
#[test]
fn a_resumed_tpe_sweep_makes_the_same_suggestions() {
    let spec = tpe_spec();
    let drive = |h: &mut Harness, until: usize| drive_tpe(h, until, true);
    let params_of = |h: &Harness| -> Vec<String> {
        h.d.replay()
            .order
            .iter()
            .map(|id| serde_json::to_string(&h.d.replay().trials[id].params).unwrap())
            .collect()
    };
    let mut full = Harness::new(&spec, local_caps(), "local", 1, Replay::default(), false).unwrap();
    drive(&mut full, usize::MAX);
    assert!(full.d.is_finished());
    let want = params_of(&full);
    assert_eq!(want.len(), 16);
    // Later suggestions move toward x = 0.3, k = b.
    let x_of = |s: &String| {
        serde_json::from_str::<serde_json::Value>(s).unwrap()["x"]
            .as_f64()
            .unwrap()
    };
    let early: f64 = want[..4].iter().map(|s| (x_of(s) - 0.3).abs()).sum::<f64>() / 4.0;
    let late: f64 = want[12..].iter().map(|s| (x_of(s) - 0.3).abs()).sum::<f64>() / 4.0;
    assert!(late < early, "TPE learns: {late} vs {early}");
    // Cut: the 8th trial started, then the orchestrator died.
    let mut cut = Harness::new(&spec, local_caps(), "local", 1, Replay::default(), false).unwrap();
    drive(&mut cut, 7);
    let mut replay = Replay::default();
    for e in cut.journal.clone() {
        replay.apply(e);
    }
    let mut resumed = Harness::new(&spec, local_caps(), "local", 1, replay, false).unwrap();
    drive(&mut resumed, usize::MAX);
    assert!(resumed.d.is_finished());
    assert_eq!(params_of(&resumed), want);
}

/// A TPE sweep of 16 trials over x in [0, 1] and k in {a, b}, four of
/// them random first, one at a time.
fn tpe_spec() -> Spec {
    let text = "name: t\nmethod: tpe\nrun_cap: 16\nseed: 3\nmetric: {name: loss, goal: minimize}\n\
                tpe: {n_startup_trials: 4}\nresources: {cpus_per_trial: 0, max_concurrent: 1}\n\
                trainer: {command: [\"true\"]}\nparameters:\n  x: {min: 0.0, max: 1.0}\n  k: {values: [a, b]}\n";
    sweep_spec::parse(text, "t.yaml".as_ref()).unwrap()
}

/// Runs the live trials of a [`tpe_spec`] sweep to their end, oldest
/// first, until `until` have started: loss (x - 0.3)^2, plus 0.1 unless k is
/// b, reported as epoch 1 (`per_epoch`) or only at the end.
fn drive_tpe(h: &mut Harness, until: usize, per_epoch: bool) {
    while h.starts.len() <= until {
        let Some((id, attempt)) = h.live.first().cloned() else {
            break;
        };
        h.launched(&id, attempt);
        let p = &h.d.replay().trials[&id].params;
        let x = match &p["x"] {
            sweep_core::ParamValue::Float(x) => *x,
            other => panic!("{other:?}"),
        };
        let bonus = if p["k"].to_string() == "b" { 0.0 } else { 0.1 };
        let loss = (x - 0.3).powi(2) + bonus;
        if per_epoch {
            h.epoch(&id, attempt, 1, loss);
            h.end(&id, attempt, TrialStatus::Completed);
        } else {
            let metrics: EpochMetrics = [("loss".to_string(), loss)].into_iter().collect();
            h.end_with(&id, attempt, TrialStatus::Completed, metrics);
        }
    }
}

/// A trainer that reports its loss only at its end (`{"event": "done",
/// "loss": ...}`, as most `command:` scripts do) is learnt from as one that
/// reports it per epoch: TPE makes the same suggestions. (Before, such
/// trials had no value for TPE, and every trial was a random draw.)
#[test]
fn tpe_learns_from_trials_that_report_only_at_their_end() {
    let spec = tpe_spec();
    let params_of = |per_epoch: bool| -> Vec<sweep_core::Params> {
        let mut h = Harness::new(&spec, local_caps(), "local", 1, Replay::default(), false).unwrap();
        drive_tpe(&mut h, usize::MAX, per_epoch);
        assert!(h.d.is_finished());
        h.d.replay()
            .order
            .iter()
            .map(|id| h.d.replay().trials[id].params.clone())
            .collect()
    };
    let (at_end, per_epoch) = (params_of(false), params_of(true));
    assert_eq!(at_end.len(), 16);
    assert_eq!(at_end, per_epoch);
}

/// `metric.target`: once a trial's value reaches it, nothing new is created;
/// trials already running finish.
#[test]
fn reaching_the_metric_target_stops_creating_trials() {
    let mut spec = spec("resources: {cpus_per_trial: 0, max_concurrent: 2}\n", &xs(6));
    spec.metric_target = Some(0.25);
    // The value reported per epoch, or only at the trial's end.
    for at_end in [false, true] {
        let complete = |h: &mut Harness, id: &TrialId, loss: f64| {
            h.launched(id, 1);
            if at_end {
                let metrics: EpochMetrics = [("loss".to_string(), loss)].into_iter().collect();
                h.end_with(id, 1, TrialStatus::Completed, metrics);
            } else {
                h.epoch(id, 1, 1, loss);
                h.end(id, 1, TrialStatus::Completed);
            }
        };
        let mut h = Harness::new(&spec, local_caps(), "local", 2, Replay::default(), false).unwrap();
        let (a, b) = (h.starts[0].trial.id.clone(), h.starts[1].trial.id.clone());
        complete(&mut h, &a, 0.5);
        assert_eq!(h.starts.len(), 3, "0.5 misses the target: the next trial starts");
        complete(&mut h, &b, 0.2);
        assert_eq!(
            h.starts.len(),
            3,
            "0.2 reaches it (minimize): nothing new (at end: {at_end})"
        );
        assert!(!h.d.is_finished(), "the running trial finishes");
        let c = h.starts[2].trial.id.clone();
        h.end(&c, 1, TrialStatus::Completed);
        assert!(h.d.is_finished());
        assert_eq!(h.d.replay().order.len(), 3, "only three trials were created");
        // A resume keeps to it: nothing new either.
        let mut replay = Replay::default();
        for e in h.journal.clone() {
            replay.apply(e);
        }
        let h2 = Harness::new(&spec, local_caps(), "local", 2, replay, false).unwrap();
        assert!(h2.starts.is_empty(), "at end: {at_end}");
        assert!(h2.d.is_finished());
    }
}

/// `--count N`: a TPE sweep with no `run_cap` creates N trials, then ends;
/// run again with `--count`, it creates N more and continues the same
/// stream of suggestions.
#[test]
fn count_caps_the_new_trials_of_each_run() {
    let text = "name: t\nmethod: tpe\nseed: 5\nmetric: {name: loss, goal: minimize}\n\
                tpe: {n_startup_trials: 2}\nresources: {cpus_per_trial: 0, max_concurrent: 1}\n\
                trainer: {command: [\"true\"]}\nparameters:\n  x: {min: 0.0, max: 1.0}\n";
    let spec = sweep_spec::parse(text, "t.yaml".as_ref()).unwrap();
    assert_eq!(spec.run_cap, None);
    assert_eq!(sweep_spec::ending(&spec, None), None, "nothing ends it");
    let drive = |h: &mut Harness| {
        while let Some((id, attempt)) = h.live.first().cloned() {
            h.launched(&id, attempt);
            let x = match &h.d.replay().trials[&id].params["x"] {
                sweep_core::ParamValue::Float(x) => *x,
                other => panic!("{other:?}"),
            };
            h.epoch(&id, attempt, 1, (x - 0.7).powi(2));
            h.end(&id, attempt, TrialStatus::Completed);
        }
    };
    let mut first = Harness::counted(&spec, local_caps(), "local", 1, Replay::default(), false, Some(3)).unwrap();
    drive(&mut first);
    assert!(first.d.is_finished());
    assert_eq!(first.d.replay().order.len(), 3);
    let mut replay = Replay::default();
    for e in first.journal.clone() {
        replay.apply(e);
    }
    let mut second = Harness::counted(&spec, local_caps(), "local", 1, replay, false, Some(4)).unwrap();
    drive(&mut second);
    assert!(second.d.is_finished());
    assert_eq!(second.d.replay().order.len(), 7, "3 kept, 4 new");
    // The same seven as one run of --count 7.
    let mut once = Harness::counted(&spec, local_caps(), "local", 1, Replay::default(), false, Some(7)).unwrap();
    drive(&mut once);
    let params = |h: &Harness| -> Vec<String> {
        h.d.replay()
            .order
            .iter()
            .map(|id| serde_json::to_string(&h.d.replay().trials[id].params).unwrap())
            .collect()
    };
    assert_eq!(params(&second), params(&once));
}

/// A trial whose job hits its time limit continues in a new attempt at
/// once, from its last checkpoint: not counted against `retries`, counted
/// against `checkpoint.max_continuations`; epochs up to the checkpoint are
/// not judged again, and come from the earlier attempt when not re-reported.
#[test]
fn attempts_cut_by_a_time_limit_continue_from_their_checkpoint_up_to_the_cap() {
    let spec = spec(
        "checkpoint: {max_continuations: 2}\nresources: {cpus_per_trial: 0, max_concurrent: 1}\n",
        &xs(1),
    );
    let mut h = Harness::new(&spec, slurm_caps(), "slurm", 1, Replay::default(), false).unwrap();
    let id = h.starts[0].trial.id.clone();
    assert_eq!(h.starts[0].resume_epoch, None);
    h.launched(&id, 1);
    h.epoch(&id, 1, 1, 0.9);
    h.said(
        &id,
        1,
        TrialEvent::Checkpoint {
            epoch: 1,
            bytes: Some(4096),
            seconds: Some(0.01),
        },
    );
    h.epoch(&id, 1, 2, 0.8);
    h.end_to_continue(&id, 1, TrialStatus::TimedOut);
    // At once (no backoff timer), as attempt 2, told where to continue.
    assert_eq!(h.starts.len(), 2);
    assert_eq!((h.starts[1].attempt, h.starts[1].resume_epoch), (2, Some(1)));
    assert!(h.timers.iter().all(|(_, e)| !matches!(e, Event::RetryDue { .. })));
    let fin = h
        .journal
        .iter()
        .rev()
        .find_map(|e| match e {
            Entry::TrialFinished {
                status,
                retry,
                continued,
                error,
                ..
            } => Some((*status, *retry, *continued, error.clone().unwrap_or_default())),
            _ => None,
        })
        .unwrap();
    assert_eq!((fin.0, fin.1, fin.2), (TrialStatus::Interrupted, true, true));
    assert!(
        fin.3.contains("continues from its checkpoint after epoch 1 (1/2)"),
        "{}",
        fin.3
    );
    // Attempt 2 continues after epoch 1, reports epoch 2 again (trained
    // anew from the checkpoint) and goes on.
    h.launched(&id, 2);
    h.said(&id, 2, TrialEvent::Resumed { epoch: 1 });
    let r = &h.d.replay().trials[&id];
    assert_eq!(r.epochs.len(), 1, "epoch 1 from attempt 1: {:?}", r.epochs);
    h.epoch(&id, 2, 2, 0.8);
    h.epoch(&id, 2, 3, 0.7);
    h.said(
        &id,
        2,
        TrialEvent::Checkpoint {
            epoch: 3,
            bytes: Some(4096),
            seconds: Some(0.01),
        },
    );
    h.end_to_continue(&id, 2, TrialStatus::TimedOut);
    assert_eq!((h.starts[2].attempt, h.starts[2].resume_epoch), (3, Some(3)));
    h.launched(&id, 3);
    h.said(&id, 3, TrialEvent::Resumed { epoch: 3 });
    h.epoch(&id, 3, 4, 0.6);
    h.said(
        &id,
        3,
        TrialEvent::Checkpoint {
            epoch: 4,
            bytes: None,
            seconds: None,
        },
    );
    h.end_to_continue(&id, 3, TrialStatus::TimedOut);
    // The cap: two continuations; the third cut ends the trial as its
    // launcher said (timed out), with why.
    assert_eq!(h.starts.len(), 3);
    assert!(h.d.is_finished());
    let r = &h.d.replay().trials[&id];
    assert_eq!(r.status, TrialStatus::TimedOut);
    assert!(r.error.as_deref().unwrap().contains("checkpoint.max_continuations"));
    assert_eq!(r.continuations, 2);
    assert_eq!(r.failures, 1, "only the last cut counts as a failure");
    assert_eq!(r.resumed, vec![(2, 1), (3, 3)]);
    assert_eq!(r.checkpoint_writes, 3);
    let epochs: Vec<u32> = {
        let mut e: Vec<u32> = r.epochs.iter().map(|(e, _)| *e).collect();
        e.sort();
        e
    };
    assert_eq!(epochs, vec![1, 2, 3, 4], "the whole curve, over three attempts");
}

/// A time limit met again from the same place is not continued: an
/// attempt that saved no checkpoint ends as its launcher said.
#[test]
fn an_attempt_that_saved_no_checkpoint_is_not_continued_after_a_time_limit() {
    let spec = spec("resources: {cpus_per_trial: 0, max_concurrent: 1}\n", &xs(1));
    let mut h = Harness::new(&spec, slurm_caps(), "slurm", 1, Replay::default(), false).unwrap();
    let id = h.starts[0].trial.id.clone();
    h.launched(&id, 1);
    h.epoch(&id, 1, 1, 0.9);
    h.end_to_continue(&id, 1, TrialStatus::TimedOut);
    assert_eq!(h.starts.len(), 1, "no second attempt");
    assert!(h.d.is_finished());
    let r = &h.d.replay().trials[&id];
    assert_eq!(r.status, TrialStatus::TimedOut);
    assert_eq!(r.continuations, 0);
    assert!(
        r.error.as_deref().unwrap().contains("saved no checkpoint"),
        "{:?}",
        r.error
    );
}

/// A broken trainer: once `max_initial_failures` trials have ended in this
/// run and every one of them failed, nothing new starts; the trials already
/// running finish and keep their results (as W&B's agent gives up after its
/// first failed runs).
#[test]
fn the_first_trials_all_failing_stop_new_trials_and_running_ones_finish() {
    let spec = spec(
        "max_initial_failures: 3\nresources: {cpus_per_trial: 0, max_concurrent: 2}\n",
        &xs(10),
    );
    let mut h = Harness::new(&spec, local_caps(), "local", 2, Replay::default(), false).unwrap();
    for _ in 0..2 {
        h.finish_oldest(0, TrialStatus::Failed).unwrap();
    }
    assert_eq!(h.starts.len(), 4, "two failures: still starting trials");
    assert!(h.d.endings().gave_up.is_none());
    h.finish_oldest(0, TrialStatus::Failed).unwrap();
    let why = h.d.endings().gave_up.clone().expect("gave up after the third failure");
    assert!(why.contains("first 3 trials to end all failed"), "{why}");
    assert_eq!(h.starts.len(), 4, "nothing new after the third");
    assert_eq!(h.running_now(), 1, "the one running goes on");
    assert!(!h.d.is_finished());
    // It completes: its result is kept, and still nothing new starts.
    h.finish_oldest(1, TrialStatus::Completed).unwrap();
    assert!(h.d.is_finished());
    assert_eq!(h.starts.len(), 4);
    assert_eq!((h.d.endings().ended, h.d.endings().failed), (4, 3));
    let s = h.statuses();
    assert_eq!(s.values().filter(|&&v| v == TrialStatus::Failed).count(), 3);
    assert_eq!(s.values().filter(|&&v| v == TrialStatus::Completed).count(), 1);
    let first = h.starts[0].trial.id.clone();
    assert_eq!(h.d.endings().first_failure.as_ref().map(|(id, _)| id), Some(&first));
    assert!(matches!(
        h.journal.last(),
        Some(Entry::SweepStopped { interrupted: false, .. })
    ));
}

/// The check only looks at the start: one trial that did not fail among the
/// first ones, attempts still to be retried, or `max_initial_failures: 0`,
/// and every trial runs.
#[test]
fn failures_after_a_success_retries_and_a_zero_limit_never_stop_the_sweep() {
    let run = |extra: &str, first: TrialStatus| -> (usize, Option<String>) {
        let spec = spec(
            &format!("{extra}resources: {{cpus_per_trial: 0, max_concurrent: 1}}\n"),
            &xs(8),
        );
        let mut h = Harness::new(&spec, local_caps(), "local", 1, Replay::default(), false).unwrap();
        h.finish_oldest(1, first).unwrap();
        loop {
            // A retry's backoff is over at once.
            if let Some((_, due)) = h.timers.pop() {
                h.send(due);
            }
            if h.finish_oldest(0, TrialStatus::Failed).is_none() {
                break;
            }
        }
        assert!(h.d.is_finished());
        let created = h.d.replay().order.len();
        (created, h.d.endings().gave_up.clone())
    };
    // Diverged and timed out are results, not failures.
    assert_eq!(run("max_initial_failures: 2\n", TrialStatus::Diverged), (8, None));
    assert_eq!(run("max_initial_failures: 2\n", TrialStatus::TimedOut), (8, None));
    assert_eq!(run("max_initial_failures: 2\n", TrialStatus::Completed), (8, None));
    assert_eq!(run("max_initial_failures: 0\n", TrialStatus::Failed), (8, None));
    // Retried attempts are not endings: two trials, each failing twice.
    let (created, why) = run("max_initial_failures: 2\nretries: 1\n", TrialStatus::Failed);
    assert_eq!(created, 2, "the second trial's second failure stops it");
    assert!(why.is_some());
    // The default is W&B's 5.
    let (created, why) = run("", TrialStatus::Failed);
    assert_eq!((created, why.is_some()), (5, true));
}
