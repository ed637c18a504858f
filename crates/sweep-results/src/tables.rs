//! `leaderboard.csv` and `epochs.csv`, rendered from the journal's replay.

use crate::journal::Replay;
use crate::layout::ResultsDir;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use sweep_core::{Goal, Metric, Params, TrialId, TrialStatus, format_float};

/// A planned trial, as the tables need it.
#[derive(Debug, Clone, Copy)]
pub struct TrialInfo<'a> {
    /// Its id.
    pub id: &'a TrialId,
    /// Its position in the plan.
    pub ordinal: usize,
    /// Its swept parameters.
    pub params: &'a Params,
    /// Its training seed.
    pub seed: u64,
}

/// One row of the leaderboard.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaderboardRow {
    /// 1 for the best completed trial; none for the others.
    pub rank: Option<usize>,
    /// The trial.
    pub id: TrialId,
    /// Its position in the plan.
    pub ordinal: usize,
    /// Its status (pending when never started).
    pub status: TrialStatus,
    /// Its best value of the sweep's metric.
    pub metric: Option<f64>,
    /// The epoch of that value.
    pub best_epoch: Option<u32>,
    /// Epochs run (latest attempt).
    pub epochs: usize,
    /// Seconds the latest attempt ran.
    pub seconds: Option<f64>,
    /// Where it ran.
    pub device: Option<String>,
    /// Its training seed.
    pub seed: u64,
    /// Attempts started.
    pub attempts: u32,
    /// Why it failed.
    pub error: Option<String>,
}

/// The leaderboard: completed trials ranked by the metric, then every other
/// trial in plan order, each exactly once.
pub fn leaderboard_rows(trials: &[TrialInfo], replay: &Replay, metric: &Metric) -> Vec<LeaderboardRow> {
    let mut rows: Vec<LeaderboardRow> = trials
        .iter()
        .map(|t| {
            let rec = replay.trials.get(t.id);
            let (value, best_epoch) = rec
                .and_then(|r| r.best(metric))
                .map_or((None, None), |(v, e)| (Some(v), e));
            LeaderboardRow {
                rank: None,
                id: t.id.clone(),
                ordinal: t.ordinal,
                status: rec.map_or(TrialStatus::Pending, |r| r.status),
                metric: value,
                best_epoch,
                epochs: rec.map_or(0, |r| r.epochs.len()),
                seconds: rec.filter(|r| r.status != TrialStatus::Running).map(|r| r.seconds),
                device: rec.and_then(|r| r.device.clone()),
                seed: t.seed,
                attempts: rec.map_or(0, |r| r.attempts),
                error: rec.and_then(|r| r.error.clone()),
            }
        })
        .collect();
    let ranked = |r: &LeaderboardRow| r.status.is_ranked() && r.metric.is_some();
    rows.sort_by(|a, b| match (ranked(a), ranked(b)) {
        (true, true) => {
            let (x, y) = (a.metric.unwrap_or(f64::NAN), b.metric.unwrap_or(f64::NAN));
            let ord = match metric.goal {
                Goal::Maximize => y.total_cmp(&x),
                Goal::Minimize => x.total_cmp(&y),
            };
            ord.then(a.ordinal.cmp(&b.ordinal))
        }
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        (false, false) => a.ordinal.cmp(&b.ordinal),
    });
    for (i, row) in rows.iter_mut().take_while(|r| ranked(r)).enumerate() {
        row.rank = Some(i + 1);
    }
    rows
}

/// Writes `bytes` to `path` through a temporary file and a rename, syncing
/// both, so a reader sees the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(String::new, format_float)
}

