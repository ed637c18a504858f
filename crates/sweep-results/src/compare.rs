//! Comparing sweeps that rank by the same metric: the best trials of each,
//! how many trials ended how, and, per parameter value the sweeps share, the
//! best metric in each sweep and its change from the first.

use crate::review::{Board, ReviewError};
use std::collections::BTreeMap;
use sweep_core::{Metric, TrialId, TrialStatus};

/// What [`compare`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The metric every sweep ranks by.
    pub metric: Metric,
    /// Every sweep's parameters, each once, in the order first seen.
    pub params: Vec<String>,
    /// Per sweep, in the order given.
    pub sweeps: Vec<SweepSummary>,
    /// Per parameter with a value in common between two sweeps or more.
    pub shared: Vec<SharedParam>,
    /// Parameters that two sweeps or more have, but with no value in common.
    pub unshared: Vec<String>,
}

/// One sweep in a [`Comparison`].
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSummary {
    /// Its name, as given.
    pub name: String,
    /// Its best ranked trials, best first.
    pub best: Vec<BestTrial>,
    /// How many trials there are, per status.
    pub counts: StatusCounts,
}

/// One of the best trials of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct BestTrial {
    /// Its rank.
    pub rank: usize,
    /// The trial.
    pub id: TrialId,
    /// Its value of the metric.
    pub value: f64,
    /// Its values of [`Comparison::params`]; none for a parameter its sweep
    /// does not have.
    pub params: Vec<Option<String>>,
}

/// How many trials have each status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCounts {
    /// Every trial.
    pub total: usize,
    /// Per status, in [`TrialStatus::ALL`] order.
    by_status: [usize; TrialStatus::ALL.len()],
}

impl StatusCounts {
    /// Counts the statuses of `statuses`.
    pub fn of(statuses: impl IntoIterator<Item = TrialStatus>) -> StatusCounts {
        let mut c = StatusCounts::default();
        for s in statuses {
            c.total += 1;
            c.by_status[Self::slot(s)] += 1;
        }
        c
    }

    /// The trials with status `s`.
    pub fn get(&self, s: TrialStatus) -> usize {
        self.by_status[Self::slot(s)]
    }

    fn slot(s: TrialStatus) -> usize {
        TrialStatus::ALL
            .iter()
            .position(|x| *x == s)
            .expect("ALL has every status")
    }
}

/// A parameter the sweeps share values of.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedParam {
    /// Its name.
    pub name: String,
    /// The sweeps that have it (indices into [`Comparison::sweeps`]).
    pub sweeps: Vec<usize>,
    /// The values found in two of those sweeps or more, numbers in numeric
    /// order, then text.
    pub values: Vec<SharedValue>,
}

/// One parameter value, across the sweeps that have the parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedValue {
    /// The value, as written.
    pub value: String,
    /// Per sweep in [`SharedParam::sweeps`]: the best metric of its ranked
    /// trials with this value; none when it has no such trial.
    pub cells: Vec<Option<ValueBest>>,
}

/// The best metric of a sweep's ranked trials with one parameter value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueBest {
    /// The best value of the metric.
    pub best: f64,
    /// How many ranked trials have this parameter value.
    pub n: usize,
    /// The change from the first sweep with this value; none for that sweep.
    pub change: Option<f64>,
}

