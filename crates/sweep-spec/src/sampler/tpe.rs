//! The Tree-structured Parzen Estimator (TPE): Optuna 5's `TPESampler`,
//! ported as a pure function of the trials so far.
//!
//! [`suggest`] gives the parameters of one new trial. The first
//! `n_startup_trials` (counted in created trials: running or finished) are
//! random draws; after that the finished trials are split into the best few
//! ("below", `gamma(n) = min(ceil(n / 10), 25)` of them) and the rest
//! ("above", with the running ones: the constant liar), a Parzen estimator
//! `l(x)` is fitted to the first and `g(x)` to the second, `n_ei_candidates`
//! points are drawn from `l`, and the one with the largest `l(x) / g(x)` wins.
//!
//! As in Optuna 5: the kernels of all parameters are joint (multivariate),
//! pruned trials rank below every completed one, among themselves by how far
//! they got and then by their last value, and failed trials are ignored.
//!
//! One departure from Optuna: the floor of the bandwidths in `l(x)` is half
//! Optuna's magic clip ([`BELOW_CLIP`]), which finds better values sooner on
//! all three objectives of `scripts/bench-search`, one trial at a time and
//! with eight in flight.
//!
//! Three more departures, all for trials that run in parallel: the startup
//! counts running trials, so eight workers draw 10 random trials rather
//! than about 17 (Optuna counts finished ones); the constant liar puts
//! running trials into `g(x)` with a tenth of a finished trial's weight
//! ([`LIAR_WEIGHT`]) rather than a whole one, which still keeps parallel
//! workers off each other's points without pushing the search away from the
//! good region the running trials were drawn from; and while trials run,
//! `l(x)`'s kernels keep [`IN_FLIGHT_VOLUME`] of their volume, above a floor
//! of [`IN_FLIGHT_FLOOR`] of the volume of Optuna's, so a trial suggested
//! knowing fewer results exploits the best ones harder. With all of them,
//! eight in flight on `scripts/bench-search` (seeds 0-999 and
//! 100000-100999, median best after 60 trials) come within 2% of the
//! sequential median on Branin and 4% on the mixed space (0.443 and 0.439
//! against 0.445; -0.0166 and -0.0164 against -0.0171), and within 8% on
//! Hartmann-6 (-2.846 against -3.089 and -3.088).
//!
//! ```
//! use sweep_core::{Goal, ParamValue};
//! use sweep_spec::{Distribution, Parameter};
//! use sweep_spec::sampler::tpe::{suggest, ObsState, Observation, TpeSettings};
//!
//! let space = [Parameter { name: "x".into(), distribution: Distribution::Uniform { min: -5.0, max: 5.0 } }];
//! let mut trials: Vec<Observation> = Vec::new();
//! for number in 0..30 {
//!     let params = suggest(&space, Goal::Minimize, &trials, &TpeSettings::default(), 7, number);
//!     let x = params["x"].as_f64().unwrap();
//!     trials.push(Observation { params, state: ObsState::Complete, value: Some((x - 1.0).powi(2)), intermediate: vec![] });
//! }
//! ```

mod erf;
mod parzen;
mod truncnorm;

pub use super::{ObsState, Observation};
use super::{Proposal, Sampler};
use crate::distribution::{Distribution, Step, q_range, q_value, round_sig};
use crate::spec::{Parameter, Spec};
use parzen::{ParzenEstimator, Space, Widths};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use std::cmp::Ordering;
use sweep_core::{Goal, ParamValue, Params};

/// TPE's settings: the spec's `tpe:` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TpeSettings {
    /// Trials drawn at random before TPE takes over, counted in created
    /// trials (running, complete or pruned; failed ones are replaced).
    pub n_startup_trials: u32,
    /// Candidates drawn from `l(x)` to pick the best `l(x) / g(x)` among.
    pub n_ei_candidates: u32,
    /// Model the parameters jointly (`true`) or each on its own.
    pub multivariate: bool,
    /// Count running trials among the worst, with [`LIAR_WEIGHT`] in
    /// `g(x)`, so parallel trials spread out.
    pub constant_liar: bool,
}

impl Default for TpeSettings {
    /// Optuna 5's defaults.
    fn default() -> Self {
        TpeSettings {
            n_startup_trials: 10,
            n_ei_candidates: 24,
            multivariate: true,
            constant_liar: true,
        }
    }
}

