//! The `exorun-sim` binary as scripts start it: flags in, one JSON ready line out.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A running `exorun-sim` process, killed when dropped.
pub struct SimProcess {
    child: Child,
    /// The parsed ready line.
    pub ready: Value,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with `args` and waits for its ready line.
pub fn spawn(args: &[&str]) -> SimProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_exorun-sim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("exorun-sim starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("ready line is JSON ({e}): {line:?}"));
    SimProcess { child, ready }
}

/// Runs the binary to completion (for commands that fail or print help).
pub fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_exorun-sim"))
        .args(args)
        .output()
        .expect("exorun-sim runs")
}

/// Path argument as text.
pub fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}
