//! Random search: `run_cap` seeded draws (or draws until the sweep is
//! stopped), one ChaCha8 stream per parameter
//! keyed by its name (adding a parameter leaves the others' draws alone).

use super::{Observation, Proposal, Sampler};
use crate::distribution::Distribution;
use crate::plan::PlanError;
use crate::spec::Spec;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

/// Seeded draws from each parameter's distribution.
#[derive(Debug, Clone)]
pub struct RandomSampler {
    params: Vec<(String, Distribution)>,
    streams: Vec<ChaCha8Rng>,
    /// `run_cap`, or the number of distinct points; none: no end.
    cap: Option<u64>,
}

impl RandomSampler {
    /// The random search of `spec`, or why it cannot give `run_cap` trials.
    pub fn new(spec: &Spec) -> Result<RandomSampler, PlanError> {
        // A space with fewer distinct points than run_cap cannot give
        // run_cap distinct trials; without a run_cap, a finite space ends
        // once each point is drawn.
        let distinct = crate::plan::distinct_points(spec);
        let cap = match (spec.run_cap, distinct) {
            (Some(cap), Some(d)) if d < u128::from(cap) => {
                return Err(PlanError {
                    path: "run_cap",
                    message: format!("run_cap is {cap} but these parameters have only {d} distinct combinations"),
                    help: format!("lower run_cap to at most {d}, or use `method: grid` to run each combination once"),
                });
            }
            (Some(cap), _) => Some(cap),
            (None, Some(d)) => Some(u64::try_from(d).unwrap_or(u64::MAX)),
            (None, None) => None,
        };
        Ok(RandomSampler {
            params: spec
                .parameters
                .iter()
                .map(|p| (p.name.clone(), p.distribution.clone()))
                .collect(),
            streams: spec
                .parameters
                .iter()
                .map(|p| ChaCha8Rng::seed_from_u64(stream_seed(spec.seed, &p.name)))
                .collect(),
            cap,
        })
    }
}

impl Sampler for RandomSampler {
    fn ask(&mut self, number: u64, _history: &[Observation]) -> Proposal {
        if self.cap.is_some_and(|cap| number >= cap) {
            return Proposal::Done;
        }
        Proposal::Params(
            self.params
                .iter()
                .zip(self.streams.iter_mut())
                .map(|((name, dist), rng)| (name.clone(), dist.sample(rng)))
                .collect(),
        )
    }

    fn fixed(&self) -> bool {
        true
    }

    fn total(&self) -> Option<u64> {
        self.cap
    }
}

/// The seed of one parameter's random stream.
pub(crate) fn stream_seed(seed: u64, name: &str) -> u64 {
    let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
