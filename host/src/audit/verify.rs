//! Checking a log's chain (`exorun audit verify`): every line must be a whole record numbered
//! one more than the line before and holding that line's SHA-256. The first break is reported
//! with the line it is on and what most likely happened there: a line changed, removed,
//! inserted or moved, or a tail cut short. Lines cut cleanly off the end leave a shorter chain
//! that is still whole; a head kept elsewhere (`--head`) tells them apart.
//!
//! With the operator's key ([`verify_with_key`]) every record must also carry the MAC the key
//! gives its line: a log rewritten by someone without the key — a field edited, a record
//! removed, and every hash after it recomputed — fails at the first line they touched.
//!
//! The log is read once, as a stream, in constant memory, up to its end when the check starts
//! (runs may go on appending meanwhile); after a break the rest is read on to say what happened.

use std::fmt;
use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::AuditError;
use super::key::AuditKey;
use super::writer::{Head, MAC_FIELD, open_to_read};
use crate::digest::sha256_hex;

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Lines found whole and chained, from the first (all of them when the log is intact).
    pub intact: u64,
    /// The last of those lines.
    pub head: Option<Head>,
    /// The line whose hash is the head given to check against, if it was found.
    pub given_head_line: Option<u64>,
    /// The first break, if there is one.
    pub problem: Option<Problem>,
    /// How many of the intact lines carry a MAC (checked against the key, if one was given).
    pub keyed: u64,
    /// How many of the intact lines carry none. With a key these can only be the first lines
    /// (written before the log was keyed, or stripped of their MACs): the key vouches for none
    /// of them, which `exorun audit verify --key` reports as a failure.
    pub unkeyed: u64,
}

/// A break in the chain: where, and what most likely happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The line (1-based) that is wrong.
    pub line: u64,
    /// What is wrong with it.
    pub kind: ProblemKind,
}

/// What is wrong at a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// Not a record at all.
    NotARecord {
        /// What does not parse.
        reason: String,
    },
    /// The last line has no newline: the tail was cut or a write broke off.
    HalfWritten,
    /// The line does not hash to the `prev` the next line holds.
    Changed,
    /// The line chains to the one before but carries another number.
    Renumbered {
        /// The number it carries.
        seq: u64,
    },
    /// The first line names a record before it.
    Unchained,
    /// Records are missing before the line.
    Removed {
        /// The first missing record.
        first: u64,
        /// The last missing record.
        last: u64,
    },
    /// The line does not belong: the next one follows the one before it.
    Inserted,
    /// The line and the next one are in each other's places.
    Swapped,
    /// The line holds a later record; the one that belongs here is further down.
    Moved {
        /// The record the line holds.
        seq: u64,
        /// Where the record that belongs here is.
        belongs_on: u64,
    },
    /// The line holds a record an earlier line already holds.
    Repeated {
        /// The record it holds.
        seq: u64,
    },
    /// The line chains, but its MAC is not the one the key gives it.
    MacMismatch {
        /// Whether it is the first line with a MAC: then the key is most likely the wrong one.
        first: bool,
    },
    /// The line carries no MAC although the lines before it do.
    MacMissing,
    /// The log is whole but the given head is not in it: records were cut off its end (or the
    /// last record was changed, or the head is another log's).
    HeadMissing {
        /// The head that was looked for.
        head: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.line;
        match &self.kind {
            ProblemKind::NotARecord { reason } => write!(
                f,
                "line {n} is not an audit record ({reason}): it was changed, or written by something else"
            ),
            ProblemKind::HalfWritten => write!(
                f,
                "line {n} is cut short (it has no newline): the end of the log was cut off, or a write broke off"
            ),
            ProblemKind::Changed => write!(
                f,
                "line {n} was changed: it does not hash to the prev that line {} holds (or that prev was changed)",
                n + 1
            ),
            ProblemKind::Renumbered { seq } => write!(
                f,
                "line {n} was changed: it follows record {} but is numbered {seq}",
                n - 1
            ),
            ProblemKind::Unchained => write!(
                f,
                "line {n} was changed: it is the first record but names a previous one"
            ),
            ProblemKind::Removed { first, last } if first == last => {
                write!(
                    f,
                    "record {first} is missing before line {n}: it was removed"
                )
            }
            ProblemKind::Removed { first, last } => write!(
                f,
                "records {first} to {last} are missing before line {n}: they were removed"
            ),
            ProblemKind::Inserted => write!(
                f,
                "line {n} was inserted: line {} follows line {} directly",
                n + 1,
                n - 1
            ),
            ProblemKind::Swapped => write!(
                f,
                "lines {n} and {} were swapped: each holds the other's record",
                n + 1
            ),
            ProblemKind::Moved { seq, belongs_on } => write!(
                f,
                "line {n} holds record {seq}, but record {n} belongs here and is on line {belongs_on}: lines were reordered"
            ),
            ProblemKind::Repeated { seq } => write!(
                f,
                "line {n} holds record {seq}, which line {seq} already holds: a copy or a moved line was inserted"
            ),
            ProblemKind::MacMismatch { first: true } => write!(
                f,
                "line {n}, the first with a MAC, does not carry the MAC this key gives it: the key is not the one the log was written with (or the line was changed and the hashes recomputed)\n  fix: pass the key the log was written with (--key FILE); if it is the right key, the log was rewritten from line {n} on"
            ),
            ProblemKind::MacMismatch { first: false } => write!(
                f,
                "line {n} was changed, or a record before it removed, and the hashes recomputed to hide it: its MAC is not the one the key gives it (the lines before it are vouched for)\n  fix: keep the file as it is for the record, compare it with a copy or the head kept elsewhere, and move it aside so a new log starts"
            ),
            ProblemKind::MacMissing => write!(
                f,
                "line {n} carries no MAC though the lines before it do: it was written or rewritten without the key\n  fix: keep the file as it is for the record, and find what wrote to the log without --audit-key"
            ),
            ProblemKind::HeadMissing { head } => write!(
                f,
                "the head {head} is not in the log, which ends whole at line {n}: records were cut off its end (or its last record was changed, or the head belongs to another log)"
            ),
        }
    }
}

