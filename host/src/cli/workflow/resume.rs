//! `exorun workflow resume RUN-ID`: runs again what a stopped run did not finish, with the
//! same file, inputs, dry run and shard; what finished is not run again.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use exorun::plugin::artifact::digest;
use exorun::workflow::journal::JournalState;
use exorun::workflow::runs::{RunState, find, summary};
use exorun::workflow::{Workflow, WorkflowError};

use super::super::ConnectionArgs;
use super::launch::{LaunchArgs, launch};

/// Options of `workflow resume`.
#[derive(Args, Debug)]
pub struct ResumeCmd {
    /// The run's id (`exorun workflow runs` lists them), or enough of its start to be unique.
    run: String,
    #[command(flatten)]
    launch: LaunchArgs,
}

impl ResumeCmd {
    /// Runs the command.
    pub async fn run(self, args: &ConnectionArgs) -> anyhow::Result<ExitCode> {
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
        if digest(&text) != header.digest {
            anyhow::bail!(
                "{} changed since run {} started (sha256 {} then, {} now): resuming would run a different workflow; put the file back, or start a new run with `exorun workflow run`",
                header.file.display(),
                header.id,
                header.digest,
                digest(&text)
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
