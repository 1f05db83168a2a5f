//! What `workflow run` and `workflow resume` share: the tenants signed in, each step's plugin
//! vetted by the policy and loaded, the run's lock taken, the engine run, the result shown.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use exorun::Connector;
use exorun::config::Settings;
use exorun::exchange::ExchangeClient;
use exorun::runtime::{LogProgress, Runtime, RuntimeSettings};
use exorun::workflow::admission::vet_step;
use exorun::workflow::engine::{Engine, StepPlugin, Tenant};
use exorun::workflow::journal::RunHeader;
use exorun::workflow::report;
use exorun::workflow::runs::{RunLock, default_runs_dir};
use exorun::workflow::slots::alive;
use exorun::workflow::{Step, Workflow};

use super::super::ConnectionArgs;
use super::super::args::Profiles;
use super::super::policy::PolicyArg;
use super::events::CliEvents;
use super::summary;

/// What the run's result is printed as on stdout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Shown {
    /// A summary table per tenant, the outputs, failures and (dry run) the plan.
    #[default]
    Table,
    /// The whole result as one JSON document.
    Json,
}

/// Options `run` and `resume` share.
#[derive(Args, Debug, Clone)]
pub struct LaunchArgs {
    #[command(flatten)]
    pub policy: PolicyArg,
    /// Where runs are kept (default ~/.local/state/exorun/runs)
    #[arg(long, env = "EXORUN_RUNS_DIR", value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,
    /// Where compiled plugins are cached (default ~/.cache/exorun/compiled)
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// How the result is printed on stdout.
    #[arg(long, value_enum, default_value_t = Shown::Table)]
    pub output: Shown,
    /// Save a dry run's plan (every change that would be made, per tenant and item) as JSON;
    /// only with a dry run, as a run that makes the changes has no plan.
    #[arg(long, value_name = "FILE")]
    pub plan_out: Option<PathBuf>,
}

impl LaunchArgs {
    /// The runs directory.
    pub fn runs_dir(&self) -> anyhow::Result<PathBuf> {
        self.runs_dir.clone().or_else(default_runs_dir).context(
            "there is no home directory for the runs: pass --runs-dir DIR or set EXORUN_RUNS_DIR",
        )
    }
}

/// The name the command line's own tenant is shown by: its profile, else `default`.
pub fn command_line_tenant(args: &ConnectionArgs) -> String {
    args.profile
        .clone()
        .or_else(|| {
            std::env::var("EXORUN_PROFILE")
                .ok()
                .filter(|v| !v.is_empty())
        })
        .unwrap_or_else(|| "default".into())
}

