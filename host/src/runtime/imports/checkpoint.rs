//! `checkpoint`: an opaque cursor a long run saves as it goes, so a run of the same plugin on
//! the same input resumes where an unfinished one stopped. Cursors are keyed by the plugin's
//! name and the digest of its input, and cleared when a run finishes. The records a run emitted
//! are written out before each save, so a cursor never points past records that were lost.

use std::collections::HashMap;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use wasmtime::component::{HasSelf, Linker};

use super::output::RecordSink;
use crate::atomic_file::{Access, Replacement};
use crate::digest::sha256_hex;
use crate::durable::{create_dir_synced, sync_dir};
use crate::runtime::bindings::exorun::plugin::checkpoint;
use crate::runtime::error::OutputFailed;
use crate::runtime::state::RunState;

/// The longest cursor a plugin may save: a cursor is a position, not a data store.
pub const MAX_CURSOR_BYTES: usize = 64 * 1024;

/// Which work a cursor belongs to: a plugin and the exact input it was given.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckpointKey {
    plugin: String,
    input_digest: String,
}

impl CheckpointKey {
    /// The key of `plugin` run on `input` by the build(s) of `lineage`: the build's digest, or
    /// what admitted it (see [`crate::policy::Grant::lineage`]), so another build with the same
    /// name never resumes, or reads, this cursor. Only SHA-256s are kept, not the input.
    pub fn new(plugin: &str, lineage: &str, input: &str) -> CheckpointKey {
        CheckpointKey {
            plugin: plugin.to_string(),
            input_digest: sha256_hex(format!("{lineage}\n{input}").as_bytes()),
        }
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// The SHA-256 of the lineage and the input, lowercase hex.
    pub fn input_digest(&self) -> &str {
        &self.input_digest
    }
}

/// Where cursors are kept.
pub trait CheckpointStore: Send + Sync {
    /// Saves `cursor` for `key`, replacing any earlier one.
    fn save(&self, key: &CheckpointKey, cursor: &str) -> io::Result<()>;
    /// The cursor saved for `key`, if any.
    fn restore(&self, key: &CheckpointKey) -> io::Result<Option<String>>;
    /// Forgets the cursor of `key` (the work is finished).
    fn clear(&self, key: &CheckpointKey) -> io::Result<()>;
}

/// Cursors in memory, for one process (tests, workflows that retry within a process).
#[derive(Default)]
pub struct MemoryCheckpoints {
    cursors: Mutex<HashMap<CheckpointKey, String>>,
}

impl MemoryCheckpoints {
    /// An empty store.
    pub fn new() -> MemoryCheckpoints {
        MemoryCheckpoints::default()
    }

    fn cursors(&self) -> std::sync::MutexGuard<'_, HashMap<CheckpointKey, String>> {
        self.cursors.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl CheckpointStore for MemoryCheckpoints {
    fn save(&self, key: &CheckpointKey, cursor: &str) -> io::Result<()> {
        self.cursors().insert(key.clone(), cursor.to_string());
        Ok(())
    }

    fn restore(&self, key: &CheckpointKey) -> io::Result<Option<String>> {
        Ok(self.cursors().get(key).cloned())
    }

    fn clear(&self, key: &CheckpointKey) -> io::Result<()> {
        self.cursors().remove(key);
        Ok(())
    }
}

/// Cursors as files `<dir>/<plugin>-<input digest>.cursor`, private to the user (the directory
/// 0700, files 0600) and replaced atomically, so a crash never leaves half a cursor: written to
/// a temporary file, synced, renamed over the cursor, and the directory synced, so a lost
/// machine neither loses a saved cursor nor brings back a cleared one.
#[derive(Clone, Debug)]
pub struct FileCheckpoints {
    dir: PathBuf,
}

impl FileCheckpoints {
    /// Cursors in `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> FileCheckpoints {
        FileCheckpoints { dir: dir.into() }
    }

    fn path(&self, key: &CheckpointKey) -> io::Result<PathBuf> {
        let safe =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !safe(&key.plugin) || !safe(&key.input_digest) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("'{}' cannot name a checkpoint file", key.plugin),
            ));
        }
        Ok(self
            .dir
            .join(format!("{}-{}.cursor", key.plugin, key.input_digest)))
    }
}

impl CheckpointStore for FileCheckpoints {
    fn save(&self, key: &CheckpointKey, cursor: &str) -> io::Result<()> {
        let path = self.path(key)?;
        create_dir_synced(&self.dir)?;
        let mut replacement = Replacement::new(&path, Access::Private)?;
        replacement.file().write_all(cursor.as_bytes())?;
        kill_point!("checkpoint-written");
        replacement.commit()?;
        kill_point!("checkpoint-saved");
        Ok(())
    }

