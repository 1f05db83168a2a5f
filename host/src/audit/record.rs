//! The records of the audit log: one JSON object per line, `{"seq":…,"prev":…,"time":…,
//! "event":…, …}`, where `prev` is the SHA-256 of the line before (none for the first line) and
//! `seq` counts lines from 1. What each event holds is below; none ever holds a secret: tokens
//! are not recorded at all and secret parameter values are redacted ([`super::redact`]).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::redact::redact;

/// One line of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The line's number: 1 for the first record, one more for each after it.
    pub seq: u64,
    /// The SHA-256 (lowercase hex) of the line before, exactly as written; `None` on line 1.
    pub prev: Option<String>,
    /// When the record was written.
    pub time: DateTime<Utc>,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
    /// With the operator's key: the HMAC-SHA-256 (lowercase hex) of the line up to this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// What a record is about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A plugin run started.
    RunStart(RunStart),
    /// A plugin run ended.
    RunEnd(RunEnd),
    /// A token was asked for.
    Token(TokenAcquisition),
    /// A cmdlet was sent, rehearsed in a dry run, or refused.
    Call(Call),
    /// A caller's request to the service was refused before anything ran.
    Refused(RequestRefused),
}

/// Who asked for a run through the service (`exorun serve`), as its records name them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerRef {
    /// The caller: a UPN, `app:ID`, `unix:NAME` or `schedule:NAME`.
    pub principal: String,
    /// How the service authenticated them: `unix-socket`, `entra-token` or `schedule`.
    pub authenticated_by: String,
    /// Where the request came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Who approved the run, if it needed approval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approved_by: Vec<String>,
}

impl CallerRef {
    /// The record of `caller`, with the approvers of the run.
    pub fn of(caller: &crate::caller::Caller, approved_by: Vec<String>) -> CallerRef {
        CallerRef {
            principal: caller.principal.clone(),
            authenticated_by: caller.authenticated_by().to_string(),
            source: caller.source.clone(),
            approved_by,
        }
    }
}

/// A request to the service refused by the caller rules (or for any other reason a person can
/// act on) before anything was queued or sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRefused {
    /// Who asked.
    pub caller: CallerRef,
    /// What they asked for, e.g. `run plugin auto-reply`, `approve run 1f2e…`.
    pub request: String,
    /// Why it was refused.
    pub reason: String,
}

/// Which run records belong to: one `exorun run`, or one `exorun invoke`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(Uuid);

impl RunId {
    /// A new, random run id.
    pub fn new() -> RunId {
        RunId(Uuid::new_v4())
    }

    /// The id of the run named `name` (a workflow run's `--run-id`): the name itself if it is a
    /// UUID, else one derived from it, the same every time, so every attempt of a named run is
    /// recorded under one id.
    pub fn named(name: &str) -> RunId {
        match name.parse::<Uuid>() {
            Ok(uuid) => RunId(uuid),
            Err(_) => {
                let hash = crate::digest::sha256(name.as_bytes());
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(&hash[..16]);
                RunId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
            }
        }
    }
}

impl Default for RunId {
    fn default() -> RunId {
        RunId::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A plugin as the policy knows it: by name and version for people, by digest for trust.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRef {
    /// Its manifest's name.
    pub name: String,
    /// Its manifest's version.
    pub version: String,
    /// The SHA-256 of its artifact, lowercase hex.
    pub digest: String,
}

/// What a cmdlet call is done for, attached by whoever asks for it and written into its record:
/// the run, the plugin, and why it was allowed. Set it on a client
/// ([`ExchangeClient::with_context`](crate::exchange::ExchangeClient::with_context)) for every
/// call through that client, or on one query
/// ([`Query::with_context`](crate::exchange::Query::with_context)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallContext {
    /// The run the call belongs to.
    pub run: Option<RunId>,
    /// The workflow run the plugin run belongs to, if a workflow ran it.
    pub workflow: Option<RunId>,
    /// The plugin that asked for it (none for `exorun invoke`).
    pub plugin: Option<PluginRef>,
    /// Why it is allowed, e.g. which grant of the policy admits it.
    pub decision: Option<String>,
    /// The result of the target-scope check made before a change, if one was made.
    pub target_scope: Option<String>,
    /// Who asked for the run through the service, if someone did.
    pub caller: Option<CallerRef>,
}

/// Whether a call was let through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Sent (or rehearsed in a dry run).
    Allowed,
    /// Refused before anything was sent.
    Denied,
}

/// One cmdlet call: a request sent (one record per page of results, never per row), a change
/// rehearsed in a dry run, or a call refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// The run it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunId>,
    /// The workflow run its plugin run belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<RunId>,
    /// The plugin that asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<PluginRef>,
    /// Who asked the service for the run (principal), if someone did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// The cmdlet.
    pub cmdlet: String,
    /// Its parameters, secret values replaced by [`super::redact::REDACTED`].
    pub params: Map<String, Value>,
    /// Let through or refused.
    pub decision: Decision,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// The result of the target-scope check, if one was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_scope: Option<String>,
    /// A change recorded instead of sent.
    #[serde(default)]
    pub dry_run: bool,
    /// The intent of a change, written (and synced) before it was sent: a record with its
    /// outcome follows, unless the process died before the answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub intent: bool,
    /// Which page of the results this request fetched (1 for the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// The HTTP status of the last try, when there was an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Rows the page held.
    #[serde(default)]
    pub rows: u64,
    /// Time taken, retries and token included, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// The `client-request-id` of the request that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<String>,
    /// The service's `request-id`, which Microsoft support asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Why the call failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Call {
    /// The record of `cmdlet` with `params` (secret values redacted here), asked for in
    /// `context` and allowed for the context's reason; the outcome fields are left empty.
    pub fn new(context: &CallContext, cmdlet: &str, params: &Map<String, Value>) -> Call {
        Call {
            run: context.run,
            workflow: context.workflow,
            plugin: context.plugin.clone(),
            caller: context.caller.as_ref().map(|c| c.principal.clone()),
            cmdlet: cmdlet.to_string(),
            params: redact(cmdlet, params),
            decision: Decision::Allowed,
            why: context.decision.clone(),
            target_scope: context.target_scope.clone(),
            dry_run: false,
            intent: false,
            page: None,
            status: None,
            rows: 0,
            duration_ms: None,
            client_request_id: None,
            request_id: None,
            error: None,
        }
    }
}

