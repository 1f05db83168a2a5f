//! [`Failures`]: the units of a plugin's work that failed, written into its summary as the
//! contract's standard `failed` and `errors` fields, so the host counts them (`wit/plugin.wit`,
//! `run`).

use std::fmt::Display;

use serde::Serialize;

/// Most error texts a summary carries; the count goes on past them.
pub const MAX_ERRORS: usize = 100;

/// The units of work (mailboxes, members, grants...) a run tried and failed, for a plugin that
/// goes on past a failed unit instead of failing the whole run.
///
/// Put it in the summary with `#[serde(flatten)]`: it writes the standard fields the host reads,
/// `"failed": <count>` and, when there are any, `"errors": ["<unit>: <why>", ...]`. The host
/// then counts the run as failed work whatever `run` returned: `exorun run` exits non-zero, a
/// workflow item fails (so `on_error` retries it and `workflow resume` runs it again).
///
/// ```
/// use exorun_plugin::Failures;
/// use serde::Serialize;
///
/// #[derive(Serialize)]
/// struct Summary {
///     updated: u64,
///     #[serde(flatten)]
///     failures: Failures,
/// }
///
/// let mut summary = Summary { updated: 1, failures: Failures::new() };
/// summary.failures.add("ann@contoso.com", "transport: the connection was cut");
/// assert_eq!(
///     serde_json::to_string(&summary).unwrap(),
///     r#"{"updated":1,"failed":1,"errors":["ann@contoso.com: transport: the connection was cut"]}"#
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Failures {
    failed: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
}

impl Failures {
    /// No failure yet.
    pub fn new() -> Failures {
        Failures::default()
    }

    /// Counts one failed `unit` (what an admin would name it: the mailbox, the member) and
    /// keeps why (`"<unit>: <error>"`), up to [`MAX_ERRORS`] texts.
    pub fn add(&mut self, unit: impl Display, error: impl Display) {
        self.failed += 1;
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(format!("{unit}: {error}"));
        }
    }

    /// How many units failed.
    pub fn count(&self) -> u64 {
        self.failed
    }

    /// Whether no unit failed.
    pub fn is_empty(&self) -> bool {
        self.failed == 0
    }

    /// The texts kept, in the order the units failed.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Summary {
        checked: u64,
        #[serde(flatten)]
        failures: Failures,
    }

    #[test]
    fn no_failure_writes_a_zero_count() {
        let summary = Summary {
            checked: 3,
            failures: Failures::new(),
        };
        assert!(summary.failures.is_empty());
        assert_eq!(
            serde_json::to_string(&summary).unwrap(),
            r#"{"checked":3,"failed":0}"#
        );
    }

    #[test]
    fn the_count_goes_on_past_the_texts_kept() {
        let mut failures = Failures::new();
        for i in 0..MAX_ERRORS + 5 {
            failures.add(format!("m{i}"), "service: boom");
        }
        assert_eq!(failures.count(), MAX_ERRORS as u64 + 5);
        assert_eq!(failures.errors().len(), MAX_ERRORS);
        assert_eq!(failures.errors()[0], "m0: service: boom");
        let json = serde_json::to_value(&failures).unwrap();
        assert_eq!(json["failed"], MAX_ERRORS + 5);
    }
}
