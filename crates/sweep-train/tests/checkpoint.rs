//! Checkpoints through the trainer, in process: a run stopped after epoch k
//! and started again gives bit for bit the metrics of a run that never
//! stopped; unusable checkpoints are refused and training starts over.
//!
//! burn's CPU generator is global to the process, so the tests of this file
//! take turns (one lock) instead of running side by side.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use sweep_core::{EpochMetrics, Goal, Metric, ParamValue, Params, TrialEvent};
use sweep_train::checkpoint::STATE_FILE;
use sweep_train::{Checkpointing, Outcome, RunOptions, TrainConfig, config::default_metric, run_trial_with};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn data_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

fn params(extra: &[(&str, ParamValue)]) -> Params {
    let mut p: Params = [
        ("train_limit", ParamValue::Int(1500)),
        ("val_size", ParamValue::Int(500)),
        ("test_limit", ParamValue::Int(300)),
        ("epochs", ParamValue::Int(5)),
        ("data_dir", ParamValue::Str(data_dir().display().to_string())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    p.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    p
}

fn word(s: &str) -> ParamValue {
    ParamValue::Str(s.into())
}

/// One attempt: its events and outcome. `stop_after`: set the stop flag
/// when this event is reported.
fn attempt(
    cfg: &TrainConfig,
    ck: Option<&Checkpointing>,
    stop_after: Option<&dyn Fn(&TrialEvent) -> bool>,
) -> (Vec<TrialEvent>, Outcome) {
    let stop = AtomicBool::new(false);
    let mut events = Vec::new();
    let opts = RunOptions {
        checkpoint: ck,
        stop: Some(&stop),
    };
    let outcome = run_trial_with(
        cfg,
        &opts,
        &mut |e| {
            if stop_after.is_some_and(|f| f(&e)) {
                stop.store(true, Ordering::SeqCst);
            }
            events.push(e)
        },
        &mut (),
    )
    .unwrap();
    (events, outcome)
}

/// Epoch metrics without the timings, and the done metrics likewise.
fn results(events: &[TrialEvent], outcome: &Outcome) -> (Vec<(u32, EpochMetrics)>, EpochMetrics) {
    let epochs = events
        .iter()
        .filter_map(|e| match e {
            TrialEvent::Epoch { epoch, metrics } => {
                let mut m = metrics.clone();
                m.remove("seconds");
                m.remove("samples_per_sec");
                Some((*epoch, m))
            }
            _ => None,
        })
        .collect();
    let Outcome::Completed { metrics } = outcome else {
        panic!("{outcome:?}")
    };
    let mut done = metrics.clone();
    done.remove("seconds");
    (epochs, done)
}

fn epoch_events(events: &[TrialEvent]) -> Vec<TrialEvent> {
    events
        .iter()
        .filter(|e| matches!(e, TrialEvent::Epoch { .. }))
        .cloned()
        .collect()
}

/// Stops a checkpointed run when `stop_after` says so, starts it again, and
/// checks it against `reference` bit for bit. Returns the epoch it resumed at.
fn stop_and_continue(
    cfg: &TrainConfig,
    every: u32,
    stop_after: &dyn Fn(&TrialEvent) -> bool,
    reference: &(Vec<(u32, EpochMetrics)>, EpochMetrics),
) -> u32 {
    let dir = tempfile::tempdir().unwrap();
    let ck = Checkpointing {
        dir: dir.path().join("checkpoint"),
        every,
    };
    let (first, outcome) = attempt(cfg, Some(&ck), Some(stop_after));
    let Outcome::Suspended { epoch: k } = outcome else {
        panic!("{outcome:?}")
    };
    let last_saved = first.iter().rev().find_map(|e| match e {
        TrialEvent::Checkpoint { epoch, .. } => Some(*epoch),
        _ => None,
    });
    assert_eq!(Some(k), last_saved, "suspended names the last checkpoint: {first:?}");
    let (second, outcome) = attempt(cfg, Some(&ck), None);
    assert_eq!(second[1], TrialEvent::Resumed { epoch: k }, "{second:?}");
    // The saved epochs are reported again exactly as first reported (timings too).
    assert_eq!(epoch_events(&second)[..k as usize], epoch_events(&first)[..k as usize]);
    assert_eq!(&results(&second, &outcome), reference, "resumed at {k}");
    k
}

#[test]
fn a_run_continued_from_a_checkpoint_is_bit_for_bit_the_uninterrupted_run() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Dropout, augmentation, a cosine schedule with warm-up, Adam: every
    // stream and counter matters.
    let cfg = TrainConfig::from_params(
        &params(&[
            ("dropout", ParamValue::Float(0.3)),
            ("augment", ParamValue::Bool(true)),
            ("lr_schedule", word("warmup_cosine")),
            ("warmup_epochs", ParamValue::Int(1)),
        ]),
        11,
        default_metric(),
    )
    .unwrap();
    let (events, outcome) = attempt(&cfg, None, None);
    let reference = results(&events, &outcome);
    assert_eq!(reference.0.len(), 5);

    // Checkpointing on and never stopped: the same run.
    let dir = tempfile::tempdir().unwrap();
    let ck = Checkpointing {
        dir: dir.path().to_path_buf(),
        every: 1,
    };
    let (events, outcome) = attempt(&cfg, Some(&ck), None);
    assert_eq!(results(&events, &outcome), reference);
    let saved: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            TrialEvent::Checkpoint { epoch, bytes, seconds } => {
                assert!(bytes.unwrap() > 100_000 && seconds.unwrap() >= 0.0);
                Some(*epoch)
            }
            _ => None,
        })
        .collect();
    assert_eq!(saved, [1, 2, 3, 4], "every epoch but the last");

    // Stopped at a batch inside epoch 4: continues from 3.
    let k = stop_and_continue(
        &cfg,
        1,
        &|e| matches!(e, TrialEvent::Checkpoint { epoch: 3, .. }),
        &reference,
    );
    assert_eq!(k, 3);
    // Stopped at the end of epoch 3 with checkpoints every 2: epoch 3 is saved anyway.
    let k = stop_and_continue(
        &cfg,
        2,
        &|e| matches!(e, TrialEvent::Epoch { epoch: 3, .. }),
        &reference,
    );
    assert_eq!(k, 3);
    // Right after the first epoch.
    let k = stop_and_continue(
        &cfg,
        1,
        &|e| matches!(e, TrialEvent::Epoch { epoch: 1, .. }),
        &reference,
    );
    assert_eq!(k, 1);
}