/// The weight of a running trial in `g(x)` with the constant liar, relative
/// to a finished trial's (Optuna: 1). A whole weight steers each new trial
/// away from the region where the running ones were drawn, which is the good
/// region: on `scripts/bench-search` (Branin, 500 seeds, 8 in flight) the
/// median best after 60 trials is 12% behind a sequential sweep's with a
/// whole weight, 3.5% with a tenth, which still keeps parallel trials apart.
pub const LIAR_WEIGHT: f64 = 0.1;

/// The floor of a kernel's bandwidth in `l(x)` when no trial is in flight
/// (else [`IN_FLIGHT_FLOOR`]), relative to Optuna's magic
/// clip (`range / min(100, n_kernels + 1)`). Optuna's floor keeps `l(x)`
/// nearly as wide as an eighth of the range while the good group holds six
/// trials, so TPE moves slowly from good to very good; half of it
/// concentrates the candidates on the good trials. On `scripts/bench-search`
/// (median best after 60 trials; seeds 0-499 one at a time, seeds 0-999 and
/// 100000-100999 with eight in flight), Optuna's floor -> half of it:
///
/// - one at a time: Branin 0.515 -> 0.443, Hartmann-6 -3.020 -> -3.093,
///   mixed -0.0143 -> -0.0167 (Optuna 5: 0.522, -3.033, -0.0145);
/// - eight in flight (before the in-flight rules): Branin 0.535 -> 0.472,
///   mixed -0.007 -> -0.014, and Hartmann-6 -2.84 -> -2.78 (a batch drawn
///   from the narrower `l(x)` bunches up a little in six dimensions; 0.4
///   lost more there, 0.6 gained it back at Branin's cost: 0.491, -2.81).
///
/// `g(x)` keeps Optuna's floor: halving it too gained nothing more one at a
/// time (Hartmann-6 -3.08).
pub const BELOW_CLIP: f64 = 0.5;

/// How much of their volume `l(x)`'s kernels keep while trials are in
/// flight: each numerical bandwidth is multiplied by `IN_FLIGHT_VOLUME^(1/d)`
/// for `d` numerical parameters (0.6 in two dimensions, 0.84 in six). A
/// trial suggested while others run is suggested knowing fewer results than
/// it would one at a time; the narrower `l(x)` makes it exploit the best
/// trials known harder, and the constant liar keeps it off the running ones.
/// One trial at a time is unchanged. On `scripts/bench-search` (median best
/// after 60 trials, eight in flight, seeds 0-999 and 100000-100999), whole
/// volume -> 0.36: Branin 0.472 / 0.472 -> 0.443 / 0.439 (one at a time:
/// 0.445), mixed -0.0140 / -0.0141 -> -0.0166 / -0.0164 (-0.0167). Two and
/// four in flight gain as well (Branin 0.454 -> 0.421 and 0.456 -> 0.424 on
/// seeds 0-999).
pub const IN_FLIGHT_VOLUME: f64 = 0.36;

/// The floor of `l(x)`'s bandwidths while trials are in flight, as a share
/// of the volume of Optuna's (the magic clip in every dimension): each
/// numerical bandwidth's floor is `IN_FLIGHT_FLOOR^(1/d)` of Optuna's, which
/// is [`BELOW_CLIP`] in two dimensions and 0.79 in six, where halving it in
/// each of six dimensions leaves a floor of a sixty-fourth of the volume and
/// a batch that bunches up. On `scripts/bench-search`, eight in flight,
/// Hartmann-6 (the objective in more than two dimensions), median best after
/// 60 trials on seeds 0-999, 100000-100999 and (held out while choosing)
/// 200000-200999: BELOW_CLIP in each dimension -2.764 / -2.776 / -2.785 ->
/// -2.846 / -2.846 / -2.856 (one at a time -3.09 on each set).
pub const IN_FLIGHT_FLOOR: f64 = 0.25;

/// The random stream of trial `number`: ChaCha8 keyed by the seed, one
/// stream per trial number.
fn trial_rng(seed: u64, number: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7470_655f_7472_6961); // "tpe_tria"
    rng.set_stream(number);
    rng
}

