//! Reviewing results: `sweep leaderboard`, `show`, `compare`, `plot` and
//! `report` on a 200-trial synthetic sweep made here by a `command:` trainer.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn synth_trainer() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/review/synth.py")
        .display()
        .to_string()
}

fn spec_text(name: &str, method: &str, params: &str) -> String {
    format!(
        "name: {name}\nmethod: {method}\nseed: 11\nmetric: {{name: val_accuracy, goal: maximize}}\n\
         resources: {{cpus_per_trial: 0, max_concurrent: 16}}\n\
         trainer:\n  command: [python3, \"{}\", --lr, \"${{lr}}\", --optimizer, \"${{optimizer}}\", \
         --batch_size, \"${{batch_size}}\", --dropout, \"${{dropout}}\"]\nparameters:\n{params}",
        synth_trainer()
    )
}

/// Runs a spec into `dir/results/<name>` and returns that folder.
fn run_sweep(dir: &Path, name: &str, text: &str) -> PathBuf {
    let spec = dir.join(format!("{name}.yaml"));
    std::fs::write(&spec, text).unwrap();
    let out = Command::cargo_bin("sweep")
        .unwrap()
        .current_dir(dir)
        .args(["run", "--plain"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir.join("results").join(name)
}

/// The 200-trial random sweep (made once for all tests) and a small grid
/// sweep sharing its parameters, for compare.
fn sweeps() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static SWEEPS: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    SWEEPS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let synth = run_sweep(
            dir.path(),
            "synth",
            &format!(
                "run_cap: 200\n{}",
                spec_text(
                    "synth",
                    "random",
                    "  lr: {min: 1e-4, max: 1e-1, distribution: log_uniform_values}\n  \
                     optimizer: {values: [adam, sgd, rmsprop]}\n  batch_size: {values: [32, 64, 128]}\n  \
                     dropout: {min: 0.0, max: 0.5}\n"
                )
            ),
        );
        let grid = run_sweep(
            dir.path(),
            "grid",
            &spec_text(
                "grid",
                "grid",
                "  lr: {values: [1e-3, 3e-3, 1e-2]}\n  optimizer: {values: [adam, sgd]}\n  \
                 batch_size: {value: 64}\n  dropout: {value: 0.1}\n",
            ),
        );
        (dir, synth, grid)
    })
}

fn sweep(args: &[&str]) -> (String, String, Option<i32>) {
    let (dir, ..) = sweeps();
    let out = Command::cargo_bin("sweep")
        .unwrap()
        .current_dir(dir.path())
        .env_remove("COLUMNS")
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code(),
    )
}

fn ok(args: &[&str]) -> String {
    let (stdout, stderr, code) = sweep(args);
    assert_eq!(code, Some(0), "sweep {args:?}: {stderr}");
    stdout
}

const COLS: &str = "rank,trial_id,status,val_accuracy,best_epoch,lr,optimizer,batch_size,dropout";

#[test]
fn the_synthetic_sweep_has_200_trials_some_failed() {
    let csv = ok(&["leaderboard", "results/synth", "--format", "csv"]);
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 200);
    let n = |s: &str| rows.iter().filter(|r| &r[2] == s).count();
    assert!(n("completed") > 150, "{}", n("completed"));
    assert!(n("diverged") > 0 && n("failed") > 0, "the trainer's bad endings appear");
}

#[test]
fn leaderboard_formats() {
    for format in ["table", "csv", "json", "markdown"] {
        let out = ok(&[
            "leaderboard",
            "results/synth",
            "--top",
            "8",
            "--columns",
            COLS,
            "--format",
            format,
        ]);
        insta::assert_snapshot!(format!("leaderboard_{format}"), out);
    }
}

