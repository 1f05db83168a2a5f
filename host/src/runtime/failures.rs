//! The work a plugin says failed: the standard `failed` and `errors` fields of its summary
//! (`wit/plugin.wit`, `run`). A plugin that handles many units of work (mailboxes, members...)
//! and goes on past one that fails returns success with `"failed": <count>` (and, optionally,
//! `"errors": ["<what>: <why>", ...]`); the host counts the run as failed work, never as success.

/// How many of a run's units of work its plugin says failed, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Failures {
    /// Units that failed (the summary's `failed`); 0 when it has none.
    pub failed: u64,
    /// What the plugin said about them (the summary's `errors`), at most `failed` of them.
    pub errors: Vec<String>,
}

/// How many of the plugin's errors a one-line description shows.
const ERRORS_SHOWN: usize = 3;

/// Why a summary's failure fields cannot be read: the run is not reported as success.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SummaryError {
    /// `failed` is not a whole number ≥ 0.
    #[error("its summary's \"failed\" is {found}, not a whole number of failed units ≥ 0")]
    Failed {
        /// The value found, as JSON.
        found: String,
    },
    /// `errors` is not a list of text.
    #[error("its summary's \"errors\" is {found}, not a list of text")]
    Errors {
        /// The value found, as JSON (cut short).
        found: String,
    },
    /// More `errors` than `failed` units, or `errors` without `failed`.
    #[error(
        "its summary lists {errors} error(s) in \"errors\" but says \"failed\": {failed}: each error is one failed unit"
    )]
    Count {
        /// The summary's `failed` (0 when missing).
        failed: u64,
        /// How many errors it lists.
        errors: usize,
    },
}

impl Failures {
    /// Reads the failure fields of a plugin's summary (JSON text). A summary that is not a
    /// JSON object, or has neither field, reports no failure (what every plugin written before
    /// the fields existed returns).
    pub fn of_summary(summary: &str) -> Result<Failures, SummaryError> {
        let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(summary) else {
            return Ok(Failures::default());
        };
        let failed = match fields.get("failed") {
            None => 0,
            Some(value) => value.as_u64().ok_or_else(|| SummaryError::Failed {
                found: shown(value),
            })?,
        };
        let errors = match fields.get("errors") {
            None => Vec::new(),
            Some(serde_json::Value::Array(list)) => list
                .iter()
                .map(|e| e.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| SummaryError::Errors {
                    found: shown(&fields["errors"]),
                })?,
            Some(other) => {
                return Err(SummaryError::Errors {
                    found: shown(other),
                });
            }
        };
        if errors.len() as u64 > failed {
            return Err(SummaryError::Count {
                failed,
                errors: errors.len(),
            });
        }
        Ok(Failures { failed, errors })
    }

    /// Whether any unit failed.
    pub fn any(&self) -> bool {
        self.failed > 0
    }
}

/// "2 units of its work failed: ann@contoso.com: transport: …; bob@…: …", the first few errors.
impl std::fmt::Display for Failures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let units = if self.failed == 1 { "unit" } else { "units" };
        write!(f, "{} {units} of its work failed", self.failed)?;
        if let Some((first, rest)) = self.errors.split_first() {
            write!(f, ": {}", one_line(first))?;
            for error in rest.iter().take(ERRORS_SHOWN - 1) {
                write!(f, "; {}", one_line(error))?;
            }
        }
        let unsaid = self.failed - self.errors.len().min(ERRORS_SHOWN) as u64;
        if unsaid > 0 && !self.errors.is_empty() {
            write!(f, " (and {unsaid} more)")?;
        }
        Ok(())
    }
}

/// `error` on one line (a log line per run, as cron keeps it): each line break and the
/// indent after it become one space.
fn one_line(error: &str) -> String {
    error
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A summary value as the message shows it: JSON, cut to 60 characters.
fn shown(value: &serde_json::Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_without_the_fields_reports_no_failure() {
        for summary in [r#"{"mailboxes": 3}"#, "[1, 2]", "42", "not json", ""] {
            assert_eq!(Failures::of_summary(summary), Ok(Failures::default()));
        }
        assert!(!Failures::default().any());
    }

    #[test]
    fn failed_and_errors_are_read() {
        let f = Failures::of_summary(
            r#"{"total": 4, "failed": 2, "errors": ["ann: transport: cut", "bob: service: 500"]}"#,
        )
        .unwrap();
        assert_eq!(f.failed, 2);
        assert!(f.any());
        assert_eq!(
            f.to_string(),
            "2 units of its work failed: ann: transport: cut; bob: service: 500"
        );
        let f = Failures {
            failed: 2,
            errors: vec!["ann: transport: cut\n  fix: check the network".into()],
        };
        assert_eq!(
            f.to_string(),
            "2 units of its work failed: ann: transport: cut fix: check the network (and 1 more)"
        );
        let f = Failures::of_summary(r#"{"failed": 1}"#).unwrap();
        assert_eq!(f.to_string(), "1 unit of its work failed");
        let f = Failures::of_summary(r#"{"failed": 0, "errors": []}"#).unwrap();
        assert!(!f.any());
        let errors: Vec<String> = (1..=5).map(|i| format!("m{i}: x")).collect();
        let f = Failures { failed: 9, errors };
        assert_eq!(
            f.to_string(),
            "9 units of its work failed: m1: x; m2: x; m3: x (and 6 more)"
        );
    }

    #[test]
    fn a_malformed_field_is_an_error_not_success() {
        let e = |s: &str| Failures::of_summary(s).unwrap_err().to_string();
        assert_eq!(
            e(r#"{"failed": "2"}"#),
            r#"its summary's "failed" is "2", not a whole number of failed units ≥ 0"#
        );
        assert!(e(r#"{"failed": -1}"#).contains("is -1,"));
        assert!(e(r#"{"failed": 1.5}"#).contains("is 1.5,"));
        assert!(e(r#"{"failed": null}"#).contains("is null,"));
        assert_eq!(
            e(r#"{"failed": 1, "errors": "boom"}"#),
            r#"its summary's "errors" is "boom", not a list of text"#
        );
        assert!(e(r#"{"failed": 1, "errors": [3]}"#).contains("is [3], not a list of text"));
        assert_eq!(
            e(r#"{"errors": ["ann: cut"]}"#),
            r#"its summary lists 1 error(s) in "errors" but says "failed": 0: each error is one failed unit"#
        );
        assert!(
            e(&format!(r#"{{"failed": "{}"}}"#, "x".repeat(100)))
                .ends_with("…, not a whole number of failed units ≥ 0")
        );
    }
}
