//! `exorun workflow records RUN [STEP]`: a run's results as a table, JSON, JSON Lines or CSV,
//! e.g. a nightly inventory for a spreadsheet. The records are the ones the step's items
//! emitted in their finished tries (a try cut short by a kill leaves none behind), read one at
//! a time from the run's records files. With several tenants, each record says whose it is.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use serde_json::Value;

use exorun::workflow::fanout::{each_record, records_path};
use exorun::workflow::journal::JournalState;
use exorun::workflow::runs::{default_runs_dir, find};

use super::super::output::{Format, RowSink};

/// Options of `workflow records`.
#[derive(Args, Debug)]
pub struct RecordsCmd {
    /// The run: its id, or the start of it (`exorun workflow runs` lists them)
    run: String,
    /// The step whose records to write (default: the run's one step with records)
    step: Option<String>,
    /// Only this tenant's records (default: every tenant's, with a Tenant column when there
    /// are several)
    #[arg(long)]
    tenant: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    output: Format,
    /// Properties to write, in this order (repeatable; default: the first record's)
    #[arg(long = "property", value_name = "NAME")]
    properties: Vec<String>,
    /// Where runs are kept (default ~/.local/state/exorun/runs)
    #[arg(long, env = "EXORUN_RUNS_DIR", value_name = "DIR")]
    runs_dir: Option<PathBuf>,
}

impl RecordsCmd {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let runs = self.runs_dir.clone().or_else(default_runs_dir).context(
            "there is no home directory for the runs: pass --runs-dir DIR or set EXORUN_RUNS_DIR",
        )?;
        let dir = find(&runs, &self.run)?;
        let kept = kept_records(&dir)?;
        let step = self.step(&kept)?;
        let tenants: Vec<&str> = kept
            .iter()
            .filter(|(_, s)| *s == step)
            .map(|(t, _)| t.as_str())
            .filter(|t| self.tenant.as_deref().is_none_or(|wanted| wanted == *t))
            .collect();
        if tenants.is_empty() {
            let had: Vec<&str> = kept
                .iter()
                .filter(|(_, s)| *s == step)
                .map(|(t, _)| t.as_str())
                .collect();
            anyhow::bail!(
                "step {step} of this run has no records for tenant {}; it has some for: {}",
                self.tenant.as_deref().unwrap_or_default(),
                had.join(", ")
            );
        }
        let state = JournalState::read(&dir)?;
        let named = tenants.len() > 1;
        let mut sink = RowSink::new(std::io::stdout().lock(), self.output, self.properties);
        for tenant in tenants {
            let path = records_path(&dir, tenant, &step);
            let mut written = Ok(());
            each_record(&path, &state, &step, |_, record| {
                if written.is_err() {
                    return;
                }
                let row = if named {
                    let mut row = serde_json::Map::with_capacity(record.len() + 1);
                    row.insert("Tenant".into(), Value::String(tenant.to_string()));
                    row.extend(record.iter().map(|(k, v)| (k.clone(), v.clone())));
                    Value::Object(row)
                } else {
                    Value::Object(record.clone())
                };
                written = sink.write_row(&row);
            })
            .with_context(|| format!("cannot read the records in {}", path.display()))?;
            written?;
        }
        let rows = sink.finish()?;
        if rows == 0 {
            eprintln!("exorun: step {step} emitted no records in this run");
        }
        Ok(ExitCode::SUCCESS)
    }

    /// The step asked for, or the one step with records.
    fn step(&self, kept: &[(String, String)]) -> anyhow::Result<String> {
        let mut steps: Vec<&str> = kept.iter().map(|(_, s)| s.as_str()).collect();
        steps.sort_unstable();
        steps.dedup();
        match (&self.step, steps.as_slice()) {
            (Some(step), _) if steps.contains(&step.as_str()) => Ok(step.clone()),
            (_, []) => anyhow::bail!("run {} has no records (no step emitted any)", self.run),
            (Some(step), _) => anyhow::bail!(
                "run {} has no records of a step '{step}'; steps with records: {}",
                self.run,
                steps.join(", ")
            ),
            (None, [one]) => Ok(one.to_string()),
            (None, many) => anyhow::bail!(
                "run {} has records of {} steps: name one ({})",
                self.run,
                many.len(),
                many.join(", ")
            ),
        }
    }
}

/// (tenant, step) of every records file with something in it in the run directory `dir`,
/// sorted.
fn kept_records(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let root = dir.join("records");
    let mut kept = Vec::new();
    let tenants = match std::fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(kept),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", root.display())),
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
