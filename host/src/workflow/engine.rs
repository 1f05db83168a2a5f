//! The engine: runs a checked [`Workflow`] against each of its tenants. Within a tenant the
//! steps run as a DAG (a step starts once everything it needs has finished; independent steps
//! run side by side); a step runs once, or once per item of its `for_each`, through
//! [`run_step`] (pooled instances, journaled tries, retries, `on_error`). Every plugin run is
//! under the operator's grant for its plugin (the caller vets each step's plugin and passes the
//! grant) and audited with the workflow's run id. The journal in the run's directory lets a
//! killed run resume: nothing finished runs again.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

use super::eval::Context;
use super::expr::Key;
use super::fanout::{
    Item, ItemResult, OnError as ItemsOnError, Retry, RunFiles, StepError, StepEvents, StepPlan,
    StepResult, run_step,
};
use super::journal::{Entry, ItemOutcome, JournalError, RunHeader};
use super::runs;
use super::spec::{Step, Then, Workflow};
use super::template::Template;
use crate::audit::{CallContext, RunId};
use crate::digest::sha256_hex;
use crate::exchange::ExchangeClient;
use crate::policy::Grant;
use crate::runtime::{Plugin, ProgressSink, RunLimits, Runtime};

/// How many tenants of a run are worked on at once: each signs in (its credential read, its
/// first token asked for) when its turn comes, so sign-ins overlap with other tenants' steps,
/// and what a tenant holds while it runs (its step's records file, its requests in flight) is
/// held for this many, however many tenants the run has.
pub const TENANTS_AT_ONCE: usize = 32;

/// How many tenants' connections are opened at once (reading and decrypting a certificate is
/// CPU work: more at once would only queue on the cores).
pub const SIGN_INS_AT_ONCE: usize = 4;

/// Opens a tenant's Exchange client (its audit log records every call), or says why it
/// cannot be opened (its credential unreadable...).
pub type OpenTenant =
    Box<dyn Fn() -> BoxFuture<'static, Result<ExchangeClient, String>> + Send + Sync>;

/// A tenant the workflow runs against: the profile's name and how its client is opened.
pub struct Tenant {
    /// The profile's name (`default` for the command line's).
    pub name: String,
    /// Opens its client when the run comes to the tenant. When it cannot be opened, none of
    /// its steps runs and the tenant fails, while the other tenants run, and a resumed run
    /// tries it again.
    pub open: OpenTenant,
}

impl Tenant {
    /// A tenant whose client `open` opens when the run comes to it.
    pub fn deferred<F>(name: String, open: impl Fn() -> F + Send + Sync + 'static) -> Tenant
    where
        F: Future<Output = Result<ExchangeClient, String>> + Send + 'static,
    {
        Tenant {
            name,
            open: Box::new(move || Box::pin(open())),
        }
    }
}

/// A step's plugin, vetted by the caller: loaded, and what the policy grants it.
#[derive(Clone)]
pub struct StepPlugin {
    /// The plugin.
    pub plugin: Arc<Plugin>,
    /// Its grant.
    pub grant: Arc<Grant>,
    /// Each run's limits (the plugin's own, within the policy's caps).
    pub limits: RunLimits,
    /// The client of the credential profile the policy runs this plugin with, used instead of
    /// the tenant's (`None`: the tenant's).
    pub exchange: Option<ExchangeClient>,
}

/// One part of a run split over machines: items whose key falls in shard `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// Which shard, from 1.
    pub index: u32,
    /// How many shards.
    pub count: u32,
}

impl Shard {
    /// `K/N` with 1 ≤ K ≤ N, as `--shard` takes it; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "'{text}' is not a shard: give K/N, shard K (from 1) of N, e.g. --shard 2/8 (a Kubernetes Indexed Job's index is from 0: --shard $((JOB_COMPLETION_INDEX + 1))/N)"
            )
        };
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether the item with `key` is this shard's: the same answer on every machine.
    pub fn takes(&self, key: &str) -> bool {
        let hash = sha256_hex(key.as_bytes());
        let bucket = u64::from_str_radix(&hash[..16], 16).unwrap_or(0) % u64::from(self.count);
        bucket == u64::from(self.index - 1)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// How a step ended for one tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepStatus {
    /// Every item that ran succeeded.
    Succeeded,
    /// Items failed (the step says `continue`, or the run stopped on it).
    Failed,
    /// Its condition was false (no item ran).
    Skipped,
    /// It never started: the run stopped first, or something it needs did not run.
    NotRun,
}

