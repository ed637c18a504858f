//! A W&B sweep file, unedited, through `sweep run`: `program:` with the
//! agent's default command (`${env} ${interpreter} ${program} ${args}`),
//! W&B's distribution inference, `method: bayes` with hyperband.

mod common;

use common::{leaderboard, sweep};
use std::path::PathBuf;

#[test]
fn a_wandb_sweep_file_runs_unedited_and_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let program = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run/wandb_args.py");
    std::fs::copy(&program, dir.path().join("train.py")).unwrap();
    let spec = dir.path().join("sweep.yaml");
    std::fs::write(
        &spec,
        "# A sweep file written for W&B\nprogram: train.py\nmethod: bayes\nname: wb\n\
         metric:\n  name: loss\n  goal: minimize\nrun_cap: 6\n\
         early_terminate:\n  type: hyperband\n  min_iter: 1\n\
         parameters:\n    lr:\n        max: 0.1\n        min: 0.0001\n    optimizer:\n        values: [adam, sgd]\n    epochs:\n        value: 3\n",
    )
    .unwrap();
    let out = sweep(dir.path()).args(["plan"]).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = leaderboard(&dir.path().join("results/wb"));
    assert_eq!(rows.len(), 6);
    assert!(
        rows.iter()
            .all(|r| r["status"] == "completed" || r["status"] == "pruned"),
        "{rows:?}"
    );
    assert_eq!(rows[0]["rank"], "1");
    // The agent's arguments reached the program: its loss is a function of them.
    let lr: f64 = rows[0]["lr"].parse().unwrap();
    let bonus = if rows[0]["optimizer"] == "sgd" { 0.05 } else { 0.0 };
    let best: f64 = rows[0]["loss"].parse().unwrap();
    assert!(
        (best - ((lr - 0.01f64).powi(2) * 100.0 + bonus + 1.0 / 3.0)).abs() < 1e-3,
        "{rows:?}"
    );
    // The run config W&B's wandb.init() reads is in each trial's folder.
    let id = &rows[0]["trial_id"];
    let config =
        std::fs::read_to_string(dir.path().join("results/wb/trials").join(id).join("wandb-config.yaml")).unwrap();
    assert!(config.contains("lr") && config.contains("optimizer"), "{config}");
}
