//! Running a plugin: a fresh store and instance per run, with its limits (memory, wall clock,
//! optionally fuel), a WASI context that grants nothing, and the host interfaces wired to the
//! run's Exchange client, sinks and checkpoint store. Whatever the plugin does, the run ends
//! with an outcome or a [`RunError`] and the store is thrown away.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use wasmtime::Store;
use wasmtime_wasi::WasiCtxBuilder;

use super::Runtime;
use super::audited::RunRecord;
use super::bindings::AutomationPre;
use super::error::{Failure, RunError};
use super::failures::Failures;
use super::imports::checkpoint::MemoryCheckpoints;
use super::imports::checkpoint::{CheckpointHost, CheckpointKey, CheckpointStore};
use super::imports::config::ConfigHost;
use super::imports::exchange::ExchangeHost;
use super::imports::log::LogHost;
use super::imports::output::{OutputHost, RecordSink, VecSink};
use super::imports::progress::{NoProgress, ProgressHost, ProgressSink};
use super::plugin::Plugin;
use super::state::{MemoryLimiter, RunState};
use super::stdio::Capture;
use crate::audit::{AuditError, RunId};
use crate::changes::ChangeJournal;
use crate::exchange::ExchangeClient;
use crate::plugin::manifest::Manifest;
use crate::policy::{Caps, Gate, Grant};

/// Memory a run gets when its manifest does not say.
pub const DEFAULT_MEMORY_MB: u64 = 64;

/// Time a run gets when its manifest does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The limits of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunLimits {
    /// Linear memory, bytes (per memory; at most the runtime's `max_memory_bytes`).
    pub memory_bytes: u64,
    /// Wall-clock time from the start of the run, host calls included.
    pub timeout: Duration,
    /// Fuel (roughly, WebAssembly instructions), or `None` for no count. A fuel-limited run
    /// uses a second engine whose code counts fuel, compiled on the plugin's first such run.
    pub fuel: Option<u64>,
}

impl RunLimits {
    /// What `manifest` asks for, with [`DEFAULT_MEMORY_MB`] and [`DEFAULT_TIMEOUT`] where it
    /// does not say; no fuel limit.
    pub fn for_manifest(manifest: &Manifest) -> RunLimits {
        RunLimits {
            memory_bytes: manifest
                .limits
                .memory_mb
                .unwrap_or(DEFAULT_MEMORY_MB)
                .saturating_mul(1 << 20),
            timeout: manifest
                .limits
                .timeout_secs
                .map_or(DEFAULT_TIMEOUT, Duration::from_secs),
            fuel: None,
        }
    }

    /// These limits within a policy's `caps`: the smaller of each, and the cap's fuel where
    /// none is set.
    pub fn within(mut self, caps: &Caps) -> RunLimits {
        if let Some(mb) = caps.memory_mb {
            self.memory_bytes = self.memory_bytes.min(mb.saturating_mul(1 << 20));
        }
        if let Some(secs) = caps.timeout_secs {
            self.timeout = self.timeout.min(Duration::from_secs(secs));
        }
        self.fuel = self.fuel.or(caps.fuel);
        self
    }

    /// These limits (a manifest's) with what a caller asked for in their place, each checked
    /// against `grant`'s caps: a request above a cap is refused, never cut silently; what is
    /// not asked for is kept within the caps.
    pub fn requested(self, asked: Requested, grant: &Grant) -> Result<RunLimits, AboveCap> {
        let caps = grant.caps;
        let above = |limit: &'static str, asked: String, cap: String| AboveCap {
            limit,
            asked,
            cap,
            rule: grant.source.clone(),
            plugin: grant.plugin.clone(),
        };
        let mut limits = self.within(&caps);
        if let Some(timeout) = asked.timeout {
            if let Some(cap) = caps.timeout_secs.map(Duration::from_secs)
                && timeout > cap
            {
                return Err(above(
                    "--timeout",
                    format!("{timeout:?}"),
                    format!("{cap:?}"),
                ));
            }
            limits.timeout = timeout;
        }
        if let Some(memory) = asked.memory_bytes {
            if let Some(cap) = caps.memory_mb.map(|m| m.saturating_mul(1 << 20))
                && memory > cap
            {
                return Err(above(
                    "--memory",
                    format!("{} MiB", memory >> 20),
                    format!("{} MiB", cap >> 20),
                ));
            }
            limits.memory_bytes = memory;
        }
        if let Some(fuel) = asked.fuel {
            if let Some(cap) = caps.fuel
                && fuel > cap
            {
                return Err(above("--fuel", fuel.to_string(), cap.to_string()));
            }
            limits.fuel = Some(fuel);
        }
        Ok(limits)
    }
}