/// A step's result for one tenant.
#[derive(Clone, Debug)]
pub struct StepSummary {
    /// The step's id.
    pub id: String,
    /// How it ended.
    pub status: StepStatus,
    /// Its items (one for a step without `for_each`).
    pub result: StepResult,
    /// Each item's value, in the items' order (`null` for a step without `for_each`).
    pub values: Vec<Value>,
    /// Why it did not run, or why it failed before any item ran (a template error).
    pub error: Option<String>,
    /// How long it ran.
    pub duration: Duration,
}

/// The run's result for one tenant.
#[derive(Clone, Debug)]
pub struct TenantResult {
    /// The tenant (profile name).
    pub tenant: String,
    /// Each step, in the workflow's order.
    pub steps: Vec<StepSummary>,
    /// The workflow's outputs, rendered over the finished steps (an output that cannot be
    /// rendered holds the error text).
    pub outputs: Map<String, Value>,
}

impl TenantResult {
    /// Whether everything that ran succeeded.
    pub fn succeeded(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s.status, StepStatus::Succeeded | StepStatus::Skipped))
    }
}

/// The result of a run (or of the part of it this attempt ran, for a resumed run).
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The run's id.
    pub id: RunId,
    /// Its directory.
    pub dir: PathBuf,
    /// Per tenant.
    pub tenants: Vec<TenantResult>,
}

impl RunResult {
    /// Whether every tenant's run succeeded.
    pub fn succeeded(&self) -> bool {
        self.tenants.iter().all(TenantResult::succeeded)
    }
}

/// Why a run could not go on (failed items are not this: they are in the result).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The journal could not be written or read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A step could not go on (records, audit log).
    #[error(transparent)]
    Step(#[from] StepError),
    /// The run's directory could not be used.
    #[error(transparent)]
    Runs(#[from] runs::RunsError),
    /// A step has no plugin (the caller did not vet it).
    #[error("step '{0}' has no plugin loaded")]
    NoPlugin(String),
}

/// What a run needs: the runtime, the workflow and its vetted plugins, its tenants.
pub struct Engine<'a> {
    /// Runs the plugins.
    pub runtime: &'a Runtime,
    /// The checked workflow.
    pub workflow: &'a Workflow,
    /// Each step's plugin, by step id.
    pub plugins: &'a HashMap<String, StepPlugin>,
    /// Its tenants, in the order to report them.
    pub tenants: &'a [Tenant],
    /// Step events (progress bars, logs).
    pub events: &'a dyn StepEvents,
    /// Plugins' own progress reports.
    pub progress: Arc<dyn ProgressSink>,
}

