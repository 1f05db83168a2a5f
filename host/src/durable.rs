//! Files that survive a lost machine: what a file appended line by line needs before it is
//! appended to again and before what it says is acted on.
//!
//! - [`drop_cut_line`]: a kill or a crash can leave the last line cut (no newline), and a lost
//!   machine can leave it garbled (NUL bytes where the data never arrived). A line counts only
//!   once its newline is written, so such a line was never written: it is removed before the
//!   file is appended to again. Ending it with a newline instead would turn it into a bad line
//!   in the middle of the file, which readers cannot tell from damage.
//! - [`sync_dir`], [`create_dir_synced`]: a file or directory just created or renamed is only
//!   sure to be found after a crash once its directory is synced too.
//! - [`Syncs`]: the group-committed `fdatasync`s of one file ([`crate::group_commit`]), with
//!   the wait run on a blocking thread so that an async worker never sits in the disk and one
//!   sync covers every line written while the one before it ran. Async waiters take turns: one
//!   of them runs the round's sync on a blocking thread while the others wait for its end on
//!   the async side, so a round costs one thread hand-off, not one per waiter (measured: the
//!   fan-out's host time per item doubled with a blocking thread per waiter).

use std::fs::{DirBuilder, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, FileExt as _};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use crate::group_commit::{GroupCommit, Ticket};

/// Syncs the directory `dir`, so the entries made in it (files created, renamed or removed)
/// are on disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` and its missing parents (mode 700) and syncs the parent of each directory it
/// made, so the whole path survives a crash. A `dir` that exists is left as it is.
pub fn create_dir_synced(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(path) = at.filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        missing.push(path);
        at = path.parent();
    }
    if missing.is_empty() {
        return Ok(());
    }
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    for made in missing.iter().rev() {
        let parent = made
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        sync_dir(parent)?;
    }
    Ok(())
}

/// Removes the last line of `file` (opened for reading and writing) if it is cut short (no
/// newline), so the next line starts on its own after the last whole one; gives whether there
/// was one. Reads back from the end only as far as the last newline.
pub fn drop_cut_line(file: &File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    let mut chunk = [0u8; 8192];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let read = &mut chunk[..(end - start) as usize];
        file.read_exact_at(read, start)?;
        if end == len && read.last() == Some(&b'\n') {
            return Ok(false);
        }
        if let Some(at) = memchr::memrchr(b'\n', read) {
            file.set_len(start + at as u64 + 1)?;
            return Ok(true);
        }
        end = start;
    }
    if len == 0 {
        return Ok(false);
    }
    file.set_len(0)?;
    Ok(true)
}

/// What a test runs before each sync ([`Syncs::on_sync`]).
#[cfg(test)]
type SyncHook = Box<dyn FnMut() -> io::Result<()> + Send>;

/// The syncs of one file appended by many writers: count each write with [`Syncs::wrote`]
/// once it is done, then wait for its ticket with [`Syncs::stored`] (async, off the worker)
/// or [`Syncs::stored_here`] (blocking this thread).
pub struct Syncs {
    /// The file again, for syncing it while others append.
    file: File,
    commit: GroupCommit,
    /// Whether an async waiter is running a round of syncs on a blocking thread now.
    leading: AtomicBool,
    /// Signalled when such a round ends.
    round_ended: Notify,
    #[cfg(test)]
    hook: std::sync::Mutex<Option<SyncHook>>,
}

impl Syncs {
    /// The syncs of `file` (another handle on it is kept).
    pub fn new(file: &File) -> io::Result<Arc<Syncs>> {
        Ok(Arc::new(Syncs {
            file: file.try_clone()?,
            commit: GroupCommit::new(),
            leading: AtomicBool::new(false),
            round_ended: Notify::new(),
            #[cfg(test)]
            hook: std::sync::Mutex::new(None),
        }))
    }

    /// Counts a write that has just been made.
    pub fn wrote(&self) -> Ticket {
        self.commit.wrote()
    }

    /// Returns once the write `ticket` counts is on disk. One async waiter at a time runs the
    /// sync on a blocking thread; the others wait for its round to end and look again. After
    /// a failed sync every wait fails with its error.
    pub async fn stored(self: &Arc<Self>, ticket: Ticket) -> Result<(), Arc<io::Error>> {
        loop {
            let round_ended = self.round_ended.notified();
            let mut round_ended = std::pin::pin!(round_ended);
            round_ended.as_mut().enable();
            if self.commit.covers(ticket)? {
                return Ok(());
            }
            if self.leading.swap(true, Ordering::AcqRel) {
                round_ended.await;
                continue;
            }
            let _leading = Leading(self);
            let syncs = self.clone();
            return tokio::task::spawn_blocking(move || syncs.stored_here(ticket))
                .await
                .unwrap_or_else(|joined| Err(Arc::new(io::Error::other(joined.to_string()))));
        }
    }

    /// [`Syncs::stored`], blocking this thread: for what is not run on an async worker.
    pub fn stored_here(&self, ticket: Ticket) -> Result<(), Arc<io::Error>> {
        self.commit.wait(ticket, || {
            #[cfg(test)]
            if let Some(hook) = self
                .hook
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .as_mut()
            {
                hook()?;
            }
            self.file.sync_data()
        })
    }

