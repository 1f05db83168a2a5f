//! `exorun workflow check|graph`: one file per subcommand under `workflow/`.

mod check;
mod graph;

use std::process::ExitCode;

use clap::Subcommand;

/// Workflow commands.
#[derive(Subcommand, Debug)]
pub enum WorkflowCmd {
    /// Check a workflow file: its structure, then each step's plugin (there, its pinned digest,
    /// its signatures, admitted by the policy as `exorun run` would).
    Check(check::CheckCmd),
    /// Draw a workflow's steps: what waits for what, fan-outs, conditions, error handling.
    Graph(graph::GraphCmd),
}

impl WorkflowCmd {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            WorkflowCmd::Check(cmd) => cmd.run(),
            WorkflowCmd::Graph(cmd) => cmd.run(),
        }
    }
}
