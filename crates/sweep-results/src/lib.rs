//! The results folder of a sweep (`results/<name>/`).
//!
//! `journal.jsonl` is the source of truth: every event is written to it
//! before anything else happens (so killing the orchestrator loses nothing),
//! and synced to disk by a group-commit thread right behind. [`Journal::replay`] rebuilds the state
//! of every trial from it (tolerating a last line torn by a crash), and
//! [`write_tables`] renders `leaderboard.csv` and `epochs.csv` from that state,
//! each written to a temporary file and renamed, so a reader never sees half a file.
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

mod journal;
mod layout;
mod review;
mod tables;
mod text_table;

pub use journal::{Entry, Handle, Journal, JournalError, Pruning, Replay, TrialRecord, now};
pub use layout::ResultsDir;
pub use review::{Board, Epochs, Filter, Op, Query, ReviewError, SortKey, View, ellipsize};
pub use tables::{LeaderboardRow, TrialInfo, leaderboard_rows, write_atomic, write_tables};
pub use text_table::Table;
