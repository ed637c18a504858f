//! The trainer on small slices of MNIST: every optimizer and schedule learns,
//! divergence is caught, bad data is refused. (One seed, one result is tested
//! through `sweep worker` in sweep-cli: burn's CPU generator is global to the
//! process, and tests here share one.)

use sweep_core::{EpochMetrics, Goal, Metric, ParamValue, Params, TrialEvent};
use sweep_train::data::{self, DataError};
use sweep_train::{Outcome, TrainConfig, TrainError, config::default_metric, run_trial};

fn data_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

/// A small, fast trial: 2,000 training images, 1,000 validation, 500 test.
fn small(extra: &[(&str, ParamValue)]) -> Params {
    let mut p: Params = [
        ("train_limit", ParamValue::Int(2000)),
        ("val_size", ParamValue::Int(1000)),
        ("test_limit", ParamValue::Int(500)),
        ("epochs", ParamValue::Int(2)),
        ("data_dir", ParamValue::Str(data_dir().display().to_string())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        p.insert(k.to_string(), v.clone());
    }
    p
}

fn train(params: &Params, seed: u64) -> (Vec<EpochMetrics>, Outcome) {
    let cfg = TrainConfig::from_params(params, seed, default_metric()).unwrap();
    let mut epochs = Vec::new();
    let outcome = run_trial(
        &cfg,
        &mut |e| {
            if let TrialEvent::Epoch { metrics, .. } = e {
                epochs.push(metrics);
            }
        },
        &mut (),
    )
    .unwrap();
    (epochs, outcome)
}

fn word(s: &str) -> ParamValue {
    ParamValue::Str(s.into())
}

#[test]
fn every_optimizer_lowers_the_loss() {
    let cases = [
        ("sgd", 0.05, 0.9),
        ("adam", 1e-3, 0.0),
        ("adamw", 1e-3, 0.0),
        ("rmsprop", 1e-3, 0.0),
        ("adagrad", 0.02, 0.0),
    ];
    for (opt, lr, momentum) in cases {
        let p = small(&[
            ("optimizer", word(opt)),
            ("lr", ParamValue::Float(lr)),
            ("momentum", ParamValue::Float(momentum)),
        ]);
        let (epochs, outcome) = train(&p, 1);
        assert_eq!(epochs.len(), 2, "{opt}");
        // Untrained, the loss is ln(10) = 2.30.
        assert!(epochs[1]["train_loss"] < epochs[0]["train_loss"], "{opt}: {epochs:?}");
        assert!(epochs[1]["val_loss"] < 1.0, "{opt}: {epochs:?}");
        assert!(epochs[1]["val_accuracy"] > 0.75, "{opt}: {epochs:?}");
        let Outcome::Completed { metrics } = outcome else {
            panic!("{opt}: {outcome:?}")
        };
        assert!(metrics["test_accuracy"] > 0.75, "{opt}: {metrics:?}");
    }
}

#[test]
fn every_schedule_learns_and_moves_the_rate_as_documented() {
    let lr = 0.01;
    let with = |sched: &str, extra: &[(&str, ParamValue)]| {
        let mut e = vec![
            ("optimizer", word("sgd")),
            ("momentum", ParamValue::Float(0.9)),
            ("lr", ParamValue::Float(lr)),
            ("lr_schedule", word(sched)),
            ("epochs", ParamValue::Int(3)),
        ];
        e.extend(extra.iter().cloned());
        let (epochs, _) = train(&small(&e), 2);
        assert!(epochs[2]["train_loss"] < epochs[0]["train_loss"], "{sched}: {epochs:?}");
        epochs.iter().map(|m| m["lr"]).collect::<Vec<f64>>()
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 + 1e-6 * b.abs();
    let constant = with("constant", &[]);
    assert!(constant.iter().all(|&r| close(r, lr)), "{constant:?}");
    let step = with(
        "step",
        &[
            ("lr_step_size", ParamValue::Int(2)),
            ("lr_gamma", ParamValue::Float(0.5)),
        ],
    );
    assert!(
        close(step[0], lr) && close(step[1], lr) && close(step[2], lr * 0.5),
        "{step:?}"
    );
    let exp = with("exponential", &[("lr_gamma", ParamValue::Float(0.5))]);
    assert!(
        close(exp[0], lr) && close(exp[1], lr * 0.5) && close(exp[2], lr * 0.25),
        "{exp:?}"
    );
    let cos = with("cosine", &[("lr_min", ParamValue::Float(1e-4))]);
    // The rate of each epoch's last step: the last one is a hair above lr_min.
    assert!(
        cos[0] < lr && cos[1] < cos[0] && cos[2] >= 1e-4 && cos[2] < 1.1e-4,
        "{cos:?}"
    );
    let warm = with("warmup_cosine", &[("warmup_epochs", ParamValue::Int(1))]);
    // Warm-up ends at lr with epoch 1; then the cosine falls towards lr_min (0).
    assert!(
        warm[0] > 0.9 * lr && warm[0] <= lr && warm[2] < warm[1] && warm[2] < 0.01 * lr,
        "{warm:?}"
    );
}

#[test]
fn augmentation_trains_and_cnn_trains() {
    let (epochs, _) = train(
        &small(&[("augment", ParamValue::Bool(true)), ("epochs", ParamValue::Int(1))]),
        3,
    );
    assert!(epochs[0]["val_accuracy"] > 0.6, "{epochs:?}");
    let (epochs, _) = train(&small(&[("model", word("cnn")), ("epochs", ParamValue::Int(1))]), 3);
    assert!(epochs[0]["val_accuracy"] > 0.3, "{epochs:?}");
}

#[test]
fn a_diverging_run_stops_as_diverged() {
    let p = small(&[
        ("optimizer", word("sgd")),
        ("lr", ParamValue::Float(1e12)),
        ("epochs", ParamValue::Int(5)),
    ]);
    let (epochs, outcome) = train(&p, 1);
    let Outcome::Diverged { epoch, reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(epoch, 1);
    assert!(epochs.is_empty(), "no garbage epoch metrics: {epochs:?}");
    assert!(reason.contains("training loss is"), "{reason}");
}

#[test]
fn the_best_epoch_follows_the_metric() {
    let p = small(&[("epochs", ParamValue::Int(3))]);
    let metric = Metric {
        name: "val_loss".into(),
        goal: Goal::Minimize,
    };
    let cfg = TrainConfig::from_params(&p, 4, metric).unwrap();
    let mut epochs = Vec::new();
    let outcome = run_trial(
        &cfg,
        &mut |e| {
            if let TrialEvent::Epoch { metrics, .. } = e {
                epochs.push(metrics["val_loss"]);
            }
        },
        &mut (),
    )
    .unwrap();
    let Outcome::Completed { metrics } = outcome else {
        panic!()
    };
    let best = epochs.iter().cloned().fold(f64::INFINITY, f64::min);
    let best_epoch = epochs.iter().position(|&v| v == best).unwrap() + 1;
    assert_eq!(metrics["best_epoch"], best_epoch as f64);
    assert_eq!(metrics["best_val_loss"], best);
}

#[test]
fn missing_and_corrupt_datasets_are_refused_with_their_paths() {
    let dir = tempfile::tempdir().unwrap();
    let err = data::load("mnist", Some(dir.path())).map(|_| ()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DataError::Missing { .. }), "{msg}");
    assert!(msg.contains(&dir.path().join("mnist").display().to_string()), "{msg}");

    // A truncated copy of the real training images.
    let mnist = dir.path().join("mnist");
    std::fs::create_dir_all(&mnist).unwrap();
    for f in [
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        std::fs::copy(data_dir().join("mnist").join(f), mnist.join(f)).unwrap();
    }
    let full = data::decompress(&std::fs::read(data_dir().join("mnist/train-images-idx3-ubyte.gz")).unwrap()).unwrap();
    std::fs::write(mnist.join("train-images-idx3-ubyte"), &full[..full.len() - 100]).unwrap();
    let err = data::load("mnist", Some(dir.path()))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("train-images-idx3-ubyte:") && err.contains("truncated"),
        "{err}"
    );

    // A damaged gzip stream.
    std::fs::remove_file(mnist.join("train-images-idx3-ubyte")).unwrap();
    let gz = std::fs::read(data_dir().join("mnist/train-images-idx3-ubyte.gz")).unwrap();
    std::fs::write(mnist.join("train-images-idx3-ubyte.gz"), &gz[..gz.len() / 2]).unwrap();
    let err = data::load("mnist", Some(dir.path()))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("damaged gzip"), "{err}");

    // Labels and images swapped.
    std::fs::copy(
        data_dir().join("mnist/train-labels-idx1-ubyte.gz"),
        mnist.join("train-images-idx3-ubyte.gz"),
    )
    .unwrap();
    let err = data::load("mnist", Some(dir.path()))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("this is a label file"), "{err}");

    // Through the trainer: an error, not a panic.
    let p = small(&[("data_dir", ParamValue::Str(dir.path().display().to_string()))]);
    let cfg = TrainConfig::from_params(&p, 0, default_metric()).unwrap();
    assert!(matches!(
        run_trial(&cfg, &mut |_| {}, &mut ()),
        Err(TrainError::Data(_))
    ));
}

#[test]
fn the_committed_mnist_is_whole() {
    let d = data::load("mnist", Some(&data_dir())).unwrap();
    assert_eq!((d.train.len(), d.test.len()), (60_000, 10_000));
    assert_eq!((d.train.images.rows, d.train.images.cols), (28, 28));
    // Label counts of the canonical files.
    let mut counts = [0usize; 10];
    for &l in &d.test.labels {
        counts[l as usize] += 1;
    }
    assert_eq!(counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
}