impl Engine<'_> {
    /// Runs (or, when its journal in `dir` already exists, resumes) the run `header` describes;
    /// the caller holds the run's lock. Tenants run side by side, [`TENANTS_AT_ONCE`] at a
    /// time, each signed in when its turn comes; the run's journal ends with how it went, on
    /// disk before this returns.
    pub async fn run(&self, header: &RunHeader, dir: &Path) -> Result<RunResult, EngineError> {
        let runs::Opened {
            journal, earlier, ..
        } = runs::open(dir, header)?;
        let journal = Arc::new(journal);
        let id = RunId::named(&header.id);
        let files = RunFiles {
            journal: &journal,
            earlier: &earlier,
            dir,
        };
        let keep = kept_records(self.workflow);
        let sign_ins = Semaphore::new(SIGN_INS_AT_ONCE);
        let mut waiting = self.tenants.iter();
        let mut running = FuturesUnordered::new();
        let mut tenants: Vec<(usize, Result<TenantResult, EngineError>)> =
            Vec::with_capacity(self.tenants.len());
        loop {
            while running.len() < TENANTS_AT_ONCE
                && let Some(tenant) = waiting.next()
            {
                let index = tenants.len() + running.len();
                let ran = self.sign_in_and_run(header, id, tenant, &sign_ins, &files, &keep);
                running.push(async move { (index, ran.await) });
            }
            let Some(ended) = running.next().await else {
                break;
            };
            tenants.push(ended);
        }
        tenants.sort_unstable_by_key(|(index, _)| *index);
        let tenants = tenants
            .into_iter()
            .map(|(_, result)| result)
            .collect::<Result<Vec<_>, _>>()?;
        let result = RunResult {
            id,
            dir: dir.to_path_buf(),
            tenants,
        };
        let ended = journal.write(&Entry::RunEnd {
            succeeded: result.succeeded(),
            ended: Utc::now(),
        })?;
        kill_point!("journal-run-end-written");
        journal.stored(ended).await?;
        Ok(result)
    }

    /// Signs in to `tenant` (waiting for one of the run's `sign_ins` turns), then runs its steps.
    async fn sign_in_and_run(
        &self,
        header: &RunHeader,
        id: RunId,
        tenant: &Tenant,
        sign_ins: &Semaphore,
        files: &RunFiles<'_>,
        keep: &HashSet<String>,
    ) -> Result<TenantResult, EngineError> {
        let exchange = {
            let _turn = sign_ins
                .acquire()
                .await
                .expect("the semaphore is never closed");
            (tenant.open)().await
        };
        self.run_tenant(header, id, tenant, exchange, files, keep)
            .await
    }

    /// The steps for one tenant, as a DAG.
    async fn run_tenant(
        &self,
        header: &RunHeader,
        id: RunId,
        tenant: &Tenant,
        exchange: Result<ExchangeClient, String>,
        files: &RunFiles<'_>,
        keep: &HashSet<String>,
    ) -> Result<TenantResult, EngineError> {
        let exchange = match &exchange {
            Ok(exchange) => exchange.clone().with_context(CallContext {
                workflow: Some(id),
                ..exchange.context().clone()
            }),
            Err(why) => return Ok(self.signed_out(tenant, why)),
        };
        let mut context = Map::new();
        context.insert("inputs".into(), Value::Object(header.inputs.clone()));
        context.insert("steps".into(), Value::Object(Map::new()));
        context.insert("tenant".into(), Value::String(tenant.name.clone()));
        context.insert(
            "run".into(),
            json!({"id": header.id, "dry_run": header.dry_run}),
        );
        let mut done: HashMap<String, StepSummary> = HashMap::new();
        let mut started: HashSet<String> = HashSet::new();
        let mut stop: Option<String> = None;
        let mut running = FuturesUnordered::new();
        loop {
            if stop.is_none() {
                for step in &self.workflow.steps {
                    let ready = step.needs.iter().all(|n| done.contains_key(n));
                    if ready && !started.contains(&step.id) {
                        started.insert(step.id.clone());
                        let blocked = step
                            .needs
                            .iter()
                            .find(|n| matches!(done[*n].status, StepStatus::NotRun));
                        if let Some(need) = blocked {
                            done.insert(
                                step.id.clone(),
                                not_run(
                                    step,
                                    format!("not run: it needs step '{need}', which did not run"),
                                ),
                            );
                            continue;
                        }
                        let snapshot = Value::Object(context.clone());
                        running.push(
                            self.run_one(header, tenant, &exchange, step, snapshot, files, keep),
                        );
                    }
                }
            }
            let Some(finished) = running.next().await else {
                break;
            };
            let summary = finished?;
            let step = self
                .workflow
                .step(&summary.id)
                .expect("a finished step is the workflow's");
            if summary.status == StepStatus::Failed
                && (step.on_error.then == Then::Fail || summary.result.stopped)
            {
                stop.get_or_insert_with(|| summary.id.clone());
            }
            if let Some(Value::Object(steps)) = context.get_mut("steps") {
                steps.insert(
                    summary.id.clone(),
                    step_value(step, &summary, keep.contains(&summary.id)),
                );
            }
            done.insert(summary.id.clone(), summary);
            // Steps whose needs will never finish are settled when nothing runs any more.
        }
        let steps = self
            .workflow
            .steps
            .iter()
            .map(|step| {
                done.remove(&step.id).unwrap_or_else(|| {
                    let why = match &stop {
                        Some(failed) => {
                            format!("not run: step '{failed}' failed and says on_error = \"fail\"")
                        }
                        None => "not run".to_string(),
                    };
                    not_run(step, why)
                })
            })
            .collect();
        let outputs = self
            .workflow
            .outputs
            .iter()
            .map(|(name, template)| {
                let value = template
                    .render(&context)
                    .unwrap_or_else(|e| Value::String(format!("(not available: {e})")));
                (name.clone(), value)
            })
            .collect();
        Ok(TenantResult {
            tenant: tenant.name.clone(),
            steps,
            outputs,
        })
    }

    /// The result of a tenant that could not be signed in to: no step ran.
    fn signed_out(&self, tenant: &Tenant, why: &str) -> TenantResult {
        TenantResult {
            tenant: tenant.name.clone(),
            steps: self
                .workflow
                .steps
                .iter()
                .map(|step| {
                    not_run(
                        step,
                        format!(
                            "not run: tenant '{}' cannot be signed in to: {why}",
                            tenant.name
                        ),
                    )
                })
                .collect(),
            outputs: Map::new(),
        }
    }

    /// One step for one tenant: its items, its condition, its run.
    #[allow(clippy::too_many_arguments)]
    async fn run_one(
        &self,
        header: &RunHeader,
        tenant: &Tenant,
        exchange: &ExchangeClient,
        step: &Step,
        context: Value,
        files: &RunFiles<'_>,
        keep: &HashSet<String>,
    ) -> Result<StepSummary, EngineError> {
        let started = Instant::now();
        let plugin = self
            .plugins
            .get(&step.id)
            .ok_or_else(|| EngineError::NoPlugin(step.id.clone()))?;
        let items = match items(step, &context, header) {
            Ok(items) => items,
            Err(error) => {
                return Ok(StepSummary {
                    id: step.id.clone(),
                    status: StepStatus::Failed,
                    result: StepResult::default(),
                    values: Vec::new(),
                    error: Some(error),
                    duration: started.elapsed(),
                });
            }
        };
        let config = step
            .config
            .iter()
            .map(|(key, template)| Ok((key.clone(), template.render_text(&context)?)))
            .collect::<Result<_, super::eval::EvalError>>();
        let config = match config {
            Ok(config) => config,
            Err(error) => {
                return Ok(StepSummary {
                    id: step.id.clone(),
                    status: StepStatus::Failed,
                    result: StepResult::default(),
                    values: Vec::new(),
                    error: Some(format!("config of step '{}': {error}", step.id)),
                    duration: started.elapsed(),
                });
            }
        };
        let plan = StepPlan {
            step: step.id.clone(),
            tenant: tenant.name.clone(),
            plugin: plugin.plugin.clone(),
            grant: plugin.grant.clone(),
            exchange: match &plugin.exchange {
                Some(own) => own.clone().with_context(exchange.context().clone()),
                None => exchange.clone(),
            },
            config,
            limits: plugin.limits,
            dry_run: header.dry_run,
            max_parallel: step.for_each.as_ref().map_or(1, |f| f.max_parallel),
            retry: Retry {
                attempts: step.on_error.retries.saturating_add(1),
                backoff: step.on_error.backoff,
            },
            on_error: match step.on_error.then {
                Then::Fail => ItemsOnError::Fail,
                Then::Continue => ItemsOnError::Continue,
            },
            keep_records: keep.contains(&step.id),
        };
        let runnable: Vec<Item> = items
            .iter()
            .filter_map(|p| {
                p.input.as_ref().map(|input| Item {
                    key: p.key.clone(),
                    label: p.label.clone(),
                    input: input.clone(),
                })
            })
            .collect();
        let ran = if runnable.is_empty() {
            StepResult::default()
        } else {
            run_step(
                self.runtime,
                files,
                &plan,
                runnable,
                self.progress.clone(),
                self.events,
            )
            .await?
        };
        // Back in the items' order, those the condition skipped in their places.
        let mut ran_items = ran.items.into_iter();
        let mut result = StepResult {
            stopped: ran.stopped,
            items: Vec::with_capacity(items.len()),
        };
        let mut values = Vec::with_capacity(items.len());
        for prepared in items {
            let item = match prepared.input {
                Some(_) => ran_items.next().expect("one result per item run"),
                None => ItemResult::skipped(prepared.key, prepared.label),
            };
            result.items.push(item);
            values.push(prepared.value);
        }
        let status = if result.failed() > 0 {
            StepStatus::Failed
        } else if result.count(ItemOutcome::Succeeded) == 0 {
            StepStatus::Skipped
        } else {
            StepStatus::Succeeded
        };
        Ok(StepSummary {
            id: step.id.clone(),
            status,
            result,
            values,
            error: None,
            duration: started.elapsed(),
        })
    }
}

