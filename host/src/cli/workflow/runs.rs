//! `exorun workflow runs`: the runs kept on this machine (or, with `--server`, your workflow
//! runs on the service), newest first, with where each stands (a failed run with how many of
//! its items failed).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use serde_json::Value;

use exorun::workflow::runs::{default_runs_dir, list};

use super::super::runs::Reach;

/// Options of `workflow runs`.
#[derive(Args, Debug)]
pub struct RunsCmd {
    /// Where runs are kept (default ~/.local/state/exorun/runs)
    #[arg(long, env = "EXORUN_RUNS_DIR", value_name = "DIR")]
    runs_dir: Option<PathBuf>,
    /// List your workflow runs on the service (`exorun serve`) instead.
    #[command(flatten)]
    reach: Reach,
}

/// The table's columns.
const HEADER: [&str; 6] = [
    "RUN",
    "WORKFLOW",
    "STARTED (UTC)",
    "STATE",
    "DONE",
    "FAILED",
];

/// The table's header and row layout, the same for local runs and the service's.
fn row(out: &mut impl Write, cells: [&str; 6]) -> std::io::Result<()> {
    let [run, workflow, started, state, done, failed] = cells;
    writeln!(
        out,
        "{run:<36}  {workflow:<20}  {started:<19}  {state:<28}  {done:>6}  {failed:>6}"
    )
}

/// "failed: 18 of 40 items" for a partial failure, and "(dry)" after a dry run's state.
fn state_shown(state: &str, failed: usize, items: usize, dry_run: bool) -> String {
    let state = if state == "failed" && failed > 0 {
        format!("failed: {failed} of {items} items")
    } else {
        state.to_string()
    };
    if dry_run {
        format!("{state} (dry)")
    } else {
        state
    }
}

impl RunsCmd {
    /// Runs the command; `before` is the token command given before `workflow`.
    pub async fn run(self, before: Option<Vec<String>>) -> anyhow::Result<ExitCode> {
        if self.reach.server.server.is_some() {
            return self.on_service(before).await;
        }
        let dir = self.runs_dir.or_else(default_runs_dir).context(
            "there is no home directory for the runs: pass --runs-dir DIR or set EXORUN_RUNS_DIR",
        )?;
        let runs = list(&dir)?;
        let mut out = std::io::stdout().lock();
        if runs.is_empty() {
            eprintln!("exorun: no runs in {}", dir.display());
            return Ok(ExitCode::SUCCESS);
        }
        row(&mut out, HEADER)?;
        for run in runs {
            row(
                &mut out,
                [
                    &run.id,
                    &run.workflow,
                    &run.started.format("%Y-%m-%d %H:%M:%S").to_string(),
                    &state_shown(
                        &run.state.to_string(),
                        run.failed,
                        run.failed + run.succeeded,
                        run.dry_run,
                    ),
                    &run.succeeded.to_string(),
                    &run.failed.to_string(),
                ],
            )?;
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl RunsCmd {
    /// Your workflow runs on the service, as the same table; items are counted once a run has
    /// ended.
    async fn on_service(&self, before: Option<Vec<String>>) -> anyhow::Result<ExitCode> {
        let client = self.reach.client(before).await?;
        let runs = client.get("/runs?kind=workflow&limit=1000").await?;
        let runs = runs.as_array().cloned().unwrap_or_default();
        let mut out = std::io::stdout().lock();
        if runs.is_empty() {
            eprintln!("exorun: you have no workflow runs on the service");
            return Ok(ExitCode::SUCCESS);
        }
        row(&mut out, HEADER)?;
        for run in &runs {
            let at = run["started_at"].as_i64().or(run["submitted_at"].as_i64());
            let started = at
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default();
            let (succeeded, failed, items) = item_counts(&run["summary"]);
            let state = run["state"].as_str().unwrap_or_default();
            let ended = run["summary"].is_object();
            let count = |n: usize| if ended { n.to_string() } else { String::new() };
            row(
                &mut out,
                [
                    run["id"].as_str().unwrap_or_default(),
                    run["target"].as_str().unwrap_or_default(),
                    &started,
                    &state_shown(state, failed, items, run["dry_run"] == true),
                    &count(succeeded),
                    &count(failed),
                ],
            )?;
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Items that succeeded, items that failed, and items in all (with those skipped by their
/// condition or not started after a failure), over a service run summary's tenants and steps.
fn item_counts(summary: &Value) -> (usize, usize, usize) {
    let steps = summary["tenants"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["steps"].as_array().into_iter().flatten());
    steps.fold((0, 0, 0), |(ok, bad, all), step| {
        let n = |key: &str| usize::try_from(step[key].as_u64().unwrap_or(0)).unwrap_or(0);
        (ok + n("succeeded"), bad + n("failed"), all + n("items"))
    })
}
