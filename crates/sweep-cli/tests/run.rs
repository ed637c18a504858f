//! `sweep run` end to end: command trainers, every way a trial can end, kill
//! -9 and resume, Ctrl-C, changed specs, the built-in trainer.

mod common;

use common::{command_spec, journal, leaderboard, start, sweep};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn a_command_trainer_is_swept_and_its_lines_become_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let spec = command_spec(
        dir.path(),
        "cmd",
        "  mode: {value: ok}\n  x: {values: [1, 2.5, 3, 4]}\n  sleep: {value: 0}\n  epochs: {value: 3}\n",
        "resources: {cpus_per_trial: 1}\n",
    );
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let results = dir.path().join("results/cmd");
    let board = leaderboard(&results);
    assert_eq!(board.len(), 4);
    let order: Vec<(&str, &str, &str)> = board
        .iter()
        .map(|r| (r["rank"].as_str(), r["x"].as_str(), r["status"].as_str()))
        .collect();
    assert_eq!(
        order,
        [
            ("1", "3", "completed"),
            ("2", "2.5", "completed"),
            ("3", "4", "completed"),
            ("4", "1", "completed")
        ]
    );
    assert_eq!(board[0]["loss"], format!("{}", 1.0 / 3.0), "best epoch's loss");
    assert_eq!(board[0]["best_epoch"], "3");
    let mut epochs = csv::Reader::from_path(results.join("epochs.csv")).unwrap();
    assert_eq!(
        epochs.headers().unwrap().iter().collect::<Vec<_>>(),
        ["trial_id", "attempt", "epoch", "loss", "seconds", "x"]
    );
    assert_eq!(epochs.records().count(), 12, "4 trials x 3 epochs");
    // The trial's stdout is kept, log lines and all.
    let id = &board[0]["trial_id"];
    let log = std::fs::read_to_string(results.join("trials").join(id).join("stdout.log")).unwrap();
    assert!(log.starts_with("a log line that is not an event\n"), "{log}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("4 completed") && stdout.contains("best: "), "{stdout}");
}

#[test]
fn every_way_a_trial_ends_is_recorded_while_the_rest_completes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = command_spec(
        dir.path(),
        "modes",
        "  mode: {values: [ok, panic, sigkill, hang, diverge, flaky]}\n  x: {value: 2}\n  sleep: {value: 0.05}\n  epochs: {value: 3}\n",
        // 4 s: under a loaded test run, python alone can take a second to start.
        "timeout: 4s\nretries: 1\nresources: {cpus_per_trial: 0, max_concurrent: 6}\n",
    );
    let out = sweep(dir.path())
        .args(["run", "--plain", "--grace", "0.5"])
        .arg(&spec)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let board = leaderboard(&dir.path().join("results/modes"));
    let by_mode: HashMap<&str, &HashMap<String, String>> = board.iter().map(|r| (r["mode"].as_str(), r)).collect();
    let status = |m: &str| by_mode[m]["status"].as_str();
    assert_eq!(status("ok"), "completed");
    assert_eq!(status("flaky"), "completed", "a retry recovered it");
    assert_eq!(by_mode["flaky"]["attempts"], "2");
    assert_eq!(status("panic"), "failed");
    assert!(by_mode["panic"]["error"].contains("exit code 101") && by_mode["panic"]["error"].contains("panicked"));
    assert_eq!(by_mode["panic"]["attempts"], "2", "retried once");
    assert_eq!(status("sigkill"), "failed");
    assert!(
        by_mode["sigkill"]["error"].contains("killed by signal 9 (SIGKILL)"),
        "{:?}",
        by_mode["sigkill"]
    );
    assert_eq!(status("hang"), "timed_out");
    assert!(by_mode["hang"]["error"].contains("timeout of 4s"));
    assert_eq!(status("diverge"), "diverged", "{:?}", by_mode["diverge"]);
    assert_eq!(by_mode["diverge"]["attempts"], "1", "divergence is not retried");
    // Ranked: only the completed ones.
    assert_eq!(board.iter().filter(|r| !r["rank"].is_empty()).count(), 2);
}

