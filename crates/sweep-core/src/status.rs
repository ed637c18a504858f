use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a trial stands, and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    /// Planned, not started.
    Pending,
    /// A worker is running it.
    Running,
    /// It ran to the end and reported its metrics.
    Completed,
    /// The worker exited with an error or was killed by a signal.
    Failed,
    /// It ran past the spec's `timeout` and was stopped.
    TimedOut,
    /// Its loss became NaN or infinite; training stopped at once.
    Diverged,
    /// The sweep was interrupted (Ctrl-C) while it ran; a resume runs it again.
    Interrupted,
    /// Stopped early by the sweep's early-termination rule (`early_terminate`):
    /// its metric was behind the others' at the same epoch. Final.
    Pruned,
}

impl TrialStatus {
    /// Every status, in the order tables list them.
    pub const ALL: [TrialStatus; 8] = [
        TrialStatus::Pending,
        TrialStatus::Running,
        TrialStatus::Completed,
        TrialStatus::Failed,
        TrialStatus::TimedOut,
        TrialStatus::Diverged,
        TrialStatus::Interrupted,
        TrialStatus::Pruned,
    ];

    /// True for the statuses the leaderboard ranks by their metric: trials
    /// that trained to the end, and trials stopped early for being behind.
    pub fn is_ranked(self) -> bool {
        matches!(self, TrialStatus::Completed | TrialStatus::Pruned)
    }

    /// The word used in journals, CSVs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialStatus::Pending => "pending",
            TrialStatus::Running => "running",
            TrialStatus::Completed => "completed",
            TrialStatus::Failed => "failed",
            TrialStatus::TimedOut => "timed_out",
            TrialStatus::Diverged => "diverged",
            TrialStatus::Interrupted => "interrupted",
            TrialStatus::Pruned => "pruned",
        }
    }

    /// True for the statuses a resumed sweep keeps instead of running again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TrialStatus::Completed
                | TrialStatus::Failed
                | TrialStatus::TimedOut
                | TrialStatus::Diverged
                | TrialStatus::Pruned
        )
    }
}

impl fmt::Display for TrialStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TrialStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TrialStatus::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            let words: Vec<_> = TrialStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown status `{s}`; expected one of {}", words.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for st in TrialStatus::ALL {
            assert_eq!(st.as_str().parse::<TrialStatus>().unwrap(), st);
            let json = serde_json::to_string(&st).unwrap();
            assert_eq!(json, format!("\"{}\"", st.as_str()));
        }
        assert!("done".parse::<TrialStatus>().unwrap_err().contains("completed"));
    }
}
