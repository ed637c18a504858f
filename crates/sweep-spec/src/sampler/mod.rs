//! Samplers: where a sweep's trials come from, one at a time.
//!
//! A [`Sampler`] answers "next trial?" ([`Sampler::ask`]) given what the
//! sweep knows so far ([`Observation`]s of every trial created), the ask/tell
//! interface of Optuna's `BaseSampler`. Grid and random search ignore the
//! history; TPE learns from it. [`Trials`] wraps a sampler and gives each
//! trial its ordinal, training seed and an id that is unique within the sweep.
//!
//! ```
//! use sweep_spec::{parse, sampler::{Ask, Trials}};
//! let spec = parse(
//!     "method: grid\nparameters:\n  lr: {values: [1e-3, 1e-2]}\n",
//!     "example.yaml".as_ref(),
//! ).unwrap();
//! let mut trials = Trials::new(&spec).unwrap();
//! let Ask::Trial(first) = trials.next(&[]) else { panic!() };
//! assert_eq!(first.ordinal, 0);
//! assert!(matches!(trials.next(&[]), Ask::Trial(_)));
//! assert!(matches!(trials.next(&[]), Ask::Done));
//! ```

mod grid;
mod random;
pub mod tpe;

pub use grid::GridSampler;
pub use random::RandomSampler;
pub use tpe::{TpeSampler, TpeSettings};

use crate::distribution::Distribution;
use crate::plan::{PlanError, Trial};
use crate::spec::{Method, Spec, Trainer};
use std::collections::HashMap;
use sweep_core::{ParamValue, Params, TrialId, builtin};

/// How a created trial stands, as a sampler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObsState {
    /// Trained to the end.
    Complete,
    /// Stopped early by the pruner.
    Pruned,
    /// Created and not finished (queued, running, waiting for a retry).
    Running,
    /// Failed, timed out, diverged or interrupted: no usable value.
    Failed,
}

/// One trial created so far, with what is known of its result.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Its parameters.
    pub params: Params,
    /// Where it stands.
    pub state: ObsState,
    /// Its value of the sweep's metric (the best epoch's), when finished.
    pub value: Option<f64>,
    /// The metric at each epoch reported, in order.
    pub intermediate: Vec<f64>,
}

/// A sampler's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Ask {
    /// Create this trial.
    Trial(Trial),
    /// Nothing now: ask again when a trial finishes.
    Wait,
    /// The sampler has no more trials.
    Done,
    /// The sampler cannot go on (random search found no new distinct trial).
    Failed(PlanError),
}

/// What a sampler proposes: parameters, or why it has none.
#[derive(Debug, Clone, PartialEq)]
pub enum Proposal {
    /// These parameters.
    Params(Params),
    /// Nothing now: ask again when a trial finishes.
    Wait,
    /// No more.
    Done,
    /// Cannot go on.
    Failed(PlanError),
}

/// A source of trials' parameters.
pub trait Sampler: Send {
    /// The parameters of the next trial (the `number`-th, from 0), given
    /// every trial created so far.
    fn ask(&mut self, number: u64, history: &[Observation]) -> Proposal;

    /// True when answers do not depend on results (grid, random): the
    /// upcoming trials can be listed before they are created.
    fn fixed(&self) -> bool;

    /// How many trials there are in all, when known in advance.
    fn total(&self) -> Option<u64> {
        None
    }

    /// `params` were rejected as a repeat of an earlier trial; the next
    /// `ask` should differ.
    fn repeated(&mut self) {}
}

/// A sampler with the bookkeeping every sampler needs: ordinals, seeds and
/// ids unique within the sweep.
pub struct Trials {
    sampler: Box<dyn Sampler>,
    seed: u64,
    /// Created so far.
    created: u64,
    /// No trial is created once `created` reaches this (`--count`).
    limit: u64,
    /// Ids handed out, with a fingerprint of the parameters and seed they
    /// stand for (a second hash): two different trials that share an id are
    /// told apart, and the later one gets a salted id.
    ids: HashMap<TrialId, u64>,
    canon: Vec<(String, Option<&'static builtin::ParamDef>)>,
}

impl std::fmt::Debug for Trials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trials").field("created", &self.created).finish()
    }
}

/// The built-in trainer's definition of each parameter (none for other
/// trainers): for the built-in trainer, values take their canonical form (an
/// integer learning rate becomes a float, `hidden: 32` becomes `[32]`), so
/// equal settings get equal ids.
fn canon_defs(spec: &Spec) -> Vec<(String, Option<&'static builtin::ParamDef>)> {
    spec.parameters
        .iter()
        .map(|p| {
            let def = match spec.trainer {
                Trainer::Builtin { .. } => builtin::param(&p.name),
                Trainer::Command { .. } | Trainer::Wandb { .. } => None,
            };
            (p.name.clone(), def)
        })
        .collect()
}

