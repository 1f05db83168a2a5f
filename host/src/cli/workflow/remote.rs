//! `exorun workflow run NAME --server …`: asks the service to run one of its workflows, follows
//! it (each step's progress on stderr) and prints the result as a local run does: a table per
//! tenant with the outputs, failures and (dry run) the plan, or the whole result as JSON.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use exorun::atomic_file::Access;
use serde_json::{Map, Value, json};

use super::super::client::ServerClient;
use super::launch::Shown;
use super::summary::tenants_table;

/// What to ask the service for.
pub struct RemoteRun<'a> {
    /// The workflow's name on the service.
    pub name: &'a str,
    /// The inputs as given (`NAME=VALUE`): the service types them as the workflow declares.
    pub inputs: &'a [(String, String)],
    /// A dry run.
    pub dry_run: bool,
    /// A run id of the caller's choosing.
    pub run_id: Option<&'a str>,
    /// Print the run id once queued instead of following it.
    pub no_wait: bool,
    /// How to print the result.
    pub output: Shown,
    /// Where to save a dry run's plan.
    pub plan_out: Option<&'a std::path::Path>,
}

impl RemoteRun<'_> {
    /// Submits, follows and prints; exit 1 when the run did not succeed.
    pub async fn run(&self, client: &ServerClient) -> anyhow::Result<ExitCode> {
        let mut input = Map::new();
        for (name, value) in self.inputs {
            if input
                .insert(name.clone(), Value::String(value.clone()))
                .is_some()
            {
                anyhow::bail!("input '{name}' is given twice: give it once");
            }
        }
        let body = json!({"workflow": self.name, "input": input, "dry_run": self.dry_run});
        let Some(done) = client
            .submit_and_follow(body, self.run_id, self.no_wait)
            .await?
        else {
            return Ok(ExitCode::SUCCESS);
        };
        show_ended(&done, self.output, self.plan_out)
    }
}

/// Asks the service to resume run `id` (a workflow run that failed or was cancelled), follows
/// what it runs again and prints the result as `workflow run --server` does.
pub async fn resume_on(
    client: &ServerClient,
    id: &str,
    output: Shown,
    plan_out: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let (_, run) = client
        .post(&format!("/runs/{id}/resume"), &json!({}))
        .await?;
    eprintln!(
        "exorun: run {id} ({} {}) is queued again on the service: what finished is not run again",
        run["kind"].as_str().unwrap_or_default(),
        run["target"].as_str().unwrap_or_default()
    );
    let after = run["resumed_event"].as_i64().unwrap_or_default();
    let done = client.follow_after(id, after).await?;
    show_ended(&done, output, plan_out)
}

/// Prints an ended workflow run `done` as `output` (and saves its plan to `plan_out`); exit 1
/// when it did not succeed.
fn show_ended(
    done: &Value,
    output: Shown,
    plan_out: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let id = done["id"].as_str().unwrap_or_default();
    let name = done["target"].as_str().unwrap_or_default();
    let summary = &done["summary"];
    let plan = summary["plan"].as_array().cloned().unwrap_or_default();
    if let Some(path) = plan_out {
        let text = serde_json::to_string_pretty(&plan).unwrap_or_default();
        exorun::atomic_file::replace(path, (text + "\n").as_bytes(), Access::Private)
            .with_context(|| format!("cannot write the plan to {}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    match output {
        Shown::Json => writeln!(
            out,
            "{:#}",
            json!({
                "run": id,
                "workflow": name,
                "dry_run": done["dry_run"],
                "state": done["state"],
                "succeeded": done["state"] == "succeeded",
                "error": done["error"],
                "tenants": summary["tenants"],
                "plan": plan,
            })
        )?,
        Shown::Table => table(&mut out, name, id, done, &plan)?,
    }
    if done["state"] == "succeeded" {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "exorun: FAILED: run {id} on the service: {}",
        done["error"].as_str().unwrap_or("it did not succeed")
    );
    Ok(ExitCode::FAILURE)
}

/// The result as a table per tenant, as `workflow run` prints a local run's.
fn table(
    out: &mut impl std::io::Write,
    name: &str,
    id: &str,
    done: &Value,
    plan: &[Value],
) -> anyhow::Result<()> {
    let dry_run = done["dry_run"] == true;
    let rehearsal = if dry_run { " (dry run)" } else { "" };
    writeln!(out, "Workflow {name}{rehearsal}, run {id} on the service")?;
    let tenants = done["summary"]["tenants"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    tenants_table(out, &tenants, dry_run, plan)?;
    writeln!(out)?;
    writeln!(
        out,
        "Records: `exorun workflow records {id}` with the same --server; the report: GET /api/v1/runs/{id}/report"
    )?;
    Ok(())
}
