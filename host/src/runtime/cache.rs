//! The disk cache of compiled plugins: `<dir>/<digest>-<engine fingerprint>.cwasm`.
//!
//! A cache entry is native code that is mapped and run without checks, so it is treated as
//! code: the directory is created private (0700), entries are written private (0600) and
//! atomically (a temporary file renamed into place), and an entry is loaded only when it and
//! its directory belong to this user and nobody else can write them. Each entry starts with the
//! digest of the plugin it was compiled from and the SHA-256 of its code: an entry planted under
//! another plugin's name, or changed after it was written, is refused. Anything refused is
//! compiled afresh.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::atomic_file::{Access, Replacement};
use crate::digest::sha256;

/// Extension of cache entries.
const EXTENSION: &str = "cwasm";

/// What every entry starts with: this tag, the plugin's digest (64 hex digits), then the
/// SHA-256 of the code that follows.
const TAG: &[u8; 8] = b"exorunC1";
const HEADER: usize = TAG.len() + 64 + 32;

/// A cache directory this process may read and write.
#[derive(Debug)]
pub(crate) struct CompileCache {
    dir: PathBuf,
    /// The user this process runs as, learned from a file it created in `dir`.
    uid: u32,
}

impl CompileCache {
    /// Creates `dir` (0700) if needed and checks that it is safe to keep code in; an unsafe or
    /// unusable directory is an error that says why.
    pub(crate) fn open(dir: &Path) -> io::Result<CompileCache> {
        create_private_dir(dir)?;
        let uid = probe_uid(dir)?;
        let cache = CompileCache {
            dir: dir.to_path_buf(),
            uid,
        };
        cache.check_dir()?;
        Ok(cache)
    }

    /// The directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the entry for a plugin `digest` compiled by an engine with `fingerprint` lives.
    pub(crate) fn entry(&self, digest: &str, fingerprint: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{fingerprint}.{EXTENSION}"))
    }

    /// Whether `entry` may be loaded: it is a regular file (not a link) owned by this user and
    /// writable by nobody else, in a directory that is the same. `Ok(false)` when it does not
    /// exist; an error says what is wrong with it.
    fn trusted(&self, entry: &Path) -> io::Result<bool> {
        let meta = match fs::symlink_metadata(entry) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        self.check_dir()?;
        if !meta.file_type().is_file() {
            return Err(unsafe_entry(entry, "it is not a regular file"));
        }
        check_owner_and_mode(&meta, self.uid, entry)?;
        Ok(true)
    }

    /// The code of `entry` if it may be loaded (see [`CompileCache::trusted`]) and was written
    /// for the plugin `digest`, unchanged since; `Ok(None)` when there is no entry; an error
    /// says what is wrong with it.
    pub(crate) fn load(&self, entry: &Path, digest: &str) -> io::Result<Option<Vec<u8>>> {
        if !self.trusted(entry)? {
            return Ok(None);
        }
        let mut bytes = fs::read(entry)?;
        if bytes.len() < HEADER || &bytes[..TAG.len()] != TAG {
            return Err(bad_entry(entry, "it is not an entry exorun wrote"));
        }
        let written_for = &bytes[TAG.len()..TAG.len() + 64];
        if written_for != digest.as_bytes() {
            return Err(bad_entry(
                entry,
                &format!(
                    "it was compiled from another plugin ({}), not {digest}",
                    String::from_utf8_lossy(written_for)
                ),
            ));
        }
        if bytes[TAG.len() + 64..HEADER] != sha256(&bytes[HEADER..]) {
            return Err(bad_entry(
                entry,
                "its code was changed after it was written",
            ));
        }
        bytes.drain(..HEADER);
        Ok(Some(bytes))
    }

    /// Writes `code` compiled from the plugin `digest` as `entry`, private and whole or not at
    /// all ([`crate::atomic_file`]), so a reader never sees half an entry.
    pub(crate) fn store(&self, entry: &Path, digest: &str, code: &[u8]) -> io::Result<()> {
        if digest.len() != 64 {
            return Err(io::Error::other(format!(
                "'{digest}' is not a plugin digest"
            )));
        }
        self.check_dir()?;
        let mut replacement = Replacement::new(entry, Access::Private)?;
        let file = replacement.file();
        file.write_all(TAG)?;
        file.write_all(digest.as_bytes())?;
        file.write_all(&sha256(code))?;
        file.write_all(code)?;
        replacement.commit()
    }

    /// Removes an entry that could not be loaded, so it is written afresh.
    pub(crate) fn discard(&self, entry: &Path) {
        if let Err(error) = fs::remove_file(entry) {
            tracing::debug!(entry = %entry.display(), %error, "cannot remove a stale cache entry");
        }
    }

    fn check_dir(&self) -> io::Result<()> {
        let meta = fs::metadata(&self.dir)?;
        if !meta.is_dir() {
            return Err(unsafe_entry(&self.dir, "it is not a directory"));
        }
        check_owner_and_mode(&meta, self.uid, &self.dir)
    }
}

/// An entry whose content is not what this cache wrote for the plugin (`InvalidData`: it is
/// removed and written afresh).
fn bad_entry(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{} is not loaded: {why}", path.display()),
    )
}

