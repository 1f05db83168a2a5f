//! Files written whole or not at all: the one way exorun writes a file a reader may open while
//! it is written, or a crash may cut (compiled plugins, checkpoints, reports, plans, packed
//! and signed artifacts, signatures, keys). The bytes go to a temporary file beside the target
//! (made by `tempfile`, removed if anything fails), are synced, and the temporary file is
//! renamed over the target, then the directory is synced: a reader sees the old file or the new
//! one, and after a crash the new one is there whole or not at all.

use std::fs::{File, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::durable::sync_dir;

/// Who may read the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Its owner only (mode 600), from the moment it exists: keys, cached code, checkpoints,
    /// and what holds tenant data (reports, plans).
    Private,
    /// Anyone the directory lets in (mode 644 within the umask): artifacts, signatures, public
    /// keys.
    Shared,
}

/// A file being written in place of `path`: [`Replacement::file`] takes the bytes,
/// [`Replacement::commit`] puts it in place. Dropped without a commit, it leaves nothing.
pub struct Replacement {
    temp: NamedTempFile,
    path: PathBuf,
}

impl Replacement {
    /// Starts a replacement of `path` (which need not exist yet) readable as `access` says.
    pub fn new(path: &Path, access: Access) -> io::Result<Replacement> {
        let mode = match access {
            Access::Private => 0o600,
            Access::Shared => 0o644,
        };
        let temp = tempfile::Builder::new()
            .prefix(&format!(
                ".{}.",
                path.file_name().map_or_else(
                    || "exorun".into(),
                    |name| name.to_string_lossy().into_owned()
                )
            ))
            .suffix(".tmp")
            .permissions(Permissions::from_mode(mode))
            .tempfile_in(directory(path))?;
        Ok(Replacement {
            temp,
            path: path.to_path_buf(),
        })
    }

    /// The temporary file, to write the new contents to.
    pub fn file(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    /// Syncs the new contents and puts them in place of the old file, then syncs the
    /// directory.
    pub fn commit(self) -> io::Result<()> {
        self.temp.as_file().sync_all()?;
        self.temp.persist(&self.path).map_err(|e| e.error)?;
        sync_dir(directory(&self.path))
    }

    /// Like [`Replacement::commit`], but fails with [`io::ErrorKind::AlreadyExists`] (leaving
    /// the existing file as it is) when `path` exists.
    pub fn commit_new(self) -> io::Result<()> {
        self.temp.as_file().sync_all()?;
        self.temp
            .persist_noclobber(&self.path)
            .map_err(|e| e.error)?;
        sync_dir(directory(&self.path))
    }
}

/// Writes `bytes` in place of `path`, whole or not at all.
pub fn replace(path: &Path, bytes: &[u8], access: Access) -> io::Result<()> {
    let mut replacement = Replacement::new(path, access)?;
    replacement.file().write_all(bytes)?;
    replacement.commit()
}

/// Writes `bytes` to `path`, which must not exist yet ([`io::ErrorKind::AlreadyExists`]
/// otherwise), readable by its owner only, whole or not at all: a new key or secret.
pub fn create_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut replacement = Replacement::new(path, Access::Private)?;
    replacement.file().write_all(bytes)?;
    replacement.commit_new()
}

/// The directory `path` is in (`.` for a bare file name): where its temporary file goes.
pub fn directory(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt as _;

    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_replacement_is_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.html");
        replace(&path, b"first", Access::Shared).unwrap();
        replace(&path, b"second", Access::Shared).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(names(dir.path()), ["report.html"]);
        let mode = std::fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode & 0o600, 0o600);
        assert_eq!(mode & 0o022, 0, "never writable by others");
    }

    #[test]
    fn a_replacement_dropped_before_its_commit_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint");
        replace(&path, b"old", Access::Private).unwrap();
        let mut replacement = Replacement::new(&path, Access::Private).unwrap();
        replacement.file().write_all(b"half of the ne").unwrap();
        drop(replacement);
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["checkpoint"]);
    }

    #[test]
    fn a_private_file_is_its_owners_only_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        create_private(&path, b"secret").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let again = create_private(&path, b"other").unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
        assert_eq!(names(dir.path()), ["key"]);
    }

    #[test]
    fn a_bare_file_name_is_written_in_the_current_directory() {
        assert_eq!(directory(Path::new("plan.json")), Path::new("."));
        assert_eq!(directory(Path::new("/tmp/plan.json")), Path::new("/tmp"));
    }
}
