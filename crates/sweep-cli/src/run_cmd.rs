//! `sweep run`: run or resume a sweep, with a live display.

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;
use sweep_core::{TrialId, TrialStatus, format_short};
use sweep_results::Table;
use sweep_results::{ResultsDir, leaderboard_rows};
use sweep_sched::{Progress, RunOptions, run_sweep};
use sweep_spec::{Spec, Trial};

/// Exit status of a sweep stopped by Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Exit status of a run in which every trial that ended failed (and at
/// least one did), whether or not `max_initial_failures` stopped it early.
pub const EXIT_ALL_FAILED: u8 = 1;

/// Run a sweep (or resume it): trials in parallel, results in results/<name>/.
#[derive(Debug, Args)]
#[command(
    after_help = "Ctrl-C once: start nothing new, stop running trials gracefully, write the tables, exit 130.\n\
    Ctrl-C twice: kill running trials at once. Run the same command again to resume."
)]
pub struct RunArgs {
    /// The sweep spec (YAML).
    pub spec: PathBuf,
    /// CPU slots to fill (default: every core).
    #[arg(long, value_name = "N")]
    pub cpus: Option<u32>,
    /// Where results folders go.
    #[arg(long, value_name = "DIR", default_value = "results")]
    pub results: PathBuf,
    /// Start over: move the existing results folder aside (never deleted).
    #[arg(long)]
    pub restart: bool,
    /// Seconds between SIGTERM and SIGKILL when stopping a trial.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub grace: f64,
    /// Plain line-by-line output even on a terminal.
    #[arg(long)]
    pub plain: bool,
    /// Where trials run, overriding the spec's `launcher` (local: child
    /// processes here; slurm: one job per attempt, the results folder on a
    /// filesystem the nodes share).
    #[arg(long, value_name = "LAUNCHER", value_parser = sweep_spec::Launcher::from_word)]
    pub launcher: Option<sweep_spec::Launcher>,
    /// Submit every trial and exit, printing the handles (launchers whose
    /// trials outlive the orchestrator: slurm). `sweep status` shows
    /// progress; `sweep run` again re-attaches (nothing is submitted twice).
    #[arg(long)]
    pub detach: bool,
    /// Create at most N new trials in this run, then finish (as `wandb
    /// agent --count`): what stops a random or TPE sweep with no `run_cap`.
    /// Trials from an earlier run of the sweep do not count; running the
    /// command again adds N more.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
}

