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

/// Writes a results folder by hand: a val_loss sweep whose spec says
/// minimize, although its ranks, read top to bottom, go from larger to
/// smaller values (as a maximized metric's would); rank 2 was pruned after
/// one epoch. Without `spec`, no spec.yaml.
fn hand_written(root: &Path, name: &str, spec: bool) -> PathBuf {
    let dir = root.join("results").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    if spec {
        std::fs::write(
            dir.join("spec.yaml"),
            format!(
                "name: {name}\nmethod: grid\nmetric: {{name: val_loss, goal: minimize}}\n\
                 trainer:\n  command: [python3, train.py]\n\
                 parameters:\n  lr: {{values: [0.1, 0.01]}}\n  optimizer: {{values: [adam, sgd]}}\n"
            ),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("leaderboard.csv"),
        "rank,trial_id,status,val_loss,best_epoch,lr,optimizer,epochs_run,duration_s,device,seed,attempts,error\n\
         1,aaaa00000001,completed,0.9,3,0.1,adam,3,12.0,cpu,7,1,\n\
         2,bbbb00000002,pruned,0.5,1,0.01,adam,1,4.5,cpu,8,1,\n\
         3,cccc00000003,completed,0.1,3,0.1,sgd,3,12.5,cpu,9,1,\n\
         ,dddd00000004,failed,,,0.01,sgd,0,0.3,cpu,10,2,CUDA out of memory\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("epochs.csv"),
        "trial_id,attempt,epoch,val_loss\n\
         aaaa00000001,1,1,1.5\naaaa00000001,1,2,1.1\naaaa00000001,1,3,0.9\n\
         bbbb00000002,1,1,0.5\n\
         cccc00000003,1,1,0.6\ncccc00000003,1,2,0.3\ncccc00000003,1,3,0.1\n",
    )
    .unwrap();
    dir
}

fn run_in(dir: &Path, args: &[&str]) -> (String, String, Option<i32>) {
    let out = Command::cargo_bin("sweep")
        .unwrap()
        .current_dir(dir)
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

#[test]
fn pruned_trials_are_ranked_counted_and_filtered_and_the_goal_is_the_specs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cut = hand_written(root, "cut", true);
    hand_written(root, "cut2", true);
    let ok_in = |args: &[&str]| {
        let (stdout, stderr, code) = run_in(root, args);
        assert_eq!(code, Some(0), "sweep {args:?}: {stderr}");
        stdout
    };

    let pruned = ok_in(&[
        "leaderboard",
        "cut",
        "--status",
        "pruned",
        "--columns",
        "rank,trial_id,status,val_loss",
        "--format",
        "csv",
    ]);
    assert_eq!(pruned, "rank,trial_id,status,val_loss\n2,bbbb00000002,pruned,0.5\n");
    let table = ok_in(&["leaderboard", "cut"]);
    assert!(table.contains("(4 of 4 trials; ranked by val_loss)"), "{table}");

    let shown = ok_in(&["show", "cut", "2"]);
    assert!(shown.starts_with("trial bbbb00000002 (rank 2 of 3)"), "{shown}");
    assert!(
        shown.contains("status:  pruned, 1 attempt, 4.5 s on cpu, stopped early after 1 epoch"),
        "{shown}"
    );

    // The spec says minimize: the smaller value of adam is its best.
    let compared = ok_in(&["compare", "cut", "cut2", "--top", "1"]);
    assert!(
        compared.starts_with("best trials by val_loss (minimize):"),
        "{compared}"
    );
    let words = |prefix: &str| -> Vec<String> {
        let line = compared.lines().rfind(|l| l.starts_with(prefix));
        line.unwrap_or_default().split_whitespace().map(String::from).collect()
    };
    assert_eq!(
        words("adam "),
        ["adam", "0.5", "(n=2)", "0.5", "(+0,", "n=2)"],
        "{compared}"
    );
    assert_eq!(
        words("sweep "),
        ["sweep", "trials", "completed", "pruned", "failed", "other"],
        "{compared}"
    );
    assert_eq!(
        words("results/cut "),
        ["results/cut", "4", "2", "1", "1", "0"],
        "{compared}"
    );

    let plotted = ok_in(&["plot", "cut"]);
    assert!(
        plotted.contains("figures of 2 completed and 1 pruned trials"),
        "{plotted}"
    );
    let curves = std::fs::read_to_string(cut.join("plots/curves.svg")).unwrap();
    assert!(
        curves.contains("1 pruned (stopped early)"),
        "the curves mark where pruning stopped"
    );
    ok_in(&["report", "cut"]);
    let html = std::fs::read_to_string(cut.join("report.html")).unwrap();
    assert!(html.contains("4 trials: 2 completed, 1 pruned, 1 failed; ranked by val_loss (minimize)"));
    assert!(html.contains("<tr class=\"pruned\">"));
}

#[test]
fn a_folder_without_spec_yaml_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    hand_written(tmp.path(), "bare", false);
    for args in [
        &["leaderboard", "bare"][..],
        &["show", "bare", "1"],
        &["plot", "bare"],
        &["compare", "bare", "bare"],
    ] {
        let (_, stderr, code) = run_in(tmp.path(), args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("results/bare: no spec.yaml: not a results folder written by `sweep run`"),
            "{args:?}: {stderr}"
        );
    }
}
