//! Reviewing a results folder: the leaderboard read back into typed
//! records, filtered, sorted and rendered (table, CSV, JSON, Markdown), and
//! the epochs of its trials.
//!
//! The metric and its goal come from the folder's `spec.yaml` (the spec as
//! run), never from the order of the ranks. Only whole files are read:
//! `leaderboard.csv` and `epochs.csv` are replaced by a rename, so this works
//! on a sweep that is still running.

use crate::layout::ResultsDir;
use crate::text_table::Table;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use sweep_core::{Metric, TrialId, TrialStatus, format_float};

/// The leaderboard's fixed columns before the parameters: rank, trial_id,
/// status, the metric, best_epoch.
const LEAD: usize = 5;
/// The fixed columns after the parameters.
const TAIL: [&str; 6] = ["epochs_run", "duration_s", "device", "seed", "attempts", "error"];

/// Why a results folder cannot be reviewed.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// The folder has no leaderboard.
    #[error(
        "{}: no leaderboard.csv here: not a results folder, or its sweep has not started (results are in results/<sweep name>/)",
        .0.display()
    )]
    NotResults(PathBuf),
    /// The folder has a leaderboard but no spec, so its metric is unknown.
    #[error(
        "{}: no spec.yaml: not a results folder written by `sweep run` (its spec.yaml says what the trials are ranked by)",
        .0.display()
    )]
    NoSpec(PathBuf),
    /// A file could not be read.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why (not a `source`: the message holds it, and a chain would
        /// print it twice).
        error: std::io::Error,
    },
    /// A file is not what `sweep run` writes.
    #[error("{}: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A column named on the command line does not exist.
    #[error("no column `{name}`{hint}; the columns are: {}", columns.join(", "))]
    UnknownColumn {
        /// The name given.
        name: String,
        /// A "did you mean" hint, or empty.
        hint: String,
        /// The columns there are.
        columns: Vec<String>,
    },
    /// A `--where` or `--sort` expression that cannot be understood.
    #[error("{0}")]
    Expression(String),
    /// No trial matches an id, prefix or rank.
    #[error("{0}")]
    NoSuchTrial(String),
    /// Sweeps that cannot be compared (different metrics or goals).
    #[error("{0}")]
    Incomparable(String),
}

/// One trial as `leaderboard.csv` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRow {
    /// 1 for the best ranked trial; none for trials not ranked.
    pub rank: Option<usize>,
    /// The trial.
    pub id: TrialId,
    /// Where it stands, or how it ended.
    pub status: TrialStatus,
    /// Its best value of the sweep's metric.
    pub value: Option<f64>,
    /// The epoch of that value.
    pub best_epoch: Option<u32>,
    /// Its parameter values as written, aligned with [`Board::params`]
    /// (empty when the trial has none for a column).
    pub params: Vec<String>,
    /// Epochs run (latest attempt).
    pub epochs_run: usize,
    /// Seconds the latest attempt ran.
    pub duration_s: Option<f64>,
    /// Where it ran.
    pub device: Option<String>,
    /// Its training seed.
    pub seed: u64,
    /// Attempts started.
    pub attempts: u32,
    /// Why it failed (lines joined by ` | `).
    pub error: Option<String>,
}

/// The leaderboard of one results folder, read once into typed rows, with
/// the metric and goal of its spec.
#[derive(Debug, Clone)]
pub struct Board {
    /// The results folder.
    pub dir: ResultsDir,
    /// What the trials are ranked by, from `spec.yaml`.
    pub metric: Metric,
    /// The swept parameters' columns, in leaderboard order.
    pub params: Vec<String>,
    /// The trials, in rank order (ranked first, then the others in plan order).
    pub trials: Vec<TrialRow>,
}

