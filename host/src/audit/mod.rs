//! The tamper-evident audit log: an append-only JSON Lines file with one record per event —
//! a plugin run's start and end, every token asked of the credential (never the token), every
//! cmdlet sent, rehearsed or refused and why — each record carrying its sequence number and the
//! SHA-256 of the line before, so a changed, removed, inserted or reordered line breaks the
//! chain ([`verify()`]).
//!
//! The host holds one [`Audit`] handle (cheap to clone) and passes it down: the token provider
//! records tokens, the Exchange client records each request it sends (one record per page of
//! results, never per row) before handing the page on, the runtime records runs, and the policy
//! gate records what it refuses ([`Audit::denied`]). A record that cannot be written stops the
//! work: the failure is kept and every later record, and every request, is refused with it.
//!
//! A change (a cmdlet that is not a read) also has its intent recorded before it is sent
//! ([`Audit::intent`]), and that record is on disk before the request leaves: a change the
//! service applied is never missing from the log, even if the process is killed before the
//! answer. The syncs are grouped ([`crate::durable::Syncs`]): one `fdatasync` covers every line
//! written while the one before it ran. Records of reads wait for no sync; the next intent's
//! sync (or the last handle's drop) takes them along.
//!
//! With the operator's key ([`AuditKey`]) every record also carries an HMAC of its line, so a
//! log rewritten with its hashes recomputed is found ([`verify_with_key`]).
//!
//! ```no_run
//! # fn example() -> Result<(), exorun::audit::AuditError> {
//! use exorun::audit::{Audit, CallContext, RunId};
//!
//! let audit = Audit::open(std::path::Path::new("/var/lib/exorun/audit.jsonl"))?;
//! let context = CallContext { run: Some(RunId::new()), ..CallContext::default() };
//! let mut params = serde_json::Map::new();
//! params.insert("Identity".into(), "ceo@contoso.com".into());
//! audit.denied(&context, "Set-Mailbox", &params, "the policy grants Set-Mailbox only for *@branch.contoso.com")?;
//! if let Some(head) = audit.head() {
//!     println!("audit: {} records, head {}", head.seq, head.hash);
//! }
//! # Ok(())
//! # }
//! ```

mod error;
mod key;
mod mac;
mod prepared;
pub mod record;
pub mod redact;
mod show;
pub(crate) mod verify;
mod writer;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde_json::{Map, Value};

pub use error::AuditError;
pub use key::{AuditKey, KeyError};
pub use prepared::{CallOutcome, PreparedCall};
pub use record::{
    Call, CallContext, CallerRef, Decision, Event, Outcome, PluginRef, Record, RequestRefused,
    RunEnd, RunId, RunStart, TokenAcquisition,
};
pub use show::{Entries, Entry, Filter, entries};
pub use verify::{Problem, ProblemKind, Report, verify, verify_with_key};
pub use writer::Head;

use crate::durable::Syncs;
use crate::group_commit::Ticket;
use writer::Writer;

/// Where the log is kept when neither `--audit-log` nor `EXORUN_AUDIT_LOG` say:
/// `audit.jsonl` in exorun's state directory (`$XDG_STATE_HOME/exorun`, else
/// `~/.local/state/exorun`); `None` without a home.
pub fn default_log_path() -> Option<PathBuf> {
    crate::config::state_dir().map(|dir| dir.join("audit.jsonl"))
}

/// The audit log as the host holds it: clones share one open file. A disabled handle (for
/// library users and tests that keep no log) accepts every record and writes nothing.
///
/// Appending takes an exclusive lock on the file, so threads and processes on one machine can
/// share a log; each record is one `write` of a whole line, done before the caller goes on (it
/// blocks briefly, well under a millisecond when nobody else holds the lock).
#[derive(Clone)]
pub struct Audit {
    log: Option<Arc<Log>>,
}

struct Log {
    path: PathBuf,
    writer: Mutex<Writer>,
    /// Groups the syncs of this process's records (one `fdatasync` for every record written
    /// while the one before ran).
    syncs: Arc<Syncs>,
    /// The first failure; once set, every record and request is refused with it.
    broken: OnceLock<AuditError>,
    /// Wakes [`Audit::broken`] waiters when the log breaks.
    breaks: tokio::sync::Notify,
}

impl Audit {
    /// Opens the log at `path`, creating it (mode 600, its directory mode 700) if need be, and
    /// reads its last record: a log that cannot be appended to is refused here, before
    /// anything is done.
    pub fn open(path: &Path) -> Result<Audit, AuditError> {
        Audit::open_keyed(path, None)
    }

