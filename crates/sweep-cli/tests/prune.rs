//! Early stopping end to end: a `command:` trainer prints known curves, one
//! trial at a time, and the trials stopped (and the epoch of each stop) are
//! what each published rule gives, worked out by hand below.

mod common;

use common::{journal, leaderboard, start, sweep};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The curves (loss, minimized), in the order the trials run.
const CURVES: [(&str, &str); 6] = [
    ("A", "1.0,0.8,0.6,0.4"),
    ("B", "0.9,0.7,0.5,0.3"),
    ("C", "1.2,1.1,1.0,0.9"),
    ("D", "0.95,0.85,0.4,0.2"),
    ("E", "0.5,0.4,0.3,0.1"),
    ("F", "0.45,0.35,0.3,0.9"),
];

fn curve_spec(dir: &Path, name: &str, rule: &str, concurrent: u32) -> PathBuf {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/prune/curve.py");
    let values: Vec<String> = CURVES.iter().map(|(_, c)| format!("\"{c}\"")).collect();
    let text = format!(
        "name: {name}\nmethod: grid\nmetric: {{name: loss, goal: minimize}}\n\
         early_terminate: {rule}\n\
         resources: {{cpus_per_trial: 0, max_concurrent: {concurrent}}}\n\
         trainer:\n  command: [python3, \"{}\", \"${{curve}}\"]\n\
         parameters:\n  curve: {{values: [{}]}}\n",
        script.display(),
        values.join(", ")
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Trial letter -> (status, epoch of the stop if pruned).
fn outcome(results: &Path) -> BTreeMap<String, (String, Option<u64>)> {
    let letter = |curve: &str| CURVES.iter().find(|(_, c)| *c == curve).unwrap().0.to_string();
    let entries = journal(results);
    let stops: BTreeMap<String, u64> = entries
        .iter()
        .filter(|e| e["event"] == "stop_requested" && e["status"] == "pruned")
        .map(|e| {
            (
                e["trial"].as_str().unwrap().to_string(),
                e["pruning"]["epoch"].as_u64().unwrap(),
            )
        })
        .collect();
    leaderboard(results)
        .into_iter()
        .map(|r| {
            (
                letter(&r["curve"]),
                (r["status"].clone(), stops.get(&r["trial_id"]).copied()),
            )
        })
        .collect()
}

fn expect(pruned: &[(&str, u64)]) -> BTreeMap<String, (String, Option<u64>)> {
    CURVES
        .iter()
        .map(|(l, _)| {
            let p = pruned.iter().find(|(x, _)| x == l);
            (
                l.to_string(),
                match p {
                    Some((_, e)) => ("pruned".to_string(), Some(*e)),
                    None => ("completed".to_string(), None),
                },
            )
        })
        .collect()
}

fn run_rule(name: &str, rule: &str) -> BTreeMap<String, (String, Option<u64>)> {
    let dir = tempfile::tempdir().unwrap();
    let spec = curve_spec(dir.path(), name, rule, 1);
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    outcome(&dir.path().join("results").join(name))
}

/// Optuna's MedianPruner, n_startup_trials 2: a trial is stopped when its
/// best loss so far is above the median of the completed trials' losses at
/// the same epoch. C at epoch 1: 1.2 > median(1.0, 0.9) = 0.95. D: epoch 1,
/// 0.95 is not above 0.95; epoch 2, best 0.85 > median(0.8, 0.7) = 0.75.
/// E never. F: 0.45 < median(1.0, 0.9, 0.5) = 0.9; 0.35 < 0.7; 0.3 < 0.5;
/// epoch 4: best so far 0.3, median(0.4, 0.3, 0.1) = 0.3: not above.
#[test]
fn median_rule_by_hand() {
    let got = run_rule("median", "{type: median, n_startup_trials: 2}");
    assert_eq!(got, expect(&[("C", 1), ("D", 2)]));
}

/// Ray's ASHA, grace 1, rf 2, max_t 8: rungs at 1, 2, 4 (8 is never
/// reached); a cut needs 2 values already at the rung: the 50% quantile,
/// linear. C at rung 1: {1.0, 0.9} -> 0.95; 1.2 is worse. D: rung 1
/// {1.0, 0.9, 1.2} -> 1.0, 0.95 passes; rung 2 {0.8, 0.7} -> 0.75, 0.85
/// worse. E passes every rung. F: rung 1 (0.975), rung 2 ({0.8, 0.7, 0.85,
/// 0.4} -> 0.75) pass; rung 4 {0.4, 0.3, 0.1} -> 0.3: 0.9 is worse.
#[test]
fn asha_rule_by_hand() {
    let got = run_rule("asha", "{type: asha, grace_period: 1, reduction_factor: 2, max_t: 8}");
    assert_eq!(got, expect(&[("C", 1), ("D", 2), ("F", 4)]));
}

/// W&B's hyperband from min_iter 1, eta 2: bands 1, 2, 4. At a band the
/// threshold is element int(n/2) of the sorted values there (the judged
/// trial included). C, epoch 1: [0.9, 1.0, 1.2] -> 1.0; 1.2 is worse. D,
/// epoch 2: [0.7, 0.8, 0.85] -> 0.8; 0.85 worse. F, epoch 4: [0.1, 0.3,
/// 0.4, 0.9] -> 0.4; 0.9 worse.
#[test]
fn hyperband_from_min_iter_by_hand() {
    let got = run_rule("hbmin", "{type: hyperband, min_iter: 1, eta: 2}");
    assert_eq!(got, expect(&[("C", 1), ("D", 2), ("F", 4)]));
}

/// W&B's hyperband from max_iter 4, s 2, eta 2: bands int(4/2) = 2 and
/// int(4/4) = 1, so epochs 3 and 4 are judged at band 2: F's epoch-2 loss
/// 0.35 against [0.35, 0.4, 0.7, 0.8, 0.85] -> 0.7 passes, and F completes.
#[test]
fn hyperband_from_max_iter_and_s_by_hand() {
    let got = run_rule("hbmax", "{type: hyperband, max_iter: 4, s: 2, eta: 2}");
    assert_eq!(got, expect(&[("C", 1), ("D", 2)]));
}

/// Parallel trials and a kill -9 of the orchestrator: after the resume no
/// pruned trial runs again, every trial ends exactly once, and pruned ones
/// are ranked by their best value.
#[test]
fn pruned_trials_survive_a_kill_9_and_never_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let spec = curve_spec(
        dir.path(),
        "crash",
        "{type: asha, grace_period: 1, reduction_factor: 2, max_t: 8}",
        3,
    );
    let results = dir.path().join("results/crash");
    for delay in [1200u64, 1800] {
        let mut child = start(dir.path(), &["run", "--plain"], &spec);
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = leaderboard(&results);
    assert_eq!(rows.len(), 6);
    assert!(
        rows.iter()
            .all(|r| r["status"] == "completed" || r["status"] == "pruned"),
        "{rows:?}"
    );
    let entries = journal(&results);
    let mut pruned = std::collections::HashSet::new();
    for e in &entries {
        let trial = e["trial"].as_str().unwrap_or_default().to_string();
        match e["event"].as_str().unwrap() {
            "trial_started" => assert!(!pruned.contains(&trial), "{trial} ran again after it was pruned"),
            "trial_finished" if e["status"] == "pruned" => {
                pruned.insert(trial);
            }
            _ => {}
        }
    }
    assert!(!pruned.is_empty(), "no trial was pruned: {entries:#?}");
    // Pruned trials are ranked by their best value like completed ones.
    for r in rows.iter().filter(|r| r["status"] == "pruned") {
        assert!(!r["rank"].is_empty() && !r["loss"].is_empty(), "{r:?}");
    }
    let out = sweep(dir.path())
        .args(["show"])
        .arg(&results)
        .arg(rows.iter().find(|r| r["status"] == "pruned").unwrap()["trial_id"].as_str())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("stopped at epoch"), "{shown}");
}
