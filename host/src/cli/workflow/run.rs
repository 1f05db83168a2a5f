//! `exorun workflow run FILE`: starts a new run of a workflow (see [`super::launch`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::Utc;
use clap::Args;

use exorun::audit::RunId;
use exorun::digest::sha256_hex;
use exorun::workflow::engine::Shard;
use exorun::workflow::journal::{JournalError, JournalState, RunHeader};
use exorun::workflow::{Workflow, WorkflowError};

use super::super::ConnectionArgs;
use super::super::client::ServerArgs;
use super::launch::{LaunchArgs, command_line_tenant, launch};
use super::remote::RemoteRun;

/// Options of `workflow run`.
#[derive(Args, Debug)]
pub struct RunCmd {
    /// The workflow file (.toml); with --server, the name of one of the service's workflows.
    file: PathBuf,
    /// Ask the service (`exorun serve`) to run it: the service holds the credential and its
    /// caller rules decide.
    #[command(flatten)]
    server: ServerArgs,
    /// With --server: print the run's id once it is queued instead of following it.
    #[arg(long, requires = "server")]
    no_wait: bool,
    /// A workflow input, typed as the file declares it (repeatable): NAME=VALUE.
    #[arg(long = "input", value_name = "NAME=VALUE", value_parser = name_value)]
    inputs: Vec<(String, String)>,
    /// Rehearse: every step runs, reads are sent, changes are recorded (audit log, plan), not
    /// sent.
    #[arg(long)]
    dry_run: bool,
    /// Run only shard K of N of every fan-out (e.g. 2/8), so a scheduler can spread a big run
    /// over machines; each item is in exactly one shard.
    #[arg(long, value_name = "K/N", value_parser = Shard::parse)]
    shard: Option<Shard>,
    /// The run's id, for a scheduler that restarts what it started (e.g. the job's name and
    /// shard): a run with this id that stopped is resumed, one that finished is not run again.
    /// Letters, digits, '.', '_' and '-'. Default: a new random id.
    #[arg(long, value_name = "ID", value_parser = run_id)]
    run_id: Option<String>,
    #[command(flatten)]
    launch: LaunchArgs,
}

/// `NAME=VALUE`, as PowerShell users also write it (`-Name:Value` is not a thing here).
fn name_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!(
            "'{text}' is not NAME=VALUE: give each input as --input user=ann@contoso.com"
        )),
    }
}

/// A run id given by hand: it names a directory, so plain characters only.
fn run_id(text: &str) -> Result<String, String> {
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if plain && !text.is_empty() && !text.starts_with('.') && text.len() <= 100 {
        Ok(text.to_string())
    } else {
        Err(format!(
            "'{text}' cannot be a run id: use up to 100 letters, digits, '.', '_' and '-', not starting with '.' (e.g. inventory-2026-11-29-shard-3)"
        ))
    }
}

impl RunCmd {
    /// Runs the command.
    pub async fn run(self, args: &ConnectionArgs) -> anyhow::Result<ExitCode> {
        if self.server.server.is_some() {
            return self.run_on(args).await;
        }
        let workflow = match Workflow::load(&self.file) {
            Ok(workflow) => workflow,
            Err(WorkflowError::Invalid { problems }) => {
                for problem in problems {
                    eprintln!("{problem}");
                }
                return Ok(ExitCode::FAILURE);
            }
            Err(other) => return Err(other.into()),
        };
        let inputs = workflow.inputs.bind(&self.inputs)?;
        let text = std::fs::read(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        let file = std::path::absolute(&self.file).unwrap_or_else(|_| self.file.clone());
        let id = self
            .run_id
            .clone()
            .unwrap_or_else(|| RunId::new().to_string());
        let tenants = workflow
            .target
            .profiles()
            .into_iter()
            .map(|p| p.map_or_else(|| command_line_tenant(args), str::to_string))
            .collect();
        let header = RunHeader {
            id: id.clone(),
            workflow: workflow.name.clone(),
            file,
            digest: sha256_hex(&text),
            inputs,
            tenants,
            dry_run: self.dry_run,
            shard: self.shard.map(|s| (s.index, s.count)),
            started: Utc::now(),
        };
        let dir = self.launch.runs_dir()?.join(&id);
        let earlier = JournalState::read(&dir);
        if let Err(JournalError::Unstarted { .. }) = earlier {
            eprintln!(
                "exorun: run {id} stopped as it started, before its journal's header was on disk: starting it over (what it left is set aside in {}/set-aside-<time>)",
                dir.display()
            );
        }
        if let Ok(earlier) = earlier
            && let Some(started) = earlier.header
        {
            let same = started.digest == header.digest
                && started.inputs == header.inputs
                && started.dry_run == header.dry_run
                && started.shard == header.shard;
            if !same {
                anyhow::bail!(
                    "run {id} already exists ({}) with another workflow file, inputs, dry run or shard: give another --run-id, or `exorun workflow resume {id}` to go on with it as it started",
                    dir.display()
                );
            }
            eprintln!("exorun: run {id} exists: resuming it (what finished is not run again)");
            return launch(&workflow, &started, &dir, &self.launch, args).await;
        }
        launch(&workflow, &header, &dir, &self.launch, args).await
    }
}

impl RunCmd {
    /// Asks the service to run its workflow named like `file`, and follows it.
    async fn run_on(&self, args: &ConnectionArgs) -> anyhow::Result<ExitCode> {
        if self.shard.is_some() {
            anyhow::bail!(
                "--shard splits a run over machines you run it on; the service runs the whole run: leave out --shard with --server"
            );
        }
        if self.launch.plan_out.is_some() && !self.dry_run {
            return Err(super::super::usage(anyhow::anyhow!(
                "--plan-out saves a dry run's plan, and this is not a dry run, so nothing was asked of the service\n  fix: add --dry-run to rehearse and save the plan, or leave out --plan-out to make the changes"
            )));
        }
        let name = self.file.to_string_lossy();
        let client = self
            .server
            .client(args.access_token_command.clone().map(|c| c.0))
            .await?;
        RemoteRun {
            name: &name,
            inputs: &self.inputs,
            dry_run: self.dry_run,
            run_id: self.run_id.as_deref(),
            no_wait: self.no_wait,
            output: self.launch.output,
            plan_out: self.launch.plan_out.as_deref(),
        }
        .run(&client)
        .await
    }
}
