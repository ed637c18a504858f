//! Helpers shared by the end-to-end tests: the test trainer, specs for it,
//! the `sweep` binary and readers of a results folder.
#![allow(dead_code)] // each test binary uses its own subset

use assert_cmd::Command;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub fn trainer() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/run/trainer.py")
        .display()
        .to_string()
}

/// A spec for the test trainer, written into `dir`.
pub fn command_spec(dir: &Path, name: &str, params: &str, extra: &str) -> PathBuf {
    let text = format!(
        "name: {name}\nmethod: grid\nmetric: {{name: loss, goal: minimize}}\n{extra}\
         trainer:\n  command: [python3, \"{}\", --mode, \"${{mode}}\", --x, \"${{x}}\", --sleep, \"${{sleep}}\", --epochs, \"${{epochs}}\"]\n\
         parameters:\n{params}",
        trainer()
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts `sweep ARGS SPEC` in `dir` without waiting for it, output piped.
pub fn start(dir: &Path, args: &[&str], spec: &Path) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("sweep"))
        .current_dir(dir)
        .args(args)
        .arg(spec)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

pub fn sweep(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("sweep").unwrap();
    c.current_dir(dir);
    c
}

/// leaderboard.csv as maps from column to value, in file order.
pub fn leaderboard(results: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(results.join("leaderboard.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

pub fn journal(results: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(results.join("journal.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
