//! `sweep plan` on the example specs, end to end through the binary.

use assert_cmd::Command;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sweep(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("sweep")
        .unwrap()
        .current_dir(root())
        .args(args)
        .output()
        .unwrap()
}

fn stdout(args: &[&str]) -> String {
    let out = sweep(args);
    assert!(
        out.status.success(),
        "sweep {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn lr_sweep_plans_ten_trials() {
    let table = stdout(&["plan", "sweeps/lr.yaml"]);
    insta::assert_snapshot!(table);
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&["plan", "sweeps/lr.yaml", "--format", "json"])).unwrap();
    assert_eq!(json["count"], 10);
    assert_eq!(json["epoch_budget"], 30);
    let trials = json["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 10);
    let mut combos: Vec<String> = trials
        .iter()
        .map(|t| format!("{}-{}", t["params"]["lr"], t["params"]["optimizer"]))
        .collect();
    combos.sort();
    combos.dedup();
    assert_eq!(combos.len(), 10, "every lr x optimizer combination once");
}

#[test]
fn random_sweep_plans_run_cap_trials_identically_twice() {
    let first = stdout(&["plan", "sweeps/random.yaml", "--format", "csv"]);
    let second = stdout(&["plan", "sweeps/random.yaml", "--format", "csv"]);
    assert_eq!(first, second);
    let mut reader = csv::Reader::from_reader(first.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[..3], ["ordinal", "id", "seed"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 12, "run_cap: 12");
    let lr_col = header.iter().position(|h| h == "lr").unwrap();
    for row in &rows {
        let lr: f64 = row[lr_col].parse().unwrap();
        assert!((1e-4..=3e-2).contains(&lr), "lr {lr} outside the spec's range");
    }
    // The table says the same as the CSV.
    let table = stdout(&["plan", "sweeps/random.yaml"]);
    assert!(table.contains("12 trials, 24 epochs in all"), "{table}");
    assert!(table.contains(&rows[0][1]), "the table lists trial {}", &rows[0][1]);
}

#[test]
fn help_lists_the_commands() {
    let help = stdout(&["--help"]);
    assert!(help.contains("plan") && help.contains("params"), "{help}");
    let plan_help = stdout(&["plan", "--help"]);
    assert!(plan_help.contains("--format"), "{plan_help}");
    let params = stdout(&["params"]);
    for name in sweep_core::builtin::names() {
        assert!(params.contains(name), "`sweep params` lists {name}");
    }
}

#[test]
fn a_usage_error_exits_2() {
    let out = sweep(&["plan"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sweep(&["plan", "sweeps/lr.yaml", "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
}
