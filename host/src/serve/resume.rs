//! Resuming a workflow run that failed or was cancelled: the same run goes on from its journal
//! (what finished is not run again), when the one who asked for it asks, the workflow file is
//! the one the run started with, and the caller rules in force still allow the request. A run
//! that needs approval goes on only while its approvals still hold for this exact request; it
//! is never resumed past its approvers.

use exorun::caller::Caller;
use exorun::policy::callers::Ask;

use super::problem::Problem;
use super::service::Service;
use super::state::{Resumed, RunRow, RunState, now_ms};

impl Service {
    /// Queues `run` again for `caller` to run what it did not finish; gives the run as queued
    /// and the number of its `resumed` event (its events after that one are this attempt's).
    pub async fn resume(&self, caller: &Caller, run: RunRow) -> Result<(RunRow, i64), Problem> {
        let refused = |reason: String| {
            self.record_refusal(caller, &format!("resume run {}", run.id), &reason);
            Problem::forbidden(reason, None)
        };
        if run.principal != caller.principal {
            return Err(refused(format!(
                "run {} was asked for by {}: only they may resume it (you may submit your own run)",
                run.id, run.principal
            )));
        }
        if run.kind != "workflow" {
            return Err(Problem::conflict(format!(
                "run {} is a plugin run: only workflow runs are resumed (they keep a journal of what finished); submit it again",
                run.id
            )));
        }
        match run.state {
            RunState::Failed | RunState::Cancelled => {}
            RunState::Succeeded => {
                return Err(Problem::conflict(format!(
                    "run {} already succeeded: there is nothing left to run",
                    run.id
                )));
            }
            RunState::Rejected | RunState::Expired => {
                return Err(Problem::conflict(format!(
                    "run {} was {} and never ran: submit it again for its approvers to decide",
                    run.id,
                    run.state.as_str()
                )));
            }
            waiting => {
                return Err(Problem::conflict(format!(
                    "run {} is {}: only a failed or cancelled run is resumed",
                    run.id,
                    waiting.as_str()
                )));
            }
        }
        let loaded = self.loaded();
        let stored = loaded
            .workflow(&run.target)
            .map_err(|missing| Problem::conflict(missing.to_string()))?;
        if stored.digest != run.digest {
            return Err(Problem::conflict(format!(
                "workflow {}'s file changed since run {} started (it was sha256:{}, it is sha256:{} now): resuming would run a different workflow; submit a new run",
                run.target, run.id, run.digest, stored.digest
            )));
        }
        let runs_last_hour = self
            .state
            .runs_since(
                &caller.principal,
                &run.kind,
                &run.target,
                now_ms() - 3_600_000,
            )
            .await
            .map_err(|e| Problem::internal(e.to_string()))?;
        let input = run.input_object();
        let ask = Ask {
            target: run.target(),
            input: &input,
            dry_run: run.dry_run,
        };
        let authorized = loaded
            .policy
            .authorize(caller, ask, runs_last_hour)
            .map_err(|refusal| {
                refused(format!(
                    "the policy in force no longer allows this run: {refusal}"
                ))
            })?;
        if authorized.rule.approval.is_some() && !run.dry_run {
            if run.approved_by.is_empty() {
                return Err(Problem::conflict(format!(
                    "run {} needs approval and was never approved (it was cancelled first): submit it again for its approvers to decide",
                    run.id
                )));
            }
            self.approvals_in_force(&loaded, caller, &run)
                .await
                .map_err(|why| {
                    Problem::conflict(format!(
                        "run {} needs approval, and its approvals do not carry it on: {why}",
                        run.id
                    ))
                })?;
        }
        let resumed = Resumed {
            principal: caller.principal.clone(),
            caller: serde_json::to_string(caller).unwrap_or_default(),
            rule: authorized.rule.label(),
            policy_digest: loaded.policy.digest().to_string(),
        };
        let seq = self
            .state
            .resume(&run.id, &resumed)
            .await
            .map_err(|e| Problem::internal(e.to_string()))?
            .ok_or_else(|| {
                Problem::conflict(format!(
                    "run {} is no longer failed or cancelled: another request resumed it first",
                    run.id
                ))
            })?;
        self.wake();
        let run = self
            .state
            .get(&run.id)
            .await
            .map_err(|e| Problem::internal(e.to_string()))?
            .ok_or_else(|| Problem::internal(format!("run {} is gone", run.id)))?;
        Ok((run, seq))
    }
}
