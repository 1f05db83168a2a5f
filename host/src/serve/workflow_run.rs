//! A workflow run in the service: the workflow file it was asked of, each step's plugin as the
//! policy in force admits it, its tenants signed in with the service's profiles, run by the
//! same engine `exorun workflow run` uses, with its journal in the run's directory. A run the
//! killed service (or a stopped replica) left is taken up from that journal: nothing finished
//! runs again, and no change is sent twice beyond one per item in flight.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use exorun::audit::{CallContext, CallerRef};
use exorun::caller::Caller;
use exorun::runtime::ProgressSink;
use exorun::workflow::engine::{Engine, StepPlugin, Tenant};
use exorun::workflow::fanout::{ItemResult, StepEvents};
use exorun::workflow::journal::{ItemOutcome, JournalState, RunHeader};
use exorun::workflow::outcome;
use exorun::workflow::report::write_run_report;
use exorun::workflow::runs::RunLock;
use exorun::workflow::slots::Waits;

use super::service::{Events, Service};
use super::state::{RunEnding, RunRow, RunState};
use super::store::{Loaded, StoredWorkflow};

/// How often a step's progress is written as an event at most (its last item always is).
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

impl Service {
    /// Runs (or takes up again) workflow run `run` for `caller`, approved by `approved_by`;
    /// `None` when it made the dry-run plan of a run that waits for approval.
    pub(super) async fn run_workflow(
        self: &Arc<Self>,
        run: &RunRow,
        loaded: &Loaded,
        caller: &Caller,
        approved_by: Vec<String>,
        events: &Events,
    ) -> Result<Option<RunEnding>, String> {
        let stored = loaded
            .workflow(&run.target)
            .map_err(|missing| missing.to_string())?;
        if stored.digest != run.digest {
            return Err(format!(
                "workflow {}'s file changed since the run was asked for (it was sha256:{}, it is sha256:{} now): submit it again",
                run.target, run.digest, stored.digest
            ));
        }
        let workflow = &stored.workflow;
        let inputs = workflow
            .inputs
            .bind_json(&run.input_object())
            .map_err(|e| format!("its input no longer fits the workflow: {e}"))?;
        let dry_run = run.dry_run || run.planning;
        // The plan approvers see is a run of its own: the real run never takes it up.
        let dir = if run.planning {
            self.config.runs_dir.join(format!("{}.plan", run.id))
        } else {
            self.config.runs_dir.join(&run.id)
        };
        exorun::durable::create_dir_synced(&dir)
            .map_err(|e| format!("cannot make the run's directory {}: {e}", dir.display()))?;
        let _lock = RunLock::acquire(&dir, &run.id).map_err(|e| e.to_string())?;
        let context = CallContext {
            caller: Some(CallerRef::of(caller, approved_by)),
            ..CallContext::default()
        };
        // Each tenant is signed in when the run comes to it (the engine bounds how many at once).
        let mut tenants = Vec::new();
        for profile in workflow.target.profiles() {
            let name = profile
                .or(self.config.profile.as_deref())
                .unwrap_or("default")
                .to_string();
            let (service, profile, context) =
                (self.clone(), profile.map(str::to_string), context.clone());
            tenants.push(Tenant::deferred(name, move || {
                let (service, profile, context) =
                    (service.clone(), profile.clone(), context.clone());
                async move {
                    service
                        .connection(profile.as_deref())
                        .await
                        .map(|c| c.exchange().clone().with_context(context))
                }
            }));
        }
        let header = RunHeader {
            id: run.id.clone(),
            workflow: workflow.name.clone(),
            file: stored.path.clone(),
            digest: stored.digest.clone(),
            inputs,
            tenants: tenants.iter().map(|t| t.name.clone()).collect(),
            dry_run,
            shard: None,
            started: chrono::Utc::now(),
        };
        let (header, resumed) = taken_up(&dir, header)?;
        if resumed {
            let _ = events.send((
                "log",
                json!({"level": "info", "message": "taken up again from its journal: what finished before is not run again"}),
            ));
        }
        let plugins = self.step_plugins(stored, &context).await?;
        let bridge = EventBridge::new(events.clone());
        let engine = Engine {
            runtime: &self.runtime,
            workflow,
            plugins: &plugins,
            tenants: &tenants,
            events: &bridge,
            progress: Arc::new(bridge.clone()),
        };
        let result = engine.run(&header, &dir).await.map_err(|e| e.to_string())?;
        if let Err(error) = write_run_report(workflow, &header, &result, &plugins, &dir) {
            tracing::warn!(run = %run.id, "the run's report could not be written: {error}");
        }
        let summary = json!({
            "workflow": workflow.name,
            "dry_run": dry_run,
            "succeeded": result.succeeded(),
            "tenants": outcome::tenants_json(&result),
        });
        let records = i64::try_from(outcome::records(&result)).unwrap_or(i64::MAX);
        if run.planning {
            let plan = json!({
                "changes": outcome::plan(&result),
                "records": records,
                "summary": summary,
            });
            let plan_hash = exorun::digest::sha256_hex(plan.to_string().as_bytes());
            self.state
                .set_plan(&run.id, &plan, &plan_hash)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(None);
        }
        let mut summary = summary;
        if dry_run {
            summary["plan"] = Value::Array(outcome::plan(&result));
        }
        Ok(Some(RunEnding {
            state: if result.succeeded() {
                RunState::Succeeded
            } else {
                RunState::Failed
            },
            error: outcome::failure_line(&result),
            summary: Some(summary),
            records,
            calls: 0,
            denied: 0,
        }))
    }

