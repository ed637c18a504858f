//! `sweep status` and `sweep cancel`: a sweep's running attempts, attached
//! or not, through the launchers that started them.

use crate::review_cmd::results_dir;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use sweep_core::{TrialEvent, TrialStatus};
use sweep_results::{Journal, ResultsDir, Table};
use sweep_sched::launcher;

/// Show a sweep's progress from its files and its launcher's queue.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The results folder (results/<sweep name>), or just the sweep's name.
    pub results: PathBuf,
}

/// The last epoch line of a trial's protocol (its events file under a
/// launcher that writes one, else its stdout log), as "epoch N metric V".
fn last_epoch(dir: &ResultsDir, id: &sweep_core::TrialId, metric: &str) -> String {
    let events = dir.trial_dir(id).join("events.jsonl");
    let path = if events.exists() { events } else { dir.stdout_log(id) };
    // Only the end of the file: a trial's log can be gigabytes.
    let text = sweep_sched::output::file_tail_bytes(&path, 64 << 10);
    text.lines()
        .rev()
        .find_map(|l| match TrialEvent::parse_line(l).event() {
            Some(TrialEvent::Epoch { epoch, metrics }) => Some(match metrics.get(metric) {
                Some(v) => format!("epoch {epoch}, {metric} {}", sweep_core::format_float(*v)),
                None => format!("epoch {epoch}"),
            }),
            _ => None,
        })
        .unwrap_or_default()
}

/// The handles of the attempts the journal shows running.
fn running_handles(replay: &sweep_results::Replay) -> Vec<sweep_results::Handle> {
    replay
        .trials
        .values()
        .filter(|r| r.status == TrialStatus::Running)
        .filter_map(|r| r.handle.clone())
        .collect()
}

pub fn status(args: &StatusArgs) -> Result<()> {
    let root = results_dir(&args.results);
    let dir = ResultsDir::new(&root);
    if !dir.journal().exists() {
        bail!("{}: no journal.jsonl here: not a results folder", root.display());
    }
    let spec = sweep_spec::parse(
        &std::fs::read_to_string(dir.spec()).with_context(|| format!("cannot read {}", dir.spec().display()))?,
        &dir.spec(),
    )
    .with_context(|| format!("cannot read {}", dir.spec().display()))?;
    let replay = Journal::replay(&dir.journal())?;
    let handles = running_handles(&replay);
    let queue = launcher::queue_states(&handles);
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut bump_by = |k: String, by: usize| match counts.iter_mut().find(|(s, _)| *s == k) {
        Some((_, n)) => *n += by,
        None => counts.push((k, by)),
    };
    let mut table = Table::new(vec![
        "#".into(),
        "trial".into(),
        "job".into(),
        "state".into(),
        "progress".into(),
        "continued".into(),
    ]);
    let cap = spec.checkpoint.max_continuations;
    for id in &replay.order {
        let r = &replay.trials[id];
        if r.status != TrialStatus::Running {
            bump_by(
                if r.retry {
                    "to retry".into()
                } else {
                    r.status.to_string()
                },
                1,
            );
            continue;
        }
        let state = match (&queue, &r.handle) {
            (_, None) => "submitting".to_string(),
            (Ok(q), Some(h)) => q.get(h).cloned().unwrap_or_else(|| "running".into()),
            (Err(_), Some(_)) => "unknown (the queue could not be read)".into(),
        };
        bump_by(
            match state.split_whitespace().next() {
                Some("queued") => "queued".into(),
                Some("running") => "running".into(),
                _ => "ended unrecorded".into(),
            },
            1,
        );
        table.row(vec![
            r.ordinal.to_string(),
            id.to_string(),
            r.handle.as_ref().map(|h| h.to_string()).unwrap_or_default(),
            state,
            last_epoch(&dir, id, &spec.metric.name),
            format!("{}/{cap}", r.continuations),
        ]);
    }
    let created = replay.order.len();
    if let Some(total) = replay.total
        && total as usize > created
    {
        bump_by("pending".into(), total as usize - created);
    }
    let tally: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let total = replay.total.map_or(created, |t| (t as usize).max(created));
    println!(
        "sweep {} ({}): {} trials: {}",
        spec.name,
        root.display(),
        total,
        tally.join(", ")
    );
    let holder = std::fs::read_to_string(root.join(".lock")).unwrap_or_default();
    let attached = match sweep_sched::folder_in_use(&dir) {
        Some(pid) => format!("an orchestrator is attached (pid {pid})"),
        None if holder.is_empty() => "no orchestrator has run here".into(),
        None => "no orchestrator is attached: `sweep run` with the spec re-attaches and records finished jobs".into(),
    };
    println!("{attached}");
    let (continued, times) = replay
        .trials
        .values()
        .filter(|r| r.continuations > 0)
        .fold((0, 0), |(n, t), r| (n + 1, t + r.continuations));
    if continued > 0 {
        println!(
            "continuations: {continued} trials continued {times} times from their checkpoints (at most {cap} per trial: checkpoint.max_continuations)"
        );
    }
    if let Err(e) = &queue {
        println!("the launcher's queue could not be read: {e}");
    }
    let rendered = table.render();
    if rendered.lines().count() > 1 {
        println!("\n{rendered}");
    }
    Ok(())
}

/// Cancel a sweep's running attempts that outlive their orchestrator
/// (SLURM jobs); they are recorded as interrupted.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The results folder (results/<sweep name>), or just the sweep's name.
    pub results: PathBuf,
}

pub fn cancel(args: &CancelArgs) -> Result<()> {
    let root = results_dir(&args.results);
    let dir = ResultsDir::new(&root);
    if !dir.journal().exists() {
        bail!("{}: no journal.jsonl here: not a results folder", root.display());
    }
    let replay = Journal::replay(&dir.journal())?;
    let handles = running_handles(&replay);
    if handles.is_empty() {
        println!("no attempt of this sweep is running");
        return Ok(());
    }
    for line in launcher::cancel(&root, &handles).map_err(anyhow::Error::msg)? {
        println!("{line}");
    }
    println!("`sweep run` with the spec records them as interrupted; a later `sweep run` runs them again");
    Ok(())
}