/// Checks the chain of the log at `path`; with `head` (a hash kept elsewhere), also that no
/// record after it was cut off. MACs are counted, not checked: that takes the key.
pub fn verify(path: &Path, head: Option<&str>) -> Result<Report, AuditError> {
    verify_with_key(path, head, None)
}

/// [`verify`], and with `key` also each record's MAC.
pub fn verify_with_key(
    path: &Path,
    head: Option<&str>,
    key: Option<&AuditKey>,
) -> Result<Report, AuditError> {
    let log = open_to_read(path)?;
    check(BufReader::new(log), head, key).map_err(|e| AuditError::Read {
        path: path.to_path_buf(),
        io: Arc::new(e),
    })
}

/// What chaining needs of a line.
#[derive(Deserialize)]
struct Link {
    seq: u64,
    prev: Option<String>,
}

/// A line read for checking.
enum Line {
    /// A whole record: its number, its `prev`, its own hash, its MAC.
    Record {
        seq: u64,
        prev: Option<String>,
        hash: String,
        mac: Mac,
    },
    /// Anything else.
    Broken(ProblemKind),
}

impl Line {
    fn chains(&self, seq: u64, prev: Option<&str>) -> bool {
        matches!(self, Line::Record { seq: s, prev: p, .. } if *s == seq && p.as_deref() == prev)
    }
}

/// A record's MAC, as far as it was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mac {
    /// The line has none.
    Missing,
    /// The line has one; no key was given to check it.
    Unchecked,
    /// The key gives the line this MAC.
    Good,
    /// The key gives the line another MAC.
    Bad,
}

/// The lines of a log, read one at a time.
struct Lines<'k, R> {
    reader: R,
    buffer: Vec<u8>,
    key: Option<&'k AuditKey>,
}

impl<R: BufRead> Iterator for Lines<'_, R> {
    type Item = io::Result<Line>;

    fn next(&mut self) -> Option<io::Result<Line>> {
        self.buffer.clear();
        match self.reader.read_until(b'\n', &mut self.buffer) {
            Ok(0) => None,
            Ok(_) => Some(Ok(read_line(&self.buffer, self.key))),
            Err(e) => Some(Err(e)),
        }
    }
}

