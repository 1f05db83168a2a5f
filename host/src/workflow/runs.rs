//! Where workflow runs keep their state, and what is there: each run has a directory named by
//! its id (under `runs/` in exorun's state directory by default) holding its journal, its
//! records and a lock file the running process holds, so a run is known to be running,
//! finished or interrupted, and is never resumed twice at once. A run whose journal has no
//! whole header (it stopped as it started: a machine lost then) is listed as such and starts
//! over when run again with its id ([`open`]).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::fanout::RECORDS_DIR;
use super::journal::{
    Entry, ItemOutcome, JOURNAL_FILE, Journal, JournalError, JournalState, RunHeader,
};
use crate::durable::{create_dir_synced, sync_dir};

/// The lock file in a run's directory.
const LOCK_FILE: &str = "lock";

/// `runs` in exorun's state directory (`$XDG_STATE_HOME/exorun`, else
/// `~/.local/state/exorun`); `None` without a home.
pub fn default_runs_dir() -> Option<PathBuf> {
    crate::config::state_dir().map(|dir| dir.join("runs"))
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// A process is running it now.
    Running,
    /// It ended, every item that ran having succeeded.
    Succeeded,
    /// It ended with failed items.
    Failed,
    /// It stopped without ending (killed, crashed, lost its machine): resume it.
    Interrupted,
    /// It stopped as it started, before its journal's header was on disk: nothing says what
    /// it was started with, so it cannot be resumed; run it again with its id to start over.
    Unstarted,
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Interrupted => "interrupted",
            RunState::Unstarted => "cut at start: run it again",
        })
    }
}

/// One run, as its directory tells it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// Its id.
    pub id: String,
    /// The workflow's name (empty for a run cut at start).
    pub workflow: String,
    /// When it started (for a run cut at start, when its journal was last written).
    pub started: DateTime<Utc>,
    /// Where it stands.
    pub state: RunState,
    /// Items that succeeded (or were skipped by their condition), failed, and tries in all.
    pub succeeded: usize,
    /// Items that failed.
    pub failed: usize,
    /// A dry run.
    pub dry_run: bool,
    /// Its directory.
    pub dir: PathBuf,
}

/// Why a run's directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RunsError {
    /// Another process is running it.
    #[error(
        "run {id} is being run by another process right now (its lock {lock} is held): wait for it to end, or stop that process first"
    )]
    Running {
        /// The run.
        id: String,
        /// The lock file.
        lock: PathBuf,
    },
    /// No such run.
    #[error("there is no run {id} in {dir}: `exorun workflow runs` lists the runs there")]
    NoSuchRun {
        /// The id asked for.
        id: String,
        /// Where runs were looked for.
        dir: PathBuf,
    },
    /// The id given is the start of several runs' ids.
    #[error("'{id}' is the start of {} runs' ids ({}): give more of it", .matching.len(), .matching.join(", "))]
    Ambiguous {
        /// The id asked for.
        id: String,
        /// The runs whose ids start with it.
        matching: Vec<String>,
    },
    /// The directory could not be read or the lock taken.
    #[error("{path}: {source}")]
    Io {
        /// What could not be used.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The journal is unreadable.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// The lock a process holds on a run while it runs it; released when dropped (or when the
/// process dies, however it dies).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of the run in `dir` (whose id is `id`), or says who holds it.
    pub fn acquire(dir: &Path, id: &str) -> Result<RunLock, RunsError> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| RunsError::Io {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(RunLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(RunsError::Running {
                id: id.to_string(),
                lock: path,
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(RunsError::Io { path, source }),
        }
    }
}

/// The directory of run `id` in `runs`, which must hold a journal; `id` may be the start of
/// one run's id (as people copy the first characters of a UUID), in any case.
pub fn find(runs: &Path, id: &str) -> Result<PathBuf, RunsError> {
    let dir = runs.join(id);
    let plain = !id.is_empty() && !id.contains(['/', '\\']) && id != "." && id != "..";
    if plain && dir.join(JOURNAL_FILE).is_file() {
        return Ok(dir);
    }
    let wanted = id.to_lowercase();
    let mut matching: Vec<RunSummary> = list(runs)?
        .into_iter()
        .filter(|r| plain && r.id.to_lowercase().starts_with(&wanted))
        .collect();
    match matching.len() {
        1 => Ok(matching.remove(0).dir),
        0 => Err(RunsError::NoSuchRun {
            id: id.to_string(),
            dir: runs.to_path_buf(),
        }),
        _ => Err(RunsError::Ambiguous {
            id: id.to_string(),
            matching: matching.into_iter().map(|r| r.id).collect(),
        }),
    }
}

/// Every run in `runs`, newest first; directories without a readable journal are left out.
pub fn list(runs: &Path) -> Result<Vec<RunSummary>, RunsError> {
    let entries = match std::fs::read_dir(runs) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(RunsError::Io {
                path: runs.to_path_buf(),
                source,
            });
        }
    };
    let mut found: Vec<RunSummary> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| summary(&entry.path()).ok())
        .collect();
    found.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| a.id.cmp(&b.id)));
    Ok(found)
}

