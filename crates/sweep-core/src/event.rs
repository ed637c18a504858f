use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Named metric values of one epoch (`train_loss`, `val_accuracy`, `lr`, ...).
pub type EpochMetrics = BTreeMap<String, f64>;

/// One line of the worker protocol: what a trainer prints on stdout, one JSON
/// object per line (`{"event":"epoch","epoch":3,"val_accuracy":0.97,...}`).
///
/// Lines that do not start like an event are the trainer's own log lines.
/// Metric values may be Python's `NaN`, `Infinity` and `-Infinity` (see
/// [`crate::metrics_json`]).
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
        #[serde(flatten, with = "crate::metrics_json")]
        metrics: EpochMetrics,
    },
    /// Training finished; final metrics (`test_accuracy`, `best_epoch`, ...).
    Done {
        /// The final metrics.
        #[serde(flatten, with = "crate::metrics_json")]
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
    /// A checkpoint of the state after `epoch` is saved in
    /// `SWEEP_CHECKPOINT_DIR`: an attempt started again continues from it.
    Checkpoint {
        /// The last epoch the checkpoint holds.
        epoch: u32,
        /// Its size on disk, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bytes: Option<u64>,
        /// Seconds it took to write, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seconds: Option<f64>,
    },
    /// This attempt continues from a checkpoint taken after `epoch`: epochs
    /// up to it are not trained again (those it does not report again are
    /// taken from earlier attempts).
    Resumed {
        /// The checkpoint's last epoch.
        epoch: u32,
    },
    /// The trainer saved its state and stops before finishing (SLURM's
    /// warning signal before a time limit): the trial is continued by a new
    /// attempt, which does not count against `retries`.
    Suspended {
        /// The last epoch its checkpoint holds.
        epoch: u32,
    },
    /// Something the person should know that does not stop the trial
    /// (a damaged checkpoint refused, a fallback taken).
    Warning {
        /// What happened, for a person.
        message: String,
    },
}

/// What one stdout line of a trainer is, for the worker protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedLine {
    /// A protocol event.
    Event(TrialEvent),
    /// The trainer's own log line (not a JSON object with an `event` key).
    NotAnEvent,
    /// A line that looks like an event (a JSON object with an `event` key,
    /// or text starting `{"event":`) but is not one; why, from the parser.
    Malformed(String),
}

impl ParsedLine {
    /// The event, if the line was one.
    pub fn event(self) -> Option<TrialEvent> {
        match self {
            ParsedLine::Event(e) => Some(e),
            _ => None,
        }
    }
}

/// True when `line` (trimmed) starts `{"event":`, spaces allowed: the start
/// of a protocol line, even when the rest is cut off.
pub fn starts_like_event(line: &str) -> bool {
    line.trim_start()
        .strip_prefix('{')
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix("\"event\""))
        .is_some_and(|r| r.trim_start().starts_with(':'))
}

