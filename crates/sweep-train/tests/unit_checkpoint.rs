//! Unit tests of `sweep_train::checkpoint`: the file format, its checks and
//! its atomic writes, without training anything.

use sweep_train::checkpoint::{FORMAT, Refusal, STATE_FILE, Store, parse};

fn sections() -> Vec<Vec<u8>> {
    vec![b"{\"epoch\":2}".to_vec(), vec![0u8; 1000], (0..=255u8).collect()]
}

fn saved(dir: &std::path::Path) -> Store {
    let store = Store::new(dir, "f1");
    let (best, _) = store.save_best(2, &[vec![7u8; 64]]).unwrap();
    store.save(2, &sections(), Some(&best)).unwrap();
    store
}

fn refusal(store: &Store) -> String {
    match store.load() {
        Err(e) => e.to_string(),
        Ok(l) => panic!("accepted: {l:?}"),
    }
}

#[test]
fn a_checkpoint_reads_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(Store::new(dir.path(), "f1").load().unwrap(), None, "no checkpoint yet");
    let store = saved(dir.path());
    let loaded = store.load().unwrap().unwrap();
    assert_eq!(loaded.epoch, 2);
    assert_eq!(loaded.sections, sections());
    let (best, best_sections) = loaded.best.unwrap();
    assert_eq!((best.epoch, best.file.as_str()), (2, "best-e0002.ckpt"));
    assert_eq!(best_sections, vec![vec![7u8; 64]]);
    // The header is one JSON line a person can read with `head -1`.
    let text = std::fs::read(dir.path().join(STATE_FILE)).unwrap();
    let line = String::from_utf8_lossy(&text[..text.iter().position(|&b| b == b'\n').unwrap()]).into_owned();
    let header: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(header["format"], FORMAT);
    assert_eq!(header["sweep"], env!("CARGO_PKG_VERSION"));
    assert_eq!(header["epoch"], 2);
}

#[test]
fn only_the_last_state_and_its_best_file_stay() {
    let dir = tempfile::tempdir().unwrap();
    let store = saved(dir.path());
    let (best, _) = store.save_best(3, &[vec![8u8; 64]]).unwrap();
    store.save(3, &sections(), Some(&best)).unwrap();
    store.save(4, &sections(), Some(&best)).unwrap();
    // A temporary file left by an attempt killed while writing.
    std::fs::write(dir.path().join(".tmp-state.ckpt-999"), b"partial").unwrap();
    assert_eq!(store.load().unwrap().unwrap().epoch, 4);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["best-e0003.ckpt", "state.ckpt"]);
}

#[test]
fn damaged_checkpoints_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = saved(dir.path());
    let path = dir.path().join(STATE_FILE);
    let good = std::fs::read(&path).unwrap();

    // One flipped byte in the payload.
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 10] ^= 0x40;
    std::fs::write(&path, &bad).unwrap();
    assert!(refusal(&store).starts_with("damaged: checksum"), "{}", refusal(&store));

    // Cut short.
    std::fs::write(&path, &good[..n - 100]).unwrap();
    assert!(refusal(&store).starts_with("truncated"), "{}", refusal(&store));
    // Cut inside the header.
    std::fs::write(&path, &good[..20]).unwrap();
    assert!(refusal(&store).starts_with("unparsable header"), "{}", refusal(&store));
    // Not a checkpoint at all.
    std::fs::write(&path, b"hello\nworld").unwrap();
    assert!(refusal(&store).starts_with("unparsable header"), "{}", refusal(&store));

    // Another trial's.
    std::fs::write(&path, &good).unwrap();
    let other = Store::new(dir.path(), "f2");
    assert!(matches!(other.load(), Err(Refusal::OtherConfig { .. })));
    assert!(refusal(&other).contains("another trial configuration"));

    // Another sweep version, another format.
    let text = String::from_utf8_lossy(&good).into_owned();
    let edit = |from: &str, to: &str| {
        let mut b = good.clone();
        let at = text.find(from).unwrap();
        b.splice(at..at + from.len(), to.bytes());
        std::fs::write(&path, b).unwrap();
    };
    edit(
        &format!("\"sweep\":\"{}\"", env!("CARGO_PKG_VERSION")),
        "\"sweep\":\"0.0.0-old\"",
    );
    assert!(
        refusal(&store).contains("written by sweep 0.0.0-old"),
        "{}",
        refusal(&store)
    );
    edit(&format!("\"format\":{FORMAT}"), "\"format\":99");
    assert!(refusal(&store).contains("format 99"), "{}", refusal(&store));

    // The best-weights file missing or replaced.
    std::fs::write(&path, &good).unwrap();
    let best = dir.path().join("best-e0002.ckpt");
    let best_bytes = std::fs::read(&best).unwrap();
    std::fs::remove_file(&best).unwrap();
    assert!(
        refusal(&store).contains("best-weights file best-e0002.ckpt"),
        "{}",
        refusal(&store)
    );
    let (_, _) = store.save_best(2, &[vec![9u8; 64]]).unwrap();
    assert!(
        refusal(&store).contains("the state names epoch 2"),
        "{}",
        refusal(&store)
    );
    std::fs::write(&best, best_bytes).unwrap();
    assert!(store.load().is_ok());

    // Set aside: the state moves to refused-state.ckpt, best files go.
    store.set_aside().unwrap();
    assert_eq!(store.load().unwrap(), None);
    assert!(dir.path().join("refused-state.ckpt").exists());
    assert!(!best.exists());
}

#[test]
fn parse_checks_the_kind() {
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path());
    let best = std::fs::read(dir.path().join("best-e0002.ckpt")).unwrap();
    assert!(parse(&best, "best", "f1").is_ok());
    let err = parse(&best, "state", "f1").unwrap_err().to_string();
    assert!(err.contains("expected a `state` file"), "{err}");
}
