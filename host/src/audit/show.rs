//! Reading a log for people (`exorun audit show`): its lines in order, each with the record it
//! holds, and the filters that pick some of them. Reading does not check the chain; that is
//! [`super::verify`]'s job.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Take};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::AuditError;
use super::record::{Decision, Event, Record, RunId};
use super::writer::open_to_read;

/// Which records to show; every condition given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Records of this run, or of the plugin runs of this workflow run: its id or the first
    /// characters of it (any case).
    pub run: Option<String>,
    /// Records written at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Records about this plugin (its name, any case).
    pub plugin: Option<String>,
    /// Only refused calls (and requests to the service refused).
    pub denied: bool,
    /// Records of requests by this caller (principal, any case): runs they asked the service
    /// for, their calls, and their refused requests.
    pub caller: Option<String>,
}

impl Filter {
    /// Whether `record` passes.
    pub fn matches(&self, record: &Record) -> bool {
        let event = &record.event;
        let starts = |id: Option<RunId>, wanted: &str| {
            id.is_some_and(|id| {
                let id = id.to_string();
                id.len() >= wanted.len() && id[..wanted.len()].eq_ignore_ascii_case(wanted)
            })
        };
        let run = self.run.as_deref().is_none_or(|wanted| {
            starts(event.run(), wanted)
                || starts(event.workflow(), wanted)
                || event.workflow() == Some(RunId::named(wanted))
        });
        let since = self.since.is_none_or(|since| record.time >= since);
        let plugin = self.plugin.as_deref().is_none_or(|wanted| {
            event
                .plugin()
                .is_some_and(|p| p.name.eq_ignore_ascii_case(wanted))
        });
        let denied = !self.denied
            || matches!(event, Event::Call(call) if call.decision == Decision::Denied)
            || matches!(event, Event::Refused(_));
        let caller = self.caller.as_deref().is_none_or(|wanted| {
            event
                .caller()
                .is_some_and(|c| c.eq_ignore_ascii_case(wanted))
        });
        run && since && plugin && denied && caller
    }
}

/// One line of a log.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Its number, from 1.
    pub line: u64,
    /// Its text as written (without the newline).
    pub text: String,
    /// The record it holds, or why it holds none.
    pub record: Result<Record, String>,
}

/// The lines of the log at `path`, in order, up to its end when they are asked for.
pub fn entries(path: &Path) -> Result<Entries, AuditError> {
    Ok(Entries {
        path: path.to_path_buf(),
        reader: BufReader::new(open_to_read(path)?),
        line: 0,
    })
}

/// The lines of a log, read one at a time (see [`entries`]).
pub struct Entries {
    path: PathBuf,
    reader: BufReader<Take<File>>,
    line: u64,
}

impl Iterator for Entries {
    type Item = Result<Entry, AuditError>;

    fn next(&mut self) -> Option<Result<Entry, AuditError>> {
        let mut text = String::new();
        match self.reader.read_line(&mut text) {
            Ok(0) => None,
            Ok(_) => {
                self.line += 1;
                if text.ends_with('\n') {
                    text.pop();
                }
                let record = serde_json::from_str(&text).map_err(|e| e.to_string());
                Some(Ok(Entry {
                    line: self.line,
                    text,
                    record,
                }))
            }
            Err(e) => Some(Err(self.error(e))),
        }
    }
}

impl Entries {
    fn error(&self, error: io::Error) -> AuditError {
        AuditError::Read {
            path: self.path.clone(),
            io: Arc::new(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use serde_json::Map;

    use super::*;
    use crate::audit::record::{Call, CallContext, PluginRef, RunId};
    use crate::audit::testkit::{log_of, token_event};

    fn record(event: Event) -> Record {
        Record {
            seq: 1,
            prev: None,
            time: Utc::now(),
            event,
            mac: None,
        }
    }

    #[test]
    fn filters_pick_by_run_time_plugin_and_refusal() {
        let (run, workflow) = (RunId::new(), RunId::new());
        let context = CallContext {
            run: Some(run),
            workflow: Some(workflow),
            plugin: Some(PluginRef {
                name: "auto-reply".into(),
                ..PluginRef::default()
            }),
            ..CallContext::default()
        };
        let allowed = record(Event::Call(Call::new(&context, "Get-Mailbox", &Map::new())));
        let mut refused = Call::new(&context, "Set-Mailbox", &Map::new());
        refused.decision = Decision::Denied;
        let refused = record(Event::Call(refused));
        let token = record(token_event(1));

        let all = Filter::default();
        assert!(all.matches(&allowed) && all.matches(&token));
        let by_run = Filter {
            run: Some(run.to_string()[..8].to_uppercase()),
            ..Filter::default()
        };
        assert!(by_run.matches(&allowed) && !by_run.matches(&token));
        let by_workflow = Filter {
            run: Some(workflow.to_string()),
            ..Filter::default()
        };
        assert!(
            by_workflow.matches(&allowed),
            "a workflow's id picks its plugin runs' records"
        );
        let other_run = Filter {
            run: Some(RunId::new().to_string()),
            ..Filter::default()
        };
        assert!(!other_run.matches(&allowed));
        let by_plugin = Filter {
            plugin: Some("Auto-Reply".into()),
            ..Filter::default()
        };
        assert!(by_plugin.matches(&refused) && !by_plugin.matches(&token));
        let denied = Filter {
            denied: true,
            ..Filter::default()
        };
        assert!(denied.matches(&refused) && !denied.matches(&allowed));
        let later = Filter {
            since: Some(Utc::now() + Duration::minutes(1)),
            ..Filter::default()
        };
        assert!(!later.matches(&allowed));
    }

    #[test]
    fn entries_are_the_lines_with_their_records() {
        let (_dir, path, _) = log_of(3);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("not a record\n");
        std::fs::write(&path, &text).unwrap();
        let entries: Vec<Entry> = entries(&path).unwrap().map(Result::unwrap).collect();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[1].line, 2);
        assert_eq!(entries[1].record.as_ref().unwrap().seq, 2);
        assert_eq!(entries[0].text, text.lines().next().unwrap());
        assert!(entries[3].record.is_err());
    }
}
