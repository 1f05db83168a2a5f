//! A finished run for people: a table per tenant (each step: how it ended, items, records,
//! time), the workflow's outputs, the failures, and in a dry run the plan — every change that
//! would be made, per tenant and item (also saved as JSON with `--plan-out`). With
//! `--output json` the whole result is one JSON document instead.

use std::io::Write as _;

use anyhow::Context as _;
use serde_json::{Value, json};

use exorun::audit::redact::redact;
use exorun::workflow::Workflow;
use exorun::workflow::engine::{RunResult, StepStatus, StepSummary, TenantResult};
use exorun::workflow::journal::{ItemOutcome, RunHeader};

use super::launch::{LaunchArgs, Shown};

/// Prints the result as `launch` asks, and saves the plan if asked.
pub fn show(
    workflow: &Workflow,
    header: &RunHeader,
    result: &RunResult,
    launch: &LaunchArgs,
) -> anyhow::Result<()> {
    let plan = plan(result);
    if let Some(path) = &launch.plan_out {
        let text = serde_json::to_string_pretty(&plan).expect("a plan always serializes");
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write the plan to {}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    match launch.output {
        Shown::Json => {
            let document = json!({
                "run": header.id,
                "workflow": workflow.name,
                "dry_run": header.dry_run,
                "succeeded": result.succeeded(),
                "directory": result.dir,
                "tenants": result.tenants.iter().map(|t| json!({
                    "tenant": t.tenant,
                    "succeeded": t.succeeded(),
                    "outputs": t.outputs,
                    "steps": t.steps.iter().map(step_json).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "plan": plan,
            });
            writeln!(out, "{document:#}")?;
        }
        Shown::Table => table(&mut out, workflow, header, result, &plan)?,
    }
    Ok(())
}

fn status(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Succeeded => "succeeded",
        StepStatus::Failed => "failed",
        StepStatus::Skipped => "skipped",
        StepStatus::NotRun => "not run",
    }
}

fn step_json(step: &StepSummary) -> Value {
    let r = &step.result;
    json!({
        "step": step.id,
        "status": status(step.status),
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

/// How a tenant's run went, in words: `succeeded`, or `failed: 18 of 40 items` (a step that
/// failed before any item ran says why below the table).
fn tenant_status(tenant: &TenantResult) -> String {
    if tenant.succeeded() {
        return "succeeded".into();
    }
    let (failed, items) = tenant.steps.iter().fold((0, 0), |(failed, items), step| {
        (
            failed + step.result.failed(),
            items + step.result.items.len(),
        )
    });
    if failed == 0 {
        "failed".into()
    } else {
        format!("failed: {failed} of {items} items")
    }
}

/// Every change a dry run rehearsed: tenant, step, item, cmdlet, parameters (secrets redacted).
fn plan(result: &RunResult) -> Vec<Value> {
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

fn table(
    out: &mut impl std::io::Write,
    workflow: &Workflow,
    header: &RunHeader,
    result: &RunResult,
    plan: &[Value],
) -> anyhow::Result<()> {
    let rehearsal = if header.dry_run { " (dry run)" } else { "" };
    writeln!(
        out,
        "Workflow {}{rehearsal}, run {}",
        workflow.name, header.id
    )?;
    for tenant in &result.tenants {
        writeln!(out)?;
        writeln!(
            out,
            "{:<24} {:<10} {:>7} {:>7} {:>7} {:>7} {:>9} {:>8}",
            format!("{} — step", tenant.tenant),
            "status",
            "items",
            "ok",
            "failed",
            "skipped",
            "records",
            "time"
        )?;
        for step in &tenant.steps {
            let r = &step.result;
            writeln!(
                out,
                "{:<24} {:<10} {:>7} {:>7} {:>7} {:>7} {:>9} {:>7.1}s",
                format!("  {}", step.id),
                status(step.status),
                r.items.len(),
                r.count(ItemOutcome::Succeeded),
                r.failed(),
                r.count(ItemOutcome::Skipped),
                r.items.iter().map(|i| i.records).sum::<u64>(),
                step.duration.as_secs_f64()
            )?;
        }
        writeln!(out, "{}: {}", tenant.tenant, tenant_status(tenant))?;
        for (name, value) in &tenant.outputs {
            writeln!(out, "  output {name} = {value}")?;
        }
        for step in &tenant.steps {
            if let Some(error) = &step.error {
                writeln!(out, "  {}: {error}", step.id)?;
            }
            for item in step
                .result
                .items
                .iter()
                .filter(|i| i.outcome == ItemOutcome::Failed)
            {
                writeln!(
                    out,
                    "  {} / {}: failed: {}",
                    step.id,
                    item.label,
                    item.error.as_deref().unwrap_or_default()
                )?;
            }
        }
    }
    if header.dry_run {
        writeln!(out)?;
        writeln!(
            out,
            "Plan: {} change{} would be made (none was sent)",
            plan.len(),
            if plan.len() == 1 { "" } else { "s" }
        )?;
        for change in plan {
            writeln!(
                out,
                "  {} / {} / {}: {} {}",
                change["tenant"].as_str().unwrap_or_default(),
                change["step"].as_str().unwrap_or_default(),
                change["item"].as_str().unwrap_or_default(),
                change["cmdlet"].as_str().unwrap_or_default(),
                change["parameters"]
            )?;
        }
    }
    writeln!(out)?;
    writeln!(out, "Run directory: {}", result.dir.display())?;
    if !result.succeeded() {
        writeln!(
            out,
            "Some items failed: after fixing the cause, `exorun workflow resume {}` runs them again (nothing that finished runs twice).",
            header.id
        )?;
    }
    Ok(())
}
