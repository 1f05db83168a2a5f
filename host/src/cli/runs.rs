//! `exorun runs`: your runs on the service (`--server`): list them, show one, its records,
//! cancel it; approve or reject another's (also as `exorun approve` and `exorun reject`).

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::client::{ServerArgs, ServerClient};
use super::output::{Format, RowSink};

/// The service and who you are to it.
#[derive(Args, Debug)]
pub struct Reach {
    #[command(flatten)]
    pub server: ServerArgs,
    /// With an https server: the command that prints your Entra ID access token for the
    /// service, e.g. 'az account get-access-token --resource api://exorun' (its JSON's
    /// accessToken is taken) [env: EXORUN_ACCESS_TOKEN_COMMAND]
    #[arg(long, value_name = "COMMAND")]
    access_token_command: Option<String>,
}

impl Reach {
    /// A client of the service named, with the token command given here, else `before` (the
    /// one given before the subcommand), else EXORUN_ACCESS_TOKEN_COMMAND.
    pub async fn client(&self, before: Option<Vec<String>>) -> anyhow::Result<ServerClient> {
        let words = self
            .access_token_command
            .as_deref()
            .map(exorun::config::split_command)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        self.server.client(words.or(before)).await
    }
}

/// Options of `exorun runs`.
#[derive(Args, Debug)]
pub struct RunsCmd {
    #[command(flatten)]
    reach: Reach,
    #[command(subcommand)]
    action: Option<RunsAction>,
}

/// `exorun approve [ID]`: `exorun runs approve`.
#[derive(Args, Debug)]
pub struct ApproveCmd {
    #[command(flatten)]
    reach: Reach,
    /// The run's id (without it: the runs you may approve).
    id: Option<String>,
    /// Why (kept with the approval).
    #[arg(long, default_value = "")]
    comment: String,
}

impl ApproveCmd {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        RunsCmd {
            reach: self.reach,
            action: Some(RunsAction::Approve {
                id: self.id,
                comment: self.comment,
            }),
        }
        .run()
        .await
    }
}

/// `exorun reject ID --comment …`: `exorun runs reject`.
#[derive(Args, Debug)]
pub struct RejectCmd {
    #[command(flatten)]
    reach: Reach,
    /// The run's id.
    id: String,
    /// Why (kept with the rejection and shown to the requester).
    #[arg(long)]
    comment: String,
}

impl RejectCmd {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        RunsCmd {
            reach: self.reach,
            action: Some(RunsAction::Reject {
                id: self.id,
                comment: self.comment,
            }),
        }
        .run()
        .await
    }
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
        /// Output format.
        #[arg(long, value_enum, default_value = "jsonl")]
        output: Format,
        /// A workflow run's step (default: its one step with records).
        #[arg(long)]
        step: Option<String>,
        /// Only this tenant's records of a workflow run.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Cancel a queued or running run.
    Cancel {
        /// The run's id.
        id: String,
    },
    /// Approve a run waiting for your approval, after showing its plan; without an id, list
    /// the runs you may approve.
    Approve {
        /// The run's id.
        id: Option<String>,
        /// Why (kept with the approval).
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Reject a run waiting for your approval: it never runs.
    Reject {
        /// The run's id.
        id: String,
        /// Why (kept with the rejection and shown to the requester).
        #[arg(long)]
        comment: String,
    },
}

impl RunsCmd {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let client = self.reach.client(None).await?;
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
            RunsAction::Records {
                id,
                output,
                step,
                tenant,
            } => {
                let mut sink = RowSink::new(out, output, Vec::new());
                client
                    .each_record(&id, step.as_deref(), tenant.as_deref(), |row| {
                        sink.write_row(&row)?;
                        Ok(true)
                    })
                    .await?;
                sink.finish()?;
                return Ok(ExitCode::SUCCESS);
            }
            RunsAction::Approve { id: None, .. } => {
                let pending = client.get("/approvals").await?;
                writeln!(
                    out,
                    "{:<36}  {:<24}  {:<20}  CHANGES",
                    "RUN", "ASKED BY", "PLUGIN"
                )?;
                for run in pending.as_array().into_iter().flatten() {
                    writeln!(
                        out,
                        "{:<36}  {:<24}  {:<20}  {}",
                        run["id"].as_str().unwrap_or_default(),
                        run["principal"].as_str().unwrap_or_default(),
                        run["target"].as_str().unwrap_or_default(),
                        run["plan"]["changes"].as_array().map_or(0, Vec::len)
                    )?;
                }
            }
            RunsAction::Approve {
                id: Some(id),
                comment,
            } => {
                let run = client.get(&format!("/runs/{id}")).await?;
                eprintln!(
                    "run {id}: {} asks to run {} {} with {}; the plan:",
                    run["principal"].as_str().unwrap_or_default(),
                    run["target"].as_str().unwrap_or_default(),
                    run["version"].as_str().unwrap_or_default(),
                    run["input"]
                );
                for change in run["plan"]["changes"].as_array().into_iter().flatten() {
                    eprintln!(
                        "  {} {}",
                        change["cmdlet"].as_str().unwrap_or_default(),
                        change["parameters"]
                    );
                }
                let body = serde_json::json!({"plan_hash": run["plan_hash"], "comment": comment});
                let (_, answer) = client.post(&format!("/runs/{id}/approve"), &body).await?;
                writeln!(
                    out,
                    "run {id}: {}",
                    answer["state"].as_str().unwrap_or_default()
                )?;
            }
            RunsAction::Reject { id, comment } => {
                let body = serde_json::json!({"comment": comment});
                let (_, answer) = client.post(&format!("/runs/{id}/reject"), &body).await?;
                writeln!(
                    out,
                    "run {id}: {}",
                    answer["state"].as_str().unwrap_or_default()
                )?;
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