/// Limits a caller asks for instead of the manifest's (`exorun run --timeout/--memory/--fuel`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requested {
    /// Wall-clock time.
    pub timeout: Option<Duration>,
    /// Linear memory, bytes.
    pub memory_bytes: Option<u64>,
    /// Fuel.
    pub fuel: Option<u64>,
}

/// A requested limit above what the policy allows the plugin.
#[derive(Debug, thiserror::Error)]
#[error("{limit} {asked} is above what the policy ({rule}) allows {plugin}: {cap}")]
pub struct AboveCap {
    /// Which limit, by the option that asks for it (`--memory`).
    pub limit: &'static str,
    /// What was asked.
    pub asked: String,
    /// The cap.
    pub cap: String,
    /// The rule that sets the cap.
    pub rule: String,
    /// The plugin.
    pub plugin: String,
}

/// One run's input and surroundings.
pub struct RunRequest {
    /// The plugin's input, JSON.
    pub input: String,
    /// The operator's values for `config.get`.
    pub config: BTreeMap<String, String>,
    /// The tenant's Exchange client (its settings decide page size and concurrency).
    pub exchange: ExchangeClient,
    /// A dry run: changes the grant allows are recorded in the audit log and handed to the
    /// sink ([`RecordSink::rehearsed`]), not sent; the plugin is told `dry-run`. Reading
    /// cmdlets still run.
    pub dry_run: bool,
    /// Where the run's changes are written down before and after they are sent, so that a
    /// retry of the same work after a crash does not make them twice (the workflow engine
    /// keeps one per step and item); `None`: nothing is kept.
    pub journal: Option<Arc<dyn ChangeJournal>>,
    /// What the plugin may do: the policy's [`Grant`] for it (or, for a library user who is
    /// the operator, [`Grant::from_manifest`]).
    pub grant: Arc<Grant>,
    /// The run's limits (see [`Plugin::default_limits`]).
    pub limits: RunLimits,
    /// Where the plugin's records go.
    pub sink: Arc<dyn RecordSink>,
    /// Where its checkpoint is kept (keyed by plugin name, build and input).
    pub checkpoints: Arc<dyn CheckpointStore>,
    /// Where its progress reports go.
    pub progress: Arc<dyn ProgressSink>,
}

/// One of the runtime's run slots, held for a run to come ([`Runtime::reserve`]).
pub struct RunSlot<'a> {
    _permit: tokio::sync::SemaphorePermit<'a>,
}

/// What a finished run gives back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// The run's id in the audit log: the one in the client's call context
    /// ([`ExchangeClient::with_context`]) when the caller set one, else a new one.
    pub run: RunId,
    /// The plugin's summary (JSON, as the plugin wrote it).
    pub summary: String,
    /// The units of its work the plugin says failed (its summary's `failed` and `errors`): a
    /// run with any is failed work, not success, however it returned.
    pub failures: Failures,
    /// Records emitted to the sink.
    pub records: u64,
    /// Cmdlets admitted (sent, or recorded in a dry run).
    pub cmdlet_calls: u64,
    /// Calls the grant refused.
    pub denied: u64,
    /// What the plugin printed on stdout and stderr (the last 64 KiB; also logged).
    pub captured_output: String,
}

