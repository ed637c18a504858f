//! The validated sweep spec.

use crate::distribution::Distribution;
use crate::sampler::tpe::TpeSettings;
use std::path::PathBuf;
use std::time::Duration;
use sweep_core::{Metric, ParamValue, Params, builtin};

/// How the search space becomes trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Every combination of the parameters' values.
    Grid,
    /// `run_cap` seeded draws from the parameters' distributions.
    Random,
    /// Tree-structured Parzen Estimator: each trial's parameters chosen from
    /// the results so far (Optuna's TPE), as the sweep runs.
    Tpe {
        /// Written `bayes` (W&B's word for model-based search) rather than `tpe`.
        bayes: bool,
    },
}

impl Method {
    /// The word a spec writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Grid => "grid",
            Method::Random => "random",
            Method::Tpe { bayes: false } => "tpe",
            Method::Tpe { bayes: true } => "bayes",
        }
    }
}

/// Where trials run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher {
    /// Child processes on this machine.
    Local,
    /// One SLURM job per trial attempt.
    Slurm,
}

impl Launcher {
    /// Every launcher, as `--launcher` and the spec's `launcher:` name them.
    pub const ALL: [Launcher; 2] = [Launcher::Local, Launcher::Slurm];

    /// The launcher a word names.
    pub fn from_word(word: &str) -> Result<Launcher, String> {
        Launcher::ALL.into_iter().find(|l| l.as_str() == word).ok_or_else(|| {
            let words: Vec<&str> = Launcher::ALL.iter().map(|l| l.as_str()).collect();
            format!("unknown launcher `{word}`; expected one of {}", words.join(", "))
        })
    }

    /// The spec's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Launcher::Local => "local",
            Launcher::Slurm => "slurm",
        }
    }
}

/// The `slurm:` block: sbatch options for every trial's job. CPUs and GPUs
/// come from `resources` (`--cpus-per-task`, `--gres=gpu:N`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlurmSettings {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// `--qos`.
    pub qos: Option<String>,
    /// `--time`, as SLURM takes it (`30`, `1:00:00`, `2-00:00:00`).
    pub time: Option<String>,
    /// `--mem` (`4G`).
    pub mem: Option<String>,
    /// `--constraint`.
    pub constraint: Option<String>,
    /// More sbatch arguments, as they are.
    pub extra_args: Vec<String>,
    /// The spec line of each setting (`partition` -> 12), to point sbatch's
    /// complaints back at the spec.
    pub lines: Vec<(String, usize)>,
}

impl SlurmSettings {
    /// The sbatch options these settings give, each with the setting it came from.
    pub fn sbatch_args(&self) -> Vec<(String, &'static str)> {
        let mut out = Vec::new();
        for (flag, key, v) in [
            ("--partition", "partition", &self.partition),
            ("--account", "account", &self.account),
            ("--qos", "qos", &self.qos),
            ("--time", "time", &self.time),
            ("--mem", "mem", &self.mem),
            ("--constraint", "constraint", &self.constraint),
        ] {
            if let Some(v) = v {
                out.push((format!("{flag}={v}"), key));
            }
        }
        out.extend(self.extra_args.iter().map(|a| (a.clone(), "extra_args")));
        out
    }

    /// The spec line of a setting.
    pub fn line_of(&self, key: &str) -> Option<usize> {
        self.lines.iter().find(|(k, _)| k == key).map(|(_, l)| *l)
    }
}

/// What trains a trial.
#[derive(Debug, Clone, PartialEq)]
pub enum Trainer {
    /// The built-in burn trainer, with the settings every trial shares.
    Builtin {
        /// Fixed settings (`model`, `dataset`, `hidden`, ...), checked and canonical.
        settings: Params,
    },
    /// Any program: argv with `${param}` placeholders, run without a shell.
    Command {
        /// The program and its arguments.
        argv: Vec<String>,
        /// Extra environment variables.
        env: Vec<(String, String)>,
    },
    /// A W&B sweep file's `program` (and `command`): run as `wandb agent`
    /// would, the argv from [`crate::wandb::agent_argv`].
    Wandb {
        /// The training script (`train.py`), W&B's `${program}`.
        program: String,
        /// W&B's `command:` list with its macros; `None` is
        /// `${env} ${interpreter} ${program} ${args}`.
        command: Option<Vec<String>>,
        /// The nested parameter groups (`optimizer` for `optimizer.lr`):
        /// `${args}` writes each as one dict-valued argument.
        nested: Vec<String>,
    },
}