/// What the run in `dir` is and where it stands.
pub fn summary(dir: &Path) -> Result<RunSummary, RunsError> {
    let state = match JournalState::read(dir) {
        Ok(state) => state,
        Err(JournalError::Unstarted { path }) => return unstarted(dir, &path),
        Err(other) => return Err(other.into()),
    };
    let header = state.header.clone().ok_or_else(|| JournalError::NoHeader {
        path: dir.join(JOURNAL_FILE),
    })?;
    let count = |wanted: &[ItemOutcome]| {
        state
            .ended
            .values()
            .filter(|e| matches!(e, Entry::ItemEnd { outcome, .. } if wanted.contains(outcome)))
            .count()
    };
    let running = matches!(
        RunLock::acquire(dir, &header.id),
        Err(RunsError::Running { .. })
    );
    let run_state = match (running, state.finished) {
        (true, _) => RunState::Running,
        (false, Some(true)) => RunState::Succeeded,
        (false, Some(false)) => RunState::Failed,
        (false, None) => RunState::Interrupted,
    };
    Ok(RunSummary {
        id: header.id,
        workflow: header.workflow,
        started: header.started,
        state: run_state,
        succeeded: count(&[ItemOutcome::Succeeded, ItemOutcome::Skipped]),
        failed: count(&[ItemOutcome::Failed]),
        dry_run: header.dry_run,
        dir: dir.to_path_buf(),
    })
}

/// A run cut at start, as its directory tells it: its id is the directory's name.
fn unstarted(dir: &Path, journal: &Path) -> Result<RunSummary, RunsError> {
    let io = |source| RunsError::Io {
        path: journal.to_path_buf(),
        source,
    };
    let written = std::fs::metadata(journal)
        .and_then(|m| m.modified())
        .map_err(io)?;
    let id = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let running = matches!(RunLock::acquire(dir, &id), Err(RunsError::Running { .. }));
    Ok(RunSummary {
        id,
        workflow: String::new(),
        started: written.into(),
        state: if running {
            RunState::Running
        } else {
            RunState::Unstarted
        },
        succeeded: 0,
        failed: 0,
        dry_run: false,
        dir: dir.to_path_buf(),
    })
}

/// A run's journal, opened to run it.
pub struct Opened {
    /// The journal, open for appending.
    pub journal: Journal,
    /// What it said when this attempt of the run started.
    pub earlier: JournalState,
    /// Where what an attempt cut at start left was moved, when this attempt starts over.
    pub set_aside: Option<PathBuf>,
}

/// Opens the journal of the run `header` describes in `dir`, whose lock ([`RunLock`]) the
/// caller holds: creates it for a new run, reopens it to go on with a run that started. A run
/// that stopped as it started (its journal holds no whole entry: [`JournalError::Unstarted`])
/// starts over: its journal and records are moved to `set-aside-<time>` in `dir`, as nothing
/// says which of those records belong to a finished try, and a new journal is made.
pub fn open(dir: &Path, header: &RunHeader) -> Result<Opened, RunsError> {
    let mut set_aside = None;
    let journal = match JournalState::read(dir) {
        // A run that started: go on with it (its journal is read once, here).
        Ok(earlier) => {
            return Ok(Opened {
                journal: Journal::reopen(dir)?,
                earlier,
                set_aside,
            });
        }
        Err(JournalError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Journal::create(dir, header)?
        }
        Err(JournalError::Unstarted { .. }) => {
            let aside = set_aside_cut_start(dir)?;
            tracing::warn!(target: "exorun::workflow", "run {}: its journal had no whole header (the run stopped as it started), so it starts over; what it left is in {}", header.id, aside.display());
            set_aside = Some(aside);
            Journal::create(dir, header)?
        }
        Err(other) => return Err(other.into()),
    };
    Ok(Opened {
        journal,
        earlier: JournalState::read(dir)?,
        set_aside,
    })
}

