//! The service's core: the policy and store in force (swapped whole on reload), the state
//! database, and the worker pool that takes queued runs and runs them in-process through the
//! same library path `exorun run` takes (admission, runtime, gate, client). Workers hold a lease
//! on each run they take and renew it; a run whose lease ran out (a killed service) is queued
//! again when the service starts.

use std::collections::HashMap;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{Mutex, Notify, mpsc, watch};

use exorun::audit::{Audit, CallContext, CallerRef, Event, RequestRefused, RunId};
use exorun::caller::Caller;
use exorun::caller_token::TokenValidator;
use exorun::changes::FileJournal;
use exorun::config_cache::ConfigCache;
use exorun::policy::callers::{ApprovalStanding, Ask, Bound, standing};
use exorun::runtime::{
    FileCheckpoints, JsonLinesSink, ProgressSink, RecordSink, Requested, RunRequest, Runtime,
    RuntimeSettings,
};
use exorun::{Connection, Connector};

use super::config::ServeConfig;
use super::state::{Holding, RunEnding, RunRow, RunState, State, StateError, now_ms};
use super::store::Loaded;

/// Where a run's events go: the run's event writer.
pub type Events = mpsc::UnboundedSender<(&'static str, Value)>;

/// The service's shared parts.
pub struct Service {
    /// Its configuration.
    pub config: ServeConfig,
    /// Its state database.
    pub state: State,
    loaded: RwLock<Arc<Loaded>>,
    pub(super) runtime: Runtime,
    connections: Mutex<HashMap<String, Arc<Connection>>>,
    /// Opens the profiles' connections: one HTTPS client, one handle on the audit log.
    connector: Connector,
    /// The config file the profiles are read from, parsed again only when it changes.
    config_file: ConfigCache,
    /// The service's own audit log handle, for refused requests (the connector's).
    pub audit: Audit,
    /// Validates HTTPS callers' Entra ID tokens, when `[entra]` is configured.
    pub tokens: Option<TokenValidator>,
    wake: Notify,
    /// This process's name as a lease owner: host, pid and a random part (two containers may
    /// both be pid 1 on hosts of one name).
    pub owner: String,
    /// When this process last renewed its leases (before asking): past two thirds of a lease
    /// without a renewal, its workers stop their runs, as another replica may take them up.
    renewed: std::sync::Mutex<Instant>,
    /// Runs started by this process, for metrics.
    pub started: AtomicU64,
    /// What this process's connections did (requests by cmdlet and outcome, throttling waits,
    /// tokens), for metrics.
    pub telemetry: Arc<exorun::telemetry::Telemetry>,
    /// For each run with live followers here: the number of its last event.
    followed: std::sync::Mutex<HashMap<String, watch::Sender<i64>>>,
}

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The policy or store cannot be read.
    #[error("{0}")]
    Load(String),
    /// The runtime cannot start.
    #[error(transparent)]
    Runtime(#[from] exorun::runtime::RuntimeError),
    /// The state database cannot be opened.
    #[error(transparent)]
    State(#[from] StateError),
    /// The audit log cannot be opened.
    #[error(transparent)]
    Audit(#[from] exorun::audit::AuditError),
}

impl Service {
    /// Reads the policy and store, opens the database and the audit log.
    pub async fn start(config: ServeConfig) -> Result<Arc<Service>, StartError> {
        let loaded = Loaded::read(&config.policy, &config.plugins, config.workflows.as_deref())
            .map_err(StartError::Load)?;
        for why in &loaded.refused {
            tracing::warn!("plugin store: {why}");
        }
        let database = config
            .database_url()
            .map_err(|e| StartError::Load(e.to_string()))?;
        let state = State::connect(database.as_ref(), &config.state_dir).await?;
        let runtime = Runtime::new(RuntimeSettings {
            cache_dir: Some(config.state_dir.join("compiled")),
            max_concurrent_runs: plugin_slots(&config, &loaded),
            ..RuntimeSettings::default()
        })?;
        let telemetry = Arc::<exorun::telemetry::Telemetry>::default();
        let connector = Connector::observed(telemetry.clone());
        let audit = connector.audit(&config.audit_log, config.audit_key.as_deref())?;
        let config_file = ConfigCache::new(&config.config);
        let tokens = config
            .entra
            .as_ref()
            .map(TokenValidator::new)
            .transpose()
            .map_err(|e| {
                StartError::Load(format!("[entra] in {}: {e}", config.origin.display()))
            })?;
        let owner = format!(
            "{}:{}:{}",
            nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "host".into()),
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Ok(Arc::new(Service {
            config,
            state,
            loaded: RwLock::new(Arc::new(loaded)),
            runtime,
            connections: Mutex::new(HashMap::new()),
            connector,
            config_file,
            audit,
            tokens,
            wake: Notify::new(),
            owner,
            renewed: std::sync::Mutex::new(Instant::now()),
            started: AtomicU64::new(0),
            telemetry,
            followed: std::sync::Mutex::new(HashMap::new()),
        }))
    }

    /// The policy and store in force.
    pub fn loaded(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the policy and store again; on success they replace the ones in force, on failure
    /// the old ones stay and the error is given (and logged).
    pub fn reload(&self) -> Result<Arc<Loaded>, String> {
        match Loaded::read(
            &self.config.policy,
            &self.config.plugins,
            self.config.workflows.as_deref(),
        ) {
            Ok(loaded) => {
                for why in &loaded.refused {
                    tracing::warn!("plugin store: {why}");
                }
                let loaded = Arc::new(loaded);
                *self
                    .loaded
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = loaded.clone();
                tracing::info!(
                    policy = %loaded.policy.origin(),
                    digest = %loaded.policy.digest(),
                    plugins = loaded.plugins.len(),
                    "policy and plugin store loaded"
                );
                Ok(loaded)
            }
            Err(why) => {
                tracing::error!(
                    "the changed policy or store is refused, the one in force stays: {why}"
                );
                Err(why)
            }
        }
    }

    /// Records a refused request in the audit log.
    pub fn record_refusal(&self, caller: &Caller, request: &str, reason: &str) {
        let record = Event::Refused(RequestRefused {
            caller: CallerRef::of(caller, Vec::new()),
            request: request.to_string(),
            reason: reason.to_string(),
        });
        if let Err(e) = self.audit.record(record) {
            tracing::error!("cannot record a refused request in the audit log: {e}");
        }
    }

    /// A receiver that changes when run `id` gets an event in this process (events written
    /// by another replica are found by reading the database now and then).
    pub fn follow(&self, id: &str) -> watch::Receiver<i64> {
        self.followed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(id.to_string())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Adds an event to run `id` and wakes its followers.
    pub async fn add_event(&self, id: &str, kind: &str, data: &Value) {
        match self.state.add_event(id, kind, data).await {
            Ok(seq) => {
                let followed = self
                    .followed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(sender) = followed.get(id) {
                    sender.send_replace(seq);
                }
            }
            Err(e) => tracing::error!(run = %id, "cannot record an event: {e}"),
        }
    }

    /// Ends as `expired` the runs waiting for approval longer than their rule's
    /// `approval_hours` (under the policy in force); gives their ids.
    pub async fn expire_pending(&self) -> Result<Vec<String>, StateError> {
        let pending = self
            .state
            .list(&super::state::RunFilter {
                principal: None,
                state: Some(RunState::PendingApproval),
                kind: None,
                limit: 1000,
            })
            .await?;
        let loaded = self.loaded();
        let now = now_ms();
        let mut expired = Vec::new();
        for run in pending {
            let Ok(requester) = serde_json::from_str::<Caller>(&run.caller) else {
                continue;
            };
            let input = run.input_object();
            let ask = Ask {
                target: run.target(),
                input: &input,
                dry_run: run.dry_run,
            };
            let Some(approval) = loaded
                .policy
                .authorize(&requester, ask, 0)
                .ok()
                .and_then(|a| a.rule.approval.clone())
            else {
                continue;
            };
            if standing(&approval, &[], "", run.submitted_at, now) == ApprovalStanding::Expired {
                let why = format!("nobody approved it within {} h", approval.hours);
                if self
                    .state
                    .close_pending(&run.id, RunState::Expired, &why)
                    .await?
                {
                    self.ended(&run.id);
                    expired.push(run.id);
                }
            }
        }
        Ok(expired)
    }

    /// Wakes run `id`'s followers for its last time: it ended.
    pub fn ended(&self, id: &str) {
        if let Some(sender) = self
            .followed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id)
        {
            sender.send_replace(i64::MAX);
        }
    }

    /// Wakes a worker: a run was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Starts the worker pool and the lease keeper.
    pub fn spawn_workers(self: &Arc<Self>) {
        for n in 0..self.config.workers {
            let service = self.clone();
            tokio::spawn(async move { service.work(n).await });
        }
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(service.config.lease / 3).await;
                let asked = Instant::now();
                match service
                    .state
                    .heartbeat(&service.owner, service.config.lease)
                    .await
                {
                    Ok(()) => {
                        *service
                            .renewed
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = asked;
                    }
                    Err(e) => tracing::error!("cannot renew run leases: {e}"),
                }
                if let Err(e) = service.expire_pending().await {
                    tracing::error!("cannot look for requests nobody approved in time: {e}");
                }
                match service.state.requeue_expired().await {
                    Ok(ids) if !ids.is_empty() => {
                        tracing::warn!(runs = ?ids, "runs whose worker stopped are queued again");
                        service.wake.notify_waiters();
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!("cannot look for abandoned runs: {e}"),
                }
            }
        });
    }

    async fn work(self: Arc<Self>, n: usize) {
        let owner = self.owner.clone();
        loop {
            match self.state.claim(&owner, self.config.lease).await {
                Ok(Some(run)) => {
                    tracing::info!(worker = n, run = %run.id, target = %run.target, "run started");
                    self.started.fetch_add(1, Ordering::Relaxed);
                    let ending = match self.clone().execute(&run).await {
                        Outcome::Ended(ending) => ending,
                        Outcome::Planned => {
                            self.add_event(&run.id, "state", &json!({"state": "pending-approval"}))
                                .await;
                            continue;
                        }
                        Outcome::LeaseLost => {
                            tracing::warn!(run = %run.id, "stopped the run: this process could not keep its lease (paused, or cut off from the database), so another worker may take it up; it goes on from its journal where it is taken up");
                            self.add_event(&run.id, "log", &json!({"level": "warn", "message": "the worker running it lost its lease and stopped; it is taken up again from its journal"}))
                                .await;
                            continue;
                        }
                    };
                    match self.state.finish(&run.id, &owner, &ending).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(run = %run.id, "the run's lease ran out while it ran here and another worker took it up: that one records its end")
                        }
                        Err(e) => {
                            tracing::error!(run = %run.id, "cannot record the run's end: {e}")
                        }
                    }
                    self.ended(&run.id);
                }
                Ok(None) => {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await;
                }
                Err(e) => {
                    tracing::error!("cannot take a run from the queue: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Where run `id`'s records are written.
    pub fn records_path(&self, id: &str) -> PathBuf {
        self.config.runs_dir.join(id).join("records.jsonl")
    }

    /// The signed-in connection of `profile` (the service's default profile for `None`),
    /// opened once and kept.
    pub(super) async fn connection(
        &self,
        profile: Option<&str>,
    ) -> Result<Arc<Connection>, String> {
        let name = profile
            .or(self.config.profile.as_deref())
            .unwrap_or("")
            .to_string();
        let mut connections = self.connections.lock().await;
        if let Some(connection) = connections.get(&name) {
            return Ok(connection.clone());
        }
        let file = self.config_file.file().map_err(|e| e.to_string())?;
        let mut settings = file
            .settings(
                (!name.is_empty()).then_some(name.as_str()),
                self.config_file.path(),
            )
            .map_err(|e| e.to_string())?;
        settings.audit_log = Some(self.config.audit_log.clone());
        settings.audit_key = self.config.audit_key.clone();
        let connection = Arc::new(self.connector.open(settings).map_err(|e| e.to_string())?);
        connections.insert(name, connection.clone());
        Ok(connection)
    }

    /// Runs a claimed run to its end, or to the dry-run plan of a run that waits for approval,
    /// or until this process may no longer hold it.
    async fn execute(self: Arc<Self>, run: &RunRow) -> Outcome {
        match self.try_execute(run).await {
            Ok(outcome) => outcome,
            Err(error) => Outcome::Ended(RunEnding {
                state: RunState::Failed,
                summary: None,
                error: Some(error),
                records: 0,
                calls: 0,
                denied: 0,
            }),
        }
    }

    async fn try_execute(self: Arc<Self>, run: &RunRow) -> Result<Outcome, String> {
        let loaded = self.loaded();
        let caller: Caller = serde_json::from_str(&run.caller)
            .map_err(|e| format!("the run's caller cannot be read: {e}"))?;
        let approved_by = self.approvals_in_force(&loaded, &caller, run).await?;
        let (events, mut receiver) = mpsc::unbounded_channel::<(&'static str, Value)>();
        let writer = {
            let service = self.clone();
            let id = run.id.clone();
            tokio::spawn(async move {
                while let Some((kind, data)) = receiver.recv().await {
                    service.add_event(&id, kind, &data).await;
                }
            })
        };
        let _ = events.send(("state", json!({"state": "running"})));
        let ran = async {
            if run.kind == "workflow" {
                self.run_workflow(run, &loaded, &caller, approved_by, &events)
                    .await
            } else {
                self.run_plugin(run, &loaded, &caller, approved_by, &events)
                    .await
            }
        };
        let outcome = tokio::select! {
            ending = ran => ending.map(|e| e.map_or(Outcome::Planned, Outcome::Ended)),
            stop = self.stopped(&run.id) => Ok(match stop {
                Stop::Cancelled => Outcome::Ended(RunEnding {
                    state: RunState::Cancelled,
                    summary: None,
                    error: Some("cancelled while it ran".into()),
                    records: 0,
                    calls: 0,
                    denied: 0,
                }),
                Stop::LeaseLost => Outcome::LeaseLost,
            }),
        };
        drop(events);
        let _ = writer.await;
        outcome
    }

    /// Who approved `run`, when its caller rule in force needs approval: the approvals given
    /// must still be bound to this exact request under the policy in force. The caller rules
    /// in force decide again, as the policy may have changed since the run was queued.
    pub(super) async fn approvals_in_force(
        &self,
        loaded: &Loaded,
        caller: &Caller,
        run: &RunRow,
    ) -> Result<Vec<String>, String> {
        let input = run.input_object();
        let authorized = loaded
            .policy
            .authorize(
                caller,
                Ask {
                    target: run.target(),
                    input: &input,
                    dry_run: run.dry_run,
                },
                0,
            )
            .map_err(|refusal| format!("refused by the policy in force: {refusal}"))?;
        let Some(approval) = &authorized.rule.approval else {
            return Ok(Vec::new());
        };
        if run.planning || run.dry_run {
            return Ok(Vec::new());
        }
        let plan_hash = run.plan_hash.as_deref().unwrap_or_default();
        let bound = Bound {
            digest: &run.digest,
            input: &run.input,
            dry_run: run.dry_run,
            policy_digest: loaded.policy.digest(),
            plan_hash,
        };
        let given = self
            .state
            .approvals(&run.id)
            .await
            .map_err(|e| e.to_string())?;
        match standing(
            approval,
            &given,
            &bound.binding(),
            run.submitted_at,
            now_ms(),
        ) {
            ApprovalStanding::Approved(approvers) => Ok(approvers),
            ApprovalStanding::Waiting { have, need } => Err(format!(
                "its approvals no longer hold ({have} of {need} still bound to this request): the policy changed since they were given; submit it again"
            )),
            ApprovalStanding::Expired => {
                Err("its approvals expired before it ran; submit it again".into())
            }
        }
    }

    /// Runs plugin run `run` for `caller`; `None` when it made the dry-run plan of a run that
    /// waits for approval.
    async fn run_plugin(
        &self,
        run: &RunRow,
        loaded: &Loaded,
        caller: &Caller,
        approved_by: Vec<String>,
        events: &Events,
    ) -> Result<Option<RunEnding>, String> {
        let stored = loaded.plugins.get(&run.digest).ok_or_else(|| {
            format!(
                "plugin {} (sha256:{}) is no longer admitted by the policy or no longer in the store",
                run.target, run.digest
            )
        })?;
        let plugin = self
            .runtime
            .load(&stored.vetted)
            .await
            .map_err(|e| e.to_string())?;
        let grant = stored.vetted.grant.clone();
        let connection = self.connection(grant.profile.as_deref()).await?;
        let limits = plugin
            .default_limits()
            .requested(Requested::default(), &grant)
            .map_err(|e| e.to_string())?;
        let path = self.records_path(&run.id);
        let dir = path.parent().unwrap_or(&self.config.runs_dir);
        exorun::durable::create_dir_synced(dir)
            .map_err(|e| format!("cannot make the run's directory {}: {e}", dir.display()))?;
        // A run taken up again after a crash starts its plugin over, unless the plugin saved a
        // checkpoint (in the run's own directory): then it goes on from there, after the
        // records it wrote before.
        let checkpoints = dir.join("checkpoints");
        let resumes = std::fs::read_dir(&checkpoints).is_ok_and(|mut d| d.next().is_some());
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(resumes)
            .truncate(!resumes)
            .open(&path)
            .map_err(|e| format!("cannot write the run's records {}: {e}", path.display()))?;
        let plan = Arc::new(PlanSink::default());
        let sink: Arc<dyn RecordSink> = if run.planning {
            plan.clone()
        } else {
            Arc::new(JsonLinesSink::new(BufWriter::new(file)))
        };
        let exchange = connection.exchange().clone().with_context(CallContext {
            run: Some(RunId::named(&run.id)),
            caller: Some(CallerRef::of(caller, approved_by)),
            ..CallContext::default()
        });
        // A run that changes things keeps its changes in a journal of its own: started again
        // after a crash, it is answered from there instead of sending them twice.
        let journal = if run.dry_run || run.planning {
            None
        } else {
            let path = dir.join("changes.jsonl");
            Some(Arc::new(FileJournal::open(&path).map_err(|e| {
                format!(
                    "cannot open the run's change journal {}: {e}",
                    path.display()
                )
            })?))
        };
        let request = RunRequest {
            input: run.input.to_string(),
            config: Default::default(),
            exchange,
            dry_run: run.dry_run || run.planning,
            journal: journal
                .clone()
                .map(|j| j as Arc<dyn exorun::changes::ChangeJournal>),
            grant: Arc::new(grant),
            limits,
            sink: sink.clone(),
            checkpoints: Arc::new(FileCheckpoints::new(checkpoints)),
            progress: Arc::new(EventProgress(events.clone())),
        };
        let outcome = self.runtime.run(&plugin, request).await;
        sink.finish()
            .map_err(|e| format!("cannot write the run's records: {e}"))?;
        if let Some(journal) = &journal {
            journal
                .sync()
                .map_err(|e| format!("cannot store the run's change journal: {e}"))?;
        }
        let outcome = outcome.map_err(|e| e.to_string())?;
        if run.planning {
            let plan = plan.plan(&outcome.summary);
            let plan_hash = exorun::digest::sha256_hex(plan.to_string().as_bytes());
            self.state
                .set_plan(&run.id, &plan, &plan_hash)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(None);
        }
        let summary = serde_json::from_str(&outcome.summary)
            .unwrap_or_else(|_| Value::String(outcome.summary.clone()));
        let to_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Ok(Some(RunEnding {
            state: if outcome.failures.any() {
                RunState::Failed
            } else {
                RunState::Succeeded
            },
            summary: Some(summary),
            error: outcome
                .failures
                .any()
                .then(|| format!("the plugin ran, but {}", outcome.failures)),
            records: to_i64(outcome.records),
            calls: to_i64(outcome.cmdlet_calls),
            denied: to_i64(outcome.denied),
        }))
    }

    /// Resolves when run `id` must stop here: a cancel was asked for, or this process no longer
    /// holds its lease (another worker took it up after the lease ran out) or cannot be sure it
    /// still does (its leases were not renewed for two thirds of a lease: paused, or cut off
    /// from the database).
    async fn stopped(&self, id: &str) -> Stop {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let renewed = *self
                .renewed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if renewed.elapsed() > self.config.lease * 2 / 3 {
                return Stop::LeaseLost;
            }
            match self.state.holding(id, &self.owner).await {
                Ok(Holding::Held { cancel_requested }) if cancel_requested => {
                    return Stop::Cancelled;
                }
                Ok(Holding::Lost) => return Stop::LeaseLost,
                Ok(Holding::Held { .. }) | Err(_) => {}
            }
        }
    }
}

/// How a worker's run went.
enum Outcome {
    /// It ended: record how.
    Ended(RunEnding),
    /// It made the dry-run plan of a run that waits for approval.
    Planned,
    /// This process stopped it, as it can no longer be sure to hold the run's lease: whoever
    /// takes the run up records its end.
    LeaseLost,
}

/// Why a running run was stopped.
enum Stop {
    /// Its requester (or an approver) cancelled it.
    Cancelled,
    /// This process may no longer hold it.
    LeaseLost,
}

/// Plugin runs at once: every worker's, and the widest fan-out of the workflows read at start
/// with the items that wait out a throttle (as `exorun workflow run` sizes it), at least 16.
fn plugin_slots(config: &ServeConfig, loaded: &Loaded) -> u32 {
    let widest = loaded
        .workflows
        .values()
        .flat_map(|w| &w.workflow.steps)
        .filter_map(|s| s.for_each.as_ref().map(|f| f.max_parallel))
        .max()
        .unwrap_or(1);
    let slots = exorun::workflow::slots::alive(widest)
        .max(config.workers)
        .clamp(16, 512);
    u32::try_from(slots).unwrap_or(512)
}

/// What a dry run for approvers would change: the changes it rehearsed (secret values
/// redacted) and how many records it wrote.
#[derive(Default)]
struct PlanSink {
    changes: std::sync::Mutex<Vec<Value>>,
    records: AtomicU64,
}

impl PlanSink {
    /// The plan, as approvers see it.
    fn plan(&self, summary: &str) -> Value {
        let changes = self
            .changes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        json!({
            "changes": changes,
            "records": self.records.load(Ordering::Relaxed),
            "summary": serde_json::from_str::<Value>(summary).unwrap_or_else(|_| Value::String(summary.to_string())),
        })
    }
}

impl RecordSink for PlanSink {
    fn emit(&self, _record: exorun::runtime::Record) -> std::io::Result<()> {
        self.records.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn rehearsed(&self, change: &exorun::exchange::Rehearsal) {
        self.changes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(json!({
                "cmdlet": change.cmdlet,
                "parameters": exorun::audit::redact::redact(&change.cmdlet, &change.params),
            }));
    }
}

/// A plugin's progress, as events of its run.
struct EventProgress(Events);

impl ProgressSink for EventProgress {
    fn report(&self, _plugin: &str, done: u64, total: u64, message: &str) {
        let _ = self.0.send((
            "progress",
            json!({"done": done, "total": total, "message": message}),
        ));
    }
}
