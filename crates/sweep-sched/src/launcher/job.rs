//! What an attempt runs, whatever the launcher: the argv (`sweep worker
//! --trial trial.json`, or the spec's `command:` with its placeholders
//! filled in), the environment, the trial's folder and logs.

use super::Job;
use crate::dispatcher::Attempt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use sweep_core::{ParamValue, Params, TrialFile, TrialId};
use sweep_results::ResultsDir;
use sweep_spec::{Spec, Trainer};

/// Everything needed to write an attempt's files and describe its process;
/// [`JobPlan::prepare`] does the (blocking) file work.
#[derive(Debug, Clone)]
pub struct JobPlan {
    /// The sweep's spec.
    pub spec: Arc<Spec>,
    /// The attempt.
    pub attempt: Attempt,
    /// The results folder.
    pub dir: ResultsDir,
    /// The program that runs built-in trials (`sweep` itself).
    pub worker_exe: PathBuf,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// The pool's GPUs, as `CUDA_VISIBLE_DEVICES` entries.
    pub gpus: Vec<String>,
    /// The launcher gives trials their GPUs (SLURM's --gres and its
    /// CUDA_VISIBLE_DEVICES) instead of this machine's pool.
    pub launcher_gpus: bool,
}

impl JobPlan {
    /// Creates the trial's folder (and `trial.json` for the built-in
    /// trainer) and describes the process.
    pub fn prepare(&self) -> std::io::Result<Job> {
        let spec = &self.spec;
        let trial = &self.attempt.trial;
        let tdir = self.dir.trial_dir(&trial.id);
        std::fs::create_dir_all(&tdir)?;
        let alloc = &self.attempt.alloc;
        let visible: Vec<&str> = alloc.gpus.iter().map(|&(i, _)| self.gpus[i].as_str()).collect();
        let slurm_gpus = self.launcher_gpus && spec.resources.gpus_per_trial > 0.0;
        let threads = alloc.cpus.max(1).to_string();
        let params_json = serde_json::to_string(&trial.params).expect("params serialize");
        let mut env = vec![
            ("SWEEP_TRIAL_ID".to_string(), trial.id.to_string()),
            ("SWEEP_TRIAL_DIR".to_string(), tdir.display().to_string()),
            ("SWEEP_PARAMS_JSON".to_string(), params_json),
            ("SWEEP_SEED".to_string(), trial.seed.to_string()),
            ("SWEEP_ATTEMPT".to_string(), self.attempt.attempt.to_string()),
            ("RAYON_NUM_THREADS".to_string(), threads.clone()),
            ("OMP_NUM_THREADS".to_string(), threads.clone()),
            ("MKL_NUM_THREADS".to_string(), threads),
        ];
        if spec.checkpoint.enabled() {
            // The same folder for every attempt of the trial: a new attempt
            // continues from what the last one saved.
            env.push((
                "SWEEP_CHECKPOINT_DIR".to_string(),
                self.dir.checkpoint_dir(&trial.id).display().to_string(),
            ));
            env.push(("SWEEP_CHECKPOINT_EVERY".to_string(), spec.checkpoint.every.to_string()));
            if let Some(epoch) = self.attempt.resume_epoch {
                env.push(("SWEEP_RESUME_EPOCH".to_string(), epoch.to_string()));
            }
        }
        if !slurm_gpus {
            // Trials without GPUs see none: no accidental sharing.
            env.push(("CUDA_VISIBLE_DEVICES".to_string(), visible.join(",")));
        }
        let argv = match &spec.trainer {
            Trainer::Builtin { .. } => {
                let mut params = spec.trainer_params(&trial.params);
                if slurm_gpus || !visible.is_empty() {
                    // The trial's GPUs are cuda:0.. inside its CUDA_VISIBLE_DEVICES.
                    params.insert("device".into(), ParamValue::Str("cuda".into()));
                }
                let file = TrialFile {
                    id: trial.id.clone(),
                    ordinal: trial.ordinal,
                    seed: trial.seed,
                    params,
                    metric: spec.metric.clone(),
                };
                let path = self.dir.trial_file(&trial.id);
                // Derived from the journal: rewritten by every attempt, so
                // no sync is needed.
                std::fs::write(
                    &path,
                    serde_json::to_string_pretty(&file).expect("serializes").as_bytes(),
                )?;
                vec![
                    self.worker_exe.display().to_string(),
                    "worker".into(),
                    "--trial".into(),
                    path.display().to_string(),
                ]
            }
            Trainer::Wandb { .. } => {
                let job = spec
                    .agent_job(&trial.params, python(), &tdir, trial.id.as_str())
                    .expect("a W&B trainer");
                for (path, text) in &job.files {
                    std::fs::write(path, text)?;
                }
                env.extend(job.env);
                env.extend(wandb_env(&self.dir, spec, &tdir)?);
                job.argv
            }
            Trainer::Command { argv, env: extra } => {
                env.extend(extra.iter().cloned());
                substitute(argv, &trial.params, &trial.id, &tdir.display().to_string(), trial.seed)
            }
        };
        Ok(Job {
            trial: trial.id.clone(),
            attempt: self.attempt.attempt,
            argv,
            env,
            stdout_log: self.dir.stdout_log(&trial.id),
            stderr_log: self.dir.stderr_log(&trial.id),
            trial_dir: tdir,
            grace: self.grace,
            timeout: spec.timeout,
        })
    }
}

