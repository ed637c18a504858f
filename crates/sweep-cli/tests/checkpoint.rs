//! Trials that continue from their checkpoints: a command trainer that keeps
//! the contract (tests/fixtures/checkpoint/train.py) killed with its
//! orchestrator, and a SLURM job that reaches its time limit.

mod common;

use common::{journal, leaderboard, start, sweep};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn trainer() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/checkpoint/train.py")
        .display()
        .to_string()
}

/// A one-trial spec for the checkpointing trainer.
fn spec(dir: &Path, file: &str, epochs: u32, sleep: f64, extra: &str) -> PathBuf {
    let text = format!(
        "name: ck\nmethod: grid\nmetric: {{name: loss, goal: minimize}}\n{extra}\
         trainer:\n  command: [python3, \"{}\", --x, \"${{x}}\", --epochs, \"{epochs}\", --sleep, \"{sleep}\"]\n\
         parameters:\n  x: {{value: 0.3}}\n",
        trainer()
    );
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// epochs.csv without the attempt column: (epoch, loss, state) per row.
fn curve(results: &Path) -> Vec<(String, String, String)> {
    let mut r = csv::Reader::from_path(results.join("epochs.csv")).unwrap();
    let h: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (e, l, s) = (col("epoch"), col("loss"), col("state"));
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[e].to_string(), rec[l].to_string(), rec[s].to_string())
        })
        .collect()
}

/// The epochs each attempt reported, from the journal.
fn epochs_by_attempt(results: &Path) -> Vec<(u64, u64)> {
    journal(results)
        .iter()
        .filter(|e| e["event"] == "epoch")
        .map(|e| (e["attempt"].as_u64().unwrap(), e["epoch"].as_u64().unwrap()))
        .collect()
}

fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < within, "waited {within:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn checkpointed(results: &Path, epoch: u64) -> bool {
    std::fs::read_to_string(results.join("journal.jsonl")).is_ok_and(|j| {
        j.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|e| e["event"] == "checkpointed" && e["epoch"] == epoch)
    })
}

/// Kill -9 of the orchestrator during epoch 4 of 6, then `sweep run`
/// again: the trial continues after its epoch-3 checkpoint, trains only
/// epochs 4-6, and its curve is bit for bit the uninterrupted run's.
#[test]
fn a_command_trainer_killed_with_its_orchestrator_continues_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), "ck.yaml", 6, 0.4, "");
    let out = sweep(dir.path())
        .args(["run", "--plain", "--results", "whole"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let whole = dir.path().join("whole/ck");
    assert_eq!(epochs_by_attempt(&whole), (1..=6).map(|e| (1, e)).collect::<Vec<_>>());

    let cut = dir.path().join("cut/ck");
    let mut child = start(dir.path(), &["run", "--plain", "--results", "cut"], &spec);
    wait_for("the epoch-3 checkpoint", Duration::from_secs(60), || {
        checkpointed(&cut, 3)
    });
    std::thread::sleep(Duration::from_millis(150)); // into epoch 4
    child.kill().unwrap(); // SIGKILL: the trainer dies with it
    child.wait().unwrap();
    assert!(!checkpointed(&cut, 4), "killed during epoch 4");

    let out = sweep(dir.path())
        .args(["run", "--plain", "--results", "cut"])
        .arg(&spec)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("continues from its checkpoint after epoch 3"),
        "{stderr}"
    );
    // Attempt 2 trained epochs 4-6 only.
    let by_attempt = epochs_by_attempt(&cut);
    let second: Vec<u64> = by_attempt.iter().filter(|(a, _)| *a == 2).map(|(_, e)| *e).collect();
    assert_eq!(second, vec![4, 5, 6], "{by_attempt:?}");
    let resumed: Vec<_> = journal(&cut).into_iter().filter(|e| e["event"] == "resumed").collect();
    assert_eq!(resumed.len(), 1);
    assert_eq!(
        (resumed[0]["attempt"].as_u64(), resumed[0]["epoch"].as_u64()),
        (Some(2), Some(3))
    );
    // The same curve and result as the run that was never cut.
    assert_eq!(curve(&cut), curve(&whole));
    let (a, b) = (leaderboard(&cut), leaderboard(&whole));
    assert_eq!(a[0]["status"], "completed");
    assert_eq!(a[0]["loss"], b[0]["loss"]);
    assert_eq!(a[0]["best_epoch"], b[0]["best_epoch"]);
    // `sweep show` says it continued, and what the checkpoints cost.
    let out = sweep(dir.path())
        .args(["show", "cut/ck", &a[0]["trial_id"]])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        shown.contains("checkpoints: 6 written (last after epoch 6, "),
        "{shown}"
    );
    assert!(shown.contains("continued 1 time: attempt 2 from epoch 3"), "{shown}");
}