/// Checks that `input` is JSON and matches the plugin's input schema, before anything starts.
fn check_input(plugin: &Plugin, input: &str) -> Result<(), RunError> {
    let input: serde_json::Value =
        serde_json::from_str(input).map_err(|e| RunError::Input(e.to_string()))?;
    match &plugin.input_schema {
        Some(schema) => schema
            .check(&input)
            .map_err(|problems| RunError::InputSchema {
                plugin: plugin.manifest.name.clone(),
                problems,
            }),
        None => Ok(()),
    }
}

impl Runtime {
    /// Runs `plugin` once, after checking its input against the schema its manifest declares.
    /// Runs beyond the runtime's `max_concurrent_runs` wait for a slot
    /// first; the time limit starts when the run does.
    ///
    /// The run's start and end are recorded in the client's audit log, and each of its calls
    /// with the run and the plugin; if a record cannot be written the run stops
    /// ([`RunError::Audit`]).
    pub async fn run(&self, plugin: &Plugin, request: RunRequest) -> Result<RunOutcome, RunError> {
        self.run_in(None, plugin, request).await
    }

    /// One of the runtime's run slots, taken ahead of a run ([`Runtime::run_reserved`]),
    /// waiting for it if all are taken.
    pub async fn reserve(&self) -> Result<RunSlot<'_>, RunError> {
        Ok(RunSlot {
            _permit: self.slot().await?,
        })
    }

    /// [`Runtime::run`] in a slot taken with [`Runtime::reserve`]: for a caller with a turn of
    /// its own to take once the runtime's is taken (a fan-out's `max_parallel`), so that it
    /// never holds its own turn while it waits for the runtime's.
    pub async fn run_reserved(
        &self,
        slot: RunSlot<'_>,
        plugin: &Plugin,
        request: RunRequest,
    ) -> Result<RunOutcome, RunError> {
        self.run_in(Some(slot), plugin, request).await
    }

    async fn run_in(
        &self,
        slot: Option<RunSlot<'_>>,
        plugin: &Plugin,
        request: RunRequest,
    ) -> Result<RunOutcome, RunError> {
        check_input(plugin, &request.input)?;
        plugin
            .manifest
            .accepts_config(request.config.keys().map(String::as_str))
            .map_err(RunError::Config)?;
        request
            .grant
            .check_config(request.config.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(RunError::Config)?;
        let pre = match request.limits.fuel {
            None => plugin.pre.clone(),
            Some(_) => self.metered(plugin).await?,
        };
        let _slot = match slot {
            Some(slot) => slot,
            None => self.reserve().await?,
        };
        let limits = RunLimits {
            memory_bytes: request
                .limits
                .memory_bytes
                .min(self.settings.max_memory_bytes),
            ..request.limits
        };
        let deadline = tokio::time::Instant::now() + limits.timeout;
        let manifest = plugin.manifest.clone();
        let name = manifest.name.clone();
        let capture = Capture::new(&name);
        let lineage = request.grant.lineage.as_deref().unwrap_or(&plugin.digest);
        let key = CheckpointKey::new(&name, lineage, &request.input);
        let input_digest = crate::digest::sha256_hex(request.input.as_bytes());
        let (record, exchange) = RunRecord::start(
            plugin,
            &request.grant,
            &input_digest,
            request.dry_run,
            request.exchange,
        )?;
        let parts = StateParts {
            exchange: ExchangeHost::new(
                Gate::new(request.grant, Some(exchange), request.dry_run)
                    .with_journal(request.journal),
                deadline,
                limits.memory_bytes,
                request.sink.clone(),
            ),
            sink: request.sink.clone(),
            config: request.config,
            checkpoint: CheckpointHost::new(
                request.checkpoints.clone(),
                key.clone(),
                request.sink.clone(),
            ),
            progress: request.progress,
        };
        let state = run_state(&name, &capture, limits.memory_bytes, parts);
        let mut store = new_store(&pre, state, limits.fuel)?;
        let input = request.input;
        let call = async {
            let instance = pre
                .instantiate_async(&mut store)
                .await
                .map_err(Stage::Start)?;
            instance
                .call_run(&mut store, &input)
                .await
                .map_err(Stage::Run)
        };
        // A record that cannot be written stops the run at once: the plugin may not go on
        // unaudited (its calls are refused from then on anyway).
        let ended = tokio::select! {
            // A run whose plugin ends as the log breaks is told about the log.
            biased;
            error = record.audit().broken() => Ok(Ok(Err(Stage::Unaudited(error)))),
            ended = AssertUnwindSafe(tokio::time::timeout_at(deadline, call)).catch_unwind() => ended,
        };
        let captured = capture.finish();
        let finished = request.sink.finish();
        let state = store.data();
        let summary = summary_of(ended, state, limits, &captured, finished).and_then(|summary| {
            match Failures::of_summary(&summary) {
                Ok(failures) => Ok((summary, failures)),
                Err(problem) => Err(RunError::Summary {
                    plugin: name.clone(),
                    problem,
                }),
            }
        });
        record.end(&summary, state)?;
        let (summary, failures) = summary?;
        if let Err(error) = request.checkpoints.clear(&key) {
            tracing::warn!(plugin = %name, %error, "the run finished but its checkpoint could not be cleared");
        }
        Ok(RunOutcome {
            run: record.run(),
            summary,
            failures,
            records: state.output.records,
            cmdlet_calls: state.exchange.gate.calls,
            denied: state.exchange.gate.denied,
            captured_output: captured,
        })
    }
}