/// An item made ready: its input, or `None` when the step's condition skips it.
struct Prepared {
    key: String,
    label: String,
    /// The item's value (`null` for a step without `for_each`).
    value: Value,
    input: Option<String>,
}

/// The roots of a step's context, with `item` set for one item of a fan-out.
struct ItemContext<'a> {
    base: &'a Value,
    item: &'a Value,
}

impl Context for ItemContext<'_> {
    fn root(&self, name: &str) -> Option<&Value> {
        match name {
            "item" => Some(self.item),
            other => self.base.root(other),
        }
    }
}

/// A step's items for this run (this shard's, for a fan-out), in order; the text of the first
/// template error, if any.
fn items(step: &Step, context: &Value, header: &RunHeader) -> Result<Vec<Prepared>, String> {
    let what = |e: super::eval::EvalError| format!("step '{}': {e}", step.id);
    let prepare = |key: String, label: String, scope: &dyn Context| -> Result<Prepared, String> {
        let runs = match &step.when {
            Some(condition) => condition.holds(scope).map_err(what)?,
            None => true,
        };
        let input = if runs {
            let input = step.input.render(scope).map_err(what)?;
            if !input.is_object() {
                return Err(format!(
                    "step '{}': its input must be an object, not {}",
                    step.id,
                    super::eval::describe(&input)
                ));
            }
            Some(input.to_string())
        } else {
            None
        };
        Ok(Prepared {
            key,
            label,
            value: scope.root("item").cloned().unwrap_or(Value::Null),
            input,
        })
    };
    let Some(fan_out) = &step.for_each else {
        return Ok(vec![prepare(String::new(), step.id.clone(), context)?]);
    };
    let values = fan_out.items(context).map_err(what)?;
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut prepared = Vec::with_capacity(values.len());
    for value in &values {
        let key = item_key(value, &mut seen);
        if header
            .shard
            .is_some_and(|(index, count)| !Shard { index, count }.takes(&key))
        {
            continue;
        }
        let scope = ItemContext {
            base: context,
            item: value,
        };
        prepared.push(prepare(key, label(value), &scope)?);
    }
    Ok(prepared)
}