/// Compares named leaderboards (two or more), showing the best `top` trials
/// of each. They must rank by the same metric with the same goal.
pub fn compare(boards: &[(String, Board)], top: usize) -> Result<Comparison, ReviewError> {
    let Some((first_name, first)) = boards.first() else {
        return Err(ReviewError::Incomparable("nothing to compare".into()));
    };
    let metric = first.metric.clone();
    if let Some((name, b)) = boards.iter().find(|(_, b)| b.metric.name != metric.name) {
        return Err(ReviewError::Incomparable(format!(
            "{name} ranks by {} but {first_name} ranks by {}: only sweeps with the same metric compare",
            b.metric.name, metric.name
        )));
    }
    if let Some((name, b)) = boards.iter().find(|(_, b)| b.metric.goal != metric.goal) {
        return Err(ReviewError::Incomparable(format!(
            "{name} {}s {} but {first_name} {}s it: only sweeps with the same goal compare",
            b.metric.goal.as_str(),
            metric.name,
            metric.goal.as_str()
        )));
    }
    let mut params: Vec<String> = Vec::new();
    for p in boards.iter().flat_map(|(_, b)| &b.params) {
        if !params.contains(p) {
            params.push(p.clone());
        }
    }
    let sweeps = boards
        .iter()
        .map(|(name, b)| SweepSummary {
            name: name.clone(),
            best: b
                .ranked()
                .take(top)
                .filter_map(|t| {
                    Some(BestTrial {
                        rank: t.rank?,
                        id: t.id.clone(),
                        value: t.value?,
                        params: params.iter().map(|p| b.param(t, p).map(String::from)).collect(),
                    })
                })
                .collect(),
            counts: StatusCounts::of(b.trials.iter().map(|t| t.status)),
        })
        .collect();
    let mut shared = Vec::new();
    let mut unshared = Vec::new();
    for p in &params {
        let having: Vec<usize> = (0..boards.len()).filter(|&i| boards[i].1.params.contains(p)).collect();
        if having.len() < 2 {
            continue;
        }
        let values = shared_values(boards, &having, p, &metric);
        if values.is_empty() {
            unshared.push(p.clone());
        } else {
            shared.push(SharedParam {
                name: p.clone(),
                sweeps: having,
                values,
            });
        }
    }
    Ok(Comparison {
        metric,
        params,
        sweeps,
        shared,
        unshared,
    })
}