/// A broken trainer: the first 5 trials to end all fail (`max_initial_failures`,
/// default 5, as W&B's agent), so the sweep starts nothing more, says what
/// the first failure was and how to start over, and exits 1; what ran is in
/// the tables. A run whose few trials all failed exits 1 as well.
#[test]
fn a_trainer_that_always_fails_stops_the_sweep_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let spec = command_spec(
        dir.path(),
        "broken",
        "  mode: {value: panic}\n  x: {values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]}\n  sleep: {value: 0}\n  epochs: {value: 3}\n",
        "resources: {cpus_per_trial: 0, max_concurrent: 1}\n",
    );
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: the first 5 trials to end all failed, so no new trial started"),
        "{stderr}"
    );
    // The first failure's exit status and the last line of its stderr.
    assert!(
        stderr.contains("exit code 101; stderr: thread 'main' panicked at src/train.rs:12:5: … index out of bounds"),
        "{stderr}"
    );
    assert!(stderr.contains("--restart"), "{stderr}");
    let board = leaderboard(&dir.path().join("results/broken"));
    let count = |s: &str| board.iter().filter(|r| r["status"] == s).count();
    assert_eq!((count("failed"), count("pending")), (5, 7), "{board:?}");

    // Fewer trials than the limit, all failed; and the check turned off.
    for (name, extra) in [("few", ""), ("unchecked", "max_initial_failures: 0\n")] {
        let x = if name == "few" { "[1, 2]" } else { "[1, 2, 3, 4, 5, 6]" };
        let spec = command_spec(
            dir.path(),
            name,
            &format!("  mode: {{value: panic}}\n  x: {{values: {x}}}\n  sleep: {{value: 0}}\n  epochs: {{value: 3}}\n"),
            &format!("{extra}resources: {{cpus_per_trial: 0, max_concurrent: 2}}\n"),
        );
        let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let n = if name == "few" { 2 } else { 6 };
        assert!(
            stderr.contains(&format!("error: every trial that ended in this run failed ({n})")),
            "{stderr}"
        );
        let board = leaderboard(&dir.path().join("results").join(name));
        assert!(
            board.iter().all(|r| r["status"] == "failed") && board.len() == n,
            "{board:?}"
        );
    }
}

/// Kill -9 the orchestrator at several moments, run again each time: every
/// trial ends up exactly once in the leaderboard, the CSVs always parse, and
/// no trial that had completed ever starts again.
#[test]
fn kill_9_at_any_moment_then_resume() {
    let dir = tempfile::tempdir().unwrap();
    let spec = command_spec(
        dir.path(),
        "crash",
        "  mode: {value: ok}\n  x: {values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}\n  sleep: {value: 0.1}\n  epochs: {value: 3}\n",
        "resources: {cpus_per_trial: 0, max_concurrent: 3}\n",
    );
    let results = dir.path().join("results/crash");
    for delay_ms in [150u64, 400, 900, 250, 1300] {
        let mut child = start(dir.path(), &["run", "--plain"], &spec);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        if results.join("leaderboard.csv").exists() {
            let board = leaderboard(&results);
            assert_eq!(board.len(), 10, "mid-run, the leaderboard is whole");
        }
    }
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let board = leaderboard(&results);
    assert_eq!(board.len(), 10);
    let mut ids: Vec<&str> = board.iter().map(|r| r["trial_id"].as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10, "every trial exactly once");
    assert!(board.iter().all(|r| r["status"] == "completed"), "{board:?}");
    let mut epochs = csv::Reader::from_path(results.join("epochs.csv")).unwrap();
    assert_eq!(epochs.records().map(Result::unwrap).count(), 30);
    // Nothing that completed ran again.
    let mut completed: HashMap<String, bool> = HashMap::new();
    for e in journal(&results) {
        let trial = e["trial"].as_str().unwrap_or_default().to_string();
        match e["event"].as_str().unwrap() {
            "trial_started" => assert!(
                !completed.get(&trial).copied().unwrap_or(false),
                "{trial} ran again after completing"
            ),
            "trial_finished" if e["status"] == "completed" => {
                completed.insert(trial, true);
            }
            _ => {}
        }
    }
}