    /// Each step's plugin, as the policy read with the workflow admits it, loaded once per
    /// build, with the client of the profile its rule names.
    async fn step_plugins(
        &self,
        stored: &StoredWorkflow,
        context: &CallContext,
    ) -> Result<HashMap<String, StepPlugin>, String> {
        let mut plugins = HashMap::new();
        let mut by_digest: HashMap<String, StepPlugin> = HashMap::new();
        for (step, vetted) in &stored.steps {
            if let Some(done) = by_digest.get(&vetted.content_digest) {
                plugins.insert(step.clone(), done.clone());
                continue;
            }
            let plugin = self.runtime.load(vetted).await.map_err(|e| e.to_string())?;
            let grant = vetted.grant.clone();
            let exchange = match &grant.profile {
                None => None,
                Some(profile) => Some(
                    self.connection(Some(profile))
                        .await?
                        .exchange()
                        .clone()
                        .with_context(context.clone()),
                ),
            };
            let limits = plugin.default_limits().within(&grant.caps);
            let loaded = StepPlugin {
                plugin,
                grant: Arc::new(grant),
                limits,
                exchange,
            };
            by_digest.insert(vetted.content_digest.clone(), loaded.clone());
            plugins.insert(step.clone(), loaded);
        }
        Ok(plugins)
    }
}

/// The header to run under, and whether the run is taken up again: `header` for a new run, or
/// the one the run's journal in `dir` started with (the same workflow file, inputs and dry run,
/// or the journal is not this request's).
fn taken_up(dir: &Path, header: RunHeader) -> Result<(RunHeader, bool), String> {
    // No journal, or one cut before its header was on disk: the engine starts the run over
    // (and says so); a journal it cannot read stops it there.
    let Ok(JournalState {
        header: Some(started),
        ..
    }) = JournalState::read(dir)
    else {
        return Ok((header, false));
    };
    if started.digest == header.digest
        && started.inputs == header.inputs
        && started.dry_run == header.dry_run
    {
        Ok((started, true))
    } else {
        Err(format!(
            "the journal in {} was started with another workflow file, inputs or dry run: the run cannot be taken up again; submit it anew",
            dir.display()
        ))
    }
}

/// A step's progress as the service shows it: how many of its items are done.
#[derive(Clone, Copy)]
struct StepCount {
    total: usize,
    done: usize,
    shown: Instant,
}

/// The engine's step events and plugins' progress reports, as the run's events: a step
/// starting, its progress (at most every [`PROGRESS_EVERY`], and its end), failed items,
/// retries and throttling waits as log lines.
#[derive(Clone)]
struct EventBridge {
    events: Events,
    steps: Arc<std::sync::Mutex<HashMap<(String, String), StepCount>>>,
}

impl EventBridge {
    fn new(events: Events) -> EventBridge {
        EventBridge {
            events,
            steps: Arc::default(),
        }
    }

    fn send(&self, kind: &'static str, data: Value) {
        let _ = self.events.send((kind, data));
    }
}

impl StepEvents for EventBridge {
    fn started(&self, step: &str, tenant: &str, total: usize, done: usize) {
        self.steps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                (step.to_string(), tenant.to_string()),
                StepCount {
                    total,
                    done,
                    shown: Instant::now(),
                },
            );
        self.send(
            "step",
            json!({"step": step, "tenant": tenant, "total": total, "done": done}),
        );
    }

    fn item_ended(&self, step: &str, tenant: &str, item: &ItemResult) {
        if item.outcome == ItemOutcome::Failed {
            self.send(
                "log",
                json!({"level": "warn", "step": step, "tenant": tenant,
                    "message": format!("item {} failed: {}", item.label, item.error.as_deref().unwrap_or("no reason given"))}),
            );
        }
        let shown = {
            let mut steps = self
                .steps
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(count) = steps.get_mut(&(step.to_string(), tenant.to_string())) else {
                return;
            };
            count.done += 1;
            let due = count.done >= count.total || count.shown.elapsed() >= PROGRESS_EVERY;
            if due {
                count.shown = Instant::now();
            }
            due.then_some(*count)
        };
        if let Some(count) = shown {
            self.send(
                "progress",
                json!({"step": step, "tenant": tenant, "done": count.done, "total": count.total}),
            );
        }
    }

    fn retrying(&self, step: &str, tenant: &str, label: &str, error: &str, wait: Duration) {
        self.send(
            "log",
            json!({"level": "info", "step": step, "tenant": tenant,
                "message": format!("item {label} failed ({error}): trying again in {} s", wait.as_secs())}),
        );
    }

    fn throttled(&self, step: &str, tenant: &str, waits: Waits) {
        self.send(
            "throttle",
            json!({"step": step, "tenant": tenant, "waiting": waits.waiting,
                "throttled": waits.throttled, "waited_seconds": waits.waited.as_secs_f64()}),
        );
    }
}

impl ProgressSink for EventBridge {
    fn report(&self, plugin: &str, done: u64, total: u64, message: &str) {
        self.send(
            "progress",
            json!({"plugin": plugin, "done": done, "total": total, "message": message}),
        );
    }
}
