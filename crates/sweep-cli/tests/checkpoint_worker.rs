//! Checkpoints through the `sweep` binary, as the orchestrator and SLURM use
//! them: a worker killed with SIGKILL, or stopped with SIGUSR1, and started
//! again with the same `SWEEP_CHECKPOINT_DIR` continues bit for bit; damaged
//! and foreign checkpoints are refused with a warning; `sweep train
//! --checkpoint-dir` does the same by hand.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use sweep_core::{Goal, Metric, ParamValue, Params, TrialEvent, TrialFile, TrialId};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A small trial where every piece of state matters: dropout,
/// augmentation, a warm-up + cosine schedule, Adam; 6 epochs.
fn trial_file(dir: &Path, name: &str, seed: u64) -> PathBuf {
    let params: Params = [
        ("train_limit", ParamValue::Int(2000)),
        ("val_size", ParamValue::Int(500)),
        ("test_limit", ParamValue::Int(300)),
        ("epochs", ParamValue::Int(6)),
        ("dropout", ParamValue::Float(0.25)),
        ("augment", ParamValue::Bool(true)),
        ("lr_schedule", ParamValue::Str("warmup_cosine".into())),
        ("warmup_epochs", ParamValue::Int(1)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let file = TrialFile {
        id: TrialId::derive(&params, seed),
        ordinal: 0,
        seed,
        params,
        metric: Metric {
            name: "val_accuracy".into(),
            goal: Goal::Maximize,
        },
    };
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&file).unwrap()).unwrap();
    path
}

/// Starts `sweep worker` with checkpoints in `ckpt` (none when `None`).
fn start(trial: &Path, ckpt: Option<(&Path, u32)>) -> Child {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("sweep"));
    c.current_dir(root())
        .args(["worker", "--trial"])
        .arg(trial)
        .env_remove("SWEEP_CHECKPOINT_DIR")
        .env_remove("SWEEP_CHECKPOINT_EVERY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some((dir, every)) = ckpt {
        c.env("SWEEP_CHECKPOINT_DIR", dir)
            .env("SWEEP_CHECKPOINT_EVERY", every.to_string());
    }
    c.spawn().unwrap()
}

fn parse(line: &str) -> TrialEvent {
    TrialEvent::parse_line(line)
        .event()
        .unwrap_or_else(|| panic!("not a protocol line: {line}"))
}

/// Runs a worker to its end (exit status 0): its stdout lines.
fn run(trial: &Path, ckpt: Option<(&Path, u32)>) -> Vec<String> {
    let out = start(trial, ckpt).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Reads a running worker's stdout until `until` holds for a line, then
/// sends it `signal`; returns all its lines, its stderr and exit status.
fn interrupt(mut child: Child, until: impl Fn(&TrialEvent) -> bool, signal: i32) -> (Vec<String>, String, Option<i32>) {
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "ended before the signal: {lines:?}"
        );
        lines.push(line.trim_end().to_string());
        if until(&parse(&line)) {
            // SAFETY: kill(2) on our own child's pid.
            assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
            break;
        }
    }
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    lines.extend(rest.lines().map(String::from));
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    (lines, stderr, status.code())
}

/// Epoch and done events with their timings removed: what must repeat.
fn results(lines: &[String]) -> Vec<TrialEvent> {
    lines
        .iter()
        .map(|l| parse(l))
        .filter_map(|e| match e {
            TrialEvent::Epoch { epoch, mut metrics } => {
                metrics.remove("seconds");
                metrics.remove("samples_per_sec");
                Some(TrialEvent::Epoch { epoch, metrics })
            }
            TrialEvent::Done { mut metrics } => {
                metrics.remove("seconds");
                Some(TrialEvent::Done { metrics })
            }
            _ => None,
        })
        .collect()
}

fn epoch_lines(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|l| matches!(parse(l), TrialEvent::Epoch { .. }))
        .collect()
}

fn checkpoints(lines: &[String]) -> Vec<u32> {
    lines
        .iter()
        .filter_map(|l| match parse(l) {
            TrialEvent::Checkpoint { epoch, .. } => Some(epoch),
            _ => None,
        })
        .collect()
}

