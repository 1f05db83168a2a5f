//! The sandboxed plugin runtime: automation scripts run as WebAssembly components that never see
//! the credential and can only ask the host to run the cmdlets their grant allows: what their
//! manifest declares, narrowed by the operator's policy ([`crate::policy`]).
//!
//! One [`Runtime`] per process holds the wasmtime engine (async, epoch interruption, pooling
//! allocator), the linker, the disk cache of compiled plugins and the plugins already prepared.
//! [`Runtime::load`] reads a plugin's manifest without running it and gets its compiled code;
//! [`Runtime::run`] runs it once in a fresh store with its limits:
//!
//! ```no_run
//! # async fn example(connection: exorun::Connection) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use exorun::runtime::{
//!     JsonLinesSink, LogProgress, MemoryCheckpoints, RunRequest, Runtime, RuntimeSettings,
//! };
//!
//! let runtime = Runtime::new(RuntimeSettings::default())?;
//! let plugin = runtime.load(std::path::Path::new("mailbox-inventory.wasm")).await?;
//! let outcome = runtime
//!     .run(&plugin, RunRequest {
//!         input: r#"{"statistics": true}"#.into(),
//!         config: Default::default(),
//!         exchange: connection.exchange().clone(),
//!         dry_run: false,
//!         journal: None,
//!         // Run with what its manifest asks for; the CLI takes the operator's policy instead.
//!         grant: Arc::new(exorun::policy::Grant::from_manifest(plugin.manifest())),
//!         limits: plugin.default_limits(),
//!         sink: Arc::new(JsonLinesSink::new(std::io::BufWriter::new(std::io::stdout()))),
//!         checkpoints: Arc::new(MemoryCheckpoints::new()),
//!         progress: Arc::new(LogProgress),
//!     })
//!     .await?;
//! println!("{} records; summary {}", outcome.records, outcome.summary);
//! # Ok(())
//! # }
//! ```

mod audited;
mod bindings;
mod cache;
mod engine;
mod error;
mod failures;
mod imports;
mod plugin;
mod run;
mod settings;
mod state;
mod stdio;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

pub use error::{RunError, RuntimeError};
pub use failures::{Failures, SummaryError};
pub use imports::checkpoint::{
    CheckpointKey, CheckpointStore, FileCheckpoints, MAX_CURSOR_BYTES, MemoryCheckpoints,
};
pub use imports::output::{JsonLinesSink, Record, RecordSink, VecSink};
pub use imports::progress::{LogProgress, NoProgress, ProgressSink};
pub use plugin::{Artifact, LoadKind, Plugin};
pub use run::{
    AboveCap, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, Requested, RunLimits, RunOutcome, RunRequest,
    RunSlot,
};
pub use settings::{RuntimeSettings, default_cache_dir};

use cache::CompileCache;
use engine::EngineSet;
use plugin::Prepared;

/// Which engine compiled code is for: fuel-counting code only runs on the metering engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Metering {
    Off,
    Fuel,
}

/// The plugin runtime; one per process, shared by every run (it is `Send + Sync`).
pub struct Runtime {
    settings: RuntimeSettings,
    plain: Arc<EngineSet>,
    /// The fuel-metering engine, made on the first run with a fuel limit.
    metering: Mutex<Option<Arc<EngineSet>>>,
    cache: Option<Arc<CompileCache>>,
    /// Plugins ready to instantiate, by digest and engine.
    prepared: Mutex<HashMap<(String, Metering), Prepared>>,
    /// One permit per run in flight.
    slots: tokio::sync::Semaphore,
}

impl Runtime {
    /// Sets up the engine, its epoch ticker and linker, and the compile cache. A cache
    /// directory that cannot be used safely is logged and left out: plugins are then compiled
    /// in each process.
    pub fn new(settings: RuntimeSettings) -> Result<Runtime, RuntimeError> {
        let plain = Arc::new(EngineSet::new(&settings, false)?);
        let cache = settings
            .cache_dir
            .as_deref()
            .and_then(|dir| match CompileCache::open(dir) {
                Ok(cache) => Some(Arc::new(cache)),
                Err(error) => {
                    tracing::warn!(dir = %dir.display(), %error, "not caching compiled plugins");
                    None
                }
            });
        Ok(Runtime {
            slots: tokio::sync::Semaphore::new(settings.max_concurrent_runs.max(1) as usize),
            settings,
            plain,
            metering: Mutex::new(None),
            cache,
            prepared: Mutex::new(HashMap::new()),
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &RuntimeSettings {
        &self.settings
    }

    fn engines(&self, metering: Metering) -> Result<Arc<EngineSet>, RuntimeError> {
        if metering == Metering::Off {
            return Ok(self.plain.clone());
        }
        let mut slot = self.metering.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(engines) = &*slot {
            return Ok(engines.clone());
        }
        let engines = Arc::new(EngineSet::new(&self.settings, true)?);
        *slot = Some(engines.clone());
        Ok(engines)
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("settings", &self.settings)
            .field("cache", &self.cache.as_ref().map(|c| c.dir().to_path_buf()))
            .finish_non_exhaustive()
    }
}
