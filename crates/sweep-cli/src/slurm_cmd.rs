//! `sweep status` and `sweep cancel`: a sweep's SLURM jobs, attached or not.

use crate::review_cmd::results_dir;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use sweep_core::{TrialEvent, TrialStatus};
use sweep_results::{Journal, ResultsDir, Table};
use sweep_sched::slurm;

/// Show a sweep's progress from its files and the SLURM queue.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The results folder (results/<sweep name>), or just the sweep's name.
    pub results: PathBuf,
}

/// The last epoch line of a trial's events file, as "epoch N metric V".
fn last_epoch(dir: &ResultsDir, id: &sweep_core::TrialId, metric: &str) -> String {
    let text = std::fs::read_to_string(dir.trial_dir(id).join("events.jsonl")).unwrap_or_default();
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

pub fn status(args: &StatusArgs) -> Result<()> {
    let root = results_dir(&args.results);
    let dir = ResultsDir::new(&root);
    if !dir.journal().exists() {
        bail!("{}: no journal.jsonl here: not a results folder", root.display());
    }
    let (spec, plan) =
        sweep_spec::load(&dir.spec()).with_context(|| format!("cannot read {}", dir.spec().display()))?;
    let replay = Journal::replay(&dir.journal())?;
    let queue = slurm::queue_now();
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut bump = |k: String| match counts.iter_mut().find(|(s, _)| *s == k) {
        Some((_, n)) => *n += 1,
        None => counts.push((k, 1)),
    };
    let mut table = Table::new(vec![
        "#".into(),
        "trial".into(),
        "job".into(),
        "state".into(),
        "progress".into(),
    ]);
    for t in &plan.trials {
        let Some(r) = replay.trials.get(&t.id) else {
            bump("pending".into());
            continue;
        };
        if r.status != TrialStatus::Running {
            bump(if r.retry {
                "to retry".into()
            } else {
                r.status.to_string()
            });
            continue;
        }
        let job = r.job.clone().unwrap_or_default();
        let state = match (&queue, job.as_str()) {
            (_, "") => "submitting".to_string(),
            (Ok(q), j) => match q.get(j) {
                Some((st, reason)) if st == "PENDING" => format!("queued ({reason})"),
                Some((st, _)) => st.to_lowercase(),
                None => "ended, not recorded yet".into(),
            },
            (Err(_), _) => "unknown (no squeue)".into(),
        };
        bump(match state.split_whitespace().next() {
            Some("queued") => "queued".into(),
            Some("running") => "running".into(),
            _ => "ended unrecorded".into(),
        });
        table.row(vec![
            t.ordinal.to_string(),
            t.id.to_string(),
            job,
            state,
            last_epoch(&dir, &t.id, &spec.metric.name),
        ]);
    }
    let tally: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!(
        "sweep {} ({}): {} trials: {}",
        spec.name,
        root.display(),
        plan.trials.len(),
        tally.join(", ")
    );
    let holder = std::fs::read_to_string(root.join(".lock")).unwrap_or_default();
    let attached = match sweep_sched::folder_in_use(&dir) {
        Some(pid) => format!("an orchestrator is attached (pid {pid})"),
        None if holder.is_empty() => "no orchestrator has run here".into(),
        None => "no orchestrator is attached: `sweep run` with the spec re-attaches and records finished jobs".into(),
    };
    println!("{attached}");
    if let Err(e) = &queue {
        println!("the SLURM queue could not be read: {e}");
    }
    let rendered = table.render();
    if rendered.lines().count() > 1 {
        println!("\n{rendered}");
    }
    Ok(())
}

/// Cancel a sweep's SLURM jobs (they are recorded as interrupted).
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
    let mut ids: Vec<String> = replay
        .trials
        .values()
        .filter(|r| r.status == TrialStatus::Running)
        .filter_map(|r| r.job.clone())
        .filter(|j| j.parse::<u64>().is_ok())
        .collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        println!("no SLURM job of this sweep is running");
        return Ok(());
    }
    let status = slurm::cancel_jobs(&root, &ids).context("cannot run scancel")?;
    if !status.success() {
        bail!("scancel failed ({status}) for jobs {}", ids.join(" "));
    }
    println!("cancelled {} jobs: {}", ids.len(), ids.join(" "));
    println!("`sweep run` with the spec records them as interrupted; a later `sweep run` runs them again");
    Ok(())
}
