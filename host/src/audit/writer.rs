//! The chained appender. Each append takes an exclusive lock on the file, finds the current
//! last record (another process may have appended since), writes one whole line chained to it
//! (and, with a key, ending in its MAC) with one `write`, and lets go: concurrent processes and
//! threads interleave whole records and never fork the chain. Syncing is left to the caller
//! ([`crate::group_commit`]), so a sync never holds the file's lock.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, FileExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AuditError;
use super::key::AuditKey;
use crate::digest::sha256_hex;

/// The last record of the log, as far as this writer knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Its sequence number, which is also the number of records in the log.
    pub seq: u64,
    /// The SHA-256 of its line, lowercase hex: what the next record's `prev` holds, and what
    /// `exorun audit verify --head` takes.
    pub hash: String,
}

/// The end of the file as last seen: its length and last record.
struct Tip {
    len: u64,
    head: Option<Head>,
}

/// Only what chaining needs of a record.
#[derive(Deserialize)]
struct Link {
    seq: u64,
}

/// What the writer puts before an event's fields: the first fields of a
/// [`Record`](super::Record), in its order.
#[derive(Serialize)]
struct Header<'a> {
    seq: u64,
    prev: Option<&'a str>,
    time: DateTime<Utc>,
}

/// One open log file.
pub(super) struct Writer {
    path: PathBuf,
    file: File,
    /// The tip after this writer's last append (or read): while the file still has that
    /// length nobody else has appended, so the last line need not be read again.
    tip: Tip,
    /// The line being written, kept to save an allocation per record.
    line: Vec<u8>,
    /// The key each record's MAC is made with, if the log is keyed.
    key: Option<AuditKey>,
}

/// Holds a file's exclusive lock until dropped.
struct Locked<'a>(&'a File);

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // Closing the file would release the lock too; an unlock that fails leaves it to that.
        let _ = self.0.unlock();
    }
}