impl Board {
    /// Reads `leaderboard.csv` and the metric of `spec.yaml` of the results
    /// folder `dir`.
    pub fn load(dir: &Path) -> Result<Board, ReviewError> {
        let rd = ResultsDir::new(dir);
        let path = rd.leaderboard();
        let Some((mut reader, mut header)) = open_csv(&path)? else {
            return Err(ReviewError::NotResults(dir.to_path_buf()));
        };
        let metric = crate::spec_metric::read_metric(&rd)?;
        let malformed = |reason: String| ReviewError::Malformed {
            path: path.clone(),
            reason,
        };
        // Folders written before the column was renamed say `epochs`.
        let n = header.len();
        if n >= TAIL.len() && header[n - TAIL.len()] == "epochs" {
            header[n - TAIL.len()] = TAIL[0].to_string();
        }
        let expected_start = ["rank", "trial_id", "status"];
        if header.len() < LEAD + TAIL.len()
            || header[..3] != expected_start
            || header[header.len() - TAIL.len()..] != TAIL
        {
            return Err(malformed(format!(
                "not a sweep leaderboard (header: {})",
                header.join(",")
            )));
        }
        if header[3] != metric.name {
            return Err(malformed(format!(
                "ranks by `{}`, but the folder's spec.yaml says the metric is `{}`",
                header[3], metric.name
            )));
        }
        let mut trials = Vec::new();
        let mut record = csv::StringRecord::new();
        while reader.read_record(&mut record).map_err(|e| malformed(e.to_string()))? {
            let line = record.position().map_or(0, |p| p.line());
            trials.push(row_of(&record).map_err(|why| malformed(format!("line {line}: {why}")))?);
        }
        Ok(Board {
            dir: rd,
            metric,
            params: header[LEAD..header.len() - TAIL.len()].to_vec(),
            trials,
        })
    }

    /// The column names, as in leaderboard.csv.
    pub fn header(&self) -> Vec<String> {
        let mut h: Vec<String> = ["rank", "trial_id", "status"].map(String::from).into();
        h.push(self.metric.name.clone());
        h.push("best_epoch".into());
        h.extend(self.params.iter().cloned());
        h.extend(TAIL.map(String::from));
        h
    }

    /// A trial's cells, aligned with [`Board::header`], written as
    /// leaderboard.csv writes them.
    pub fn cells(&self, t: &TrialRow) -> Vec<String> {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let mut c = vec![
            opt(t.rank.map(|r| r.to_string())),
            t.id.to_string(),
            t.status.to_string(),
            opt(t.value.map(format_float)),
            opt(t.best_epoch.map(|e| e.to_string())),
        ];
        c.extend(t.params.iter().cloned());
        c.extend([
            t.epochs_run.to_string(),
            opt(t.duration_s.map(|s| format!("{s:.1}"))),
            opt(t.device.clone()),
            t.seed.to_string(),
            t.attempts.to_string(),
            opt(t.error.clone()),
        ]);
        c
    }

