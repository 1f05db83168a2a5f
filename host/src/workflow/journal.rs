//! A workflow run's journal: one JSON Lines file in the run's directory, appended as the run
//! goes — the run's inputs first, then each item's start and end (with the step's output), and
//! between them each change's intent before it is sent and its result after. Every entry is
//! written (one `write` of a whole line) before the engine moves on, so a process killed at
//! any point leaves a journal that says what finished; [`JournalState::read`] rebuilds that,
//! and a resumed run skips what finished and answers the changes of an interrupted item from
//! it ([`ItemJournal`]).
//!
//! For a lost machine (power, kernel), what must survive is synced to disk, the syncs grouped
//! ([`crate::durable::Syncs`]): the header and the journal's directory when the run starts, a
//! change's intent before the change is sent, an item's changes (with its end) before the item
//! is reported done, and the run's end. Other entries reach the disk with the next sync.
//!
//! A line cut short by the kill is the last line and has no newline: it is ignored (the entry
//! was not written, so the engine had not moved on), and removed when a resumed run reopens
//! the journal. A line of NUL bytes is what a lost machine can leave where a line was being
//! written: it is ignored too.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead as _, BufReader, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::changes::{ChangeJournal, ChangeKey, ChangeResult, Stored};
use crate::durable::{Syncs, create_dir_synced, drop_cut_line, sync_dir};
use crate::group_commit::Ticket;

/// The journal's file name inside a run's directory.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// Where one item of one step ran: the tenant (profile) and the item's key (`""` for a step
/// without `for_each`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ItemId {
    /// The step's id.
    pub step: String,
    /// The tenant (profile name) it ran against.
    pub tenant: String,
    /// The item's key: a digest of the item's value (and which repeat of an equal value), so
    /// a resumed run finds it again whatever the order of the list.
    pub item: String,
}

/// How an item ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemOutcome {
    /// The plugin returned its summary, which reports no failed work.
    Succeeded,
    /// It failed (after its retries): its plugin failed, or its summary says some of its work
    /// failed.
    Failed,
    /// Its `when` condition was false.
    Skipped,
}

/// The run as started: what `workflow resume` needs to run it again the same way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunHeader {
    /// The run's id (also its directory's name).
    pub id: String,
    /// The workflow's name.
    pub workflow: String,
    /// The workflow file, as given.
    pub file: PathBuf,
    /// The SHA-256 of the workflow file's text when the run started.
    pub digest: String,
    /// The inputs, defaults applied.
    pub inputs: Map<String, Value>,
    /// The tenants (profiles) it runs against.
    pub tenants: Vec<String>,
    /// Changes were rehearsed, not sent.
    pub dry_run: bool,
    /// The shard this run is, `(k, n)`, if it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<(u32, u32)>,
    /// When it started.
    pub started: DateTime<Utc>,
}

/// One line of the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "kebab-case")]
pub enum Entry {
    /// The run started (always the first line).
    Run(RunHeader),
    /// An item started its `attempt`-th try (1 for the first).
    ItemStart {
        /// Which item.
        #[serde(flatten)]
        id: ItemId,
        /// Which try.
        attempt: u32,
    },
    /// A change is about to be sent.
    ChangeIntent {
        /// For which item.
        #[serde(flatten)]
        id: ItemId,
        /// Which change.
        change: ChangeKey,
    },
    /// A change was answered.
    ChangeOutcome {
        /// For which item.
        #[serde(flatten)]
        id: ItemId,
        /// Which change.
        change: ChangeKey,
        /// What it gave back.
        result: ChangeResult,
    },
    /// An item ended.
    ItemEnd {
        /// Which item.
        #[serde(flatten)]
        id: ItemId,
        /// Which try.
        attempt: u32,
        /// How.
        outcome: ItemOutcome,
        /// The plugin's summary (JSON), when its plugin returned one (a failed item's too, when
        /// its summary says some of its work failed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<Value>,
        /// Why it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Records the plugin emitted.
        #[serde(default)]
        records: u64,
    },
    /// The run ended (every step done or the run stopped).
    RunEnd {
        /// Whether every item that ran succeeded.
        succeeded: bool,
        /// When.
        ended: DateTime<Utc>,
    },
}

