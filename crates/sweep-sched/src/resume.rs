//! Starting a results folder, or resuming one: the spec as run is kept in
//! `spec.yaml`, and a resume with a spec that would change the results is refused.

use crate::SchedError;
use std::collections::HashSet;
use std::path::PathBuf;
use sweep_results::{ResultsDir, write_atomic};
use sweep_spec::{Spec, Trainer};

/// Gets `dir` ready: created, resumed, or (with `restart`) moved aside and
/// created anew. Returns where an old folder was moved.
pub fn prepare(dir: &ResultsDir, spec: &Spec, text: &str, restart: bool) -> Result<Option<PathBuf>, SchedError> {
    let io = |e: std::io::Error| SchedError::Io(dir.root().to_path_buf(), e);
    let mut moved = None;
    if dir.root().exists() && restart {
        // Never delete results silently: the old folder stays, renamed.
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut aside = PathBuf::from(format!("{}.old-{stamp}", dir.root().display()));
        let mut n = 1;
        while aside.exists() {
            aside = PathBuf::from(format!("{}.old-{stamp}-{n}", dir.root().display()));
            n += 1;
        }
        std::fs::rename(dir.root(), &aside).map_err(io)?;
        moved = Some(aside);
    }
    if dir.spec().exists() {
        let old = std::fs::read_to_string(dir.spec()).map_err(io)?;
        if old != text {
            let changes = differences(dir, spec, &old)?;
            if !changes.is_empty() {
                return Err(SchedError::SpecChanged {
                    folder: dir.root().to_path_buf(),
                    changes,
                });
            }
        }
    } else if dir.journal().exists() {
        return Err(SchedError::SpecChanged {
            folder: dir.root().to_path_buf(),
            changes: vec!["the folder has a journal but no spec.yaml: it was not written by this sweep".into()],
        });
    }
    std::fs::create_dir_all(dir.root().join("trials")).map_err(io)?;
    write_atomic(&dir.spec(), text.as_bytes()).map_err(io)?;
    Ok(moved)
}

/// What differs between the spec a folder was run with and `spec`, in ways
/// that change results (the trials, the trainer, the metric). Timeouts,
/// retries and resources may change between runs.
fn differences(dir: &ResultsDir, spec: &Spec, old_text: &str) -> Result<Vec<String>, SchedError> {
    let old = sweep_spec::parse(old_text, &dir.spec()).map_err(|e| SchedError::OldSpec(e.to_string()))?;
    let mut changes = Vec::new();
    // Only when the search changed, and only here (a resume with the same
    // spec never lists a sweep's trials in full).
    let search = |s: &Spec| (s.method, s.seed, s.run_cap, s.parameters.clone());
    if search(&old) != search(spec) {
        match (sweep_spec::plan(&old), sweep_spec::plan(spec)) {
            (Ok(old_plan), Ok(plan)) => {
                let new_ids: HashSet<_> = plan.trials.iter().map(|t| &t.id).collect();
                let old_ids: HashSet<_> = old_plan.trials.iter().map(|t| &t.id).collect();
                let added = new_ids.difference(&old_ids).count();
                let removed = old_ids.difference(&new_ids).count();
                if added + removed > 0 {
                    changes.push(format!(
                        "the trials differ: {added} new, {removed} gone ({} before, {} now)",
                        old_plan.trials.len(),
                        plan.trials.len()
                    ));
                }
            }
            _ => changes.push("the search (method, seed, run_cap or parameters) differs".into()),
        }
    }
    match (&old.trainer, &spec.trainer) {
        (Trainer::Builtin { settings: a }, Trainer::Builtin { settings: b }) if a != b => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                if a.get(k) != b.get(k) {
                    let show =
                        |v: Option<&sweep_core::ParamValue>| v.map_or_else(|| "unset".to_string(), |v| v.to_string());
                    changes.push(format!(
                        "trainer.{k}: {} before, {} now",
                        show(a.get(k)),
                        show(b.get(k))
                    ));
                }
            }
        }
        (a, b) if a != b => changes.push("the trainer differs".into()),
        _ => {}
    }
    if old.metric != spec.metric {
        changes.push(format!(
            "metric: {} ({}) before, {} ({}) now",
            old.metric.name,
            old.metric.goal.as_str(),
            spec.metric.name,
            spec.metric.goal.as_str()
        ));
    }
    Ok(changes)
}

/// Holds a results folder for one orchestrator: an exclusive `flock` on its
/// `.lock` file (released when the process ends, however it ends).
#[derive(Debug)]
pub struct FolderLock {
    _file: std::fs::File,
}

/// Takes the results folder's lock (creating the folder), or says who holds it.
pub fn lock(dir: &ResultsDir) -> Result<FolderLock, SchedError> {
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsRawFd;
    let io = |e: std::io::Error| SchedError::Io(dir.root().to_path_buf(), e);
    std::fs::create_dir_all(dir.root()).map_err(io)?;
    let path = dir.root().join(".lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io)?;
    // SAFETY: flock on a descriptor this function owns.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        return Err(SchedError::Busy(dir.root().to_path_buf(), holder.trim().to_string()));
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{}", std::process::id());
    Ok(FolderLock { _file: file })
}

/// The pid of the orchestrator holding the results folder, if one does.
pub fn folder_in_use(dir: &ResultsDir) -> Option<String> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(dir.root().join(".lock")).ok()?;
    // SAFETY: flock on a descriptor this function owns; a shared lock taken
    // here is released when `file` closes.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    if rc == 0 {
        return None;
    }
    Some(
        std::fs::read_to_string(dir.root().join(".lock"))
            .unwrap_or_default()
            .trim()
            .to_string(),
    )
}
