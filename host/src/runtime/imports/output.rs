//! `output`: a plugin's result records, one JSON object at a time, streamed to the run's
//! [`RecordSink`] (JSON Lines, a table, CSV...) as they come, so a run over a million mailboxes
//! never holds them all.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use wasmtime::component::{HasSelf, Linker};

use crate::exchange::Rehearsal;
use crate::runtime::bindings::exorun::plugin::output;
use crate::runtime::error::OutputFailed;
use crate::runtime::state::RunState;

/// One result record: a JSON object.
pub type Record = serde_json::Map<String, Value>;

/// Where a run's records go. A failing sink stops the run (records are never lost silently).
pub trait RecordSink: Send + Sync {
    /// Takes one record.
    fn emit(&self, record: Record) -> io::Result<()>;

    /// Takes a change the run's dry run recorded instead of sending (the audit log has it
    /// too), e.g. to show it or to add it to a plan. By default, nothing.
    fn rehearsed(&self, change: &Rehearsal) {
        let _ = change;
    }

    /// Writes out what is buffered. Called before each checkpoint is saved, so a saved cursor
    /// never gets ahead of the records written; may be called any number of times.
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }

    /// Called once when the run ends, whatever the outcome: completes the output (a closing
    /// bracket, say) and writes it out. By default, [`RecordSink::flush`].
    fn finish(&self) -> io::Result<()> {
        self.flush()
    }
}

/// Writes each record as one line of JSON (JSON Lines) to a writer.
pub struct JsonLinesSink {
    out: Mutex<Box<dyn Write + Send>>,
}

impl JsonLinesSink {
    /// Records to `out` (wrap files and stdout in a `BufWriter`: the sink flushes at the end).
    pub fn new(out: impl Write + Send + 'static) -> JsonLinesSink {
        JsonLinesSink {
            out: Mutex::new(Box::new(out)),
        }
    }
}

impl RecordSink for JsonLinesSink {
    fn emit(&self, record: Record) -> io::Result<()> {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        serde_json::to_writer(&mut *out, &record)?;
        out.write_all(b"\n")
    }

    fn flush(&self) -> io::Result<()> {
        self.out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush()
    }
}

/// Keeps records in memory (tests, small runs).
#[derive(Default)]
pub struct VecSink {
    records: Mutex<Vec<Record>>,
    rehearsals: Mutex<Vec<Rehearsal>>,
}

impl VecSink {
    /// An empty sink.
    pub fn new() -> VecSink {
        VecSink::default()
    }

    /// The records so far, oldest first.
    pub fn records(&self) -> Vec<Record> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The changes a dry run rehearsed so far, oldest first.
    pub fn rehearsals(&self) -> Vec<Rehearsal> {
        self.rehearsals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl RecordSink for VecSink {
    fn emit(&self, record: Record) -> io::Result<()> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
        Ok(())
    }

    fn rehearsed(&self, change: &Rehearsal) {
        self.rehearsals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(change.clone());
    }
}

/// The `output` interface of one run.
pub(crate) struct OutputHost {
    sink: Arc<dyn RecordSink>,
    /// Records emitted.
    pub(crate) records: u64,
}

impl OutputHost {
    /// Records to `sink`.
    pub(crate) fn new(sink: Arc<dyn RecordSink>) -> OutputHost {
        OutputHost { sink, records: 0 }
    }
}

pub(super) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    output::add_to_linker::<RunState, HasSelf<OutputHost>>(linker, |state| &mut state.output)
}

impl output::Host for OutputHost {
    fn emit(&mut self, record: String) -> wasmtime::Result<Result<(), String>> {
        let record = match serde_json::from_str::<Value>(&record) {
            Ok(Value::Object(record)) => record,
            Ok(_) => {
                return Ok(Err(
                    "a record must be a JSON object, like {\"Name\": \"Ann\"}".into(),
                ));
            }
            Err(e) => return Ok(Err(format!("the record is not JSON: {e}"))),
        };
        self.sink
            .emit(record)
            .map_err(|e| wasmtime::Error::new(OutputFailed(e)))?;
        self.records += 1;
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use output::Host as _;

    use super::*;

    /// A writer whose bytes can be read after it is given away.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct Broken;

    impl RecordSink for Broken {
        fn emit(&self, _: Record) -> io::Result<()> {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed pipe"))
        }
    }

    #[test]
    fn only_objects_are_records() {
        let sink = Arc::new(VecSink::new());
        let mut host = OutputHost::new(sink.clone());
        assert!(host.emit(r#"{"Name":"Ann"}"#.into()).unwrap().is_ok());
        let e = host.emit("[1,2]".into()).unwrap().unwrap_err();
        assert!(e.contains("must be a JSON object"), "{e}");
        let e = host.emit("{nope".into()).unwrap().unwrap_err();
        assert!(e.contains("not JSON"), "{e}");
        assert_eq!(host.records, 1);
        assert_eq!(sink.records()[0]["Name"], "Ann");
    }

    #[test]
    fn a_failing_sink_stops_the_run() {
        let mut host = OutputHost::new(Arc::new(Broken));
        let error = host.emit("{}".into()).unwrap_err();
        assert!(error.is::<OutputFailed>());
    }

    #[test]
    fn json_lines_are_one_compact_object_per_line() {
        let out = Shared::default();
        let sink = JsonLinesSink::new(out.clone());
        let mut host = OutputHost::new(Arc::new(sink));
        host.emit("{\n  \"a\": 1\n}".into()).unwrap().unwrap();
        host.emit(r#"{"b":"x"}"#.into()).unwrap().unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"b\":\"x\"}\n");
    }
}