fn params_text(t: &Trial) -> String {
    t.params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A trial's error on one line: its first line (the exit status and the
/// start of stderr's tail) and, when there are more, the last one, which
/// is where Python puts the exception (`NameError: name 'x' is not
/// defined`) after "Traceback (most recent call last):".
fn one_line(error: &str) -> String {
    let mut lines = error.lines().map(str::trim_end).filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("");
    match lines.next_back() {
        Some(last) => format!("{first} … {}", last.trim_start()),
        None => first.to_string(),
    }
}

/// Writes `line` and its newline to stderr in one `write`. `eprintln!` with
/// arguments writes each piece on its own (stderr is unbuffered): 15
/// system calls for a trial's "start" line, and a reader tailing the log
/// (or another process appending to the same file) could see half a line.
/// (No CPU saving could be measured: the orchestrator's own CPU per trial
/// was the same within the noise.)
fn to_stderr(mut line: String) {
    use std::io::Write;
    line.push('\n');
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Renders the dispatcher's progress: bars on a terminal, lines elsewhere.
struct Display {
    metric: String,
    total: usize,
    done: usize,
    multi: Option<MultiProgress>,
    overall: Option<ProgressBar>,
    lines: HashMap<TrialId, ProgressBar>,
}

impl Display {
    fn new(spec: &Spec, fancy: bool) -> Display {
        Display {
            metric: spec.metric.name.clone(),
            total: 0,
            done: 0,
            multi: fancy.then(MultiProgress::new),
            overall: None,
            lines: HashMap::new(),
        }
    }

    fn say(&self, line: String) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(line);
            }
            None => to_stderr(line),
        }
    }

    fn on(&mut self, p: Progress) {
        match p {
            Progress::Planned {
                total,
                kept,
                results,
                moved_aside,
            } => {
                let count = match total {
                    Some(t) => format!("{t} trials"),
                    None => "trials created until the metric's target is reached".to_string(),
                };
                let total = total.unwrap_or(0);
                self.total = total;
                self.done = kept;
                if let Some(old) = moved_aside {
                    self.say(format!("moved the old results to {}", old.display()));
                }
                let resumed = if kept > 0 {
                    format!(", resuming: {kept} already done")
                } else {
                    String::new()
                };
                self.say(format!("{count}{resumed}; results in {}", results.display()));
                if let Some(m) = &self.multi {
                    let bar = m.add(
                        ProgressBar::new(total as u64).with_style(
                            ProgressStyle::with_template(
                                "{prefix:.bold} [{bar:30}] {pos}/{len} trials, {elapsed} elapsed, eta {eta}",
                            )
                            .expect("template")
                            .progress_chars("=> "),
                        ),
                    );
                    bar.set_prefix("sweep");
                    bar.set_position(kept as u64);
                    self.overall = Some(bar);
                }
            }
            Progress::Started { trial, attempt, device } => {
                let again = if attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                match &self.multi {
                    Some(m) => {
                        let bar =
                            m.add(ProgressBar::new_spinner().with_style(
                                ProgressStyle::with_template("  {spinner} {prefix} {msg}").expect("template"),
                            ));
                        bar.set_prefix(format!("#{} {}", trial.ordinal, trial.id));
                        bar.set_message(format!("{} on {device}{again}: starting", params_text(&trial)));
                        bar.enable_steady_tick(Duration::from_millis(200));
                        self.lines.insert(trial.id.clone(), bar);
                    }
                    None => to_stderr(format!(
                        "[{}/{}] start #{} {} {} on {device}{again}",
                        self.done,
                        self.total,
                        trial.ordinal,
                        trial.id,
                        params_text(&trial)
                    )),
                }
            }
            Progress::Epoch {
                trial,
                epoch,
                of,
                metrics,
            } => {
                let of = of.map_or_else(String::new, |n| format!("/{n}"));
                let value = metrics
                    .get(&self.metric)
                    .map_or_else(String::new, |v| format!(" {} {}", self.metric, format_short(*v)));
                match self.lines.get(&trial) {
                    Some(bar) => {
                        let msg = bar.message();
                        let head = msg.split(": ").next().unwrap_or("").to_string();
                        bar.set_message(format!("{head}: epoch {epoch}{of}{value}"));
                    }
                    None => to_stderr(format!("         {trial} epoch {epoch}{of}{value}")),
                }
            }
            Progress::Finished {
                trial,
                status,
                metric,
                error,
                seconds,
                retry,
                continued,
            } => {
                if let Some(bar) = self.lines.remove(&trial.id) {
                    bar.finish_and_clear();
                    if let Some(m) = &self.multi {
                        m.remove(&bar);
                    }
                }
                if !retry && status != TrialStatus::Interrupted {
                    self.done += 1;
                    if let Some(o) = &self.overall {
                        o.inc(1);
                    }
                }
                let value = metric.map_or_else(String::new, |v| format!(" {} {}", self.metric, format_short(v)));
                let why = error.map_or_else(String::new, |e| format!(": {}", one_line(&e)));
                let next = match (continued, retry) {
                    (true, _) => "",
                    (false, true) => ", will retry",
                    (false, false) => "",
                };
                self.say(format!(
                    "[{}/{}] {status:<9} #{} {}{value} in {:.1}s{why}{next}",
                    self.done, self.total, trial.ordinal, trial.id, seconds
                ));
            }
            Progress::Stopping { trial, status, reason } => {
                self.say(format!("          stopping {trial} ({status}): {reason}"));
            }
            Progress::Warning {
                trial: Some(trial),
                message,
            } => self.say(format!("warning: trial {trial}: {message}")),
            Progress::Warning { trial: None, message } => self.say(format!("warning: {message}")),
            Progress::Interrupted { kill } => self.say(if kill {
                "second interrupt: killing running trials".to_string()
            } else {
                "interrupted: starting nothing new, stopping running trials (Ctrl-C again to kill them)".to_string()
            }),
        }
    }

    fn finish(&self) {
        if let Some(o) = &self.overall {
            o.finish_and_clear();
        }
    }
}