    fn restore(&self, key: &CheckpointKey) -> io::Result<Option<String>> {
        match std::fs::read_to_string(self.path(key)?) {
            Ok(cursor) => Ok(Some(cursor)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn clear(&self, key: &CheckpointKey) -> io::Result<()> {
        match std::fs::remove_file(self.path(key)?) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
            Ok(()) => sync_dir(&self.dir),
        }
    }
}

/// The run's checkpoint could not be read; the run stops rather than redo finished work.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the run's checkpoint: {0}")]
pub(crate) struct CheckpointUnreadable(pub(crate) io::Error);

/// The `checkpoint` interface of one run.
pub(crate) struct CheckpointHost {
    store: Arc<dyn CheckpointStore>,
    key: CheckpointKey,
    /// The run's records, written out before each save: a cursor never gets ahead of them.
    sink: Arc<dyn RecordSink>,
}

impl CheckpointHost {
    /// Cursors of `key` in `store`, for a run whose records go to `sink`.
    pub(crate) fn new(
        store: Arc<dyn CheckpointStore>,
        key: CheckpointKey,
        sink: Arc<dyn RecordSink>,
    ) -> CheckpointHost {
        CheckpointHost { store, key, sink }
    }
}

pub(super) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    checkpoint::add_to_linker::<RunState, HasSelf<CheckpointHost>>(linker, |state| {
        &mut state.checkpoint
    })
}

impl checkpoint::Host for CheckpointHost {
    fn save(&mut self, cursor: String) -> wasmtime::Result<Result<(), String>> {
        if cursor.len() > MAX_CURSOR_BYTES {
            return Ok(Err(format!(
                "a cursor may be at most {MAX_CURSOR_BYTES} bytes; this one is {}",
                cursor.len()
            )));
        }
        self.sink
            .flush()
            .map_err(|e| wasmtime::Error::new(OutputFailed(e)))?;
        Ok(self
            .store
            .save(&self.key, &cursor)
            .map_err(|e| format!("cannot save the checkpoint: {e}")))
    }

    fn restore(&mut self) -> wasmtime::Result<Option<String>> {
        self.store
            .restore(&self.key)
            .map_err(|e| wasmtime::Error::new(CheckpointUnreadable(e)))
    }
}

#[cfg(test)]
mod tests {
    use checkpoint::Host as _;

    use super::*;

    fn round_trip(store: &dyn CheckpointStore) {
        let key = CheckpointKey::new("stale-mailboxes", "d1", r#"{"days":90}"#);
        let other = CheckpointKey::new("stale-mailboxes", "d1", r#"{"days":30}"#);
        assert_eq!(store.restore(&key).unwrap(), None);
        store.save(&key, "page-3").unwrap();
        store.save(&key, "page-4").unwrap();
        assert_eq!(store.restore(&key).unwrap().as_deref(), Some("page-4"));
        assert_eq!(
            store.restore(&other).unwrap(),
            None,
            "another input is other work"
        );
        let other_build = CheckpointKey::new("stale-mailboxes", "d2", r#"{"days":90}"#);
        assert_eq!(
            store.restore(&other_build).unwrap(),
            None,
            "another build of the same name never reads this cursor"
        );
        store.clear(&key).unwrap();
        store.clear(&key).unwrap();
        assert_eq!(store.restore(&key).unwrap(), None);
    }

    #[test]
    fn memory_store_round_trips() {
        round_trip(&MemoryCheckpoints::new());
    }

    #[test]
    fn file_store_round_trips_privately() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("checkpoints");
        let store = FileCheckpoints::new(&dir);
        round_trip(&store);
        let key = CheckpointKey::new("p", "d1", "{}");
        store.save(&key, "x").unwrap();
        let file = dir.join(format!("p-{}.cursor", key.input_digest()));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode =
                |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!((mode(&dir), mode(&file)), (0o700, 0o600));
        }
        let bad = CheckpointKey::new("../../etc", "d1", "{}");
        assert!(store.save(&bad, "x").is_err());
    }

    #[test]
    fn cursors_are_bounded() {
        let mut host = CheckpointHost::new(
            Arc::new(MemoryCheckpoints::new()),
            CheckpointKey::new("p", "d1", "{}"),
            Arc::new(crate::runtime::VecSink::new()),
        );
        assert!(
            host.save("x".repeat(MAX_CURSOR_BYTES + 1))
                .unwrap()
                .is_err()
        );
        host.save("ok".into()).unwrap().unwrap();
        assert_eq!(host.restore().unwrap().as_deref(), Some("ok"));
    }
}