/// A built-in trial of 6 epochs (dropout and a cosine schedule, so the
/// random streams and the schedule's position matter) run once through.
fn builtin_spec(dir: &Path, file: &str) -> PathBuf {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data");
    let text = [
        "name: bk",
        "method: grid",
        "metric: {name: val_accuracy, goal: maximize}",
        "trainer:",
        "  train_limit: 6000",
        "  val_size: 1000",
        "  test_limit: 500",
        &format!("  data_dir: {}", data.display()),
        "  dropout: 0.2",
        "  lr_schedule: cosine",
        "parameters:",
        "  lr: {value: 0.003}",
        "  epochs: {value: 6}",
        "",
    ]
    .join("\n");
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// Timings (samples_per_sec, seconds): the only values that differ between
/// two runs of the same trial.
fn is_timing(name: &str) -> bool {
    name.contains("per_sec") || name.contains("seconds")
}

/// epochs.csv rows without the attempt column and timings, every metric as
/// written.
fn rows(results: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(results.join("epochs.csv")).unwrap();
    let h: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            rec.unwrap()
                .iter()
                .enumerate()
                .filter(|(i, _)| h[*i] != "attempt" && !is_timing(&h[*i]))
                .map(|(_, v)| v.to_string())
                .collect()
        })
        .collect()
}

