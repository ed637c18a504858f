//! `sweep train`: one trial in the foreground, for a person at a terminal.

use crate::params_flags::ParamFlags;
use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use sweep_core::{EpochMetrics, ParamValue, TrialEvent, format_short};
use sweep_train::{Checkpointing, Outcome, Progress, RunOptions, TrainConfig, config::default_metric, run_trial_with};

/// Train one model now, with a progress bar: from flags, or one trial of a spec.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  sweep train --epochs 3\n  sweep train --optimizer sgd --momentum 0.9 --lr 0.01\n  \
    sweep train --spec sweeps/lr.yaml --trial 4 --epochs 1\n  \
    sweep train --epochs 20 --checkpoint-dir ckpt/   (run again after a stop: it continues)\n\n\
    SIGUSR1 stops training at the next batch (state saved when at an epoch's end); exit status 0."
)]
pub struct TrainArgs {
    /// Take the trial's settings from this spec ...
    #[arg(long, requires = "trial")]
    pub spec: Option<PathBuf>,
    /// ... and this trial of it (ordinal or id); flags override its settings.
    #[arg(long, requires = "spec")]
    pub trial: Option<String>,
    /// Training seed (default: the spec's, or 0).
    #[arg(long = "trial-seed", value_name = "N")]
    pub trial_seed: Option<u64>,
    /// Save a checkpoint in DIR after each epoch, and continue from the one
    /// there when started again with the same settings.
    #[arg(long, value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// With --checkpoint-dir: save after every Nth epoch only.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        requires = "checkpoint_dir",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub checkpoint_every: u32,
    #[command(flatten)]
    pub params: ParamFlags,
}

/// A progress bar over the steps of each epoch (hidden when not a terminal).
struct Bar(ProgressBar);

impl Progress for Bar {
    fn step(&mut self, epoch: usize, step: usize, steps: usize) {
        if step == 1 {
            self.0.reset();
            self.0.set_length(steps as u64);
            self.0.set_message(format!("epoch {epoch}"));
        }
        self.0.set_position(step as u64);
    }
}

fn metric_line(m: &EpochMetrics, keys: &[&str]) -> String {
    keys.iter()
        .filter_map(|k| m.get(*k).map(|v| format!("{k} {}", format_short(*v))))
        .collect::<Vec<_>>()
        .join("  ")
}

pub fn run(args: &TrainArgs) -> Result<u8> {
    let (mut params, mut seed, metric) = match (&args.spec, &args.trial) {
        (Some(path), Some(key)) => {
            let (spec, plan) = sweep_spec::load(path)?;
            if !matches!(spec.trainer, sweep_spec::Trainer::Builtin { .. }) {
                bail!(
                    "{} runs a command trainer; `sweep train` runs the built-in one",
                    path.display()
                );
            }
            let trial = plan.find(key).with_context(|| {
                format!(
                    "{} has no trial `{key}` (ordinals 0..{})",
                    path.display(),
                    plan.trials.len()
                )
            })?;
            (spec.trainer_params(&trial.params), trial.seed, spec.metric.clone())
        }
        _ => (Default::default(), 0, default_metric()),
    };
    params.extend(args.params.0.clone());
    if let Some(s) = args.trial_seed {
        seed = s;
    }
    let cfg = TrainConfig::from_params(&params, seed, metric).map_err(anyhow::Error::msg)?;
    let shown: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    eprintln!(
        "training {} on {} ({}), seed {seed}{}",
        if cfg.model == sweep_train::config::ModelKind::Mlp {
            format!(
                "mlp {}",
                ParamValue::List(cfg.hidden.iter().map(|&h| ParamValue::Int(h as i64)).collect())
            )
        } else {
            "cnn".to_string()
        },
        cfg.dataset,
        cfg.device,
        if shown.is_empty() {
            String::new()
        } else {
            format!(": {}", shown.join(" "))
        }
    );
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg:>9} [{bar:30}] {pos}/{len} steps, {per_sec}, eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let epochs = cfg.epochs;
    let say = {
        let bar = bar.clone();
        move |line: String| {
            if bar.is_hidden() {
                eprintln!("{line}")
            } else {
                bar.println(line)
            }
        }
    };
    let mut on_event = move |event: TrialEvent| match event {
        TrialEvent::Epoch { epoch, metrics } => {
            let line = format!(
                "epoch {epoch}/{epochs}  {}",
                metric_line(
                    &metrics,
                    &[
                        "train_loss",
                        "val_loss",
                        "val_accuracy",
                        "lr",
                        "seconds",
                        "samples_per_sec"
                    ]
                )
            );
            say(line)
        }
        TrialEvent::Resumed { epoch } => say(format!("continuing from the checkpoint after epoch {epoch}")),
        TrialEvent::Checkpoint { epoch, bytes, seconds } => say(format!(
            "checkpoint after epoch {epoch}: {:.1} MB in {:.3} s",
            bytes.unwrap_or(0) as f64 / 1e6,
            seconds.unwrap_or(0.0)
        )),
        TrialEvent::Warning { message } => say(format!("warning: {message}")),
        _ => {}
    };
    let checkpoint = args.checkpoint_dir.clone().map(|dir| Checkpointing {
        dir,
        every: args.checkpoint_every,
    });
    let stop = sweep_train::suspend::on_sigusr1_flag()
        .map_err(|e| eprintln!("warning: cannot handle SIGUSR1 ({e})"))
        .ok();
    let opts = RunOptions {
        checkpoint: checkpoint.as_ref(),
        stop,
    };
    let outcome = run_trial_with(&cfg, &opts, &mut on_event, &mut Bar(bar.clone()));
    bar.finish_and_clear();
    match outcome? {
        Outcome::Completed { metrics } => {
            println!(
                "done: {}",
                metric_line(
                    &metrics,
                    &[
                        "test_accuracy",
                        "test_loss",
                        "best_epoch",
                        &format!("best_{}", cfg.metric.name),
                        "seconds"
                    ]
                )
            );
            Ok(0)
        }
        Outcome::Diverged { epoch, reason } => {
            eprintln!("diverged in epoch {epoch}: {reason}");
            Ok(crate::worker_cmd::EXIT_DIVERGED)
        }
        Outcome::Suspended { epoch } => {
            match &args.checkpoint_dir {
                Some(dir) if epoch > 0 => eprintln!(
                    "suspended (SIGUSR1) with epoch {epoch} saved in {}: run the same command again to continue",
                    dir.display()
                ),
                _ => eprintln!("suspended (SIGUSR1) with no checkpoint saved"),
            }
            Ok(0)
        }
    }
}
