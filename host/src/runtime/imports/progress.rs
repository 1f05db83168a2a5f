//! `progress`: how far a plugin's long work is, passed to a [`ProgressSink`] (a progress bar, the
//! log, or nothing).

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::runtime::bindings::exorun::plugin::progress;
use crate::runtime::state::RunState;

/// Where progress reports go.
pub trait ProgressSink: Send + Sync {
    /// The plugin called `plugin` has done `done` of `total` units (`total` 0 when unknown).
    fn report(&self, plugin: &str, done: u64, total: u64, message: &str);
}

/// Drops progress reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn report(&self, _: &str, _: u64, _: u64, _: &str) {}
}

/// Writes progress reports to the log (at debug level).
#[derive(Clone, Copy, Debug, Default)]
pub struct LogProgress;

impl ProgressSink for LogProgress {
    fn report(&self, plugin: &str, done: u64, total: u64, message: &str) {
        tracing::debug!(target: "exorun::plugin", plugin, done, total, "{message}");
    }
}

/// The `progress` interface of one run.
pub(crate) struct ProgressHost {
    plugin: String,
    sink: Arc<dyn ProgressSink>,
}

impl ProgressHost {
    /// Reports of the plugin called `plugin` to `sink`.
    pub(crate) fn new(plugin: &str, sink: Arc<dyn ProgressSink>) -> ProgressHost {
        ProgressHost {
            plugin: plugin.to_string(),
            sink,
        }
    }
}

pub(super) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    progress::add_to_linker::<RunState, HasSelf<ProgressHost>>(linker, |state| &mut state.progress)
}

impl progress::Host for ProgressHost {
    fn report(&mut self, done: u64, total: u64, message: String) -> wasmtime::Result<()> {
        self.sink.report(&self.plugin, done, total, &message);
        Ok(())
    }
}
