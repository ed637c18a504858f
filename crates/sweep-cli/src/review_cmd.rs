//! `sweep leaderboard`, `sweep show`, `sweep compare`: reading results back.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use sweep_core::{TrialId, TrialStatus, format_float, format_short};
use sweep_results::{Board, Comparison, Epochs, Filter, Journal, Query, ResultsDir, SortKey, Table, parse_status};

/// How a table is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns, fitted to the terminal.
    Table,
    /// Comma-separated values with a header.
    Csv,
    /// An array of objects.
    Json,
    /// A GitHub-flavoured Markdown table.
    Markdown,
}

/// Show a sweep's ranked trials (works while it runs).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  sweep leaderboard results/lr --top 5\n  \
    sweep leaderboard results/lr --where optimizer=adam --where 'lr<0.01'\n  \
    sweep leaderboard results/lr --sort lr:desc --columns rank,trial_id,lr,val_accuracy\n  \
    sweep leaderboard results/lr --status failed,timed_out\n  \
    sweep leaderboard results/lr --format markdown")]
pub struct LeaderboardArgs {
    /// The results folder (results/<sweep name>), or just the sweep's name.
    pub results: PathBuf,
    /// At most N rows.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Order by a column instead of rank: COLUMN, COLUMN:asc or COLUMN:desc.
    #[arg(long, value_name = "COLUMN[:asc|:desc]")]
    pub sort: Option<String>,
    /// Keep rows where COLUMN OP VALUE holds (OP: = != < <= > >=); repeat to combine.
    #[arg(long = "where", value_name = "EXPR")]
    pub filters: Vec<String>,
    /// Only these columns, in this order (comma-separated).
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Only trials with these statuses (comma-separated).
    #[arg(long, value_name = "STATUS,...", value_delimiter = ',')]
    pub status: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `results/lr`, or `lr` when only `results/lr` exists.
pub fn results_dir(given: &Path) -> PathBuf {
    if !given.exists() {
        let under = Path::new("results").join(given);
        if under.is_dir() {
            return under;
        }
    }
    given.to_path_buf()
}

/// The width of the terminal on stdout; `COLUMNS` elsewhere; none when unknown.
fn terminal_width() -> Option<usize> {
    if std::io::stdout().is_terminal() {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ fills the winsize struct passed by pointer.
        let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
        if rc == 0 && ws.ws_col > 0 {
            return Some(ws.ws_col as usize);
        }
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok())
}

pub fn leaderboard(args: &LeaderboardArgs) -> Result<()> {
    let dir = results_dir(&args.results);
    let board = Board::load(&dir)?;
    let query = Query {
        filters: args
            .filters
            .iter()
            .map(|f| Filter::parse(f))
            .collect::<Result<_, _>>()?,
        statuses: args.status.iter().map(|s| parse_status(s)).collect::<Result<_, _>>()?,
        sort: args.sort.as_deref().map(SortKey::parse).transpose()?,
        top: args.top,
        columns: args.columns.clone(),
    };
    let view = board.view(&query)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Table => {
            out.write_all(view.to_table(terminal_width()).as_bytes())?;
            let shown = view.rows.len();
            let note = if view.matched == view.total {
                format!("{shown} of {} trials", view.total)
            } else {
                format!("{shown} of {} matching trials ({} in all)", view.matched, view.total)
            };
            writeln!(out, "({note}; ranked by {})", board.metric.name)?;
        }
        Format::Csv => out.write_all(view.to_csv().as_bytes())?,
        Format::Json => out.write_all(view.to_json().as_bytes())?,
        Format::Markdown => out.write_all(view.to_markdown().as_bytes())?,
    }
    Ok(())
}

/// Show one trial: parameters, epochs, status, logs.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  sweep show results/lr 1        (the best trial)\n  sweep show results/lr 3f2a     (an id or its start)"
)]
pub struct ShowArgs {
    /// The results folder (results/<sweep name>), or just the sweep's name.
    pub results: PathBuf,
    /// The trial: its id, the start of its id, or its rank (1 or #1).
    pub trial: String,
}

