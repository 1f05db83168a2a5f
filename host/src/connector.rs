//! What the connections of one process share. A run over many tenants opens one connection per
//! tenant; opened through one [`Connector`], they share one HTTPS client (one connection pool)
//! per CA file and one handle on each audit log, so the files a run holds open do not grow with
//! its tenants, and what is read once (the trust store, the audit key) is not read again.
//! `exorun workflow run` opens its tenants through one; `exorun serve` keeps one for its life.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::audit::{Audit, AuditError, AuditKey};
use crate::config::Settings;
use crate::connection::{ConnectError, Connection};
use crate::http::{self, HttpError};
use crate::telemetry::Telemetry;

/// Opens [`Connection`]s that share their HTTPS clients and audit logs.
///
/// Sharing keeps every guarantee of a connection of its own: the audit log's records are
/// appended through one writer per log (the file's lock and the chain as before, one group of
/// syncs for all of them), and each tenant keeps its own credential, token cache and Exchange
/// client (its own concurrency limit and retries).
#[derive(Default)]
pub struct Connector {
    telemetry: Option<Arc<Telemetry>>,
    /// One client per CA file (`None`: the system's roots alone).
    clients: Mutex<HashMap<Option<PathBuf>, reqwest::Client>>,
    /// One handle per log file and key file.
    audits: Mutex<HashMap<(PathBuf, Option<PathBuf>), Audit>>,
}

impl Connector {
    /// A connector sharing nothing yet.
    pub fn new() -> Connector {
        Connector::default()
    }

    /// A connector whose connections count their requests, throttling waits and tokens in
    /// `telemetry` (a long-running process's metrics).
    pub fn observed(telemetry: Arc<Telemetry>) -> Connector {
        Connector {
            telemetry: Some(telemetry),
            ..Connector::default()
        }
    }

    /// Opens a connection as [`Connection::open`] does, with this connector's client for the
    /// settings' CA file and its handle on the settings' audit log (each made on first use).
    pub fn open(&self, settings: Settings) -> Result<Connection, ConnectError> {
        Connection::open_in(settings, self)
    }

    /// The telemetry connections count in, if any.
    pub(crate) fn telemetry(&self) -> Option<&Arc<Telemetry>> {
        self.telemetry.as_ref()
    }

    /// The HTTPS client for `ca_file`, built on first use.
    pub(crate) fn http(&self, ca_file: Option<&Path>) -> Result<reqwest::Client, HttpError> {
        let key = ca_file.map(Path::to_path_buf);
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = http::client(ca_file)?;
        clients.insert(key, client.clone());
        Ok(client)
    }

    /// The handle on the audit log at `path` keyed with the key file `key`, opened on first
    /// use (a log that cannot be appended to is refused then, and asked again next time): the
    /// one its connections record in, for a process's own records in the same log.
    pub fn audit(&self, path: &Path, key: Option<&Path>) -> Result<Audit, AuditError> {
        let place = (path.to_path_buf(), key.map(Path::to_path_buf));
        let mut audits = self.audits.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(audit) = audits.get(&place) {
            return Ok(audit.clone());
        }
        let key = key.map(AuditKey::load).transpose()?;
        let audit = Audit::open_keyed(path, key)?;
        audits.insert(place, audit.clone());
        Ok(audit)
    }
}
