//! `exorun workflow resume RUN-ID`: runs again what a stopped run did not finish, with the
//! same file, inputs, dry run and shard; what finished is not run again.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use exorun::digest::sha256_hex;
use exorun::workflow::journal::JournalState;
use exorun::workflow::runs::{RunState, find, summary};
use exorun::workflow::{Workflow, WorkflowError};

use super::super::ConnectionArgs;
use super::super::client::ServerArgs;
use super::launch::{LaunchArgs, launch};
use super::remote::resume_on;

/// Options of `workflow resume`.
#[derive(Args, Debug)]
pub struct ResumeCmd {
    /// The run's id (`exorun workflow runs` lists them), or enough of its start to be unique.
    run: String,
    /// Ask the service (`exorun serve`) to resume one of your runs there: it checks the caller
    /// rules in force again.
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    launch: LaunchArgs,
}

impl ResumeCmd {
    /// Runs the command.
    pub async fn run(self, args: &ConnectionArgs) -> anyhow::Result<ExitCode> {
        if self.server.server.is_some() {
            let client = self
                .server
                .client(args.access_token_command.clone().map(|c| c.0))
                .await?;
            let id = client.run_id(&self.run, "workflow").await?;
            return resume_on(
                &client,
                &id,
                self.launch.output,
                self.launch.plan_out.as_deref(),
            )
            .await;
        }
        let runs = self.launch.runs_dir()?;
        let dir = find(&runs, &self.run)?;
        let state = summary(&dir)?;
        if state.state == RunState::Succeeded {
            eprintln!(
                "exorun: run {} already succeeded; resuming it runs nothing again",
                state.id
            );
        }
        let header = JournalState::read(&dir)?
            .header
            .context("the run's journal has no header")?;
        let text = std::fs::read(&header.file).with_context(|| {
            format!(
                "run {} was of the workflow {}, which cannot be read now",
                header.id,
                header.file.display()
            )
        })?;
        if sha256_hex(&text) != header.digest {
            anyhow::bail!(
                "{} changed since run {} started (sha256 {} then, {} now): resuming would run a different workflow; put the file back, or start a new run with `exorun workflow run`",
                header.file.display(),
                header.id,
                header.digest,
                sha256_hex(&text)
            );
        }
        let workflow = match Workflow::load(&header.file) {
            Ok(workflow) => workflow,
            Err(WorkflowError::Invalid { problems }) => {
                for problem in problems {
                    eprintln!("{problem}");
                }
                return Ok(ExitCode::FAILURE);
            }
            Err(other) => return Err(other.into()),
        };
        launch(&workflow, &header, &dir, &self.launch, args).await
    }
}
