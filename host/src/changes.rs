//! The changes a run has made, kept so that a run resumed after a crash does not make them a
//! second time. Before a change (a mutating cmdlet the policy admitted) is sent, the policy
//! gate asks the run's [`ChangeJournal`] whether an earlier attempt of the same work already
//! made it: if so the plugin gets that attempt's result and nothing is sent; if not, the intent
//! is written down (and stored: on disk, for a file) before the change is sent, and the result
//! after. Only a change whose intent was written but whose result was not (one in flight when
//! the process died) can be sent twice.
//!
//! A change is known by its cmdlet, the digest of its parameters, and how many identical
//! changes came before it in the same work ([`ChangeKey`]): a plugin that re-runs from the
//! start asks for the same changes again and is answered from the journal.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Which change: the same cmdlet with the same parameters, the n-th time in one piece of work.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChangeKey {
    /// The cmdlet, as admitted (its catalogue spelling).
    pub cmdlet: String,
    /// The SHA-256 of its parameters as JSON (keys sorted), lowercase hex.
    pub params: String,
    /// 0 for the first such change in the work, 1 for the second…
    pub occurrence: u32,
}

impl ChangeKey {
    /// The key of the `occurrence`-th change of `cmdlet` with `params`.
    pub fn new(cmdlet: &str, params: &Map<String, Value>, occurrence: u32) -> ChangeKey {
        let json = serde_json::to_vec(params).expect("a map of JSON values always serializes");
        ChangeKey {
            cmdlet: cmdlet.to_string(),
            params: crate::digest::sha256_hex(&json),
            occurrence,
        }
    }
}

/// What a change the service answered gave back, as the plugin was told it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum ChangeResult {
    /// It was made; the rows the cmdlet returned, as JSON text.
    Done {
        /// The rows.
        rows: Vec<String>,
    },
    /// The service refused or failed it (a retry of the work sends it again).
    Failed {
        /// The message the plugin got.
        message: String,
    },
}

/// Where a piece of work's changes are written down. A failing journal stops the work: a
/// change that could not be recorded is not sent.
pub trait ChangeJournal: Send + Sync {
    /// The result of `key` if an earlier attempt of this work had one written down. Only a
    /// change that was made ([`ChangeResult::Done`]) is answered from the journal; a failed
    /// one is sent again when the work is retried.
    fn finished(&self, key: &ChangeKey) -> Option<ChangeResult>;

    /// Writes down that `key` is about to be sent, and gives the wait until that is stored:
    /// the change is sent only after it.
    fn intent(&self, key: &ChangeKey) -> io::Result<Stored>;

    /// Writes down what `key` gave back. It need not be stored when this returns: the
    /// journal's owner stores it before it reports the work done.
    fn outcome(&self, key: &ChangeKey, result: &ChangeResult) -> io::Result<()>;
}

/// A wait until what a journal wrote is stored (on disk, for a journal in a file); it runs
/// off the async worker, so changes in flight together share their storing.
pub type Stored = BoxFuture<'static, io::Result<()>>;

/// The wait of a journal that stores at once.
pub fn stored_now() -> Stored {
    Box::pin(std::future::ready(Ok(())))
}

/// A change on its way: written down as intended; its result is written with [`Ticket::finish`].
pub struct Ticket {
    journal: Arc<dyn ChangeJournal>,
    key: ChangeKey,
}

impl Ticket {
    /// Writes down `key`'s intent in `journal`, waits until it is stored, and gives the
    /// ticket to finish it with.
    pub async fn issue(journal: Arc<dyn ChangeJournal>, key: ChangeKey) -> io::Result<Ticket> {
        journal.intent(&key)?.await?;
        Ok(Ticket { journal, key })
    }

    /// Writes down what the change gave back.
    pub fn finish(self, result: &ChangeResult) -> io::Result<()> {
        self.journal.outcome(&self.key, result)
    }
}

/// A journal in memory: for tests, and for library users who resume within one process.
#[derive(Default)]
pub struct MemoryJournal {
    entries: Mutex<HashMap<ChangeKey, Option<ChangeResult>>>,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> MemoryJournal {
        MemoryJournal::default()
    }

    /// Changes intended but never finished (in flight when the work stopped).
    pub fn unfinished(&self) -> Vec<ChangeKey> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, result)| result.is_none())
            .map(|(key, _)| key.clone())
            .collect()
    }
}

impl ChangeJournal for MemoryJournal {
    fn finished(&self, key: &ChangeKey) -> Option<ChangeResult> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
            .flatten()
    }

    fn intent(&self, key: &ChangeKey) -> io::Result<Stored> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.clone())
            .or_insert(None);
        Ok(stored_now())
    }

    fn outcome(&self, key: &ChangeKey, result: &ChangeResult) -> io::Result<()> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), Some(result.clone()));
        Ok(())
    }
}

/// One line of a [`FileJournal`].
#[derive(Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "kebab-case")]
enum Line {
    /// A change about to be sent.
    Intent {
        /// Which.
        change: ChangeKey,
    },
    /// What it gave back.
    Outcome {
        /// Which.
        change: ChangeKey,
        /// What.
        result: ChangeResult,
    },
}

