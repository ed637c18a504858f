//! `sweep worker`: one trial, speaking the worker protocol on stdout.
//!
//! stdout carries only protocol events, one JSON object per line, flushed as
//! they happen; anything for people goes to stderr. Exit status: 0 when the
//! trial completed, 3 when it diverged, 1 when it could not train (an `error`
//! event says why), 2 when the trial file is unusable.

use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use sweep_core::{TrialEvent, TrialFile};
use sweep_train::{Outcome, TrainConfig, run_trial};

/// Exit status of a worker whose trial diverged.
pub const EXIT_DIVERGED: u8 = 3;

/// Train one trial for the scheduler: JSON events on stdout (see the protocol).
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The trial to run: trial.json with id, seed, params and metric.
    #[arg(long)]
    pub trial: PathBuf,
}

/// Prints one event line and flushes, so the scheduler sees it at once.
pub fn emit(event: &TrialEvent) {
    let mut out = std::io::stdout().lock();
    // A scheduler that went away is no reason to stop training: ignore errors.
    let _ = writeln!(out, "{}", event.to_line());
    let _ = out.flush();
}

pub fn run(args: &WorkerArgs) -> ExitCode {
    let fail = |code: u8, message: String| {
        eprintln!("error: {message}");
        emit(&TrialEvent::Error { message });
        ExitCode::from(code)
    };
    let trial: TrialFile = match std::fs::read_to_string(&args.trial)
        .with_context(|| format!("cannot read {}", args.trial.display()))
        .and_then(|text| {
            serde_json::from_str(&text).with_context(|| format!("{} is not a trial file", args.trial.display()))
        }) {
        Ok(t) => t,
        Err(e) => return fail(2, format!("{e:#}")),
    };
    let cfg = match TrainConfig::from_params(&trial.params, trial.seed, trial.metric.clone()) {
        Ok(c) => c,
        Err(e) => return fail(2, format!("trial {}: {e}", trial.id)),
    };
    eprintln!(
        "trial {} (#{}) on {}: {}",
        trial.id,
        trial.ordinal,
        cfg.device,
        serde_json::to_string(&trial.params).unwrap_or_default()
    );
    match run_trial(&cfg, &mut |event| emit(&event), &mut ()) {
        Ok(Outcome::Completed { metrics }) => {
            emit(&TrialEvent::Done { metrics });
            ExitCode::SUCCESS
        }
        Ok(Outcome::Diverged { epoch, reason }) => {
            eprintln!("diverged in epoch {epoch}: {reason}");
            emit(&TrialEvent::Diverged { epoch, reason });
            ExitCode::from(EXIT_DIVERGED)
        }
        Err(e) => fail(1, e.to_string()),
    }
}
