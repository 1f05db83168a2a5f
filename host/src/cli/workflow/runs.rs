//! `exorun workflow runs`: the runs kept on this machine, newest first, with where each stands
//! (a failed run with how many of its items failed).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use exorun::workflow::runs::{RunState, default_runs_dir, list};

/// Options of `workflow runs`.
#[derive(Args, Debug)]
pub struct RunsCmd {
    /// Where runs are kept (default ~/.local/state/exorun/runs)
    #[arg(long, env = "EXORUN_RUNS_DIR", value_name = "DIR")]
    runs_dir: Option<PathBuf>,
}

impl RunsCmd {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let dir = self.runs_dir.or_else(default_runs_dir).context(
            "there is no home directory for the runs: pass --runs-dir DIR or set EXORUN_RUNS_DIR",
        )?;
        let runs = list(&dir)?;
        let mut out = std::io::stdout().lock();
        if runs.is_empty() {
            eprintln!("exorun: no runs in {}", dir.display());
            return Ok(ExitCode::SUCCESS);
        }
        writeln!(
            out,
            "{:<36}  {:<20}  {:<19}  {:<28}  {:>6}  {:>6}",
            "RUN", "WORKFLOW", "STARTED (UTC)", "STATE", "DONE", "FAILED"
        )?;
        for run in runs {
            // A partial failure says how partial: "failed: 18 of 40 items".
            let state = match run.state {
                RunState::Failed if run.failed > 0 => format!(
                    "failed: {} of {} items",
                    run.failed,
                    run.failed + run.succeeded
                ),
                state => state.to_string(),
            };
            let state = if run.dry_run {
                format!("{state} (dry)")
            } else {
                state
            };
            writeln!(
                out,
                "{:<36}  {:<20}  {:<19}  {:<28}  {:>6}  {:>6}",
                run.id,
                run.workflow,
                run.started.format("%Y-%m-%d %H:%M:%S"),
                state,
                run.succeeded,
                run.failed
            )?;
        }
        Ok(ExitCode::SUCCESS)
    }
}