impl Runtime {
    /// One of the runtime's run slots, waiting for it if all are taken.
    async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, RunError> {
        self.slots
            .acquire()
            .await
            .map_err(|_| RunError::Host("the runtime's run slots are closed".into()))
    }

    /// Starts `plugin` in an empty sandbox with its default limits and throws it away without
    /// calling `run`: shows, with no tenant at hand, that it links against this host's
    /// interfaces and starts within its memory limit (`exorun plugin check`). Like a run, it
    /// waits for one of the runtime's run slots (the instance pool is sized by them).
    pub async fn check(&self, plugin: &Plugin) -> Result<(), RunError> {
        let _slot = self.slot().await?;
        let limits = plugin.default_limits();
        let memory_bytes = limits.memory_bytes.min(self.settings.max_memory_bytes);
        let deadline = tokio::time::Instant::now() + limits.timeout;
        let name = &plugin.manifest.name;
        let capture = Capture::new(name);
        let sink: Arc<VecSink> = Arc::new(VecSink::new());
        let parts = StateParts {
            exchange: ExchangeHost::new(
                Gate::new(
                    Arc::new(Grant::from_manifest(&plugin.manifest)),
                    None,
                    false,
                ),
                deadline,
                memory_bytes,
                sink.clone(),
            ),
            sink: sink.clone(),
            config: BTreeMap::new(),
            checkpoint: CheckpointHost::new(
                Arc::new(MemoryCheckpoints::new()),
                CheckpointKey::new(name, &plugin.digest, "null"),
                sink,
            ),
            progress: Arc::new(NoProgress),
        };
        let state = run_state(name, &capture, memory_bytes, parts);
        let mut store = new_store(&plugin.pre, state, None)?;
        let started = tokio::time::timeout_at(deadline, plugin.pre.instantiate_async(&mut store));
        let outcome = match started.await {
            Err(_elapsed) => Err(RunError::Timeout {
                after: limits.timeout,
            }),
            Ok(Ok(_instance)) => Ok(()),
            Ok(Err(_)) if store.data().limiter.refused => Err(RunError::MemoryLimit {
                limit: memory_bytes,
            }),
            Ok(Err(error)) => Err(RunError::Instantiate(format!("{error:#}"))),
        };
        capture.finish();
        outcome
    }
}

/// The per-run parts of a store's state that differ between a run and a check.
struct StateParts {
    exchange: ExchangeHost,
    sink: Arc<dyn RecordSink>,
    config: BTreeMap<String, String>,
    checkpoint: CheckpointHost,
    progress: Arc<dyn ProgressSink>,
}

