//! Unit tests of `sweep_train::backend` (kept outside the crate so that a test
//! build does not compile the whole trainer a second time).
use sweep_train::backend::*;

#[test]
fn parses_devices() {
    assert_eq!(DeviceKind::parse("cpu"), Ok(DeviceKind::Cpu));
    assert_eq!(DeviceKind::parse("cuda"), Ok(DeviceKind::Cuda(0)));
    assert_eq!(DeviceKind::parse("cuda:3"), Ok(DeviceKind::Cuda(3)));
    assert!(DeviceKind::parse("gpu").is_err());
    assert_eq!(DeviceKind::Cuda(2).to_string(), "cuda:2");
}

#[test]
fn detecting_gpus_never_panics() {
    // On a machine without a driver this is an error with a reason; with
    // one, a count. Either way, no panic and no abort.
    match cuda_devices() {
        Ok(n) => assert!(n > 0),
        Err(e) => assert!(!e.is_empty()),
    }
    if cuda_devices().is_err() {
        let err = check_device(DeviceKind::Cuda(0)).unwrap_err();
        assert!(err.starts_with("device cuda:0 requested, but"), "{err}");
    }
}

#[test]
fn flush_to_zero_flushes() {
    let handle = std::thread::spawn(|| {
        let tiny = std::hint::black_box(f32::MIN_POSITIVE);
        let before = std::hint::black_box(tiny / 4.0);
        flush_denormals();
        let after = std::hint::black_box(tiny) / std::hint::black_box(4.0);
        (before, after)
    });
    let (before, after) = handle.join().unwrap();
    assert!(before > 0.0, "denormals exist before");
    if cfg!(target_arch = "x86_64") {
        assert_eq!(after, 0.0, "and flush to zero after");
    }
}