/// The shim that makes `wandb.log()` values protocol lines
/// (`wandb_shim/sitecustomize.py`; README, "wandb.log() reaches sweep").
const WANDB_SHIM: &str = include_str!("wandb_shim/sitecustomize.py");

/// The environment of a W&B trial besides the agent's: offline, its run in
/// the trial's folder, and the shim first on `PYTHONPATH` (written once
/// into the results folder) unless `SWEEP_WANDB_SHIM=0`.
fn wandb_env(dir: &ResultsDir, spec: &Spec, tdir: &std::path::Path) -> std::io::Result<Vec<(String, String)>> {
    let mut env = vec![("SWEEP_WANDB_METRIC".to_string(), spec.metric.name.clone())];
    let mode = match std::env::var("WANDB_MODE") {
        Ok(m) if m == "disabled" => m,
        _ => "offline".to_string(),
    };
    env.push(("WANDB_MODE".to_string(), mode));
    env.push((
        "WANDB_DIR".to_string(),
        std::path::absolute(tdir)?.display().to_string(),
    ));
    let off = std::env::var("SWEEP_WANDB_SHIM")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "0" | "off" | "false" | "no"));
    if !off {
        let shim = std::path::absolute(dir.root().join("wandb-shim"))?;
        write_shim(&shim)?;
        let path = match std::env::var("PYTHONPATH") {
            Ok(p) if !p.is_empty() => format!("{}:{p}", shim.display()),
            _ => shim.display().to_string(),
        };
        env.push(("PYTHONPATH".to_string(), path));
    }
    Ok(env)
}

/// Writes `sitecustomize.py` into `shim` unless this process already has
/// and it is still there (a folder moved aside by `--restart` is not): it
/// is the same for every trial, so it is read and compared once per folder,
/// not per trial. Under a lock: trials are prepared on several threads at
/// once. A folder from an older sweep gets the current shim.
fn write_shim(shim: &std::path::Path) -> std::io::Result<()> {
    static WRITTEN: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut written = WRITTEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let file = shim.join("sitecustomize.py");
    let known = written.iter().any(|p| p == shim);
    if known && file.is_file() {
        return Ok(());
    }
    if std::fs::read_to_string(&file).ok().as_deref() != Some(WANDB_SHIM) {
        std::fs::create_dir_all(shim)?;
        let tmp = shim.join(format!(".sitecustomize.py.{}", std::process::id()));
        std::fs::write(&tmp, WANDB_SHIM)?;
        std::fs::rename(&tmp, &file)?;
    }
    if !known {
        written.push(shim.to_path_buf());
    }
    Ok(())
}

/// The interpreter of W&B's `${interpreter}`: `python`, or `python3` where
/// there is no `python` on PATH (as on Debian), decided once.
fn python() -> &'static str {
    static PYTHON: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| {
        let on_path = |name: &str| {
            std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        };
        if on_path("python") || !on_path("python3") {
            "python"
        } else {
            tracing::info!("no `python` on PATH: W&B's ${{interpreter}} runs python3");
            "python3"
        }
    })
}

