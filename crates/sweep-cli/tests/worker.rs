//! `sweep worker` and `sweep train` through the binary: the worker protocol on
//! stdout, exit statuses, errors for a person.

use assert_cmd::Command;
use std::path::PathBuf;
use sweep_core::{Goal, Metric, ParamValue, Params, TrialEvent, TrialFile, TrialId};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn trial_file(dir: &std::path::Path, extra: &[(&str, ParamValue)]) -> PathBuf {
    let mut params: Params = [
        ("train_limit", ParamValue::Int(1000)),
        ("val_size", ParamValue::Int(500)),
        ("test_limit", ParamValue::Int(300)),
        ("epochs", ParamValue::Int(2)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let file = TrialFile {
        id: TrialId::derive(&params, 5),
        ordinal: 0,
        seed: 5,
        params,
        metric: Metric {
            name: "val_accuracy".into(),
            goal: Goal::Maximize,
        },
    };
    let path = dir.join("trial.json");
    std::fs::write(&path, serde_json::to_string_pretty(&file).unwrap()).unwrap();
    path
}

fn worker(trial: &std::path::Path) -> std::process::Output {
    Command::cargo_bin("sweep")
        .unwrap()
        .current_dir(root())
        .args(["worker", "--trial"])
        .arg(trial)
        .output()
        .unwrap()
}

/// Every stdout line must be a protocol event.
fn events(stdout: &[u8]) -> Vec<TrialEvent> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|l| {
            TrialEvent::parse_line(l)
                .event()
                .unwrap_or_else(|| panic!("not a protocol line: {l}"))
        })
        .collect()
}

#[test]
fn worker_stdout_is_the_protocol_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(&trial_file(dir.path(), &[]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ev = events(&out.stdout);
    assert_eq!(ev.len(), 4, "started, 2 epochs, done: {ev:?}");
    assert!(matches!(&ev[0], TrialEvent::Started { device: Some(d) } if d == "cpu"));
    for (i, e) in ev[1..3].iter().enumerate() {
        let TrialEvent::Epoch { epoch, metrics } = e else {
            panic!("{e:?}")
        };
        assert_eq!(*epoch as usize, i + 1);
        for k in [
            "train_loss",
            "val_loss",
            "val_accuracy",
            "lr",
            "seconds",
            "samples_per_sec",
        ] {
            assert!(metrics.contains_key(k), "epoch metrics lack {k}: {metrics:?}");
        }
    }
    let TrialEvent::Done { metrics } = &ev[3] else {
        panic!("{:?}", ev[3])
    };
    assert!(metrics["test_accuracy"] > 0.5, "{metrics:?}");
    assert!(metrics["best_epoch"] >= 1.0);
}

/// The events of a run with timings removed: what must repeat exactly.
fn repeatable(ev: Vec<TrialEvent>) -> Vec<TrialEvent> {
    ev.into_iter()
        .map(|e| match e {
            TrialEvent::Epoch { epoch, mut metrics } => {
                metrics.remove("seconds");
                metrics.remove("samples_per_sec");
                TrialEvent::Epoch { epoch, metrics }
            }
            TrialEvent::Done { mut metrics } => {
                metrics.remove("seconds");
                TrialEvent::Done { metrics }
            }
            other => other,
        })
        .collect()
}

#[test]
fn one_seed_gives_bit_for_bit_the_same_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let extra = [("dropout", ParamValue::Float(0.2)), ("augment", ParamValue::Bool(true))];
    let t = trial_file(dir.path(), &extra);
    let a = repeatable(events(&worker(&t).stdout));
    let b = repeatable(events(&worker(&t).stdout));
    assert_eq!(a.len(), 4);
    assert_eq!(a, b, "same trial, same seed: identical metrics");
    let other = dir.path().join("other.json");
    let mut file: TrialFile = serde_json::from_str(&std::fs::read_to_string(&t).unwrap()).unwrap();
    file.seed += 1;
    std::fs::write(&other, serde_json::to_string(&file).unwrap()).unwrap();
    let c = repeatable(events(&worker(&other).stdout));
    assert_ne!(a, c, "another seed, another run");
}

#[test]
fn a_diverging_worker_says_so_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let t = trial_file(
        dir.path(),
        &[
            ("optimizer", ParamValue::Str("sgd".into())),
            ("lr", ParamValue::Float(1e12)),
        ],
    );
    let out = worker(&t);
    assert_eq!(out.status.code(), Some(3));
    let ev = events(&out.stdout);
    assert!(
        matches!(ev.last(), Some(TrialEvent::Diverged { epoch: 1, .. })),
        "{ev:?}"
    );
    assert!(
        !ev.iter()
            .any(|e| matches!(e, TrialEvent::Epoch { .. } | TrialEvent::Done { .. }))
    );
}

#[test]
fn worker_errors_are_events_too() {
    let dir = tempfile::tempdir().unwrap();
    // A bad parameter value in the trial file.
    let t = trial_file(dir.path(), &[("optimizer", ParamValue::Str("lion".into()))]);
    let out = worker(&t);
    assert_eq!(out.status.code(), Some(2));
    let ev = events(&out.stdout);
    assert!(
        matches!(&ev[..], [TrialEvent::Error { message }] if message.contains("lion")),
        "{ev:?}"
    );
    // A dataset that is not there: exit 1, the paths looked in.
    let t = trial_file(
        dir.path(),
        &[("data_dir", ParamValue::Str(dir.path().display().to_string()))],
    );
    let out = worker(&t);
    assert_eq!(out.status.code(), Some(1));
    let ev = events(&out.stdout);
    assert!(
        matches!(&ev[..], [TrialEvent::Error { message }] if message.contains("not found")),
        "{ev:?}"
    );
    // CUDA where there is none: a clear error, never a panic or abort.
    if sweep_train::cuda_devices().is_err() {
        let t = trial_file(dir.path(), &[("device", ParamValue::Str("cuda".into()))]);
        let out = worker(&t);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("device cuda:0 requested, but"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // A trial file that is not one.
    std::fs::write(dir.path().join("junk.json"), "{").unwrap();
    let out = worker(&dir.path().join("junk.json"));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn train_runs_a_trial_of_a_spec_with_overrides() {
    let out = Command::cargo_bin("sweep")
        .unwrap()
        .current_dir(root())
        .args(["train", "--spec", "sweeps/lr.yaml", "--trial", "4", "--epochs", "1"])
        .args(["--train_limit", "1000", "--val_size", "500", "--test_limit", "200"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("lr=0.001") && stderr.contains("optimizer=adam") && stderr.contains("epochs=1"),
        "{stderr}"
    );
    assert!(stderr.contains("epoch 1/1"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("done: test_accuracy"), "{stdout}");
    // A bad flag value is a usage error.
    let out = Command::cargo_bin("sweep")
        .unwrap()
        .args(["train", "--lr", "-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid value '-1' for '--lr <X>': expected a number > 0"),
        "{stderr}"
    );
}
