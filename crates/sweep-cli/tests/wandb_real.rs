//! A training script written for W&B, with the real `wandb` package: its
//! `wandb.log()` values reach sweep through the shim (the
//! `sitecustomize.py` sweep puts on PYTHONPATH), hyperband stops the bad
//! trials, and each trial has its offline run, made without a network.
//!
//! It needs a python that imports wandb: `SWEEP_TEST_PYTHON` (else `python3`).
//! Without one the tests say why and pass, unless `SWEEP_REQUIRE_WANDB=1`
//! (CI sets it, after `.ci/run` installs wandb into ~/.cache/sweep-venv).

mod common;

use common::leaderboard;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn required() -> bool {
    std::env::var("SWEEP_REQUIRE_WANDB").is_ok_and(|v| v == "1")
}

/// The python to test with: `SWEEP_TEST_PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("SWEEP_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into())
}

/// The full path of a python that imports wandb; None (with why) when there
/// is none, a panic when one is required.
fn python_with_wandb() -> Option<String> {
    let python = python();
    let out = Command::new(&python)
        .args(["-c", "import sys, wandb; print(sys.executable)"])
        .output();
    match out {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        other => {
            let why = match other {
                Ok(o) => String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
                    .to_string(),
                Err(e) => e.to_string(),
            };
            assert!(
                !required(),
                "SWEEP_REQUIRE_WANDB=1 but `{python}` cannot import wandb ({why}); \
                 .ci/run installs it: ~/.cache/sweep-venv/bin/pip install 'wandb==0.31.*'"
            );
            eprintln!(
                "skipped: `{python}` cannot import wandb ({why}); set SWEEP_TEST_PYTHON to a python with \
                 wandb (pip install 'wandb==0.31.*'), SWEEP_REQUIRE_WANDB=1 to fail instead"
            );
            None
        }
    }
}