/// The values of parameter `p` found among the ranked trials of two sweeps
/// of `having` or more, with the best metric per sweep.
fn shared_values(boards: &[(String, Board)], having: &[usize], p: &str, metric: &Metric) -> Vec<SharedValue> {
    // value -> per sweep: best metric and trial count.
    let mut by_value: BTreeMap<ValueKey, Vec<Option<(f64, usize)>>> = BTreeMap::new();
    for (slot, &i) in having.iter().enumerate() {
        let b = &boards[i].1;
        for t in b.ranked() {
            let (Some(v), Some(value)) = (t.value, b.param(t, p)) else {
                continue;
            };
            let cell = &mut by_value
                .entry(ValueKey(value.to_string()))
                .or_insert_with(|| vec![None; having.len()])[slot];
            *cell = Some(match *cell {
                Some((best, n)) => (if metric.goal.better(v, best) { v } else { best }, n + 1),
                None => (v, 1),
            });
        }
    }
    by_value
        .into_iter()
        .filter(|(_, cells)| cells.iter().flatten().count() >= 2)
        .map(|(value, cells)| {
            let first = cells.iter().flatten().map(|(v, _)| *v).next();
            let mut seen_first = false;
            let cells = cells
                .into_iter()
                .map(|cell| {
                    cell.map(|(best, n)| {
                        let change = first.filter(|_| seen_first).map(|f| best - f);
                        seen_first = true;
                        ValueBest { best, n, change }
                    })
                })
                .collect();
            SharedValue { value: value.0, cells }
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::ResultsDir;
    use crate::review::TrialRow;
    use sweep_core::Goal;

    /// A trial of an (optimizer, batch_size) sweep.
    fn trial(rank: Option<usize>, id: &str, status: TrialStatus, value: f64, opt: &str, bs: &str) -> TrialRow {
        TrialRow {
            rank,
            id: TrialId::from_string(id),
            status,
            value: Some(value),
            best_epoch: Some(1),
            params: vec![opt.into(), bs.into()],
            epochs_run: 1,
            duration_s: Some(1.0),
            device: None,
            seed: 0,
            attempts: 1,
            error: None,
        }
    }

    fn board(goal: Goal, params: [&str; 2], trials: Vec<TrialRow>) -> Board {
        Board {
            dir: ResultsDir::new("r"),
            metric: Metric {
                name: "val_loss".into(),
                goal,
            },
            params: params.map(String::from).into(),
            trials,
        }
    }

    fn two_sweeps(goal: Goal) -> Vec<(String, Board)> {
        use TrialStatus::*;
        let a = board(
            goal,
            ["optimizer", "batch_size"],
            vec![
                trial(Some(1), "a1", Completed, 0.2, "adam", "32"),
                trial(Some(2), "a2", Pruned, 0.4, "adam", "64"),
                trial(Some(3), "a3", Completed, 0.5, "sgd", "32"),
                trial(None, "a4", Failed, 9.0, "sgd", "64"),
            ],
        );
        let b = board(
            goal,
            ["optimizer", "lr"],
            vec![
                trial(Some(1), "b1", Completed, 0.3, "adam", "0.1"),
                trial(Some(2), "b2", Completed, 0.6, "adam", "0.01"),
                trial(None, "b3", Running, 0.9, "rmsprop", "0.1"),
            ],
        );
        vec![("a".into(), a), ("b".into(), b)]
    }

    #[test]
    fn best_trials_counts_and_shared_values() {
        let c = compare(&two_sweeps(Goal::Minimize), 2).unwrap();
        assert_eq!(c.params, ["optimizer", "batch_size", "lr"]);
        let best: Vec<(&str, usize, f64)> = c.sweeps[0]
            .best
            .iter()
            .map(|t| (t.id.as_str(), t.rank, t.value))
            .collect();
        assert_eq!(best, [("a1", 1, 0.2), ("a2", 2, 0.4)]);
        assert_eq!(
            c.sweeps[1].best[0].params,
            [Some("adam".to_string()), None, Some("0.1".to_string())],
            "a parameter the sweep lacks is none"
        );
        let counts = &c.sweeps[0].counts;
        assert_eq!(counts.total, 4);
        use TrialStatus::*;
        assert_eq!(
            (counts.get(Completed), counts.get(Pruned), counts.get(Failed)),
            (2, 1, 1)
        );
        assert_eq!(c.sweeps[1].counts.get(Running), 1);

        // optimizer is in both: adam in both (sgd only in a, rmsprop unranked).
        assert_eq!(c.shared.len(), 1);
        let opt = &c.shared[0];
        assert_eq!((opt.name.as_str(), opt.sweeps.as_slice()), ("optimizer", &[0, 1][..]));
        assert_eq!(opt.values.len(), 1);
        assert_eq!(opt.values[0].value, "adam");
        let cells: Vec<ValueBest> = opt.values[0].cells.iter().map(|c| c.unwrap()).collect();
        assert_eq!(
            (cells[0].best, cells[0].n, cells[0].change),
            (0.2, 2, None),
            "a pruned trial counts"
        );
        assert_eq!((cells[1].best, cells[1].n), (0.3, 2));
        assert!((cells[1].change.unwrap() - 0.1).abs() < 1e-12);
        assert!(c.unshared.is_empty());
    }

    #[test]
    fn the_goal_picks_the_best_per_value() {
        let c = compare(&two_sweeps(Goal::Maximize), 3).unwrap();
        let cells = &c.shared[0].values[0].cells;
        assert_eq!(cells[0].unwrap().best, 0.4, "maximize: the larger value of adam in a");
        assert_eq!(cells[1].unwrap().best, 0.6);
    }

    #[test]
    fn values_sort_as_numbers_and_unshared_parameters_are_named() {
        let mk = |ids: [&str; 2], bs: [&str; 2]| {
            board(
                Goal::Maximize,
                ["optimizer", "batch_size"],
                vec![
                    trial(Some(1), ids[0], TrialStatus::Completed, 0.9, "adam", bs[0]),
                    trial(Some(2), ids[1], TrialStatus::Completed, 0.8, "sgd", bs[1]),
                ],
            )
        };
        let boards = vec![
            ("x".to_string(), mk(["x1", "x2"], ["128", "64"])),
            ("y".to_string(), mk(["y1", "y2"], ["256", "512"])),
            ("z".to_string(), mk(["z1", "z2"], ["1024", "2048"])),
        ];
        let c = compare(&boards, 1).unwrap();
        assert_eq!(c.unshared, ["batch_size"]);
        let values: Vec<&str> = c.shared[0].values.iter().map(|v| v.value.as_str()).collect();
        assert_eq!(values, ["adam", "sgd"]);
        let mut keys = [ValueKey("64".into()), ValueKey("adam".into()), ValueKey("128".into())];
        keys.sort();
        assert_eq!(keys.map(|k| k.0), ["64", "128", "adam"]);
    }

    #[test]
    fn sweeps_with_another_metric_or_goal_do_not_compare() {
        let mut boards = two_sweeps(Goal::Minimize);
        boards[1].1.metric.goal = Goal::Maximize;
        let err = compare(&boards, 3).unwrap_err().to_string();
        assert!(err.contains("same goal"), "{err}");
        boards[1].1.metric.name = "val_accuracy".into();
        let err = compare(&boards, 3).unwrap_err().to_string();
        assert!(err.contains("b ranks by val_accuracy but a ranks by val_loss"), "{err}");
    }
}
