//! Reviewing a results folder: the leaderboard read back, filtered, sorted
//! and rendered (table, CSV, JSON, Markdown), and the epochs of its trials.
//!
//! Only whole files are read: `leaderboard.csv` and `epochs.csv` are replaced
//! by a rename, so this works on a sweep that is still running.

use crate::layout::ResultsDir;
use crate::text_table::Table;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use sweep_core::Goal;

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
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A CSV file is not what `sweep run` writes.
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
}

/// The leaderboard of one results folder.
#[derive(Debug, Clone)]
pub struct Board {
    /// The results folder.
    pub dir: ResultsDir,
    /// The column names, as in leaderboard.csv.
    pub header: Vec<String>,
    /// The rows, cells aligned with `header`, in rank order.
    pub rows: Vec<Vec<String>>,
}

impl Board {
    /// Reads `leaderboard.csv` of the results folder `dir`.
    pub fn load(dir: &Path) -> Result<Board, ReviewError> {
        let rd = ResultsDir::new(dir);
        let path = rd.leaderboard();
        let Some((mut reader, mut header)) = open_csv(&path)? else {
            return Err(ReviewError::NotResults(dir.to_path_buf()));
        };
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
        let mut rows = Vec::new();
        let mut record = csv::StringRecord::new();
        while reader.read_record(&mut record).map_err(|e| malformed(e.to_string()))? {
            rows.push(record.iter().map(String::from).collect());
        }
        Ok(Board { dir: rd, header, rows })
    }

    /// The sweep's metric (the fourth column).
    pub fn metric(&self) -> &str {
        &self.header[3]
    }

    /// The swept parameters' columns.
    pub fn params(&self) -> &[String] {
        &self.header[LEAD..self.header.len() - TAIL.len()]
    }

    /// The index of column `name`, or an error naming the columns there are.
    pub fn column(&self, name: &str) -> Result<usize, ReviewError> {
        self.header.iter().position(|h| h == name).ok_or_else(|| {
            let near = self
                .header
                .iter()
                .filter(|h| strsim_close(h, name))
                .map(|h| format!(" (did you mean `{h}`?)"))
                .next()
                .unwrap_or_default();
            ReviewError::UnknownColumn {
                name: name.to_string(),
                hint: near,
                columns: self.header.clone(),
            }
        })
    }

    /// Whether the metric is maximized, as the ranks show (best first); none
    /// when fewer than two ranked trials differ.
    pub fn goal(&self) -> Option<Goal> {
        let ranked: Vec<f64> = self
            .rows
            .iter()
            .filter(|r| !r[0].is_empty())
            .filter_map(|r| r[3].parse::<f64>().ok())
            .collect();
        let (first, last) = (ranked.first()?, ranked.last()?);
        if first > last {
            Some(Goal::Maximize)
        } else if first < last {
            Some(Goal::Minimize)
        } else {
            None
        }
    }

    /// The row of a trial named by id, a unique id prefix, or rank (`3` or `#3`).
    pub fn find(&self, key: &str) -> Result<&[String], ReviewError> {
        let rank = key.strip_prefix('#').unwrap_or(key);
        let is_rank = !rank.is_empty() && rank.len() < 8 && rank.chars().all(|c| c.is_ascii_digit());
        if is_rank && let Some(row) = self.rows.iter().find(|r| r[0] == rank) {
            return Ok(row);
        }
        // `#3`, or digits no id starts with: a rank that does not exist.
        if is_rank && (key.starts_with('#') || !self.rows.iter().any(|r| r[1].starts_with(key))) {
            let ranked = self.rows.iter().filter(|r| !r[0].is_empty()).count();
            return Err(ReviewError::NoSuchTrial(format!(
                "no trial has rank {rank}: {ranked} of {} trials are ranked",
                self.rows.len()
            )));
        }
        let matches: Vec<&Vec<String>> = self.rows.iter().filter(|r| r[1].starts_with(key)).collect();
        match matches.as_slice() {
            [one] => Ok(one.as_slice()),
            [] => Err(ReviewError::NoSuchTrial(format!(
                "no trial id starts with `{key}` in {}",
                self.dir.root().display()
            ))),
            many => Err(ReviewError::NoSuchTrial(format!(
                "`{key}` is the start of {} trial ids ({}, ...): give more of it",
                many.len(),
                many.iter()
                    .take(3)
                    .map(|r| r[1].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// A buffered CSV file reader.
type CsvReader = csv::Reader<std::io::BufReader<std::fs::File>>;

/// Opens a CSV file written by `sweep run` and reads its header; none when
/// the file does not exist.
fn open_csv(path: &Path) -> Result<Option<(CsvReader, Vec<String>)>, ReviewError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ReviewError::Io {
                path: path.to_path_buf(),
                source,
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
    pub statuses: Vec<String>,
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
        for s in &q.statuses {
            if s.parse::<sweep_core::TrialStatus>().is_err() {
                return Err(ReviewError::Expression(format!(
                    "--status `{s}`: not a status; one of completed, failed, timed_out, diverged, interrupted, running, pending"
                )));
            }
        }
        let mut rows: Vec<&Vec<String>> = self
            .rows
            .iter()
            .filter(|r| q.statuses.is_empty() || q.statuses.iter().any(|s| *s == r[2]))
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
        let cols: Vec<usize> = match &q.columns {
            Some(names) => names.iter().map(|n| self.column(n)).collect::<Result<_, _>>()?,
            None => (0..self.header.len()).collect(),
        };
        Ok(View {
            header: cols.iter().map(|&c| self.header[c].clone()).collect(),
            rows: rows
                .iter()
                .map(|r| cols.iter().map(|&c| r[c].clone()).collect())
                .collect(),
            matched,
            total: self.rows.len(),
            chosen: q.columns.is_some(),
        })
    }
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

    #[test]
    fn trials_are_found_by_rank_or_by_the_start_of_their_id() {
        let row = |rank: &str, id: &str| {
            let mut r = vec![
                rank.to_string(),
                id.to_string(),
                "completed".into(),
                "0.9".into(),
                "1".into(),
            ];
            r.extend(["1", "", "cpu", "0", "1", ""].map(String::from));
            r
        };
        let mut header: Vec<String> = ["rank", "trial_id", "status", "acc", "best_epoch"]
            .map(String::from)
            .into();
        header.extend(TAIL.map(String::from));
        let board = Board {
            dir: ResultsDir::new("r"),
            header,
            rows: vec![row("1", "12ab00000000"), row("2", "ffee00000000")],
        };
        assert_eq!(board.find("2").unwrap()[1], "ffee00000000");
        assert_eq!(board.find("#1").unwrap()[1], "12ab00000000");
        assert_eq!(board.find("12").unwrap()[1], "12ab00000000", "no rank 12: an id prefix");
        assert_eq!(board.find("ffe").unwrap()[1], "ffee00000000");
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
    fn ellipsis() {
        assert_eq!(ellipsize("abcdef", 4), "abc…");
        assert_eq!(ellipsize("abc", 4), "abc");
    }
}
