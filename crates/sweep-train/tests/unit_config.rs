//! Unit tests of `sweep_train::config` (kept outside the crate so that a test
//! build does not compile the whole trainer a second time).
use sweep_core::{ParamValue, Params};
use sweep_train::config::*;

fn params(pairs: &[(&str, ParamValue)]) -> Params {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[test]
fn defaults_are_the_reference_recipe() {
    let c = TrainConfig::from_params(&Params::new(), 7, default_metric()).unwrap();
    assert_eq!(c.model, ModelKind::Mlp);
    assert_eq!(c.hidden, vec![128]);
    assert_eq!((c.lr, c.batch_size, c.epochs), (1e-3, 64, 10));
    assert_eq!(
        c.optimizer,
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999
        }
    );
    assert_eq!((c.eps, c.weight_decay), (1e-8, 0.0));
    assert_eq!(c.normalize, "meanstd");
    assert_eq!((c.norm_mean, c.norm_std), (0.5, 0.5));
    assert_eq!(c.seed, 7);
    assert_eq!(c.augment, None);
}

#[test]
fn pytorch_defaults_per_optimizer() {
    let w = TrainConfig::from_params(
        &params(&[("optimizer", ParamValue::Str("adamw".into()))]),
        0,
        default_metric(),
    )
    .unwrap();
    assert_eq!(w.weight_decay, 0.01);
    let a = TrainConfig::from_params(
        &params(&[("optimizer", ParamValue::Str("adagrad".into()))]),
        0,
        default_metric(),
    )
    .unwrap();
    assert_eq!(a.eps, 1e-10);
}

#[test]
fn refuses_unknown_and_invalid_parameters() {
    let err = TrainConfig::from_params(&params(&[("lrr", ParamValue::Float(0.1))]), 0, default_metric()).unwrap_err();
    assert!(err.starts_with("unknown parameter `lrr`"), "{err}");
    let err = TrainConfig::from_params(
        &params(&[("optimizer", ParamValue::Str("lion".into()))]),
        0,
        default_metric(),
    )
    .unwrap_err();
    assert!(err.contains("expected one of sgd"), "{err}");
    let err = TrainConfig::from_params(
        &params(&[
            ("lr_schedule", ParamValue::Str("cosine".into())),
            ("lr", ParamValue::Float(2.0)),
        ]),
        0,
        default_metric(),
    )
    .unwrap_err();
    assert!(err.contains("lr <= 1"), "{err}");
}
