//! The SLURM launcher against a real cluster (`scripts/slurm-local-start`
//! starts a single-node one; CI does, and sets SWEEP_REQUIRE_SLURM=1 so a
//! missing cluster fails these tests instead of skipping them).

mod common;

use common::{command_spec, journal, leaderboard, start, sweep};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// A spec for the test trainer, run through SLURM.
fn spec(dir: &Path, name: &str, params: &str, extra: &str) -> PathBuf {
    command_spec(dir, name, params, &format!("launcher: slurm\n{extra}"))
}

#[test]
fn a_sweep_through_slurm_ranks_as_the_same_sweep_run_locally() {
    if !cluster() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(
        dir.path(),
        "same",
        "  mode: {value: ok}\n  x: {values: [1, 2.5, 3, 4]}\n  sleep: {value: 0.1}\n  epochs: {value: 3}\n",
        "resources: {cpus_per_trial: 1, max_concurrent: 4}\n",
    );
    for (launcher, results) in [("slurm", "on-slurm"), ("local", "here")] {
        let out = sweep(dir.path())
            .args(["run", "--plain", "--launcher", launcher, "--results", results])
            .arg(&spec)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{launcher}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let key = |rows: Vec<HashMap<String, String>>| -> Vec<[String; 5]> {
        rows.into_iter()
            .map(|r| {
                [
                    r["rank"].clone(),
                    r["trial_id"].clone(),
                    r["status"].clone(),
                    r["loss"].clone(),
                    r["best_epoch"].clone(),
                ]
            })
            .collect()
    };
    let slurm = key(leaderboard(&dir.path().join("on-slurm/same")));
    assert_eq!(slurm, key(leaderboard(&dir.path().join("here/same"))));
    assert_eq!(slurm.len(), 4);
    // Each attempt's job id is journaled, and the events file is the protocol.
    let launched: Vec<serde_json::Value> = journal(&dir.path().join("on-slurm/same"))
        .into_iter()
        .filter(|e| e["event"] == "launched")
        .collect();
    assert_eq!(launched.len(), 4);
    assert!(
        launched
            .iter()
            .all(|e| e["handle"]["launcher"] == "slurm" && e["handle"]["id"].as_str().unwrap().parse::<u64>().is_ok())
    );
    let id = &slurm[0][1];
    let events =
        std::fs::read_to_string(dir.path().join("on-slurm/same/trials").join(id).join("events.jsonl")).unwrap();
    assert_eq!(
        events.matches("\"event\": \"epoch\"").count() + events.matches("\"event\":\"epoch\"").count(),
        3
    );
}

#[test]
fn failed_cancelled_and_over_time_jobs_get_their_statuses() {
    if !cluster() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // One minute, SLURM's smallest time limit: it kills at about 85 s.
    let spec = spec(
        dir.path(),
        "ends",
        "  mode: {values: [ok, panic, hang]}\n  x: {values: [1, 2]}\n  sleep: {value: 0.1}\n  epochs: {value: 2}\n",
        "resources: {cpus_per_trial: 1, max_concurrent: 6}\ntimeout: 1m\n",
    );
    let child = start(dir.path(), &["run", "--plain"], &spec);
    let results = dir.path().join("results/ends");
    // Cancel one of the two hanging trials from outside, as a person would.
    let deadline = Instant::now() + Duration::from_secs(120);
    let cancelled_job = loop {
        // The hanging trials' jobs: their job scripts say so.
        let hang: Vec<String> = std::fs::read_to_string(results.join("journal.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["event"] == "launched")
            .filter(|e| {
                let script = results.join("trials").join(e["trial"].as_str().unwrap()).join("job.sh");
                std::fs::read_to_string(script).is_ok_and(|s| s.contains("'hang'"))
            })
            .filter_map(|e| e["handle"]["id"].as_str().map(String::from))
            .collect();
        // Only this sweep's jobs: other tests share the cluster.
        let running = std::process::Command::new("squeue")
            .args(["-h", "-t", "RUNNING", "-o", "%i", "-j", &hang.join(",")])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&running.stdout).into_owned();
        if hang.len() == 2 && text.lines().count() == 2 {
            break hang[0].clone();
        }
        assert!(Instant::now() < deadline, "the jobs did not start: {text}");
        std::thread::sleep(Duration::from_millis(500));
    };
    let scancel = std::process::Command::new("scancel")
        .arg(&cancelled_job)
        .status()
        .unwrap();
    assert!(scancel.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let board = leaderboard(&results);
    let count = |mode: &str, status: &str| {
        board
            .iter()
            .filter(|r| r["mode"] == mode && r["status"] == status)
            .count()
    };
    assert_eq!(count("ok", "completed"), 2, "{board:?}");
    assert_eq!(count("panic", "failed"), 2, "{board:?}");
    let panic = board.iter().find(|r| r["mode"] == "panic").unwrap();
    assert!(
        panic["error"].contains("exit code 101") && panic["error"].contains("panicked"),
        "{panic:?}"
    );
    let hang: Vec<&HashMap<String, String>> = board.iter().filter(|r| r["mode"] == "hang").collect();
    let cancelled = hang
        .iter()
        .find(|r| r["error"].contains("cancelled outside sweep"))
        .expect("a cancelled job");
    assert_eq!(cancelled["status"], "failed");
    let timed_out = hang
        .iter()
        .find(|r| r["status"] == "timed_out")
        .expect("a job over its time limit");
    assert!(timed_out["error"].contains("TIMEOUT"), "{timed_out:?}");
}

#[test]
fn kill_9_while_jobs_run_then_resume_submits_nothing_twice() {
    if !cluster() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(
        dir.path(),
        "crash",
        "  mode: {value: ok}\n  x: {values: [0, 1, 2, 3, 4, 5, 6, 7]}\n  sleep: {value: 0.7}\n  epochs: {value: 3}\n",
        "resources: {cpus_per_trial: 1, max_concurrent: 5}\n",
    );
    let results = dir.path().join("results/crash");
    for delay_ms in [1500u64, 2500] {
        let mut child = start(dir.path(), &["run", "--plain"], &spec);
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let board = leaderboard(&results);
    assert_eq!(board.len(), 8);
    assert!(board.iter().all(|r| r["status"] == "completed"), "{board:?}");
    // One job per attempt, and one attempt per trial: jobs that outlived the
    // orchestrator were followed again, not submitted again.
    let mut jobs: HashMap<(String, u64), Vec<String>> = HashMap::new();
    for e in journal(&results) {
        if e["event"] == "launched" {
            jobs.entry((e["trial"].as_str().unwrap().into(), e["attempt"].as_u64().unwrap()))
                .or_default()
                .push(e["handle"]["id"].as_str().unwrap().into());
        }
    }
    assert!(jobs.values().all(|j| j.len() == 1), "{jobs:?}");
    assert_eq!(jobs.len(), 8, "one attempt per trial: {jobs:?}");
    let mut ids: Vec<&String> = jobs.values().flatten().collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "eight distinct jobs");
}

#[test]
fn sbatch_errors_are_shown_with_the_spec_line() {
    if !cluster() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(
        dir.path(),
        "badpart",
        "  mode: {value: ok}\n  x: {values: [1, 2]}\n  sleep: {value: 0}\n  epochs: {value: 1}\n",
        "slurm:\n  partition: no-such-partition\n",
    );
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid partition specified: no-such-partition"),
        "{stderr}"
    );
    assert!(stderr.contains("badpart.yaml:6 (slurm.partition)"), "{stderr}");
    // Nothing half-submitted: both trials are left to run, none has a job.
    let board = leaderboard(&dir.path().join("results/badpart"));
    assert!(
        board
            .iter()
            .all(|r| r["status"] == "interrupted" || r["status"] == "pending"),
        "{board:?}"
    );
    assert!(
        journal(&dir.path().join("results/badpart"))
            .iter()
            .all(|e| e["event"] != "launched")
    );
}

#[test]
fn detach_then_status_then_reattach() {
    if !cluster() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(
        dir.path(),
        "away",
        "  mode: {value: ok}\n  x: {values: [1, 2, 3]}\n  sleep: {value: 1}\n  epochs: {value: 3}\n",
        "resources: {cpus_per_trial: 1, max_concurrent: 2}\n",
    );
    let out = sweep(dir.path())
        .args(["run", "--plain", "--detach"])
        .arg(&spec)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("submitted 3 jobs for sweep away:"), "{stdout}");
    let results = dir.path().join("results/away");
    let submitted: Vec<String> = journal(&results)
        .iter()
        .filter(|e| e["event"] == "launched")
        .map(|e| e["handle"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(submitted.len(), 3);
    assert!(
        submitted.iter().all(|j| stdout.contains(j.as_str())),
        "the job ids are printed"
    );
    // While detached: status from the files and the queue; the leaderboard reads.
    let status = sweep(dir.path()).args(["status", "results/away"]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert!(text.starts_with("sweep away (results/away): 3 trials: "), "{text}");
    assert!(text.contains("no orchestrator is attached"), "{text}");
    assert!(submitted.iter().all(|j| text.contains(j.as_str())), "{text}");
    let board = sweep(dir.path())
        .args(["leaderboard", "away", "--format", "csv"])
        .output()
        .unwrap();
    assert!(board.status.success());
    assert_eq!(String::from_utf8_lossy(&board.stdout).lines().count(), 4);
    // Re-attach: the jobs are followed to their end, none submitted again.
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = leaderboard(&results);
    assert!(
        rows.iter()
            .all(|r| r["status"] == "completed" && r["epochs_run"] == "3"),
        "{rows:?}"
    );
    let launched = journal(&results).iter().filter(|e| e["event"] == "launched").count();
    assert_eq!(launched, 3, "nothing submitted twice");
    // max_concurrent 2 held with nobody attached: the third job waited for
    // the first to end (ISO times compare as text).
    let when = |job: &str, field: &str| -> String {
        let out = std::process::Command::new("scontrol")
            .args(["show", "job", "-o", job])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .find_map(|w| w.strip_prefix(field).map(String::from))
            .unwrap_or_else(|| panic!("no {field} for job {job}"))
    };
    assert!(
        when(&submitted[2], "StartTime=") >= when(&submitted[0], "EndTime="),
        "the third job started before the first ended"
    );
}

#[test]
fn sweep_cancel_stops_a_detached_sweep_as_interrupted() {
    if !cluster() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(
        dir.path(),
        "stop",
        "  mode: {value: hang}\n  x: {values: [1, 2]}\n  sleep: {value: 0}\n  epochs: {value: 1}\n",
        "",
    );
    let out = sweep(dir.path())
        .args(["run", "--plain", "--detach"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = sweep(dir.path()).args(["cancel", "results/stop"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("cancelled 2 jobs:"), "{said}");
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = leaderboard(&dir.path().join("results/stop"));
    assert!(
        rows.iter()
            .all(|r| r["status"] == "interrupted" && r["error"].contains("cancelled by `sweep cancel`")),
        "{rows:?}"
    );
}

#[test]
fn detach_is_refused_for_local_trials() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(
        dir.path(),
        "here",
        "  mode: {value: ok}\n  x: {value: 1}\n  sleep: {value: 0}\n  epochs: {value: 1}\n",
        "",
    );
    let out = sweep(dir.path())
        .args(["run", "--plain", "--detach", "--launcher", "local"])
        .arg(&spec)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--detach needs a launcher whose trials outlive the orchestrator")
    );
    assert!(!dir.path().join("results/here").exists(), "nothing written");
}

/// Waits until the journal of `results` has `n` `launched` entries.
fn wait_launched(results: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let count = std::fs::read_to_string(results.join("journal.jsonl"))
            .unwrap_or_default()
            .matches("\"event\":\"launched\"")
            .count();
        if count >= n {
            return;
        }
        assert!(Instant::now() < deadline, "{n} attempts did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `sweep ARGS SPEC` until `n` attempts are launched, then kills it
/// with -9 (SIGKILL: nothing of it runs after).
fn killed_once_launched(dir: &Path, args: &[&str], spec: &Path, results: &Path, n: usize) {
    let mut child = start(dir, args, spec);
    wait_launched(results, n);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Whether SLURM still lists job `id` (queued or running).
fn in_queue(id: &str) -> bool {
    let out = std::process::Command::new("squeue")
        .args(["-h", "-o", "%i", "-j", id])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == id)
}

/// A trial's stop was journaled (pruned) but the orchestrator died before
/// the job ended: the resume records it pruned and cancels the job, which
/// would otherwise run its minutes out on the cluster.
#[test]
fn a_prune_journaled_before_a_kill_9_cancels_the_job_on_resume() {
    if !cluster() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(
        dir.path(),
        "leftover",
        "  mode: {value: ok}\n  x: {values: [1]}\n  sleep: {value: 60}\n  epochs: {value: 3}\n",
        "resources: {cpus_per_trial: 1, max_concurrent: 1}\n",
    );
    let results = dir.path().join("results/leftover");
    killed_once_launched(dir.path(), &["run", "--plain"], &spec, &results, 1);
    let launched = journal(&results)
        .into_iter()
        .find(|e| e["event"] == "launched")
        .unwrap();
    let (trial, job) = (
        launched["trial"].as_str().unwrap().to_string(),
        launched["handle"]["id"].as_str().unwrap().to_string(),
    );
    assert!(in_queue(&job), "job {job} outlived its orchestrator");
    // The crash came just after the pruner's decision was journaled.
    let stop = serde_json::json!({
        "event": "stop_requested", "trial": trial, "attempt": 1, "status": "pruned",
        "reason": "stopped at epoch 1: loss 9 above the test's cut 1",
    });
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(results.join("journal.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut f, format!("{stop}\n").as_bytes()).unwrap();
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let board = leaderboard(&results);
    assert_eq!(board[0]["status"], "pruned", "{board:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while in_queue(&job) {
        assert!(Instant::now() < deadline, "job {job} still runs after the resume");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        journal(&results).iter().filter(|e| e["event"] == "launched").count(),
        1,
        "never submitted again"
    );
}

/// A local sweep killed with -9, resumed under SLURM: the process ids in
/// the journal are never taken for job ids; the trials they ran are
/// recorded interrupted and run again as jobs.
#[test]
fn a_local_sweep_killed_then_resumed_under_slurm_adopts_no_process_id() {
    if !cluster() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = command_spec(
        dir.path(),
        "l2s",
        "  mode: {value: ok}\n  x: {values: [1, 2, 3, 4]}\n  sleep: {value: 0.5}\n  epochs: {value: 3}\n",
        "resources: {cpus_per_trial: 1, max_concurrent: 2}\n",
    );
    let results = dir.path().join("results/l2s");
    killed_once_launched(dir.path(), &["run", "--plain", "--cpus", "2"], &spec, &results, 2);
    let out = sweep(dir.path())
        .args(["run", "--plain", "--launcher", "slurm"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let board = leaderboard(&results);
    assert_eq!(board.len(), 4);
    assert!(board.iter().all(|r| r["status"] == "completed"), "{board:?}");
    let entries = journal(&results);
    let resumed = entries.iter().rposition(|e| e["event"] == "sweep_started").unwrap();
    let local_pids: Vec<&str> = entries[..resumed]
        .iter()
        .filter(|e| e["event"] == "launched")
        .map(|e| {
            assert_eq!(e["handle"]["launcher"], "local");
            e["handle"]["id"].as_str().unwrap()
        })
        .collect();
    assert!(local_pids.len() >= 2);
    let after: Vec<&serde_json::Value> = entries[resumed..].iter().filter(|e| e["event"] == "launched").collect();
    assert_eq!(after.len(), 4, "every unfinished trial submitted once: {after:?}");
    assert!(after.iter().all(|e| e["handle"]["launcher"] == "slurm"));
    // The cut-off trials were recorded interrupted by the resume, then ran as attempt 2.
    let cut: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["event"] == "trial_finished" && e["status"] == "interrupted")
        .collect();
    assert!(!cut.is_empty());
    for e in cut {
        assert!(e["error"].as_str().unwrap().contains("orchestrator stopped"), "{e}");
    }
}

/// The reverse: SLURM jobs still running when their orchestrator was
/// killed are refused by a resume under the local launcher (they would run
/// twice); re-attaching under SLURM then finishes the sweep.
#[test]
fn a_slurm_sweep_killed_then_resumed_locally_is_refused() {
    if !cluster() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(
        dir.path(),
        "s2l",
        "  mode: {value: ok}\n  x: {values: [1, 2]}\n  sleep: {value: 1.5}\n  epochs: {value: 3}\n",
        "resources: {cpus_per_trial: 1, max_concurrent: 2}\n",
    );
    let results = dir.path().join("results/s2l");
    killed_once_launched(dir.path(), &["run", "--plain"], &spec, &results, 2);
    let before = journal(&results).len();
    let out = sweep(dir.path())
        .args(["run", "--plain", "--launcher", "local"])
        .arg(&spec)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("still run as slurm attempts") && stderr.contains("--launcher slurm"),
        "{stderr}"
    );
    assert_eq!(journal(&results).len(), before, "nothing started, nothing written");
    let out = sweep(dir.path()).args(["run", "--plain"]).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let board = leaderboard(&results);
    assert!(board.iter().all(|r| r["status"] == "completed"), "{board:?}");
    let launched = journal(&results)
        .into_iter()
        .filter(|e| e["event"] == "launched")
        .count();
    assert_eq!(launched, 2, "the jobs were followed again, not submitted again");
}
