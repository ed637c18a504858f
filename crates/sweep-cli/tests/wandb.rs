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
    // Run from a directory without train.py: every trial would fail, so the
    // sweep is refused at `program:`'s line before it writes anything.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let out = sweep(&elsewhere).args(["run", "--plain"]).arg(&spec).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("error: program: no file `train.py` here"), "{stderr}");
    assert!(stderr.contains("sweep.yaml:2:10\n"), "{stderr}");
    assert!(!elsewhere.join("results").exists(), "nothing written");
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

/// Every W&B sweep file of the test set (sweep-spec/tests/fixtures/wandb:
/// the shapes public repositories write) plans and runs unedited: its
/// `program:` is a small script that reads the arguments the agent would
/// pass (whatever the command's macros make of them), `accelerate launch`
/// is a stand-in that runs the script, and a ranked leaderboard comes out.
/// `--count 3` bounds every sweep (and is what a random or bayes file with
/// no `run_cap` needs).
#[test]
fn every_wandb_fixture_plans_and_runs_through_a_script_that_reads_its_arguments() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sweep-spec/tests/fixtures/wandb");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run/wandb_any.py");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "{files:?}");
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let dir = tempfile::tempdir().unwrap();
        let spec_path = dir.path().join(&name);
        std::fs::copy(&file, &spec_path).unwrap();
        let spec = sweep_spec::parse(&std::fs::read_to_string(&file).unwrap(), &spec_path)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let sweep_spec::Trainer::Wandb { program, .. } = &spec.trainer else {
            panic!("{name}: not read as a W&B file");
        };
        let program = dir.path().join(program);
        std::fs::create_dir_all(program.parent().unwrap()).unwrap();
        std::fs::copy(&script, &program).unwrap();
        // `accelerate launch [--opts] script args...` runs the script here.
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let accelerate = bin.join("accelerate");
        std::fs::write(
            &accelerate,
            "#!/bin/sh\nshift\nwhile [ \"${1#--}\" != \"$1\" ]; do shift; done\nexec python3 \"$@\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&accelerate, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        // A literal `python` in a command, where the machine has python3 only.
        let python = bin.join("python");
        std::fs::write(&python, "#!/bin/sh\nexec python3 \"$@\"\n").unwrap();
        std::fs::set_permissions(&python, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());

        let plan = sweep(dir.path()).args(["plan"]).arg(&spec_path).output().unwrap();
        assert!(
            plan.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&plan.stderr)
        );
        let out = sweep(dir.path())
            .env("PATH", &path)
            .env("FAKE_METRIC", &spec.metric.name)
            .args(["run", "--plain", "--count", "3"])
            .arg(&spec_path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        let results = dir.path().join("results").join(&spec.name);
        let rows = leaderboard(&results);
        assert!(!rows.is_empty() && rows.len() <= 3, "{name}: {rows:?}");
        assert!(
            rows.iter()
                .all(|r| r["status"] == "completed" || r["status"] == "pruned"),
            "{name}: {rows:?}"
        );
        let ranks: Vec<&str> = rows.iter().map(|r| r["rank"].as_str()).collect();
        assert_eq!(ranks[0], "1", "{name}: {rows:?}");
        // Every trial's script received every top-level parameter (nested
        // groups arrive as one argument named after the group).
        for r in &rows {
            let got: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(results.join("trials").join(&r["trial_id"]).join("received.json")).unwrap(),
            )
            .unwrap();
            for p in &spec.parameters {
                // `${args_no_boolean_flags}` leaves a false flag out.
                if r.get(&p.name).is_some_and(|v| v.eq_ignore_ascii_case("false")) {
                    continue;
                }
                let top = p.name.split('.').next().unwrap();
                let args = got["args"].as_object().unwrap();
                assert!(
                    args.contains_key(&p.name)
                        || args.contains_key(top)
                        || args.contains_key(p.name.trim_start_matches('^')),
                    "{name}: {} not passed: {got}",
                    p.name
                );
            }
        }
    }
}