impl Writer {
    /// Opens (creating it, mode 600, in a directory created mode 700) the log at `path` and
    /// reads its last record, so a log that cannot be appended to is refused before anything
    /// is done. A log it creates has its directory synced, so the file itself survives a crash.
    /// With `key`, every record it appends carries a MAC.
    pub(super) fn open(path: &Path, key: Option<AuditKey>) -> Result<Writer, AuditError> {
        let io = |e: io::Error| Arc::new(e);
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| AuditError::Directory {
                    dir: dir.to_path_buf(),
                    io: io(e),
                })?;
        }
        let open = |create_new: bool| {
            OpenOptions::new()
                .read(true)
                .append(true)
                .create_new(create_new)
                .mode(0o600)
                .open(path)
        };
        let (file, created) = match open(true) {
            Ok(file) => (Ok(file), true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => (open(false), false),
            Err(e) => (Err(e), false),
        };
        let file = file.map_err(|e| AuditError::Open {
            path: path.to_path_buf(),
            io: io(e),
        })?;
        if created {
            let dir = dir.unwrap_or(Path::new("."));
            File::open(dir)
                .and_then(|dir| dir.sync_all())
                .map_err(|e| AuditError::Sync {
                    path: dir.to_path_buf(),
                    io: io(e),
                })?;
        }
        let mut writer = Writer {
            path: path.to_path_buf(),
            file,
            tip: Tip { len: 0, head: None },
            line: Vec::new(),
            key,
        };
        let lock = lock(&writer.file, &writer.path)?;
        writer.tip = writer.read_tip()?;
        drop(lock);
        Ok(writer)
    }

    /// Another handle on the log's file, for syncing it without this writer's lock.
    pub(super) fn file(&self) -> Result<File, AuditError> {
        self.file.try_clone().map_err(|e| AuditError::Open {
            path: self.path.clone(),
            io: Arc::new(e),
        })
    }

    /// The last record this writer wrote or saw.
    pub(super) fn head(&self) -> Option<&Head> {
        self.tip.head.as_ref()
    }

    /// Appends the event whose JSON object is `event` (`{"event":…, …}`, serialized by the
    /// caller before the lock is taken) as the next record, and returns the new head.
    pub(super) fn append(&mut self, event: &[u8]) -> Result<Head, AuditError> {
        let lock = lock(&self.file, &self.path)?;
        let len = self.len()?;
        if len != self.tip.len {
            self.tip = self.read_tip()?;
        }
        let seq = self.tip.head.as_ref().map_or(1, |h| h.seq + 1);
        let header = Header {
            seq,
            prev: self.tip.head.as_ref().map(|h| h.hash.as_str()),
            time: Utc::now(),
        };
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        serde_json::to_writer(&mut line, &header).expect("numbers and text always serialize");
        // `{"seq":…,"time":"…"}` + `{"event":…}` → `{"seq":…,"time":"…","event":…}`
        line.pop();
        line.push(b',');
        line.extend_from_slice(event.get(1..).unwrap_or_default());
        if let Some(key) = &self.key {
            // `{…}` → `{…,"mac":"…"}`: the MAC covers the line up to its own field.
            line.pop();
            let mac = key.mac(&line);
            line.extend_from_slice(MAC_FIELD);
            line.extend_from_slice(mac.as_bytes());
            line.extend_from_slice(b"\"}");
        }
        let hash = sha256_hex(&line);
        line.push(b'\n');
        let written = (&self.file).write_all(&line);
        let appended = line.len() as u64;
        self.line = line;
        if let Err(error) = written {
            // Take back a partial line so the log stays whole; if even that fails, the next
            // append finds the half line and refuses to chain to it.
            let _ = self.file.set_len(len);
            return Err(self.write_error(error));
        }
        drop(lock);
        let head = Head { seq, hash };
        self.tip = Tip {
            len: len + appended,
            head: Some(head.clone()),
        };
        Ok(head)
    }

    fn write_error(&self, error: io::Error) -> AuditError {
        AuditError::Write {
            path: self.path.clone(),
            io: Arc::new(error),
        }
    }

    fn read_error(&self, error: io::Error) -> AuditError {
        AuditError::Read {
            path: self.path.clone(),
            io: Arc::new(error),
        }
    }

    /// The file's length, found by seeking to its end rather than by `stat`: a `stat` marks the
    /// file's times as seen, which makes the kernel (Linux 6.13+, multigrain timestamps) write a
    /// fresh fine-grained mtime into the inode on the next append — a journaled inode update on
    /// every record that costs more than the record itself.
    fn len(&self) -> Result<u64, AuditError> {
        (&self.file)
            .seek(SeekFrom::End(0))
            .map_err(|e| self.read_error(e))
    }

    /// The file's length and last record, read with the lock held.
    fn read_tip(&self) -> Result<Tip, AuditError> {
        let len = self.len()?;
        if len == 0 {
            return Ok(Tip { len, head: None });
        }
        let line = last_line(&self.file, len).map_err(|e| self.read_error(e))?;
        let Some(line) = line.strip_suffix(b"\n") else {
            return Err(AuditError::HalfWritten {
                path: self.path.clone(),
            });
        };
        let link: Link = serde_json::from_slice(line).map_err(|e| AuditError::NotARecord {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        Ok(Tip {
            len,
            head: Some(Head {
                seq: link.seq,
                hash: sha256_hex(line),
            }),
        })
    }
}

/// The log at `path` opened for reading up to its end as it is now. The length is taken under a
/// shared lock, so no append is half done at that point; appends made while the log is read
/// are left for the next reader.
pub(super) fn open_to_read(path: &Path) -> Result<io::Take<File>, AuditError> {
    let error = |e: io::Error| AuditError::Read {
        path: path.to_path_buf(),
        io: Arc::new(e),
    };
    let file = File::open(path).map_err(error)?;
    file.lock_shared().map_err(|e| AuditError::Lock {
        path: path.to_path_buf(),
        io: Arc::new(e),
    })?;
    let len = file.metadata().map(|m| m.len());
    // Closing the file would release the lock too.
    let _ = file.unlock();
    Ok(io::Read::take(file, len.map_err(error)?))
}

/// Takes the exclusive lock on `file` (the log at `path`), waiting for another holder.
fn lock<'a>(file: &'a File, path: &Path) -> Result<Locked<'a>, AuditError> {
    file.lock().map_err(|e| AuditError::Lock {
        path: path.to_path_buf(),
        io: Arc::new(e),
    })?;
    Ok(Locked(file))
}

/// What comes between a keyed record's other fields and its MAC.
pub(super) const MAC_FIELD: &[u8] = b",\"mac\":\"";

