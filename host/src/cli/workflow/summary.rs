//! A finished run for people: a table per tenant (each step: how it ended, items, records,
//! time), the workflow's outputs, the failures, and in a dry run the plan — every change that
//! would be made, per tenant and item (also saved as JSON with `--plan-out`). With
//! `--output json` the whole result is one JSON document instead.

use std::io::Write as _;

use anyhow::Context as _;
use serde_json::{Value, json};

use exorun::atomic_file::Access;
use exorun::workflow::Workflow;
use exorun::workflow::engine::RunResult;
use exorun::workflow::journal::RunHeader;
use exorun::workflow::outcome::{plan, tenants_json};

use super::launch::{LaunchArgs, Shown};

/// Each tenant's steps as a table (the JSON of [`tenants_json`]), its outputs and failures,
/// and a dry run's plan: what a local run and a run on the service print.
pub fn tenants_table(
    out: &mut impl std::io::Write,
    tenants: &[Value],
    dry_run: bool,
    plan: &[Value],
) -> anyhow::Result<()> {
    for tenant in tenants {
        let name = tenant["tenant"].as_str().unwrap_or_default();
        writeln!(out)?;
        writeln!(
            out,
            "{:<24} {:<10} {:>7} {:>7} {:>7} {:>7} {:>9} {:>8}",
            format!("{name} — step"),
            "status",
            "items",
            "ok",
            "failed",
            "skipped",
            "records",
            "time"
        )?;
        let steps: Vec<&Value> = tenant["steps"].as_array().into_iter().flatten().collect();
        let n = |step: &Value, key: &str| step[key].as_u64().unwrap_or(0);
        for step in &steps {
            writeln!(
                out,
                "{:<24} {:<10} {:>7} {:>7} {:>7} {:>7} {:>9} {:>7.1}s",
                format!("  {}", step["step"].as_str().unwrap_or_default()),
                step["status"].as_str().unwrap_or_default(),
                n(step, "items"),
                n(step, "succeeded"),
                n(step, "failed"),
                n(step, "skipped"),
                n(step, "records"),
                step["seconds"].as_f64().unwrap_or(0.0)
            )?;
        }
        writeln!(out, "{name}: {}", tenant_status(tenant))?;
        for (output, value) in tenant["outputs"].as_object().into_iter().flatten() {
            writeln!(out, "  output {output} = {value}")?;
        }
        for step in &steps {
            let id = step["step"].as_str().unwrap_or_default();
            if let Some(error) = step["error"].as_str() {
                writeln!(out, "  {id}: {error}")?;
            }
            for failure in step["failures"].as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "  {id} / {}: failed: {}",
                    failure["item"].as_str().unwrap_or_default(),
                    failure["error"].as_str().unwrap_or_default()
                )?;
            }
        }
    }
    if dry_run {
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
    Ok(())
}

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
        exorun::atomic_file::replace(path, (text + "\n").as_bytes(), Access::Private)
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
                "tenants": tenants_json(result),
                "plan": plan,
            });
            writeln!(out, "{document:#}")?;
        }
        Shown::Table => table(&mut out, workflow, header, result, &plan)?,
    }
    Ok(())
}

/// How a tenant's run went, in words: `succeeded`, or `failed: 18 of 40 items` (a step that
/// failed before any item ran says why below the table).
fn tenant_status(tenant: &Value) -> String {
    if tenant["succeeded"] == true {
        return "succeeded".into();
    }
    let steps = tenant["steps"].as_array().into_iter().flatten();
    let (failed, items) = steps.fold((0, 0), |(failed, items), step| {
        (
            failed + step["failed"].as_u64().unwrap_or(0),
            items + step["items"].as_u64().unwrap_or(0),
        )
    });
    if failed == 0 {
        "failed".into()
    } else {
        format!("failed: {failed} of {items} items")
    }
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
    tenants_table(out, &tenants_json(result), header.dry_run, plan)?;
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