/// The parameters random search gives trial `number`: what [`suggest`]
/// returns during the startup trials.
pub fn random_params(space: &[Parameter], seed: u64, number: u64) -> Params {
    let mut rng = trial_rng(seed, number);
    space
        .iter()
        .map(|p| (p.name.clone(), p.distribution.sample(&mut rng)))
        .collect()
}

/// The parameters of trial `number` (0-based creation order).
///
/// `observations[i]` is trial number `i`: the trials created so far, in
/// creation order (an entry at index `number`, the trial being created, is
/// skipped). Deterministic: the same space, goal, observations, settings,
/// seed and number give the same params. Values lie in each distribution's
/// support, continuous ones rounded to four significant digits as random
/// search rounds them; constants are copied.
pub fn suggest(
    space: &[Parameter],
    goal: Goal,
    observations: &[Observation],
    settings: &TpeSettings,
    seed: u64,
    number: u64,
) -> Params {
    suggest_with(space, goal, observations, settings, seed, number, Rules::default())
}

/// The rules where sweep departs from Optuna (not settings: tests vary them).
#[derive(Debug, Clone, Copy)]
struct Rules {
    /// The weight of a running trial in `g(x)`: [`LIAR_WEIGHT`].
    liar_weight: f64,
    /// The floor of `l(x)`'s bandwidths: [`BELOW_CLIP`].
    below_clip: f64,
    /// The volume of `l(x)`'s kernels with trials in flight: [`IN_FLIGHT_VOLUME`].
    in_flight_volume: f64,
    /// The volume of `l(x)`'s floor with trials in flight: [`IN_FLIGHT_FLOOR`].
    in_flight_floor: f64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            liar_weight: LIAR_WEIGHT,
            below_clip: BELOW_CLIP,
            in_flight_volume: IN_FLIGHT_VOLUME,
            in_flight_floor: IN_FLIGHT_FLOOR,
        }
    }
}

/// [`suggest`] under `rules`.
fn suggest_with(
    space: &[Parameter],
    goal: Goal,
    observations: &[Observation],
    settings: &TpeSettings,
    seed: u64,
    number: u64,
    rules: Rules,
) -> Params {
    let trials: Vec<(usize, &Observation)> = observations
        .iter()
        .enumerate()
        .filter(|&(i, o)| i as u64 != number && counts(o))
        .collect();
    // The startup counts every trial that takes part, running ones too.
    if trials.len() < settings.n_startup_trials as usize {
        return random_params(space, seed, number);
    }
    let finished = trials.iter().filter(|(_, o)| o.state != ObsState::Running).count();
    let mut rng = trial_rng(seed, number);
    let (below, above) = split(&trials, gamma(finished), goal, settings.constant_liar);

    // The parameters TPE models; the rest have one value.
    let modelled: Vec<usize> = (0..space.len())
        .filter(|&i| single_value(&space[i].distribution).is_none())
        .collect();
    let groups: Vec<Vec<usize>> = if settings.multivariate {
        vec![modelled]
    } else {
        modelled.into_iter().map(|i| vec![i]).collect()
    };
    let mut chosen: Vec<Option<ParamValue>> = vec![None; space.len()];
    for group in groups.iter().filter(|g| !g.is_empty()) {
        let params: Vec<&Parameter> = group.iter().map(|&i| &space[i]).collect();
        let spaces: Vec<Space> = params.iter().map(|p| model_space(&p.distribution)).collect();
        let below_rows: Vec<Vec<f64>> = internal_rows(&below, &params).into_iter().map(|(_, r)| r).collect();
        // Trials in flight are known only with the constant liar.
        let in_flight = above.iter().any(|o| o.state == ObsState::Running);
        let numerical = spaces.iter().filter(|s| matches!(s, Space::Numeric { .. })).count();
        let widths = below_widths(in_flight, numerical, &rules);
        let l = ParzenEstimator::fit(&below_rows, &vec![1.0; below_rows.len()], &spaces, widths);
        // Running trials (there only with the constant liar) weigh less in g.
        let (scale, above_rows): (Vec<f64>, Vec<Vec<f64>>) = internal_rows(&above, &params)
            .into_iter()
            .map(|(o, r)| {
                (
                    if o.state == ObsState::Running {
                        rules.liar_weight
                    } else {
                        1.0
                    },
                    r,
                )
            })
            .unzip();
        let g = ParzenEstimator::fit(&above_rows, &scale, &spaces, Widths::OPTUNA);
        let candidates = l.sample(&mut rng, settings.n_ei_candidates.max(1) as usize);
        let mut best = 0;
        let mut best_score = f64::NEG_INFINITY;
        for (c, x) in candidates.iter().enumerate() {
            let score = l.log_pdf(x) - g.log_pdf(x);
            // The first maximum wins, as numpy's argmax.
            if score > best_score {
                best_score = score;
                best = c;
            }
        }
        for (k, &i) in group.iter().enumerate() {
            chosen[i] = Some(external(&space[i].distribution, candidates[best][k]));
        }
    }
    space
        .iter()
        .zip(chosen)
        .map(|(p, v)| {
            let v = v.or_else(|| single_value(&p.distribution)).expect("modelled or single");
            (p.name.clone(), v)
        })
        .collect()
}

