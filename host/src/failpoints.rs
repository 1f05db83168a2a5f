//! Kill points: named places where the state a run leaves on disk is at risk, at which a test
//! build can make the process kill itself with SIGKILL — no destructor runs, no buffer is
//! flushed: exactly a `kill -9`, at a chosen moment rather than after a sleep. The kill suite
//! (`tests/all/kills.rs`) drives them.
//!
//! A point is one line, `kill_point!("name")`. Only a build with the `failpoints` feature has
//! them (the tests, and so the benchmarks, turn it on); in any other build the line is empty.
//! They are set from the `FAIL_POINTS` environment variable when the process starts
//! ([`setup`]), in the syntax of the `fail` crate: `name=2*off->return` is "do nothing the first
//! two times, kill at the third"; `return` is the kill; several points are separated by `;`.
//! Until a point is set, passing one costs one relaxed atomic load ([`armed`]), so benchmarks
//! built with the feature measure what a release build does. RELIABILITY.md lists the points.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether any kill point was set: until then a point does not even look in `fail`'s registry
/// (a lock every thread would share).
static ARMED: AtomicBool = AtomicBool::new(false);

/// A `FAIL_POINTS` entry that could not be set.
#[derive(Debug, thiserror::Error)]
#[error(
    "FAIL_POINTS: cannot set the kill point '{point}' to '{actions}': {reason}\nfix: write NAME=ACTIONS entries separated by ';', e.g. FAIL_POINTS='audit-appended=2*off->return' (kill at the third hit)"
)]
pub struct KillPointError {
    /// The point's name as given.
    pub point: String,
    /// The actions as given.
    pub actions: String,
    /// What the `fail` crate said.
    pub reason: String,
}

/// Sets the kill points the `FAIL_POINTS` environment variable names (nothing when it is
/// unset or empty).
pub fn setup() -> Result<(), KillPointError> {
    let Some(config) = std::env::var_os("FAIL_POINTS") else {
        return Ok(());
    };
    setup_from(&config.to_string_lossy())
}

/// Sets the kill points `config` names (`NAME=ACTIONS;…`).
fn setup_from(config: &str) -> Result<(), KillPointError> {
    for entry in config.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (point, actions) = entry.split_once('=').unwrap_or((entry, ""));
        let refused = |reason: String| KillPointError {
            point: point.trim().to_string(),
            actions: actions.trim().to_string(),
            reason,
        };
        if actions.trim().is_empty() {
            return Err(refused("no actions".into()));
        }
        fail::cfg(point.trim(), actions.trim()).map_err(refused)?;
        ARMED.store(true, Ordering::Relaxed);
    }
    Ok(())
}

/// Whether a kill point was set; [`kill_point!`](crate::kill_point) asks before anything else.
#[doc(hidden)]
pub fn armed() -> bool {
    ARMED.load(Ordering::Relaxed)
}

/// Kills this process with SIGKILL, at once: what a point's `return` action does.
pub fn kill() -> ! {
    // A SIGKILL sent to oneself is acted on before the call returns to this thread; the loop
    // only satisfies the type (and would hold this thread if the signal were somehow late).
    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_set_and_a_bad_one_is_named_with_the_fix() {
        assert!(!armed(), "nothing set yet");
        setup_from("unit-test-point=3*off->return; ").unwrap();
        assert!(armed());
        assert!(
            fail::list().contains(&("unit-test-point".into(), "3*off->return".into())),
            "{:?}",
            fail::list()
        );
        let e = setup_from("unit-test-other=often").unwrap_err();
        assert_eq!(
            (e.point.as_str(), e.actions.as_str()),
            ("unit-test-other", "often")
        );
        assert!(e.to_string().contains("fix: write NAME=ACTIONS"), "{e}");
        let e = setup_from("unit-test-bare").unwrap_err();
        assert_eq!(e.reason, "no actions");
    }
}