    /// [`Audit::open`], and with `key` every record appended carries the MAC of its line.
    pub fn open_keyed(path: &Path, key: Option<AuditKey>) -> Result<Audit, AuditError> {
        let writer = Writer::open(path, key)?;
        let syncs = Syncs::new(&writer.file()?).map_err(|e| AuditError::Open {
            path: path.to_path_buf(),
            io: Arc::new(e),
        })?;
        Ok(Audit {
            log: Some(Arc::new(Log {
                path: path.to_path_buf(),
                syncs,
                writer: Mutex::new(writer),
                broken: OnceLock::new(),
                breaks: tokio::sync::Notify::new(),
            })),
        })
    }

    /// A handle that records nothing.
    pub fn disabled() -> Audit {
        Audit { log: None }
    }

    /// Whether records are written.
    pub fn is_enabled(&self) -> bool {
        self.log.is_some()
    }

    /// The log's file.
    pub fn path(&self) -> Option<&Path> {
        self.log.as_ref().map(|log| log.path.as_path())
    }

    /// The last record written through this handle (or found at the end of the log when it
    /// was opened or last appended to): what to keep elsewhere to detect lines cut off the end.
    pub fn head(&self) -> Option<Head> {
        let log = self.log.as_ref()?;
        log.writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .head()
            .cloned()
    }

    /// Appends `event`. After a failure every record is refused with the first error.
    pub fn record(&self, event: Event) -> Result<(), AuditError> {
        if !self.is_enabled() {
            return Ok(());
        }
        let json = serde_json::to_vec(&event).expect("records always serialize");
        self.append(&json, false)
    }

    /// Appends `event` and returns once it (and every record before it) is on disk: for what
    /// must be in the log before exorun acts on it.
    pub fn record_synced(&self, event: Event) -> Result<(), AuditError> {
        if !self.is_enabled() {
            return Ok(());
        }
        let json = serde_json::to_vec(&event).expect("records always serialize");
        self.append(&json, true)
    }

    /// Appends the intent of a change about to be sent: `call`'s first half, marked
    /// `"intent":true`, and returns once it (and every record before it) is on disk. The
    /// change's outcome follows in its own record ([`Audit::record_call`]).
    ///
    /// The wait for the disk is off the async worker: a fan-out's changes wait for their syncs
    /// together, one of them at a time running the round's `fdatasync` on a blocking thread
    /// ([`Syncs::stored`]), so one sync covers as many intents as are in flight; waiting on the
    /// worker would block it, and with two workers no sync could cover more than two intents.
    pub async fn intent(&self, call: &PreparedCall) -> Result<(), AuditError> {
        let Some(log) = &self.log else {
            return Ok(());
        };
        let ticket = log.append(&call.intent())?;
        let stored = log.syncs.stored(ticket).await;
        log.synced(stored)
    }

    /// Appends the record of a sent request: `call`'s first half, made before the request
    /// went out, and its `outcome`.
    pub fn record_call(
        &self,
        call: &PreparedCall,
        outcome: &CallOutcome<'_>,
    ) -> Result<(), AuditError> {
        if !self.is_enabled() {
            return Ok(());
        }
        self.append(&call.finish(outcome), false)
    }

    /// Appends an event already serialized, and when `durable`, waits until it is on disk.
    /// After a failure every record is refused with the first error.
    fn append(&self, event: &[u8], durable: bool) -> Result<(), AuditError> {
        let Some(log) = &self.log else {
            return Ok(());
        };
        let ticket = log.append(event)?;
        if durable {
            log.sync(ticket)?;
        }
        Ok(())
    }

    /// Records that `cmdlet` with `params` (secret values are redacted) was refused for
    /// `reason`, asked for in `context`: the policy gate's record of what it did not let through.
    pub fn denied(
        &self,
        context: &CallContext,
        cmdlet: &str,
        params: &Map<String, Value>,
        reason: &str,
    ) -> Result<(), AuditError> {
        self.unsent(context, cmdlet, params, |call| {
            call.decision = Decision::Denied;
            call.why = Some(reason.to_string());
        })
    }

    /// Records that `cmdlet` with `params` (secret values are redacted), allowed in `context`,
    /// was rehearsed in a dry run: recorded, not sent.
    pub fn rehearsed(
        &self,
        context: &CallContext,
        cmdlet: &str,
        params: &Map<String, Value>,
    ) -> Result<(), AuditError> {
        self.unsent(context, cmdlet, params, |call| call.dry_run = true)
    }

