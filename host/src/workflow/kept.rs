//! A finished (or stopped) run's records as its readers want them: which steps kept records
//! for which tenants, the step a reader means, and each record of it once, in order, with a
//! `Tenant` column when the run had several. `exorun workflow records` and the service's
//! records endpoint read them the same way.

use std::io;
use std::path::Path;

use serde_json::{Map, Value};

use super::fanout::{each_record, records_path};
use super::journal::{JournalError, JournalState};

/// `(tenant, step)` of every records file with something in it in the run directory `dir`,
/// sorted.
pub fn kept_records(dir: &Path) -> io::Result<Vec<(String, String)>> {
    let root = dir.join("records");
    let mut kept = Vec::new();
    let tenants = match std::fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(kept),
        Err(e) => return Err(e),
    };
    for tenant in tenants {
        let tenant = tenant?;
        let Ok(files) = std::fs::read_dir(tenant.path()) else {
            continue;
        };
        for file in files {
            let file = file?;
            // A step that emitted nothing leaves an empty file.
            if file.metadata().is_ok_and(|m| m.len() == 0) {
                continue;
            }
            let name = file.file_name();
            if let Some(step) = name.to_str().and_then(|n| n.strip_suffix(".jsonl")) {
                kept.push((
                    tenant.file_name().to_string_lossy().into_owned(),
                    step.to_string(),
                ));
            }
        }
    }
    kept.sort();
    Ok(kept)
}

/// The step of run `run` whose records are wanted: `asked`, or the one step with records; the
/// error says which steps have some.
pub fn pick_step(
    run: &str,
    kept: &[(String, String)],
    asked: Option<&str>,
) -> Result<String, String> {
    let mut steps: Vec<&str> = kept.iter().map(|(_, s)| s.as_str()).collect();
    steps.sort_unstable();
    steps.dedup();
    match (asked, steps.as_slice()) {
        (Some(step), _) if steps.contains(&step) => Ok(step.to_string()),
        (_, []) => Err(format!("run {run} has no records (no step emitted any)")),
        (Some(step), _) => Err(format!(
            "run {run} has no records of a step '{step}'; steps with records: {}",
            steps.join(", ")
        )),
        (None, [one]) => Ok((*one).to_string()),
        (None, many) => Err(format!(
            "run {run} has records of {} steps: name one ({})",
            many.len(),
            many.join(", ")
        )),
    }
}

/// Why records cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum KeptError {
    /// The journal cannot be read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A records file cannot be read.
    #[error("cannot read the records in {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
}

/// Each finished record of `step` in the run directory `dir` for `tenants`, in order, given to
/// `each` (which may stop early by returning false); with several tenants each row starts with
/// a `Tenant` column.
pub fn each_row(
    dir: &Path,
    step: &str,
    tenants: &[&str],
    mut each: impl FnMut(Value) -> bool,
) -> Result<(), KeptError> {
    let state = JournalState::read(dir)?;
    let named = tenants.len() > 1;
    let mut going = true;
    for tenant in tenants {
        let path = records_path(dir, tenant, step);
        each_record(&path, &state, step, |_, record| {
            if !going {
                return;
            }
            let row = if named {
                let mut row = Map::with_capacity(record.len() + 1);
                row.insert("Tenant".into(), Value::String((*tenant).to_string()));
                row.extend(record.iter().map(|(k, v)| (k.clone(), v.clone())));
                Value::Object(row)
            } else {
                Value::Object(record.clone())
            };
            going = each(row);
        })
        .map_err(|source| KeptError::Read {
            path: path.display().to_string(),
            source,
        })?;
        if !going {
            break;
        }
    }
    Ok(())
}
