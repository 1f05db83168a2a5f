//! Group commit: many writers of one file wait for one `fdatasync` between them. A sync costs
//! ~80–130 µs here, more than the host spends on a fan-out item, so syncing line by line would
//! bound a run by the disk; instead a writer that needs its line on disk waits for a sync that
//! *started after its write*. If one is running, the writer waits for it to end and for the
//! next, which then covers every line written meanwhile: one sync per round, however many
//! writers.
//!
//! This module knows nothing of what is written (the audit log uses it; the workflow journal
//! and records files can): count each write with [`GroupCommit::wrote`] right after it is
//! done, and hand [`GroupCommit::wait`] the sync to run. Every process syncs its own writes
//! (`fdatasync` covers the whole file, whoever wrote it), so processes sharing a file need
//! nothing from each other.
//!
//! ```
//! use exorun::group_commit::GroupCommit;
//! use std::io::Write as _;
//!
//! let mut file = tempfile::tempfile()?;
//! let commit = GroupCommit::new();
//! file.write_all(b"a line\n")?;
//! let ticket = commit.wrote();
//! commit.wait(ticket, || file.sync_data())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// The syncs of one file, shared by its writers.
#[derive(Debug, Default)]
pub struct GroupCommit {
    state: Mutex<State>,
    /// Signalled when a sync ends.
    synced: Condvar,
}

/// A write counted by [`GroupCommit::wrote`]: what to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

#[derive(Debug, Default)]
struct State {
    /// Writes counted so far.
    written: u64,
    /// Writes known to be on disk: every one counted before the last good sync began.
    durable: u64,
    /// Whether a writer is running a sync now.
    syncing: bool,
    /// The first failed sync: after it nothing is known to be on disk, so every wait fails.
    failed: Option<Arc<io::Error>>,
}

impl GroupCommit {
    /// Nothing written yet.
    pub fn new() -> GroupCommit {
        GroupCommit::default()
    }

    /// Counts a write that has just been made (its `write` returned); wait for the ticket to
    /// have it on disk.
    pub fn wrote(&self) -> Ticket {
        let mut state = self.lock();
        state.written += 1;
        Ticket(state.written)
    }

    /// Returns once the write `ticket` counts is on disk: at once if a sync that began after it
    /// already ended, else after the running sync and, if that one began too early, one more,
    /// run by `sync` in this thread unless another waiter runs it first. Once a sync fails,
    /// every wait fails with that error.
    pub fn wait(
        &self,
        ticket: Ticket,
        sync: impl FnOnce() -> io::Result<()>,
    ) -> Result<(), Arc<io::Error>> {
        let mut state = self.lock();
        let mut sync = Some(sync);
        loop {
            if let Some(error) = &state.failed {
                return Err(error.clone());
            }
            if state.durable >= ticket.0 {
                return Ok(());
            }
            if state.syncing {
                state = self
                    .synced
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // Nobody is syncing, and the last sync began before this write: run one.
            let covers = state.written;
            state.syncing = true;
            drop(state);
            let result = sync.take().map_or(Ok(()), |sync| sync());
            state = self.lock();
            state.syncing = false;
            match result {
                Ok(()) => state.durable = state.durable.max(covers),
                Err(error) => {
                    state.failed.get_or_insert_with(|| Arc::new(error));
                }
            }
            self.synced.notify_all();
        }
    }

    /// Whether the write `ticket` counts is known to be on disk now (no wait); after a failed
    /// sync, that sync's error.
    pub fn covers(&self, ticket: Ticket) -> Result<bool, Arc<io::Error>> {
        let state = self.lock();
        match &state.failed {
            Some(error) => Err(error.clone()),
            None => Ok(state.durable >= ticket.0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_wait_runs_a_sync_and_a_covered_write_waits_for_none() {
        let commit = GroupCommit::new();
        let syncs = AtomicU64::new(0);
        let sync = || {
            syncs.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        let first = commit.wrote();
        let second = commit.wrote();
        commit.wait(second, sync).unwrap();
        commit.wait(first, sync).unwrap();
        assert_eq!(syncs.load(Ordering::SeqCst), 1, "one sync covered both");
        let third = commit.wrote();
        commit.wait(third, sync).unwrap();
        assert_eq!(
            syncs.load(Ordering::SeqCst),
            2,
            "a later write needs a new sync"
        );
    }

    #[test]
    fn concurrent_writers_share_syncs_and_no_wait_ends_before_its_write_is_covered() {
        let commit = GroupCommit::new();
        let syncs = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..100 {
                        let ticket = commit.wrote();
                        commit
                            .wait(ticket, || {
                                syncs.fetch_add(1, Ordering::SeqCst);
                                std::thread::sleep(Duration::from_micros(200));
                                Ok(())
                            })
                            .unwrap();
                        assert!(commit.lock().durable >= ticket.0);
                    }
                });
            }
        });
        let syncs = syncs.load(Ordering::SeqCst);
        assert!(
            syncs < 800,
            "{syncs} syncs for 800 writes: they were not grouped"
        );
        assert_eq!(commit.lock().durable, 800);
    }

    #[test]
    fn a_write_is_covered_once_a_sync_that_began_after_it_ended() {
        let commit = GroupCommit::new();
        let ticket = commit.wrote();
        assert!(!commit.covers(ticket).unwrap());
        commit.wait(ticket, || Ok(())).unwrap();
        assert!(commit.covers(ticket).unwrap());
        let later = commit.wrote();
        assert!(!commit.covers(later).unwrap());
        assert!(
            commit
                .wait(later, || Err(io::Error::other("disk gone")))
                .is_err()
        );
        assert!(commit.covers(ticket).is_err(), "nothing is known durable");
    }

    #[test]
    fn after_a_failed_sync_every_wait_fails() {
        let commit = GroupCommit::new();
        let ticket = commit.wrote();
        let e = commit
            .wait(ticket, || Err(io::Error::other("disk gone")))
            .unwrap_err();
        assert_eq!(e.to_string(), "disk gone");
        let later = commit.wrote();
        let again = commit.wait(later, || Ok(())).unwrap_err();
        assert_eq!(again.to_string(), "disk gone");
        assert!(
            commit.wait(ticket, || Ok(())).is_err(),
            "nothing is known durable"
        );
    }
}