    /// Records that `cmdlet` with `params`, allowed in `context`, was not sent again because an
    /// interrupted attempt of the same work already made it (the run's journal says so).
    pub fn replayed(
        &self,
        context: &CallContext,
        cmdlet: &str,
        params: &Map<String, Value>,
    ) -> Result<(), AuditError> {
        self.unsent(context, cmdlet, params, |call| {
            call.why = Some(format!(
                "{}; made before the run was interrupted: answered from the run's journal, not sent again",
                call.why.as_deref().unwrap_or("allowed")
            ));
        })
    }

    /// Records a call that was not sent, as `adjust` says why (nothing when not auditing).
    fn unsent(
        &self,
        context: &CallContext,
        cmdlet: &str,
        params: &Map<String, Value>,
        adjust: impl FnOnce(&mut Call),
    ) -> Result<(), AuditError> {
        if !self.is_enabled() {
            return Ok(());
        }
        let mut call = Call::new(context, cmdlet, params);
        adjust(&mut call);
        self.record(Event::Call(call))
    }

    /// Fails if a record could not be written: nothing more may be done unaudited.
    pub fn check(&self) -> Result<(), AuditError> {
        self.log.as_ref().map_or(Ok(()), |log| log.check())
    }

    /// Waits until a record cannot be written and gives the error (never, for a disabled
    /// handle): for stopping work that may not go on unaudited.
    pub async fn broken(&self) -> AuditError {
        let Some(log) = &self.log else {
            return std::future::pending().await;
        };
        loop {
            let breaks = log.breaks.notified();
            let mut breaks = std::pin::pin!(breaks);
            breaks.as_mut().enable();
            if let Some(error) = log.broken.get() {
                return error.clone();
            }
            breaks.await;
        }
    }
}

impl Log {
    fn check(&self) -> Result<(), AuditError> {
        self.broken.get().map_or(Ok(()), |error| Err(error.clone()))
    }

    /// Appends an event already serialized, and gives the ticket to wait for it to be on
    /// disk. After a failure every record is refused with the first error.
    fn append(&self, event: &[u8]) -> Result<Ticket, AuditError> {
        self.check()?;
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.check()?;
        writer
            .append(event)
            .map_err(|error| self.break_with(error))?;
        kill_point!("audit-appended");
        Ok(self.syncs.wrote())
    }

    /// Keeps `error` (or an earlier one) as the log's failure and gives it back.
    fn break_with(&self, error: AuditError) -> AuditError {
        let first = self.broken.get_or_init(|| error).clone();
        self.breaks.notify_waiters();
        first
    }

    /// Waits until the write `ticket` counts is on disk, blocking this thread.
    fn sync(&self, ticket: Ticket) -> Result<(), AuditError> {
        self.synced(self.syncs.stored_here(ticket))
    }

    /// What a wait for the disk gave: a failed sync breaks the log.
    fn synced(&self, stored: Result<(), Arc<io::Error>>) -> Result<(), AuditError> {
        stored.map_err(|io| {
            self.break_with(AuditError::Sync {
                path: self.path.clone(),
                io,
            })
        })?;
        kill_point!("audit-synced");
        Ok(())
    }
}

impl Drop for Log {
    /// The records of reads, which waited for no sync, go to disk when the last handle goes.
    /// An error here has nobody left to tell, and no change waits for these records.
    fn drop(&mut self) {
        if self.broken.get().is_none() {
            let _ = self.syncs.all_stored_here();
        }
    }
}

impl fmt::Debug for Audit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path() {
            Some(path) => f.debug_tuple("Audit").field(&path).finish(),
            None => f.write_str("Audit(disabled)"),
        }
    }
}

#[cfg(test)]
pub(crate) mod testkit {
    //! Logs to test against.

    use std::path::{Path, PathBuf};

    use super::writer::{Head, Writer};
    use super::{Event, TokenAcquisition};

    /// A token record whose app id is `app-{n}`.
    pub fn token_event(n: u64) -> Event {
        Event::Token(TokenAcquisition {
            intent: false,
            app_id: Some(format!("app-{n}")),
            tenant: None,
            resource: "https://outlook.office365.com".into(),
            credential: "certificate".into(),
            expires_at: None,
            error: None,
        })
    }

    /// A log of `n` token records `app-1`…, and each record's head.
    pub fn log_of(n: u64) -> (tempfile::TempDir, PathBuf, Vec<Head>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut writer = Writer::open(&path, None).unwrap();
        let heads = (1..=n)
            .map(|i| {
                writer
                    .append(&serde_json::to_vec(&token_event(i)).unwrap())
                    .unwrap()
            })
            .collect();
        (dir, path, heads)
    }