/// The widths of `l(x)`'s kernels over `numerical` numerical parameters:
/// [`BELOW_CLIP`] one at a time; with trials in flight, the floor and the
/// kernels set as volumes ([`IN_FLIGHT_FLOOR`], [`IN_FLIGHT_VOLUME`]) shared
/// among the parameters.
fn below_widths(in_flight: bool, numerical: usize, rules: &Rules) -> Widths {
    if in_flight && numerical > 0 {
        let root = 1.0 / numerical as f64;
        Widths {
            clip: rules.in_flight_floor.powf(root),
            factor: rules.in_flight_volume.powf(root),
        }
    } else {
        Widths {
            clip: rules.below_clip,
            factor: 1.0,
        }
    }
}

/// Whether a trial takes part: failed trials and completed ones without a
/// usable value (Optuna records those as failed) do not.
fn counts(o: &Observation) -> bool {
    match o.state {
        ObsState::Complete => o.value.is_some_and(|v| !v.is_nan()),
        ObsState::Pruned | ObsState::Running => true,
        ObsState::Failed => false,
    }
}

/// How many of `n` finished trials form the good group: Optuna's
/// `default_gamma`, `min(ceil(0.1 n), 25)`.
pub fn gamma(n: usize) -> usize {
    n.div_ceil(10).min(25)
}

/// Optuna's `_get_pruned_trial_score`: smaller is better. More epochs first,
/// then the last value (NaN worst).
fn pruned_score(o: &Observation, goal: Goal) -> (f64, f64) {
    match o.intermediate.last() {
        None => (1.0, 0.0),
        Some(&v) => {
            let steps = -(o.intermediate.len() as f64);
            if v.is_nan() {
                (steps, f64::INFINITY)
            } else {
                match goal {
                    Goal::Minimize => (steps, v),
                    Goal::Maximize => (steps, -v),
                }
            }
        }
    }
}

