//! `sweep plan`: the trials a spec expands into.

use anyhow::Result;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use sweep_results::Table;
use sweep_spec::{Method, Plan, Spec, Trial};

/// Print the trials a spec expands into, without running anything.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The sweep spec (YAML).
    pub spec: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// How `plan` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned table for people, with a summary.
    Table,
    /// CSV with a header row: ordinal, id, seed, one column per parameter.
    Csv,
    /// One JSON document: the summary and every trial.
    Json,
}

/// The first trials of a sweep that is not listed ahead in full: TPE's
/// startup trials (drawn at random before TPE has results to learn from),
/// or the first draws of a random search with no `run_cap` (the same draws
/// `sweep run` makes).
fn preview(spec: &Spec) -> Plan {
    let mut trials = sweep_spec::sampler::Trials::new(spec).expect("validated");
    let n = match spec.method {
        Method::Tpe { .. } => u64::from(spec.tpe.n_startup_trials),
        _ => PREVIEW,
    }
    .min(spec.run_cap.unwrap_or(u64::MAX));
    let mut out = Vec::new();
    for _ in 0..n {
        match trials.next(&[]) {
            sweep_spec::sampler::Ask::Trial(t) => out.push(t),
            _ => break,
        }
    }
    Plan {
        trials: out,
        grid_size: None,
    }
}

/// Draws shown for a random search with no end.
const PREVIEW: u64 = 10;

/// Whether the sweep's trials are only previewed, not listed in full.
fn previewed(spec: &Spec) -> bool {
    match spec.method {
        Method::Tpe { .. } => true,
        Method::Random => sweep_spec::plan(spec).is_err(),
        Method::Grid => false,
    }
}

pub fn run(args: &PlanArgs) -> Result<()> {
    let spec = sweep_spec::load_spec(&args.spec)?;
    crate::warn_spec(&spec);
    let (spec, plan) = if previewed(&spec) {
        let plan = preview(&spec);
        (spec, plan)
    } else {
        sweep_spec::load(&args.spec)?
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Table => write!(out, "{}", render_table(&spec, &plan))?,
        Format::Csv => write_csv(&mut out, &spec, &plan)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &to_json(&spec, &plan))?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// How the sweep stops, or what to add so it does.
pub fn stops(spec: &Spec) -> String {
    match sweep_spec::ending(spec, None) {
        Some(e) => format!("the sweep stops {e}"),
        None => format!(
            "nothing stops this sweep but Ctrl-C: `sweep run` needs `--count N` (as `wandb agent --count`), or add `run_cap` or `metric.target` to {}",
            spec.path.display()
        ),
    }
}

fn columns(spec: &Spec) -> Vec<&str> {
    spec.parameters.iter().map(|p| p.name.as_str()).collect()
}

fn cells(trial: &Trial, columns: &[&str]) -> impl Iterator<Item = String> {
    columns
        .iter()
        .map(|c| trial.params.get(*c).map(|v| v.to_string()).unwrap_or_default())
}

fn summary(spec: &Spec, plan: &Plan) -> String {
    let n = plan.trials.len();
    if let Method::Tpe { .. } = spec.method {
        return format!(
            "the {n} startup trials above are drawn at random; then TPE suggests each next trial from the results so far (multivariate {}, constant liar {}, {} candidates); {}",
            spec.tpe.multivariate,
            spec.tpe.constant_liar,
            spec.tpe.n_ei_candidates,
            stops(spec)
        );
    }
    if previewed(spec) {
        return format!("the first {n} draws of the search; {}", stops(spec));
    }
    let mut s = format!("{n} trial{}", if n == 1 { "" } else { "s" });
    match plan.epoch_budget(spec) {
        Some(e) => s.push_str(&format!(", {e} epochs in all")),
        None => s.push_str(", epochs unknown (the command trainer has no `epochs` parameter)"),
    }
    if let Some(total) = plan.grid_size
        && total > n as u128
    {
        s.push_str(&format!(" (first {n} of {total} grid combinations: run_cap)"));
    }
    if spec.metric_target.is_some() {
        s.push_str(&format!("; {}", stops(spec)));
    }
    s
}

fn render_table(spec: &Spec, plan: &Plan) -> String {
    let cols = columns(spec);
    let space = match spec.method {
        Method::Grid => {
            let swept: Vec<String> = spec
                .parameters
                .iter()
                .filter_map(|p| {
                    p.distribution
                        .grid_len()
                        .filter(|&n| n > 1)
                        .map(|n| format!("{} ({n})", p.name))
                })
                .collect();
            if swept.is_empty() {
                "grid of one combination".to_string()
            } else {
                format!("grid over {}", swept.join(" x "))
            }
        }
        Method::Random => format!("random search over {}, seed {}", cols.join(", "), spec.seed),
        Method::Tpe { .. } => {
            let space: Vec<String> = spec
                .parameters
                .iter()
                .map(|p| format!("{} {}", p.name, p.distribution.describe()))
                .collect();
            format!(
                "TPE search ({}) over {}, seed {}",
                spec.method.as_str(),
                space.join(", "),
                spec.seed
            )
        }
    };
    let target = spec
        .metric_target
        .map(|t| format!(", target {}", sweep_core::format_float(t)))
        .unwrap_or_default();
    let mut out = format!(
        "sweep {} ({}): {space}; ranked by {} ({}{target})\n",
        spec.name,
        spec.path.display(),
        spec.metric.name,
        spec.metric.goal.as_str()
    );
    if spec.project.is_some() || spec.entity.is_some() {
        let mut w = Vec::new();
        if let Some(p) = &spec.project {
            w.push(format!("project {p}"));
        }
        if let Some(e) = &spec.entity {
            w.push(format!("entity {e}"));
        }
        out.push_str(&format!(
            "W&B {} (shown only: sweep runs offline and sends nothing)\n",
            w.join(", ")
        ));
    }
    out.push('\n');
    let mut header = vec!["#".to_string(), "id".to_string()];
    header.extend(cols.iter().map(|c| c.to_string()));
    let mut table = Table::new(header);
    for t in &plan.trials {
        let mut row = vec![t.ordinal.to_string(), t.id.to_string()];
        row.extend(cells(t, &cols));
        table.row(row);
    }
    out.push_str(&table.render());
    out.push('\n');
    out.push_str(&summary(spec, plan));
    out.push('\n');
    out
}

fn write_csv(out: &mut impl Write, spec: &Spec, plan: &Plan) -> Result<()> {
    let cols = columns(spec);
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec!["ordinal", "id", "seed"];
    header.extend(&cols);
    w.write_record(&header)?;
    for t in &plan.trials {
        let mut row = vec![t.ordinal.to_string(), t.id.to_string(), t.seed.to_string()];
        row.extend(cells(t, &cols));
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

fn to_json(spec: &Spec, plan: &Plan) -> serde_json::Value {
    let trials: Vec<_> = plan
        .trials
        .iter()
        .map(|t| serde_json::json!({ "ordinal": t.ordinal, "id": t.id, "seed": t.seed, "params": t.params }))
        .collect();
    serde_json::json!({
        "name": spec.name,
        "spec": spec.path,
        "method": spec.method.as_str(),
        "metric": spec.metric,
        "target": spec.metric_target,
        "project": spec.project,
        "entity": spec.entity,
        "stops": sweep_spec::ending(spec, None),
        "listed_in_full": !previewed(spec),
        "count": plan.trials.len(),
        "grid_size": plan.grid_size.map(|g| u64::try_from(g).unwrap_or(u64::MAX)),
        "epoch_budget": plan.epoch_budget(spec),
        "parameters": columns(spec),
        "trials": trials,
    })
}