/// A token asked of the credential: who for and until when, never the token itself. Each ask
/// is recorded twice: its intent, on disk before the credential is used (so a log that cannot
/// be written stops exorun before any token is asked for), then what it brought.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenAcquisition {
    /// The record is the intent, written before the credential was asked; what the ask
    /// brought follows in the next token record for the resource.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub intent: bool,
    /// The app (client) id: the token's `appid` claim, else the configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// The tenant: the token's `tid` claim, else the configured organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The API the token is for, e.g. `https://outlook.office365.com`.
    pub resource: String,
    /// What kind of credential it came from, e.g. `certificate`
    /// ([`CredentialSpec::kind`](crate::config::CredentialSpec::kind)).
    pub credential: String,
    /// When the token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Why no token was had, if none was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A plugin run starting, with what it runs as.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunStart {
    /// The run.
    pub run: RunId,
    /// The workflow run it is a step (or an item of a step) of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<RunId>,
    /// The plugin.
    pub plugin: PluginRef,
    /// Who asked the service for it, and who approved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<CallerRef>,
    /// Who signed the artifact (key ids), as the policy checked them.
    #[serde(default)]
    pub signers: Vec<String>,
    /// The SHA-256 of the policy in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_digest: Option<String>,
    /// The rights the run has: requested ∩ granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Value>,
    /// The SHA-256 of the run's input (the input itself is not recorded).
    pub input_digest: String,
    /// Changes are recorded, not sent.
    #[serde(default)]
    pub dry_run: bool,
    /// The exorun version that ran it.
    pub exorun: String,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The plugin returned its summary.
    Succeeded,
    /// The run ended with an error.
    Failed,
}

/// A plugin run ending, with what it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunEnd {
    /// The run.
    pub run: RunId,
    /// The workflow run it is a step (or an item of a step) of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<RunId>,
    /// The plugin.
    pub plugin: PluginRef,
    /// Succeeded or failed.
    pub outcome: Outcome,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Records the plugin emitted.
    pub records: u64,
    /// Cmdlets it was let run.
    pub calls: u64,
    /// Cmdlets or parameters it was refused.
    pub denied: u64,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
}

impl Event {
    /// The run the record belongs to, if any.
    pub fn run(&self) -> Option<RunId> {
        match self {
            Event::RunStart(start) => Some(start.run),
            Event::RunEnd(end) => Some(end.run),
            Event::Call(call) => call.run,
            Event::Token(_) | Event::Refused(_) => None,
        }
    }

    /// The workflow run the record belongs to, if any.
    pub fn workflow(&self) -> Option<RunId> {
        match self {
            Event::RunStart(start) => start.workflow,
            Event::RunEnd(end) => end.workflow,
            Event::Call(call) => call.workflow,
            Event::Token(_) | Event::Refused(_) => None,
        }
    }

    /// The plugin the record is about, if any.
    pub fn plugin(&self) -> Option<&PluginRef> {
        match self {
            Event::RunStart(start) => Some(&start.plugin),
            Event::RunEnd(end) => Some(&end.plugin),
            Event::Call(call) => call.plugin.as_ref(),
            Event::Token(_) | Event::Refused(_) => None,
        }
    }

    /// The principal who asked the service for it, if someone did.
    pub fn caller(&self) -> Option<&str> {
        match self {
            Event::RunStart(start) => start.caller.as_ref().map(|c| c.principal.as_str()),
            Event::Call(call) => call.caller.as_deref(),
            Event::Refused(refused) => Some(&refused.caller.principal),
            Event::RunEnd(_) | Event::Token(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_one_flat_json_object_and_reads_back() {
        let context = CallContext {
            run: Some(RunId::new()),
            workflow: Some(RunId::new()),
            plugin: Some(PluginRef {
                name: "auto-reply".into(),
                version: "1.0.0".into(),
                digest: "ab".repeat(32),
            }),
            decision: Some("granted by the policy".into()),
            target_scope: None,
            caller: None,
        };
        let mut params = Map::new();
        params.insert("Identity".into(), "ann@contoso.com".into());
        let mut call = Call::new(&context, "Set-MailboxAutoReplyConfiguration", &params);
        call.status = Some(200);
        call.page = Some(1);
        let record = Record {
            seq: 2,
            prev: Some("cd".repeat(32)),
            time: Utc::now(),
            event: Event::Call(call),
            mac: None,
        };
        let line = serde_json::to_string(&record).unwrap();
        let json: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(json["event"], "call");
        assert_eq!(json["seq"], 2);
        assert_eq!(json["decision"], "allowed");
        assert_eq!(json["plugin"]["name"], "auto-reply");
        assert_eq!(json["params"]["Identity"], "ann@contoso.com");
        assert!(json.get("error").is_none(), "empty fields are left out");
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, record);
        assert_eq!(back.event.run(), context.run);
        assert_eq!(back.event.plugin(), context.plugin.as_ref());
    }
}