pub fn run(args: &RunArgs) -> Result<u8> {
    let spec = sweep_spec::load_spec(&args.spec)?;
    crate::warn_spec(&spec);
    let text = std::fs::read_to_string(&args.spec).with_context(|| format!("cannot read {}", args.spec.display()))?;
    let dir = ResultsDir::new(args.results.join(&spec.name));
    let mut opts = RunOptions::new(std::env::current_exe().context("cannot find the sweep binary to run workers")?);
    opts.cpus = args.cpus;
    opts.restart = args.restart;
    opts.detach = args.detach;
    opts.count = args.count;
    opts.launcher = args.launcher;
    opts.grace = Duration::from_secs_f64(args.grace.max(0.0));
    let fancy = !args.plain && std::io::stderr().is_terminal();
    let mut display = Display::new(&spec, fancy);
    if !fancy && let Some(m) = &display.multi {
        m.set_draw_target(ProgressDrawTarget::hidden());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // Few threads: every trial is a fork of this process, and a fork
        // costs more (page-table copies, TLB shootdowns) with every thread.
        .max_blocking_threads(2)
        .enable_all()
        .build()?;
    let summary = runtime.block_on(run_sweep(&spec, &text, &dir, &opts, &mut |p| display.on(p)))?;
    display.finish();
    if args.detach {
        println!("submitted {} jobs for sweep {}:", summary.detached.len(), spec.name);
        for (trial, handle) in &summary.detached {
            println!("  {}  trial {trial}", handle.id);
        }
        println!(
            "\nprogress: sweep status {dir}\nre-attach: sweep run {spec_path}\ncancel:    sweep cancel {dir}",
            dir = dir.root().display(),
            spec_path = args.spec.display()
        );
        return Ok(0);
    }

    // The end: top trials, the best one's parameters, where the files are.
    let infos = summary.replay.infos();
    let rows = leaderboard_rows(&infos, &summary.replay, &spec.metric);
    let params_of = |id: &TrialId| &summary.replay.trials[id].params;
    let mut counts: Vec<(TrialStatus, usize)> = Vec::new();
    for r in &rows {
        match counts.iter_mut().find(|(s, _)| *s == r.status) {
            Some((_, n)) => *n += 1,
            None => counts.push((r.status, 1)),
        }
    }
    let columns: Vec<&str> = spec.parameters.iter().map(|p| p.name.as_str()).collect();
    let mut header = vec![
        "rank".to_string(),
        "id".into(),
        spec.metric.name.clone(),
        "best_epoch".into(),
    ];
    header.extend(columns.iter().map(|c| c.to_string()));
    let mut table = Table::new(header);
    for r in rows.iter().filter(|r| r.rank.is_some()).take(5) {
        let params = params_of(&r.id);
        let mut cells = vec![
            r.rank.map(|x| x.to_string()).unwrap_or_default(),
            r.id.to_string(),
            r.metric.map(format_short).unwrap_or_default(),
            r.best_epoch.map(|e| e.to_string()).unwrap_or_default(),
        ];
        cells.extend(
            columns
                .iter()
                .map(|c| params.get(*c).map(|v| v.to_string()).unwrap_or_default()),
        );
        table.row(cells);
    }
    let tally: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!("\nsweep {}: {}", spec.name, tally.join(", "));
    if rows.iter().any(|r| r.rank.is_some()) {
        println!(
            "\ntop trials by {} ({}):\n{}",
            spec.metric.name,
            spec.metric.goal.as_str(),
            table.render()
        );
        if let Some(best) = rows.first().filter(|r| r.rank == Some(1)) {
            let t = sweep_sched::dispatcher::trial_of(&best.id, &summary.replay.trials[&best.id]);
            println!("best: {} {} (seed {})", best.id, params_text(&t), t.seed);
        }
    }
    println!(
        "\nleaderboard: {}\nepochs:      {}\njournal:     {}",
        dir.leaderboard().display(),
        dir.epochs().display(),
        dir.journal().display()
    );
    if summary.interrupted {
        println!("interrupted: run the same command again to resume");
        return Ok(EXIT_INTERRUPTED);
    }
    // A run whose trials all failed produced nothing, and one stopped by
    // `max_initial_failures` did not finish: say so, and exit 1 so that a
    // script (or an `afterok` SLURM dependency) notices.
    let endings = &summary.endings;
    let all_failed = endings.all_failed();
    if all_failed || endings.gave_up.is_some() {
        let first = endings.first_failure.as_ref().map_or_else(String::new, |(id, error)| {
            let ordinal = summary.replay.trials.get(id).map_or(0, |r| r.ordinal);
            format!("; the first, #{ordinal} {id}: {}", one_line(error))
        });
        let what = match &endings.gave_up {
            Some(why) => format!("{why}{first}"),
            None => format!("every trial that ended in this run failed ({}){first}", endings.failed),
        };
        let next = if all_failed {
            format!(
                "fix the trainer, then start over with `sweep run {} --restart` (the old results are kept, renamed)",
                args.spec.display()
            )
        } else {
            format!(
                "{} of the trials running then did not fail: run `sweep run {}` again to go on",
                endings.ended - endings.failed,
                args.spec.display()
            )
        };
        to_stderr(format!("error: {what}\n  {next}"));
        return Ok(EXIT_ALL_FAILED);
    }
    Ok(0)
}
