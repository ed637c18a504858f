//! The CLI's spec-error snapshots, checked without building the CLI.
//!
//! `sweep-cli/tests/spec_errors.rs` runs `sweep plan` on every malformed spec
//! under `sweep-cli/tests/fixtures/bad/` and keeps its stderr as an insta
//! snapshot. That needs the `sweep` binary, which links the trainer (burn): a
//! long build. `sweep plan` prints `error: ` and the [`sweep_spec::load`] error,
//! so this test renders the same text here and compares it with each snapshot's
//! body, which keeps the snapshots honest after a change to a message.
//!
//! `SWEEP_WRITE_CLI_SNAPSHOTS=1 cargo test -p sweep-spec --test cli_snapshots`
//! writes the missing or differing snapshots in insta's format (review them
//! with `git diff`, or regenerate with `cargo insta test -p sweep-cli`).

use std::path::{Path, PathBuf};

const SNAPSHOT_PREFIX: &str = "spec_errors__malformed_specs_give_located_errors_and_exit_2@";

/// What `sweep plan <rel>` prints on stderr, as insta keeps it (trailing newlines trimmed).
fn cli_stderr(rel: &str) -> String {
    let err = sweep_spec::load(Path::new(rel)).expect_err(rel);
    format!("error: {err}").trim_end_matches('\n').to_string()
}

fn snapshot_file(cli: &Path, fixture: &str) -> PathBuf {
    cli.join("tests/snapshots")
        .join(format!("{SNAPSHOT_PREFIX}{fixture}.snap"))
}

/// The snapshot's body: what follows its `---` header.
fn body(snap: &str) -> Option<&str> {
    let rest = snap.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(rest[end + 5..].trim_end_matches('\n'))
}

#[test]
fn cli_spec_error_snapshots_match_the_rendering() {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sweep-cli");
    // The fixtures' paths appear in the messages as `sweep plan` gets them,
    // relative to the CLI crate (this test binary runs alone in its process).
    std::env::set_current_dir(&cli).unwrap();
    let write = std::env::var_os("SWEEP_WRITE_CLI_SNAPSHOTS").is_some();
    let mut fixtures: Vec<String> = std::fs::read_dir("tests/fixtures/bad")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 50, "only {} fixtures", fixtures.len());
    let mut wrong = Vec::new();
    for fixture in &fixtures {
        let rel = format!("tests/fixtures/bad/{fixture}");
        let got = cli_stderr(&rel);
        let file = snapshot_file(&cli, fixture);
        let old = std::fs::read_to_string(&file).ok();
        if old.as_deref().and_then(body) == Some(got.as_str()) {
            continue;
        }
        if write {
            let snap = format!(
                "---\nsource: crates/sweep-cli/tests/spec_errors.rs\nexpression: stderr\ninput_file: crates/sweep-cli/{rel}\n---\n{got}\n"
            );
            std::fs::write(&file, snap).unwrap();
        } else {
            wrong.push(format!(
                "{fixture}: snapshot {}; expected body:\n{got}",
                if old.is_some() { "differs" } else { "missing" }
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{}\n(SWEEP_WRITE_CLI_SNAPSHOTS=1 writes them)",
        wrong.join("\n\n")
    );
}
