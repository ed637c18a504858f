//! A spec's trials listed in full (`sweep plan`), and what a trial is.

use crate::sampler::{Ask, GridSampler, Trials};
use crate::spec::{Method, Spec};
use sweep_core::{Params, TrialId};

/// A grid larger than this needs a `run_cap` (or random search).
pub const GRID_LIMIT: u128 = 10_000_000;

/// One planned trial.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// Stable id from the parameters and seed.
    pub id: TrialId,
    /// Position in the plan, from 0.
    pub ordinal: usize,
    /// The swept parameters' values.
    pub params: Params,
    /// The training seed.
    pub seed: u64,
}

/// The trials a spec expands into.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The trials, in order.
    pub trials: Vec<Trial>,
    /// Grid: the number of combinations before any `run_cap`.
    pub grid_size: Option<u128>,
}

/// Why a valid spec still cannot be planned.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanError {
    /// The key path the problem is about.
    pub path: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl Plan {
    /// Total epochs over all trials, when the trainer's epochs are known.
    pub fn epoch_budget(&self, spec: &Spec) -> Option<u64> {
        self.trials.iter().map(|t| spec.epochs_of(&t.params)).sum()
    }

    /// The trial with this id or ordinal (written as a number).
    pub fn find(&self, key: &str) -> Option<&Trial> {
        match key.parse::<usize>() {
            Ok(n) if key.len() < 12 => self.trials.get(n),
            _ => self.trials.iter().find(|t| t.id.as_str() == key),
        }
    }
}

/// Expands a validated spec into all its trials (grid and random search,
/// whose trials do not depend on results): the same [`Trials`] stream
/// `sweep run` creates them from, one at a time.
pub fn plan(spec: &Spec) -> Result<Plan, PlanError> {
    let grid_size = match spec.method {
        Method::Grid => Some(GridSampler::new(spec)?.size()),
        Method::Random if spec.run_cap.is_none() && distinct_points(spec).is_none_or(|d| d > GRID_LIMIT) => {
            return Err(PlanError {
                path: "run_cap",
                message:
                    "method: random without run_cap draws trials until the sweep is stopped: there is no full list"
                        .into(),
                help: "`sweep plan` shows the first draws; add `run_cap: N` to list every trial".into(),
            });
        }
        Method::Random => None,
        Method::Tpe { .. } => {
            return Err(PlanError {
                path: "method",
                message: format!(
                    "method: {} creates each trial as the sweep runs, from the results so far: there is no plan ahead",
                    spec.method.as_str()
                ),
                help: "`sweep run` creates the trials; `method: random` plans every trial ahead".into(),
            });
        }
    };
    let mut trials = Trials::new(spec)?;
    let mut out = Vec::with_capacity(trials.total().unwrap_or(0) as usize);
    loop {
        match trials.next(&[]) {
            Ask::Trial(t) => out.push(t),
            Ask::Done => break,
            Ask::Failed(e) => return Err(e),
            Ask::Wait => unreachable!("grid and random search never wait"),
        }
    }
    Ok(Plan { trials: out, grid_size })
}

/// The number of distinct parameter combinations, when finite.
pub fn distinct_points(spec: &Spec) -> Option<u128> {
    spec.parameters
        .iter()
        .map(|p| p.distribution.finite_len())
        .try_fold(1u128, |acc, n| n.and_then(|n| acc.checked_mul(u128::from(n))))
}

/// How a sweep of `spec` stops creating trials, for a person (`after
/// run_cap = 40 trials, or once a trial's val_loss reaches 0.1`), with
/// `count` the `--count` of `sweep run`; `None` when nothing stops it but
/// Ctrl-C (random or TPE search with no `run_cap`, no `metric.target`, no
/// `--count`).
pub fn ending(spec: &Spec, count: Option<u64>) -> Option<String> {
    let mut limits = Vec::new();
    match spec.method {
        Method::Grid => limits.push(match spec.run_cap {
            Some(cap) => format!("after the first run_cap = {cap} grid combinations"),
            None => "after every grid combination".to_string(),
        }),
        Method::Random | Method::Tpe { .. } => match (spec.run_cap, distinct_points(spec)) {
            (Some(cap), _) => limits.push(format!("after run_cap = {cap} trials")),
            (None, Some(d)) if d <= GRID_LIMIT && spec.method == Method::Random => {
                limits.push(format!("after all {d} distinct combinations are drawn"));
            }
            _ => {}
        },
    }
    if let Some(n) = count {
        limits.push(format!("after --count {n} new trials"));
    }
    if let Some(t) = spec.metric_target {
        limits.push(format!(
            "once a trial's {} reaches {} (metric.target)",
            spec.metric.name,
            sweep_core::format_float(t)
        ));
    }
    match limits.len() {
        0 => None,
        1 => Some(limits.remove(0)),
        _ => {
            let last = limits.pop().unwrap_or_default();
            Some(format!("{}, or {last}, whichever comes first", limits.join(", ")))
        }
    }
}