pub fn show(args: &ShowArgs) -> Result<()> {
    let dir = results_dir(&args.results);
    let board = Board::load(&dir)?;
    let t = board.find(&args.trial)?;
    let id = t.id.as_str();
    let mut out = std::io::stdout().lock();
    let rank = match t.rank {
        Some(r) => format!("rank {r} of {}", board.ranked().count()),
        None => "unranked".to_string(),
    };
    writeln!(out, "trial {id} ({rank}) in {}", dir.display())?;
    let plural = if t.attempts == 1 { "" } else { "s" };
    let mut status = format!("{}, {} attempt{plural}", t.status, t.attempts);
    if let Some(s) = t.duration_s {
        status.push_str(&format!(", {s:.1} s"));
    }
    if let Some(d) = &t.device {
        status.push_str(&format!(" on {d}"));
    }
    if t.status == TrialStatus::Pruned {
        status.push_str(&format!(
            ", stopped early after {} epoch{}",
            t.epochs_run,
            if t.epochs_run == 1 { "" } else { "s" }
        ));
    }
    writeln!(out, "status:  {status}")?;
    if let Some(v) = t.value {
        let at = t.best_epoch.map(|e| format!(" (best epoch {e})")).unwrap_or_default();
        writeln!(out, "metric:  {} {}{at}", board.metric.name, format_float(v))?;
    }
    writeln!(out, "seed:    {}", t.seed)?;
    if let Some(line) = checkpoint_line(&board.dir, &t.id) {
        writeln!(out, "checkpoints: {line}")?;
    }
    if let Some(e) = &t.error {
        writeln!(out, "error:   {}", e.replace(" | ", "\n         "))?;
    }
    writeln!(out, "\nparameters:")?;
    let mut table = Table::new(vec!["name".into(), "value".into()]);
    for (p, v) in board.params.iter().zip(&t.params) {
        table.row(vec![p.clone(), v.clone()]);
    }
    write_indented(&mut out, &table.render(), true)?;

    let epochs = Epochs::load(&dir)?;
    if let Some(rows) = epochs.trials.get(id) {
        // Only the metrics this trial reported.
        let used: Vec<usize> = (0..epochs.metrics.len())
            .filter(|&m| rows.iter().any(|(_, v)| v[m].is_some()))
            .collect();
        let mut header = vec!["epoch".to_string()];
        header.extend(used.iter().map(|&m| epochs.metrics[m].clone()));
        let mut table = Table::new(header);
        for (e, v) in rows {
            let mut cells = vec![e.to_string()];
            cells.extend(used.iter().map(|&m| v[m].map(format_short).unwrap_or_default()));
            table.row(cells);
        }
        writeln!(out, "\nepochs:")?;
        write_indented(&mut out, &table.render(), false)?;
    } else {
        writeln!(out, "\nepochs:  none recorded")?;
    }
    let tdir = board.dir.trial_dir(&t.id);
    writeln!(out, "\nfiles:")?;
    for name in ["trial.json", "stdout.log", "stderr.log", "events.jsonl"] {
        let p = tdir.join(name);
        if p.exists() {
            writeln!(out, "  {}", p.display())?;
        }
    }
    Ok(())
}

/// What the journal says of a trial's checkpoints and continuations:
/// `5 written (last after epoch 5, 1.2 MB), 0.004 s each on average;
/// continued 2 times: attempt 2 from epoch 3, attempt 3 from epoch 4`.
fn checkpoint_line(dir: &ResultsDir, id: &TrialId) -> Option<String> {
    let replay = Journal::replay(&dir.journal()).ok()?;
    let r = replay.trials.get(id)?;
    if r.checkpoint.is_none() && r.resumed.is_empty() && r.continuations == 0 {
        return None;
    }
    let mut parts = Vec::new();
    if let Some(c) = r.checkpoint {
        let size = c.bytes.map(|b| format!(", {}", human_bytes(b))).unwrap_or_default();
        let each = if r.checkpoint_writes > 0 && r.checkpoint_seconds > 0.0 {
            format!(
                ", {:.3} s each on average",
                r.checkpoint_seconds / f64::from(r.checkpoint_writes)
            )
        } else {
            String::new()
        };
        parts.push(format!(
            "{} written (last after epoch {}{size}){each}",
            r.checkpoint_writes, c.epoch
        ));
    }
    if !r.resumed.is_empty() {
        let from: Vec<String> = r
            .resumed
            .iter()
            .map(|(a, e)| format!("attempt {a} from epoch {e}"))
            .collect();
        parts.push(format!(
            "continued {} time{}: {}",
            r.resumed.len(),
            if r.resumed.len() == 1 { "" } else { "s" },
            from.join(", ")
        ));
    }
    if r.continuations > 0 {
        parts.push(format!("{} attempts cut short to be continued", r.continuations));
    }
    Some(parts.join("; "))
}

/// `1.2 MB`, `812 KB`, `96 B`.
fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / f64::from(1u32 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{} KB", b >> 10),
        b => format!("{b} B"),
    }
}

