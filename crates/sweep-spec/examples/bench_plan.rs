//! Benchmark: parse and plan a 100,000-trial grid, print the times.
//!
//! `cargo run --release -p sweep-spec --example bench_plan [SPEC]`; without a
//! spec it writes the 100,000-trial grid itself. Run by `scripts/bench-plan`.

use std::time::Instant;

const GRID_100K: &str = "name: grid-100k
method: grid
parameters:
  lr: {values: [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]}
  batch_size: {values: [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]}
  epochs: {min: 1, max: 10}
  momentum: {values: [0.0, 0.5, 0.8, 0.85, 0.9, 0.92, 0.95, 0.97, 0.98, 0.99]}
  dropout: {distribution: q_uniform, min: 0.0, max: 0.45, q: 0.05}
";

fn main() {
    let (text, name) = match std::env::args().nth(1) {
        Some(path) => (std::fs::read_to_string(&path).expect("read the spec"), path),
        None => (GRID_100K.to_string(), "built-in 100,000-trial grid".to_string()),
    };
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..7 {
        let start = Instant::now();
        let spec = sweep_spec::parse(&text, name.as_ref()).expect("valid spec");
        let plan = sweep_spec::plan(&spec).expect("plannable spec");
        times.push(start.elapsed().as_secs_f64());
        count = plan.trials.len();
    }
    times.sort_by(f64::total_cmp);
    println!("plan {name}: {count} trials");
    println!(
        "  parse + validate + expand: median {:.1} ms, best {:.1} ms, worst {:.1} ms (7 runs)",
        times[3] * 1e3,
        times[0] * 1e3,
        times[6] * 1e3
    );
}