/// Why `program` cannot be started, if it cannot: as `execvp` finds it, a
/// path (it has a `/`; relative to the working directory) or a name looked up
/// on `path` (the orchestrator's PATH when `None`).
pub(crate) fn resolve(program: &str, path: Option<&std::ffi::OsStr>) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let executable =
        |p: &std::path::Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.contains('/') {
        let p = std::path::Path::new(program);
        return match std::fs::metadata(p) {
            Err(e) => Err(format!("`{program}` cannot be started: {e}")),
            Ok(m) if m.is_dir() => Err(format!("`{program}` is a directory, not a program")),
            Ok(m) if m.permissions().mode() & 0o111 == 0 => Err(format!("`{program}` is not executable")),
            Ok(_) => Ok(()),
        };
    }
    let env_path = std::env::var_os("PATH");
    let path = path.or(env_path.as_deref());
    if program.is_empty() || !path.is_some_and(|path| std::env::split_paths(path).any(|d| executable(&d.join(program))))
    {
        return Err(format!("no program `{program}` on PATH"));
    }
    Ok(())
}

/// The problem with a spec whose every attempt would fail to start on this
/// machine, found before anything runs: a `command:` program that is not
/// there or not executable, or a W&B `program` file that does not exist. A
/// program with a `${...}` placeholder is only known per trial.
pub(crate) fn missing_program(spec: &Spec) -> Option<sweep_spec::Diagnostic> {
    let diagnostic = |path: &str, message: String, help: &str| {
        Some(
            sweep_spec::Diagnostic {
                path: path.into(),
                pos: None,
                message,
                help: None,
            }
            .with_help(help),
        )
    };
    match &spec.trainer {
        Trainer::Command { argv, env } => {
            let program = argv.first()?;
            if program.contains("${") {
                return None;
            }
            let path = env
                .iter()
                .rev()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| std::ffi::OsStr::new(v));
            let why = resolve(program, path).err()?;
            let help = if program.contains('/') {
                "trials run in the directory `sweep run` runs in; give the program's path from there, make a script executable (chmod +x), or name its interpreter first (`[python, train.py]`)"
            } else {
                "install it, give its path (`/usr/bin/python3`, `./train.sh`), or set PATH in the trainer's `env:`"
            };
            diagnostic("trainer.command[0]", why, help)
        }
        Trainer::Wandb { program, command, .. } => {
            let runs_it = command
                .as_ref()
                .is_none_or(|c| c.iter().any(|w| w.contains("${program}")));
            if !runs_it || std::path::Path::new(program).is_file() {
                return None;
            }
            diagnostic(
                "program",
                format!("no file `{program}` here (W&B's agent runs it from the directory it runs in)"),
                "run `sweep run` in the directory that holds the training script, or give its path from there",
            )
        }
        Trainer::Builtin { .. } => None,
    }
}

/// The argv words of a `command:` trainer, placeholders filled in.
pub fn substitute(argv: &[String], params: &Params, trial_id: &TrialId, trial_dir: &str, seed: u64) -> Vec<String> {
    argv.iter()
        .map(|arg| {
            let mut out = String::new();
            let mut rest = arg.as_str();
            while let Some(i) = rest.find("${") {
                out.push_str(&rest[..i]);
                let after = &rest[i + 2..];
                let Some(end) = after.find('}') else {
                    out.push_str(&rest[i..]);
                    rest = "";
                    break;
                };
                let name = &after[..end];
                let value = match (params.get(name), name) {
                    (Some(v), _) => v.to_arg(),
                    (None, "trial_id") => trial_id.to_string(),
                    (None, "trial_dir") => trial_dir.to_string(),
                    (None, "seed") => seed.to_string(),
                    (None, _) => format!("${{{name}}}"),
                };
                out.push_str(&value);
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_substituted_without_a_shell() {
        let params: Params = [
            ("lr".to_string(), ParamValue::Float(1e-3)),
            ("name".to_string(), ParamValue::Str("a b".into())),
        ]
        .into_iter()
        .collect();
        let id = TrialId::from_string("abc");
        let argv: Vec<String> = [
            "python3",
            "t.py",
            "--lr=${lr}",
            "${name}",
            "${trial_dir}/out",
            "${seed}",
            "$HOME",
            "${trial_id}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            substitute(&argv, &params, &id, "/r/trials/abc", 7),
            [
                "python3",
                "t.py",
                "--lr=0.001",
                "a b",
                "/r/trials/abc/out",
                "7",
                "$HOME",
                "abc"
            ]
        );
    }
}
