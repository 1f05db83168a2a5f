//! How the runtime is set up: where compiled plugins are cached, how many runs may be in flight,
//! and the most memory any one run may have.

use std::path::PathBuf;

/// Settings of a [`Runtime`](super::Runtime), fixed for the life of the process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeSettings {
    /// Where compiled plugins are kept between processes (see [`default_cache_dir`]); `None`
    /// compiles every plugin on its first load in each process.
    pub cache_dir: Option<PathBuf>,
    /// Runs in flight at once; further runs wait for a free slot. It also sizes the pooling
    /// allocator.
    pub max_concurrent_runs: u32,
    /// The most linear memory a run may have, whatever its limits ask for (it sizes the
    /// pooling allocator's memory slots).
    pub max_memory_bytes: u64,
}

impl Default for RuntimeSettings {
    /// The default cache directory, 16 runs at once, at most 1 GiB of memory per run.
    fn default() -> RuntimeSettings {
        RuntimeSettings {
            cache_dir: default_cache_dir(),
            max_concurrent_runs: 16,
            max_memory_bytes: 1 << 30,
        }
    }
}

/// `compiled` in exorun's cache directory ([`crate::xdg`]): `$XDG_CACHE_HOME/exorun/compiled`,
/// else `~/.cache/exorun/compiled`; `None` without a home.
pub fn default_cache_dir() -> Option<PathBuf> {
    crate::xdg::dir(crate::xdg::Base::Cache).map(|d| d.join("compiled"))
}