/// A journal in a file of its own, one JSON line per intent and per outcome: the change journal
/// of one plugin run (the service keeps one per run), read back when the run is started again
/// after a crash. A cut last line (the crash) is ended before anything is appended, and is not
/// read; intents are on disk before their change is sent (group commit with other writers).
pub struct FileJournal {
    file: Mutex<std::fs::File>,
    syncs: Arc<crate::durable::Syncs>,
    earlier: Mutex<HashMap<ChangeKey, ChangeResult>>,
}

impl FileJournal {
    /// Opens the journal at `path`, made (and its directory synced) if missing, with what an
    /// earlier attempt wrote in it.
    pub fn open(path: &std::path::Path) -> io::Result<FileJournal> {
        let mut earlier = HashMap::new();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                for line in text.lines() {
                    if let Ok(Line::Outcome { change, result }) = serde_json::from_str(line) {
                        earlier.insert(change, result);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let existed = path.exists();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)?;
        if existed {
            crate::durable::drop_cut_line(&file)?;
        } else if let Some(dir) = path.parent() {
            crate::durable::sync_dir(dir)?;
        }
        let syncs = crate::durable::Syncs::new(&file)?;
        Ok(FileJournal {
            file: Mutex::new(file),
            syncs,
            earlier: Mutex::new(earlier),
        })
    }

    fn append(&self, line: &Line) -> io::Result<crate::group_commit::Ticket> {
        use std::io::Write as _;
        let mut text = serde_json::to_vec(line).map_err(io::Error::other)?;
        text.push(b'\n');
        self.file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write_all(&text)?;
        Ok(self.syncs.wrote())
    }

    /// Returns once everything written so far is on disk (before the run is reported done).
    pub fn sync(&self) -> io::Result<()> {
        self.syncs
            .all_stored_here()
            .map_err(|e| io::Error::new(e.kind(), e.to_string()))
    }
}

impl ChangeJournal for FileJournal {
    fn finished(&self, key: &ChangeKey) -> Option<ChangeResult> {
        self.earlier
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    fn intent(&self, key: &ChangeKey) -> io::Result<Stored> {
        let ticket = self.append(&Line::Intent {
            change: key.clone(),
        })?;
        let syncs = self.syncs.clone();
        Ok(Box::pin(async move {
            syncs
                .stored(ticket)
                .await
                .map_err(|e| io::Error::new(e.kind(), e.to_string()))
        }))
    }

    fn outcome(&self, key: &ChangeKey, result: &ChangeResult) -> io::Result<()> {
        self.append(&Line::Outcome {
            change: key.clone(),
            result: result.clone(),
        })?;
        self.earlier
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), result.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_journal_answers_what_an_earlier_attempt_made_after_a_cut_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changes.jsonl");
        let made = ChangeKey::new("Set-Mailbox", &params("ann"), 0);
        let in_flight = ChangeKey::new("Set-Mailbox", &params("bob"), 0);
        let result = ChangeResult::Done {
            rows: vec!["{}".into()],
        };
        {
            let journal: Arc<dyn ChangeJournal> = Arc::new(FileJournal::open(&path).unwrap());
            Ticket::issue(journal.clone(), made.clone())
                .await
                .unwrap()
                .finish(&result)
                .unwrap();
            let _sent = Ticket::issue(journal.clone(), in_flight.clone())
                .await
                .unwrap();
        }
        // A crash cuts the line being written.
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(br#"{"entry":"outcome","change":{"cmdlet":"Set-Ma"#)
            .unwrap();
        let again = FileJournal::open(&path).unwrap();
        assert_eq!(again.finished(&made), Some(result.clone()));
        assert_eq!(again.finished(&in_flight), None);
        let journal: Arc<dyn ChangeJournal> = Arc::new(again);
        Ticket::issue(journal.clone(), in_flight.clone())
            .await
            .unwrap()
            .finish(&result)
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let whole: Vec<&str> = text
            .lines()
            .filter(|l| serde_json::from_str::<Value>(l).is_ok())
            .collect();
        assert_eq!(whole.len(), 5, "{text}");
        assert_eq!(
            FileJournal::open(&path).unwrap().finished(&in_flight),
            Some(result)
        );
    }

    fn params(identity: &str) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("Identity".into(), identity.into());
        map
    }

    #[test]
    fn keys_tell_changes_and_repeats_apart() {
        let a = ChangeKey::new("Set-Mailbox", &params("ann"), 0);
        assert_eq!(a, ChangeKey::new("Set-Mailbox", &params("ann"), 0));
        assert_ne!(a, ChangeKey::new("Set-Mailbox", &params("bob"), 0));
        assert_ne!(a, ChangeKey::new("Set-Mailbox", &params("ann"), 1));
        assert_ne!(a, ChangeKey::new("Set-User", &params("ann"), 0));
    }

    #[tokio::test]
    async fn a_finished_change_is_answered_and_an_unfinished_one_is_not() {
        let journal = Arc::new(MemoryJournal::new());
        let done = ChangeKey::new("Set-Mailbox", &params("ann"), 0);
        let in_flight = ChangeKey::new("Set-Mailbox", &params("bob"), 0);
        let result = ChangeResult::Done { rows: vec![] };
        Ticket::issue(journal.clone(), done.clone())
            .await
            .unwrap()
            .finish(&result)
            .unwrap();
        let _never_finished = Ticket::issue(journal.clone(), in_flight.clone())
            .await
            .unwrap();
        assert_eq!(journal.finished(&done), Some(result));
        assert_eq!(journal.finished(&in_flight), None);
        assert_eq!(journal.unfinished(), vec![in_flight]);
    }
}