fn write_indented(out: &mut impl Write, text: &str, skip_header: bool) -> std::io::Result<()> {
    for line in text.lines().skip(usize::from(skip_header)) {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

/// Compare the best trials of several sweeps.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  sweep compare results/lr results/lr-wide --top 3")]
pub struct CompareArgs {
    /// Two or more results folders.
    #[arg(required = true, num_args = 2..)]
    pub results: Vec<PathBuf>,
    /// Best trials shown per sweep.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub top: usize,
}

pub fn compare(args: &CompareArgs) -> Result<()> {
    let mut boards = Vec::new();
    for r in &args.results {
        let dir = results_dir(r);
        boards.push((dir.display().to_string(), Board::load(&dir)?));
    }
    let c = sweep_results::compare(&boards, args.top)?;
    let mut out = std::io::stdout().lock();
    out.write_all(render_comparison(&c).as_bytes())?;
    Ok(())
}

/// The comparison as text: best trials side by side, status counts, and the
/// best metric per parameter value in common.
fn render_comparison(c: &Comparison) -> String {
    let metric = &c.metric.name;
    let mut out = format!("best trials by {metric} ({}):\n", c.metric.goal.as_str());
    let mut header = vec!["sweep".to_string(), "rank".into(), metric.clone(), "trial_id".into()];
    header.extend(c.params.iter().cloned());
    let mut t = Table::new(header);
    for s in &c.sweeps {
        for b in &s.best {
            let mut cells = vec![
                s.name.clone(),
                b.rank.to_string(),
                format_float(b.value),
                b.id.to_string(),
            ];
            cells.extend(b.params.iter().map(|v| v.clone().unwrap_or_else(|| "-".into())));
            t.row(cells);
        }
    }
    out.push_str(&t.render());

    // A pruned column only when some sweep pruned trials.
    let pruned = c.sweeps.iter().any(|s| s.counts.get(TrialStatus::Pruned) > 0);
    let mut header: Vec<String> = ["sweep", "trials", "completed"].map(String::from).into();
    if pruned {
        header.push("pruned".into());
    }
    header.extend(["failed".to_string(), "other".into()]);
    let mut counts = Table::new(header);
    for s in &c.sweeps {
        let n = &s.counts;
        let (done, cut, failed) = (
            n.get(TrialStatus::Completed),
            n.get(TrialStatus::Pruned),
            n.get(TrialStatus::Failed),
        );
        let mut row = vec![s.name.clone(), n.total.to_string(), done.to_string()];
        if pruned {
            row.push(cut.to_string());
        }
        row.extend([failed.to_string(), (n.total - done - cut - failed).to_string()]);
        counts.row(row);
    }
    out.push('\n');
    out.push_str(&counts.render());

    for p in &c.shared {
        let mut header = vec![p.name.clone()];
        header.extend(p.sweeps.iter().map(|&i| c.sweeps[i].name.clone()));
        let mut t = Table::new(header);
        for v in &p.values {
            let mut row = vec![v.value.clone()];
            row.extend(v.cells.iter().map(|cell| match cell {
                None => "-".into(),
                Some(b) => match b.change {
                    Some(d) => format!(
                        "{} ({}{}, n={})",
                        format_short(b.best),
                        if d >= 0.0 { "+" } else { "" },
                        format_short(d),
                        b.n
                    ),
                    None => format!("{} (n={})", format_short(b.best), b.n),
                },
            }));
            t.row(row);
        }
        out.push_str(&format!(
            "\nbest {metric} per {} value in common (change from the first sweep):\n",
            p.name
        ));
        out.push_str(&t.render());
    }
    if !c.unshared.is_empty() {
        out.push_str(&format!("\nno value in common: {}\n", c.unshared.join(", ")));
    }
    out
}

fn load_for_figures(results: &Path) -> Result<(PathBuf, Board, sweep_report::Data)> {
    let dir = results_dir(results);
    let board = Board::load(&dir)?;
    let epochs = Epochs::load(&dir)?;
    // results/<sweep name>: the folder is named after the sweep.
    let name = std::fs::canonicalize(&dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string());
    let data = sweep_report::Data::new(&name, &board, &epochs);
    Ok((dir, board, data))
}

/// Draw a sweep's figures as PNG and SVG.
#[derive(Debug, Args)]
#[command(
    after_help = "Writes into <results>/plots/: curves (the metric per epoch, best trials highlighted), \
    <metric>_vs_<param> for each parameter that varies (log axis when it spans decades), \
    parallel (every parameter, coloured by the metric)."
)]
pub struct PlotArgs {
    /// The results folder (results/<sweep name>), or just the sweep's name.
    pub results: PathBuf,
    /// Where the images go (default: <results>/plots).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn plot(args: &PlotArgs) -> Result<()> {
    let (dir, _, data) = load_for_figures(&args.results)?;
    let out = args.out.clone().unwrap_or_else(|| dir.join("plots"));
    let files = sweep_report::write_plots(&out, &data).map_err(anyhow::Error::msg)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{} figures of {}:", files.len() / 2, data.ranked_in_words())?;
    for f in files {
        writeln!(stdout, "  {}", f.display())?;
    }
    Ok(())
}

/// Write one self-contained report.html (figures, sortable table).
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The results folder (results/<sweep name>), or just the sweep's name.
    pub results: PathBuf,
    /// The file to write (default: <results>/report.html).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn report(args: &ReportArgs) -> Result<()> {
    let (dir, board, data) = load_for_figures(&args.results)?;
    let out = args.out.clone().unwrap_or_else(|| dir.join("report.html"));
    let html = sweep_report::report_html(&board, &data).map_err(anyhow::Error::msg)?;
    sweep_results::write_atomic(&out, html.as_bytes()).with_context(|| format!("cannot write {}", out.display()))?;
    println!("{} ({} KB)", out.display(), html.len().div_ceil(1024));
    Ok(())
}
