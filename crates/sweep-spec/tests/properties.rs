//! Property tests of expansion and sampling.

use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use sweep_spec::{Distribution, Method, parse, plan};

/// A command-trainer spec (any parameter names allowed) from parameter blocks.
fn spec_text(method: &str, extra: &str, params: &[String]) -> String {
    let mut s = format!(
        "method: {method}\n{extra}metric: {{name: loss, goal: minimize}}\ntrainer: {{command: [\"true\"]}}\nparameters:\n"
    );
    for (i, p) in params.iter().enumerate() {
        s.push_str(&format!("  p{i}: {p}\n"));
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A grid's size is the product of its parameters' value counts, every
    /// combination appears once, and ids are unique.
    #[test]
    fn grid_size_is_the_product_of_value_counts(counts in prop::collection::vec(1usize..6, 1..5), ints in prop::collection::vec(1i64..5, 0..2)) {
        let mut blocks: Vec<String> = counts
            .iter()
            .map(|&n| format!("{{values: [{}]}}", (0..n).map(|v| v.to_string()).collect::<Vec<_>>().join(", ")))
            .collect();
        blocks.extend(ints.iter().map(|&hi| format!("{{min: 0, max: {hi}}}")));
        let spec = parse(&spec_text("grid", "", &blocks), "p.yaml".as_ref()).unwrap();
        prop_assert_eq!(spec.method, Method::Grid);
        let plan = plan(&spec).unwrap();
        let expected: usize = counts.iter().product::<usize>() * ints.iter().map(|&hi| hi as usize + 1).product::<usize>();
        prop_assert_eq!(plan.trials.len(), expected);
        let mut combos: Vec<String> = plan.trials.iter().map(|t| serde_json::to_string(&t.params).unwrap()).collect();
        combos.sort();
        combos.dedup();
        prop_assert_eq!(combos.len(), expected);
        let mut ids: Vec<_> = plan.trials.iter().map(|t| t.id.clone()).collect();
        ids.sort();
        ids.dedup();
        prop_assert_eq!(ids.len(), expected);
        for (i, t) in plan.trials.iter().enumerate() {
            prop_assert_eq!(t.ordinal, i);
        }
    }

    /// Every sampled value lies in its distribution's support.
    #[test]
    fn samples_lie_in_the_support(lo in -1000.0f64..1000.0, width in 1e-3f64..1000.0, ilo in -50i64..50, iw in 0i64..100, seed in any::<u64>(), q in 1i64..8) {
        let hi = lo + width;
        let plo = lo.abs() + 1e-3;
        let dists = [
            Distribution::Uniform { min: lo, max: hi },
            Distribution::LogUniform { min: plo, max: plo + width },
            Distribution::IntUniform { min: ilo, max: ilo + iw },
            Distribution::QUniform { min: ilo as f64, max: (ilo + iw + q) as f64, q: q as f64, integer: true },
            Distribution::QUniform { min: lo, max: hi + 0.5, q: 0.25, integer: false },
            Distribution::QLogUniform { min: 1.0, max: 1.0 + (iw + q) as f64 * 10.0, q: q as f64, integer: true },
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for d in &dists {
            for _ in 0..50 {
                let v = d.sample(&mut rng);
                prop_assert!(d.contains(&v), "{:?} drew {:?}", d, v);
            }
        }
    }

    /// Log-uniform draws are uniform in log space: each of ten equal bins of
    /// log(x) gets close to a tenth of the draws (6 standard deviations of slack).
    #[test]
    fn log_uniform_is_uniform_in_log_space(exp_lo in -8.0f64..0.0, decades in 1.0f64..6.0, seed in any::<u64>()) {
        let (min, max) = (10f64.powf(exp_lo), 10f64.powf(exp_lo + decades));
        let d = Distribution::LogUniform { min, max };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = 10_000;
        let mut bins = [0u32; 10];
        for _ in 0..n {
            let x = d.sample(&mut rng).as_f64().unwrap();
            let t = (x.ln() - min.ln()) / (max.ln() - min.ln());
            bins[((t * 10.0) as usize).min(9)] += 1;
        }
        let expected = f64::from(n) / 10.0;
        let sd = (expected * 0.9).sqrt();
        for (i, &b) in bins.iter().enumerate() {
            prop_assert!((f64::from(b) - expected).abs() < 6.0 * sd, "bin {} has {} of {}: {:?}", i, b, n, bins);
        }
    }

    /// Random plans depend only on the spec and its seed.
    #[test]
    fn random_plans_repeat_for_a_seed(seed in any::<u32>(), cap in 1u64..40) {
        let blocks = vec![
            "{distribution: log_uniform_values, min: 1e-5, max: 1e-1}".to_string(),
            "{values: [a, b, c], probabilities: [0.2, 0.3, 0.5]}".to_string(),
            "{min: 1, max: 512}".to_string(),
        ];
        let text = spec_text("random", &format!("run_cap: {cap}\nseed: {seed}\n"), &blocks);
        let a = plan(&parse(&text, "a.yaml".as_ref()).unwrap()).unwrap();
        let b = plan(&parse(&text, "b.yaml".as_ref()).unwrap()).unwrap();
        prop_assert_eq!(a.trials.len() as u64, cap);
        prop_assert_eq!(&a, &b);
        let other = spec_text("random", &format!("run_cap: {cap}\nseed: {}\n", u64::from(seed) + 1), &blocks);
        let c = plan(&parse(&other, "c.yaml".as_ref()).unwrap()).unwrap();
        prop_assert_ne!(a.trials[0].id.clone(), c.trials[0].id.clone());
    }
}

#[test]
fn adding_a_parameter_keeps_the_others_draws() {
    let base = vec!["{distribution: log_uniform_values, min: 1e-5, max: 1e-1}".to_string()];
    let mut more = base.clone();
    more.push("{values: [x, y]}".to_string());
    let extra = "run_cap: 10\nseed: 3\n";
    let a = plan(&parse(&spec_text("random", extra, &base), "a.yaml".as_ref()).unwrap()).unwrap();
    let b = plan(&parse(&spec_text("random", extra, &more), "b.yaml".as_ref()).unwrap()).unwrap();
    let lrs = |p: &sweep_spec::Plan| p.trials.iter().map(|t| t.params["p0"].clone()).collect::<Vec<_>>();
    assert_eq!(lrs(&a), lrs(&b));
}

#[test]
fn grid_run_cap_takes_the_first_combinations() {
    let blocks = vec!["{values: [1, 2, 3]}".to_string(), "{values: [a, b]}".to_string()];
    let full = plan(&parse(&spec_text("grid", "", &blocks), "a.yaml".as_ref()).unwrap()).unwrap();
    let capped = plan(&parse(&spec_text("grid", "run_cap: 4\n", &blocks), "a.yaml".as_ref()).unwrap()).unwrap();
    assert_eq!(full.trials.len(), 6);
    assert_eq!(capped.trials[..], full.trials[..4]);
    assert_eq!(capped.grid_size, Some(6));
    // The last parameter varies fastest.
    assert_eq!(full.trials[1].params["p0"].to_string(), "1");
    assert_eq!(full.trials[1].params["p1"].to_string(), "b");
}
