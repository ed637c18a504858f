//! The sweep spec: YAML in, validated trials out.
//!
//! [`load`] reads a spec file, validates it (every problem reported with its
//! file, line, column and key path) and [`plan()`] expands it into [`Trial`]s
//! with stable ids: a grid's cartesian product, or seeded random draws.
//!
//! ```
//! use sweep_spec::{parse, plan};
//! let spec = parse(
//!     "method: grid\nparameters:\n  lr: {values: [1e-3, 1e-2]}\n  optimizer: {values: [adam, sgd]}\n",
//!     "example.yaml".as_ref(),
//! ).unwrap();
//! let plan = plan(&spec).unwrap();
//! assert_eq!(plan.trials.len(), 4);
//! assert_eq!(plan.trials[1].params["optimizer"].to_string(), "sgd");
//! ```

pub mod distribution;
pub mod duration;
mod error;
mod locate;
mod parse;
mod plan;
/// Samplers that choose the next trial from the ones so far (TPE).
pub mod sampler;
mod spec;
mod suggest;
/// W&B sweep files: the agent's command macros and argument formatting.
pub mod wandb;

pub use distribution::Distribution;
pub use error::{Diagnostic, Pos, SpecError};
pub use locate::Positions;
pub use parse::{COMMAND_PLACEHOLDERS, parse, placeholders};
pub use plan::{GRID_LIMIT, Plan, PlanError, Trial, distinct_points, ending, plan};
pub use spec::{
    CheckpointSettings, EarlyTerminate, Launcher, Method, Parameter, Resources, SlurmSettings, Spec, Trainer,
};
pub use suggest::did_you_mean;

use std::path::Path;

/// Reads and validates a spec file, and checks that its sampler can start
/// (a grid within its limit, a random search with enough distinct trials),
/// without listing its trials: what `sweep run` needs.
pub fn load_spec(path: &Path) -> Result<Spec, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let spec = parse(&text, path)?;
    match sampler::Trials::new(&spec) {
        Ok(_) => Ok(spec),
        Err(e) => Err(plan_error(path, text, e)),
    }
}

fn plan_error(path: &Path, text: String, e: PlanError) -> SpecError {
    let pos = Positions::of(&text).key(e.path);
    SpecError::Invalid {
        path: path.to_path_buf(),
        source_text: text,
        diagnostics: vec![Diagnostic {
            path: e.path.to_string(),
            pos,
            message: e.message,
            help: Some(e.help),
        }],
    }
}

/// Reads, validates and plans a spec file.
pub fn load(path: &Path) -> Result<(Spec, Plan), SpecError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let spec = parse(&text, path)?;
    match plan(&spec) {
        Ok(plan) => Ok((spec, plan)),
        Err(e) => Err(plan_error(path, text, e)),
    }
}