/// What each trial needs, and how many may run at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Resources {
    /// CPU slots per trial (0: the trial waits rather than computes).
    pub cpus_per_trial: u32,
    /// GPUs per trial; a fraction shares one GPU (0.25: four trials per GPU).
    pub gpus_per_trial: f64,
    /// At most this many trials at once.
    pub max_concurrent: Option<u32>,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            cpus_per_trial: 1,
            gpus_per_trial: 0.0,
            max_concurrent: None,
        }
    }
}

/// The `early_terminate:` block: the rule that stops a trial whose metric is
/// behind the other trials' at the same epoch. Checked, with defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub enum EarlyTerminate {
    /// W&B's hyperband stopping: at each band (an epoch count) a trial is
    /// stopped when it is outside the best `1/eta` of the trials that reached it.
    Hyperband {
        /// The first band; the bands are `min_iter * eta^k`. Excludes `max_iter`.
        min_iter: Option<u32>,
        /// The bands are `max_iter / eta^i` for `i` in `1..=s`. Needs `s`.
        max_iter: Option<u32>,
        /// How many bands below `max_iter`.
        s: Option<u32>,
        /// The reduction factor: the best `1/eta` go on at each band (> 1; 3).
        eta: f64,
        /// Judge the value at the band (true, the default), or the best value so far.
        strict: bool,
    },
    /// Ray Tune's ASHA (asynchronous successive halving), stop-based: at each
    /// rung a trial is stopped when it is outside the best `1/reduction_factor`
    /// of the values recorded there before it.
    Asha {
        /// The first rung, in epochs (1).
        grace_period: u32,
        /// The rungs are `grace_period * reduction_factor^k`; the best
        /// `1/reduction_factor` go on (> 1; 4).
        reduction_factor: f64,
        /// The most epochs a trial may run: it is stopped on reaching them (100).
        max_t: u32,
        /// How many brackets, each starting one rung later (1).
        brackets: u32,
    },
    /// Optuna's MedianPruner: a trial is stopped when its best value so far is
    /// worse than the median of the completed trials' values at the same epoch.
    Median {
        /// No stopping until this many trials have completed (5).
        n_startup_trials: u32,
        /// No stopping before this epoch (0).
        n_warmup_steps: u32,
        /// Judge every this many epochs, counted from `n_warmup_steps` (1).
        interval_steps: u32,
    },
}

impl EarlyTerminate {
    /// The rule's name, as `type:` writes it.
    pub fn type_name(&self) -> &'static str {
        match self {
            EarlyTerminate::Hyperband { .. } => "hyperband",
            EarlyTerminate::Asha { .. } => "asha",
            EarlyTerminate::Median { .. } => "median",
        }
    }
}

/// One swept parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// Its name.
    pub name: String,
    /// Its search space.
    pub distribution: Distribution,
}

impl Spec {
    /// The argv of a trial of a W&B sweep file, as `wandb agent` would run
    /// it (`None` for other trainers). `python` is `${interpreter}`;
    /// `args_json_file` is where the launcher writes
    /// [`crate::wandb::args_json`] when the command uses `${args_json_file}`.
    pub fn agent_argv(&self, params: &Params, python: &str, args_json_file: &std::path::Path) -> Option<Vec<String>> {
        match &self.trainer {
            Trainer::Wandb {
                program,
                command,
                nested,
            } => Some(crate::wandb::agent_argv(
                command.as_deref(),
                program,
                params,
                python,
                nested,
                args_json_file,
            )),
            _ => None,
        }
    }
}

impl Spec {
    /// One trial of a W&B sweep file as the launcher starts it (`None` for
    /// other trainers): argv, files to write in `trial_dir`, environment.
    /// The sweep's name is `WANDB_SWEEP_ID`, `run_id` is `WANDB_RUN_ID`.
    pub fn agent_job(
        &self,
        params: &Params,
        python: &str,
        trial_dir: &std::path::Path,
        run_id: &str,
    ) -> Option<crate::wandb::AgentJob> {
        match &self.trainer {
            Trainer::Wandb {
                program,
                command,
                nested,
            } => Some(crate::wandb::agent_job(
                command.as_deref(),
                program,
                params,
                python,
                nested,
                trial_dir,
                &self.name,
                run_id,
            )),
            _ => None,
        }
    }
}

