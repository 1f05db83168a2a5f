//! A finished run as data, the same for every front door: each tenant's steps (how each ended,
//! its items, failures, records), outputs, and a dry run's plan — every change that would be
//! made, per tenant and item, secret values redacted. `exorun workflow run --output json` prints
//! it; `exorun serve` keeps it as the run's summary and plan.

use serde_json::{Value, json};

use super::engine::{RunResult, StepStatus, StepSummary};
use super::journal::ItemOutcome;
use crate::audit::redact::redact;

/// A step status as a word: `succeeded`, `failed`, `skipped`, `not run`.
pub fn status_word(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Succeeded => "succeeded",
        StepStatus::Failed => "failed",
        StepStatus::Skipped => "skipped",
        StepStatus::NotRun => "not run",
    }
}

/// One step's result for one tenant.
pub fn step_json(step: &StepSummary) -> Value {
    let r = &step.result;
    json!({
        "step": step.id,
        "status": status_word(step.status),
        "items": r.items.len(),
        "succeeded": r.count(ItemOutcome::Succeeded),
        "failed": r.failed(),
        "skipped": r.count(ItemOutcome::Skipped),
        "records": r.items.iter().map(|i| i.records).sum::<u64>(),
        "seconds": step.duration.as_secs_f64(),
        "error": step.error,
        "failures": r.items.iter().filter(|i| i.outcome == ItemOutcome::Failed)
            .map(|i| json!({"item": i.label, "error": i.error})).collect::<Vec<_>>(),
    })
}

/// Each tenant's result: whether it succeeded, its outputs, its steps.
pub fn tenants_json(result: &RunResult) -> Vec<Value> {
    result
        .tenants
        .iter()
        .map(|t| {
            json!({
                "tenant": t.tenant,
                "succeeded": t.succeeded(),
                "outputs": t.outputs,
                "steps": t.steps.iter().map(step_json).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// Every change a dry run rehearsed: tenant, step, item, cmdlet, parameters (secrets redacted).
pub fn plan(result: &RunResult) -> Vec<Value> {
    let mut plan = Vec::new();
    for tenant in &result.tenants {
        for step in &tenant.steps {
            for item in &step.result.items {
                for change in &item.rehearsals {
                    plan.push(json!({
                        "tenant": tenant.tenant,
                        "step": step.id,
                        "item": item.label,
                        "cmdlet": change.cmdlet,
                        "parameters": Value::Object(redact(&change.cmdlet, &change.params)),
                    }));
                }
            }
        }
    }
    plan
}

/// Records the run's items emitted, over every tenant and step.
pub fn records(result: &RunResult) -> u64 {
    result
        .tenants
        .iter()
        .flat_map(|t| &t.steps)
        .flat_map(|s| &s.result.items)
        .map(|i| i.records)
        .sum()
}

/// The failures of a run that did not succeed, in a line: `tenant contoso, step reply: 2 of 40
/// items failed (first: …)`, or the step's own error.
pub fn failure_line(result: &RunResult) -> Option<String> {
    let mut parts = Vec::new();
    for tenant in &result.tenants {
        for step in &tenant.steps {
            if step.status != StepStatus::Failed {
                continue;
            }
            let failed = step.result.failed();
            let first = step
                .result
                .items
                .iter()
                .find(|i| i.outcome == ItemOutcome::Failed)
                .and_then(|i| {
                    i.error
                        .as_deref()
                        .map(|e| format!(" (first: {}: {e})", i.label))
                });
            parts.push(match (&step.error, failed) {
                (Some(error), 0) => format!("tenant {}, step {}: {error}", tenant.tenant, step.id),
                _ => format!(
                    "tenant {}, step {}: {failed} of {} items failed{}",
                    tenant.tenant,
                    step.id,
                    step.result.items.len(),
                    first.unwrap_or_default()
                ),
            });
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}
