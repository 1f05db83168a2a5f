//! `echo`: hands its input's `value` back in its summary and emits the `records` it is given;
//! with `fail` it fails with that message, and it reports each of `failed_units` as a unit of its
//! work that failed (the contract's `failed`/`errors`), as a plugin that goes on past a failed
//! mailbox does. It asks for no cmdlet: the smallest step there is,
//! for trying workflows out (data passing, fan-out, `on_error`) and for measuring what the host
//! adds to each step.

use exorun_plugin::{Failures, emit};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What to hand back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    #[serde(default)]
    value: Value,
    #[serde(default)]
    records: Vec<Map<String, Value>>,
    #[serde(default)]
    fail: Option<String>,
    #[serde(default)]
    failed_units: Vec<String>,
}

/// The run's summary.
#[derive(Serialize)]
struct Summary {
    /// The input's value.
    value: Value,
    /// Records emitted.
    records: usize,
    /// `failed_units`, reported as failed.
    #[serde(flatten)]
    failures: Failures,
}

fn run(input: Input) -> Result<Summary, String> {
    for record in &input.records {
        emit(record).map_err(|e| e.to_string())?;
    }
    if let Some(message) = input.fail {
        return Err(message);
    }
    let mut failures = Failures::new();
    for unit in &input.failed_units {
        failures.add(unit, "failed, as the input asked");
    }
    Ok(Summary {
        value: input.value,
        records: input.records.len(),
        failures,
    })
}

exorun_plugin::export_plugin!(run);
