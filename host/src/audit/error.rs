//! What can go wrong with the audit log. Every message names the file and what to do; exorun
//! stops rather than act unaudited.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use super::key::KeyError;

/// The audit log cannot be used. Errors are cheap to clone: after the first failed write the
/// log keeps answering with it, so nothing more is done unaudited.
#[derive(Clone, Debug, thiserror::Error)]
pub enum AuditError {
    /// The log's directory could not be created.
    #[error(
        "cannot create the audit log's directory {dir}: {io}\n  fix: create it (mode 700) for the user exorun runs as, or pass --audit-log FILE (EXORUN_AUDIT_LOG) in a directory that user may write"
    )]
    Directory {
        /// The directory.
        dir: PathBuf,
        /// What the system said.
        io: Arc<io::Error>,
    },
    /// The log could not be opened.
    #[error(
        "cannot open the audit log {path}: {io}\n  fix: let the user exorun runs as read and write it (chown, chmod 600), or pass --audit-log FILE (EXORUN_AUDIT_LOG) to use another"
    )]
    Open {
        /// The log.
        path: PathBuf,
        /// What the system said.
        io: Arc<io::Error>,
    },
    /// The log could not be locked for an append.
    #[error(
        "cannot lock the audit log {path}: {io}\n  fix: keep the log on a local file system (one that supports file locks), or pass --audit-log FILE (EXORUN_AUDIT_LOG)"
    )]
    Lock {
        /// The log.
        path: PathBuf,
        /// What the system said.
        io: Arc<io::Error>,
    },
    /// The log could not be read.
    #[error(
        "cannot read the audit log {path}: {io}\n  fix: check the path (--audit-log, EXORUN_AUDIT_LOG) and that this user may read it"
    )]
    Read {
        /// The log.
        path: PathBuf,
        /// What the system said.
        io: Arc<io::Error>,
    },
    /// A record could not be written; whatever it recorded has not been handed on.
    #[error(
        "cannot write to the audit log {path}: {io}\n  fix: free space on its disk or let this user write it, then run again (exorun stops rather than act unaudited)"
    )]
    Write {
        /// The log.
        path: PathBuf,
        /// What the system said.
        io: Arc<io::Error>,
    },
    /// The log (or, just after creating it, its directory) could not be synced to disk, so a
    /// change's record might not survive a crash; the change is not sent.
    #[error(
        "cannot sync the audit log {path} to disk: {io}\n  fix: check the disk and the file system it is on (dmesg), or pass --audit-log FILE (EXORUN_AUDIT_LOG) on a healthy local disk; exorun sends no change whose record may be lost"
    )]
    Sync {
        /// The log, or its directory.
        path: PathBuf,
        /// What the system said.
        io: Arc<io::Error>,
    },
    /// The audit key cannot be made or used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The log ends in a line without its newline: a crash or a full disk cut a record short.
    #[error(
        "the audit log {path} ends in a half-written record, so nothing can be chained to it\n  fix: run `exorun audit verify --audit-log {path}`, keep the file as it is for the record, and move it aside so a new log starts (or pass --audit-log FILE)"
    )]
    HalfWritten {
        /// The log.
        path: PathBuf,
    },
    /// The log's last line is not a record.
    #[error(
        "the last line of the audit log {path} is not an audit record ({reason}), so nothing can be chained to it\n  fix: run `exorun audit verify --audit-log {path}` to see what changed, keep the file for the record, and move it aside so a new log starts (or pass --audit-log FILE)"
    )]
    NotARecord {
        /// The log.
        path: PathBuf,
        /// What is wrong with the line.
        reason: String,
    },
}