fn cmp_f64(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// Optuna's `_split_trials`: the best `n_below` finished trials (completed
/// ones by value, then pruned ones by [`pruned_score`]) and the rest, running
/// trials (with the constant liar) among the rest. Both in trial order.
fn split<'a>(
    trials: &[(usize, &'a Observation)],
    n_below: usize,
    goal: Goal,
    constant_liar: bool,
) -> (Vec<&'a Observation>, Vec<&'a Observation>) {
    let mut complete: Vec<(usize, &Observation)> = Vec::new();
    let mut pruned: Vec<(usize, &Observation)> = Vec::new();
    let mut running: Vec<(usize, &Observation)> = Vec::new();
    for &(i, o) in trials {
        match o.state {
            ObsState::Complete => complete.push((i, o)),
            ObsState::Pruned => pruned.push((i, o)),
            ObsState::Running if constant_liar => running.push((i, o)),
            _ => {}
        }
    }
    let value = |o: &Observation| o.value.expect("counted: has a value");
    // Stable sorts: ties keep trial order, as Python's `sorted`.
    match goal {
        Goal::Minimize => complete.sort_by(|a, b| cmp_f64(value(a.1), value(b.1))),
        Goal::Maximize => complete.sort_by(|a, b| cmp_f64(value(b.1), value(a.1))),
    }
    pruned.sort_by(|a, b| {
        let (sa, sb) = (pruned_score(a.1, goal), pruned_score(b.1, goal));
        cmp_f64(sa.0, sb.0).then(cmp_f64(sa.1, sb.1))
    });
    let n_complete = n_below.min(complete.len());
    let n_pruned = (n_below - n_complete).min(pruned.len());
    let mut below: Vec<(usize, &Observation)> = complete[..n_complete].to_vec();
    below.extend_from_slice(&pruned[..n_pruned]);
    let mut above: Vec<(usize, &Observation)> = complete[n_complete..].to_vec();
    above.extend_from_slice(&pruned[n_pruned..]);
    above.extend(running);
    below.sort_by_key(|&(i, _)| i);
    above.sort_by_key(|&(i, _)| i);
    (
        below.into_iter().map(|(_, o)| o).collect(),
        above.into_iter().map(|(_, o)| o).collect(),
    )
}

/// The one value of a distribution that has only one, if it has.
fn single_value(d: &Distribution) -> Option<ParamValue> {
    match d {
        Distribution::Constant(v) => Some(v.clone()),
        Distribution::Categorical { values, probabilities } => {
            let mut support = values
                .iter()
                .enumerate()
                .filter(|(i, _)| probabilities.as_ref().is_none_or(|p| p[*i] > 0.0));
            match (support.next(), support.next()) {
                (Some((_, v)), None) => Some(v.clone()),
                _ => None,
            }
        }
        Distribution::IntUniform { min, max } => (min == max).then_some(ParamValue::Int(*min)),
        Distribution::QUniform { min, max, q, integer } | Distribution::QLogUniform { min, max, q, integer } => {
            let (lo, hi) = q_range(*min, *max, *q);
            (lo == hi).then(|| q_value(lo, *q, *integer))
        }
        Distribution::Uniform { min, max } | Distribution::LogUniform { min, max } => {
            (min == max).then_some(ParamValue::Float(*min))
        }
        Distribution::Normal { .. } | Distribution::LogNormal { .. } | Distribution::Beta { .. } => None,
    }
}

/// The range TPE models an unbounded W&B distribution on (the spec parser
/// refuses them with `method: tpe`; this only keeps a hand-built spec from
/// panicking): `mu ± 4 sigma` (in log space for log_normal), `[0, 1]` for beta.
fn clipped_support(d: &Distribution) -> Option<(f64, f64, Option<Step>, bool)> {
    match *d {
        Distribution::Normal { mu, sigma, q } => Some((mu - 4.0 * sigma, mu + 4.0 * sigma, q, false)),
        Distribution::LogNormal { mu, sigma, q } => Some(((mu - 4.0 * sigma).exp(), (mu + 4.0 * sigma).exp(), q, true)),
        Distribution::Beta { q, .. } => Some((0.0, 1.0, q, false)),
        _ => None,
    }
}

/// How the estimator models a distribution. Grids are Optuna's discretised
/// truncated normals: `int_uniform` on the integers, `q_uniform` and
/// `q_log_uniform_values` on the multiples of `q` in range (the latter in
/// log space, as Optuna models a log-scaled integer).
fn model_space(d: &Distribution) -> Space {
    let grid = |min: f64, max: f64, q: f64, log: bool| {
        let (lo, hi) = q_range(min, max, q);
        Space::Numeric {
            low: lo as f64 * q,
            high: hi as f64 * q,
            step: q,
            log,
        }
    };
    match *d {
        Distribution::Categorical {
            ref values,
            ref probabilities,
        } => Space::Categorical {
            prior: probabilities
                .clone()
                .unwrap_or_else(|| vec![1.0 / values.len() as f64; values.len()]),
        },
        Distribution::Uniform { min, max } => Space::Numeric {
            low: min,
            high: max,
            step: 0.0,
            log: false,
        },
        Distribution::LogUniform { min, max } => Space::Numeric {
            low: min,
            high: max,
            step: 0.0,
            log: true,
        },
        Distribution::IntUniform { min, max } => Space::Numeric {
            low: min as f64,
            high: max as f64,
            step: 1.0,
            log: false,
        },
        Distribution::QUniform { min, max, q, .. } => grid(min, max, q, false),
        Distribution::QLogUniform { min, max, q, .. } => grid(min, max, q, true),
        Distribution::Normal { .. } | Distribution::LogNormal { .. } | Distribution::Beta { .. } => {
            let (low, high, q, log) = clipped_support(d).expect("an unbounded distribution");
            match q {
                Some(s) => grid(low, high, s.q, log),
                None => Space::Numeric {
                    low,
                    high,
                    step: 0.0,
                    log,
                },
            }
        }
        Distribution::Constant(_) => unreachable!("constants are not modelled"),
    }
}

/// A trial's value of one parameter in the estimator's representation, or
/// `None` when it does not fit the space (a trial from an older spec).
fn internal(d: &Distribution, v: &ParamValue) -> Option<f64> {
    let number = v.as_f64();
    match (model_space(d), d) {
        (Space::Categorical { prior }, Distribution::Categorical { values, .. }) => values
            .iter()
            .position(|c| c == v || matches!((c.as_f64(), number), (Some(a), Some(b)) if a == b))
            .filter(|&i| prior[i] > 0.0)
            .map(|i| i as f64),
        (Space::Numeric { low, high, step, log }, _) => {
            let x = number?;
            let slack = 1e-9 * (high - low).abs().max(step);
            let inside = x >= low - slack && x <= high + slack && (!log || x > 0.0);
            inside.then_some(x.clamp(low, high))
        }
        _ => None,
    }
}

/// The rows of `trials` for `params`, skipping trials missing one, each
/// with its trial.
fn internal_rows<'a>(trials: &[&'a Observation], params: &[&Parameter]) -> Vec<(&'a Observation, Vec<f64>)> {
    trials
        .iter()
        .filter_map(|&o| {
            let row = params
                .iter()
                .map(|p| internal(&p.distribution, o.params.get(&p.name)?))
                .collect::<Option<Vec<f64>>>()?;
            Some((o, row))
        })
        .collect()
}