    /// A trial's value of parameter `name` as written; none when the sweep
    /// has no such parameter.
    pub fn param<'a>(&self, t: &'a TrialRow, name: &str) -> Option<&'a str> {
        self.params.iter().position(|p| p == name).map(|i| t.params[i].as_str())
    }

    /// The trials ranked by the metric, best first.
    pub fn ranked(&self) -> impl Iterator<Item = &TrialRow> {
        self.trials.iter().filter(|t| t.rank.is_some())
    }

    /// The index of column `name` in [`Board::header`], or an error naming
    /// the columns there are.
    pub fn column(&self, name: &str) -> Result<usize, ReviewError> {
        let header = self.header();
        header.iter().position(|h| h == name).ok_or_else(|| {
            let near = header
                .iter()
                .filter(|h| strsim_close(h, name))
                .map(|h| format!(" (did you mean `{h}`?)"))
                .next()
                .unwrap_or_default();
            ReviewError::UnknownColumn {
                name: name.to_string(),
                hint: near,
                columns: header.clone(),
            }
        })
    }

    /// The trial named by id, a unique id prefix, or rank (`3` or `#3`).
    pub fn find(&self, key: &str) -> Result<&TrialRow, ReviewError> {
        let rank = key.strip_prefix('#').unwrap_or(key);
        let is_rank = !rank.is_empty() && rank.len() < 8 && rank.chars().all(|c| c.is_ascii_digit());
        let starts = |t: &TrialRow| t.id.as_str().starts_with(key);
        if is_rank
            && let Ok(r) = rank.parse::<usize>()
            && let Some(t) = self.trials.iter().find(|t| t.rank == Some(r))
        {
            return Ok(t);
        }
        // `#3`, or digits no id starts with: a rank that does not exist.
        if is_rank && (key.starts_with('#') || !self.trials.iter().any(starts)) {
            return Err(ReviewError::NoSuchTrial(format!(
                "no trial has rank {rank}: {} of {} trials are ranked",
                self.ranked().count(),
                self.trials.len()
            )));
        }
        let matches: Vec<&TrialRow> = self.trials.iter().filter(|t| starts(t)).collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(ReviewError::NoSuchTrial(format!(
                "no trial id starts with `{key}` in {}",
                self.dir.root().display()
            ))),
            many => Err(ReviewError::NoSuchTrial(format!(
                "`{key}` is the start of {} trial ids ({}, ...): give more of it",
                many.len(),
                many.iter()
                    .take(3)
                    .map(|t| t.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// A leaderboard line read into a typed row, or what is wrong with it.
fn row_of(r: &csv::StringRecord) -> Result<TrialRow, String> {
    let n = r.len();
    if n < LEAD + TAIL.len() {
        return Err(format!("{n} cells, fewer than the header's columns"));
    }
    let opt = |i: usize| Some(&r[i]).filter(|c| !c.is_empty());
    fn num<T: std::str::FromStr>(column: &str, cell: &str) -> Result<T, String> {
        cell.parse().map_err(|_| format!("{column} `{cell}` is not a number"))
    }
    let tail = n - TAIL.len();
    Ok(TrialRow {
        rank: opt(0).map(|c| num("rank", c)).transpose()?,
        id: TrialId::from_string(&r[1]),
        status: r[2].parse()?,
        value: opt(3).map(|c| num("the metric", c)).transpose()?,
        best_epoch: opt(4).map(|c| num("best_epoch", c)).transpose()?,
        params: r.iter().take(tail).skip(LEAD).map(String::from).collect(),
        epochs_run: num("epochs_run", &r[tail])?,
        duration_s: opt(tail + 1).map(|c| num("duration_s", c)).transpose()?,
        device: opt(tail + 2).map(String::from),
        seed: num("seed", &r[tail + 3])?,
        attempts: num("attempts", &r[tail + 4])?,
        error: opt(tail + 5).map(String::from),
    })
}

/// A buffered CSV file reader.
type CsvReader = csv::Reader<std::io::BufReader<std::fs::File>>;

/// Opens a CSV file written by `sweep run` and reads its header; none when
/// the file does not exist.
fn open_csv(path: &Path) -> Result<Option<(CsvReader, Vec<String>)>, ReviewError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(ReviewError::Io {
                path: path.to_path_buf(),
                error,
            });
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .buffer_capacity(1 << 20)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let header = reader
        .headers()
        .map_err(|e| ReviewError::Malformed {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?
        .iter()
        .map(String::from)
        .collect();
    Ok(Some((reader, header)))
}

fn strsim_close(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_lowercase(), b.to_lowercase());
    a.contains(&b) || b.contains(&a) || edit_distance(&a, &b) <= 2
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A comparison in a `--where` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// One `--where` condition: `optimizer=adam`, `lr<0.01`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The column.
    pub column: String,
    /// The comparison.
    pub op: Op,
    /// The value compared with (a number for `<`, `<=`, `>`, `>=`).
    pub value: String,
}

impl Filter {
    /// Parses `COLUMN OP VALUE` with OP one of `=`, `==`, `!=`, `<`, `<=`, `>`, `>=`.
    pub fn parse(text: &str) -> Result<Filter, ReviewError> {
        let ops: [(&str, Op); 7] = [
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("=", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        let found = text.char_indices().find_map(|(i, _)| {
            ops.iter()
                .find(|(s, _)| text[i..].starts_with(s))
                .map(|(s, op)| (i, *s, *op))
        });
        let Some((i, sym, op)) = found else {
            return Err(ReviewError::Expression(format!(
                "--where `{text}`: expected COLUMN OP VALUE, OP one of = != < <= > >= (e.g. optimizer=adam, lr<0.01)"
            )));
        };
        let column = text[..i].trim().to_string();
        let value = text[i + sym.len()..].trim().to_string();
        if column.is_empty() || value.is_empty() {
            return Err(ReviewError::Expression(format!(
                "--where `{text}`: a column and a value are needed on each side of `{sym}`"
            )));
        }
        if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && value.parse::<f64>().is_err() {
            return Err(ReviewError::Expression(format!(
                "--where `{text}`: `{sym}` compares numbers, and `{value}` is not one"
            )));
        }
        Ok(Filter { column, op, value })
    }

    fn matches(&self, cell: &str) -> bool {
        let nums = (cell.parse::<f64>(), self.value.parse::<f64>());
        match (self.op, nums) {
            (Op::Eq, (Ok(a), Ok(b))) => a == b,
            (Op::Ne, (Ok(a), Ok(b))) => a != b,
            (Op::Eq, _) => cell == self.value,
            (Op::Ne, _) => cell != self.value,
            (_, (Ok(a), Ok(b))) => match self.op {
                Op::Lt => a < b,
                Op::Le => a <= b,
                Op::Gt => a > b,
                _ => a >= b,
            },
            // An empty or non-numeric cell never satisfies a comparison.
            _ => false,
        }
    }
}

/// A `--sort COLUMN[:asc|:desc]` key.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// The column.
    pub column: String,
    /// Largest first.
    pub descending: bool,
}

impl SortKey {
    /// Parses `lr`, `lr:asc`, `lr:desc`. Without a direction: ascending.
    pub fn parse(text: &str) -> Result<SortKey, ReviewError> {
        let (column, dir) = text.rsplit_once(':').unwrap_or((text, "asc"));
        let descending = match dir {
            "asc" => false,
            "desc" => true,
            other => {
                return Err(ReviewError::Expression(format!(
                    "--sort `{text}`: the direction is `asc` or `desc`, not `{other}`"
                )));
            }
        };
        Ok(SortKey {
            column: column.to_string(),
            descending,
        })
    }
}

/// What of the leaderboard to show.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Every condition must hold.
    pub filters: Vec<Filter>,
    /// Only these statuses (empty: all).
    pub statuses: Vec<TrialStatus>,
    /// Re-sort (default: the leaderboard's rank order).
    pub sort: Option<SortKey>,
    /// At most this many rows.
    pub top: Option<usize>,
    /// These columns, in this order (default: all).
    pub columns: Option<Vec<String>>,
}

/// A leaderboard cut down by a [`Query`]: the rows and columns to show.
#[derive(Debug, Clone)]
pub struct View {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, cells aligned with `header`.
    pub rows: Vec<Vec<String>>,
    /// Rows that matched before `top` cut them.
    pub matched: usize,
    /// Rows in the leaderboard.
    pub total: usize,
    /// Whether the columns were chosen (`--columns`): a table keeps them all.
    pub chosen: bool,
}

impl Board {
    /// Applies a query.
    pub fn view(&self, q: &Query) -> Result<View, ReviewError> {
        let filters: Vec<(usize, &Filter)> = q
            .filters
            .iter()
            .map(|f| self.column(&f.column).map(|c| (c, f)))
            .collect::<Result<_, _>>()?;
        let mut rows: Vec<Vec<String>> = self
            .trials
            .iter()
            .filter(|t| q.statuses.is_empty() || q.statuses.contains(&t.status))
            .map(|t| self.cells(t))
            .filter(|r| filters.iter().all(|(c, f)| f.matches(&r[*c])))
            .collect();
        if let Some(key) = &q.sort {
            let c = self.column(&key.column)?;
            // Numbers by value, other text alphabetically; empty cells last
            // whichever the direction.
            rows.sort_by(|a, b| {
                let (x, y) = (&a[c], &b[c]);
                match (x.is_empty(), y.is_empty()) {
                    (true, true) => return std::cmp::Ordering::Equal,
                    (true, false) => return std::cmp::Ordering::Greater,
                    (false, true) => return std::cmp::Ordering::Less,
                    _ => {}
                }
                let ord = match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(p), Ok(q)) => p.total_cmp(&q),
                    _ => x.cmp(y),
                };
                if key.descending { ord.reverse() } else { ord }
            });
        }
        let matched = rows.len();
        rows.truncate(q.top.unwrap_or(usize::MAX));
        let header = self.header();
        let cols: Vec<usize> = match &q.columns {
            Some(names) => names.iter().map(|n| self.column(n)).collect::<Result<_, _>>()?,
            None => (0..header.len()).collect(),
        };
        Ok(View {
            header: cols.iter().map(|&c| header[c].clone()).collect(),
            rows: rows
                .iter()
                .map(|r| cols.iter().map(|&c| r[c].clone()).collect())
                .collect(),
            matched,
            total: self.trials.len(),
            chosen: q.columns.is_some(),
        })
    }
}

/// Every status, in the order a `--status` error lists them.
const STATUS_WORDS: [TrialStatus; 8] = [
    TrialStatus::Completed,
    TrialStatus::Pruned,
    TrialStatus::Failed,
    TrialStatus::TimedOut,
    TrialStatus::Diverged,
    TrialStatus::Interrupted,
    TrialStatus::Running,
    TrialStatus::Pending,
];

/// Parses a `--status` word (`completed`, `pruned`, `failed`, ...).
pub fn parse_status(text: &str) -> Result<TrialStatus, ReviewError> {
    text.parse().map_err(|_| {
        let words: Vec<&str> = STATUS_WORDS.iter().map(|s| s.as_str()).collect();
        ReviewError::Expression(format!("--status `{text}`: not a status; one of {}", words.join(", ")))
    })
}

/// Columns a narrow terminal drops first, in this order.
const DROPPABLE: [&str; 6] = ["seed", "device", "attempts", "duration_s", "epochs_run", "best_epoch"];

impl View {
    /// An aligned text table, at most `width` columns wide when given: long
    /// errors are cut short first, then the least useful columns dropped
    /// (unless the columns were chosen).
    pub fn to_table(&self, width: Option<usize>) -> String {
        let mut keep: Vec<usize> = (0..self.header.len()).collect();
        let mut cells: Vec<Vec<String>> = self.rows.clone();
        if !self.chosen
            && let Some(w) = width
        {
            let width_of = |keep: &[usize], cells: &[Vec<String>]| -> usize {
                keep.iter()
                    .map(|&c| {
                        cells
                            .iter()
                            .map(|r| r[c].chars().count())
                            .chain([self.header[c].chars().count()])
                            .max()
                            .unwrap_or(0)
                    })
                    .sum::<usize>()
                    + 2 * keep.len().saturating_sub(1)
            };
            // Columns empty in every row carry nothing.
            keep.retain(|&c| self.header[c] == "rank" || cells.iter().any(|r| !r[c].is_empty()));
            let error = self
                .header
                .iter()
                .position(|h| h == "error")
                .filter(|e| keep.contains(e));
            let others =
                |keep: &[usize]| -> Vec<usize> { keep.iter().copied().filter(|&c| Some(c) != error).collect() };
            // Room for the reason of a failure matters more than the seed:
            // drop columns until the rest leaves it some, then cut it to fit.
            const ERROR_ROOM: usize = 16;
            let need = |keep: &[usize]| width_of(&others(keep), &cells) + error.map_or(0, |_| 2 + ERROR_ROOM);
            for name in DROPPABLE {
                if need(&keep) <= w {
                    break;
                }
                if let Some(c) = self.header.iter().position(|h| h == name) {
                    keep.retain(|&k| k != c);
                }
            }
            if let Some(e) = error {
                let room = w.saturating_sub(width_of(&others(&keep), &cells) + 2);
                if room >= 10 {
                    for r in &mut cells {
                        r[e] = ellipsize(&r[e], room);
                    }
                } else {
                    keep.retain(|&k| k != e);
                }
            }
        }
        let mut t = Table::new(keep.iter().map(|&c| self.header[c].clone()).collect());
        for r in &cells {
            t.row(keep.iter().map(|&c| r[c].clone()).collect());
        }
        t.render()
    }

    /// CSV with a header line.
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&self.header).expect("writes to memory");
        for r in &self.rows {
            w.write_record(r).expect("writes to memory");
        }
        String::from_utf8(w.into_inner().expect("in memory")).expect("utf-8 in, utf-8 out")
    }

    /// A JSON array of objects, keys in column order; numbers as numbers,
    /// empty cells as null.
    pub fn to_json(&self) -> String {
        let keys: Vec<String> = self
            .header
            .iter()
            .map(|h| serde_json::to_string(h).expect("serializes"))
            .collect();
        let mut s = String::from("[");
        for (i, r) in self.rows.iter().enumerate() {
            s.push_str(if i == 0 { "\n  {" } else { ",\n  {" });
            for (k, ((h, key), v)) in self.header.iter().zip(&keys).zip(r).enumerate() {
                if k > 0 {
                    s.push_str(", ");
                }
                s.push_str(key);
                s.push_str(": ");
                s.push_str(&json_cell(h, v).to_string());
            }
            s.push('}');
        }
        s.push_str(if self.rows.is_empty() { "]\n" } else { "\n]\n" });
        s
    }

    /// A GitHub-flavoured Markdown table.
    pub fn to_markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = format!(
            "| {} |\n",
            self.header.iter().map(|h| esc(h)).collect::<Vec<_>>().join(" | ")
        );
        out.push('|');
        for c in 0..self.header.len() {
            let numeric =
                !self.rows.is_empty() && self.rows.iter().all(|r| r[c].is_empty() || r[c].parse::<f64>().is_ok());
            out.push_str(if numeric { " ---: |" } else { " --- |" });
        }
        out.push('\n');
        for r in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
            ));
        }
        out
    }
}