    /// Returns once every write counted so far is on disk, blocking this thread: for a file's
    /// last writer, going away.
    pub fn all_stored_here(&self) -> Result<(), Arc<io::Error>> {
        self.stored_here(self.commit.wrote())
    }

    /// Runs `hook` at each sync, before it (tests look at what is on disk then); an error it
    /// gives is the sync's.
    #[cfg(test)]
    pub(crate) fn on_sync(&self, hook: impl FnMut() -> io::Result<()> + Send + 'static) {
        *self
            .hook
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Box::new(hook));
    }
}

/// An async waiter's turn at running the syncs: ended (and the others told) when dropped,
/// also when the waiter is cancelled.
struct Leading<'a>(&'a Syncs);

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        self.0.leading.store(false, Ordering::Release);
        self.0.round_ended.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;
    use std::io::Write as _;
    use std::sync::atomic::AtomicU64;

    use super::*;

    fn appending(path: &Path) -> File {
        OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .unwrap()
    }

    #[test]
    fn a_cut_last_line_is_removed_once_and_a_whole_one_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"b\":").unwrap();
        let file = appending(&path);
        assert!(drop_cut_line(&file).unwrap());
        assert!(!drop_cut_line(&file).unwrap(), "removed already");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n");
        let empty = appending(&dir.path().join("empty"));
        assert!(!drop_cut_line(&empty).unwrap());
        assert_eq!(empty.metadata().unwrap().len(), 0);
    }

    /// A lost machine's garbled line (NUL bytes after the part that arrived), longer than
    /// one read back from the end, and a file that is nothing but a cut line.
    #[test]
    fn a_long_garbled_last_line_and_a_file_of_one_cut_line_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        let mut text = b"{\"a\":1}\n{\"b\":\"".to_vec();
        text.extend(std::iter::repeat_n(b'x', 10_000));
        text.extend([0u8; 5000]);
        std::fs::write(&path, &text).unwrap();
        assert!(drop_cut_line(&appending(&path)).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}\n");
        let only = dir.path().join("only");
        std::fs::write(&only, "{\"run\":").unwrap();
        assert!(drop_cut_line(&appending(&only)).unwrap());
        assert_eq!(std::fs::metadata(&only).unwrap().len(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_waited_for_together_share_a_sync_and_each_wait_follows_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = appending(&dir.path().join("f"));
        let syncs = Syncs::new(&file).unwrap();
        let count = Arc::new(AtomicU64::new(0));
        let counted = count.clone();
        syncs.on_sync(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        file.write_all(b"one\n").unwrap();
        let first = syncs.wrote();
        file.write_all(b"two\n").unwrap();
        let second = syncs.wrote();
        let (a, b) = tokio::join!(syncs.stored(first), syncs.stored(second));
        a.unwrap();
        b.unwrap();
        let after_two = count.load(Ordering::SeqCst);
        assert_eq!(after_two, 1, "one sync covered both");
        syncs.stored(second).await.unwrap();
        assert_eq!(count.load(Ordering::SeqCst), after_two, "already on disk");
        file.write_all(b"three\n").unwrap();
        syncs.stored_here(syncs.wrote()).unwrap();
        assert_eq!(count.load(Ordering::SeqCst), after_two + 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_async_waiters_share_rounds_and_a_cancelled_one_holds_nobody_up() {
        let dir = tempfile::tempdir().unwrap();
        let file = Arc::new(std::sync::Mutex::new(appending(&dir.path().join("f"))));
        let syncs = Syncs::new(&file.lock().unwrap()).unwrap();
        let count = Arc::new(AtomicU64::new(0));
        let counted = count.clone();
        // The first sync holds until the test lets it go.
        let (started, round_started) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        syncs.on_sync(move || {
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                started.send(()).unwrap();
                released.recv().unwrap();
            }
            Ok(())
        });
        // A waiter cancelled while it runs a round.
        file.lock().unwrap().write_all(b"first\n").unwrap();
        let first = syncs.wrote();
        let mut waiting = Box::pin(syncs.stored(first));
        while round_started.try_recv().is_err() {
            tokio::select! {
                biased;
                _ = &mut waiting => panic!("the first round is held"),
                () = tokio::task::yield_now() => {}
            }
        }
        drop(waiting);
        let tasks: Vec<_> = (0..64)
            .map(|n| {
                let (file, syncs) = (file.clone(), syncs.clone());
                tokio::spawn(async move {
                    let ticket = {
                        let mut file = file.lock().unwrap();
                        file.write_all(format!("{n}\n").as_bytes()).unwrap();
                        syncs.wrote()
                    };
                    syncs.stored(ticket).await.unwrap();
                    assert!(syncs.commit.covers(ticket).unwrap());
                })
            })
            .collect();
        release.send(()).unwrap();
        for task in tasks {
            task.await.unwrap();
        }
        let rounds = count.load(Ordering::SeqCst);
        assert!(rounds < 20, "{rounds} syncs for 65 writes: not grouped");
    }

    #[test]
    fn directories_are_made_with_their_parents_privately() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("runs/r1/records");
        create_dir_synced(&deep).unwrap();
        create_dir_synced(&deep).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&deep), 0o700);
        assert_eq!(mode(&dir.path().join("runs")), 0o700);
        sync_dir(dir.path()).unwrap();
        assert!(sync_dir(&dir.path().join("missing")).is_err());
    }
}
