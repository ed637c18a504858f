//! A launcher that runs no process: each attempt follows a script (epochs
//! with their metrics, then an ending), in tokio time. Tests drive the whole
//! run loop with it; it proves the trait is all a launcher needs.

use super::{Cancel, Caps, JobPlan, Launcher};
use crate::dispatcher::{Attempt, Event, Outcome};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sweep_core::{EpochMetrics, TrialEvent, TrialId, TrialStatus};
use sweep_results::Handle;
use sweep_spec::Trial;
use tokio::sync::{mpsc, watch};

/// What one fake attempt does.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The metrics of each epoch, reported one per `step`.
    pub epochs: Vec<EpochMetrics>,
    /// How it ends after its last epoch.
    pub status: TrialStatus,
    /// Time per epoch.
    pub step: Duration,
}

/// The scripts of a fake sweep: (trial, attempt) -> what it does.
pub type Scripts = Arc<dyn Fn(&Trial, u32) -> Script + Send + Sync>;

/// Attempts run as scripts; every start and stop is recorded.
pub struct FakeLauncher {
    scripts: Scripts,
    caps: Caps,
    next_id: u64,
    cancels: HashMap<(TrialId, u32), watch::Sender<Cancel>>,
    /// Every (trial, attempt) started, in order.
    pub started: Arc<Mutex<Vec<(TrialId, u32)>>>,
    /// Every stop asked: (trial, attempt, kill).
    pub stops: Arc<Mutex<Vec<(TrialId, u32, bool)>>>,
}

impl std::fmt::Debug for FakeLauncher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeLauncher").field("next_id", &self.next_id).finish()
    }
}

impl FakeLauncher {
    /// A fake launcher running `scripts`.
    pub fn new(scripts: Scripts) -> FakeLauncher {
        FakeLauncher {
            scripts,
            caps: Caps {
                detach: false,
                enforces_timeout: false,
                reattach: false,
                local_gpus: true,
            },
            next_id: 0,
            cancels: HashMap::new(),
            started: Arc::default(),
            stops: Arc::default(),
        }
    }
}

impl Launcher for FakeLauncher {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn caps(&self) -> Caps {
        self.caps
    }

    fn start(&mut self, _plan: JobPlan, attempt: Attempt, events: mpsc::UnboundedSender<Event>) {
        let script = (self.scripts)(&attempt.trial, attempt.attempt);
        let (tx, mut rx) = watch::channel(Cancel::Run);
        let (trial, n) = (attempt.trial.id.clone(), attempt.attempt);
        self.cancels.insert((trial.clone(), n), tx);
        self.started.lock().expect("fake").push((trial.clone(), n));
        self.next_id += 1;
        let handle = Handle {
            launcher: "fake".into(),
            id: self.next_id.to_string(),
        };
        tokio::spawn(async move {
            let _ = events.send(Event::Launched {
                trial: trial.clone(),
                attempt: n,
                handle,
            });
            let ended = |status| Event::Ended {
                trial: trial.clone(),
                attempt: n,
                outcome: Outcome {
                    status,
                    metrics: EpochMetrics::new(),
                    error: None,
                    seconds: 0.0,
                    continue_because: None,
                },
            };
            for (i, metrics) in script.epochs.into_iter().enumerate() {
                tokio::select! {
                    _ = tokio::time::sleep(script.step) => {}
                    _ = rx.changed() => {
                        let _ = events.send(ended(TrialStatus::Interrupted));
                        return;
                    }
                }
                let _ = events.send(Event::Protocol {
                    trial: trial.clone(),
                    attempt: n,
                    event: TrialEvent::Epoch {
                        epoch: i as u32 + 1,
                        metrics,
                    },
                });
            }
            let _ = events.send(ended(script.status));
        });
    }

    fn stop(&mut self, trial: &TrialId, attempt: u32, kill: bool) {
        self.stops.lock().expect("fake").push((trial.clone(), attempt, kill));
        if let Some(tx) = self.cancels.get(&(trial.clone(), attempt)) {
            let _ = tx.send(if kill { Cancel::Kill } else { Cancel::Graceful });
        }
    }
}
