//! What can go wrong loading a plugin or running it, and how a failed run is told apart: out of
//! time, out of memory, out of fuel, crashed (with the plugin's panic message), or refused by the
//! plugin itself.

use std::path::PathBuf;
use std::time::Duration;

use wasmtime::Trap;

use super::imports::checkpoint::CheckpointUnreadable;
use crate::plugin::artifact::ArtifactError;
use crate::plugin::input::InputProblem;

/// Why a plugin could not be loaded or the runtime set up.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The artifact file could not be read.
    #[error("cannot read the plugin {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The artifact is not a component with a valid manifest.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// wasmtime refused the component.
    #[error(
        "plugin {plugin} is not a valid WebAssembly component: {message}\n  fix: rebuild it for wasm32-wasip2 against wit/plugin.wit"
    )]
    Compile {
        /// The plugin's name.
        plugin: String,
        /// wasmtime's reason.
        message: String,
    },
    /// The component imports something the host does not provide (or with another type).
    #[error(
        "plugin {plugin} cannot be linked: {message}\n  fix: build it against the exorun:plugin world this host provides (wit/plugin.wit)"
    )]
    Link {
        /// The plugin's name.
        plugin: String,
        /// wasmtime's reason.
        message: String,
    },
    /// The artifact file changed after it was loaded (it is read again to compile it for the
    /// fuel-metering engine).
    #[error(
        "the plugin file {origin} changed since it was loaded (digest {expected} expected)\n  fix: load it again"
    )]
    Changed {
        /// The file.
        origin: String,
        /// The digest it had when loaded.
        expected: String,
    },
    /// The engine, its linker or its ticker could not be set up.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
}

impl RuntimeError {
    pub(crate) fn engine(error: wasmtime::Error) -> RuntimeError {
        RuntimeError::Engine(format!("{error:#}"))
    }
}

/// Why a run ended without a result. The run's store is thrown away; the host and other runs
/// are not affected.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The input is not JSON.
    #[error("the plugin's input is not JSON: {0}")]
    Input(String),
    /// The input does not match the JSON Schema the plugin's manifest declares; the plugin was
    /// not started.
    #[error(
        "the input does not match what plugin {plugin} takes: {}\n  fix: correct the input; `exorun plugin inspect` shows the schema it must follow",
        problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    InputSchema {
        /// The plugin's name.
        plugin: String,
        /// Each field that is wrong, and how (the first few).
        problems: Vec<InputProblem>,
    },
    /// A `--config` key the plugin's manifest does not declare.
    #[error("{0}")]
    Config(String),
    /// The run hit its wall-clock limit.
    #[error(
        "the plugin ran out of time: it was stopped after {after:?}\n  fix: raise the time limit (limits.timeout_secs in its manifest, or the operator's limit) if the work is legitimately long"
    )]
    Timeout {
        /// The limit.
        after: Duration,
    },
    /// The plugin asked for more linear memory than its limit.
    #[error(
        "the plugin needed more than its memory limit of {} MiB and was stopped\n  fix: raise limits.memory_mb in its manifest if the work legitimately needs more",
        limit / (1024 * 1024)
    )]
    MemoryLimit {
        /// The limit, bytes.
        limit: u64,
    },
    /// The run used up its fuel.
    #[error("the plugin used up its fuel and was stopped\n  fix: give the run more fuel")]
    OutOfFuel,
    /// The plugin crashed (a panic, an `unreachable`, a bad memory access...).
    #[error("the plugin crashed: {message}")]
    Trapped {
        /// The plugin's panic message when it printed one, else the trap.
        message: String,
    },
    /// The plugin's `run` returned an error.
    #[error("the plugin failed: {0}")]
    Plugin(String),
    /// The plugin returned a summary whose `failed` or `errors` field is malformed: its
    /// failed work cannot be counted, so the run is not taken for a success.
    #[error(
        "plugin {plugin} returned a summary exorun cannot read: {problem}; its failed work cannot be counted, so the run is not reported as a success\n  fix: the plugin's author must write \"failed\" as the count of failed units and \"errors\" as a list of text (the Rust SDK's exorun_plugin::Failures writes both; see wit/plugin.wit)"
    )]
    Summary {
        /// The plugin's name.
        plugin: String,
        /// What is wrong with the summary.
        problem: super::failures::SummaryError,
    },
    /// The run's record sink failed (disk full, closed pipe...), so the run was stopped.
    #[error("writing the plugin's records failed: {0}")]
    Output(#[source] std::io::Error),
    /// The run's checkpoint could not be read, so the run was stopped rather than redo work.
    #[error("{0}\n  fix: check the checkpoint directory's permissions and disk")]
    Checkpoint(String),
    /// The plugin could not be started (too many runs for the pool, a failing start function...).
    #[error("the plugin could not be started: {0}")]
    Instantiate(String),
    /// The plugin could not be prepared for a fuel-metered run.
    #[error(transparent)]
    Load(#[from] RuntimeError),
    /// The audit log could not be written, so the run was not started or was stopped.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// The host itself failed while serving the plugin: a bug in exorun.
    #[error("exorun failed while running the plugin (please report this bug): {0}")]
    Host(String),
}

/// The host stopped a run because its wall-clock deadline passed while the host was waiting
/// (on Exchange), where epochs cannot interrupt it.
#[derive(Debug, thiserror::Error)]
#[error("the run's time limit passed while the host was waiting for Exchange Online")]
pub(crate) struct DeadlineReached;

/// The run's record sink failed; the run stops rather than lose records silently.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct OutputFailed(pub(crate) std::io::Error);

/// What a run's store knew when its call failed, to tell the failures apart.
pub(crate) struct Failure<'a> {
    /// The error wasmtime returned.
    pub(crate) error: wasmtime::Error,
    /// Whether the memory limiter refused to grow a memory.
    pub(crate) memory_refused: bool,
    /// The run's memory limit, bytes.
    pub(crate) memory_limit: u64,
    /// The run's time limit.
    pub(crate) timeout: Duration,
    /// What the plugin printed.
    pub(crate) captured: &'a str,
}