/// An item's key: the digest of its value, and which repeat of an equal value it is.
fn item_key(value: &Value, seen: &mut HashMap<String, u32>) -> String {
    let hash = sha256_hex(value.to_string().as_bytes())[..20].to_string();
    let repeat = seen.entry(hash.clone()).or_insert(0);
    *repeat += 1;
    match *repeat {
        1 => hash,
        n => format!("{hash}-{n}"),
    }
}

/// How people see an item: the text itself, or a naming field of an object.
fn label(value: &Value) -> String {
    const NAMES: [&str; 12] = [
        "key",
        "identity",
        "Identity",
        "upn",
        "user",
        "mailbox",
        "group",
        "UserPrincipalName",
        "PrimarySmtpAddress",
        "Mailbox",
        "Name",
        "name",
    ];
    match value {
        Value::String(text) => text.clone(),
        Value::Object(map) => NAMES
            .iter()
            .find_map(|n| map.get(*n).and_then(Value::as_str))
            .map_or_else(|| short(&value.to_string()), str::to_string),
        other => short(&other.to_string()),
    }
}

fn short(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// A step that never started.
fn not_run(step: &Step, why: String) -> StepSummary {
    StepSummary {
        id: step.id.clone(),
        status: StepStatus::NotRun,
        result: StepResult::default(),
        values: Vec::new(),
        error: Some(why),
        duration: Duration::ZERO,
    }
}

/// What later steps see of a finished step (the contract `docs/workflow.md` states): `status`,
/// `output` (the summary; for a `for_each` step the list of the items' summaries), `records`
/// (when a later template reads them), `items` (for a `for_each` step: `{item, status,
/// output}` each) and `counts` (items, succeeded, failed, skipped).
fn step_value(step: &Step, summary: &StepSummary, with_records: bool) -> Value {
    let items = &summary.result.items;
    let output_of = |i: &ItemResult| i.output.clone().unwrap_or(Value::Null);
    let status_of = |outcome: ItemOutcome| match outcome {
        ItemOutcome::Succeeded => "succeeded",
        ItemOutcome::Failed => "failed",
        ItemOutcome::Skipped => "skipped",
    };
    let records: Vec<Value> = if with_records {
        items
            .iter()
            .flat_map(|i| i.kept.iter().cloned().map(Value::Object))
            .collect()
    } else {
        Vec::new()
    };
    let mut value = json!({
        "status": match summary.status {
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::NotRun => "not-run",
        },
        "records": records,
        "counts": {
            "items": items.len(),
            "succeeded": summary.result.count(ItemOutcome::Succeeded),
            "failed": summary.result.failed(),
            "skipped": summary.result.count(ItemOutcome::Skipped),
        },
    });
    if step.for_each.is_some() {
        value["output"] = Value::Array(items.iter().map(output_of).collect());
        value["items"] = Value::Array(
            items
                .iter()
                .zip(&summary.values)
                .map(|(i, item)| json!({"item": item, "status": status_of(i.outcome), "output": output_of(i)}))
                .collect(),
        );
    } else {
        value["output"] = items.first().map_or(Value::Null, output_of);
    }
    value
}

/// The steps whose records a template reads (`steps.<id>.records`): only those are kept in
/// memory.
fn kept_records(workflow: &Workflow) -> HashSet<String> {
    let mut templates: Vec<&Template> = Vec::new();
    for step in &workflow.steps {
        templates.extend(step.input.templates());
        templates.extend(step.config.iter().map(|(_, t)| t));
        if let Some(condition) = &step.when {
            templates.push(condition.template());
        }
        if let Some(super::spec::FanOut {
            source: super::spec::ItemSource::Values(values),
            ..
        }) = &step.for_each
        {
            templates.extend(values.templates());
        }
    }
    for (_, output) in &workflow.outputs {
        templates.extend(output.templates());
    }
    templates
        .iter()
        .flat_map(|t| t.paths())
        .filter(|path| path.root == "steps")
        .filter_map(|path| match path.segments.as_slice() {
            [step, records, ..] if records.key == Key::Field("records".into()) => match &step.key {
                Key::Field(id) => Some(id.clone()),
                Key::Index(_) => None,
            },
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_items_exactly_once() {
        let keys: Vec<String> = (0..1000).map(|i| format!("item-{i}")).collect();
        let shards: Vec<Shard> = (1..=7).map(|index| Shard { index, count: 7 }).collect();
        for key in &keys {
            assert_eq!(shards.iter().filter(|s| s.takes(key)).count(), 1, "{key}");
        }
        let sizes: Vec<usize> = shards
            .iter()
            .map(|s| keys.iter().filter(|k| s.takes(k)).count())
            .collect();
        assert!(sizes.iter().all(|&n| n > 100), "roughly even: {sizes:?}");
    }

    #[test]
    fn shard_text_is_checked() {
        assert_eq!(Shard::parse("2/8"), Ok(Shard { index: 2, count: 8 }));
        assert_eq!(Shard::parse(" 1 / 1 "), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/4", "5/4", "1/0", "2", "a/b", "-1/4", ""] {
            let e = Shard::parse(bad).unwrap_err();
            assert!(
                e.contains("K/N") && e.contains("JOB_COMPLETION_INDEX"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn items_are_keyed_by_value_and_repeat_and_labelled_by_name() {
        let mut seen = HashMap::new();
        let a = item_key(&json!("ann@contoso.com"), &mut seen);
        let again = item_key(&json!("ann@contoso.com"), &mut seen);
        let b = item_key(&json!("bob@contoso.com"), &mut seen);
        assert_ne!(a, b);
        assert_eq!(again, format!("{a}-2"));
        assert_eq!(
            label(&json!({"key": "a", "filter": "Name -like 'a*'"})),
            "a"
        );
        assert_eq!(label(&json!({"group": "Sales", "name": "x"})), "Sales");
        assert_eq!(label(&json!(42)), "42");
        assert!(label(&json!({"z": "y".repeat(100)})).ends_with('…'));
    }
}
