//! `exorun workflow run|resume|runs|records|check|graph`: one file per subcommand under `workflow/`.

mod check;
mod events;
mod graph;
mod launch;
mod records;
mod remote;
mod resume;
mod run;
mod runs;
mod summary;

use std::process::ExitCode;

use clap::Subcommand;

use super::{ConnectionArgs, SignedIn};

/// Workflow commands.
#[derive(Subcommand, Debug)]
pub enum WorkflowCmd {
    /// Run a workflow against its tenants: steps as a DAG, fan-out, journaled so it can be
    /// resumed; --dry-run rehearses every change and prints the plan.
    Run(SignedIn<run::RunCmd>),
    /// Resume a run that stopped (killed, crashed, failed items): what finished is not run
    /// again, the rest runs with the same inputs.
    Resume(SignedIn<resume::ResumeCmd>),
    /// List the runs kept on this machine (with --server: your workflow runs on the service),
    /// newest first, with where each stands.
    Runs(runs::RunsCmd),
    /// Write a run's results (a step's records) as a table, JSON, JSON Lines or CSV.
    Records(records::RecordsCmd),
    /// Check a workflow file: its structure, then each step's plugin (there, its pinned digest,
    /// its signatures, admitted by the policy as `exorun run` would).
    Check(check::CheckCmd),
    /// Draw a workflow's steps: what waits for what, fan-outs, conditions, error handling.
    Graph(graph::GraphCmd),
}

impl WorkflowCmd {
    /// Runs the command; `before` are the sign-in options given before `workflow`.
    pub async fn run(self, before: ConnectionArgs) -> anyhow::Result<ExitCode> {
        match self {
            WorkflowCmd::Run(c) => c.command.run(&c.sign_in.over(before)).await,
            WorkflowCmd::Resume(c) => c.command.run(&c.sign_in.over(before)).await,
            WorkflowCmd::Runs(cmd) => cmd.run(before.access_token_command.map(|c| c.0)).await,
            WorkflowCmd::Records(cmd) => cmd.run(before.access_token_command.map(|c| c.0)).await,
            WorkflowCmd::Check(cmd) => cmd.run(),
            WorkflowCmd::Graph(cmd) => cmd.run(),
        }
    }
}
