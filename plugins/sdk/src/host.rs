//! The run's other services: progress, output records, operator configuration and the resume
//! checkpoint.

use serde::Serialize;

use crate::bindings::exorun::plugin::{
    checkpoint as wit_checkpoint, config as wit_config, output, progress as wit_progress,
};
use crate::error::PluginError;

/// Reports `done` of `total` units of work (`total` 0 when unknown) with a short message, shown
/// to the operator.
pub fn progress(done: u64, total: u64, message: &str) {
    wit_progress::report(done, total, message);
}

/// `record` as the JSON object text the run's sink takes.
pub(crate) fn encode_record<R: Serialize + ?Sized>(record: &R) -> Result<String, PluginError> {
    let text = serde_json::to_string(record)
        .map_err(|e| PluginError::new(format!("a result record cannot be written as JSON: {e}")))?;
    if text.starts_with('{') {
        Ok(text)
    } else {
        Err(PluginError::new(format!(
            "a result record must be a JSON object (a struct or a map), not {text}"
        )))
    }
}

/// Emits one result record (anything that serializes to a JSON object) to the run's sink:
/// a table, CSV or JSON Lines, as the operator chose.
pub fn emit<R: Serialize + ?Sized>(record: &R) -> Result<(), PluginError> {
    let text = encode_record(record)?;
    output::emit(&text)
        .map_err(|e| PluginError::new(format!("the run's output refused a record: {e}")))
}

/// The value the operator set for `key` (`--config key=value`), if any. Declare each key in the
/// manifest (`[[config]]` with `key` and `description`): the host refuses undeclared ones. Not
/// for secrets: the host keeps those.
pub fn config(key: &str) -> Option<String> {
    wit_config::get(key)
}

/// An opaque cursor the host keeps, so a long run can resume where it stopped.
pub mod checkpoint {
    use super::{PluginError, wit_checkpoint};

    /// Saves `cursor`, replacing any earlier one; the records emitted so far are written out
    /// first. Save after each unit of work (a page, say) with what a rerun needs to skip it.
    pub fn save(cursor: &str) -> Result<(), PluginError> {
        wit_checkpoint::save(cursor)
            .map_err(|e| PluginError::new(format!("the checkpoint was not saved: {e}")))
    }

    /// The cursor an earlier, unfinished run of the same work saved, if any.
    pub fn restore() -> Option<String> {
        wit_checkpoint::restore()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_json_objects() {
        assert_eq!(
            encode_record(&serde_json::json!({"a": 1})).unwrap(),
            r#"{"a":1}"#
        );
        let e = encode_record(&[1, 2]).unwrap_err();
        assert!(e.message().contains("must be a JSON object"), "{e}");
        assert!(encode_record("text").is_err());
    }
}