#[test]
fn ctrl_c_stops_gracefully_and_the_sweep_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = command_spec(
        dir.path(),
        "intr",
        "  mode: {value: ok}\n  x: {values: [0, 1, 2, 3, 4, 5]}\n  sleep: {value: 0.3}\n  epochs: {value: 3}\n",
        "resources: {cpus_per_trial: 0, max_concurrent: 2}\n",
    );
    let child = start(dir.path(), &["run", "--plain", "--grace", "2"], &spec);
    std::thread::sleep(Duration::from_millis(700));
    // SAFETY: sends SIGINT to the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(5));
    let results = dir.path().join("results/intr");
    let board = leaderboard(&results);
    assert_eq!(board.len(), 6);
    assert!(board.iter().any(|r| r["status"] == "interrupted"), "{board:?}");
    assert!(
        board.iter().any(|r| r["status"] == "pending"),
        "nothing new started after Ctrl-C: {board:?}"
    );
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    assert!(out.status.success());
    assert!(leaderboard(&results).iter().all(|r| r["status"] == "completed"));
}

#[test]
fn a_changed_spec_is_refused_and_restart_keeps_the_old_results() {
    let dir = tempfile::tempdir().unwrap();
    let params = "  mode: {value: ok}\n  x: {values: [1, 2]}\n  sleep: {value: 0}\n  epochs: {value: 1}\n";
    let spec = command_spec(dir.path(), "chg", params, "");
    assert!(
        sweep(dir.path())
            .args(["run", "--plain"])
            .arg(&spec)
            .output()
            .unwrap()
            .status
            .success()
    );
    // Same spec again: nothing runs twice.
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("resuming: 2 already done"));
    let changed = command_spec(
        dir.path(),
        "chg",
        "  mode: {value: ok}\n  x: {values: [1, 2, 5]}\n  sleep: {value: 0}\n  epochs: {value: 1}\n",
        "",
    );
    let out = sweep(dir.path())
        .args(["run", "--plain"])
        .arg(&changed)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the trials differ: 1 new, 0 gone") && stderr.contains("--restart"),
        "{stderr}"
    );
    let out = sweep(dir.path())
        .args(["run", "--plain", "--restart"])
        .arg(&changed)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(leaderboard(&dir.path().join("results/chg")).len(), 3);
    let aside: Vec<_> = std::fs::read_dir(dir.path().join("results"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("chg.old-"))
        .collect();
    assert_eq!(aside.len(), 1, "the old folder is kept");
    assert_eq!(leaderboard(&dir.path().join("results").join(&aside[0])).len(), 2);
}

#[test]
fn trials_that_can_never_fit_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let spec = command_spec(
        dir.path(),
        "big",
        "  mode: {value: ok}\n  x: {value: 1}\n  sleep: {value: 0}\n  epochs: {value: 1}\n",
        "resources: {gpus_per_trial: 1}\n",
    );
    let out = sweep(dir.path())
        .env("CUDA_VISIBLE_DEVICES", "")
        .args(["run", "--plain"])
        .arg(&spec)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("none was found"));
    assert!(!dir.path().join("results/big").exists(), "nothing written");
}

