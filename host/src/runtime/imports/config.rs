//! `config`: the non-secret values the operator gave this plugin (`--config key=value`).

use std::collections::BTreeMap;

use wasmtime::component::{HasSelf, Linker};

use crate::runtime::bindings::exorun::plugin::config;
use crate::runtime::state::RunState;

/// The `config` interface of one run.
pub(crate) struct ConfigHost {
    values: BTreeMap<String, String>,
}

impl ConfigHost {
    /// Serves `values`.
    pub(crate) fn new(values: BTreeMap<String, String>) -> ConfigHost {
        ConfigHost { values }
    }
}

pub(super) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    config::add_to_linker::<RunState, HasSelf<ConfigHost>>(linker, |state| &mut state.config)
}

impl config::Host for ConfigHost {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.values.get(&key).cloned())
    }
}
