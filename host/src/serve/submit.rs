//! Submitting a run: the one path every request to run something takes, from the API or from
//! a schedule. The target is found in the store, the caller rules in force decide (the
//! library's `Policy::authorize`), the input is checked, and the run is queued; a refusal is
//! recorded in the audit log and given as a problem document with its reason.

use serde_json::{Map, Value};

use exorun::caller::Caller;
use exorun::policy::callers::{Ask, Target, is_plain_name};

use super::problem::Problem;
use super::service::Service;
use super::state::{NewRun, RunRow, StateError, now_ms};

/// What a caller asks to run.
#[derive(Clone, Debug)]
pub struct Submission {
    /// A plugin of the store, by name or `sha256:DIGEST`.
    pub plugin: Option<String>,
    /// A workflow of the service, by name.
    pub workflow: Option<String>,
    /// The input object.
    pub input: Map<String, Value>,
    /// Record changes instead of sending them.
    pub dry_run: bool,
    /// A run id of the caller's choosing: the same request sent again with it gives the first
    /// run instead of queuing a second.
    pub run_id: Option<String>,
}

impl Service {
    /// Queues what `caller` asks for, if the caller rules in force allow it; gives the run and
    /// whether it is new (a repeated `run_id` gives the first run).
    pub async fn submit(
        &self,
        caller: &Caller,
        submission: Submission,
    ) -> Result<(RunRow, bool), Problem> {
        let name = match (&submission.plugin, &submission.workflow) {
            (Some(plugin), None) => plugin.clone(),
            (None, Some(_)) => {
                return Err(Problem::bad_request(
                    "this service runs plugins only so far: workflows come in a later version",
                ));
            }
            _ => {
                return Err(Problem::bad_request(
                    "name exactly one of `plugin` (a plugin of the store, by name or sha256:DIGEST) and `workflow`",
                ));
            }
        };
        if let Some(key) = &submission.run_id
            && (key.is_empty() || key.len() > 128 || key.chars().any(char::is_control))
        {
            return Err(Problem::bad_request(
                "`run_id` must be 1 to 128 characters with no control characters",
            ));
        }
        let plain = name.strip_prefix("sha256:").map_or_else(
            || is_plain_name(&name),
            |hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        );
        if !plain {
            // Not echoed, nor recorded: whatever was pasted there stays out of logs.
            return Err(Problem::bad_request(
                "`plugin` is not a plugin name (letters, digits, '-', '_', '.') nor sha256:DIGEST (64 hex digits)",
            ));
        }
        let what = format!("run plugin {name}");
        let loaded = self.loaded();
        let stored = match loaded.plugin(&name) {
            Ok(stored) => stored.clone(),
            Err(missing) => {
                let reason = missing.to_string();
                self.record_refusal(caller, &what, &reason);
                return Err(Problem::not_found(reason));
            }
        };
        let vetted = &stored.vetted;
        let target = Target::Plugin {
            name: &vetted.manifest.name,
            digest: &vetted.content_digest,
        };
        let since = now_ms() - 3_600_000;
        let runs_last_hour = self
            .state
            .runs_since(&caller.principal, "plugin", &vetted.manifest.name, since)
            .await
            .map_err(|e| Problem::internal(e.to_string()))?;
        let ask = Ask {
            target,
            input: &submission.input,
            dry_run: submission.dry_run,
        };
        let authorized = loaded
            .policy
            .authorize(caller, ask, runs_last_hour)
            .map_err(|refusal| {
                let reason = refusal.to_string();
                self.record_refusal(caller, &what, &reason);
                Problem::forbidden(reason, refusal.rule().map(str::to_string))
            })?;
        let input = Value::Object(submission.input);
        if let Ok(Some(schema)) = vetted.manifest.compiled_input_schema()
            && let Err(problems) = schema.check(&input)
        {
            return Err(Problem::bad_request(format!(
                "the input does not fit plugin {}'s input schema: {}",
                vetted.manifest.name,
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        // A dry run changes nothing, so it needs no approval.
        let needs_approval = authorized.rule.approval.is_some() && !submission.dry_run;
        let (run, new) = self
            .state
            .submit(NewRun {
                principal: caller.principal.clone(),
                caller: serde_json::to_string(caller).unwrap_or_default(),
                client_key: submission.run_id,
                kind: "plugin",
                target: vetted.manifest.name.clone(),
                digest: vetted.content_digest.clone(),
                version: vetted.manifest.version.clone(),
                input,
                dry_run: submission.dry_run,
                rule: authorized.rule.label(),
                policy_digest: loaded.policy.digest().to_string(),
                needs_approval,
            })
            .await
            .map_err(|e| match e {
                StateError::RunIdReused(_) => Problem::conflict(e.to_string()),
                other => Problem::internal(other.to_string()),
            })?;
        if new {
            self.wake();
        }
        Ok((run, new))
    }
}