/// The values of every epoch and of `done`, compared as f64 bits (JSON
/// numbers that print alike could still differ in their last bit).
fn bits(events: &[TrialEvent]) -> Vec<Vec<(String, u64)>> {
    events
        .iter()
        .map(|e| match e {
            TrialEvent::Epoch { metrics, .. } | TrialEvent::Done { metrics } => {
                metrics.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
            }
            _ => unreachable!(),
        })
        .collect()
}

fn assert_same_run(a: &[TrialEvent], b: &[TrialEvent]) {
    assert_eq!(a.len(), 7, "6 epochs and done: {a:?}");
    assert_eq!(a, b);
    assert_eq!(bits(a), bits(b));
}

#[test]
fn a_killed_worker_continues_from_its_checkpoint_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let trial = trial_file(dir.path(), "trial.json", 5);
    let lines = run(&trial, None);
    let reference = results(&lines);

    // Checkpoints every 3 epochs: only after epoch 3 (6 is the last), so
    // the folder holds epoch 3 whenever the kill lands after that event.
    let ckpt = dir.path().join("checkpoint");
    let (first, _, status) = interrupt(
        start(&trial, Some((&ckpt, 3))),
        |e| matches!(e, TrialEvent::Checkpoint { epoch: 3, .. }),
        libc::SIGKILL,
    );
    assert_eq!(status, None, "killed by the signal");
    assert!(ckpt.join("state.ckpt").exists());
    let cp = first.iter().find(|l| l.contains("\"checkpoint\"")).unwrap();
    let TrialEvent::Checkpoint { bytes, seconds, .. } = parse(cp) else {
        panic!()
    };
    assert!(bytes.unwrap() > 100_000 && seconds.is_some(), "{cp}");

    let second = run(&trial, Some((&ckpt, 3)));
    assert!(matches!(parse(&second[0]), TrialEvent::Started { .. }));
    assert_eq!(parse(&second[1]), TrialEvent::Resumed { epoch: 3 });
    // Epochs 1-3 reported again, exactly as first printed, timings and all.
    assert_eq!(epoch_lines(&second)[..3], epoch_lines(&first)[..3]);
    assert_same_run(&results(&second), &reference);
    assert_eq!(checkpoints(&second), Vec::<u32>::new(), "the last epoch is not saved");

    // With a checkpoint every epoch and never stopped: still the same run.
    let other = dir.path().join("every-epoch");
    let lines = run(&trial, Some((&other, 1)));
    assert_eq!(checkpoints(&lines), [1, 2, 3, 4, 5]);
    assert_same_run(&results(&lines), &reference);
}

#[test]
fn damaged_and_foreign_checkpoints_are_refused_and_training_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let trial = trial_file(dir.path(), "trial.json", 5);
    let lines = run(&trial, None);
    let reference = results(&lines);
    let ckpt = dir.path().join("checkpoint");
    let state = ckpt.join("state.ckpt");

    let expect_refusal = |why: &str| {
        let out = start(&trial, Some((&ckpt, 3))).wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let lines: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        let TrialEvent::Warning { message } = parse(&lines[1]) else {
            panic!("{lines:?}")
        };
        assert!(
            message.starts_with(&format!("checkpoint {} refused: ", state.display()))
                && message.contains(why)
                && message.ends_with("; training from epoch 1"),
            "{message}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("warning: {message}")), "{stderr}");
        assert!(!lines.iter().any(|l| l.contains("\"resumed\"")));
        assert_same_run(&results(&lines), &reference);
        assert!(ckpt.join("refused-state.ckpt").exists());
        // It trained from scratch and saved anew: the next start resumes.
        let again = run(&trial, Some((&ckpt, 3)));
        assert_eq!(parse(&again[1]), TrialEvent::Resumed { epoch: 3 });
        assert_same_run(&results(&again), &reference);
    };

    // A full run leaves the checkpoint of epoch 3; damage its payload.
    run(&trial, Some((&ckpt, 3)));
    let mut bytes = std::fs::read(&state).unwrap();
    let n = bytes.len();
    for b in &mut bytes[n - 5000..n - 4990] {
        *b = !*b;
    }
    std::fs::write(&state, &bytes).unwrap();
    expect_refusal("damaged: checksum");

    // Cut short.
    let bytes = std::fs::read(&state).unwrap();
    std::fs::write(&state, &bytes[..bytes.len() / 2]).unwrap();
    expect_refusal("truncated");

    // The checkpoint of the same trial with another seed.
    std::fs::remove_dir_all(&ckpt).unwrap();
    let other = trial_file(dir.path(), "other.json", 6);
    run(&other, Some((&ckpt, 3)));
    expect_refusal("another trial configuration");
}