#[test]
fn sgd_momentum_step_schedule_and_the_cnn_continue_bit_for_bit() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for extra in [
        vec![
            ("optimizer", word("sgd")),
            ("momentum", ParamValue::Float(0.9)),
            ("lr", ParamValue::Float(0.02)),
            ("lr_schedule", word("step")),
            ("lr_step_size", ParamValue::Int(2)),
            ("dropout", ParamValue::Float(0.2)),
        ],
        vec![
            ("model", word("cnn")),
            ("dropout", ParamValue::Float(0.2)),
            ("lr_schedule", word("exponential")),
            ("train_limit", ParamValue::Int(600)),
            ("epochs", ParamValue::Int(3)),
        ],
    ] {
        let cfg = TrainConfig::from_params(&params(&extra), 5, default_metric()).unwrap();
        let (events, outcome) = attempt(&cfg, None, None);
        let reference = results(&events, &outcome);
        let k = stop_and_continue(
            &cfg,
            1,
            &|e| matches!(e, TrialEvent::Checkpoint { epoch: 2, .. }),
            &reference,
        );
        assert_eq!(k, 2, "{extra:?}");
    }
}

#[test]
fn the_test_set_is_scored_with_the_best_epochs_weights_after_a_restart() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Picking the epoch with the highest training loss makes epoch 1 the
    // best: its weights come from the best-weights file, not the state.
    let metric = Metric {
        name: "train_loss".into(),
        goal: Goal::Maximize,
    };
    let cfg = TrainConfig::from_params(&params(&[("epochs", ParamValue::Int(4))]), 8, metric).unwrap();
    let (events, outcome) = attempt(&cfg, None, None);
    let reference = results(&events, &outcome);
    assert_eq!(reference.1["best_epoch"], 1.0);
    let k = stop_and_continue(
        &cfg,
        1,
        &|e| matches!(e, TrialEvent::Checkpoint { epoch: 3, .. }),
        &reference,
    );
    assert_eq!(k, 3);
}

#[test]
fn unusable_checkpoints_are_refused_and_training_starts_over() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let p = params(&[("dropout", ParamValue::Float(0.1)), ("epochs", ParamValue::Int(3))]);
    let cfg = TrainConfig::from_params(&p, 3, default_metric()).unwrap();
    let (events, outcome) = attempt(&cfg, None, None);
    let reference = results(&events, &outcome);
    let dir = tempfile::tempdir().unwrap();
    let ck = Checkpointing {
        dir: dir.path().to_path_buf(),
        every: 1,
    };
    let state = dir.path().join(STATE_FILE);
    let fresh_checkpoint = |cfg: &TrainConfig| {
        let _ = std::fs::remove_dir_all(dir.path());
        let (_, outcome) = attempt(cfg, Some(&ck), None);
        assert!(matches!(outcome, Outcome::Completed { .. }));
        assert!(state.exists());
    };
    let refused = |why: &str| {
        let (events, outcome) = attempt(&cfg, Some(&ck), None);
        let TrialEvent::Warning { message } = &events[1] else {
            panic!("{events:?}")
        };
        assert!(
            message.starts_with(&format!("checkpoint {} refused: ", state.display()))
                && message.contains(why)
                && message.ends_with("; training from epoch 1"),
            "{message}"
        );
        assert!(!events.iter().any(|e| matches!(e, TrialEvent::Resumed { .. })));
        assert_eq!(results(&events, &outcome), reference, "{why}");
        assert!(dir.path().join("refused-state.ckpt").exists(), "{why}: moved aside");
    };

    fresh_checkpoint(&cfg);
    let good = std::fs::read(&state).unwrap();
    let mut bad = good.clone();
    let n = bad.len();
    bad[n / 2] ^= 0x01;
    std::fs::write(&state, &bad).unwrap();
    refused("damaged: checksum");

    fresh_checkpoint(&cfg);
    std::fs::write(&state, &good[..n - 1000]).unwrap();
    refused("truncated");

    // Another seed's checkpoint in this trial's folder.
    let other = TrainConfig::from_params(&p, 4, default_metric()).unwrap();
    fresh_checkpoint(&other);
    refused("another trial configuration");

    // Another learning rate: another configuration too.
    let other = TrainConfig::from_params(&params(&[("lr", ParamValue::Float(0.002))]), 3, default_metric()).unwrap();
    fresh_checkpoint(&other);
    refused("another trial configuration");

    // Nothing refused once training has started over and saved again.
    fresh_checkpoint(&cfg);
    let (events, _) = attempt(&cfg, Some(&ck), None);
    assert_eq!(events[1], TrialEvent::Resumed { epoch: 2 });
}
