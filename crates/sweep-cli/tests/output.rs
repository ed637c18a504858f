//! What a trial prints, end to end: gigabytes without a newline leave the
//! orchestrator's memory, the journal and the tables small and the logs
//! whole; Python's NaN reaches the journal; a malformed protocol line is
//! reported, not dropped silently.

mod common;

use common::{journal, leaderboard, start};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A spec for tests/fixtures/run/output.py, written into `dir`.
fn output_spec(dir: &Path, name: &str, modes: &str, mib: u64) -> PathBuf {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run/output.py");
    let text = format!(
        "name: {name}\nmethod: grid\nmetric: {{name: loss, goal: minimize}}\n\
         resources: {{cpus_per_trial: 0, max_concurrent: 3}}\n\
         trainer:\n  command: [python3, \"{}\", --mode, \"${{mode}}\", --mib, \"{mib}\"]\n\
         parameters:\n  mode: {{values: [{modes}]}}\n",
        fixture.display()
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The peak resident memory (VmHWM) of a process, in bytes, while it lives.
fn peak_memory(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Runs `sweep run --plain SPEC` in `dir` to its end; its stderr and the
/// last peak memory read before it exited.
fn run_measured(dir: &Path, spec: &Path) -> (std::process::ExitStatus, String, u64) {
    let mut child = start(dir, &["run", "--plain"], spec);
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let stdout = child.stdout.take().unwrap();
    let drain = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let mut peak = 0;
    let status = loop {
        // VmHWM only grows: the last reading before the exit is the peak.
        if let Some(p) = peak_memory(child.id()) {
            peak = peak.max(p);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drain.join().unwrap();
    (status, reader.join().unwrap(), peak)
}

const GIB_IN_MIB: u64 = 1024;

#[test]
fn gigabytes_without_a_newline_keep_memory_journal_and_tables_small() {
    let dir = tempfile::tempdir().unwrap();
    let spec = output_spec(
        dir.path(),
        "flood",
        "stderr_flood, stderr_flood_again, stdout_flood",
        GIB_IN_MIB,
    );
    let (status, stderr, peak) = run_measured(dir.path(), &spec);
    assert!(status.success(), "{stderr}");
    eprintln!("peak memory of `sweep run`: {} MiB", peak >> 20);
    assert!(peak > 0, "the peak memory was read");
    assert!(peak < 200 << 20, "the orchestrator held {} MiB", peak >> 20);

    let results = dir.path().join("results/flood");
    let board = leaderboard(&results);
    assert_eq!(board.len(), 3);
    for row in &board {
        let logs = results.join("trials").join(&row["trial_id"]);
        let size = |name: &str| std::fs::metadata(logs.join(name)).unwrap().len();
        assert!(row["error"].len() < 4096, "error of {} bytes", row["error"].len());
        if row["mode"] == "stdout_flood" {
            assert_eq!(row["status"], "completed", "{row:?}");
            assert_eq!(row["loss"], "0.5", "the events after the long line are read");
            let epoch = format!("{}\n", r#"{"event": "epoch", "epoch": 1, "loss": 0.5}"#);
            let done = format!("{}\n", r#"{"event": "done", "final_loss": 0.5}"#);
            assert_eq!(
                size("stdout.log"),
                (GIB_IN_MIB << 20) + 1 + (epoch.len() + done.len()) as u64,
                "stdout.log holds every byte"
            );
            let note = std::fs::read_to_string(logs.join("stderr.log")).unwrap();
            assert!(
                note.contains("sweep: a stdout line of 1073741824 bytes is longer than the limit"),
                "{note}"
            );
        } else {
            assert_eq!(row["status"], "failed", "{row:?}");
            assert!(row["error"].starts_with("exit code 1; stderr: "), "{}", row["error"]);
            assert!(row["error"].ends_with("Traceback: out of patience"), "{}", row["error"]);
            let end = "\rTraceback: out of patience";
            assert_eq!(
                size("stderr.log"),
                (GIB_IN_MIB << 20) + end.len() as u64,
                "stderr.log holds every byte"
            );
        }
    }
    for file in ["journal.jsonl", "leaderboard.csv", "epochs.csv"] {
        let len = std::fs::metadata(results.join(file)).unwrap().len();
        assert!(len < 64 << 10, "{file} is {len} bytes");
    }
    let text = std::fs::read_to_string(results.join("journal.jsonl")).unwrap();
    assert!(text.lines().all(|l| l.len() < 4096), "every journal line is small");
}

#[test]
fn python_nan_reaches_the_journal_and_malformed_lines_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let spec = output_spec(dir.path(), "nan", "nan", 1);
    let (status, stderr, _) = run_measured(dir.path(), &spec);
    assert!(status.success(), "{stderr}");
    let results = dir.path().join("results/nan");
    let board = leaderboard(&results);
    let id = board[0]["trial_id"].clone();
    // A non-finite value of the sweep's metric ends the trial as diverged.
    assert_eq!(board[0]["status"], "diverged", "{board:?}");
    assert!(board[0]["error"].contains("epoch 2: loss is NaN"), "{board:?}");

    // The NaN epoch is an epoch, with a NaN loss, in the journal and epochs.csv.
    let entries = journal(&results);
    let epoch2 = entries
        .iter()
        .find(|e| e["event"] == "epoch" && e["epoch"] == 2)
        .unwrap_or_else(|| panic!("no epoch 2 in {entries:?}"));
    assert_eq!(epoch2["metrics"]["loss"], "NaN");
    assert_eq!(epoch2["metrics"]["grad"], "Infinity");
    assert!(!entries.iter().any(|e| e["event"] == "epoch" && e["epoch"] == 3));
    let replay = sweep_results::Journal::replay(&results.join("journal.jsonl")).unwrap();
    let rec = &replay.trials[&sweep_core::TrialId::from_string(&id)];
    let (_, metrics) = rec.epochs.iter().find(|(e, _)| *e == 2).unwrap();
    assert!(metrics["loss"].is_nan());
    let mut epochs = csv::Reader::from_path(results.join("epochs.csv")).unwrap();
    let header = epochs.headers().unwrap().clone();
    let loss = header.iter().position(|h| h == "loss").unwrap();
    let rows: Vec<csv::StringRecord> = epochs.records().map(Result::unwrap).collect();
    assert_eq!(rows.iter().map(|r| &r[loss]).collect::<Vec<_>>(), ["0.75", "NaN"]);

    // The malformed line: on the terminal once, and in the trial's stderr.log.
    let said = format!("warning: trial {id}: ignored a malformed protocol line: EOF while parsing an object");
    assert_eq!(stderr.matches(&said).count(), 1, "{stderr}");
    let log = std::fs::read_to_string(results.join("trials").join(&id).join("stderr.log")).unwrap();
    assert!(
        log.contains(r#"sweep: ignored a malformed protocol line: EOF while parsing an object at line 1 column 42: {"event": "epoch", "epoch": 3, "loss": 0.5"#),
        "{log}"
    );
}