/// A `command:` whose program is misspelt, missing or not executable fails
/// every trial; it is refused with the spec's line before the results folder
/// exists. A program found only on the trainer's own PATH runs.
#[test]
fn a_program_that_cannot_start_is_refused_with_its_line() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let script = "#!/bin/sh\necho '{\"event\":\"done\",\"loss\":1}'\n";
    std::fs::write(dir.path().join("plain.sh"), script).unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(bin.join("own-trainer"), script).unwrap();
    std::fs::set_permissions(bin.join("own-trainer"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let spec = |name: &str, trainer: &str| {
        let path = dir.path().join(format!("{name}.yaml"));
        let text = format!(
            "name: {name}\nmethod: grid\nmetric: {{name: loss, goal: minimize}}\n\
             trainer: {trainer}\nparameters:\n  x: {{values: [1, 2]}}\n"
        );
        std::fs::write(&path, text).unwrap();
        path
    };
    for (name, trainer, why) in [
        (
            "typo",
            "{command: [pyhton3, t.py, \"${x}\"]}",
            "no program `pyhton3` on PATH",
        ),
        (
            "gone",
            "{command: [./gone.sh, \"${x}\"]}",
            "`./gone.sh` cannot be started: No such file",
        ),
        (
            "plain",
            "{command: [./plain.sh, \"${x}\"]}",
            "`./plain.sh` is not executable",
        ),
        (
            "dir",
            "{command: [./bin, \"${x}\"]}",
            "`./bin` is a directory, not a program",
        ),
        (
            "elsewhere",
            "{command: [own-trainer, \"${x}\"]}",
            "no program `own-trainer` on PATH",
        ),
    ] {
        let out = sweep(dir.path())
            .args(["run", "--plain"])
            .arg(spec(name, trainer))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("error: trainer.command[0]: {why}")),
            "{name}: {stderr}"
        );
        assert!(stderr.contains(&format!("{name}.yaml:4:21\n")), "{name}: {stderr}");
        assert!(
            !dir.path().join("results").join(name).exists(),
            "{name}: nothing written"
        );
    }
    // The trainer's own PATH finds it; so does its path.
    let own_path = format!(
        "{{command: [own-trainer, \"${{x}}\"], env: {{PATH: \"{}\"}}}}",
        bin.display()
    );
    let by_path = "{command: [bin/own-trainer, \"${x}\"]}";
    for (name, trainer) in [("own", own_path.as_str()), ("by-path", by_path)] {
        let out = sweep(dir.path())
            .args(["run", "--plain"])
            .arg(spec(name, trainer))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        let board = leaderboard(&dir.path().join("results").join(name));
        assert!(
            board.iter().all(|r| r["status"] == "completed") && board.len() == 2,
            "{board:?}"
        );
    }
}

