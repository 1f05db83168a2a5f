//! What a run's report says, as the engine fills it in: the run, and per tenant per step how
//! its items went, what failed, what it output and, in a dry run, what it would have changed.
//! Records are not here: a step's records are aggregated as they stream past, by
//! [`Chart`](super::Chart)s.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One workflow run, for its report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The workflow's name.
    pub workflow: String,
    /// The workflow's description, if it has one.
    pub description: Option<String>,
    /// The run's id.
    pub run_id: String,
    /// When it started.
    pub started: DateTime<Utc>,
    /// When it ended; ages in charts are counted back from here.
    pub ended: DateTime<Utc>,
    /// Changes were rehearsed, not sent.
    pub dry_run: bool,
    /// The shard this run is, `(k, n)` for shard k of n, if it is one.
    pub shard: Option<(u32, u32)>,
    /// Each tenant (credential profile) it ran against, in order.
    pub tenants: Vec<TenantReport>,
}

/// How a run went for one tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantReport {
    /// The tenant's name as the run knows it (the profile's name).
    pub tenant: String,
    /// Its steps, in the order they ran.
    pub steps: Vec<StepReport>,
}

/// How one step went for one tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// The step's id in the workflow.
    pub step: String,
    /// The plugin it ran.
    pub plugin: String,
    /// The plugin's version.
    pub plugin_version: String,
    /// Items that succeeded.
    pub succeeded: u64,
    /// Items that failed (after their retries).
    pub failed: u64,
    /// Items skipped (their `when` was false, or the run stopped first).
    pub skipped: u64,
    /// Records the step's plugin emitted.
    pub records: u64,
    /// How long the step took, from its first item's start to its last one's end.
    pub duration: Duration,
    /// Each failed item and why.
    pub failures: Vec<Failure>,
    /// The step's output summary (what its plugin returned), if it has one.
    pub output: Option<Value>,
    /// In a dry run, each change it would have made.
    pub plan: Vec<PlannedChange>,
}

/// An item that failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The item, as an admin would name it (e.g. the mailbox).
    pub item: String,
    /// The error, with its causes.
    pub error: String,
}

/// A change a dry run recorded instead of sending.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedChange {
    /// The item it was made for.
    pub item: String,
    /// The cmdlet, e.g. `Set-Mailbox`.
    pub cmdlet: String,
    /// Its parameters as PowerShell would be given them, e.g. `-Identity ann -HiddenFromAddressListsEnabled $true`.
    pub parameters: String,
}

/// How a step ended, from its item counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepStatus {
    /// At least one item failed.
    Failed,
    /// Every item that ran succeeded.
    Succeeded,
    /// No item ran: each was skipped.
    Skipped,
    /// It had no items.
    Empty,
}

/// Item and record counts added up over steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Items that succeeded.
    pub succeeded: u64,
    /// Items that failed.
    pub failed: u64,
    /// Items skipped.
    pub skipped: u64,
    /// Records emitted.
    pub records: u64,
    /// Changes planned (dry run).
    pub planned: u64,
}

impl StepReport {
    /// How the step ended.
    pub fn status(&self) -> StepStatus {
        if self.failed > 0 {
            StepStatus::Failed
        } else if self.succeeded > 0 {
            StepStatus::Succeeded
        } else if self.skipped > 0 {
            StepStatus::Skipped
        } else {
            StepStatus::Empty
        }
    }
}

impl Totals {
    /// The sum over `steps`.
    pub fn of<'a>(steps: impl IntoIterator<Item = &'a StepReport>) -> Totals {
        steps.into_iter().fold(Totals::default(), |t, s| Totals {
            succeeded: t.succeeded.saturating_add(s.succeeded),
            failed: t.failed.saturating_add(s.failed),
            skipped: t.skipped.saturating_add(s.skipped),
            records: t.records.saturating_add(s.records),
            planned: t.planned.saturating_add(s.plan.len() as u64),
        })
    }
}

impl RunReport {
    /// Every (tenant, step) of the run, in order.
    pub fn steps(&self) -> impl Iterator<Item = (&TenantReport, &StepReport)> {
        self.tenants
            .iter()
            .flat_map(|t| t.steps.iter().map(move |s| (t, s)))
    }

    /// The whole run's totals.
    pub fn totals(&self) -> Totals {
        Totals::of(self.steps().map(|(_, s)| s))
    }

    /// How long the run took (zero if the clock went backwards).
    pub fn duration(&self) -> Duration {
        (self.ended - self.started).to_std().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(succeeded: u64, failed: u64, skipped: u64) -> StepReport {
        StepReport {
            step: "s".into(),
            plugin: "p".into(),
            plugin_version: "1.0.0".into(),
            succeeded,
            failed,
            skipped,
            records: u64::MAX,
            duration: Duration::ZERO,
            failures: vec![],
            output: None,
            plan: vec![],
        }
    }

    #[test]
    fn a_step_failed_if_any_item_did() {
        assert_eq!(step(10, 1, 0).status(), StepStatus::Failed);
        assert_eq!(step(10, 0, 5).status(), StepStatus::Succeeded);
        assert_eq!(step(0, 0, 5).status(), StepStatus::Skipped);
        assert_eq!(step(0, 0, 0).status(), StepStatus::Empty);
    }

    #[test]
    fn totals_saturate_rather_than_overflow() {
        let totals = Totals::of(&[step(1, 2, 3), step(1, 2, 3)]);
        assert_eq!((totals.succeeded, totals.failed, totals.skipped), (2, 4, 6));
        assert_eq!(totals.records, u64::MAX);
    }
}