impl RunError {
    /// Whether the plugin was refused before it started (its input or config did not fit), so
    /// it did nothing at all: a person is told it was not run rather than that it failed.
    pub fn before_start(&self) -> bool {
        matches!(
            self,
            RunError::Input(_) | RunError::InputSchema { .. } | RunError::Config(_)
        )
    }
}

impl From<Failure<'_>> for RunError {
    fn from(failure: Failure<'_>) -> RunError {
        let error = match failure.error.downcast::<OutputFailed>() {
            Ok(OutputFailed(e)) => return RunError::Output(e),
            Err(error) => error,
        };
        let error = &error;
        if error.is::<DeadlineReached>() {
            return RunError::Timeout {
                after: failure.timeout,
            };
        }
        if let Some(e) = error.downcast_ref::<CheckpointUnreadable>() {
            return RunError::Checkpoint(e.to_string());
        }
        // A refused grow is not a `Trap` (docs/runtime.md, pitfall 9): the limiter remembers it.
        if failure.memory_refused {
            return RunError::MemoryLimit {
                limit: failure.memory_limit,
            };
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => RunError::OutOfFuel,
            Some(Trap::Interrupt) => RunError::Timeout {
                after: failure.timeout,
            },
            Some(trap) => RunError::Trapped {
                message: panic_message(failure.captured).unwrap_or_else(|| trap.to_string()),
            },
            None => RunError::Trapped {
                message: error.root_cause().to_string(),
            },
        }
    }
}

/// The message of a Rust panic in what a plugin printed: the lines after
/// `thread '…' panicked at <file:line:col>:` up to the `note:` line.
pub(crate) fn panic_message(captured: &str) -> Option<String> {
    let start = captured.rfind("panicked at ")?;
    let after = &captured[start..];
    let (location, rest) = after.split_once('\n')?;
    let message: Vec<&str> = rest
        .lines()
        .take_while(|l| !l.starts_with("note: ") && !l.starts_with("stack backtrace:"))
        .collect();
    let location = location
        .trim_start_matches("panicked at ")
        .trim_end_matches(':');
    Some(format!(
        "panicked at {location}: {}",
        message.join("\n").trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(error: wasmtime::Error, memory_refused: bool, captured: &str) -> RunError {
        RunError::from(Failure {
            error,
            memory_refused,
            memory_limit: 64 << 20,
            timeout: Duration::from_secs(2),
            captured,
        })
    }

    #[test]
    fn finds_the_panic_message() {
        let stderr = "hello\nthread '<unnamed>' panicked at src/lib.rs:63:24:\nboom from the guest\nsecond line\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            panic_message(stderr).unwrap(),
            "panicked at src/lib.rs:63:24: boom from the guest\nsecond line"
        );
        assert_eq!(panic_message("nothing here"), None);
    }

    #[test]
    fn tells_failures_apart() {
        let panic = "thread '<unnamed>' panicked at src/lib.rs:1:1:\nboom\n";
        let trap = || wasmtime::Error::new(Trap::UnreachableCodeReached);
        assert!(matches!(
            failure(trap(), false, panic),
            RunError::Trapped { message } if message == "panicked at src/lib.rs:1:1: boom"
        ));
        assert!(matches!(
            failure(trap(), false, ""),
            RunError::Trapped { message } if message.contains("unreachable")
        ));
        assert!(matches!(
            failure(trap(), true, ""),
            RunError::MemoryLimit { limit } if limit == 64 << 20
        ));
        assert!(matches!(
            failure(wasmtime::Error::new(Trap::OutOfFuel), false, ""),
            RunError::OutOfFuel
        ));
        assert!(matches!(
            failure(wasmtime::Error::new(Trap::Interrupt), false, ""),
            RunError::Timeout { after } if after == Duration::from_secs(2)
        ));
        assert!(matches!(
            failure(
                wasmtime::Error::new(DeadlineReached).context("in exchange.invoke"),
                false,
                ""
            ),
            RunError::Timeout { .. }
        ));
        let broken = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "closed pipe");
        assert!(matches!(
            failure(wasmtime::Error::new(OutputFailed(broken)), false, ""),
            RunError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe
        ));
        assert!(matches!(
            failure(wasmtime::format_err!("too many queries").context("outer"), false, ""),
            RunError::Trapped { message } if message == "too many queries"
        ));
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = RunError::MemoryLimit { limit: 64 << 20 };
        assert!(e.to_string().contains("memory limit of 64 MiB"), "{e}");
        assert!(e.to_string().contains("limits.memory_mb"), "{e}");
        let e = RunError::Timeout {
            after: Duration::from_secs(3),
        };
        assert!(e.to_string().contains("stopped after 3s"), "{e}");
    }
}
