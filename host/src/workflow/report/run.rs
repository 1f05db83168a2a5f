//! A finished run as its report shows it: the engine's result turned into the report's model,
//! and the charts the workflow asks for fed from the steps' records files, one record at a time.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::{Chart, Failure, PlannedChange, RunReport, StepReport, TenantReport};
use crate::audit::redact::redact;
use crate::workflow::Workflow;
use crate::workflow::engine::{RunResult, StepPlugin};
use crate::workflow::fanout::{each_record, records_path};
use crate::workflow::journal::{ItemOutcome, JournalState, RunHeader};

/// The report of `result`, a run of `workflow` (its steps' plugins in `plugins`) that ended at
/// `ended`.
pub fn of_run(
    workflow: &Workflow,
    header: &RunHeader,
    result: &RunResult,
    plugins: &std::collections::HashMap<String, StepPlugin>,
    ended: DateTime<Utc>,
) -> RunReport {
    let tenants = result
        .tenants
        .iter()
        .map(|tenant| TenantReport {
            tenant: tenant.tenant.clone(),
            steps: tenant
                .steps
                .iter()
                .map(|step| {
                    let items = &step.result.items;
                    let manifest = plugins.get(&step.id).map(|p| p.plugin.manifest());
                    let mut failures: Vec<Failure> = items
                        .iter()
                        .filter(|i| i.outcome == ItemOutcome::Failed)
                        .map(|i| Failure {
                            item: i.label.clone(),
                            error: i.error.clone().unwrap_or_default(),
                        })
                        .collect();
                    if let Some(error) = &step.error {
                        failures.push(Failure {
                            item: step.id.clone(),
                            error: error.clone(),
                        });
                    }
                    StepReport {
                        step: step.id.clone(),
                        plugin: manifest.map(|m| m.name.clone()).unwrap_or_default(),
                        plugin_version: manifest.map(|m| m.version.clone()).unwrap_or_default(),
                        succeeded: step.result.count(ItemOutcome::Succeeded) as u64,
                        failed: step.result.failed() as u64,
                        skipped: step.result.count(ItemOutcome::Skipped) as u64,
                        records: items.iter().map(|i| i.records).sum(),
                        duration: step.duration,
                        failures,
                        output: match items.as_slice() {
                            [one] if one.key.is_empty() => one.output.clone(),
                            _ => Some(serde_json::Value::Array(
                                items
                                    .iter()
                                    .map(|i| i.output.clone().unwrap_or_default())
                                    .collect(),
                            )),
                        },
                        plan: items
                            .iter()
                            .flat_map(|i| {
                                i.rehearsals.iter().map(|change| PlannedChange {
                                    item: i.label.clone(),
                                    cmdlet: change.cmdlet.clone(),
                                    parameters: serde_json::Value::Object(redact(
                                        &change.cmdlet,
                                        &change.params,
                                    ))
                                    .to_string(),
                                })
                            })
                            .collect(),
                    }
                })
                .collect(),
        })
        .collect();
    RunReport {
        workflow: workflow.name.clone(),
        description: workflow.description.clone(),
        run_id: header.id.clone(),
        started: header.started,
        ended,
        dry_run: header.dry_run,
        shard: header.shard,
        tenants,
    }
}

/// The charts `workflow` asks for, fed with every finished record of their steps in the run
/// directory `dir`, across its tenants.
pub fn charts(
    workflow: &Workflow,
    header: &RunHeader,
    dir: &Path,
) -> Result<Vec<Chart>, crate::workflow::journal::JournalError> {
    let Some(spec) = &workflow.report else {
        return Ok(Vec::new());
    };
    let state = JournalState::read(dir)?;
    let mut charts = Vec::new();
    for chart_spec in &spec.charts {
        let mut chart = Chart::new(chart_spec.clone());
        for tenant in &header.tenants {
            let path = records_path(dir, tenant, &chart_spec.step);
            each_record(&path, &state, &chart_spec.step, |_, record| {
                chart.add(record)
            })
            .map_err(|source| crate::workflow::journal::JournalError::Io {
                path: path.clone(),
                doing: "read",
                source,
            })?;
        }
        charts.push(chart);
    }
    Ok(charts)
}

/// Why a run's report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RunReportError {
    /// The records for its charts could not be read.
    #[error(transparent)]
    Records(#[from] crate::workflow::journal::JournalError),
    /// The page could not be written.
    #[error(transparent)]
    Write(#[from] super::WriteError),
}

/// Writes the self-contained HTML report of `result` (a run of `workflow` in `dir`) as
/// `report.html` in `dir`; gives its path.
pub fn write_run_report(
    workflow: &Workflow,
    header: &RunHeader,
    result: &RunResult,
    plugins: &std::collections::HashMap<String, StepPlugin>,
    dir: &Path,
) -> Result<std::path::PathBuf, RunReportError> {
    let run = of_run(workflow, header, result, plugins, Utc::now());
    let charts = charts(workflow, header, dir)?;
    Ok(super::write(&dir.join("report.html"), &run, &charts)?)
}
