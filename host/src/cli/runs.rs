//! `exorun runs`: your runs on the service (`--server`): list them, show one, its records,
//! cancel it.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::client::ServerClient;

/// Options of `exorun runs`.
#[derive(Args, Debug)]
pub struct RunsCmd {
    /// The service's address, e.g. unix:/run/exorun/exorun.sock.
    #[arg(long, env = "EXORUN_SERVER", value_name = "ADDRESS", required = true)]
    server: Option<String>,
    #[command(subcommand)]
    action: Option<RunsAction>,
}

/// What to do with runs (default: list them).
#[derive(Subcommand, Debug)]
enum RunsAction {
    /// List your runs, newest first.
    List {
        /// Only runs in this state (queued, running, succeeded, failed, pending-approval, ...).
        #[arg(long)]
        state: Option<String>,
    },
    /// Show one run as JSON.
    Show {
        /// The run's id.
        id: String,
    },
    /// Print a run's records.
    Records {
        /// The run's id.
        id: String,
        /// jsonl, json or csv.
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "json", "csv"])]
        output: String,
    },
    /// Cancel a queued or running run.
    Cancel {
        /// The run's id.
        id: String,
    },
}

impl RunsCmd {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let client = ServerClient::new(self.server.as_deref().unwrap_or_default())?;
        let mut out = std::io::stdout().lock();
        match self.action.unwrap_or(RunsAction::List { state: None }) {
            RunsAction::List { state } => {
                let query = state.map(|s| format!("?state={s}")).unwrap_or_default();
                let runs = client.get(&format!("/runs{query}")).await?;
                writeln!(
                    out,
                    "{:<36}  {:<20}  {:<16}  {:<19}  {:>7}",
                    "RUN", "PLUGIN", "STATE", "SUBMITTED (UTC)", "RECORDS"
                )?;
                for run in runs.as_array().into_iter().flatten() {
                    let submitted = chrono::DateTime::from_timestamp_millis(
                        run["submitted_at"].as_i64().unwrap_or(0),
                    )
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default();
                    let state = match run["dry_run"].as_bool() {
                        Some(true) => {
                            format!("{} (dry)", run["state"].as_str().unwrap_or_default())
                        }
                        _ => run["state"].as_str().unwrap_or_default().to_string(),
                    };
                    writeln!(
                        out,
                        "{:<36}  {:<20}  {:<16}  {:<19}  {:>7}",
                        run["id"].as_str().unwrap_or_default(),
                        run["target"].as_str().unwrap_or_default(),
                        state,
                        submitted,
                        run["records"]
                    )?;
                }
            }
            RunsAction::Show { id } => {
                let run = client.get(&format!("/runs/{id}")).await?;
                writeln!(out, "{}", serde_json::to_string_pretty(&run)?)?;
            }
            RunsAction::Records { id, output } => {
                let text = client
                    .get_text(&format!("/runs/{id}/records?format={output}"))
                    .await?;
                out.write_all(text.as_bytes())?;
            }
            RunsAction::Cancel { id } => {
                let (_, answer) = client
                    .post(&format!("/runs/{id}/cancel"), &serde_json::json!({}))
                    .await?;
                writeln!(
                    out,
                    "run {id}: {}",
                    answer["state"].as_str().unwrap_or_default()
                )?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