/// The state of a store for the plugin `name`: a WASI context that grants nothing but stdio
/// into `capture`, and the host interfaces.
fn run_state(name: &str, capture: &Capture, memory_bytes: u64, parts: StateParts) -> RunState {
    RunState {
        wasi: WasiCtxBuilder::new()
            .stdout(capture.stdout())
            .stderr(capture.stderr())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build(),
        wasi_table: wasmtime::component::ResourceTable::new(),
        limiter: MemoryLimiter::new(memory_bytes),
        exchange: parts.exchange,
        log: LogHost::new(name),
        progress: ProgressHost::new(name, parts.progress),
        output: OutputHost::new(parts.sink),
        config: ConfigHost::new(parts.config),
        checkpoint: parts.checkpoint,
    }
}

/// A store for one run: the memory limiter, epoch yields (so the caller's timeout can fire while
/// the plugin computes) and the fuel, if counted.
fn new_store(
    pre: &AutomationPre<RunState>,
    state: RunState,
    fuel: Option<u64>,
) -> Result<Store<RunState>, RunError> {
    let mut store = Store::new(pre.engine(), state);
    store.limiter(|state| &mut state.limiter);
    // Yield to the executor at every epoch tick (docs/runtime.md, pitfalls 5 and 6: the deadline
    // must be set before the yield is asked for, or the plugin never yields).
    store.set_epoch_deadline(1);
    store.epoch_deadline_async_yield_and_update(1);
    if let Some(fuel) = fuel {
        store
            .set_fuel(fuel)
            .map_err(|e| RunError::Host(e.to_string()))?;
    }
    Ok(store)
}

/// How the call of a plugin's `run` ended: a panic in the host, out of time, failed at a
/// [`Stage`], or the plugin's own result.
type Ended =
    std::thread::Result<Result<Result<Result<String, String>, Stage>, tokio::time::error::Elapsed>>;

/// The run's result from how its call ended; `finished` is how its record sink finished.
fn summary_of(
    ended: Ended,
    state: &RunState,
    limits: RunLimits,
    captured: &str,
    finished: std::io::Result<()>,
) -> Result<String, RunError> {
    let failure = |error| Failure {
        error,
        memory_refused: state.limiter.refused,
        memory_limit: limits.memory_bytes,
        timeout: limits.timeout,
        captured,
    };
    match ended {
        Err(panic) => Err(RunError::Host(panic_text(&*panic))),
        Ok(Err(_elapsed)) => Err(RunError::Timeout {
            after: limits.timeout,
        }),
        Ok(Ok(Err(Stage::Unaudited(error)))) => Err(RunError::Audit(error)),
        Ok(Ok(Err(Stage::Start(error)))) if !state.limiter.refused => {
            Err(RunError::Instantiate(format!("{error:#}")))
        }
        Ok(Ok(Err(Stage::Start(error) | Stage::Run(error)))) => Err(failure(error).into()),
        Ok(Ok(Ok(Err(message)))) => Err(RunError::Plugin(message)),
        Ok(Ok(Ok(Ok(summary)))) => finished.map(|()| summary).map_err(RunError::Output),
    }
}

/// Where a run failed.
enum Stage {
    /// Instantiating the component.
    Start(wasmtime::Error),
    /// In `run`.
    Run(wasmtime::Error),
    /// Anywhere: the audit log could not be written.
    Unaudited(AuditError),
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_manifest() {
        let mut manifest =
            Manifest::parse("name = 'p'\nversion = '1.0.0'\ndescription = 'd'").unwrap();
        let limits = RunLimits::for_manifest(&manifest);
        assert_eq!(limits.memory_bytes, 64 << 20);
        assert_eq!(limits.timeout, Duration::from_secs(600));
        assert_eq!(limits.fuel, None);
        manifest.limits.memory_mb = Some(256);
        manifest.limits.timeout_secs = Some(30);
        let limits = RunLimits::for_manifest(&manifest);
        assert_eq!(
            (limits.memory_bytes, limits.timeout),
            (256 << 20, Duration::from_secs(30))
        );
    }

    #[test]
    fn panics_are_described() {
        assert_eq!(panic_text(&"boom"), "boom");
        assert_eq!(panic_text(&String::from("bang")), "bang");
        assert_eq!(panic_text(&42), "a panic without a message");
    }
}