fn read_line(bytes: &[u8], key: Option<&AuditKey>) -> Line {
    let Some(body) = bytes.strip_suffix(b"\n") else {
        return Line::Broken(ProblemKind::HalfWritten);
    };
    match serde_json::from_slice::<Link>(body) {
        Ok(link) => Line::Record {
            seq: link.seq,
            prev: link.prev,
            hash: sha256_hex(body),
            mac: mac_of(body, key),
        },
        Err(e) => Line::Broken(ProblemKind::NotARecord {
            reason: e.to_string(),
        }),
    }
}

/// Whether the record `body` (a line without its newline) ends in a MAC, and whether `key`
/// gives it that MAC.
fn mac_of(body: &[u8], key: Option<&AuditKey>) -> Mac {
    const DIGITS: usize = 64;
    let Some(mac_start) = body.len().checked_sub(DIGITS + 2) else {
        return Mac::Missing;
    };
    let Some(covered) = mac_start.checked_sub(MAC_FIELD.len()) else {
        return Mac::Missing;
    };
    if &body[covered..mac_start] != MAC_FIELD || !body.ends_with(b"\"}") {
        return Mac::Missing;
    }
    let Some(key) = key else {
        return Mac::Unchecked;
    };
    let given = &body[mac_start..mac_start + DIGITS];
    let expected = key.mac(&body[..covered]);
    if openssl::memcmp::eq(given, expected.as_bytes()) {
        Mac::Good
    } else {
        Mac::Bad
    }
}

/// What is wrong with an intact line's MAC, given what the lines before it held.
fn mac_problem(mac: Mac, report: &mut Report, key: bool) -> Option<ProblemKind> {
    match mac {
        Mac::Missing if key && report.keyed > 0 => return Some(ProblemKind::MacMissing),
        Mac::Missing => report.unkeyed += 1,
        Mac::Bad => {
            return Some(ProblemKind::MacMismatch {
                first: report.keyed == 0,
            });
        }
        Mac::Good | Mac::Unchecked => report.keyed += 1,
    }
    None
}

/// [`verify`] of a log's bytes, for the fuzz target.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn check_log(bytes: &[u8], head: Option<&str>) -> io::Result<Report> {
    check(bytes, head, None)
}

/// Walks the chain of the log in `reader`, checking MACs with `key`.
fn check(reader: impl BufRead, head: Option<&str>, key: Option<&AuditKey>) -> io::Result<Report> {
    let head = head.map(str::to_ascii_lowercase);
    let mut lines = Lines {
        reader,
        buffer: Vec::new(),
        key,
    };
    let mut report = Report {
        intact: 0,
        head: None,
        given_head_line: None,
        problem: None,
        keyed: 0,
        unkeyed: 0,
    };
    while let Some(line) = lines.next() {
        let n = report.intact + 1;
        let prev = report.head.as_ref().map(|h| h.hash.as_str());
        let line = line?;
        if line.chains(n, prev) {
            let Line::Record { hash, mac, .. } = line else {
                unreachable!("only records chain")
            };
            if let Some(kind) = mac_problem(mac, &mut report, key.is_some()) {
                report.problem = Some(Problem { line: n, kind });
                return Ok(report);
            }
            if head.as_deref() == Some(hash.as_str()) {
                report.given_head_line = Some(n);
            }
            report.intact = n;
            report.head = Some(Head { seq: n, hash });
            continue;
        }
        let kind = match line {
            Line::Broken(kind) => kind,
            Line::Record { seq, prev: p, .. } => {
                what_happened(n, prev, seq, p.as_deref(), &mut lines)?
            }
        };
        let line = if kind == ProblemKind::Changed {
            n - 1
        } else {
            n
        };
        report.problem = Some(Problem { line, kind });
        return Ok(report);
    }
    if let Some(head) = head.filter(|_| report.given_head_line.is_none()) {
        report.problem = Some(Problem {
            line: report.intact,
            kind: ProblemKind::HeadMissing { head },
        });
    }
    Ok(report)
}