    /// The log's lines, each with its newline.
    pub fn lines_of(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .split_inclusive('\n')
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::testkit::{lines_of, log_of, token_event};
    use super::*;

    #[test]
    fn threads_and_other_handles_share_one_chain() {
        let (_dir, path, _) = log_of(1);
        let one = Audit::open(&path).unwrap();
        let other = Audit::open(&path).unwrap();
        std::thread::scope(|scope| {
            for t in 0..8u64 {
                let audit = if t % 2 == 0 {
                    one.clone()
                } else {
                    other.clone()
                };
                scope.spawn(move || {
                    for i in 0..50 {
                        audit.record(token_event(t * 100 + i)).unwrap();
                    }
                });
            }
        });
        let report = verify(&path, None).unwrap();
        assert_eq!(report.problem, None);
        assert_eq!(report.intact, 1 + 8 * 50);
        let newest = [one.head().unwrap(), other.head().unwrap()]
            .into_iter()
            .max_by_key(|h| h.seq);
        assert_eq!(newest, report.head);
    }

    #[test]
    fn appending_costs_well_under_a_millisecond() {
        let (_dir, path, _) = log_of(0);
        let audit = Audit::open(&path).unwrap();
        let started = Instant::now();
        for i in 0..1000 {
            audit.record(token_event(i)).unwrap();
        }
        let each = started.elapsed() / 1000;
        assert!(each < Duration::from_millis(1), "{each:?} per record");
        assert_eq!(audit.head().unwrap().seq, 1000);
    }

    #[test]
    fn denied_calls_are_recorded_with_the_reason_and_no_secret() {
        let (_dir, path, _) = log_of(0);
        let audit = Audit::open(&path).unwrap();
        let context = CallContext {
            run: Some(RunId::new()),
            ..CallContext::default()
        };
        let mut params = Map::new();
        params.insert("Identity".into(), "ceo@contoso.com".into());
        params.insert("Password".into(), "Winter2025!".into());
        audit
            .denied(&context, "Set-Mailbox", &params, "outside the target scope")
            .unwrap();
        let lines = lines_of(&path);
        assert!(!lines[0].contains("Winter2025!"), "{}", lines[0]);
        let record: Record = serde_json::from_str(&lines[0]).unwrap();
        let Event::Call(call) = record.event else {
            panic!("{record:?}")
        };
        assert_eq!(call.decision, Decision::Denied);
        assert_eq!(call.why.as_deref(), Some("outside the target scope"));
        assert_eq!(call.run, context.run);
        assert_eq!(call.params["Identity"], "ceo@contoso.com");
    }

    #[test]
    fn an_intent_is_marked_and_a_keyed_handle_macs_every_record() {
        let (dir, path, _) = log_of(0);
        let key = AuditKey::create(&dir.path().join("audit.key")).unwrap();
        let audit = Audit::open_keyed(&path, Some(key.clone())).unwrap();
        let context = CallContext::default();
        let mut params = Map::new();
        params.insert("Identity".into(), "ann@contoso.com".into());
        let call = PreparedCall::new(&context, "Set-Mailbox", &params);
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(audit.intent(&call))
            .unwrap();
        audit.record_call(&call, &CallOutcome::default()).unwrap();
        audit.record_synced(token_event(1)).unwrap();
        let records: Vec<Record> = lines_of(&path)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let Event::Call(intent) = &records[0].event else {
            panic!("{records:?}")
        };
        let Event::Call(outcome) = &records[1].event else {
            panic!("{records:?}")
        };
        assert!(intent.intent && !outcome.intent);
        assert!(records.iter().all(|r| r.mac.is_some()), "{records:?}");
        let report = verify_with_key(&path, None, Some(&key)).unwrap();
        assert_eq!((report.problem, report.keyed), (None, 3));
        assert!(!format!("{audit:?}").contains("key"), "{audit:?}");
    }

    #[tokio::test]
    async fn a_failed_write_stops_everything_after_it() {
        let audit = Audit::open(Path::new("/dev/full")).unwrap();
        let broken = tokio::spawn({
            let audit = audit.clone();
            async move { audit.broken().await }
        });
        let e = audit.record(token_event(1)).unwrap_err();
        assert!(matches!(e, AuditError::Write { .. }), "{e}");
        assert!(e.to_string().contains("/dev/full"), "{e}");
        assert!(audit.check().is_err());
        assert!(audit.record(token_event(2)).is_err());
        let woken = tokio::time::timeout(Duration::from_secs(5), broken).await;
        assert!(matches!(woken, Ok(Ok(AuditError::Write { .. }))));
        let disabled = Audit::disabled();
        assert!(disabled.record(token_event(1)).is_ok() && disabled.head().is_none());
    }
}