/// The test: kill -9 of the orchestrator during epoch 4 of a
/// 6-epoch built-in trial, then `sweep run` again. The trial trains only
/// epochs 4-6 again, and its final metrics and epochs.csv rows are bit for
/// bit those of an uninterrupted run.
#[test]
fn a_builtin_trial_killed_during_epoch_4_continues_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let spec = builtin_spec(dir.path(), "bk.yaml");
    let out = sweep(dir.path())
        .args(["run", "--plain", "--results", "whole"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let whole = dir.path().join("whole/bk");

    let cut = dir.path().join("cut/bk");
    let mut child = start(dir.path(), &["run", "--plain", "--results", "cut"], &spec);
    wait_for("the epoch-3 checkpoint", Duration::from_secs(300), || {
        checkpointed(&cut, 3)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!checkpointed(&cut, 4), "killed during epoch 4");
    let out = sweep(dir.path())
        .args(["run", "--plain", "--results", "cut"])
        .arg(&spec)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let entries = journal(&cut);
    let of_attempt = |event: &str, attempt: u64| -> Vec<u64> {
        entries
            .iter()
            .filter(|e| e["event"] == event && e["attempt"] == attempt)
            .map(|e| e["epoch"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(of_attempt("resumed", 2), vec![3]);
    // The trainer never checkpoints its last epoch (the test set is scored
    // right after it): attempt 2 saved 4 and 5, and trained 4-6.
    assert_eq!(
        of_attempt("checkpointed", 2),
        vec![4, 5],
        "only epochs 4-6 trained again"
    );
    assert_eq!(rows(&cut), rows(&whole));
    let (a, b) = (leaderboard(&cut), leaderboard(&whole));
    assert_eq!(a[0]["status"], "completed");
    assert_eq!(
        (&a[0]["val_accuracy"], &a[0]["best_epoch"]),
        (&b[0]["val_accuracy"], &b[0]["best_epoch"])
    );
    // The final metrics (test set, best epoch) exactly, as journaled.
    let last = |results: &Path| {
        let mut m = journal(results)
            .into_iter()
            .rev()
            .find(|e| e["event"] == "trial_finished")
            .unwrap()["metrics"]
            .clone();
        m.as_object_mut().unwrap().retain(|k, _| !is_timing(k));
        m
    };
    let final_metrics = last(&cut);
    assert!(final_metrics.get("test_accuracy").is_some(), "{final_metrics}");
    assert_eq!(final_metrics, last(&whole));
}

/// `checkpoint: false`: no folder is named, and a trial killed with its
/// orchestrator starts again from epoch 1.
#[test]
fn without_checkpoints_a_killed_trial_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), "ck.yaml", 4, 0.3, "checkpoint: false\n");
    let results = dir.path().join("results/ck");
    let mut child = start(dir.path(), &["run", "--plain"], &spec);
    wait_for("epoch 2", Duration::from_secs(60), || {
        std::fs::read_to_string(results.join("journal.jsonl")).is_ok_and(|j| j.contains("\"epoch\":2,"))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let second: Vec<u64> = epochs_by_attempt(&results)
        .into_iter()
        .filter(|(a, _)| *a == 2)
        .map(|(_, e)| e)
        .collect();
    assert_eq!(second, vec![1, 2, 3, 4]);
    assert!(!checkpointed(&results, 1));
    assert!(
        !results
            .join("trials")
            .read_dir()
            .unwrap()
            .any(|t| t.unwrap().path().join("checkpoint").exists())
    );
}

/// Whether a cluster answers; panics when one is required and none does.
fn cluster() -> bool {
    let up = std::process::Command::new("sinfo")
        .args(["-h", "-o", "%t"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    if !up {
        assert!(
            std::env::var_os("SWEEP_REQUIRE_SLURM").is_none(),
            "SWEEP_REQUIRE_SLURM is set but no SLURM cluster answers (scripts/slurm-local-start)"
        );
        eprintln!("no SLURM cluster (sinfo): skipped; scripts/slurm-local-start starts one");
    }
    up
}

/// A trial that trains about three times its job's time limit (one
/// minute, SLURM's smallest) finishes across several jobs: each gets
/// SIGUSR1 before its limit (SLURM sends it up to a minute early: with a
/// one-minute limit, `signal_before: 5s` lands 25-55 s in), saves and
/// stops, and the orchestrator submits the next job, which continues from
/// the checkpoint. One journaled job per
/// continuation; the metrics are those of the same trial run locally in one
/// go.
#[test]
fn a_slurm_trial_longer_than_its_time_limit_finishes_across_jobs() {
    if !cluster() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let slurm = spec(
        dir.path(),
        "slurm.yaml",
        60,
        3.0,
        "launcher: slurm\nslurm: {time: \"1\"}\ncheckpoint: {signal_before: 5s}\n",
    );
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&slurm).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let results = dir.path().join("results/ck");
    let entries = journal(&results);
    let jobs: Vec<&serde_json::Value> = entries.iter().filter(|e| e["event"] == "launched").collect();
    let continued = entries
        .iter()
        .filter(|e| e["event"] == "trial_finished" && e["continued"] == true)
        .count();
    assert!(jobs.len() >= 3, "{} jobs: {stderr}", jobs.len());
    assert_eq!(continued, jobs.len() - 1, "one job per continuation");
    let board = leaderboard(&results);
    assert_eq!(board[0]["status"], "completed", "{board:?}");
    assert!(stderr.contains("neared its time limit"), "{stderr}");

    // The same trial, locally, in one go (no sleeping: the same numbers).
    let local = spec(dir.path(), "local.yaml", 60, 0.0, "");
    let out = sweep(dir.path())
        .args(["run", "--plain", "--results", "local"])
        .arg(&local)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let here = dir.path().join("local/ck");
    assert_eq!(curve(&results), curve(&here));
    assert_eq!(board[0]["loss"], leaderboard(&here)[0]["loss"]);
    // `sweep status` counts the continuations.
    let out = sweep(dir.path()).args(["status", "results/ck"]).output().unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.contains(&format!("1 trials continued {continued} times")),
        "{status}"
    );
}