/// A folder holding `python`, which runs `exe`: first on PATH, it is what
/// the agent's `${interpreter}` finds (a venv's python run by its full path
/// keeps its venv).
fn python_on_path(dir: &Path, exe: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let wrapper = bin.join("python");
    std::fs::write(&wrapper, format!("#!/bin/sh\nexec '{exe}' \"$@\"\n")).unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// Whether `unshare -rn` makes a network namespace here (no network at all).
fn unshare_works() -> bool {
    Command::new("unshare")
        .args(["-rn", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The training script as W&B's docs teach it: nothing of sweep in it.
const TRAIN_PY: &str = r#"import math
import time

import wandb


def main():
    wandb.init()
    lr = wandb.config.lr
    optimizer = wandb.config.optimizer
    # A made-up model: best at lr 0.01 with adam; far from it, clearly bad.
    quality = (math.log10(lr) + 2) ** 2 + (0.5 if optimizer == "sgd" else 0.0)
    for epoch in range(1, wandb.config.epochs + 1):
        for batch in range(3):
            wandb.log({"batch_loss": quality + 1.0 / epoch + batch})
        time.sleep(0.1)  # training
        val_loss = quality + 1.0 / epoch
        wandb.log({"epoch": epoch, "val_loss": val_loss, "train_loss": 0.9 * val_loss})
    wandb.finish()


if __name__ == "__main__":
    main()
"#;

const SWEEP_YAML: &str = "program: train.py
method: bayes
name: wbreal
run_cap: 10
metric:
  name: val_loss
  goal: minimize
early_terminate:
  type: hyperband
  min_iter: 1
parameters:
  lr:
    distribution: log_uniform_values
    min: 0.0001
    max: 1.0
  optimizer:
    values: [adam, sgd]
  epochs:
    value: 9
";

/// What train.py computes for these parameters at `epoch`.
fn val_loss(lr: f64, optimizer: &str, epoch: u32) -> f64 {
    (lr.log10() + 2.0).powi(2) + if optimizer == "sgd" { 0.5 } else { 0.0 } + 1.0 / f64::from(epoch)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn a_wandb_training_script_reports_through_wandb_log() {
    let Some(exe) = python_with_wandb() else { return };
    let dir = tempfile::tempdir().unwrap();
    let bin = python_on_path(dir.path(), &exe);
    std::fs::write(dir.path().join("train.py"), TRAIN_PY).unwrap();
    let spec = dir.path().join("sweep.yaml");
    std::fs::write(&spec, SWEEP_YAML).unwrap();

    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let isolated = unshare_works();
    let mut cmd = if isolated {
        let mut c = Command::new("unshare");
        c.arg("-rn").arg(assert_cmd::cargo::cargo_bin("sweep"));
        c
    } else {
        eprintln!("unshare -rn does not work here: wandb gets an address that refuses connections instead");
        Command::new(assert_cmd::cargo::cargo_bin("sweep"))
    };
    cmd.current_dir(dir.path()).args(["run", "--plain"]).arg(&spec);
    // Nothing of the caller's W&B setup leaks in: sweep sets what wandb needs.
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("WANDB_")
            || k.starts_with("SWEEP_WANDB")
            || ["PYTHONPATH", "RANK", "LOCAL_RANK", "NODE_RANK"].contains(&&*k)
        {
            cmd.env_remove(&key);
        }
    }
    cmd.env("PATH", path)
        .env("WANDB_CONFIG_DIR", dir.path().join("wandb-home/config"))
        .env("WANDB_CACHE_DIR", dir.path().join("wandb-home/cache"))
        .env("WANDB_DATA_DIR", dir.path().join("wandb-home/data"))
        .env("WANDB_BASE_URL", "http://127.0.0.1:9");
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let results = dir.path().join("results/wbreal");
    let rows = leaderboard(&results);
    assert_eq!(rows.len(), 10, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r["status"] == "completed" || r["status"] == "pruned"),
        "nothing failed: {rows:?}"
    );
    assert!(
        rows.iter().any(|r| r["status"] == "pruned"),
        "hyperband stopped a bad trial: {rows:?}"
    );
    // Ranked by val_loss, each the value train.py computes for the trial's
    // parameters at its best (last) epoch.
    let mut previous = f64::NEG_INFINITY;
    let mut epochs_run: HashMap<String, u32> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["rank"], (i + 1).to_string(), "{rows:?}");
        let lr: f64 = r["lr"].parse().unwrap();
        let n: u32 = r["epochs_run"].parse().unwrap();
        let value: f64 = r["val_loss"].parse().unwrap();
        assert!(value >= previous, "{rows:?}");
        previous = value;
        assert_eq!(r["best_epoch"], n.to_string(), "{r:?}");
        assert!(close(value, val_loss(lr, &r["optimizer"], n)), "{r:?}");
        if r["status"] == "completed" {
            assert_eq!(n, 9, "{r:?}");
        } else {
            assert!((1..=9).contains(&n), "{r:?}");
        }
        epochs_run.insert(r["trial_id"].clone(), n);
    }

    // epochs.csv holds the rows that had val_loss, one per epoch: the
    // per-batch rows are not epochs, and the logged `epoch` is sweep's own.
    let mut reader = csv::Reader::from_path(results.join("epochs.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, ["trial_id", "attempt", "epoch", "train_loss", "val_loss"]);
    let params: HashMap<&str, (f64, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["trial_id"].as_str(),
                (r["lr"].parse().unwrap(), r["optimizer"].as_str()),
            )
        })
        .collect();
    let mut seen: HashMap<String, Vec<u32>> = HashMap::new();
    for rec in reader.records() {
        let rec = rec.unwrap();
        let (id, epoch) = (rec[0].to_string(), rec[2].parse::<u32>().unwrap());
        let (lr, optimizer) = params[id.as_str()];
        let v: f64 = rec[4].parse().unwrap();
        assert!(close(v, val_loss(lr, optimizer, epoch)), "{rec:?}");
        assert!(close(rec[3].parse().unwrap(), 0.9 * v), "{rec:?}");
        seen.entry(id).or_default().push(epoch);
    }
    for (id, n) in &epochs_run {
        assert_eq!(seen[id], (1..=*n).collect::<Vec<_>>(), "{id}");
    }

    for r in &rows {
        let trial = results.join("trials").join(&r["trial_id"]);
        // The run is offline, in the trial's folder.
        let runs: Vec<String> = std::fs::read_dir(trial.join("wandb"))
            .unwrap_or_else(|e| panic!("{}: {e}", trial.join("wandb").display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            runs.iter().filter(|n| n.starts_with("offline-run-")).count(),
            1,
            "{runs:?}"
        );
        assert!(!runs.iter().any(|n| n.starts_with("run-")), "no online run: {runs:?}");
        // A finished run ends with a done event: its summary's last values.
        if r["status"] == "completed" {
            let log = std::fs::read_to_string(trial.join("stdout.log")).unwrap();
            let done: serde_json::Value = log
                .lines()
                .filter(|l| l.starts_with(r#"{"event":"done""#))
                .map(|l| serde_json::from_str(l).unwrap())
                .next_back()
                .unwrap_or_else(|| panic!("no done event in {log}"));
            let (lr, optimizer) = params[r["trial_id"].as_str()];
            assert!(
                close(done["val_loss"].as_f64().unwrap(), val_loss(lr, optimizer, 9)),
                "{done}"
            );
            assert_eq!(done["epoch"].as_f64(), Some(9.0), "{done}");
        }
    }
    assert!(!dir.path().join("wandb").exists(), "every run is in its trial's folder");
}

/// The shim's own tests (crates/sweep-sched/src/launcher/wandb_shim/test_shim.py):
/// W&B's row rules, the import hook on a stand-in wandb, chaining to another
/// sitecustomize; with wandb, the epochs printed against the rows wandb-core
/// wrote to the .wandb file.
#[test]
fn the_shim_rebuilds_wandb_history_rows() {
    let test = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sweep-sched/src/launcher/wandb_shim/test_shim.py");
    let python = python();
    let out = match Command::new(&python).arg(&test).output() {
        Ok(out) => out,
        Err(e) => {
            assert!(!required(), "SWEEP_REQUIRE_WANDB=1 but `{python}` does not run: {e}");
            eprintln!("skipped: `{python}` does not run: {e}");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{}\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    eprintln!("{stderr}");
}