/// How much of the file's end is read at a time, looking for the last line's start.
const TAIL_CHUNK: u64 = 4096;

/// The last line of a file of `len` (> 0) bytes, with its newline if it has one.
fn last_line(file: &File, len: u64) -> io::Result<Vec<u8>> {
    // The search starts before the final byte, which ends the last line (or cuts it short).
    let mut start = len - 1;
    let mut buffer = vec![0; TAIL_CHUNK as usize];
    while start > 0 {
        let from = start.saturating_sub(TAIL_CHUNK);
        let chunk = &mut buffer[..(start - from) as usize];
        file.read_exact_at(chunk, from)?;
        if let Some(newline) = memchr::memrchr(b'\n', chunk) {
            start = from + newline as u64 + 1;
            break;
        }
        start = from;
    }
    let mut line = vec![0; (len - start) as usize];
    file.read_exact_at(&mut line, start)?;
    Ok(line)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;
    use crate::audit::testkit::token_event;
    use crate::audit::{Event, Record};

    fn json(event: Event) -> Vec<u8> {
        serde_json::to_vec(&event).unwrap()
    }

    #[test]
    fn a_line_is_the_record_the_header_and_event_make() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut writer = Writer::open(&path, None).unwrap();
        for i in 0..2 {
            writer.append(&json(token_event(i))).unwrap();
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let record: Record = serde_json::from_str(line).unwrap();
            assert_eq!(serde_json::to_string(&record).unwrap(), line);
        }
    }

    #[test]
    fn records_chain_and_the_file_and_directory_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/exorun/audit.jsonl");
        let mut writer = Writer::open(&path, None).unwrap();
        assert_eq!(writer.head(), None);
        let first = writer.append(&json(token_event(1))).unwrap();
        let second = writer.append(&json(token_event(2))).unwrap();
        assert_eq!((first.seq, second.seq), (1, 2));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(sha256_hex(lines[0].as_bytes()), first.hash);
        let records: Vec<Record> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(records[0].prev, None);
        assert_eq!(records[1].prev.as_deref(), Some(first.hash.as_str()));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);

        let mut again = Writer::open(&path, None).unwrap();
        assert_eq!(
            again.head(),
            Some(&second),
            "a reopened log goes on from its end"
        );
        assert_eq!(again.append(&json(token_event(3))).unwrap().seq, 3);
        assert_eq!(
            writer.append(&json(token_event(4))).unwrap().seq,
            4,
            "a writer sees what another appended"
        );
    }

    #[test]
    fn the_last_line_is_found_however_long_it_is() {
        let dir = tempfile::tempdir().unwrap();
        for long in [0, 10, TAIL_CHUNK as usize - 30, 3 * TAIL_CHUNK as usize] {
            let path = dir.path().join(format!("{long}.jsonl"));
            let mut writer = Writer::open(&path, None).unwrap();
            writer.append(&json(token_event(0))).unwrap();
            let mut event = token_event(1);
            if let Event::Token(token) = &mut event {
                token.app_id = Some("x".repeat(long));
            }
            let head = writer.append(&json(event)).unwrap();
            assert_eq!(
                Writer::open(&path, None).unwrap().head(),
                Some(&head),
                "{long}"
            );
        }
    }

    #[test]
    fn a_half_written_or_foreign_last_line_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        Writer::open(&path, None)
            .unwrap()
            .append(&json(token_event(1)))
            .unwrap();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"seq":2,"pr"#).unwrap();
        let e = Writer::open(&path, None).err().unwrap();
        assert!(matches!(e, AuditError::HalfWritten { .. }), "{e}");
        assert!(
            e.to_string().contains("exorun audit verify --audit-log"),
            "{e}"
        );
        file.write_all(b"\n").unwrap();
        let e = Writer::open(&path, None).err().unwrap();
        assert!(matches!(e, AuditError::NotARecord { .. }), "{e}");
    }

    #[test]
    fn an_unwritable_place_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let e = Writer::open(&file.join("audit.jsonl"), None).err().unwrap();
        let text = e.to_string();
        assert!(text.contains(&file.display().to_string()), "{text}");
        assert!(
            text.contains("fix: ") && text.contains("--audit-log"),
            "{text}"
        );
    }
}
