//! `log`: a plugin's messages go to the host's log, tagged with the plugin's name.

use wasmtime::component::{HasSelf, Linker};

use crate::runtime::bindings::exorun::plugin::log::{self, Level};
use crate::runtime::state::RunState;

/// The `log` interface of one run.
pub(crate) struct LogHost {
    plugin: String,
}

impl LogHost {
    /// Logs for the plugin called `plugin`.
    pub(crate) fn new(plugin: &str) -> LogHost {
        LogHost {
            plugin: plugin.to_string(),
        }
    }
}

pub(super) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    log::add_to_linker::<RunState, HasSelf<LogHost>>(linker, |state| &mut state.log)
}

impl log::Host for LogHost {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let plugin = self.plugin.as_str();
        match level {
            Level::Trace => tracing::trace!(target: "exorun::plugin", plugin, "{message}"),
            Level::Debug => tracing::debug!(target: "exorun::plugin", plugin, "{message}"),
            Level::Info => tracing::info!(target: "exorun::plugin", plugin, "{message}"),
            Level::Warn => tracing::warn!(target: "exorun::plugin", plugin, "{message}"),
            Level::Error => tracing::error!(target: "exorun::plugin", plugin, "{message}"),
        }
        Ok(())
    }
}
