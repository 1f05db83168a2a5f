//! `GET /api/v1/audit`: the audit log for the people an `[[auditor]]` rule of the policy names,
//! filtered as `exorun audit show` filters it, paged by line, with the state of its chain
//! (verified with the operator's audit key when the service has one). Auditors read; nobody
//! writes through the API.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use exorun::audit::{AuditKey, Filter, Report, entries, verify_with_key};

use super::api::{Authenticated, Params};
use super::problem::Problem;
use super::service::Service;

/// The query: `exorun audit show`'s filters, and paging by line.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Records of requests by this caller (principal).
    caller: Option<String>,
    /// Records of this run (or of a workflow run's plugin runs): its id or its start.
    run: Option<String>,
    /// Records about this plugin.
    plugin: Option<String>,
    /// Records at or after this time (RFC 3339).
    since: Option<String>,
    /// Only refused calls and requests.
    #[serde(default)]
    denied: bool,
    /// Records after this line (the `next_after` of the page before).
    after: Option<u64>,
    /// At most this many records (default 500, at most 5,000).
    limit: Option<usize>,
}

/// `GET /api/v1/audit`.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), responses((status = 200, description = "The records the filters pass (one page), the line to go on after, and the state of the log's chain", body = Object), (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "No auditor rule names you", body = Problem, content_type = "application/problem+json")))]
pub async fn audit(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
    Params(query): Params<AuditQuery>,
) -> Result<Json<Value>, Problem> {
    let loaded = service.loaded();
    let rule = loaded.policy.auditor(&caller).map_err(|reason| {
        service.record_refusal(&caller, "read the audit log", &reason);
        Problem::forbidden(reason, None)
    })?;
    let since = query
        .since
        .as_deref()
        .map(|text| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    Problem::bad_request(format!(
                        "since '{text}' is not an RFC 3339 time, e.g. 2026-12-01T00:00:00Z"
                    ))
                })
        })
        .transpose()?;
    let filter = Filter {
        run: query.run,
        since,
        plugin: query.plugin,
        denied: query.denied,
        caller: query.caller,
    };
    let after = query.after.unwrap_or(0);
    let limit = query.limit.unwrap_or(500).clamp(1, 5000);
    let log = service.config.audit_log.clone();
    let key = service.config.audit_key.clone();
    let (records, next_after, report) =
        tokio::task::spawn_blocking(move || read(&log, key, &filter, after, limit))
            .await
            .map_err(|e| Problem::internal(e.to_string()))??;
    Ok(Json(json!({
        "auditor_rule": rule.label(),
        "verification": verification(&report),
        "records": records,
        "next_after": next_after,
    })))
}

/// The page of records after line `after` that `filter` passes, the line to go on after (when
/// there are more), and the chain's state.
fn read(
    log: &std::path::Path,
    key: Option<PathBuf>,
    filter: &Filter,
    after: u64,
    limit: usize,
) -> Result<(Vec<Value>, Option<u64>, Report), Problem> {
    let key = key
        .as_deref()
        .map(AuditKey::load)
        .transpose()
        .map_err(|e| Problem::internal(format!("cannot read the audit key: {e}")))?;
    let report =
        verify_with_key(log, None, key.as_ref()).map_err(|e| Problem::internal(e.to_string()))?;
    let mut records = Vec::new();
    let mut next_after = None;
    for entry in entries(log).map_err(|e| Problem::internal(e.to_string()))? {
        let entry = entry.map_err(|e| Problem::internal(e.to_string()))?;
        if entry.line <= after {
            continue;
        }
        let Ok(record) = &entry.record else {
            continue;
        };
        if !filter.matches(record) {
            continue;
        }
        if records.len() == limit {
            next_after = Some(entry.line - 1);
            break;
        }
        records.push(json!({"line": entry.line, "record": record}));
    }
    Ok((records, next_after, report))
}

/// The chain's state as the API shows it.
fn verification(report: &Report) -> Value {
    json!({
        "intact": report.problem.is_none(),
        "intact_records": report.intact,
        "keyed_records": report.keyed,
        "unkeyed_records": report.unkeyed,
        "head": report.head.as_ref().map(|h| json!({"seq": h.seq, "hash": h.hash})),
        "problem": report.problem.as_ref().map(ToString::to_string),
    })
}
