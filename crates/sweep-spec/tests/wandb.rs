//! W&B sweep files as public repositories write them: each parses, grid and
//! random ones plan, and the argv of the first trial (as `wandb agent` would
//! run it) is pinned in `snapshots/wandb__first_trial_argv.snap`.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use sweep_spec::sampler::{Ask, Trials};
use sweep_spec::{Method, Trainer, parse, plan};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wandb");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "only {} fixtures", files.len());
    files
}

/// One fixture's summary: what was read, the warnings, the first trial and its argv.
fn describe(path: &Path) -> String {
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).unwrap();
    let spec = parse(&text, Path::new(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(matches!(spec.trainer, Trainer::Wandb { .. }), "{file}");
    let mut out = String::new();
    writeln!(out, "== {file}").unwrap();
    writeln!(
        out,
        "name {} | method {} | metric {} {:?} target {:?} | project {:?} entity {:?}",
        spec.name,
        spec.method.as_str(),
        spec.metric.name,
        spec.metric.goal,
        spec.metric_target,
        spec.project,
        spec.entity
    )
    .unwrap();
    for p in &spec.parameters {
        writeln!(out, "  {} {}", p.name, p.distribution.describe()).unwrap();
    }
    for (at, w) in &spec.warnings {
        writeln!(out, "  warning {at}: {w}").unwrap();
    }
    let first = match spec.method {
        Method::Random if spec.run_cap.is_none() => {
            // No run_cap: no full plan (W&B's agent runs until stopped or
            // --count); the first draw is the first trial.
            assert!(plan(&spec).is_err(), "{file}");
            match Trials::new(&spec).unwrap().next(&[]) {
                Ask::Trial(t) => t,
                other => panic!("{file}: {other:?}"),
            }
        }
        Method::Grid | Method::Random => {
            let plan = plan(&spec).unwrap_or_else(|e| panic!("{file}: {e:?}"));
            writeln!(out, "  planned {} trials", plan.trials.len()).unwrap();
            plan.trials[0].clone()
        }
        Method::Tpe { .. } => match Trials::new(&spec).unwrap().next(&[]) {
            Ask::Trial(t) => t,
            other => panic!("{file}: {other:?}"),
        },
    };
    let params: Vec<String> = first.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    writeln!(out, "  first trial {}", params.join(" ")).unwrap();
    let argv = spec
        .agent_argv(&first.params, "python", Path::new("/trials/t0/wandb-args.json"))
        .unwrap();
    for word in argv {
        writeln!(out, "    {word}").unwrap();
    }
    out
}

#[test]
fn first_trial_argv() {
    let all: String = fixtures().iter().map(|p| describe(p)).collect();
    println!("{all}");
    insta::assert_snapshot!(all);
}

#[test]
fn every_fixture_warns_only_where_expected() {
    for path in fixtures() {
        let text = std::fs::read_to_string(&path).unwrap();
        let spec = parse(&text, &path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        let expect = matches!(&*name, "old-log-uniform.yaml" | "shapes.yaml");
        assert_eq!(!spec.warnings.is_empty(), expect, "{name}: {:?}", spec.warnings);
    }
}
