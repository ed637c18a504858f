//! Benchmark: random search against sweep's TPE, one trial at a time and with
//! eight in flight, on Branin (2-D), Hartmann-6 and a mixed space (log-uniform
//! learning rate, a categorical, an integer, seeded noise); 20 seeds x 60
//! trials (`BENCH_SEEDS` seeds from `BENCH_SEED_OFFSET`: 20 from 0 unless
//! set). Prints the median and interquartile range of the best value found
//! after 20, 40 and 60 trials (all objectives are minimised), and for
//! comparison sequential TPE's 7 trials earlier (`sweep-tpe 7 fewer`), and
//! how far eight in flight end behind one at a time.
//!
//! `cargo run --release -p sweep-spec --example bench_search`. Run beside
//! Optuna's TPE by `scripts/bench-search`; the objectives, the noise and the
//! simulated finishing order are those of `scripts/bench_search_optuna.py`.

use std::f64::consts::PI;
use sweep_core::{Goal, ParamValue, Params};
use sweep_spec::sampler::tpe::{ObsState, Observation, TpeSettings, random_params, suggest};
use sweep_spec::{Distribution, Parameter};

/// Seeds per sampler and objective (`BENCH_SEEDS` overrides).
const SEEDS: u64 = 20;
const TRIALS: usize = 60;
const IN_FLIGHT: usize = 8;
const CHECKPOINTS: [usize; 3] = [20, 40, 60];

/// SplitMix64: the noise and durations, written the same way in Python.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A number in [0, 1) from `x`.
fn unit(x: u64) -> f64 {
    (splitmix(x) >> 11) as f64 / (1u64 << 53) as f64
}

fn uniform(name: &str, min: f64, max: f64) -> Parameter {
    Parameter {
        name: name.into(),
        distribution: Distribution::Uniform { min, max },
    }
}

fn x(p: &Params, name: &str) -> f64 {
    p[name].as_f64().expect("a number")
}

/// One benchmark problem.
struct Objective {
    name: &'static str,
    space: Vec<Parameter>,
    /// The value of trial `number` of a run with `seed`.
    f: fn(&Params, u64, u64) -> f64,
}

fn branin(p: &Params, _: u64, _: u64) -> f64 {
    let (x1, x2) = (x(p, "x1"), x(p, "x2"));
    let b = 5.1 / (4.0 * PI * PI);
    let c = 5.0 / PI;
    let t = 1.0 / (8.0 * PI);
    (x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - t) * x1.cos() + 10.0
}