#[test]
fn the_builtin_trainer_sweep_writes_a_ranked_leaderboard() {
    let dir = tempfile::tempdir().unwrap();
    // sweeps/lr.yaml on a small slice of MNIST.
    let text = std::fs::read_to_string(root().join("sweeps/lr.yaml"))
        .unwrap()
        .replace(
            "  momentum: 0.9",
            &format!(
                "  momentum: 0.9\n  train_limit: 600\n  val_size: 300\n  test_limit: 200\n  data_dir: {}",
                root().join("data").display()
            ),
        )
        .replace("    value: 3", "    value: 1");
    let spec = dir.path().join("lr.yaml");
    std::fs::write(&spec, text).unwrap();
    let out = sweep(dir.path())
        .args(["run", "--plain", "--cpus", "2"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let board = leaderboard(&dir.path().join("results/lr"));
    assert_eq!(board.len(), 10);
    let ranks: Vec<&str> = board.iter().map(|r| r["rank"].as_str()).collect();
    assert_eq!(ranks, ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
    assert!(board.iter().all(|r| r["device"] == "cpu" && r["epochs_run"] == "1"));
    let trial_json = dir
        .path()
        .join("results/lr/trials")
        .join(&board[0]["trial_id"])
        .join("trial.json");
    let file: sweep_core::TrialFile = serde_json::from_str(&std::fs::read_to_string(trial_json).unwrap()).unwrap();
    assert_eq!(
        file.params["hidden"].to_string(),
        "[128]",
        "the trainer's fixed settings reach the worker"
    );
    // The review commands on real results.
    let review = |args: &[&str]| {
        let out = sweep(dir.path()).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let top = review(&[
        "leaderboard",
        "lr",
        "--top",
        "3",
        "--columns",
        "rank,trial_id,lr,optimizer",
    ]);
    assert_eq!(top.lines().count(), 5, "header, 3 rows, a note: {top}");
    assert!(review(&["show", "lr", "1"]).contains("val_accuracy"));
    let plots = review(&["plot", "lr"]);
    // lr and optimizer vary; batch_size and epochs do not.
    assert!(plots.starts_with("4 figures of 10 completed trials"), "{plots}");
    assert!(dir.path().join("results/lr/plots/val_accuracy_vs_lr.png").exists());
    review(&["report", "lr"]);
    let html = std::fs::read_to_string(dir.path().join("results/lr/report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 4);
}

/// Whether process `pid` is gone (or a zombie, dead and waiting to be reaped).
fn is_dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat.rsplit(')').next().and_then(|s| s.split_whitespace().next()) == Some("Z"),
    }
}

/// Waits until every trial of `results` has written its pid, and returns them.
fn trial_pids(results: &Path, n: usize) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pids: Vec<i32> = std::fs::read_dir(results.join("trials"))
            .into_iter()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.unwrap().path().join("pid")).ok())
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        if pids.len() == n {
            return pids;
        }
        assert!(Instant::now() < deadline, "the trials did not start: {pids:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_dead(pids: &[i32], within: Duration) {
    let deadline = Instant::now() + within;
    while !pids.iter().all(|&p| is_dead(p)) {
        if Instant::now() > deadline {
            for &p in pids {
                // SAFETY: kills the test's own leftover trial processes.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            panic!("trial processes outlived the orchestrator: {pids:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_second_ctrl_c_kills_trials_that_ignore_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let spec = command_spec(
        dir.path(),
        "stubborn",
        "  mode: {value: stubborn}\n  x: {values: [1, 2]}\n  sleep: {value: 0}\n  epochs: {value: 1}\n",
        "resources: {cpus_per_trial: 0, max_concurrent: 2}\n",
    );
    let child = start(dir.path(), &["run", "--plain", "--grace", "60"], &spec);
    let results = dir.path().join("results/stubborn");
    let pids = trial_pids(&results, 2);
    let sigint = || {
        // SAFETY: sends SIGINT to the child we started.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    };
    sigint();
    // The trials ignore the SIGTERM of a graceful stop: the grace (60 s) runs.
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        pids.iter().all(|&p| !is_dead(p)),
        "graceful: no SIGKILL before the grace ends"
    );
    let second = Instant::now();
    sigint();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        second.elapsed() < Duration::from_secs(10),
        "the second Ctrl-C did not wait out the grace"
    );
    assert!(stderr.contains("second interrupt: killing running trials"), "{stderr}");
    wait_dead(&pids, Duration::from_secs(2));
    let board = leaderboard(&results);
    assert!(board.iter().all(|r| r["status"] == "interrupted"), "{board:?}");
}

#[test]
fn trials_die_with_an_orchestrator_killed_by_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let spec = command_spec(
        dir.path(),
        "orphans",
        "  mode: {value: stubborn}\n  x: {values: [1, 2, 3]}\n  sleep: {value: 0}\n  epochs: {value: 1}\n",
        "resources: {cpus_per_trial: 0, max_concurrent: 3}\n",
    );
    let mut child = start(dir.path(), &["run", "--plain"], &spec);
    let pids = trial_pids(&dir.path().join("results/orphans"), 3);
    child.kill().unwrap();
    child.wait().unwrap();
    // Left running, they would hold their GPUs and be started again by a resume.
    wait_dead(&pids, Duration::from_secs(5));
}

/// Runs `sweep run` with its stderr on a pseudo-terminal and returns what the
/// terminal received, and the exit status.
fn run_on_a_terminal(dir: &Path, spec: &Path) -> (String, std::process::ExitStatus) {
    use std::io::Read;
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two new descriptors into master and slave.
    let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
    assert_eq!(rc, 0, "openpty failed");
    // SAFETY: both descriptors were just opened and are owned here alone.
    let (mut master, slave) = unsafe { (std::fs::File::from_raw_fd(master), std::fs::File::from_raw_fd(slave)) };
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once the last holder of the terminal's other end has closed it.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("sweep"))
        .current_dir(dir)
        .args(["run", "--results", "results"])
        .arg(spec)
        .env("TERM", "xterm-256color")
        .stdout(Stdio::null())
        .stderr(slave)
        .spawn()
        .unwrap();
    let status = child.wait().unwrap();
    (reader.join().unwrap(), status)
}

/// The text of terminal output, its escape sequences (`ESC [ ... letter`) removed.
fn strip_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn on_a_terminal_the_display_shows_progress_and_a_line_per_running_trial() {
    let dir = tempfile::tempdir().unwrap();
    let spec = command_spec(
        dir.path(),
        "tty",
        "  mode: {value: ok}\n  x: {values: [1, 2, 3]}\n  sleep: {value: 0.4}\n  epochs: {value: 3}\n",
        "resources: {cpus_per_trial: 0, max_concurrent: 2}\n",
    );
    let (raw, status) = run_on_a_terminal(dir.path(), &spec);
    // Cursor movement and styles: lines are redrawn in place, not appended.
    assert!(
        raw.contains("\u{1b}[1A") && raw.contains("\u{1b}[2K"),
        "no redrawing: {raw}"
    );
    let screen = strip_escapes(&raw);
    assert!(status.success(), "{screen}");
    // The overall bar, with an ETA.
    assert!(
        screen.contains("sweep [") && screen.contains("/3 trials") && screen.contains("eta"),
        "{screen}"
    );
    // A line per running trial: its parameters, device, epoch and metric.
    assert!(screen.contains("mode=ok") && screen.contains("on cpu"), "{screen}");
    assert!(screen.contains("epoch 2/3 loss "), "{screen}");
    // Finished trials are printed above the bars.
    assert_eq!(screen.matches("completed").count(), 3, "{screen}");
}

/// A TPE sweep with no `run_cap`: `sweep plan` previews its startup draws
/// and says nothing stops it; `sweep run` refuses it without `--count`;
/// `--count N` creates N trials per run, and a second run adds more.
#[test]
fn count_bounds_a_sweep_with_no_run_cap() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("open.yaml");
    std::fs::write(
        &spec,
        format!(
            "name: open\nmethod: tpe\nproject: vision\nentity: lab\nmetric: {{name: loss, goal: minimize, target: -1}}\n\
             tpe: {{n_startup_trials: 3}}\nresources: {{cpus_per_trial: 0, max_concurrent: 2}}\n\
             trainer:\n  command: [python3, \"{}\", --x, \"${{x}}\", --epochs, \"2\"]\n\
             parameters:\n  x: {{min: 0.0, max: 9.0}}\n",
            common::trainer()
        ),
    )
    .unwrap();
    let plan = sweep(dir.path()).args(["plan"]).arg(&spec).output().unwrap();
    let shown = String::from_utf8_lossy(&plan.stdout);
    assert!(plan.status.success(), "{}", String::from_utf8_lossy(&plan.stderr));
    assert!(shown.contains("ranked by loss (minimize, target -1.0)"), "{shown}");
    assert!(shown.contains("W&B project vision, entity lab (shown only"), "{shown}");
    assert!(shown.contains("the 3 startup trials above"), "{shown}");
    assert!(
        shown.contains("the sweep stops once a trial's loss reaches -1.0 (metric.target)"),
        "{shown}"
    );
    // Without the target nothing ends it: run refuses, and says what to add.
    let text = std::fs::read_to_string(&spec).unwrap().replace(", target: -1", "");
    std::fs::write(&spec, text).unwrap();
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("never stops on its own: pass `--count N`"), "{stderr}");
    assert!(!dir.path().join("results/open").exists(), "nothing was written");
    let plan = sweep(dir.path()).args(["plan"]).arg(&spec).output().unwrap();
    assert!(String::from_utf8_lossy(&plan.stdout).contains("nothing stops this sweep but Ctrl-C"));

    for (count, total) in [("4", 4), ("3", 7)] {
        let out = sweep(dir.path())
            .args(["run", "--plain", "--count", count])
            .arg(&spec)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let board = leaderboard(&dir.path().join("results/open"));
        assert_eq!(board.len(), total, "{board:?}");
        assert!(board.iter().all(|r| r["status"] == "completed"), "{board:?}");
    }
}

/// A journal that cannot be read or written is named once, with the reason
/// once (the reason was also the error's source, so it was printed twice).
#[test]
fn an_unwritable_journal_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let spec = command_spec(
        dir.path(),
        "jd",
        "  mode: {value: ok}\n  x: {values: [1]}\n  sleep: {value: 0}\n  epochs: {value: 1}\n",
        "",
    );
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let journal = dir.path().join("results/jd/journal.jsonl");
    std::fs::remove_file(&journal).unwrap();
    std::fs::create_dir(&journal).unwrap();
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("results/jd/journal.jsonl: Is a directory"), "{stderr}");
    assert_eq!(stderr.matches("Is a directory").count(), 1, "{stderr}");
}