/// `max_initial_failures` when a spec does not say: W&B's agent's default.
pub const MAX_INITIAL_FAILURES: u32 = 5;

/// A validated sweep spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The file it came from.
    pub path: PathBuf,
    /// The sweep's name: its results folder is `results/<name>`.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Grid, random or TPE.
    pub method: Method,
    /// What trials are ranked by.
    pub metric: Metric,
    /// Random and TPE: how many trials; grid: at most this many.
    pub run_cap: Option<u64>,
    /// Drives sampling and is every trial's training seed (unless `seed` is swept).
    pub seed: u64,
    /// The swept parameters, in the order the spec lists them.
    pub parameters: Vec<Parameter>,
    /// What trains each trial.
    pub trainer: Trainer,
    /// What each trial needs.
    pub resources: Resources,
    /// Per-trial time limit.
    pub timeout: Option<Duration>,
    /// How many times a failed trial is tried again.
    pub retries: u32,
    /// The sweep starts no new trial once this many trials have ended in
    /// one run and every one of them failed (0: never). W&B's agent stops
    /// the same way (`WANDB_AGENT_MAX_INITIAL_FAILURES`, default 5).
    pub max_initial_failures: u32,
    /// Where trials run.
    pub launcher: Launcher,
    /// sbatch options, for the SLURM launcher.
    pub slurm: SlurmSettings,
    /// The early-stopping rule, if any.
    pub early_terminate: Option<EarlyTerminate>,
    /// TPE's settings (the `tpe:` block), for `method: tpe`.
    pub tpe: TpeSettings,
    /// W&B's `project`, kept to show; nothing is sent anywhere.
    pub project: Option<String>,
    /// W&B's `entity`, kept to show.
    pub entity: Option<String>,
    /// `metric.target`: the sweep may stop once a trial's metric reaches it
    /// (at or below it when minimizing, at or above when maximizing).
    pub metric_target: Option<f64>,
    /// Things accepted but worth saying (W&B's old exponent-bounded
    /// distributions), each with the key path it is about.
    pub warnings: Vec<(String, String)>,
    /// Checkpoints and continuations (the `checkpoint:` block).
    pub checkpoint: CheckpointSettings,
}

/// How trials keep checkpoints and are continued from them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckpointSettings {
    /// Checkpoint after every N-th epoch; 0: no checkpoints
    /// (`checkpoint: false`).
    pub every: u32,
    /// How many times one trial may be continued in a new attempt (after a
    /// time limit, a preemption, a node failure or a suspension).
    pub max_continuations: u32,
    /// How long before a SLURM job's time limit the trial gets SIGUSR1 to
    /// save and stop (`--signal=B:USR1@secs`).
    pub signal_before: Duration,
}

impl Default for CheckpointSettings {
    fn default() -> CheckpointSettings {
        CheckpointSettings {
            every: 1,
            max_continuations: 20,
            signal_before: Duration::from_secs(120),
        }
    }
}

impl CheckpointSettings {
    /// Whether trials keep checkpoints.
    pub fn enabled(&self) -> bool {
        self.every > 0
    }
}

impl Spec {
    /// The full configuration the trainer gets for a trial: the trainer's
    /// fixed settings overlaid with the trial's parameters.
    pub fn trainer_params(&self, trial_params: &Params) -> Params {
        let mut all = match &self.trainer {
            Trainer::Builtin { settings } => settings.clone(),
            Trainer::Command { .. } | Trainer::Wandb { .. } => Params::new(),
        };
        all.extend(trial_params.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    /// How many epochs a trial with these parameters trains, when known (the
    /// built-in trainer always; a command trainer when `epochs` is a parameter).
    pub fn epochs_of(&self, trial_params: &Params) -> Option<u64> {
        match &self.trainer {
            Trainer::Builtin { .. } => builtin::value_or_default(&self.trainer_params(trial_params), "epochs")
                .and_then(|v| v.as_i64())
                .map(|e| e as u64),
            Trainer::Command { .. } | Trainer::Wandb { .. } => match trial_params.get("epochs") {
                Some(ParamValue::Int(e)) if *e >= 0 => Some(*e as u64),
                _ => None,
            },
        }
    }
}
