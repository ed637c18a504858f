//! Expanding a spec into its trials: the grid and random samplers. TPE
//! creates its trials as the sweep runs (see [`crate::sampler::tpe`]).

use crate::distribution::Distribution;
use crate::spec::{Method, Spec, Trainer};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use std::collections::HashSet;
use sweep_core::{ParamValue, Params, TrialId, builtin};

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

/// Expands a validated spec into its trials.
pub fn plan(spec: &Spec) -> Result<Plan, PlanError> {
    // For the built-in trainer, values take their canonical form (an integer
    // learning rate becomes a float), so equal settings get equal ids.
    let canon: Vec<Option<&builtin::ParamDef>> = spec
        .parameters
        .iter()
        .map(|p| match spec.trainer {
            Trainer::Builtin { .. } => builtin::param(&p.name),
            Trainer::Command { .. } => None,
        })
        .collect();
    let canonical = |i: usize, v: ParamValue| match canon[i] {
        Some(def) => def.check(&v).unwrap_or(v),
        None => v,
    };
    match spec.method {
        Method::Grid => grid(spec, canonical),
        Method::Random => random(spec, canonical),
        Method::Tpe { .. } => Err(PlanError {
            path: "method",
            message: format!(
                "method: {} creates each trial as the sweep runs, from the results so far: there is no plan ahead",
                spec.method.as_str()
            ),
            help: "`sweep run` creates the trials; `method: random` plans every trial ahead".into(),
        }),
    }
}

fn make_trial(spec: &Spec, ordinal: usize, params: Params) -> Trial {
    let seed = match params.get("seed") {
        Some(ParamValue::Int(s)) if *s >= 0 => *s as u64,
        _ => spec.seed,
    };
    Trial {
        id: TrialId::derive(&params, seed),
        ordinal,
        params,
        seed,
    }
}

fn grid(spec: &Spec, canonical: impl Fn(usize, ParamValue) -> ParamValue) -> Result<Plan, PlanError> {
    let dists: Vec<&Distribution> = spec.parameters.iter().map(|p| &p.distribution).collect();
    let radices: Vec<u64> = dists
        .iter()
        .map(|d| d.grid_len().expect("validated: discrete"))
        .collect();
    let total = radices
        .iter()
        .try_fold(1u128, |acc, &r| acc.checked_mul(u128::from(r)))
        .unwrap_or(u128::MAX);
    let count = match spec.run_cap {
        Some(cap) => total.min(u128::from(cap)),
        None if total > GRID_LIMIT => {
            return Err(PlanError {
                path: "parameters",
                message: format!("the grid has {total} combinations, more than the {GRID_LIMIT} a grid may expand to"),
                help: "set `run_cap` to take the first N, or use `method: random`".into(),
            });
        }
        None => total,
    } as usize;
    let mut trials = Vec::with_capacity(count);
    let mut digits = vec![0u64; dists.len()];
    for ordinal in 0..count {
        let params: Params = spec
            .parameters
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), canonical(i, dists[i].grid_value(digits[i]))))
            .collect();
        trials.push(make_trial(spec, ordinal, params));
        // Next combination: the last parameter varies fastest.
        for i in (0..digits.len()).rev() {
            digits[i] += 1;
            if digits[i] < radices[i] {
                break;
            }
            digits[i] = 0;
        }
    }
    Ok(Plan {
        trials,
        grid_size: Some(total),
    })
}

fn random(spec: &Spec, canonical: impl Fn(usize, ParamValue) -> ParamValue) -> Result<Plan, PlanError> {
    let cap = spec.run_cap.expect("validated: random has a run_cap");
    // A space with fewer distinct points than run_cap cannot give run_cap
    // distinct trials.
    let distinct = spec
        .parameters
        .iter()
        .map(|p| p.distribution.finite_len())
        .try_fold(1u128, |acc, n| n.and_then(|n| acc.checked_mul(u128::from(n))));
    if let Some(d) = distinct
        && d < u128::from(cap)
    {
        return Err(PlanError {
            path: "run_cap",
            message: format!("run_cap is {cap} but these parameters have only {d} distinct combinations"),
            help: format!("lower run_cap to at most {d}, or use `method: grid` to run each combination once"),
        });
    }
    // One stream per parameter, keyed by its name: adding a parameter to a
    // spec leaves the values the others draw unchanged.
    let mut streams: Vec<ChaCha8Rng> = spec
        .parameters
        .iter()
        .map(|p| ChaCha8Rng::seed_from_u64(stream_seed(spec.seed, &p.name)))
        .collect();
    let mut trials = Vec::with_capacity(cap as usize);
    let mut seen = HashSet::with_capacity(cap as usize);
    let mut repeats_in_a_row = 0u32;
    while trials.len() < cap as usize {
        let params: Params = spec
            .parameters
            .iter()
            .zip(streams.iter_mut())
            .enumerate()
            .map(|(i, (p, rng))| (p.name.clone(), canonical(i, p.distribution.sample(rng))))
            .collect();
        let trial = make_trial(spec, trials.len(), params);
        if seen.insert(trial.id.clone()) {
            trials.push(trial);
            repeats_in_a_row = 0;
        } else {
            repeats_in_a_row += 1;
            if repeats_in_a_row > 100_000 {
                return Err(PlanError {
                    path: "run_cap",
                    message: format!(
                        "only {} distinct trials found after 100000 repeated draws",
                        trials.len()
                    ),
                    help: "widen the parameters' ranges or lower run_cap".into(),
                });
            }
        }
    }
    Ok(Plan {
        trials,
        grid_size: None,
    })
}

/// The seed of one parameter's random stream.
fn stream_seed(seed: u64, name: &str) -> u64 {
    let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