/// Why line `n`, holding record `seq` chained to `prev_held`, does not follow the intact line
/// before it (whose hash is `prev`); `rest` is the lines after it.
fn what_happened(
    n: u64,
    prev: Option<&str>,
    seq: u64,
    prev_held: Option<&str>,
    rest: &mut impl Iterator<Item = io::Result<Line>>,
) -> io::Result<ProblemKind> {
    if prev_held == prev {
        return Ok(ProblemKind::Renumbered { seq });
    }
    if n == 1 && seq == 1 {
        return Ok(ProblemKind::Unchained);
    }
    let next = rest.next().transpose()?;
    if let Some(Line::Record {
        seq: next_seq,
        prev: next_prev,
        hash: next_hash,
        ..
    }) = &next
        && *next_seq == n
        && next_prev.as_deref() == prev
    {
        // The next line follows the intact one: this line was put between them, or it is the
        // next line's successor and the two changed places.
        let swapped = seq == n + 1 && prev_held == Some(next_hash.as_str());
        return Ok(if swapped {
            ProblemKind::Swapped
        } else {
            ProblemKind::Inserted
        });
    }
    if seq == n {
        return Ok(ProblemKind::Changed);
    }
    if seq < n {
        return Ok(ProblemKind::Repeated { seq });
    }
    // A later record is here: the one that belongs here was moved further down, or removed.
    for (on, line) in (n + 1..).zip(next.into_iter().map(Ok).chain(rest)) {
        if matches!(line?, Line::Record { seq: s, .. } if s == n) {
            return Ok(ProblemKind::Moved {
                seq,
                belongs_on: on,
            });
        }
    }
    Ok(ProblemKind::Removed {
        first: n,
        last: seq - 1,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::audit::testkit::{lines_of, log_of, token_event};
    use crate::audit::writer::Writer;

    fn problem(lines: &[String], head: Option<&str>) -> Option<Problem> {
        check(io::Cursor::new(lines.concat()), head, None)
            .unwrap()
            .problem
    }

    fn at(line: u64, kind: ProblemKind) -> Option<Problem> {
        Some(Problem { line, kind })
    }

    /// The log at `path` as someone without the key would rewrite it: `edit` its lines, then
    /// number them again and chain each to the hash of the one before, MACs left as they are.
    fn rewritten(path: &Path, edit: impl FnOnce(&mut Vec<String>)) -> Vec<String> {
        let mut lines = lines_of(path);
        edit(&mut lines);
        let mut prev: Option<String> = None;
        for (n, line) in (1..).zip(lines.iter_mut()) {
            let rest = &line[line.find(",\"time\":").unwrap()..];
            let prev_json = prev.as_ref().map_or("null".into(), |h| format!("\"{h}\""));
            *line = format!("{{\"seq\":{n},\"prev\":{prev_json}{rest}");
            prev = Some(sha256_hex(line.trim_end().as_bytes()));
        }
        lines
    }

    fn keyed_log(unkeyed: u64, keyed: u64) -> (tempfile::TempDir, PathBuf, AuditKey) {
        let (dir, path, _) = log_of(unkeyed);
        let key = AuditKey::create(&dir.path().join("audit.key")).unwrap();
        let mut writer = Writer::open(&path, Some(key.clone())).unwrap();
        for i in 0..keyed {
            writer
                .append(&serde_json::to_vec(&token_event(100 + i)).unwrap())
                .unwrap();
        }
        (dir, path, key)
    }

    fn keyed_check(lines: &[String], key: &AuditKey) -> Report {
        check(io::Cursor::new(lines.concat()), None, Some(key)).unwrap()
    }

    #[test]
    fn the_key_finds_a_log_rewritten_with_its_hashes_recomputed() {
        let (dir, path, key) = keyed_log(0, 6);
        let report = verify_with_key(&path, None, Some(&key)).unwrap();
        assert_eq!((report.problem, report.keyed, report.unkeyed), (None, 6, 0));
        let unchecked = verify(&path, None).unwrap();
        assert_eq!((unchecked.problem, unchecked.keyed), (None, 6));

        let edited = rewritten(&path, |l| l[2] = l[2].replace("app-102", "app-666"));
        assert_eq!(problem(&edited, None), None, "the chain alone is fooled");
        let report = keyed_check(&edited, &key);
        assert_eq!(
            report.problem,
            at(3, ProblemKind::MacMismatch { first: false })
        );
        assert_eq!(report.intact, 2);

        let removed = rewritten(&path, |l| {
            l.remove(2);
        });
        assert_eq!(problem(&removed, None), None);
        assert_eq!(
            keyed_check(&removed, &key).problem,
            at(3, ProblemKind::MacMismatch { first: false })
        );

        let wrong = AuditKey::create(&dir.path().join("wrong.key")).unwrap();
        assert_eq!(
            keyed_check(&lines_of(&path), &wrong).problem,
            at(1, ProblemKind::MacMismatch { first: true })
        );

        let strip = |line: &mut String| {
            let at = line.find(",\"mac\":").unwrap();
            line.replace_range(at..line.len() - 2, "");
        };
        let one_stripped = rewritten(&path, |l| strip(&mut l[3]));
        assert_eq!(
            keyed_check(&one_stripped, &key).problem,
            at(4, ProblemKind::MacMissing)
        );
        let all_stripped = rewritten(&path, |l| l.iter_mut().for_each(strip));
        let report = keyed_check(&all_stripped, &key);
        assert_eq!((report.problem, report.keyed, report.unkeyed), (None, 0, 6));
    }

    #[test]
    fn records_from_before_the_log_was_keyed_are_counted_apart() {
        let (_dir, path, key) = keyed_log(2, 3);
        let report = verify_with_key(&path, None, Some(&key)).unwrap();
        assert_eq!(
            (report.problem, report.intact, report.keyed, report.unkeyed),
            (None, 5, 3, 2)
        );
        let text = |kind| Problem { line: 4, kind }.to_string();
        assert!(
            text(ProblemKind::MacMismatch { first: true })
                .starts_with("line 4, the first with a MAC, does not carry the MAC this key gives it: the key is not the one the log was written with")
        );
        assert!(
            text(ProblemKind::MacMismatch { first: false })
                .starts_with("line 4 was changed, or a record before it removed, and the hashes recomputed to hide it")
        );
        assert!(
            text(ProblemKind::MacMissing)
                .starts_with("line 4 carries no MAC though the lines before it do")
        );
    }

    #[test]
    fn an_intact_log_verifies_and_finds_a_kept_head() {
        let (dir, path, heads) = log_of(6);
        let report = verify(&path, None).unwrap();
        assert_eq!(report.problem, None);
        assert_eq!((report.intact, report.head.as_ref()), (6, heads.last()));
        let report = verify(&path, Some(&heads[3].hash.to_uppercase())).unwrap();
        assert_eq!((report.problem, report.given_head_line), (None, Some(4)));
        let empty = dir.path().join("empty.jsonl");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(verify(&empty, None).unwrap().intact, 0);
        let e = verify(&dir.path().join("none.jsonl"), None).unwrap_err();
        assert!(e.to_string().contains("cannot read the audit log"), "{e}");
    }

    #[test]
    fn each_kind_of_tampering_is_found_on_its_line() {
        let (_dir, path, heads) = log_of(6);
        let lines = lines_of(&path);
        let edited = |change: &dyn Fn(&mut Vec<String>)| {
            let mut copy = lines.clone();
            change(&mut copy);
            copy
        };
        let changed = edited(&|l| l[2] = l[2].replace("app-3", "app-9"));
        assert_eq!(problem(&changed, None), at(3, ProblemKind::Changed));
        let renumbered = edited(&|l| l[2] = l[2].replace(r#""seq":3"#, r#""seq":7"#));
        assert_eq!(
            problem(&renumbered, None),
            at(3, ProblemKind::Renumbered { seq: 7 })
        );
        let removed = edited(&|l| {
            l.remove(2);
        });
        assert_eq!(
            problem(&removed, None),
            at(3, ProblemKind::Removed { first: 3, last: 3 })
        );
        let two_removed = edited(&|l| {
            l.drain(2..4);
        });
        assert_eq!(
            problem(&two_removed, None),
            at(3, ProblemKind::Removed { first: 3, last: 4 })
        );
        let first_removed = edited(&|l| {
            l.remove(0);
        });
        assert_eq!(
            problem(&first_removed, None),
            at(1, ProblemKind::Removed { first: 1, last: 1 })
        );
        let copy_inserted = edited(&|l| l.insert(4, l[1].clone()));
        assert_eq!(problem(&copy_inserted, None), at(5, ProblemKind::Inserted));
        let forged = edited(&|l| {
            let forged = l[2].replace("app-3", "app-x");
            l.insert(3, forged);
        });
        assert_eq!(problem(&forged, None), at(4, ProblemKind::Inserted));
        // A forgery chained in place passes; the real record after it cannot.
        let forged_in_place = edited(&|l| {
            let forged = l[2].replace("app-3", "app-x");
            l.insert(2, forged);
        });
        assert_eq!(
            problem(&forged_in_place, None),
            at(4, ProblemKind::Repeated { seq: 3 })
        );
        let swapped = edited(&|l| l.swap(2, 3));
        assert_eq!(problem(&swapped, None), at(3, ProblemKind::Swapped));
        let last_swapped = edited(&|l| l.swap(4, 5));
        assert_eq!(problem(&last_swapped, None), at(5, ProblemKind::Swapped));
        let moved = edited(&|l| {
            let line = l.remove(1);
            l.push(line);
        });
        assert_eq!(
            problem(&moved, None),
            at(
                2,
                ProblemKind::Moved {
                    seq: 3,
                    belongs_on: 6
                }
            )
        );
        let moved_up = edited(&|l| {
            let line = l.remove(4);
            l.insert(1, line);
        });
        assert_eq!(problem(&moved_up, None), at(2, ProblemKind::Inserted));
        let foreign = edited(&|l| l[3] = "hello\n".into());
        assert!(matches!(
            problem(&foreign, None),
            Some(Problem {
                line: 4,
                kind: ProblemKind::NotARecord { .. }
            })
        ),);
        let half = edited(&|l| {
            let last = l.last_mut().unwrap();
            last.truncate(last.len() / 2);
        });
        assert_eq!(problem(&half, None), at(6, ProblemKind::HalfWritten));
        let unchained = edited(&|l| {
            l.remove(0);
            l[0] = l[0].replace(r#""seq":2"#, r#""seq":1"#);
        });
        assert_eq!(problem(&unchained, None), at(1, ProblemKind::Unchained));
        let repeated = edited(&|l| l[3] = l[1].clone());
        assert_eq!(
            problem(&repeated, None),
            at(4, ProblemKind::Repeated { seq: 2 })
        );

        // Lines cut off the end, or a changed last line, leave a whole chain: the kept head
        // tells.
        let head = heads.last().map(|h| h.hash.as_str());
        assert_eq!(problem(&lines, head), None);
        let cut = edited(&|l| {
            l.truncate(4);
        });
        assert_eq!(problem(&cut, None), None);
        let missing = ProblemKind::HeadMissing {
            head: heads[5].hash.clone(),
        };
        assert_eq!(problem(&cut, head), at(4, missing.clone()));
        let last_changed = edited(&|l| l[5] = l[5].replace("app-6", "app-0"));
        assert_eq!(problem(&last_changed, head), at(6, missing));
    }

    #[test]
    fn problems_read_as_what_happened_where() {
        let text = |line, kind| Problem { line, kind }.to_string();
        assert_eq!(
            text(3, ProblemKind::Removed { first: 3, last: 4 }),
            "records 3 to 4 are missing before line 3: they were removed"
        );
        assert_eq!(
            text(5, ProblemKind::Inserted),
            "line 5 was inserted: line 6 follows line 4 directly"
        );
        assert_eq!(
            text(
                2,
                ProblemKind::Moved {
                    seq: 3,
                    belongs_on: 6
                }
            ),
            "line 2 holds record 3, but record 2 belongs here and is on line 6: lines were reordered"
        );
        assert!(text(7, ProblemKind::HalfWritten).starts_with("line 7 is cut short"));
    }
}