/// Why a journal could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The run's directory or journal could not be made, read or written.
    #[error("the run journal {path} could not be {doing}: {source}\nfix: check the permissions and free space of {dir}", dir = path.parent().unwrap_or(path).display())]
    Io {
        /// The journal file.
        path: PathBuf,
        /// What was being done: "created", "read", "written".
        doing: &'static str,
        /// Why.
        source: io::Error,
    },
    /// A line is not a journal entry (the file was edited or is not a journal).
    #[error(
        "{path} line {line} is not a journal entry ({reason}): the run cannot be resumed from it"
    )]
    NotAnEntry {
        /// The journal file.
        path: PathBuf,
        /// Its line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The journal does not start with the run's header.
    #[error("{path} does not start with the run's header: it is not a run journal")]
    NoHeader {
        /// The journal file.
        path: PathBuf,
    },
    /// The journal holds no whole entry: the run stopped as it started (its machine lost
    /// before the header reached the disk), so nobody knows what it was started with.
    #[error("the run journal {path} is empty or its first line (the run's header) is cut: run {id} stopped as it started, before anything was recorded, so it cannot be resumed\nfix: start it over with `exorun workflow run FILE --run-id {id}` (the workflow file and inputs it was meant to run with); what its first attempt left is set aside, not reused", id = run_id(path))]
    Unstarted {
        /// The journal file.
        path: PathBuf,
    },
    /// The journal could not be synced to disk: what it says might not survive a lost machine.
    #[error(
        "the run journal {path} could not be synced to disk: {source}\nfix: check the disk and the file system it is on (dmesg), or keep the runs on a healthy local disk (--runs-dir DIR); no change is sent that the journal may lose"
    )]
    Sync {
        /// The journal file (or, when it was made, its directory).
        path: PathBuf,
        /// Why.
        source: Arc<io::Error>,
    },
}