/// Rewrites `leaderboard.csv` and `epochs.csv` from the replay.
pub fn write_tables(
    dir: &ResultsDir,
    trials: &[TrialInfo],
    columns: &[String],
    replay: &Replay,
    metric: &Metric,
) -> std::io::Result<()> {
    let csv_err = |e: csv::Error| std::io::Error::other(e.to_string());
    let by_id: std::collections::HashMap<&TrialId, &TrialInfo> = trials.iter().map(|t| (t.id, t)).collect();

    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "rank".to_string(),
        "trial_id".into(),
        "status".into(),
        metric.name.clone(),
        "best_epoch".into(),
    ];
    header.extend(columns.iter().cloned());
    header.extend(["epochs_run", "duration_s", "device", "seed", "attempts", "error"].map(String::from));
    w.write_record(&header).map_err(csv_err)?;
    for row in leaderboard_rows(trials, replay, metric) {
        let params = by_id[&row.id].params;
        let mut rec = vec![
            row.rank.map_or_else(String::new, |r| r.to_string()),
            row.id.to_string(),
            row.status.to_string(),
            num(row.metric),
            row.best_epoch.map_or_else(String::new, |e| e.to_string()),
        ];
        rec.extend(
            columns
                .iter()
                .map(|c| params.get(c).map_or_else(String::new, |v| v.to_string())),
        );
        rec.extend([
            row.epochs.to_string(),
            row.seconds.map_or_else(String::new, |s| format!("{s:.1}")),
            row.device.unwrap_or_default(),
            row.seed.to_string(),
            row.attempts.to_string(),
            row.error.map(|e| e.replace('\n', " | ")).unwrap_or_default(),
        ]);
        w.write_record(&rec).map_err(csv_err)?;
    }
    write_atomic(
        &dir.leaderboard(),
        &w.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?,
    )?;

    let names: BTreeSet<&str> = replay
        .trials
        .values()
        .flat_map(|r| r.epochs.iter().flat_map(|(_, m)| m.keys().map(String::as_str)))
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["trial_id", "attempt", "epoch"];
    header.extend(names.iter().copied());
    w.write_record(&header).map_err(csv_err)?;
    let mut ordered: Vec<&TrialInfo> = trials.iter().collect();
    ordered.sort_by_key(|t| t.ordinal);
    for t in ordered {
        let Some(rec) = replay.trials.get(t.id) else { continue };
        let mut epochs: Vec<_> = rec.epochs.iter().collect();
        epochs.sort_by_key(|(e, _)| *e);
        for (epoch, m) in epochs {
            let mut row = vec![t.id.to_string(), rec.attempts.to_string(), epoch.to_string()];
            row.extend(names.iter().map(|n| num(m.get(*n).copied())));
            w.write_record(&row).map_err(csv_err)?;
        }
    }
    write_atomic(
        &dir.epochs(),
        &w.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Entry;
    use sweep_core::{EpochMetrics, ParamValue};

    #[test]
    fn completed_trials_rank_first_and_every_trial_appears_once() {
        let ids: Vec<TrialId> = ["a", "b", "c", "d"].iter().map(|s| TrialId::from_string(*s)).collect();
        let params: Vec<Params> = (0..4)
            .map(|i| {
                [("lr".to_string(), ParamValue::Float(10f64.powi(-i)))]
                    .into_iter()
                    .collect()
            })
            .collect();
        let trials: Vec<TrialInfo> = ids
            .iter()
            .zip(&params)
            .enumerate()
            .map(|(i, (id, p))| TrialInfo {
                id,
                ordinal: i,
                params: p,
                seed: 0,
            })
            .collect();
        let mut replay = Replay::default();
        let acc = |v: f64| -> EpochMetrics { [("val_accuracy".to_string(), v)].into_iter().collect() };
        for (id, vals, status) in [
            ("a", vec![0.5, 0.7], TrialStatus::Completed),
            ("b", vec![0.9, 0.8], TrialStatus::Completed),
            ("c", vec![0.95], TrialStatus::Failed),
        ] {
            let trial = TrialId::from_string(id);
            replay.apply(Entry::TrialStarted {
                trial: trial.clone(),
                attempt: 1,
                time: 0.0,
                device: None,
            });
            for (i, v) in vals.iter().enumerate() {
                replay.apply(Entry::Epoch {
                    trial: trial.clone(),
                    attempt: 1,
                    epoch: i as u32 + 1,
                    metrics: acc(*v),
                });
            }
            replay.apply(Entry::TrialFinished {
                trial,
                attempt: 1,
                time: 1.0,
                status,
                metrics: EpochMetrics::new(),
                error: None,
                seconds: 1.0,
                retry: false,
                continued: false,
            });
        }
        let metric = Metric {
            name: "val_accuracy".into(),
            goal: Goal::Maximize,
        };
        let rows = leaderboard_rows(&trials, &replay, &metric);
        let order: Vec<(&str, Option<usize>, Option<u32>)> =
            rows.iter().map(|r| (r.id.as_str(), r.rank, r.best_epoch)).collect();
        assert_eq!(
            order,
            [
                ("b", Some(1), Some(1)),
                ("a", Some(2), Some(2)),
                ("c", None, Some(1)),
                ("d", None, None)
            ]
        );
        assert_eq!(rows[3].status, TrialStatus::Pending);

        let dir = tempfile::tempdir().unwrap();
        let rd = ResultsDir::new(dir.path());
        write_tables(&rd, &trials, &["lr".to_string()], &replay, &metric).unwrap();
        let board = std::fs::read_to_string(rd.leaderboard()).unwrap();
        let mut lines = board.lines();
        assert_eq!(
            lines.next(),
            Some("rank,trial_id,status,val_accuracy,best_epoch,lr,epochs_run,duration_s,device,seed,attempts,error")
        );
        assert_eq!(lines.next(), Some("1,b,completed,0.9,1,0.1,2,1.0,,0,1,"));
        assert_eq!(board.lines().count(), 5);
        let epochs = std::fs::read_to_string(rd.epochs()).unwrap();
        assert_eq!(epochs.lines().next(), Some("trial_id,attempt,epoch,val_accuracy"));
        assert_eq!(epochs.lines().count(), 6);
    }
}