/// `spec` with each listed value (a choice or a constant) of a built-in
/// trainer's parameter in its canonical form, as [`Trials::next`] gives it to
/// trials: what a sampler proposes is then what it sees of the trial in the
/// history. (TPE, given `hidden: {values: [32, 64]}` and trials holding
/// `[32]`, found no choice for them, modelled no trial, and drew every
/// suggestion from its prior.)
fn canonical_values(spec: &Spec, canon: &[(String, Option<&'static builtin::ParamDef>)]) -> Spec {
    let mut spec = spec.clone();
    for (p, (_, def)) in spec.parameters.iter_mut().zip(canon) {
        let Some(def) = def else { continue };
        let fix = |v: &mut ParamValue| {
            if let Ok(c) = def.check(v) {
                *v = c;
            }
        };
        match &mut p.distribution {
            Distribution::Categorical { values, .. } => values.iter_mut().for_each(fix),
            Distribution::Constant(v) => fix(v),
            _ => {}
        }
    }
    spec
}

/// The sampler a spec asks for.
pub fn sampler_for(spec: &Spec) -> Result<Box<dyn Sampler>, PlanError> {
    match spec.method {
        Method::Grid => Ok(Box::new(GridSampler::new(spec)?)),
        Method::Random => Ok(Box::new(RandomSampler::new(spec)?)),
        Method::Tpe { .. } => Ok(Box::new(TpeSampler::new(spec))),
    }
}

impl Trials {
    /// The trials of `spec`, from its own sampler, which is given the
    /// values in their canonical form ([`canonical_values`]).
    pub fn new(spec: &Spec) -> Result<Trials, PlanError> {
        let canon = canon_defs(spec);
        let sampler = sampler_for(&canonical_values(spec, &canon))?;
        Ok(Trials::with_sampler(spec, sampler))
    }

    /// The trials `sampler` proposes for `spec`.
    pub fn with_sampler(spec: &Spec, sampler: Box<dyn Sampler>) -> Trials {
        let canon = canon_defs(spec);
        Trials {
            sampler,
            seed: spec.seed,
            created: 0,
            limit: u64::MAX,
            ids: HashMap::new(),
            canon,
        }
    }

    /// Whether the upcoming trials can be listed before they are created.
    pub fn fixed(&self) -> bool {
        self.sampler.fixed()
    }

    /// How many trials in all, when known.
    pub fn total(&self) -> Option<u64> {
        match self.sampler.total() {
            Some(t) => Some(t.min(self.limit)),
            None => (self.limit < u64::MAX).then_some(self.limit),
        }
    }

    /// From now on, at most `count` more trials are created (`sweep run
    /// --count N`, as `wandb agent --count`): trials read back from the
    /// journal before this call do not count.
    pub fn limit_new(&mut self, count: u64) {
        self.limit = self.created.saturating_add(count);
    }

    /// Trials handed out so far.
    pub fn created(&self) -> u64 {
        self.created
    }

    /// The next trial, given every trial created so far.
    pub fn next(&mut self, history: &[Observation]) -> Ask {
        let mut repeats = 0u32;
        if self.created >= self.limit {
            return Ask::Done;
        }
        loop {
            let params = match self.sampler.ask(self.created, history) {
                Proposal::Params(p) => p,
                Proposal::Wait => return Ask::Wait,
                Proposal::Done => return Ask::Done,
                Proposal::Failed(e) => return Ask::Failed(e),
            };
            let params: Params = params
                .into_iter()
                .map(|(k, v)| {
                    let def = self.canon.iter().find(|(n, _)| *n == k).and_then(|(_, d)| *d);
                    let v = match def {
                        Some(def) => def.check(&v).unwrap_or(v),
                        None => v,
                    };
                    (k, v)
                })
                .collect();
            let seed = match params.get("seed") {
                Some(ParamValue::Int(s)) if *s >= 0 => *s as u64,
                _ => self.seed,
            };
            match assign_id(&mut self.ids, &params, seed) {
                Some(id) => {
                    let trial = Trial {
                        id,
                        ordinal: self.created as usize,
                        params,
                        seed,
                    };
                    self.created += 1;
                    return Ask::Trial(trial);
                }
                // The same trial again: the sampler draws anew.
                None => {
                    self.sampler.repeated();
                    repeats += 1;
                    if repeats > 100_000 {
                        return Ask::Failed(PlanError {
                            path: "run_cap",
                            message: format!(
                                "only {} distinct trials found after 100000 repeated draws",
                                self.created
                            ),
                            help: "widen the parameters' ranges or lower run_cap".into(),
                        });
                    }
                }
            }
        }
    }

    /// Notes a trial created by an earlier run (read back from the journal),
    /// so ids stay unique. Returns false if the sampler, asked again, does
    /// not propose the same parameters (only checked for fixed samplers).
    pub fn replay(&mut self, trial: &Trial) -> bool {
        if self.sampler.fixed() {
            return match self.next(&[]) {
                Ask::Trial(t) => t == *trial,
                _ => false,
            };
        }
        self.ids
            .insert(trial.id.clone(), fingerprint(&trial.params, trial.seed));
        self.created += 1;
        true
    }
}

/// A second, independent hash of a trial's parameters and seed.
fn fingerprint(params: &Params, seed: u64) -> u64 {
    let canonical = serde_json::to_string(params).expect("params serialize to JSON");
    let mut h: u64 = 0x84222325cbf29ce4;
    for b in canonical.bytes().chain(seed.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(5);
    }
    h
}

/// The id of a new trial: its derived id, or, when a different trial
/// already holds that id, the first free salted one. `None` when the very
/// same trial (parameters and seed) exists already.
pub fn assign_id(ids: &mut HashMap<TrialId, u64>, params: &Params, seed: u64) -> Option<TrialId> {
    let print = fingerprint(params, seed);
    let mut salt = 0u32;
    loop {
        let id = if salt == 0 {
            TrialId::derive(params, seed)
        } else {
            TrialId::derive_salted(params, seed, salt)
        };
        match ids.get(&id) {
            None => {
                ids.insert(id.clone(), print);
                return Some(id);
            }
            Some(&p) if p == print => return None,
            Some(_) => salt += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TPE over the built-in trainer's `hidden` (canonical form `[64]` for
    /// a listed 64) learns which choice is better.
    #[test]
    fn tpe_learns_a_builtin_choice_whose_values_are_canonicalised() {
        let spec = crate::parse(
            "method: tpe\nrun_cap: 40\nseed: 1\nmetric: {name: val_loss, goal: minimize}\n\
             parameters:\n  hidden: {values: [32, 64]}\n  dropout: {min: 0.0, max: 0.5}\n",
            "t.yaml".as_ref(),
        )
        .unwrap();
        let mut trials = Trials::new(&spec).unwrap();
        let mut history: Vec<Observation> = Vec::new();
        let mut late_64 = 0;
        for number in 0..40 {
            let Ask::Trial(t) = trials.next(&history) else {
                panic!("trial {number}")
            };
            let wide = t.params["hidden"] == ParamValue::List(vec![ParamValue::Int(64)]);
            let dropout = t.params["dropout"].as_f64().unwrap();
            late_64 += usize::from(number >= 20 && wide);
            history.push(Observation {
                params: t.params,
                state: ObsState::Complete,
                value: Some(if wide { 0.0 } else { 1.0 } + dropout),
                intermediate: Vec::new(),
            });
        }
        // Random draws would pick [64] about 10 times of the last 20.
        assert!(late_64 >= 16, "{late_64} of the last 20 trials have hidden [64]");
    }

    #[test]
    fn a_forced_collision_gets_a_salted_id_and_repeats_are_refused() {
        let mut a = Params::new();
        a.insert("x".into(), ParamValue::Int(1));
        let mut b = Params::new();
        b.insert("x".into(), ParamValue::Int(2));
        let mut ids = HashMap::new();
        // Force the collision: b's derived id is already held by another trial.
        let b_id = TrialId::derive(&b, 0);
        ids.insert(b_id.clone(), fingerprint(&a, 0));
        let got = assign_id(&mut ids, &b, 0).unwrap();
        assert_ne!(got, b_id, "a different trial never shares an id");
        assert_eq!(got, TrialId::derive_salted(&b, 0, 1));
        assert_eq!(got.as_str().len(), 12);
        // The same trial again is a repeat, not a new id.
        assert_eq!(assign_id(&mut ids, &b, 0), None);
        // Deterministic: the same history gives the same ids.
        let mut again = HashMap::new();
        again.insert(b_id, fingerprint(&a, 0));
        assert_eq!(assign_id(&mut again, &b, 0), Some(got));
    }
}
