//! The wasmtime engines: one configuration (async, epoch interruption, the pooling allocator when
//! the address space allows it), its epoch ticker, the linker with every import a plugin may
//! use, and the fingerprint that names compiled code in the disk cache.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::error::RuntimeError;
use super::settings::RuntimeSettings;
use super::state::RunState;

/// How often the epoch advances: the granularity of the wall-clock limit and the longest a
/// looping plugin keeps its executor thread before it yields.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Core instances, memories and tables one run may hold in the pool. A Rust plugin needs one
/// of each (plus the WASI adapter's); a Python plugin (componentize-py) links a dozen modules.
const CORE_INSTANCES_PER_RUN: u32 = 32;
const MEMORIES_PER_RUN: u32 = 4;
const TABLES_PER_RUN: u32 = 16;
/// Table elements of the pool's slots: CPython's function table is larger than the default 20,000.
const TABLE_ELEMENTS: usize = 1 << 17;

/// Bytes of each pooled table zeroed in place when a run ends rather than handed back to the
/// kernel with `madvise`: that call cost a small plugin 40% of its instantiation time. Linear
/// memories keep the default (returned to the kernel): zeroing them in place measured slower.
const TABLE_KEEP_RESIDENT: usize = 256 << 10;

/// One engine and what belongs to it; compiled code only runs on the engine that compiled it.
pub(crate) struct EngineSet {
    /// The engine.
    pub(crate) engine: Engine,
    /// WASI (denying everything by default) and the `automation` world's imports.
    pub(crate) linker: Linker<RunState>,
    /// Names this engine's compiled code in the disk cache (see [`fingerprint`]).
    pub(crate) fingerprint: String,
}

impl EngineSet {
    /// An engine for `settings`, metering fuel or not, with its ticker thread and linker.
    pub(crate) fn new(settings: &RuntimeSettings, fuel: bool) -> Result<EngineSet, RuntimeError> {
        let engine = engine(settings, fuel)?;
        start_ticker(&engine)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(RuntimeError::engine)?;
        super::imports::add_to_linker(&mut linker).map_err(RuntimeError::engine)?;
        Ok(EngineSet {
            fingerprint: fingerprint(&engine),
            engine,
            linker,
        })
    }
}

/// The engine, from the pool when it can be reserved, else allocating on demand (a process
/// under `ulimit -v` cannot reserve the pool's address space).
fn engine(settings: &RuntimeSettings, fuel: bool) -> Result<Engine, RuntimeError> {
    let mut config = Config::new();
    config.epoch_interruption(true).consume_fuel(fuel);
    let mut pooled = config.clone();
    pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(settings)));
    match Engine::new(&pooled) {
        Ok(engine) => Ok(engine),
        Err(error) => {
            tracing::info!(%error, "the pooling allocator is unavailable; instances are allocated on demand");
            Engine::new(&config).map_err(RuntimeError::engine)
        }
    }
}

/// A pool for `max_concurrent_runs` runs of at most `max_memory_bytes` each.
fn pool(settings: &RuntimeSettings) -> PoolingAllocationConfig {
    let runs = settings.max_concurrent_runs.max(1);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(runs)
        .total_stacks(runs)
        .total_core_instances(runs.saturating_mul(CORE_INSTANCES_PER_RUN))
        .total_memories(runs.saturating_mul(MEMORIES_PER_RUN))
        .total_tables(runs.saturating_mul(TABLES_PER_RUN))
        .table_elements(TABLE_ELEMENTS)
        .max_memory_size(usize::try_from(settings.max_memory_bytes).unwrap_or(usize::MAX))
        .table_keep_resident(TABLE_KEEP_RESIDENT);
    pool
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] until the engine is dropped.
fn start_ticker(engine: &Engine) -> Result<(), RuntimeError> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("exorun-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            }
        })
        .map(drop)
        .map_err(|e| RuntimeError::Engine(format!("cannot start the epoch ticker thread: {e}")))
}

/// 16 hex digits of a SHA-256 over everything that decides whether compiled code fits this
/// engine: wasmtime's version, the compiler's target and flags, and the engine's settings
/// (fuel, pooling...), as [`Engine::precompile_compatibility_hash`] reports them.
pub(crate) fn fingerprint(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(openssl::sha::Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.finish()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A [`Hasher`] over SHA-256, stable across processes and Rust versions (unlike `DefaultHasher`).
struct Sha256Hasher(openssl::sha::Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finish();
        u64::from_le_bytes([
            digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_the_engine_configuration() {
        let plain = Engine::new(Config::new().epoch_interruption(true)).unwrap();
        let again = Engine::new(Config::new().epoch_interruption(true)).unwrap();
        let fuel = Engine::new(Config::new().epoch_interruption(true).consume_fuel(true)).unwrap();
        assert_eq!(fingerprint(&plain), fingerprint(&again));
        assert_ne!(fingerprint(&plain), fingerprint(&fuel));
        assert_eq!(fingerprint(&plain).len(), 16);
    }

    #[test]
    fn the_default_pool_can_be_reserved() {
        let mut config = Config::new();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(
            &RuntimeSettings::default(),
        )));
        assert!(Engine::new(&config).is_ok());
    }

    #[test]
    fn without_a_pool_instances_are_allocated_on_demand() {
        // Memory slots larger than the 4 GiB reservation cannot be pooled.
        let settings = RuntimeSettings {
            max_memory_bytes: 8 << 30,
            ..RuntimeSettings::default()
        };
        let mut config = Config::new();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(&settings)));
        assert!(Engine::new(&config).is_err());
        assert!(EngineSet::new(&settings, false).is_ok());
    }

    #[test]
    fn the_hasher_is_sha256() {
        let mut hasher = Sha256Hasher(openssl::sha::Sha256::new());
        hasher.write(b"abc");
        // SHA-256("abc") = ba7816bf 8f01cfea ...
        assert_eq!(
            hasher.finish(),
            u64::from_le_bytes([0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea])
        );
    }
}