/// Runs (or resumes) the run `header` describes, of `workflow`, in `dir`.
pub async fn launch(
    workflow: &Workflow,
    header: &RunHeader,
    dir: &Path,
    launch: &LaunchArgs,
    args: &ConnectionArgs,
) -> anyhow::Result<ExitCode> {
    if let Some(path) = &launch.plan_out
        && !header.dry_run
    {
        return Err(super::super::usage(anyhow::anyhow!(
            "--plan-out saves a dry run's plan, and run {} is not a dry run, so nothing was run or sent and {} was not written\n  fix: add --dry-run to rehearse and save the plan, or leave out --plan-out to make the changes",
            header.id,
            path.display()
        )));
    }
    let settings = args.settings()?;
    // Every tenant's connection shares one HTTPS client and one handle on the audit log.
    let connector = Arc::new(Connector::new());
    let profiles = args.profiles()?;
    let tenants = tenants(workflow, args, &profiles, &settings, &connector)?;
    let plugins = vet_steps(workflow, launch, &settings, &profiles, &connector).await?;
    if let Some((index, count)) = header.shard {
        for step in workflow.steps.iter().filter(|s| s.for_each.is_none()) {
            if plugins.steps[&step.id].plugin.manifest().mutates {
                anyhow::bail!(
                    "{}:{}: step '{}' changes things and has no for_each, so every shard would run it (this is shard {index}/{count}): give it a for_each, or run the workflow without --shard",
                    workflow.file,
                    step.at,
                    step.id
                );
            }
        }
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot make the run's directory {}", dir.display()))?;
    let _lock = RunLock::acquire(dir, &header.id)?;
    let events = CliEvents::new(header.dry_run);
    let engine = Engine {
        runtime: &plugins.runtime,
        workflow,
        plugins: &plugins.steps,
        tenants: &tenants,
        events: &events,
        progress: Arc::new(LogProgress),
    };
    let result = engine.run(header, dir).await;
    events.finish();
    let result = result?;
    let report = report::write_run_report(workflow, header, &result, &plugins.steps, dir);
    summary::show(workflow, header, &result, launch)?;
    match report {
        Ok(path) => eprintln!("exorun: report: {}", path.display()),
        Err(error) => {
            eprintln!("exorun: warning: the run's report could not be written: {error:#}")
        }
    }
    Ok(if result.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The tenants the workflow runs against: the command line's, or each named profile's (with
/// the command line's audit log), each signed in through `connector` when the run comes to it.
/// A profile that cannot be read stops the run; a tenant whose connection cannot be opened is
/// a failed tenant of it.
fn tenants(
    workflow: &Workflow,
    args: &ConnectionArgs,
    profiles: &Profiles,
    settings: &Settings,
    connector: &Arc<Connector>,
) -> anyhow::Result<Vec<Tenant>> {
    workflow
        .target
        .profiles()
        .into_iter()
        .map(|profile| {
            let (name, settings) = match profile {
                None => (command_line_tenant(args), settings.clone()),
                Some(name) => {
                    let mut profile = profiles.settings(name).with_context(|| {
                        format!("workflow {} runs against profile '{name}'", workflow.name)
                    })?;
                    profile.audit_log.clone_from(&settings.audit_log);
                    profile.audit_key.clone_from(&settings.audit_key);
                    (name.to_string(), profile)
                }
            };
            let (connector, shown) = (connector.clone(), name.clone());
            Ok(Tenant::deferred(name, move || {
                let (connector, settings, name) =
                    (connector.clone(), settings.clone(), shown.clone());
                async move { open_tenant(connector, settings, name).await }
            }))
        })
        .collect()
}

/// Opens a tenant's connection off the async workers (reading and decrypting a certificate is
/// blocking work); a tenant that cannot be opened fails on its own, and the others run.
async fn open_tenant(
    connector: Arc<Connector>,
    settings: Settings,
    name: String,
) -> Result<ExchangeClient, String> {
    let opened = tokio::task::spawn_blocking(move || connector.open(settings))
        .await
        .map_err(|e| format!("opening the connection stopped: {e}"))?;
    opened
        .map(|connection| connection.exchange().clone())
        .map_err(|error| {
            let error = anyhow::Error::from(error);
            eprintln!("exorun: warning: cannot sign in to tenant '{name}': {error:#}");
            format!("{error:#}")
        })
}

/// The loaded plugins of a run, by step id.
struct Loaded {
    runtime: Runtime,
    steps: HashMap<String, StepPlugin>,
}

/// Each step's plugin checked as `exorun run` checks one — signatures, the policy, the step's
/// pinned digest — then loaded once however many steps run it.
async fn vet_steps(
    workflow: &Workflow,
    launch: &LaunchArgs,
    settings: &Settings,
    profiles: &Profiles,
    connector: &Connector,
) -> anyhow::Result<Loaded> {
    let paths: Vec<&Path> = workflow
        .steps
        .iter()
        .map(|s| s.plugin.path.as_path())
        .collect();
    let policy = launch.policy.load(settings.policy.clone(), &paths)?;
    let mut runtime_settings = RuntimeSettings::default();
    if let Some(dir) = &launch.cache_dir {
        runtime_settings.cache_dir = Some(dir.clone());
    }
    // Fan-outs run up to their max_parallel items at once, and keep more alive while some
    // wait out a throttle.
    let widest = workflow
        .steps
        .iter()
        .filter_map(|s| s.for_each.as_ref().map(|f| f.max_parallel))
        .max()
        .unwrap_or(1);
    runtime_settings.max_concurrent_runs = runtime_settings
        .max_concurrent_runs
        .max(u32::try_from(alive(widest)).unwrap_or(u32::MAX).min(512));
    let runtime = Runtime::new(runtime_settings)?;
    let mut steps = HashMap::new();
    let mut loaded: HashMap<PathBuf, StepPlugin> = HashMap::new();
    for step in &workflow.steps {
        if let Some(done) = loaded.get(&step.plugin.path) {
            steps.insert(step.id.clone(), done.clone());
            continue;
        }
        let vetted = load_step(
            &policy, step, &runtime, workflow, settings, profiles, connector,
        )
        .await?;
        loaded.insert(step.plugin.path.clone(), vetted.clone());
        steps.insert(step.id.clone(), vetted);
    }
    Ok(Loaded { runtime, steps })
}

/// A step's plugin vetted ([`vet_step`]), loaded from the checked bytes, with the connection
/// of the credential profile its rule names.
async fn load_step(
    policy: &exorun::policy::Policy,
    step: &Step,
    runtime: &Runtime,
    workflow: &Workflow,
    settings: &Settings,
    profiles: &Profiles,
    connector: &Connector,
) -> anyhow::Result<StepPlugin> {
    let vetted = vet_step(policy, workflow, step)?;
    let at = format!("{}:{}: step '{}'", workflow.file, step.plugin.at, step.id);
    let grant = &vetted.grant;
    // The policy's credential for this plugin; the command line's audit log still records it.
    let exchange = match &grant.profile {
        None => None,
        Some(profile) => {
            let mut own = profiles.settings(profile).with_context(|| {
                format!(
                    "{at}: the policy ({}) runs {} with profile '{profile}'",
                    grant.source, grant.plugin
                )
            })?;
            own.audit_log.clone_from(&settings.audit_log);
            own.audit_key.clone_from(&settings.audit_key);
            Some(connector.open(own)?.exchange().clone())
        }
    };
    for withheld in &grant.withheld {
        eprintln!(
            "exorun: policy: {} (step '{}') runs without {withheld}",
            grant.plugin, step.id
        );
    }
    let plugin = runtime.load(&vetted).await.with_context(|| at.clone())?;
    let limits = plugin.default_limits().within(&grant.caps);
    Ok(StepPlugin {
        plugin,
        grant: Arc::new(vetted.grant),
        limits,
        exchange,
    })
}
