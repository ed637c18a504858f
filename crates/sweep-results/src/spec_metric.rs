//! The metric a results folder ranks by, read from its `spec.yaml` (the spec
//! as run).
//!
//! Only the `metric` block is read, so reviewing does not depend on the whole
//! spec still passing today's validation. A spec without `metric` ran the
//! built-in trainer with its default metric, and a metric the built-in
//! trainer knows may leave out its goal: both as `sweep run` read them.

use crate::layout::ResultsDir;
use crate::review::ReviewError;
use serde::Deserialize;
use sweep_core::{Goal, Metric, builtin};

/// The part of a spec that says what to rank by.
#[derive(Debug, Deserialize)]
struct SpecHead {
    /// `metric: {name, goal}`, when given.
    #[serde(default)]
    metric: Option<MetricBlock>,
}

/// The `metric` block of a spec.
#[derive(Debug, Deserialize)]
struct MetricBlock {
    /// The metric's name.
    name: String,
    /// Which way is better, when given.
    #[serde(default)]
    goal: Option<Goal>,
}

/// The metric of the results folder `dir`, from its `spec.yaml`.
pub fn read_metric(dir: &ResultsDir) -> Result<Metric, ReviewError> {
    let path = dir.spec();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ReviewError::NoSpec(dir.root().to_path_buf()));
        }
        Err(error) => return Err(ReviewError::Io { path, error }),
    };
    metric_of(&text).map_err(|reason| ReviewError::Malformed { path, reason })
}

/// The metric a spec's text ranks by, or why it cannot be told.
fn metric_of(text: &str) -> Result<Metric, String> {
    let head: SpecHead = serde_norway::from_str(text).map_err(|e| format!("cannot read its `metric`: {e}"))?;
    let Some(block) = head.metric else {
        return Ok(builtin::default_metric());
    };
    let goal = match block.goal.or_else(|| builtin::goal_of(&block.name)) {
        Some(g) => g,
        None => {
            return Err(format!(
                "`metric` names `{}` without a `goal`: is a larger value better or worse?",
                block.name
            ));
        }
    };
    Ok(Metric { name: block.name, goal })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metric_block_is_read_and_the_rest_ignored() {
        let m = metric_of(
            "name: lr\nmethod: grid\nmetric: {name: val_loss, goal: minimize}\nparameters:\n  lr: {values: [1, 2]}\n",
        )
        .unwrap();
        assert_eq!((m.name.as_str(), m.goal), ("val_loss", Goal::Minimize));
        let m = metric_of("metric:\n  name: reward\n  goal: maximize\n").unwrap();
        assert_eq!((m.name.as_str(), m.goal), ("reward", Goal::Maximize));
    }

    #[test]
    fn what_a_spec_leaves_out_is_what_sweep_run_assumed() {
        assert_eq!(metric_of("method: grid\n").unwrap(), builtin::default_metric());
        let m = metric_of("metric: {name: train_loss}\n").unwrap();
        assert_eq!(m.goal, Goal::Minimize, "the built-in trainer's metrics know their goal");
    }

    #[test]
    fn a_metric_that_cannot_be_told_says_why() {
        assert!(
            metric_of("metric: {name: reward}\n")
                .unwrap_err()
                .contains("without a `goal`")
        );
        assert!(
            metric_of("metric: {name: reward, goal: max}\n")
                .unwrap_err()
                .contains("`metric`")
        );
        assert!(metric_of("metric: [val_loss]\n").is_err());
    }

    #[test]
    fn a_folder_without_a_spec_is_not_a_results_folder() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_metric(&ResultsDir::new(dir.path())).unwrap_err();
        assert!(matches!(err, ReviewError::NoSpec(_)), "{err}");
        assert!(err.to_string().contains("no spec.yaml"), "{err}");
    }
}
