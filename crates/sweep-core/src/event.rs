use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Named metric values of one epoch (`train_loss`, `val_accuracy`, `lr`, ...).
pub type EpochMetrics = BTreeMap<String, f64>;

/// One line of the worker protocol: what a trainer prints on stdout, one JSON
/// object per line (`{"event":"epoch","epoch":3,"val_accuracy":0.97,...}`).
///
/// Lines that do not parse as an event are the trainer's own log lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TrialEvent {
    /// The worker is set up and about to train.
    Started {
        /// Where it trains (`cpu`, `cuda:0`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
    },
    /// One epoch finished.
    Epoch {
        /// The epoch's number, from 1.
        epoch: u32,
        /// Its metrics.
        #[serde(flatten)]
        metrics: EpochMetrics,
    },
    /// Training finished; final metrics (`test_accuracy`, `best_epoch`, ...).
    Done {
        /// The final metrics.
        #[serde(flatten)]
        metrics: EpochMetrics,
    },
    /// The loss became NaN or infinite; training stopped.
    Diverged {
        /// The epoch in which it happened.
        epoch: u32,
        /// What was seen (`train loss is NaN at step 412`).
        reason: String,
    },
    /// The worker could not train (bad config, missing dataset, no GPU).
    Error {
        /// What went wrong, for a person.
        message: String,
    },
}

impl TrialEvent {
    /// Parses one stdout line; `None` when it is not a protocol event.
    pub fn parse_line(line: &str) -> Option<TrialEvent> {
        let line = line.trim();
        if !line.starts_with('{') {
            return None;
        }
        serde_json::from_str(line).ok()
    }

    /// The event as one protocol line (no trailing newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("events serialize to JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_lines_are_flat() {
        let mut metrics = EpochMetrics::new();
        metrics.insert("val_accuracy".into(), 0.971);
        metrics.insert("lr".into(), 0.001);
        let ev = TrialEvent::Epoch { epoch: 3, metrics };
        let line = ev.to_line();
        assert_eq!(line, r#"{"event":"epoch","epoch":3,"lr":0.001,"val_accuracy":0.971}"#);
        assert_eq!(TrialEvent::parse_line(&line), Some(ev));
    }

    #[test]
    fn log_lines_are_not_events() {
        assert_eq!(TrialEvent::parse_line("epoch 3 done"), None);
        assert_eq!(TrialEvent::parse_line("{not json"), None);
        assert_eq!(TrialEvent::parse_line(r#"{"event":"nope"}"#), None);
        assert!(matches!(
            TrialEvent::parse_line(r#"  {"event":"done","test_accuracy":0.98}"#),
            Some(TrialEvent::Done { .. })
        ));
    }
}