/// A JSON value for a cell: numbers stay numbers, except ids and seeds.
fn json_cell(column: &str, v: &str) -> serde_json::Value {
    if v.is_empty() {
        return serde_json::Value::Null;
    }
    if column != "trial_id"
        && let Ok(x) = v.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(x)
    {
        if let Ok(i) = v.parse::<i64>() {
            return serde_json::Value::from(i);
        }
        return serde_json::Value::Number(n);
    }
    match v {
        "true" => serde_json::Value::Bool(true),
        "false" => serde_json::Value::Bool(false),
        _ => serde_json::Value::String(v.to_string()),
    }
}

/// `s` cut to at most `n` characters, ending in `…` when cut.
pub fn ellipsize(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// One trial's epochs: (epoch, values aligned with [`Epochs::metrics`]).
pub type EpochRows = Vec<(u32, Vec<Option<f64>>)>;

/// The per-epoch metrics of a results folder (`epochs.csv`).
#[derive(Debug, Clone, Default)]
pub struct Epochs {
    /// Metric names, as in the file's header after trial_id, attempt, epoch.
    pub metrics: Vec<String>,
    /// By trial id: (epoch, values aligned with `metrics`), in epoch order.
    pub trials: HashMap<String, EpochRows>,
}

impl Epochs {
    /// Reads `epochs.csv` of the results folder `dir` (empty when absent).
    pub fn load(dir: &Path) -> Result<Epochs, ReviewError> {
        let path = ResultsDir::new(dir).epochs();
        let Some((mut reader, header)) = open_csv(&path)? else {
            return Ok(Epochs::default());
        };
        let malformed = |reason: String| ReviewError::Malformed {
            path: path.clone(),
            reason,
        };
        if header.len() < 3 || header[..3] != ["trial_id", "attempt", "epoch"] {
            return Err(malformed(format!(
                "not a sweep epochs file (header: {})",
                header.join(",")
            )));
        }
        let mut out = Epochs {
            metrics: header[3..].to_vec(),
            trials: HashMap::new(),
        };
        let mut record = csv::StringRecord::new();
        while reader.read_record(&mut record).map_err(|e| malformed(e.to_string()))? {
            let epoch: u32 = record[2]
                .parse()
                .map_err(|_| malformed(format!("epoch `{}` is not a number", &record[2])))?;
            let values = record.iter().skip(3).map(|v| v.parse::<f64>().ok()).collect();
            out.trials
                .entry(record[0].to_string())
                .or_default()
                .push((epoch, values));
        }
        for v in out.trials.values_mut() {
            v.sort_by_key(|(e, _)| *e);
        }
        Ok(out)
    }

    /// One metric's values per epoch for a trial.
    pub fn series(&self, trial: &str, metric: &str) -> Vec<(u32, f64)> {
        let Some(m) = self.metrics.iter().position(|x| x == metric) else {
            return Vec::new();
        };
        self.trials
            .get(trial)
            .map(|eps| eps.iter().filter_map(|(e, v)| v[m].map(|x| (*e, x))).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_compare_numbers_as_numbers() {
        let f = Filter::parse("lr<0.01").unwrap();
        assert_eq!((f.column.as_str(), f.op, f.value.as_str()), ("lr", Op::Lt, "0.01"));
        assert!(f.matches("1e-3") && !f.matches("0.01") && !f.matches(""));
        let f = Filter::parse("optimizer = adam").unwrap();
        assert!(f.matches("adam") && !f.matches("sgd"));
        assert!(Filter::parse("lr>=1e-3").unwrap().matches("0.001"));
        assert!(Filter::parse("batch_size!=64").unwrap().matches("128"));
        assert!(
            Filter::parse("lr=0.001").unwrap().matches("1e-3"),
            "numbers equal by value"
        );
        assert!(Filter::parse("optimizer<adam").is_err());
        assert!(Filter::parse("lr").is_err());
        assert!(Filter::parse("=3").is_err());
    }

    #[test]
    fn sort_keys() {
        assert!(SortKey::parse("lr:desc").unwrap().descending);
        assert!(!SortKey::parse("lr").unwrap().descending);
        assert!(SortKey::parse("lr:down").is_err());
    }

    /// A completed, ranked trial of a one-parameter (`lr`) sweep.
    fn row(rank: Option<usize>, id: &str, status: TrialStatus, value: f64) -> TrialRow {
        TrialRow {
            rank,
            id: TrialId::from_string(id),
            status,
            value: Some(value),
            best_epoch: Some(1),
            params: vec!["0.1".into()],
            epochs_run: 1,
            duration_s: None,
            device: Some("cpu".into()),
            seed: 0,
            attempts: 1,
            error: None,
        }
    }

    fn board(trials: Vec<TrialRow>) -> Board {
        Board {
            dir: ResultsDir::new("r"),
            metric: sweep_core::builtin::default_metric(),
            params: vec!["lr".into()],
            trials,
        }
    }

    #[test]
    fn trials_are_found_by_rank_or_by_the_start_of_their_id() {
        let board = board(vec![
            row(Some(1), "12ab00000000", TrialStatus::Completed, 0.9),
            row(Some(2), "ffee00000000", TrialStatus::Completed, 0.8),
        ]);
        assert_eq!(board.find("2").unwrap().id.as_str(), "ffee00000000");
        assert_eq!(board.find("#1").unwrap().id.as_str(), "12ab00000000");
        assert_eq!(
            board.find("12").unwrap().id.as_str(),
            "12ab00000000",
            "no rank 12: an id prefix"
        );
        assert_eq!(board.find("ffe").unwrap().id.as_str(), "ffee00000000");
        assert!(
            board
                .find("#12")
                .unwrap_err()
                .to_string()
                .contains("no trial has rank 12")
        );
        assert!(board.find("7").unwrap_err().to_string().contains("no trial has rank 7"));
    }

    #[test]
    fn cells_are_written_as_the_leaderboard_writes_them() {
        let mut t = row(Some(1), "12ab00000000", TrialStatus::Completed, 0.9729);
        t.duration_s = Some(12.0);
        t.error = Some("a | b".into());
        let b = board(vec![t]);
        assert_eq!(
            b.header().join(","),
            "rank,trial_id,status,val_accuracy,best_epoch,lr,epochs_run,duration_s,device,seed,attempts,error"
        );
        assert_eq!(
            b.cells(&b.trials[0]).join(","),
            "1,12ab00000000,completed,0.9729,1,0.1,1,12.0,cpu,0,1,a | b"
        );
        assert_eq!(b.param(&b.trials[0], "lr"), Some("0.1"));
        assert_eq!(b.param(&b.trials[0], "momentum"), None);
    }

    #[test]
    fn statuses_filter_and_pruned_is_one() {
        let b = board(vec![
            row(Some(1), "aa", TrialStatus::Completed, 0.9),
            row(Some(2), "bb", TrialStatus::Pruned, 0.5),
            row(None, "cc", TrialStatus::Failed, 0.1),
        ]);
        let q = Query {
            statuses: vec![parse_status("pruned").unwrap()],
            ..Query::default()
        };
        let v = b.view(&q).unwrap();
        assert_eq!(
            (v.rows.len(), v.rows[0][1].as_str(), v.rows[0][0].as_str()),
            (1, "bb", "2")
        );
        let err = parse_status("done").unwrap_err().to_string();
        for st in TrialStatus::ALL {
            assert!(err.contains(st.as_str()), "{err} lists {st}");
        }
    }

    /// A results folder written by hand: a val_loss sweep whose ranks, read
    /// top to bottom, go from larger to smaller (as a maximized metric's would).
    fn folder(spec: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        if let Some(spec) = spec {
            std::fs::write(dir.path().join("spec.yaml"), spec).unwrap();
        }
        std::fs::write(
            dir.path().join("leaderboard.csv"),
            "rank,trial_id,status,val_loss,best_epoch,lr,epochs_run,duration_s,device,seed,attempts,error\n\
             1,aaaa00000001,completed,0.9,3,0.1,3,12.0,cpu,7,1,\n\
             2,bbbb00000002,pruned,0.5,1,0.01,1,4.5,cpu,8,1,\n\
             3,cccc00000003,completed,0.1,3,0.001,3,12.5,cpu,9,1,\n\
             ,dddd00000004,failed,,,1.0,0,0.3,cpu,10,2,CUDA out of memory | at step 3\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn the_goal_is_the_specs_whatever_the_ranks_suggest() {
        let dir = folder(Some("name: x\nmetric: {name: val_loss, goal: minimize}\n"));
        let b = Board::load(dir.path()).unwrap();
        assert_eq!(b.metric.goal, sweep_core::Goal::Minimize);
        assert_eq!(b.metric.name, "val_loss");
        assert_eq!(b.params, ["lr"]);
        let pruned = &b.trials[1];
        assert_eq!(
            (pruned.rank, pruned.status, pruned.value, pruned.epochs_run),
            (Some(2), TrialStatus::Pruned, Some(0.5), 1)
        );
        let failed = &b.trials[3];
        assert_eq!((failed.rank, failed.value, failed.attempts), (None, None, 2));
        assert_eq!(failed.error.as_deref(), Some("CUDA out of memory | at step 3"));
        assert_eq!(b.ranked().count(), 3);
        let all = b.view(&Query::default()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("leaderboard.csv")).unwrap();
        assert_eq!(all.to_csv(), text, "the typed rows render back to the file");
    }

    #[test]
    fn a_folder_without_a_spec_or_with_another_metric_is_refused() {
        let dir = folder(None);
        let err = Board::load(dir.path()).unwrap_err();
        assert!(matches!(err, ReviewError::NoSpec(_)), "{err}");
        assert!(err.to_string().contains("no spec.yaml"), "{err}");
        let dir = folder(Some("metric: {name: val_accuracy, goal: maximize}\n"));
        let err = Board::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("ranks by `val_loss`"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = Board::load(empty.path()).unwrap_err();
        assert!(matches!(err, ReviewError::NotResults(_)), "no leaderboard: {err}");
    }

    #[test]
    fn a_line_that_is_not_a_trial_names_its_line() {
        let dir = folder(Some("metric: {name: val_loss, goal: minimize}\n"));
        let path = dir.path().join("leaderboard.csv");
        let text = std::fs::read_to_string(&path).unwrap().replace("pruned", "done");
        std::fs::write(&path, text).unwrap();
        let err = Board::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("line 3: unknown status `done`"), "{err}");
    }

    #[test]
    fn ellipsis() {
        assert_eq!(ellipsize("abcdef", 4), "abc…");
        assert_eq!(ellipsize("abc", 4), "abc");
    }
}
