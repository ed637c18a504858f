//! Grid search: every combination of the parameters' values, the last
//! parameter varying fastest, computed one at a time (a grid of millions is
//! never held in memory).

use super::{Observation, Proposal, Sampler};
use crate::distribution::Distribution;
use crate::plan::{GRID_LIMIT, PlanError};
use crate::spec::Spec;
use sweep_core::Params;

/// The cartesian product of the parameters' values, in order; `run_cap`
/// keeps the first N.
#[derive(Debug, Clone)]
pub struct GridSampler {
    params: Vec<(String, Distribution)>,
    radices: Vec<u64>,
    /// Combinations in all, before `run_cap`.
    size: u128,
    /// Combinations handed out (after `run_cap`).
    count: u64,
    next: u64,
}

impl GridSampler {
    /// The grid of `spec`, or why it is too large.
    pub fn new(spec: &Spec) -> Result<GridSampler, PlanError> {
        let params: Vec<(String, Distribution)> = spec
            .parameters
            .iter()
            .map(|p| (p.name.clone(), p.distribution.clone()))
            .collect();
        let radices: Vec<u64> = params
            .iter()
            .map(|(_, d)| d.grid_len().expect("validated: discrete"))
            .collect();
        let size = radices
            .iter()
            .try_fold(1u128, |acc, &r| acc.checked_mul(u128::from(r)))
            .unwrap_or(u128::MAX);
        let count = match spec.run_cap {
            Some(cap) => size.min(u128::from(cap)),
            None if size > GRID_LIMIT => {
                return Err(PlanError {
                    path: "parameters",
                    message: format!(
                        "the grid has {size} combinations, more than the {GRID_LIMIT} a grid may expand to"
                    ),
                    help: "set `run_cap` to take the first N, or use `method: random`".into(),
                });
            }
            None => size,
        } as u64;
        Ok(GridSampler {
            params,
            radices,
            size,
            count,
            next: 0,
        })
    }

    /// Combinations in all, before any `run_cap`.
    pub fn size(&self) -> u128 {
        self.size
    }

    /// The `i`-th combination.
    fn combination(&self, mut i: u64) -> Params {
        let mut digits = vec![0u64; self.radices.len()];
        for (d, &r) in digits.iter_mut().zip(&self.radices).rev() {
            *d = i % r;
            i /= r;
        }
        self.params
            .iter()
            .zip(digits)
            .map(|((name, dist), d)| (name.clone(), dist.grid_value(d)))
            .collect()
    }
}

impl Sampler for GridSampler {
    fn ask(&mut self, _number: u64, _history: &[Observation]) -> Proposal {
        if self.next >= self.count {
            return Proposal::Done;
        }
        let params = self.combination(self.next);
        self.next += 1;
        Proposal::Params(params)
    }

    fn fixed(&self) -> bool {
        true
    }

    fn total(&self) -> Option<u64> {
        Some(self.count)
    }

    fn repeated(&mut self) {}
}