/// Moves the journal and records of a run cut at start out of the way, into a new
/// `set-aside-<time>` directory in `dir`, and gives that directory.
fn set_aside_cut_start(dir: &Path) -> Result<PathBuf, RunsError> {
    let aside = dir.join(format!(
        "set-aside-{}",
        Utc::now().format("%Y%m%dT%H%M%S%.6fZ")
    ));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunsError::Io { path, source }
    };
    create_dir_synced(&aside).map_err(io(&aside))?;
    for name in [JOURNAL_FILE, RECORDS_DIR] {
        let from = dir.join(name);
        match std::fs::rename(&from, aside.join(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io(&from)(e)),
            _ => {}
        }
    }
    sync_dir(&aside)
        .and_then(|()| sync_dir(dir))
        .map_err(io(dir))?;
    Ok(aside)
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::workflow::journal::ItemId;
    use crate::workflow::journal::testkit::header;

    fn start(runs: &Path, id: &str, minutes_ago: i64) -> Journal {
        let header = RunHeader {
            started: Utc::now() - chrono::Duration::minutes(minutes_ago),
            ..header(id)
        };
        Journal::create(&runs.join(id), &header).unwrap()
    }

    #[test]
    fn runs_are_listed_newest_first_with_where_they_stand() {
        let runs = tempfile::tempdir().unwrap();
        let done = start(runs.path(), "done", 30);
        done.write(&Entry::ItemEnd {
            id: ItemId {
                step: "s".into(),
                tenant: "contoso".into(),
                item: String::new(),
            },
            attempt: 1,
            outcome: ItemOutcome::Succeeded,
            output: None,
            error: None,
            records: 0,
        })
        .unwrap();
        done.write(&Entry::RunEnd {
            succeeded: true,
            ended: Utc::now(),
        })
        .unwrap();
        start(runs.path(), "killed", 20);
        start(runs.path(), "now", 10);
        let _held = RunLock::acquire(&runs.path().join("now"), "now").unwrap();
        std::fs::create_dir(runs.path().join("not-a-run")).unwrap();

        let listed = list(runs.path()).unwrap();
        let seen: Vec<(&str, RunState, usize)> = listed
            .iter()
            .map(|r| (r.id.as_str(), r.state, r.succeeded))
            .collect();
        assert_eq!(
            seen,
            [
                ("now", RunState::Running, 0),
                ("killed", RunState::Interrupted, 0),
                ("done", RunState::Succeeded, 1)
            ]
        );
    }

    #[test]
    fn a_run_cut_at_start_is_listed_as_such_and_starts_over_setting_aside_what_it_left() {
        let runs = tempfile::tempdir().unwrap();
        start(runs.path(), "whole", 5);
        let cut = runs.path().join("cut");
        std::fs::create_dir_all(cut.join("records/contoso")).unwrap();
        std::fs::write(cut.join(JOURNAL_FILE), r#"{"entry":"run","id":"cu"#).unwrap();
        std::fs::write(cut.join("records/contoso/list.jsonl"), "{}\n").unwrap();

        let listed = list(runs.path()).unwrap();
        let seen: Vec<(&str, String)> = listed
            .iter()
            .map(|r| (r.id.as_str(), r.state.to_string()))
            .collect();
        assert!(
            seen.contains(&("cut", "cut at start: run it again".into())),
            "{seen:?}"
        );
        assert!(seen.contains(&("whole", "interrupted".into())), "{seen:?}");
        assert_eq!(find(runs.path(), "cut").unwrap(), cut);

        let header = header("cut");
        let opened = open(&cut, &header).unwrap();
        let aside = opened.set_aside.clone().unwrap();
        assert!(
            aside.join(JOURNAL_FILE).is_file()
                && aside.join("records/contoso/list.jsonl").is_file()
        );
        assert!(
            !cut.join("records").exists(),
            "no record of the cut attempt is reused"
        );
        assert_eq!(opened.earlier.header.as_ref(), Some(&header));
        assert_eq!(summary(&cut).unwrap().state, RunState::Interrupted);
        drop(opened);
        // Opened again, it goes on with the journal it made.
        let again = open(&cut, &header).unwrap();
        assert!(again.set_aside.is_none());
        assert_eq!(again.earlier.header, Some(header));
    }

    #[test]
    fn a_run_is_locked_by_one_process_at_a_time() {
        let runs = tempfile::tempdir().unwrap();
        start(runs.path(), "r1", 0);
        let dir = find(runs.path(), "r1").unwrap();
        let held = RunLock::acquire(&dir, "r1").unwrap();
        let e = RunLock::acquire(&dir, "r1").unwrap_err();
        assert!(e.to_string().contains("another process"), "{e}");
        drop(held);
        assert!(RunLock::acquire(&dir, "r1").is_ok());
    }

    #[test]
    fn only_plain_ids_of_real_runs_are_found() {
        let runs = tempfile::tempdir().unwrap();
        start(runs.path(), "r1", 0);
        for bad in ["", "..", "../r1", "r2", "r1/journal.jsonl"] {
            let e = find(runs.path(), bad).unwrap_err();
            assert!(e.to_string().contains("exorun workflow runs"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_start_of_one_id_finds_it_and_of_two_asks_for_more() {
        let runs = tempfile::tempdir().unwrap();
        start(runs.path(), "3f2a9c01-night", 2);
        start(runs.path(), "3f2b7d44-night", 1);
        assert_eq!(
            find(runs.path(), "3F2A").unwrap(),
            runs.path().join("3f2a9c01-night")
        );
        let e = find(runs.path(), "3f2").unwrap_err().to_string();
        assert!(
            e.contains("start of 2 runs' ids") && e.contains("3f2b7d44-night"),
            "{e}"
        );
    }
}
