//! What one run's store holds: a WASI context that grants nothing, the memory limiter, and the
//! per-run state of each `automation` interface.

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::imports::checkpoint::CheckpointHost;
use super::imports::config::ConfigHost;
use super::imports::exchange::ExchangeHost;
use super::imports::log::LogHost;
use super::imports::output::OutputHost;
use super::imports::progress::ProgressHost;

/// The data of one run's `Store`.
pub(crate) struct RunState {
    pub(crate) wasi: WasiCtx,
    pub(crate) wasi_table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) exchange: ExchangeHost,
    pub(crate) log: LogHost,
    pub(crate) progress: ProgressHost,
    pub(crate) output: OutputHost,
    pub(crate) config: ConfigHost,
    pub(crate) checkpoint: CheckpointHost,
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.wasi_table,
        }
    }
}

/// [`StoreLimits`] that remember whether they refused to grow a memory: such a refusal ends the
/// run with an error that is not a `Trap` (docs/runtime.md, pitfall 9), and this tells it apart.
pub(crate) struct MemoryLimiter {
    limits: StoreLimits,
    /// A memory could not grow (over the limit, or the pool's slot was too small).
    pub(crate) refused: bool,
}

impl MemoryLimiter {
    /// At most `bytes` per linear memory; a refused grow traps rather than letting the plugin
    /// carry on with a failed allocation.
    pub(crate) fn new(bytes: u64) -> MemoryLimiter {
        MemoryLimiter {
            limits: StoreLimitsBuilder::new()
                .memory_size(usize::try_from(bytes).unwrap_or(usize::MAX))
                .trap_on_grow_failure(true)
                .build(),
            refused: false,
        }
    }

    fn note(&mut self, allowed: &wasmtime::Result<bool>) {
        if !matches!(allowed, Ok(true)) {
            self.refused = true;
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum);
        self.note(&allowed);
        allowed
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.refused = true;
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_a_refused_grow() {
        let mut limiter = MemoryLimiter::new(1 << 20);
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert!(!limiter.refused);
        assert!(
            limiter.memory_growing(1 << 20, 2 << 20, None).is_err(),
            "traps"
        );
        assert!(limiter.refused);
    }
}