#[test]
fn leaderboard_filters_sorts_and_statuses() {
    let out = ok(&[
        "leaderboard",
        "synth",
        "--where",
        "optimizer=adam",
        "--where",
        "lr<0.01",
        "--sort",
        "lr:desc",
        "--top",
        "6",
        "--columns",
        COLS,
    ]);
    insta::assert_snapshot!("leaderboard_where_sort", out);
    let failed = ok(&[
        "leaderboard",
        "results/synth",
        "--status",
        "failed,diverged",
        "--columns",
        "trial_id,status,optimizer,error",
        "--format",
        "csv",
    ]);
    let mut r = csv::Reader::from_reader(failed.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert!(!rows.is_empty());
    for row in &rows {
        match &row[1] {
            "diverged" => assert!(row[3].contains("loss is inf") && &row[2] == "sgd", "{row:?}"),
            "failed" => assert!(
                row[3].contains("CUDA out of memory"),
                "failed trials show their reason: {row:?}"
            ),
            other => panic!("--status let {other} through"),
        }
    }
}

#[test]
fn leaderboard_fits_the_terminal_width() {
    let (dir, ..) = sweeps();
    let out = Command::cargo_bin("sweep")
        .unwrap()
        .current_dir(dir.path())
        .env("COLUMNS", "100")
        .args(["leaderboard", "results/synth", "--sort", "status:desc", "--top", "30"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 100, "a line of {widest} columns:\n{text}");
    let header = text.lines().next().unwrap();
    for kept in ["rank", "trial_id", "status", "val_accuracy", "lr", "optimizer"] {
        assert!(header.contains(kept), "{header}");
    }
    assert!(!header.contains("seed"), "the least useful columns go first: {header}");
    assert!(text.contains('…'), "long errors are cut short:\n{text}");
}

#[test]
fn bad_leaderboard_requests_say_what_is_wrong() {
    let cases: [(&[&str], &str); 6] = [
        (&["leaderboard", "results/nope"], "no leaderboard.csv here"),
        (
            &["leaderboard", "synth", "--where", "optimiser=adam"],
            "no column `optimiser` (did you mean `optimizer`?)",
        ),
        (&["leaderboard", "synth", "--where", "lr~3"], "expected COLUMN OP VALUE"),
        (
            &["leaderboard", "synth", "--where", "optimizer<adam"],
            "compares numbers",
        ),
        (&["leaderboard", "synth", "--sort", "lr:up"], "`asc` or `desc`"),
        (&["leaderboard", "synth", "--status", "done"], "not a status"),
    ];
    for (args, expected) in cases {
        let (_, stderr, code) = sweep(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn show_a_trial_by_rank_and_by_id() {
    let out = ok(&["show", "results/synth", "1"]);
    let (dir, ..) = sweeps();
    let out = out.replace(&dir.path().display().to_string(), "[tmp]");
    let id = out.split_whitespace().nth(1).unwrap().to_string();
    // The duration varies from run to run.
    let status = out.lines().nth(1).unwrap().to_string();
    assert!(
        status.starts_with("status:  completed, 1 attempt, ") && status.ends_with(" s on cpu"),
        "{status}"
    );
    let out = out.replace(&status, "status:  completed, 1 attempt, [seconds] s on cpu");
    insta::assert_snapshot!("show_best", out.replace(&id, "[id]"));
    // The same trial by the start of its id.
    let again = ok(&["show", "results/synth", &id[..6]]);
    assert!(again.starts_with(&format!("trial {id} (rank 1 of")), "{again}");
    let (_, stderr, code) = sweep(&["show", "results/synth", "999"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no trial has rank 999"), "{stderr}");
    let failed = ok(&[
        "leaderboard",
        "synth",
        "--status",
        "failed",
        "--columns",
        "trial_id",
        "--format",
        "csv",
    ]);
    let failed_id = failed.lines().nth(1).unwrap();
    let shown = ok(&["show", "synth", failed_id]);
    assert!(
        shown.contains("status:  failed") && shown.contains("CUDA out of memory"),
        "{shown}"
    );
    assert!(shown.contains("stderr.log"), "log paths: {shown}");
}

#[test]
fn compare_two_sweeps() {
    let out = ok(&["compare", "results/synth", "results/grid", "--top", "2"]);
    insta::assert_snapshot!("compare", out);
}

/// Decodes a PNG and checks its size and that it is not blank.
fn check_png(path: &Path, size: (u32, u32)) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), size, "{}", path.display());
    let px = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let ink = pixels.iter().filter(|p| p[..3] != [255, 255, 255]).count();
    let share = ink as f64 / pixels.len() as f64;
    assert!(
        share > 0.01 && share < 0.6,
        "{}: {:.1}% ink",
        path.display(),
        share * 100.0
    );
    let mut colours: Vec<&[u8]> = pixels.clone();
    colours.sort();
    colours.dedup();
    assert!(colours.len() > 20, "{}: only {} colours", path.display(), colours.len());
}

#[test]
fn plots_are_written_as_png_and_svg() {
    let (_, synth, _) = sweeps();
    let out = ok(&["plot", "results/synth"]);
    let plots = synth.join("plots");
    let expected: [(&str, (u32, u32)); 6] = [
        ("curves", (1000, 600)),
        ("val_accuracy_vs_lr", (900, 560)),
        ("val_accuracy_vs_optimizer", (900, 560)),
        ("val_accuracy_vs_batch_size", (900, 560)),
        ("val_accuracy_vs_dropout", (900, 560)),
        ("parallel", (1100, 600)),
    ];
    assert!(out.starts_with("6 figures of "), "{out}");
    for (stem, size) in expected {
        let png = plots.join(format!("{stem}.png"));
        assert!(
            out.contains(&format!("results/synth/plots/{stem}.png")),
            "listed: {out}"
        );
        check_png(&png, size);
        let svg = std::fs::read_to_string(plots.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("synth: "), "the title names the sweep: {stem}");
        assert!(
            svg.matches("<polyline").count() + svg.matches("<circle").count() > 20,
            "{stem} has marks"
        );
    }
    let lr = std::fs::read_to_string(plots.join("val_accuracy_vs_lr.svg")).unwrap();
    assert!(lr.contains("lr (log scale)"), "learning rates on a log axis");
}

#[test]
fn the_report_is_one_self_contained_page() {
    let (_, synth, _) = sweeps();
    let out = ok(&["report", "synth"]);
    let path = synth.join("report.html");
    assert!(out.starts_with("results/synth/report.html ("), "{out}");
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert_eq!(html.matches("<svg").count(), 6, "every figure inline");
    assert_eq!(html.matches("<tr class=").count(), 200, "every trial in the table");
    assert!(html.contains("class=\"sortable\"") && html.contains("addEventListener('click'"));
    for external in ["http://", "https://", "src=", "<link"] {
        let outside_svg_namespace = html.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !outside_svg_namespace.contains(external),
            "the page fetches nothing: found {external}"
        );
    }
}
