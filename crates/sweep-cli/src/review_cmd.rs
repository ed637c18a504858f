//! `sweep leaderboard`, `sweep show`, `sweep compare`: reading results back.

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use sweep_core::{Goal, format_short};
use sweep_results::{Board, Epochs, Filter, Query, SortKey, Table};

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
        statuses: args.status.clone(),
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
            writeln!(out, "({note}; ranked by {})", board.metric())?;
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
    let row = board.find(&args.trial)?;
    let col = |name: &str| {
        board
            .header
            .iter()
            .position(|h| h == name)
            .map_or("", |c| row[c].as_str())
    };
    let id = col("trial_id");
    let mut out = std::io::stdout().lock();
    let ranked = board.rows.iter().filter(|r| !r[0].is_empty()).count();
    let rank = if col("rank").is_empty() {
        "unranked".to_string()
    } else {
        format!("rank {} of {ranked}", col("rank"))
    };
    writeln!(out, "trial {id} ({rank}) in {}", dir.display())?;
    let attempts = col("attempts");
    let plural = if attempts == "1" { "" } else { "s" };
    let mut status = format!("{}, {attempts} attempt{plural}", col("status"));
    if !col("duration_s").is_empty() {
        status.push_str(&format!(", {} s", col("duration_s")));
    }
    if !col("device").is_empty() {
        status.push_str(&format!(" on {}", col("device")));
    }
    writeln!(out, "status:  {status}")?;
    let metric = board.metric();
    if !col(metric).is_empty() {
        let at = if col("best_epoch").is_empty() {
            String::new()
        } else {
            format!(" (best epoch {})", col("best_epoch"))
        };
        writeln!(out, "metric:  {metric} {}{at}", col(metric))?;
    }
    writeln!(out, "seed:    {}", col("seed"))?;
    if !col("error").is_empty() {
        writeln!(out, "error:   {}", col("error").replace(" | ", "\n         "))?;
    }
    writeln!(out, "\nparameters:")?;
    let mut t = Table::new(vec!["name".into(), "value".into()]);
    for p in board.params() {
        t.row(vec![p.clone(), col(p).to_string()]);
    }
    write_indented(&mut out, &t.render(), true)?;

    let epochs = Epochs::load(&dir)?;
    if let Some(rows) = epochs.trials.get(id) {
        // Only the metrics this trial reported.
        let used: Vec<usize> = (0..epochs.metrics.len())
            .filter(|&m| rows.iter().any(|(_, v)| v[m].is_some()))
            .collect();
        let mut header = vec!["epoch".to_string()];
        header.extend(used.iter().map(|&m| epochs.metrics[m].clone()));
        let mut t = Table::new(header);
        for (e, v) in rows {
            let mut cells = vec![e.to_string()];
            cells.extend(used.iter().map(|&m| v[m].map(format_short).unwrap_or_default()));
            t.row(cells);
        }
        writeln!(out, "\nepochs:")?;
        write_indented(&mut out, &t.render(), false)?;
    } else {
        writeln!(out, "\nepochs:  none recorded")?;
    }
    let tdir = board.dir.trial_dir(&sweep_core::TrialId::from_string(id));
    writeln!(out, "\nfiles:")?;
    for name in ["trial.json", "stdout.log", "stderr.log", "events.jsonl"] {
        let p = tdir.join(name);
        if p.exists() {
            writeln!(out, "  {}", p.display())?;
        }
    }
    Ok(())
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
    let metric = boards[0].1.metric().to_string();
    if let Some((name, b)) = boards.iter().find(|(_, b)| b.metric() != metric) {
        bail!(
            "{name} ranks by {} but {} ranks by {metric}: only sweeps with the same metric compare",
            b.metric(),
            boards[0].0
        );
    }
    let goal = boards.iter().find_map(|(_, b)| b.goal()).unwrap_or(Goal::Maximize);
    let mut out = std::io::stdout().lock();

    // The best trials, side by side.
    let params: Vec<String> = {
        let mut seen = Vec::new();
        for (_, b) in &boards {
            for p in b.params() {
                if !seen.contains(p) {
                    seen.push(p.clone());
                }
            }
        }
        seen
    };
    let mut header = vec!["sweep".to_string(), "rank".into(), metric.clone(), "trial_id".into()];
    header.extend(params.iter().cloned());
    let mut t = Table::new(header);
    for (name, b) in &boards {
        for row in b.rows.iter().filter(|r| !r[0].is_empty()).take(args.top) {
            let mut cells = vec![name.clone(), row[0].clone(), row[3].clone(), row[1].clone()];
            cells.extend(params.iter().map(|p| {
                b.header
                    .iter()
                    .position(|h| h == p)
                    .map_or_else(|| "-".to_string(), |c| row[c].clone())
            }));
            t.row(cells);
        }
    }
    writeln!(out, "best trials by {metric} ({}):", goal.as_str())?;
    out.write_all(t.render().as_bytes())?;
    let mut counts = Table::new(vec![
        "sweep".into(),
        "trials".into(),
        "completed".into(),
        "failed".into(),
        "other".into(),
    ]);
    for (name, b) in &boards {
        let n = |s: &str| b.rows.iter().filter(|r| r[2] == s).count();
        let (done, failed) = (n("completed"), n("failed"));
        counts.row(vec![
            name.clone(),
            b.rows.len().to_string(),
            done.to_string(),
            failed.to_string(),
            (b.rows.len() - done - failed).to_string(),
        ]);
    }
    writeln!(out)?;
    out.write_all(counts.render().as_bytes())?;

    // Per parameter value found in two sweeps or more: the best metric in
    // each sweep, and how it moved from the first sweep that has it.
    let mut unshared = Vec::new();
    for p in &params {
        let having: Vec<usize> = (0..boards.len())
            .filter(|&i| boards[i].1.params().contains(p))
            .collect();
        if having.len() < 2 {
            continue;
        }
        // value -> per sweep: best metric and completed count.
        let mut by_value: BTreeMap<ValueKey, Vec<Option<(f64, usize)>>> = BTreeMap::new();
        for (slot, &i) in having.iter().enumerate() {
            let b = &boards[i].1;
            let c = b.header.iter().position(|h| h == p).expect("a parameter column");
            for row in b.rows.iter().filter(|r| r[2] == "completed") {
                let Ok(v) = row[3].parse::<f64>() else { continue };
                let cell = &mut by_value
                    .entry(ValueKey(row[c].clone()))
                    .or_insert_with(|| vec![None; having.len()])[slot];
                *cell = Some(match *cell {
                    Some((best, n)) => (if goal.better(v, best) { v } else { best }, n + 1),
                    None => (v, 1),
                });
            }
        }
        by_value.retain(|_, cells| cells.iter().filter(|c| c.is_some()).count() >= 2);
        if by_value.is_empty() {
            unshared.push(p.as_str());
            continue;
        }
        let mut header = vec![p.clone()];
        header.extend(having.iter().map(|&i| boards[i].0.clone()));
        let mut t = Table::new(header);
        for (value, cells) in &by_value {
            let first = cells.iter().flatten().map(|(v, _)| *v).next();
            let mut row = vec![value.0.clone()];
            let mut seen_first = false;
            for cell in cells {
                row.push(match (cell, first) {
                    (None, _) => "-".into(),
                    (Some((v, n)), Some(f)) if seen_first => {
                        format!(
                            "{} ({}{}, n={n})",
                            format_short(*v),
                            if *v >= f { "+" } else { "" },
                            format_short(v - f)
                        )
                    }
                    (Some((v, n)), _) => {
                        seen_first = true;
                        format!("{} (n={n})", format_short(*v))
                    }
                });
            }
            t.row(row);
        }
        writeln!(
            out,
            "\nbest {metric} per {p} value in common (change from the first sweep):"
        )?;
        out.write_all(t.render().as_bytes())?;
    }
    if !unshared.is_empty() {
        writeln!(out, "\nno value in common: {}", unshared.join(", "))?;
    }
    Ok(())
}

/// Parameter values ordered as numbers when they are numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ValueKey(String);

impl Ord for ValueKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self.0.parse::<f64>(), other.0.parse::<f64>()) {
            (Ok(a), Ok(b)) => a.total_cmp(&b).then_with(|| self.0.cmp(&other.0)),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            _ => self.0.cmp(&other.0),
        }
    }
}

impl PartialOrd for ValueKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
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
    writeln!(
        stdout,
        "{} figures of {} completed trials:",
        files.len() / 2,
        data.trials.len()
    )?;
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
