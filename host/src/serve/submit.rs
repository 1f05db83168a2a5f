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
use super::store::Loaded;
use exorun::plugin::input::InputSchema;
use exorun::workflow::inputs::Inputs;

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
        if let Some(key) = &submission.run_id
            && (key.is_empty() || key.len() > 128 || key.chars().any(char::is_control))
        {
            return Err(Problem::bad_request(
                "`run_id` must be 1 to 128 characters with no control characters",
            ));
        }
        let loaded = self.loaded();
        let chosen = match (&submission.plugin, &submission.workflow) {
            (Some(plugin), None) => self.chosen_plugin(&loaded, caller, plugin)?,
            (None, Some(workflow)) => self.chosen_workflow(&loaded, caller, workflow)?,
            _ => {
                return Err(Problem::bad_request(
                    "name exactly one of `plugin` (a plugin of the store, by name or sha256:DIGEST) and `workflow` (a workflow of the service, by name)",
                ));
            }
        };
        let what = format!("run {} {}", chosen.kind, chosen.name);
        let target = if chosen.kind == "workflow" {
            Target::Workflow(&chosen.name)
        } else {
            Target::Plugin {
                name: &chosen.name,
                digest: &chosen.digest,
            }
        };
        let since = now_ms() - 3_600_000;
        let runs_last_hour = self
            .state
            .runs_since(&caller.principal, chosen.kind, &chosen.name, since)
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
        chosen.check.check(&chosen.name, &input)?;
        // A dry run changes nothing, so it needs no approval.
        let needs_approval = authorized.rule.approval.is_some() && !submission.dry_run;
        let (run, new) = self
            .state
            .submit(NewRun {
                principal: caller.principal.clone(),
                caller: serde_json::to_string(caller).unwrap_or_default(),
                client_key: submission.run_id,
                kind: chosen.kind,
                target: chosen.name,
                digest: chosen.digest,
                version: chosen.version,
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

    /// The plugin of the store `name` names.
    fn chosen_plugin(
        &self,
        loaded: &Loaded,
        caller: &Caller,
        name: &str,
    ) -> Result<Chosen, Problem> {
        let plain = name.strip_prefix("sha256:").map_or_else(
            || is_plain_name(name),
            |hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        );
        if !plain {
            // Not echoed, nor recorded: whatever was pasted there stays out of logs.
            return Err(Problem::bad_request(
                "`plugin` is not a plugin name (letters, digits, '-', '_', '.') nor sha256:DIGEST (64 hex digits)",
            ));
        }
        let stored = loaded.plugin(name).map_err(|missing| {
            let reason = missing.to_string();
            self.record_refusal(caller, &format!("run plugin {name}"), &reason);
            Problem::not_found(reason)
        })?;
        let vetted = &stored.vetted;
        Ok(Chosen {
            kind: "plugin",
            name: vetted.manifest.name.clone(),
            digest: vetted.content_digest.clone(),
            version: vetted.manifest.version.clone(),
            check: match vetted.manifest.compiled_input_schema() {
                Ok(Some(schema)) => InputCheck::Schema(Box::new(schema)),
                _ => InputCheck::None,
            },
        })
    }

    /// The workflow `name` names.
    fn chosen_workflow(
        &self,
        loaded: &Loaded,
        caller: &Caller,
        name: &str,
    ) -> Result<Chosen, Problem> {
        if !is_plain_name(name) {
            return Err(Problem::bad_request(
                "`workflow` is not a workflow name (letters, digits, '-', '_')",
            ));
        }
        let stored = loaded.workflow(name).map_err(|missing| {
            let reason = missing.to_string();
            self.record_refusal(caller, &format!("run workflow {name}"), &reason);
            Problem::not_found(reason)
        })?;
        Ok(Chosen {
            kind: "workflow",
            name: name.to_string(),
            digest: stored.digest.clone(),
            version: String::new(),
            check: InputCheck::Workflow(stored.workflow.inputs.clone()),
        })
    }
}

/// What a submission names, found.
struct Chosen {
    /// `plugin` or `workflow`.
    kind: &'static str,
    /// Its name.
    name: String,
    /// The plugin's content digest, or the workflow file's.
    digest: String,
    /// The plugin's version (empty for a workflow).
    version: String,
    /// What its input must be, checked once the caller rules allow the request.
    check: InputCheck,
}

/// What an input must be.
enum InputCheck {
    /// Anything (a plugin without an input schema).
    None,
    /// A plugin's input schema.
    Schema(Box<InputSchema>),
    /// A workflow's declared inputs.
    Workflow(Inputs),
}

impl InputCheck {
    /// Checks `input` for `name`; the problem says what is wrong.
    fn check(&self, name: &str, input: &Value) -> Result<(), Problem> {
        match self {
            InputCheck::None => Ok(()),
            InputCheck::Schema(schema) => schema.check(input).map_err(|problems| {
                Problem::bad_request(format!(
                    "the input does not fit plugin {name}'s input schema: {}",
                    problems
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ))
            }),
            InputCheck::Workflow(inputs) => inputs
                .bind_json(input.as_object().unwrap_or(&Map::new()))
                .map(|_| ())
                .map_err(|errors| {
                    Problem::bad_request(format!(
                        "the input does not fit workflow {name}'s inputs: {}",
                        errors.to_string().replace('\n', "; ")
                    ))
                }),
        }
    }
}