fn unsafe_entry(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{} is not safe to load compiled code from: {why}",
            path.display()
        ),
    )
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// The uid of this process, as the owner of a file it creates in `dir` (std has no `geteuid`).
#[cfg(unix)]
fn probe_uid(dir: &Path) -> io::Result<u32> {
    use std::os::unix::fs::MetadataExt as _;
    let probe = tempfile::Builder::new()
        .prefix(".probe.")
        .tempfile_in(dir)?;
    Ok(probe.as_file().metadata()?.uid())
}

#[cfg(unix)]
fn check_owner_and_mode(meta: &fs::Metadata, uid: u32, path: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    if meta.uid() != uid {
        return Err(unsafe_entry(
            path,
            &format!("it belongs to uid {}, not to this user ({uid})", meta.uid()),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_entry(
            path,
            &format!(
                "its mode {:o} lets others write it (fix: chmod go-w)",
                meta.mode() & 0o777
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "the compile cache needs Unix file ownership and modes",
    )
}

#[cfg(not(unix))]
fn create_private_dir(_: &Path) -> io::Result<()> {
    Err(unsupported())
}

#[cfg(not(unix))]
fn probe_uid(_: &Path) -> io::Result<u32> {
    Err(unsupported())
}

#[cfg(not(unix))]
fn check_owner_and_mode(_: &fs::Metadata, _: u32, _: &Path) -> io::Result<()> {
    Err(unsupported())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_a_private_directory_and_private_entries() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("a/b/compiled");
        let cache = CompileCache::open(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let entry = cache.entry("abc", "0123456789abcdef");
        assert_eq!(entry, dir.join("abc-0123456789abcdef.cwasm"));
        assert!(!cache.trusted(&entry).unwrap(), "absent");
        cache.store(&entry, DIGEST, b"code").unwrap();
        assert_eq!(mode(&entry), 0o600);
        assert!(cache.trusted(&entry).unwrap());
        assert_eq!(
            cache.load(&entry, DIGEST).unwrap().as_deref(),
            Some(&b"code"[..])
        );
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            1,
            "no temporary or probe files remain: {leftovers:?}"
        );
        cache.discard(&entry);
        assert!(!entry.exists());
    }

    const DIGEST: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const OTHER: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn a_foreign_or_changed_entry_is_refused() {
        let scratch = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(scratch.path()).unwrap();
        // Another plugin's compiled code planted under this plugin's name.
        let other = cache.entry(OTHER, "f");
        cache.store(&other, OTHER, b"other code").unwrap();
        let entry = cache.entry(DIGEST, "f");
        fs::copy(&other, &entry).unwrap();
        chmod(&entry, 0o600);
        let e = cache.load(&entry, DIGEST).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(
            e.to_string().contains(&format!(
                "compiled from another plugin ({OTHER}), not {DIGEST}"
            )),
            "{e}"
        );
        // This plugin's entry with its code changed.
        cache.store(&entry, DIGEST, b"code").unwrap();
        let mut bytes = fs::read(&entry).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        fs::write(&entry, &bytes).unwrap();
        let e = cache.load(&entry, DIGEST).unwrap_err();
        assert!(
            e.to_string()
                .contains("its code was changed after it was written"),
            "{e}"
        );
        // Code that exorun did not write at all.
        fs::write(&entry, b"\x7fELF...").unwrap();
        assert!(
            cache
                .load(&entry, DIGEST)
                .unwrap_err()
                .to_string()
                .contains("not an entry exorun wrote")
        );
        assert!(
            cache
                .load(&cache.entry(DIGEST, "g"), DIGEST)
                .unwrap()
                .is_none(),
            "absent"
        );
    }

    #[test]
    fn the_fingerprint_changes_the_file_name() {
        let scratch = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(scratch.path()).unwrap();
        assert_ne!(cache.entry("abc", "1111"), cache.entry("abc", "2222"));
        assert_ne!(cache.entry("abc", "1111"), cache.entry("abd", "1111"));
    }

    #[test]
    fn writable_by_others_is_refused() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("compiled");
        let cache = CompileCache::open(&dir).unwrap();
        let entry = cache.entry("abc", "f");
        cache.store(&entry, DIGEST, b"code").unwrap();

        chmod(&entry, 0o666);
        let e = cache.trusted(&entry).unwrap_err().to_string();
        assert!(e.contains("lets others write it"), "{e}");
        chmod(&entry, 0o600);

        chmod(&dir, 0o777);
        assert!(cache.trusted(&entry).is_err(), "a world-writable directory");
        assert!(CompileCache::open(&dir).is_err());
        chmod(&dir, 0o770);
        assert!(cache.trusted(&entry).is_err(), "a group-writable directory");
        chmod(&dir, 0o700);
        assert!(cache.trusted(&entry).unwrap());
    }

    #[test]
    fn links_are_refused() {
        let scratch = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(scratch.path()).unwrap();
        let target = scratch.path().join("elsewhere");
        fs::write(&target, b"code").unwrap();
        let entry = cache.entry("abc", "f");
        std::os::unix::fs::symlink(&target, &entry).unwrap();
        let e = cache.trusted(&entry).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }
}
