//! A config file kept parsed by a long-running process: read again only when it has changed
//! on disk, so opening the connections of many profiles parses it once, not once per profile
//! (a file of T profiles read T times costs T² work), while a profile added later is still
//! found without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::config::{ConfigError, ConfigFile};

/// What tells a changed file from the one parsed: its modification time, length and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Stamp {
    /// The file's stamp now; `None` when it cannot be looked at (then it is read every time,
    /// and reading it says what is wrong).
    fn of(path: &Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::metadata(path).ok()?;
        Some(Stamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode: meta.ino(),
        })
    }
}

/// The config file at one path, parsed once per version of it.
#[derive(Debug)]
pub struct ConfigCache {
    path: PathBuf,
    parsed: Mutex<Option<(Stamp, Arc<ConfigFile>)>>,
}

impl ConfigCache {
    /// A cache of the file at `path`, not read yet.
    pub fn new(path: &Path) -> ConfigCache {
        ConfigCache {
            path: path.to_path_buf(),
            parsed: Mutex::new(None),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file as it is on disk now (it must exist): the parse kept from before when the file
    /// has not changed since, else read and parsed again.
    pub fn file(&self) -> Result<Arc<ConfigFile>, ConfigError> {
        let before = Stamp::of(&self.path);
        let mut parsed = self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
        if let (Some(now), Some((stamp, file))) = (before, parsed.as_ref())
            && now == *stamp
        {
            return Ok(file.clone());
        }
        let file = Arc::new(ConfigFile::load(&self.path, true)?);
        // Kept only when the file did not change while it was read.
        *parsed = match (before, Stamp::of(&self.path)) {
            (Some(before), Some(after)) if before == after => Some((before, file.clone())),
            _ => None,
        };
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_parsed_once_until_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[profiles.a]\nclient_id = \"x\"\n").unwrap();
        let cache = ConfigCache::new(&path);
        let first = cache.file().unwrap();
        assert!(Arc::ptr_eq(&first, &cache.file().unwrap()));
        std::fs::write(
            &path,
            "[profiles.a]\nclient_id = \"x\"\n[profiles.b]\nclient_id = \"y\"\n",
        )
        .unwrap();
        let second = cache.file().unwrap();
        assert_eq!(
            second.profiles.keys().collect::<Vec<_>>(),
            ["a", "b"],
            "a profile added later is found"
        );
    }

    #[test]
    fn a_missing_file_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.toml");
        let error = ConfigCache::new(&path).file().unwrap_err().to_string();
        assert!(error.contains(&path.display().to_string()), "{error}");
    }
}