#[test]
fn sigusr1_suspends_with_the_last_checkpoint_and_the_next_attempt_continues() {
    let dir = tempfile::tempdir().unwrap();
    let trial = trial_file(dir.path(), "trial.json", 7);
    let lines = run(&trial, None);
    let reference = results(&lines);
    let ckpt = dir.path().join("checkpoint");

    let (first, stderr, status) = interrupt(
        start(&trial, Some((&ckpt, 1))),
        |e| matches!(e, TrialEvent::Checkpoint { epoch: 2, .. }),
        libc::SIGUSR1,
    );
    assert_eq!(status, Some(0), "{stderr}");
    let last = parse(first.last().unwrap());
    let TrialEvent::Suspended { epoch } = last else {
        panic!("{first:?}")
    };
    // The signal lands during epoch 3 (or just after it): the suspended
    // epoch is the last checkpoint reported, and nothing comes after.
    assert_eq!(Some(&epoch), checkpoints(&first).last(), "{first:?}");
    assert!((2..6).contains(&epoch), "{first:?}");
    assert!(!first.iter().any(|l| l.contains("\"done\"")));

    let second = run(&trial, Some((&ckpt, 1)));
    assert_eq!(parse(&second[1]), TrialEvent::Resumed { epoch });
    assert_same_run(&results(&second), &reference);

    // Without a checkpoint folder: suspended at 0, exit status 0.
    let (lines, _, status) = interrupt(
        start(&trial, None),
        |e| matches!(e, TrialEvent::Epoch { epoch: 1, .. }),
        libc::SIGUSR1,
    );
    assert_eq!(status, Some(0));
    assert_eq!(parse(lines.last().unwrap()), TrialEvent::Suspended { epoch: 0 });
}

#[test]
fn train_with_a_checkpoint_dir_continues_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ck");
    let train = |epochs: &str, with_ckpt: bool| {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("sweep"));
        c.current_dir(root())
            .args(["train", "--epochs", epochs, "--trial-seed", "3", "--dropout", "0.2"])
            .args(["--train-limit", "1000", "--val-size", "500", "--test-limit", "200"]);
        if with_ckpt {
            c.arg("--checkpoint-dir").arg(&ckpt).args(["--checkpoint-every", "2"]);
        }
        let out = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        // `done: test_accuracy 0.9 test_loss 0.3 best_epoch 3 ... seconds 1.2`, without the seconds.
        let stdout = String::from_utf8(out.stdout).unwrap();
        (stdout.split("  seconds").next().unwrap().to_string(), stderr)
    };
    let (reference, _) = train("3", false);
    let (first, stderr) = train("3", true);
    assert_eq!(first, reference);
    assert!(stderr.contains("checkpoint after epoch 2: "), "{stderr}");
    let (again, stderr) = train("3", true);
    assert_eq!(again, reference);
    assert!(
        stderr.contains("continuing from the checkpoint after epoch 2"),
        "{stderr}"
    );
    assert!(stderr.contains("epoch 3/3"), "{stderr}");
    // Other settings in the same folder: refused, trained from scratch.
    let (_, stderr) = train("4", true);
    assert!(
        stderr.contains("warning: checkpoint") && stderr.contains("refused"),
        "{stderr}"
    );
    // --checkpoint-every needs --checkpoint-dir, and N >= 1.
    let out = Command::new(assert_cmd::cargo::cargo_bin("sweep"))
        .args(["train", "--checkpoint-every", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(assert_cmd::cargo::cargo_bin("sweep"))
        .args(["train", "--checkpoint-dir", "x", "--checkpoint-every", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
