//! `exorun workflow records RUN [STEP]`: a run's results as a table, JSON, JSON Lines or CSV,
//! e.g. a nightly inventory for a spreadsheet. The records are the ones the step's items
//! emitted in their finished tries (a try cut short by a kill leaves none behind), read one at
//! a time from the run's records files. With several tenants, each record says whose it is.
//! With `--server`, a run of yours on the service, read from it as it streams them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use exorun::workflow::kept::{each_row, kept_records, pick_step};
use exorun::workflow::runs::{default_runs_dir, find};

use super::super::output::{Format, RowSink};
use super::super::runs::Reach;

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
    /// Read a run of yours on the service (`exorun serve`) instead.
    #[command(flatten)]
    reach: Reach,
}

impl RecordsCmd {
    /// Runs the command; `before` is the token command given before `workflow`.
    pub async fn run(self, before: Option<Vec<String>>) -> anyhow::Result<ExitCode> {
        if self.reach.server.server.is_some() {
            return self.on_service(before).await;
        }
        let runs = self.runs_dir.clone().or_else(default_runs_dir).context(
            "there is no home directory for the runs: pass --runs-dir DIR or set EXORUN_RUNS_DIR",
        )?;
        let dir = find(&runs, &self.run)?;
        let kept = kept_records(&dir)
            .with_context(|| format!("cannot read the records of {}", dir.display()))?;
        let step = pick_step(&self.run, &kept, self.step.as_deref()).map_err(anyhow::Error::msg)?;
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
        let mut sink = RowSink::new(std::io::stdout().lock(), self.output, self.properties);
        let mut written = Ok(());
        each_row(&dir, &step, &tenants, |row| {
            written = sink.write_row(&row);
            written.is_ok()
        })?;
        written?;
        let rows = sink.finish()?;
        if rows == 0 {
            eprintln!("exorun: step {step} emitted no records in this run");
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl RecordsCmd {
    /// The records of a run of yours on the service, written as they arrive.
    async fn on_service(self, before: Option<Vec<String>>) -> anyhow::Result<ExitCode> {
        let client = self.reach.client(before).await?;
        let id = client.run_id(&self.run, "workflow").await?;
        let mut sink = RowSink::new(std::io::stdout().lock(), self.output, self.properties);
        client
            .each_record(&id, self.step.as_deref(), self.tenant.as_deref(), |row| {
                sink.write_row(&row)?;
                Ok(true)
            })
            .await?;
        if sink.finish()? == 0 {
            eprintln!("exorun: run {id} has no records for this step");
        }
        Ok(ExitCode::SUCCESS)
    }
}
