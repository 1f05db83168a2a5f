//! `exorun workflow check FILE`: the file's structure (every problem, with its place; and
//! warnings, such as a value written into a filter without `opath(…)`), then
//! each step's plugin as `exorun run` would take it: the file there, its pinned digest, its
//! signatures, and admitted by the operator's policy (found as `run` finds it, through the
//! profiles the workflow runs against).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use exorun::config::ConfigFile;
use exorun::policy::{Policy, Submitted};
use exorun::workflow::{Problem, Step, Workflow, WorkflowError};

use super::super::args::config_path;
use super::super::output::count;
use super::super::policy::PolicyArg;

/// Options of `workflow check`.
#[derive(Args, Debug)]
pub struct CheckCmd {
    /// The workflow file (.toml).
    file: PathBuf,
    #[command(flatten)]
    policy: PolicyArg,
    /// Config file with the profiles the workflow runs against, whose `policy` applies when
    /// --policy is not given (default ~/.config/exorun/config.toml) [env: EXORUN_CONFIG]
    #[arg(long, value_name = "FILE")]
    config_file: Option<PathBuf>,
}

impl CheckCmd {
    /// Checks the workflow: problems and warnings to stderr, one per line; a summary to stdout
    /// when there are no problems (exit 0, warnings or not), else exit 1.
    pub fn run(self) -> anyhow::Result<ExitCode> {
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
        for warning in &workflow.warnings {
            eprintln!("{warning}");
        }
        let policies = self.policies(&workflow)?;
        let mut refused = 0;
        for policy in &policies {
            for (step, others) in by_plugin(&workflow.steps) {
                if let Some(problem) = admit(&workflow, policy, step, &others) {
                    eprintln!("{problem}");
                    refused += 1;
                }
            }
        }
        if refused > 0 {
            return Ok(ExitCode::FAILURE);
        }
        let origins: Vec<&str> = policies.iter().map(Policy::origin).collect();
        println!(
            "ok: {} — {}, {}, plugins admitted by {}",
            workflow.name,
            count(workflow.steps.len() as u64, "step", "steps"),
            count(workflow.inputs.len() as u64, "input", "inputs"),
            origins.join(", ")
        );
        Ok(ExitCode::SUCCESS)
    }

    /// The policies the workflow's steps run under: `--policy`, else the policy of each profile
    /// it runs against (else the default places), each once. None found is `exorun run`'s error.
    fn policies(&self, workflow: &Workflow) -> anyhow::Result<Vec<Policy>> {
        let plugins: Vec<&Path> = by_plugin(&workflow.steps)
            .iter()
            .map(|(step, _)| step.plugin.path.as_path())
            .collect();
        let mut sources: Vec<Option<PathBuf>> = Vec::new();
        if self.policy.policy.is_some() {
            sources.push(None);
        } else {
            for profile in workflow.target.profiles() {
                let from_profile = self.profile_policy(profile)?;
                if !sources.contains(&from_profile) {
                    sources.push(from_profile);
                }
            }
        }
        let mut policies: Vec<Policy> = Vec::new();
        for from_profile in sources {
            let policy = self.policy.load(from_profile, &plugins)?;
            if !policies.iter().any(|p| p.origin() == policy.origin()) {
                policies.push(policy);
            }
        }
        Ok(policies)
    }

    /// The `policy` of config profile `profile` (`None`: the one the command line would use).
    fn profile_policy(&self, profile: Option<&str>) -> anyhow::Result<Option<PathBuf>> {
        let name = profile.map(str::to_string).or_else(|| {
            std::env::var("EXORUN_PROFILE")
                .ok()
                .filter(|v| !v.is_empty())
        });
        match config_path(self.config_file.clone()) {
            (Some(path), must_exist) => Ok(ConfigFile::load(&path, must_exist)?
                .settings(name.as_deref(), &path)?
                .policy),
            (None, _) => match name {
                Some(name) => anyhow::bail!(
                    "the workflow runs against profile '{name}', and there is no config file to read it from: pass --config-file, or name the policy with --policy"
                ),
                None => Ok(None),
            },
        }
    }
}

/// Each distinct plugin with the first step that runs it and the ids of the others that do.
fn by_plugin(steps: &[Step]) -> Vec<(&Step, Vec<&str>)> {
    let mut out: Vec<(&Step, Vec<&str>)> = Vec::new();
    for step in steps {
        match out
            .iter_mut()
            .find(|(first, _)| first.plugin.path == step.plugin.path)
        {
            Some((_, others)) => others.push(&step.id),
            None => out.push((step, Vec::new())),
        }
    }
    out
}

/// Why `policy` would not run `step`'s plugin, as `exorun run` says it, at the step's `plugin`
/// line; `None` when it would.
fn admit(workflow: &Workflow, policy: &Policy, step: &Step, others: &[&str]) -> Option<Problem> {
    let what = match Submitted::read(&step.plugin.path).and_then(|a| policy.vet(a)) {
        Ok(vetted) if step.plugin.admits(&vetted.content_digest) => return None,
        Ok(vetted) => format!(
            "{} changed while it was checked: its content digest is now sha256:{}, and the step pins sha256:{}",
            step.plugin.path.display(),
            vetted.content_digest,
            step.plugin.digest.as_deref().unwrap_or_default()
        ),
        Err(refusal) => refusal.to_string(),
    };
    let steps = if others.is_empty() {
        format!("step '{}'", step.id)
    } else {
        format!("step '{}' (and {})", step.id, others.join(", "))
    };
    Some(Problem {
        file: workflow.file.clone(),
        at: step.plugin.at,
        what: format!("{steps}: {what}"),
        fix: String::new(),
    })
}
