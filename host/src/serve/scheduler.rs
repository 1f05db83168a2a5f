//! The scheduler: one task per schedule of `serve.toml`. At each of its times it submits the
//! schedule's run through `Service::submit` as `schedule:NAME`, under a run id made of the name
//! and the time, so a restart or a second replica on the same database never submits one time
//! twice. Each time handled is marked in the state database; when the service starts, the mark
//! decides whether a time passed while it was down (`missed`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use exorun::policy::callers::rules_for;

use super::schedule::{AtStart, Outcome, Schedule, at_start};
use super::service::Service;
use super::state::ScheduleMark;

/// The longest single sleep: the wall clock is looked at again after it, so a clock that was
/// set or a machine that slept does not delay a time by more than this.
const LONGEST_SLEEP: Duration = Duration::from_secs(30);

/// How late a time may be fired while the service runs (a slow submit, a busy machine); times
/// further behind are skipped, and logged, so a stall does not turn into a burst of runs.
const LATE_BY_AT_MOST: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

/// Starts a task for each schedule of the configuration.
pub fn spawn(service: &Arc<Service>) {
    for schedule in &service.config.schedules {
        let service = service.clone();
        let schedule = schedule.clone();
        tokio::spawn(async move { keep(&service, &schedule).await });
    }
}

/// Runs `schedule` for as long as the service runs.
async fn keep(service: &Service, schedule: &Schedule) {
    let loaded = service.loaded();
    if rules_for(loaded.policy.caller_rules(), &schedule.caller()).is_empty() {
        tracing::warn!(
            "schedule {name}: no caller rule of {} names schedule:{name}, so each of its runs will be refused: add \"schedule:{name}\" to the `who` of the [[caller]] rule that should allow them",
            loaded.policy.origin(),
            name = schedule.name,
        );
    }
    drop(loaded);
    let started = Utc::now();
    catch_up(service, schedule, started).await;
    let mut after = started;
    loop {
        let Some(next) = schedule.next_after(after) else {
            tracing::warn!(schedule = %schedule.name, "the schedule has no more times");
            return;
        };
        tracing::debug!(schedule = %schedule.name, next = %next, "next time");
        sleep_until(next).await;
        fire(service, schedule, next).await;
        let now = Utc::now();
        after = next.max(now - LATE_BY_AT_MOST);
        if let Some(skipped) = schedule.next_after(next).filter(|t| *t <= after) {
            tracing::warn!(
                schedule = %schedule.name,
                from = %skipped,
                to = %after,
                "the schedule fell behind (a submit took longer than its interval): its times in between are skipped"
            );
        }
    }
}

/// What a start does about a time missed while the service was down.
async fn catch_up(service: &Service, schedule: &Schedule, now: DateTime<Utc>) {
    let last = match service.state.schedule_mark(&schedule.name).await {
        Ok(mark) => mark.and_then(|m| DateTime::from_timestamp_millis(m.at_ms)),
        Err(e) => {
            tracing::error!(
                schedule = %schedule.name,
                "cannot read when the schedule last ran, so a time missed while the service was down is not run: {e}"
            );
            return;
        }
    };
    match at_start(schedule.missed, last, schedule.latest_until(now)) {
        AtStart::UpToDate => {}
        AtStart::FirstSeen => mark(service, schedule, now, Outcome::FirstSeen, None, None).await,
        AtStart::Skip(at) => {
            tracing::info!(
                schedule = %schedule.name,
                at = %at,
                "a time passed while the service was down: skipped (missed = \"skip\")"
            );
            let why = "it passed while the service was not running (missed = \"skip\")";
            mark(
                service,
                schedule,
                at,
                Outcome::Skipped,
                None,
                Some(why.into()),
            )
            .await;
        }
        AtStart::RunOnce(at) => {
            tracing::info!(
                schedule = %schedule.name,
                at = %at,
                "a time passed while the service was down: running it now (missed = \"run-once\")"
            );
            fire(service, schedule, at).await;
        }
    }
}

/// Submits the schedule's run for time `at` and marks the time handled.
async fn fire(service: &Service, schedule: &Schedule, at: DateTime<Utc>) {
    let caller = schedule.caller();
    match service.submit(&caller, schedule.submission(at)).await {
        Ok((run, new)) => {
            tracing::info!(
                schedule = %schedule.name,
                at = %at,
                run = %run.id,
                "{}",
                if new { "run submitted" } else { "run already submitted (by another replica or before a restart)" }
            );
            mark(
                service,
                schedule,
                at,
                Outcome::Submitted,
                Some(run.id),
                None,
            )
            .await;
        }
        Err(problem) => {
            // A refusal by the caller rules is already in the audit log (submit records it).
            let outcome = if problem.status >= 500 {
                Outcome::Failed
            } else {
                Outcome::Refused
            };
            tracing::warn!(
                schedule = %schedule.name,
                at = %at,
                "the schedule's run was not submitted: {}",
                problem.detail
            );
            mark(service, schedule, at, outcome, None, Some(problem.detail)).await;
        }
    }
}

/// Marks time `at` of `schedule` as handled, with what became of it.
async fn mark(
    service: &Service,
    schedule: &Schedule,
    at: DateTime<Utc>,
    outcome: Outcome,
    run_id: Option<String>,
    reason: Option<String>,
) {
    let mark = ScheduleMark {
        at_ms: at.timestamp_millis(),
        outcome: outcome.as_str().to_string(),
        run_id,
        reason,
    };
    if let Err(e) = service.state.mark_schedule(&schedule.name, &mark).await {
        tracing::error!(
            schedule = %schedule.name,
            at = %at,
            "cannot record the schedule's time as handled (after a restart it may count as missed; its run id keeps it from running twice): {e}"
        );
    }
}

/// Sleeps until the wall clock reaches `at`.
async fn sleep_until(at: DateTime<Utc>) {
    loop {
        let left = (at - Utc::now()).to_std().unwrap_or_default();
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(LONGEST_SLEEP)).await;
    }
}
