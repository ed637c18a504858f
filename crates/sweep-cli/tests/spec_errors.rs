//! Every malformed spec under `fixtures/bad/` must fail `sweep plan` with exit
//! status 2, print nothing on stdout, and give a located, readable message
//! (kept as a snapshot beside this file).

use assert_cmd::Command;
use std::path::Path;

fn plan(spec: &str) -> std::process::Output {
    Command::cargo_bin("sweep")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["plan", spec])
        .output()
        .unwrap()
}

#[test]
fn malformed_specs_give_located_errors_and_exit_2() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad");
    let mut count = 0;
    insta::glob!("fixtures/bad/*.yaml", |path| {
        count += 1;
        let rel = format!("tests/fixtures/bad/{}", path.file_name().unwrap().to_string_lossy());
        let out = plan(&rel);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{rel}: exit status; stderr:\n{stderr}");
        assert!(out.stdout.is_empty(), "{rel}: printed on stdout");
        assert!(stderr.starts_with("error: "), "{rel}: {stderr}");
        // Every problem names the file, line and column.
        let located = format!("--> {rel}:");
        assert!(stderr.contains(&located), "{rel}: no location in:\n{stderr}");
        insta::assert_snapshot!(stderr);
    });
    assert!(count >= 25, "only {count} fixtures in {}", dir.display());
}

#[test]
fn a_missing_file_is_named() {
    let out = plan("sweeps/does-not-exist.yaml");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.trim_end(),
        "error: cannot read sweeps/does-not-exist.yaml: No such file or directory (os error 2)"
    );
    assert!(out.stdout.is_empty());
}