impl TrialEvent {
    /// Parses one stdout line: an event, a log line, or a line that looks
    /// like an event but is not one (with the parser's reason).
    pub fn parse_line(line: &str) -> ParsedLine {
        let line = line.trim();
        if !line.starts_with('{') {
            return ParsedLine::NotAnEvent;
        }
        let quoted = crate::metrics_json::quote_bare(line);
        match serde_json::from_str::<TrialEvent>(&quoted) {
            Ok(event) => ParsedLine::Event(event),
            Err(e) => {
                let has_event_key = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&quoted)
                    .is_ok_and(|m| m.contains_key("event"));
                if has_event_key || starts_like_event(line) {
                    ParsedLine::Malformed(e.to_string())
                } else {
                    ParsedLine::NotAnEvent
                }
            }
        }
    }

    /// The event as one protocol line (no trailing newline). Non-finite
    /// metric values are written as the strings `"NaN"`, `"Infinity"`,
    /// `"-Infinity"`.
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
        assert_eq!(TrialEvent::parse_line(&line), ParsedLine::Event(ev));
    }

    #[test]
    fn log_lines_are_not_events() {
        assert_eq!(TrialEvent::parse_line("epoch 3 done"), ParsedLine::NotAnEvent);
        assert_eq!(TrialEvent::parse_line("{not json"), ParsedLine::NotAnEvent);
        assert_eq!(
            TrialEvent::parse_line(r#"{"step": 3, "loss": NaN}"#),
            ParsedLine::NotAnEvent,
            "a JSON log line without an event key"
        );
        assert!(matches!(
            TrialEvent::parse_line(r#"  {"event":"done","test_accuracy":0.98}"#),
            ParsedLine::Event(TrialEvent::Done { .. })
        ));
    }

    fn malformed(line: &str) -> String {
        match TrialEvent::parse_line(line) {
            ParsedLine::Malformed(why) => why,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn lines_that_look_like_events_but_are_not_say_why() {
        assert!(malformed(r#"{"event":"nope"}"#).contains("unknown variant `nope`"));
        assert!(malformed(r#"{"event": "epoch", "loss": 0.5}"#).contains("missing field `epoch`"));
        assert!(malformed(r#"{"event":"epoch","epoch":2,"loss":"fast"}"#).contains("NaN, Infinity"));
        assert!(malformed(r#"{ "event" : "epoch", "epoch": 2, "loss": 0.5"#).contains("EOF"));
        // The event key need not come first.
        assert!(malformed(r#"{"epoch": 2, "loss": 0.5, "event": "epok"}"#).contains("epok"));
        assert_eq!(
            TrialEvent::parse_line(r#"{"epoch": 2, "loss": 0.5, "event": "epoch"}"#)
                .event()
                .map(|e| matches!(e, TrialEvent::Epoch { epoch: 2, .. })),
            Some(true)
        );
    }

    fn epoch_metrics(line: &str) -> EpochMetrics {
        match TrialEvent::parse_line(line) {
            ParsedLine::Event(TrialEvent::Epoch { metrics, .. }) => metrics,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn python_non_finite_numbers_are_read() {
        // What json.dumps writes for float('nan'), float('inf'), -float('inf').
        let m = epoch_metrics(
            r#"{"event": "epoch", "epoch": 2, "loss": NaN, "grad": Infinity, "lo": -Infinity, "lr": 0.1}"#,
        );
        assert!(m["loss"].is_nan());
        assert_eq!(m["grad"], f64::INFINITY);
        assert_eq!(m["lo"], f64::NEG_INFINITY);
        assert_eq!(m["lr"], 0.1);
        // Inside strings the words are left alone.
        assert_eq!(
            TrialEvent::parse_line(r#"{"event": "diverged", "epoch": 2, "reason": "loss is NaN, grad -Infinity"}"#),
            ParsedLine::Event(TrialEvent::Diverged {
                epoch: 2,
                reason: "loss is NaN, grad -Infinity".into()
            })
        );
        assert_eq!(
            TrialEvent::parse_line(r#"{"event": "error", "message": "Infinity"}"#),
            ParsedLine::Event(TrialEvent::Error {
                message: "Infinity".into()
            })
        );
        // A bare word where a count belongs is still refused.
        let why = malformed(r#"{"event": "epoch", "epoch": NaN, "loss": 1}"#);
        assert!(why.contains("expected u32"), "{why}");
    }

    #[test]
    fn checkpoint_events_read_with_and_without_their_costs() {
        assert_eq!(
            TrialEvent::parse_line(r#"{"event": "checkpoint", "epoch": 3}"#),
            ParsedLine::Event(TrialEvent::Checkpoint {
                epoch: 3,
                bytes: None,
                seconds: None
            })
        );
        let ev = TrialEvent::Checkpoint {
            epoch: 4,
            bytes: Some(1024),
            seconds: Some(0.25),
        };
        assert_eq!(
            ev.to_line(),
            r#"{"event":"checkpoint","epoch":4,"bytes":1024,"seconds":0.25}"#
        );
        assert_eq!(TrialEvent::parse_line(&ev.to_line()), ParsedLine::Event(ev));
        assert_eq!(
            TrialEvent::parse_line(r#"{"event":"resumed","epoch":3}"#),
            ParsedLine::Event(TrialEvent::Resumed { epoch: 3 })
        );
        assert_eq!(
            TrialEvent::parse_line(r#"{"event":"suspended","epoch":2}"#),
            ParsedLine::Event(TrialEvent::Suspended { epoch: 2 })
        );
        assert!(malformed(r#"{"event":"resumed"}"#).contains("missing field `epoch`"));
    }

    #[test]
    fn non_finite_values_are_written_so_they_read_back() {
        let mut metrics = EpochMetrics::new();
        metrics.insert("loss".into(), f64::NAN);
        metrics.insert("grad".into(), f64::NEG_INFINITY);
        let line = TrialEvent::Epoch { epoch: 1, metrics }.to_line();
        assert_eq!(line, r#"{"event":"epoch","epoch":1,"grad":"-Infinity","loss":"NaN"}"#);
        let back = epoch_metrics(&line);
        assert!(back["loss"].is_nan());
        assert_eq!(back["grad"], f64::NEG_INFINITY);
    }
}
