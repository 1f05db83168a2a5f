//! The operator's audit key: 32 random bytes, kept as hex in a file of their own, apart from the
//! log (`exorun audit key new FILE`, then `--audit-key FILE` or `EXORUN_AUDIT_KEY`). With a key,
//! each record ends in a `mac` field, the HMAC-SHA-256 of the line before it; whoever can
//! rewrite the log but not read the key cannot forge one, so `exorun audit verify --key FILE`
//! finds a log rewritten with its hashes recomputed.
//!
//! Why an HMAC per record rather than a signed checkpoint of the head now and then: every record
//! is vouched for the moment it is written (a checkpoint leaves the records after the last one
//! open to a quiet rewrite), nothing has to run on a schedule, and the cost is two SHA-256
//! block compressions per record ([`super::mac`]). The price is that checking needs the
//! secret key itself, not a public one; keep it where the log's writers-by-accident cannot read
//! it (a secret store, another user's file), and give it to `verify`.

use std::fmt;
use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::mac::Hmac;
use crate::digest::hex;

/// The key's length in bytes.
const KEY_BYTES: usize = 32;

/// A loaded audit key, ready to make MACs. Its `Debug` names only the file it came from.
#[derive(Clone)]
pub struct AuditKey {
    hmac: Hmac,
    path: PathBuf,
}

/// Why an audit key cannot be made or used. No variant holds any of the key's bytes.
#[derive(Clone, Debug, thiserror::Error)]
pub enum KeyError {
    /// `audit key new` would overwrite a key.
    #[error(
        "{path} already exists, and a key in use is never overwritten (its records could no longer be checked)\n  fix: name a new file, or move the old key aside first and keep it for verifying the records made with it"
    )]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The key file could not be written.
    #[error(
        "cannot write the audit key {path}: {io}\n  fix: name a file in a directory this user may write"
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        io: Arc<io::Error>,
    },
    /// The key file could not be read.
    #[error(
        "cannot read the audit key {path}: {io}\n  fix: check the path given to --audit-key (EXORUN_AUDIT_KEY) and that this user may read it; make a key with `exorun audit key new FILE`"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        io: Arc<io::Error>,
    },
    /// The key file may be read by others than its owner.
    #[error(
        "the audit key {path} may be read by other users (mode {mode:o}), so it vouches for nothing\n  fix: chmod 600 {path} (and make a new key if others may have read it)"
    )]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file does not hold a key.
    #[error(
        "{path} is not an audit key: it must hold the {hex} hexadecimal digits `exorun audit key new` writes, on one line\n  fix: name the key file itself, or make one with `exorun audit key new FILE`",
        hex = KEY_BYTES * 2
    )]
    Malformed {
        /// The file.
        path: PathBuf,
    },
}

impl AuditKey {
    /// Makes a new random key and writes it to `path` (mode 600), which must not exist yet.
    pub fn create(path: &Path) -> Result<AuditKey, KeyError> {
        let mut key = [0u8; KEY_BYTES];
        openssl::rand::rand_bytes(&mut key).map_err(|e| KeyError::Write {
            path: path.to_path_buf(),
            io: Arc::new(io::Error::other(e)),
        })?;
        let mut text = hex(&key);
        text.push('\n');
        crate::atomic_file::create_private(path, text.as_bytes()).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => KeyError::Exists {
                path: path.to_path_buf(),
            },
            _ => KeyError::Write {
                path: path.to_path_buf(),
                io: Arc::new(e),
            },
        })?;
        Ok(AuditKey::from_bytes(&key, path))
    }

    /// Reads the key in `path`, refusing a file other users may read.
    pub fn load(path: &Path) -> Result<AuditKey, KeyError> {
        let read_error = |e: io::Error| KeyError::Read {
            path: path.to_path_buf(),
            io: Arc::new(e),
        };
        let mode = std::fs::metadata(path).map_err(read_error)?.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Exposed {
                path: path.to_path_buf(),
                mode,
            });
        }
        let text = std::fs::read(path).map_err(read_error)?;
        let malformed = || KeyError::Malformed {
            path: path.to_path_buf(),
        };
        let digits = text.strip_suffix(b"\n").unwrap_or(&text);
        if digits.len() != KEY_BYTES * 2 {
            return Err(malformed());
        }
        let mut key = [0u8; KEY_BYTES];
        for (byte, pair) in key.iter_mut().zip(digits.chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| malformed())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| malformed())?;
        }
        Ok(AuditKey::from_bytes(&key, path))
    }

    fn from_bytes(key: &[u8], path: &Path) -> AuditKey {
        AuditKey {
            hmac: Hmac::new(key),
            path: path.to_path_buf(),
        }
    }

    /// The file the key was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The MAC of `line` (a record up to its `mac` field), lowercase hex.
    pub(super) fn mac(&self, line: &[u8]) -> String {
        hex(&self.hmac.mac(line))
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditKey")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn a_new_key_is_private_loads_back_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        let made = AuditKey::create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = AuditKey::load(&path).unwrap();
        assert_eq!(made.mac(b"line"), loaded.mac(b"line"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 65, "{text}");
        let e = AuditKey::create(&path).unwrap_err();
        assert!(matches!(e, KeyError::Exists { .. }), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let other = AuditKey::create(&dir.path().join("other.key")).unwrap();
        assert_ne!(other.mac(b"line"), made.mac(b"line"), "keys are random");
    }

    #[test]
    fn a_key_others_may_read_or_a_file_that_is_no_key_is_refused_without_showing_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        let key = AuditKey::create(&path).unwrap();
        let digits = std::fs::read_to_string(&path).unwrap();
        let digits = digits.trim();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = AuditKey::load(&path).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the audit key {0} may be read by other users (mode 640), so it vouches for nothing\n  fix: chmod 600 {0} (and make a new key if others may have read it)",
                path.display()
            )
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, format!("{}zz\n", &digits[..62])).unwrap();
        let e = AuditKey::load(&path).unwrap_err();
        assert!(matches!(e, KeyError::Malformed { .. }), "{e}");
        let shown = format!("{e} {e:?} {key:?}");
        assert!(!shown.contains(&digits[..16]), "{shown}");
        assert!(format!("{key:?}").starts_with("AuditKey { path: "));
    }
}