fn hartmann6(p: &Params, _: u64, _: u64) -> f64 {
    const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
    const A: [[f64; 6]; 4] = [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ];
    const P: [[f64; 6]; 4] = [
        [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
        [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
        [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
        [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
    ];
    let xs: Vec<f64> = (1..=6).map(|i| x(p, &format!("x{i}"))).collect();
    -(0..4)
        .map(|i| {
            let inner: f64 = (0..6).map(|j| A[i][j] * (xs[j] - P[i][j] * 1e-4).powi(2)).sum();
            ALPHA[i] * (-inner).exp()
        })
        .sum::<f64>()
}

/// A made-up training loss: each optimizer has its best learning rate and a
/// floor, five layers is best, and the measurement is noisy.
fn mixed(p: &Params, seed: u64, number: u64) -> f64 {
    let (best_log_lr, floor) = match p["optimizer"].as_str().expect("a word") {
        "adam" => (-3.0, 0.0),
        "sgd" => (-1.5, 0.1),
        _ => (-3.5, 0.05),
    };
    let layers = p["layers"].as_i64().expect("an integer") as f64;
    let noise = 0.05 * (unit(seed * 1_000_003 + number) - 0.5);
    (x(p, "lr").log10() - best_log_lr).powi(2) / 4.0 + floor + 0.05 * (layers - 5.0).powi(2) + noise
}

fn objectives() -> Vec<Objective> {
    let words = |ws: &[&str]| ws.iter().map(|w| ParamValue::Str((*w).into())).collect();
    vec![
        Objective {
            name: "branin",
            space: vec![uniform("x1", -5.0, 10.0), uniform("x2", 0.0, 15.0)],
            f: branin,
        },
        Objective {
            name: "hartmann6",
            space: (1..=6).map(|i| uniform(&format!("x{i}"), 0.0, 1.0)).collect(),
            f: hartmann6,
        },
        Objective {
            name: "mixed",
            space: vec![
                Parameter {
                    name: "lr".into(),
                    distribution: Distribution::LogUniform { min: 1e-5, max: 1.0 },
                },
                Parameter {
                    name: "optimizer".into(),
                    distribution: Distribution::Categorical {
                        values: words(&["adam", "sgd", "rmsprop"]),
                        probabilities: None,
                    },
                },
                Parameter {
                    name: "layers".into(),
                    distribution: Distribution::IntUniform { min: 1, max: 8 },
                },
            ],
            f: mixed,
        },
    ]
}

/// How long trial `number` runs in the simulated parallel sweep.
fn duration(number: u64) -> f64 {
    1.0 + 2.0 * unit(number + 7_777)
}

/// The best value after each finished trial, in finishing order.
fn best_so_far(values: &[f64]) -> Vec<f64> {
    values
        .iter()
        .scan(f64::INFINITY, |best, &v| {
            *best = best.min(v);
            Some(*best)
        })
        .collect()
}

fn run_random(o: &Objective, seed: u64) -> Vec<f64> {
    let values: Vec<f64> = (0..TRIALS as u64)
        .map(|n| (o.f)(&random_params(&o.space, seed, n), seed, n))
        .collect();
    best_so_far(&values)
}

fn complete(params: Params, value: f64) -> Observation {
    Observation {
        params,
        state: ObsState::Complete,
        value: Some(value),
        intermediate: Vec::new(),
    }
}

fn run_tpe(o: &Objective, seed: u64) -> Vec<f64> {
    let settings = TpeSettings::default();
    let mut trials = Vec::new();
    let mut values = Vec::new();
    for n in 0..TRIALS as u64 {
        let params = suggest(&o.space, Goal::Minimize, &trials, &settings, seed, n);
        let v = (o.f)(&params, seed, n);
        values.push(v);
        trials.push(complete(params, v));
    }
    best_so_far(&values)
}

/// Eight trials in flight: ask until eight run, then tell the one that
/// finishes first (simulated durations), ask again, and so on.
fn run_tpe_parallel(o: &Objective, seed: u64) -> Vec<f64> {
    let settings = TpeSettings::default();
    let mut trials: Vec<Observation> = Vec::new();
    let mut running: Vec<(f64, u64)> = Vec::new();
    let mut values = Vec::new();
    let mut now = 0.0;
    while values.len() < TRIALS {
        while running.len() < IN_FLIGHT && trials.len() < TRIALS {
            let n = trials.len() as u64;
            let params = suggest(&o.space, Goal::Minimize, &trials, &settings, seed, n);
            trials.push(Observation {
                params,
                state: ObsState::Running,
                value: None,
                intermediate: Vec::new(),
            });
            running.push((now + duration(n), n));
        }
        let next = (0..running.len())
            .min_by(|&a, &b| running[a].partial_cmp(&running[b]).expect("finite times"))
            .expect("a trial runs");
        let (end, n) = running.swap_remove(next);
        now = end;
        let t = &mut trials[n as usize];
        let v = (o.f)(&t.params, seed, n);
        t.state = ObsState::Complete;
        t.value = Some(v);
        values.push(v);
    }
    best_so_far(&values)
}

/// numpy's default (linear) percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let pos = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn row(objective: &str, method: &str, runs: &[Vec<f64>]) -> String {
    let mut line = format!("{objective:<10} {method:<18}");
    for at in CHECKPOINTS {
        let mut v: Vec<f64> = runs.iter().map(|r| r[at - 1]).collect();
        v.sort_by(f64::total_cmp);
        line.push_str(&format!(
            " {:>9.4} [{:>8.4},{:>8.4}]",
            percentile(&v, 50.0),
            percentile(&v, 25.0),
            percentile(&v, 75.0)
        ));
    }
    line
}

fn main() {
    let seeds: u64 = std::env::var("BENCH_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEEDS);
    // The first seed (`BENCH_SEED_OFFSET`, default 0): seeds offset..offset+N,
    // to check a change on seeds it was not tried on.
    let offset: u64 = std::env::var("BENCH_SEED_OFFSET")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    println!(
        "{:<10} {:<18} {:>9} {:>19} {:>9} {:>19} {:>9} {:>19}",
        "objective", "sampler", "@20 med", "IQR", "@40 med", "IQR", "@60 med", "IQR"
    );
    for o in objectives() {
        type Runner = fn(&Objective, u64) -> Vec<f64>;
        let runners: [(&str, Runner); 3] = [
            ("random", run_random),
            ("sweep-tpe", run_tpe),
            ("sweep-tpe x8", run_tpe_parallel),
        ];
        // Median best after 60 of random, sequential TPE and eight in flight.
        let mut at_end = Vec::new();
        for (method, run) in runners {
            let runs: Vec<Vec<f64>> = (offset..offset + seeds).map(|seed| run(&o, seed)).collect();
            println!("{}", row(o.name, method, &runs));
            let mut last: Vec<f64> = runs.iter().map(|r| r[TRIALS - 1]).collect();
            last.sort_by(f64::total_cmp);
            at_end.push(percentile(&last, 50.0));
            if method == "sweep-tpe" {
                // What eight in flight can hope for: each of their trials is
                // suggested knowing about 7 fewer results, so the sequential
                // best 7 trials earlier (after 13, 33 and 53).
                let earlier: Vec<Vec<f64>> = runs
                    .iter()
                    .map(|r| [vec![f64::NAN; IN_FLIGHT - 1], r[..TRIALS - (IN_FLIGHT - 1)].to_vec()].concat())
                    .collect();
                println!("{}", row(o.name, "sweep-tpe 7 fewer", &earlier));
            }
        }
        // The goal: eight in flight within 10% of one at a time. Relative to
        // the sequential value itself, and (for values near 0, as the mixed
        // space's) as a share of what TPE gains over random search.
        let (random, seq, x8) = (at_end[0], at_end[1], at_end[2]);
        println!(
            "{:<10} x8 behind sequential @60: {:.1}% of |sequential|, {:.1}% of TPE's gain over random",
            o.name,
            100.0 * (x8 - seq) / seq.abs(),
            100.0 * (x8 - seq) / (random - seq)
        );
    }
}
