//! The results folder of a sweep (`results/<name>/`).
//!
//! `journal.jsonl` is the source of truth: every event is written to it
//! before anything else happens (so killing the orchestrator loses nothing),
//! and synced to disk by a group-commit thread right behind. [`Journal::replay`] rebuilds the state
//! of every trial from it (tolerating a last line torn by a crash), and
//! [`write_tables`] renders `leaderboard.csv` and `epochs.csv` from that state,
//! each written to a temporary file and renamed, so a reader never sees half a file.
//! [`Board::load`] reads a folder back for review: the leaderboard as typed
//! rows, ranked by the metric its `spec.yaml` names; [`compare`] sets sweeps
//! side by side.
//!
//! ```
//! use sweep_results::{Entry, Journal};
//! use sweep_core::{TrialId, TrialStatus};
//! let dir = tempfile::tempdir().unwrap();
//! let mut j = Journal::open(&dir.path().join("journal.jsonl")).unwrap();
//! let id = TrialId::from_string("abc123");
//! j.append(&Entry::TrialStarted { trial: id.clone(), attempt: 1, time: 0.0, device: Some("cpu".into()) }).unwrap();
//! let state = Journal::replay(&dir.path().join("journal.jsonl")).unwrap();
//! assert_eq!(state.trials[&id].status, TrialStatus::Running);
//! ```

mod compare;
mod journal;
mod layout;
mod review;
mod spec_metric;
mod tables;
mod text_table;

pub use compare::{BestTrial, Comparison, SharedParam, SharedValue, StatusCounts, SweepSummary, ValueBest, compare};
pub use journal::{Checkpoint, Entry, Handle, Journal, JournalError, Pruning, Replay, TrialRecord, now};
pub use layout::ResultsDir;
pub use review::{
    Board, EpochRows, Epochs, Filter, Op, Query, ReviewError, SortKey, TrialRow, View, ellipsize, parse_status,
};
pub use spec_metric::read_metric;
pub use tables::{LeaderboardRow, TrialInfo, leaderboard_rows, write_atomic, write_tables};
pub use text_table::Table;
