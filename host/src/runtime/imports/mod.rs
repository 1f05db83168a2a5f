//! The host side of the `automation` world's imports, one module per interface. Each module
//! holds its interface's per-run state (a field of the run's store data) and the trait impl the
//! bindings ask for, and registers itself in the linker.

pub(crate) mod checkpoint;
pub(crate) mod config;
pub(crate) mod exchange;
pub(crate) mod log;
pub(crate) mod output;
pub(crate) mod progress;

use wasmtime::component::Linker;

use super::state::RunState;

/// Adds every interface of the `automation` world to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    exchange::add_to_linker(linker)?;
    log::add_to_linker(linker)?;
    progress::add_to_linker(linker)?;
    output::add_to_linker(linker)?;
    config::add_to_linker(linker)?;
    checkpoint::add_to_linker(linker)
}
