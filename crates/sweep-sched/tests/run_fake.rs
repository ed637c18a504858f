//! The whole run loop (`run_with`: journal, tables, timers) driven through
//! the fake launcher: the `Launcher` trait is all a launcher needs.

use std::sync::Arc;
use std::time::Duration;
use sweep_core::{ParamValue, TrialStatus};
use sweep_results::{Journal, ResultsDir};
use sweep_sched::launcher::fake::{FakeLauncher, Script, Scripts};
use sweep_sched::{RunOptions, run_with};
use sweep_spec::Trial;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_loop_drives_a_fake_launcher_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let text = "name: f\nmethod: grid\nmetric: {name: loss, goal: minimize}\nretries: 1\n\
                resources: {cpus_per_trial: 0, max_concurrent: 2}\ntrainer: {command: [\"true\"]}\n\
                parameters:\n  x: {values: [1, 2, 3, 4]}\n";
    let spec = sweep_spec::parse(text, "f.yaml".as_ref()).unwrap();
    // Loss x / epoch over 3 epochs; x = 3 fails its first attempt.
    let scripts: Scripts = Arc::new(|t: &Trial, attempt: u32| {
        let x = match t.params["x"] {
            ParamValue::Int(x) => x as f64,
            ref other => panic!("{other:?}"),
        };
        Script {
            epochs: (1..=3)
                .map(|e| [("loss".to_string(), x / f64::from(e))].into_iter().collect())
                .collect(),
            status: if x == 3.0 && attempt == 1 {
                TrialStatus::Failed
            } else {
                TrialStatus::Completed
            },
            step: Duration::from_millis(5),
        }
    });
    let launcher = FakeLauncher::new(scripts);
    let started = Arc::clone(&launcher.started);
    let mut opts = RunOptions::new("unused".into());
    opts.gpus = Vec::new();
    opts.retry_backoff = Duration::from_millis(10);
    let results = ResultsDir::new(dir.path().join("f"));
    let summary = run_with(&spec, text, &results, &opts, Box::new(launcher), &mut |_| {})
        .await
        .unwrap();
    assert!(!summary.interrupted);
    assert_eq!(started.lock().unwrap().len(), 5, "four trials, one retried");
    let replay = Journal::replay(&results.journal()).unwrap();
    assert_eq!(replay.order.len(), 4);
    for r in replay.trials.values() {
        assert_eq!(r.status, TrialStatus::Completed);
        assert_eq!(r.epochs.len(), 3);
        assert!(r.handles.iter().all(|h| h.launcher == "fake"));
    }
    // The tables were written by their thread: ranked, x = 1 first.
    let board = std::fs::read_to_string(results.leaderboard()).unwrap();
    let lines: Vec<&str> = board.lines().collect();
    assert_eq!(lines.len(), 5, "{board}");
    assert!(
        lines[1].starts_with("1,") && lines[1].contains(",completed,0.3333333333333333,3,1,"),
        "{board}"
    );
}