/// A value in the estimator's representation as the parameter's value,
/// rounded the way random search rounds its draws.
fn external(d: &Distribution, x: f64) -> ParamValue {
    match *d {
        Distribution::Categorical { ref values, .. } => values[x as usize].clone(),
        Distribution::Uniform { min, max } | Distribution::LogUniform { min, max } => {
            ParamValue::Float(round_sig(x).clamp(min, max))
        }
        Distribution::IntUniform { min, max } => ParamValue::Int((x.round() as i64).clamp(min, max)),
        Distribution::QUniform { min, max, q, integer } | Distribution::QLogUniform { min, max, q, integer } => {
            let (lo, hi) = q_range(min, max, q);
            q_value(((x / q).round() as i64).clamp(lo, hi), q, integer)
        }
        Distribution::Normal { .. } | Distribution::LogNormal { .. } | Distribution::Beta { .. } => {
            let (low, high, q, _) = clipped_support(d).expect("an unbounded distribution");
            match q {
                Some(s) => {
                    let (lo, hi) = q_range(low, high, s.q);
                    q_value(((x / s.q).round() as i64).clamp(lo, hi), s.q, s.integer)
                }
                None => ParamValue::Float(round_sig(x).clamp(low, high)),
            }
        }
        Distribution::Constant(ref v) => v.clone(),
    }
}

#[cfg(test)]
mod tests;

/// The TPE sampler of a spec: `run_cap` trials, each suggested from the
/// trials before it ([`suggest`]).
#[derive(Debug, Clone)]
pub struct TpeSampler {
    space: Vec<Parameter>,
    goal: Goal,
    settings: TpeSettings,
    seed: u64,
    cap: u64,
    /// Suggestions refused as repeats of earlier trials: each one changes
    /// the stream, so the next differs.
    repeats: u64,
}

impl TpeSampler {
    /// TPE over `spec`'s parameters.
    pub fn new(spec: &Spec) -> TpeSampler {
        TpeSampler {
            space: spec.parameters.clone(),
            goal: spec.metric.goal,
            settings: spec.tpe,
            seed: spec.seed,
            cap: spec.run_cap.unwrap_or(u64::MAX),
            repeats: 0,
        }
    }
}

impl Sampler for TpeSampler {
    fn ask(&mut self, number: u64, history: &[Observation]) -> Proposal {
        if number >= self.cap {
            return Proposal::Done;
        }
        let seed = self.seed ^ self.repeats.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Proposal::Params(suggest(&self.space, self.goal, history, &self.settings, seed, number))
    }

    fn fixed(&self) -> bool {
        false
    }

    fn total(&self) -> Option<u64> {
        (self.cap != u64::MAX).then_some(self.cap)
    }

    fn repeated(&mut self) {
        self.repeats += 1;
    }
}
