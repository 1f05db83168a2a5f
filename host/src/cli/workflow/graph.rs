//! `exorun workflow graph FILE`: the steps drawn as a tree an admin can read in a terminal
//! (plain text when piped).

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use exorun::workflow::{Workflow, WorkflowError, graph};

/// Options of `workflow graph`.
#[derive(Args, Debug)]
pub struct GraphCmd {
    /// The workflow file (.toml).
    file: PathBuf,
}

impl GraphCmd {
    /// Draws the workflow; a file with problems prints them instead (exit 1). Plugins need not
    /// be built: only the file is read.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let text = std::fs::read_to_string(&self.file).map_err(|e| WorkflowError::Read {
            path: self.file.clone(),
            reason: e.to_string(),
        })?;
        let workflow = match Workflow::parse(&text, &self.file) {
            Ok(workflow) => workflow,
            Err(WorkflowError::Invalid { problems }) => {
                for problem in problems {
                    eprintln!("{problem}");
                }
                return Ok(ExitCode::FAILURE);
            }
            Err(other) => return Err(other.into()),
        };
        let stdout = std::io::stdout();
        let colour = super::super::use_colour(
            stdout.is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        );
        stdout
            .lock()
            .write_all(graph::render(&workflow, colour).as_bytes())?;
        Ok(ExitCode::SUCCESS)
    }
}