/// The run id a journal at `path` belongs to: its directory's name.
fn run_id(path: &Path) -> String {
    path.parent().and_then(Path::file_name).map_or_else(
        || "ID".to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// A run's journal, open for appending; clones of the `Arc` share it.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    syncs: Arc<Syncs>,
}

impl Journal {
    /// Creates the run's directory `dir` (mode 700) and its journal, starting with `header`;
    /// returns once the header, the journal's entry in `dir` and `dir`'s own entry in its
    /// parent (the runs directory) are on disk.
    pub fn create(dir: &Path, header: &RunHeader) -> Result<Journal, JournalError> {
        let path = dir.join(JOURNAL_FILE);
        let failed = |doing, source| JournalError::Io {
            path: path.clone(),
            doing,
            source,
        };
        create_dir_synced(dir).map_err(|e| failed("created", e))?;
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| failed("created", e))?;
        let journal = Journal::over(path, file)?;
        kill_point!("journal-created");
        let ticket = journal.write(&Entry::Run(header.clone()))?;
        kill_point!("journal-header-written");
        journal.stored_here(ticket)?;
        // The run's directory may have been made before (its lock is in it): its entry in
        // the runs directory is synced here in any case, with the journal's entry in it.
        let runs = dir.parent().filter(|p| !p.as_os_str().is_empty());
        for synced in std::iter::once(dir).chain(runs) {
            sync_dir(synced).map_err(|source| JournalError::Sync {
                path: synced.to_path_buf(),
                source: Arc::new(source),
            })?;
        }
        Ok(journal)
    }

    fn over(path: PathBuf, file: File) -> Result<Journal, JournalError> {
        let syncs = Syncs::new(&file).map_err(|source| JournalError::Io {
            path: path.clone(),
            doing: "opened",
            source,
        })?;
        Ok(Journal {
            path,
            file: Mutex::new(file),
            syncs,
        })
    }

    /// Opens the journal in the run directory `dir` to go on appending (a resumed run), and
    /// syncs it: what an earlier attempt wrote (a killed process's entries are in the page
    /// cache, not yet on disk) is on disk before this attempt acts on it.
    pub fn reopen(dir: &Path) -> Result<Journal, JournalError> {
        let path = dir.join(JOURNAL_FILE);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|source| JournalError::Io {
                path: path.clone(),
                doing: "opened",
                source,
            })?;
        let journal = Journal::over(path, file)?;
        journal.drop_cut_line()?;
        journal.stored_here(journal.syncs.wrote())?;
        Ok(journal)
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entry` as one line, written before this returns; the ticket waits for it to
    /// be on disk ([`Journal::stored`]).
    pub fn write(&self, entry: &Entry) -> Result<Ticket, JournalError> {
        let mut line = serde_json::to_vec(entry).expect("journal entries always serialize");
        line.push(b'\n');
        self.file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write_all(&line)
            .map_err(|source| JournalError::Io {
                path: self.path.clone(),
                doing: "written",
                source,
            })?;
        Ok(self.syncs.wrote())
    }

    /// Returns once the entry `ticket` counts (and every one before it) is on disk; the wait
    /// runs on a blocking thread, and one sync covers every entry written meanwhile.
    pub async fn stored(&self, ticket: Ticket) -> Result<(), JournalError> {
        self.syncs
            .stored(ticket)
            .await
            .map_err(|source| self.sync_failed(source))
    }

    /// [`Journal::stored`], blocking this thread.
    fn stored_here(&self, ticket: Ticket) -> Result<(), JournalError> {
        self.syncs
            .stored_here(ticket)
            .map_err(|source| self.sync_failed(source))
    }

    fn sync_failed(&self, source: Arc<io::Error>) -> JournalError {
        JournalError::Sync {
            path: self.path.clone(),
            source,
        }
    }

    /// Removes a line a kill cut short (or a lost machine garbled), so the next entry starts
    /// on a line of its own after the last whole entry.
    fn drop_cut_line(&self) -> Result<(), JournalError> {
        let file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        drop_cut_line(&file).map_err(|source| JournalError::Io {
            path: self.path.clone(),
            doing: "written",
            source,
        })?;
        Ok(())
    }

    /// The syncs of the journal, for tests that look at the order of what reaches the disk.
    #[cfg(test)]
    pub(crate) fn syncs(&self) -> &Syncs {
        &self.syncs
    }
}

/// What a journal says happened: the header, the last try of each item, and the changes each
/// item had answered.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JournalState {
    /// The run as started.
    pub header: Option<RunHeader>,
    /// Each item's last ending: outcome, output, records.
    pub ended: HashMap<ItemId, Entry>,
    /// Each item's tries so far.
    pub attempts: HashMap<ItemId, u32>,
    /// Each item's changes with their results.
    pub changes: HashMap<ItemId, HashMap<ChangeKey, ChangeResult>>,
    /// Changes written down as intended and never answered: in flight when the run stopped.
    pub in_flight: Vec<(ItemId, ChangeKey)>,
    /// Whether the run ended, and how.
    pub finished: Option<bool>,
}

impl JournalState {
    /// Reads the journal in the run directory `dir`. A last line without its newline (cut
    /// by a kill) is ignored; any other line that is not an entry is an error.
    pub fn read(dir: &Path) -> Result<JournalState, JournalError> {
        let path = dir.join(JOURNAL_FILE);
        let io = |source| JournalError::Io {
            path: path.clone(),
            doing: "read",
            source,
        };
        let mut reader = BufReader::new(File::open(&path).map_err(io)?);
        let mut state = JournalState::default();
        let mut line = Vec::new();
        let mut number = 0;
        let mut entries = 0;
        let mut intents: Vec<(ItemId, ChangeKey)> = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(io)? == 0 {
                break;
            }
            number += 1;
            let Some(text) = line.strip_suffix(b"\n") else {
                break; // cut by a kill: never written
            };
            if text.iter().all(|&b| b == 0) {
                continue; // empty, or NUL bytes a lost machine left where a line was going
            }
            let entry: Entry = match serde_json::from_slice(text) {
                Ok(entry) => entry,
                // A line a kill cut short that a resumed run ended with a newline (as runs
                // did before they removed such lines).
                Err(e) if e.is_eof() => continue,
                Err(e) => {
                    return Err(JournalError::NotAnEntry {
                        path,
                        line: number,
                        reason: e.to_string(),
                    });
                }
            };
            entries += 1;
            state.apply(entry, &mut intents);
        }
        if state.header.is_none() {
            return Err(if entries == 0 {
                JournalError::Unstarted { path }
            } else {
                JournalError::NoHeader { path }
            });
        }
        state.in_flight = intents
            .into_iter()
            .filter(|(id, change)| {
                !state
                    .changes
                    .get(id)
                    .is_some_and(|answered| answered.contains_key(change))
            })
            .collect();
        Ok(state)
    }

    fn apply(&mut self, entry: Entry, intents: &mut Vec<(ItemId, ChangeKey)>) {
        match entry {
            Entry::Run(header) => {
                self.header.get_or_insert(header);
            }
            Entry::ItemStart { id, attempt } => {
                let tries = self.attempts.entry(id.clone()).or_insert(0);
                *tries = (*tries).max(attempt);
                self.ended.remove(&id);
            }
            Entry::ChangeIntent { id, change } => intents.push((id, change)),
            Entry::ChangeOutcome { id, change, result } => {
                self.changes.entry(id).or_default().insert(change, result);
            }
            ended @ Entry::ItemEnd { .. } => {
                if let Entry::ItemEnd { id, .. } = &ended {
                    self.ended.insert(id.clone(), ended.clone());
                }
            }
            Entry::RunEnd { succeeded, .. } => self.finished = Some(succeeded),
        }
    }

    /// How `id` last ended, if it did.
    pub fn outcome(&self, id: &ItemId) -> Option<ItemOutcome> {
        match self.ended.get(id) {
            Some(Entry::ItemEnd { outcome, .. }) => Some(*outcome),
            _ => None,
        }
    }
}

/// The change journal of one item's tries: writes its changes into the run's journal and
/// answers those an earlier try of the same item made, in an earlier attempt of the run or
/// earlier in this one (a retry after some of its work failed sends only what was not made).
pub struct ItemJournal {
    journal: Arc<Journal>,
    id: ItemId,
    earlier: Mutex<HashMap<ChangeKey, ChangeResult>>,
    /// Whether any try of the item wrote a change down in this attempt of the run.
    changed: AtomicBool,
}

impl ItemJournal {
    /// The change journal of `id` in `journal`, knowing the changes `earlier` tries made.
    pub fn new(
        journal: Arc<Journal>,
        id: ItemId,
        earlier: HashMap<ChangeKey, ChangeResult>,
    ) -> ItemJournal {
        ItemJournal {
            journal,
            id,
            earlier: Mutex::new(earlier),
            changed: AtomicBool::new(false),
        }
    }

    /// Whether the item wrote a change down (its intent) in this attempt of the run: then its
    /// end must wait for the disk, so that what the changes gave back is stored before the
    /// item is reported done.
    pub fn changed(&self) -> bool {
        self.changed.load(Ordering::Relaxed)
    }
}

impl ChangeJournal for ItemJournal {
    fn finished(&self, key: &ChangeKey) -> Option<ChangeResult> {
        self.earlier
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    fn intent(&self, key: &ChangeKey) -> io::Result<Stored> {
        let ticket = self
            .journal
            .write(&Entry::ChangeIntent {
                id: self.id.clone(),
                change: key.clone(),
            })
            .map_err(io::Error::other)?;
        kill_point!("journal-intent-written");
        self.changed.store(true, Ordering::Relaxed);
        let journal = self.journal.clone();
        Ok(Box::pin(async move {
            journal.stored(ticket).await.map_err(io::Error::other)?;
            kill_point!("journal-intent-synced");
            Ok(())
        }))
    }

    fn outcome(&self, key: &ChangeKey, result: &ChangeResult) -> io::Result<()> {
        self.journal
            .write(&Entry::ChangeOutcome {
                id: self.id.clone(),
                change: key.clone(),
                result: result.clone(),
            })
            .map_err(io::Error::other)?;
        kill_point!("journal-outcome-written");
        self.earlier
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), result.clone());
        Ok(())
    }
}

/// What the workflow module's unit tests share.
#[cfg(test)]
pub(crate) mod testkit {
    use super::*;

    /// The header of a run `id` of the workflow `inventory` in the tenant `contoso`, started now.
    pub(crate) fn header(id: &str) -> RunHeader {
        RunHeader {
            id: id.into(),
            workflow: "inventory".into(),
            file: "inventory.toml".into(),
            digest: "ab".repeat(32),
            inputs: Map::new(),
            tenants: vec!["contoso".into()],
            dry_run: false,
            shard: None,
            started: Utc::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> RunHeader {
        testkit::header("r1")
    }

    fn item(step: &str, key: &str) -> ItemId {
        ItemId {
            step: step.into(),
            tenant: "contoso".into(),
            item: key.into(),
        }
    }

    fn end(id: &ItemId, outcome: ItemOutcome) -> Entry {
        Entry::ItemEnd {
            id: id.clone(),
            attempt: 1,
            outcome,
            output: Some(serde_json::json!({"changed": true})),
            error: None,
            records: 0,
        }
    }

    #[tokio::test]
    async fn what_finished_and_what_was_in_flight_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("runs/r1");
        let journal = Arc::new(Journal::create(&run, &header()).unwrap());
        let (done, cut) = (item("convert", ""), item("remove", "g1"));
        let key = |n| ChangeKey::new("Set-Mailbox", &Map::new(), n);
        for id in [&done, &cut] {
            journal
                .write(&Entry::ItemStart {
                    id: id.clone(),
                    attempt: 1,
                })
                .unwrap();
        }
        let changes = ItemJournal::new(journal.clone(), done.clone(), HashMap::new());
        changes.intent(&key(0)).unwrap().await.unwrap();
        changes
            .outcome(&key(0), &ChangeResult::Done { rows: vec![] })
            .unwrap();
        journal.write(&end(&done, ItemOutcome::Succeeded)).unwrap();
        ItemJournal::new(journal.clone(), cut.clone(), HashMap::new())
            .intent(&key(1))
            .unwrap()
            .await
            .unwrap();

        let state = JournalState::read(&run).unwrap();
        assert_eq!(state.header.as_ref().unwrap().workflow, "inventory");
        assert_eq!(state.outcome(&done), Some(ItemOutcome::Succeeded));
        assert_eq!(state.outcome(&cut), None);
        assert_eq!(state.in_flight, vec![(cut.clone(), key(1))]);
        assert_eq!(
            state.changes[&done][&key(0)],
            ChangeResult::Done { rows: vec![] }
        );
        assert_eq!(state.finished, None);
    }

    #[tokio::test]
    async fn a_retry_in_the_same_attempt_is_answered_the_changes_its_first_try_made() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Arc::new(Journal::create(&dir.path().join("r1"), &header()).unwrap());
        let changes = ItemJournal::new(journal, item("reply", "k"), HashMap::new());
        let key = |n| ChangeKey::new("Set-MailboxAutoReplyConfiguration", &Map::new(), n);
        let done = ChangeResult::Done { rows: vec![] };
        let failed = ChangeResult::Failed {
            message: "transport: cut".into(),
        };
        changes.intent(&key(0)).unwrap().await.unwrap();
        changes.outcome(&key(0), &done).unwrap();
        changes.intent(&key(1)).unwrap().await.unwrap();
        changes.outcome(&key(1), &failed).unwrap();
        assert_eq!(changes.finished(&key(0)), Some(done));
        // The gate sends a failed change again; only a made one is answered.
        assert_eq!(changes.finished(&key(1)), Some(failed));
        assert_eq!(changes.finished(&key(2)), None);
    }

    /// A line a kill cut short is ignored, and removed when the run resumes. Found by
    /// fuzzing: a last line that is not the start of an entry (a lost machine's NUL bytes
    /// after the part that arrived) used to be ended with a newline instead, and from then on
    /// the journal could not be read at all.
    #[test]
    fn a_cut_or_garbled_last_line_is_ignored_and_removed_when_the_run_resumes() {
        for cut in [
            &br#"{"entry":"item-end","step":"conv"#[..],
            b"{\"entry\":\"item-end\",\"st\0\0\0\0\0\0",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let run = dir.path().join("r1");
            drop(Journal::create(&run, &header()).unwrap());
            let mut file = OpenOptions::new()
                .append(true)
                .open(run.join(JOURNAL_FILE))
                .unwrap();
            file.write_all(cut).unwrap();
            assert!(JournalState::read(&run).unwrap().ended.is_empty());

            let journal = Journal::reopen(&run).unwrap();
            let id = item("convert", "");
            journal.write(&end(&id, ItemOutcome::Failed)).unwrap();
            let state = JournalState::read(&run).unwrap();
            assert_eq!(state.outcome(&id), Some(ItemOutcome::Failed));
            let text = std::fs::read(run.join(JOURNAL_FILE)).unwrap();
            assert!(
                !text.ends_with(cut) && !text.contains(&0),
                "the cut line is gone"
            );
        }
    }

    #[tokio::test]
    async fn a_journal_that_cannot_be_synced_stops_the_change_before_it_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("r1");
        let journal = Arc::new(Journal::create(&run, &header()).unwrap());
        journal
            .syncs()
            .on_sync(|| Err(io::Error::other("Input/output error")));
        let changes = ItemJournal::new(journal.clone(), item("reply", "k"), HashMap::new());
        let key = ChangeKey::new("Set-Mailbox", &Map::new(), 0);
        let e = crate::changes::Ticket::issue(Arc::new(changes), key)
            .await
            .err()
            .unwrap();
        let path = run.join(JOURNAL_FILE);
        assert_eq!(
            e.to_string(),
            format!(
                "the run journal {} could not be synced to disk: Input/output error\nfix: check the disk and the file system it is on (dmesg), or keep the runs on a healthy local disk (--runs-dir DIR); no change is sent that the journal may lose",
                path.display()
            )
        );
        // Every later wait fails the same way: nothing after it is known to be on disk.
        let later = journal
            .write(&end(&item("s", ""), ItemOutcome::Succeeded))
            .unwrap();
        assert!(matches!(
            journal.stored(later).await,
            Err(JournalError::Sync { .. })
        ));
    }

    #[test]
    fn a_foreign_file_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(JOURNAL_FILE), "{\"entry\":\"nonsense\"}\n").unwrap();
        let e = JournalState::read(dir.path()).unwrap_err();
        assert!(matches!(e, JournalError::NotAnEntry { line: 1, .. }), "{e}");
        let end = serde_json::to_string(&end(&item("s", ""), ItemOutcome::Succeeded)).unwrap();
        std::fs::write(dir.path().join(JOURNAL_FILE), format!("{end}\n")).unwrap();
        let e = JournalState::read(dir.path()).unwrap_err();
        assert!(matches!(e, JournalError::NoHeader { .. }), "{e}");
    }

    #[test]
    fn a_journal_cut_before_its_header_was_whole_is_a_run_that_did_not_start() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("nightly-3");
        std::fs::create_dir(&run).unwrap();
        let header = serde_json::to_string(&Entry::Run(header())).unwrap();
        for cut in [
            String::new(),
            header[..header.len() / 2].to_string(),
            "\0".repeat(300),
            format!("{}\n", "\0".repeat(300)),
        ] {
            std::fs::write(run.join(JOURNAL_FILE), &cut).unwrap();
            let e = JournalState::read(&run).unwrap_err();
            assert!(matches!(e, JournalError::Unstarted { .. }), "{e}");
            assert_eq!(
                e.to_string(),
                format!(
                    "the run journal {} is empty or its first line (the run's header) is cut: run nightly-3 stopped as it started, before anything was recorded, so it cannot be resumed\nfix: start it over with `exorun workflow run FILE --run-id nightly-3` (the workflow file and inputs it was meant to run with); what its first attempt left is set aside, not reused",
                    run.join(JOURNAL_FILE).display()
                )
            );
        }
    }

    #[test]
    fn nul_bytes_a_lost_machine_left_where_a_line_was_going_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("r1");
        drop(Journal::create(&run, &header()).unwrap());
        let mut file = OpenOptions::new()
            .append(true)
            .open(run.join(JOURNAL_FILE))
            .unwrap();
        file.write_all(&[0; 200]).unwrap();
        let journal = Journal::reopen(&run).unwrap();
        let id = item("convert", "");
        journal.write(&end(&id, ItemOutcome::Succeeded)).unwrap();
        let state = JournalState::read(&run).unwrap();
        assert_eq!(state.outcome(&id), Some(ItemOutcome::Succeeded));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_s_intent_is_on_disk_before_its_wait_ends() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("r1");
        let journal = Arc::new(Journal::create(&run, &header()).unwrap());
        let path = journal.path().to_path_buf();
        // At each sync: how many intents the file holds then.
        let seen = Arc::new(Mutex::new(Vec::new()));
        let at_sync = seen.clone();
        journal.syncs().on_sync(move || {
            let text = std::fs::read_to_string(&path).unwrap();
            at_sync
                .lock()
                .unwrap()
                .push(text.matches("change-intent").count());
            Ok(())
        });
        let key = |n| ChangeKey::new("Set-Mailbox", &Map::new(), n);
        let changes = Arc::new(ItemJournal::new(
            journal.clone(),
            item("reply", "k"),
            HashMap::new(),
        ));
        assert!(!changes.changed());
        let stored = changes.intent(&key(0)).unwrap();
        assert!(seen.lock().unwrap().is_empty(), "written, not yet synced");
        stored.await.unwrap();
        assert_eq!(*seen.lock().unwrap(), [1]);
        assert!(changes.changed(), "its end will wait for the disk");
        // Intents written together wait for one sync between them.
        let waits: Vec<_> = (1..=8).map(|n| changes.intent(&key(n)).unwrap()).collect();
        for wait in futures::future::join_all(waits).await {
            wait.unwrap();
        }
        assert_eq!(
            *seen.lock().unwrap(),
            [1, 9],
            "one sync covered the 8 intents written before it"
        );
    }

    #[test]
    fn a_run_directory_is_not_made_twice() {
        let dir = tempfile::tempdir().unwrap();
        drop(Journal::create(dir.path(), &header()).unwrap());
        let e = Journal::create(dir.path(), &header()).err().unwrap();
        assert!(e.to_string().contains("could not be created"), "{e}");
    }
}
