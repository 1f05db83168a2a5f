//! A call's record made in two halves: what was asked (the run, the plugin, the cmdlet and its
//! redacted parameters, why it is allowed), serialized once per query while its first request
//! is on the wire, and how it went (status, rows, time, ids), added when the answer is in. The
//! two halves make exactly the line a whole [`Call`](super::Call) record makes, so readers
//! see no difference; the writer then spends only the small half, a hash and one `write` on
//! the call's critical path.

use serde::Serialize;
use serde_json::{Map, Value};

use super::record::{CallContext, Decision, PluginRef, RunId};
use super::redact::redact;

/// A call record's first half, serialized: `{"event":"call", …` up to its outcome.
#[derive(Clone, Debug)]
pub struct PreparedCall {
    head: Vec<u8>,
}

/// The first half, in [`Call`](super::Call)'s field order.
#[derive(Serialize)]
#[serde(tag = "event", rename = "call")]
struct Asked<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<RunId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow: Option<RunId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plugin: Option<&'a PluginRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    caller: Option<&'a str>,
    cmdlet: &'a str,
    params: &'a Map<String, Value>,
    decision: Decision,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_scope: Option<&'a str>,
    /// Always false: a rehearsed change is recorded whole, by the gate.
    dry_run: bool,
}

/// How a sent request went: the second half of its record.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CallOutcome<'a> {
    /// The record is a change's intent, written before it is sent; its outcome follows.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub intent: bool,
    /// Which page of the results the request fetched (1 for the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// The HTTP status of the last try, when there was an answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Rows the page held.
    pub rows: u64,
    /// Time taken, retries and token included, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// The `client-request-id` of the request that answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<&'a str>,
    /// The service's `request-id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
    /// Why the call failed, if it did (secret values already scrubbed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

impl PreparedCall {
    /// The first half of the record of an allowed call of `cmdlet` with `params` (secret
    /// values redacted here), asked for in `context`.
    pub fn new(context: &CallContext, cmdlet: &str, params: &Map<String, Value>) -> PreparedCall {
        let asked = Asked {
            run: context.run,
            workflow: context.workflow,
            plugin: context.plugin.as_ref(),
            caller: context.caller.as_ref().map(|c| c.principal.as_str()),
            cmdlet,
            params: &redact(cmdlet, params),
            decision: Decision::Allowed,
            why: context.decision.as_deref(),
            target_scope: context.target_scope.as_deref(),
            dry_run: false,
        };
        let mut head = Vec::with_capacity(512);
        serde_json::to_writer(&mut head, &asked).expect("a map of JSON values always serializes");
        head.pop(); // the closing brace: the outcome's fields follow
        PreparedCall { head }
    }

    /// The event of the change's intent, as JSON: the first half, marked as an intent.
    pub(super) fn intent(&self) -> Vec<u8> {
        self.finish(&CallOutcome {
            intent: true,
            ..CallOutcome::default()
        })
    }

    /// The whole event, as JSON: the first half with `outcome`'s fields after it.
    pub(super) fn finish(&self, outcome: &CallOutcome<'_>) -> Vec<u8> {
        let mut event = Vec::with_capacity(self.head.len() + 256);
        event.extend_from_slice(&self.head);
        let joint = event.len();
        serde_json::to_writer(&mut event, outcome).expect("plain fields always serialize");
        // The outcome's opening brace becomes the comma after the first half.
        event[joint] = b',';
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Call, Event};

    fn context() -> CallContext {
        CallContext {
            run: Some(RunId::new()),
            workflow: Some(RunId::new()),
            plugin: Some(PluginRef {
                name: "auto-reply".into(),
                version: "1.0.0".into(),
                digest: "ab".repeat(32),
            }),
            decision: Some("allowed by policy.toml line 4".into()),
            target_scope: Some("in scope: RecipientTypeDetails -eq 'UserMailbox'".into()),
            caller: Some(crate::audit::CallerRef {
                principal: "ann@contoso.com".into(),
                authenticated_by: "entra-token".into(),
                source: Some("192.0.2.7:50122".into()),
                approved_by: vec!["bob@contoso.com".into()],
            }),
        }
    }

    #[test]
    fn the_two_halves_make_the_line_a_whole_call_makes() {
        let mut params = Map::new();
        params.insert("Identity".into(), "ann@contoso.com".into());
        params.insert("Password".into(), "Winter2025!".into());
        for (context, outcome) in [
            (context(), CallOutcome::default()),
            (
                context(),
                CallOutcome {
                    intent: true,
                    ..CallOutcome::default()
                },
            ),
            (
                CallContext::default(),
                CallOutcome {
                    intent: false,
                    page: Some(2),
                    status: Some(429),
                    rows: 0,
                    duration_ms: Some(31),
                    client_request_id: Some("c-1"),
                    request_id: Some("r-1"),
                    error: Some("throttled \"twice\""),
                },
            ),
        ] {
            let prepared = PreparedCall::new(&context, "Set-Mailbox", &params);
            let mut call = Call::new(&context, "Set-Mailbox", &params);
            call.intent = outcome.intent;
            call.page = outcome.page;
            call.status = outcome.status;
            call.rows = outcome.rows;
            call.duration_ms = outcome.duration_ms;
            call.client_request_id = outcome.client_request_id.map(String::from);
            call.request_id = outcome.request_id.map(String::from);
            call.error = outcome.error.map(String::from);
            let whole = serde_json::to_vec(&Event::Call(call)).unwrap();
            let halves = prepared.finish(&outcome);
            assert_eq!(
                String::from_utf8(halves).unwrap(),
                String::from_utf8(whole).unwrap()
            );
        }
    }

    #[test]
    fn secret_values_are_redacted_in_the_first_half() {
        let mut params = Map::new();
        params.insert("Password".into(), "Winter2025!".into());
        let prepared = PreparedCall::new(&context(), "Set-Mailbox", &params);
        let line = String::from_utf8(prepared.finish(&CallOutcome::default())).unwrap();
        assert!(!line.contains("Winter2025!"), "{line}");
    }
}
