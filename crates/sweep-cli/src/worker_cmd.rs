//! `sweep worker`: one trial, speaking the worker protocol on stdout.
//!
//! stdout carries only protocol events, one JSON object per line, flushed as
//! they happen; anything for people goes to stderr. Exit status: 0 when the
//! trial completed or was suspended (SIGUSR1), 3 when it diverged, 1 when it
//! could not train (an `error` event says why), 2 when the trial file is unusable.
//!
//! Checkpoints: with `SWEEP_CHECKPOINT_DIR` set, the trial saves its state
//! there after every `SWEEP_CHECKPOINT_EVERY`th epoch (default 1) and
//! continues from the last checkpoint found there when it starts
//! (`resumed`, then the saved epochs reported again). SIGUSR1 stops it at
//! the next batch with a `suspended` event (the last saved epoch, 0 with no
//! checkpoints) and exit status 0.

use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use sweep_core::{TrialEvent, TrialFile};
use sweep_train::{Checkpointing, Outcome, RunOptions, TrainConfig, run_trial_with};

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
/// Warnings also go to stderr, for a person reading the trial's log.
pub fn emit(event: &TrialEvent) {
    if let TrialEvent::Warning { message } = event {
        eprintln!("warning: {message}");
    }
    let mut out = std::io::stdout().lock();
    // A scheduler that went away is no reason to stop training: ignore errors.
    let _ = writeln!(out, "{}", event.to_line());
    let _ = out.flush();
}

/// The checkpoint settings the orchestrator passes in the environment:
/// `SWEEP_CHECKPOINT_DIR` (unset or empty: no checkpoints) and
/// `SWEEP_CHECKPOINT_EVERY` (default 1). A bad `EVERY` is warned about and read as 1.
pub fn checkpointing_from_env() -> (Option<Checkpointing>, Option<String>) {
    let Some(dir) = std::env::var_os("SWEEP_CHECKPOINT_DIR").filter(|d| !d.is_empty()) else {
        return (None, None);
    };
    let (every, warning) = match std::env::var("SWEEP_CHECKPOINT_EVERY") {
        Err(std::env::VarError::NotPresent) => (1, None),
        Ok(v) if v.trim().parse::<u32>().is_ok_and(|n| n >= 1) => (v.trim().parse().expect("checked"), None),
        Ok(v) => (
            1,
            Some(format!(
                "SWEEP_CHECKPOINT_EVERY=`{v}` is not a whole number >= 1; checkpointing every epoch"
            )),
        ),
        Err(e) => (
            1,
            Some(format!("SWEEP_CHECKPOINT_EVERY: {e}; checkpointing every epoch")),
        ),
    };
    (
        Some(Checkpointing {
            dir: PathBuf::from(dir),
            every,
        }),
        warning,
    )
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
    let (checkpoint, warning) = checkpointing_from_env();
    if let Some(message) = warning {
        emit(&TrialEvent::Warning { message });
    }
    // SLURM's warning before a time limit: stop at the next batch, state saved.
    let stop = match sweep_train::suspend::on_sigusr1_flag() {
        Ok(flag) => Some(flag),
        Err(e) => {
            emit(&TrialEvent::Warning {
                message: format!("cannot handle SIGUSR1 ({e}): a time-limit warning will end the trial unsaved"),
            });
            None
        }
    };
    let opts = RunOptions {
        checkpoint: checkpoint.as_ref(),
        stop,
    };
    match run_trial_with(&cfg, &opts, &mut |event| emit(&event), &mut ()) {
        Ok(Outcome::Completed { metrics }) => {
            emit(&TrialEvent::Done { metrics });
            ExitCode::SUCCESS
        }
        Ok(Outcome::Suspended { epoch }) => {
            eprintln!("suspended on SIGUSR1; the last checkpoint holds epoch {epoch}");
            emit(&TrialEvent::Suspended { epoch });
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
