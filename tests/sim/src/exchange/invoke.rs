//! `InvokeCommand` (docs/protocol.md §1–§2): authentication, RBAC, throttling, dispatch to the
//! cmdlet, paging, and the exact success and error envelopes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::control::{Fault, Hold, LogEntry};
use crate::directory::Access;
use crate::entra::issuer::{BearerError, Caller, Resource};
use crate::state::SimState;
use crate::time::{iso, now};

use super::cmdlets::{self, Context, Run, Surface};
use super::envelope::{self, PageBase};
use super::error::CmdletError;
use super::paging::{self, Cursor, EXPIRED_CURSOR, Source, TRUNCATION_WARNING};
use super::params::Params;
use super::responses::{
    bad_request, challenge, concurrency_response, error_response, forbidden, service_unavailable,
    success_response, throttled_response,
};
use super::row::Select;
use super::throttle::Budget;

use super::auth::{Refusal, authenticate};

/// What one request produced, before it becomes an HTTP response.
enum Outcome {
    /// 200 with a JSON body.
    Page {
        body: Vec<u8>,
        budget: Budget,
        concurrency: usize,
    },
    /// A complete response (errors, challenges, redirects).
    Done(Response),
}

/// The URL path segments that identify where a request came in.
pub struct Endpoint {
    /// Which API.
    pub surface: Surface,
    /// The path before `/adminapi/...` (empty for Exchange, `/compliance/<region>` for S&C).
    pub prefix: String,
}

/// `POST|GET /adminapi/beta/{tenant}/InvokeCommand`.
pub async fn exchange(
    State(sim): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    method: Method,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let endpoint = Endpoint {
        surface: Surface::Exchange,
        prefix: String::new(),
    };
    handle(&sim, &endpoint, &tenant, &method, &query, &headers, &body).await
}

/// `POST|GET /compliance/{region}/adminapi/beta/{tenant}/InvokeCommand`.
pub async fn compliance(
    State(sim): State<Arc<SimState>>,
    Path((region, tenant)): Path<(String, String)>,
    method: Method,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let home = sim
        .directory
        .read()
        .tenant(&tenant)
        .map(|t| t.compliance_region.clone());
    if let Some(home) = home.filter(|h| !h.eq_ignore_ascii_case(&region)) {
        return compliance_redirect(&sim, &home, &tenant, &query);
    }
    let endpoint = Endpoint {
        surface: Surface::Compliance,
        prefix: format!("/compliance/{region}"),
    };
    handle(&sim, &endpoint, &tenant, &method, &query, &headers, &body).await
}

/// `POST|GET /compliance/adminapi/beta/{tenant}/InvokeCommand` and `.../EXOBanner(...)`: the
/// global front door that redirects a tenant to its regional host.
pub async fn compliance_front_door(
    State(sim): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let region = sim
        .directory
        .read()
        .tenant(&tenant)
        .map(|t| t.compliance_region.clone());
    match region {
        Some(region) => compliance_redirect(&sim, &region, &tenant, &query),
        None => challenge(&BearerError::WrongTenant, Resource::Compliance),
    }
}

/// `/adminapi/v1.0/{tenant}/InvokeCommand`: InvokeCommand exists only under `beta`.
pub async fn v1_not_allowed() -> Response {
    (StatusCode::METHOD_NOT_ALLOWED, [("Allow", "")]).into_response()
}

fn compliance_redirect(
    sim: &SimState,
    region: &str,
    tenant: &str,
    query: &HashMap<String, String>,
) -> Response {
    let mut location = format!(
        "{}/compliance/{region}/adminapi/beta/{tenant}/InvokeCommand",
        sim.base_url
    );
    if let Some(token) = query.get("$skiptoken") {
        location.push_str(&format!("?$skiptoken={token}"));
    }
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert("Location", value);
    }
    response
}

#[allow(clippy::too_many_arguments)]
/// Serves one InvokeCommand request (also each sub-request of a `$batch`).
pub async fn handle(
    sim: &Arc<SimState>,
    endpoint: &Endpoint,
    tenant_text: &str,
    method: &Method,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let parsed_body: Option<Value> = serde_json::from_slice(body).ok();
    let cmdlet_name = parsed_body
        .as_ref()
        .and_then(|b| b.pointer("/CmdletInput/CmdletName"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let parameters = parsed_body
        .as_ref()
        .and_then(|b| b.pointer("/CmdletInput/Parameters"))
        .cloned();
    let skiptoken = query.get("$skiptoken").cloned();
    let hold = match sim.faults.hold() {
        // A kill point by request count: past the nth, nothing is done or answered.
        Hold::Before(release) => {
            release.wait().await;
            return service_unavailable(StatusCode::SERVICE_UNAVAILABLE);
        }
        hold => hold,
    };
    let mut entry = LogEntry {
        time: iso(now()),
        endpoint: match endpoint.surface {
            Surface::Exchange => "invoke".into(),
            Surface::Compliance => "compliance".into(),
        },
        method: method.to_string(),
        client_request_id: header(headers, "client-request-id"),
        connection_id: header(headers, "connection-id"),
        anchor_mailbox: header(headers, "x-anchormailbox"),
        app_id: None,
        tenant: tenant_text.to_string(),
        cmdlet: cmdlet_name.clone(),
        parameters,
        next_page: skiptoken.is_some(),
        status: 0,
        fault: None,
        aadsts: None,
    };

    let fault = sim.faults.next_invoke_fault();
    entry.fault = fault;
    let outcome = match fault {
        Some(Fault::Throttle) => {
            Outcome::Done(throttled_response(sim.faults.settings().retry_after, None))
        }
        Some(Fault::Unavailable) => {
            Outcome::Done(service_unavailable(StatusCode::SERVICE_UNAVAILABLE))
        }
        Some(Fault::GatewayTimeout) => {
            Outcome::Done(service_unavailable(StatusCode::GATEWAY_TIMEOUT))
        }
        Some(Fault::Concurrency) => Outcome::Done(concurrency_response()),
        Some(Fault::Drop) | None => {
            let request = Request {
                endpoint,
                tenant_text,
                method,
                headers,
                body: parsed_body.as_ref(),
                skiptoken: skiptoken.as_deref(),
                query,
            };
            run(sim, &request, &mut entry).await
        }
    };
    let response = match outcome {
        Outcome::Page {
            body,
            budget,
            concurrency,
        } => {
            let drop_mid_body = fault == Some(Fault::Drop);
            success_response(body, budget, concurrency, drop_mid_body)
        }
        Outcome::Done(response) => response,
    };
    entry.status = response.status().as_u16();
    sim.log.push(entry);
    if let Hold::AfterLogging(release) = hold {
        release.wait().await;
    }
    let answer_latency = sim.faults.settings().answer_latency_ms;
    if answer_latency > 0 {
        tokio::time::sleep(Duration::from_millis(answer_latency)).await;
    }
    response
}

struct Request<'a> {
    endpoint: &'a Endpoint,
    tenant_text: &'a str,
    method: &'a Method,
    headers: &'a HeaderMap,
    body: Option<&'a Value>,
    skiptoken: Option<&'a str>,
    query: &'a HashMap<String, String>,
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn resource_of(surface: Surface) -> Resource {
    match surface {
        Surface::Exchange => Resource::Exchange,
        Surface::Compliance => Resource::Compliance,
    }
}

async fn run(sim: &Arc<SimState>, request: &Request<'_>, entry: &mut LogEntry) -> Outcome {
    let now = now();
    let resource = resource_of(request.endpoint.surface);
    let caller = match authenticate(sim, request.headers, request.tenant_text, resource, now) {
        Ok(caller) => caller,
        Err(response) => return Outcome::Done(*response),
    };
    entry.app_id = Some(caller.app_id.to_string());
    let budget = match sim.throttle.take(caller.app_id) {
        Ok(budget) => budget,
        Err(refused) => {
            return Outcome::Done(throttled_response(
                refused.retry_after.ceil().max(1.0),
                Some(refused.budget),
            ));
        }
    };
    let Some(slot) = sim.throttle.enter(caller.tenant_id) else {
        return Outcome::Done(concurrency_response());
    };
    // A slow backend holds its concurrency slot for as long as it is slow.
    let latency = sim.faults.settings().page_latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let result = match request.skiptoken {
        Some(token) => next_page(sim, request, &caller, token, now),
        None => first_page(sim, request, &caller, now),
    };
    match result {
        Ok(body) => Outcome::Page {
            body,
            budget,
            concurrency: slot.count,
        },
        Err(response) => Outcome::Done(*response),
    }
}

fn refuse(error: &CmdletError) -> Refusal {
    Box::new(error_response(error))
}

/// The page base URL for this request.
fn page_base(sim: &SimState, request: &Request<'_>) -> PageBase {
    PageBase(format!(
        "{}{}/adminapi/beta/{}",
        sim.base_url, request.endpoint.prefix, request.tenant_text
    ))
}

/// The cmdlet name and parameters of a POST body.
fn cmdlet_input<'a>(
    request: &Request<'a>,
    empty: &'a Map<String, Value>,
) -> Result<(&'a str, &'a Map<String, Value>), Refusal> {
    if *request.method != Method::POST {
        return Err(refuse(&bad_request(
            "GET is only valid on an @odata.nextLink (with $skiptoken); run cmdlets with POST.",
        )));
    }
    let input = request.body.and_then(|b| b.get("CmdletInput")).ok_or_else(|| {
        refuse(&bad_request(
            "The request body must be {\"CmdletInput\": {\"CmdletName\": ..., \"Parameters\": {...}}}.",
        ))
    })?;
    let name = input
        .get("CmdletName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let params = match input.get("Parameters") {
        None | Some(Value::Null) => empty,
        Some(Value::Object(map)) => map,
        Some(_) => return Err(refuse(&bad_request("'Parameters' must be a JSON object."))),
    };
    Ok((name, params))
}

/// Runs the cmdlet and returns its first page.
fn first_page(
    sim: &Arc<SimState>,
    request: &Request<'_>,
    caller: &Caller,
    now: i64,
) -> Result<Vec<u8>, Refusal> {
    let empty = Map::new();
    let (name, params_map) = cmdlet_input(request, &empty)?;
    let verbose = sim.verbose_authz.load(Ordering::Relaxed);
    let spec = cmdlets::find(name, request.endpoint.surface)
        .ok_or_else(|| Box::new(forbidden(verbose, caller.app_id, name, true)))?;
    let wrong_tenant = || Box::new(challenge(&BearerError::WrongTenant, caller.resource));
    let compliance = request.endpoint.surface == Surface::Compliance;
    let access = {
        let directory = sim.directory.read();
        let tenant = directory
            .tenant(request.tenant_text)
            .ok_or_else(wrong_tenant)?;
        tenant
            .apps
            .iter()
            .find(|a| a.client_id == caller.app_id)
            .map_or(Access::None, |a| a.access(compliance))
    };
    let allowed = spec.allowed(access);
    if !allowed {
        return Err(Box::new(forbidden(
            verbose,
            caller.app_id,
            spec.name,
            false,
        )));
    }
    let params = Params::new(spec.name, params_map, spec.params).map_err(|e| refuse(&e))?;
    if spec.writes() && params.bool("Confirm").ok().flatten() == Some(true) {
        return Ok(envelope::confirmation(&page_base(sim, request), spec.name));
    }
    let context = Context {
        now,
        caller: caller.app_name.clone(),
    };
    let output = match spec.run {
        Run::Read(f) => {
            let directory = sim.directory.read();
            f(
                directory
                    .tenant(request.tenant_text)
                    .ok_or_else(wrong_tenant)?,
                &params,
                &context,
            )
        }
        Run::Write(f) => {
            let mut directory = sim.directory.write();
            f(
                directory
                    .tenant_mut(request.tenant_text)
                    .ok_or_else(wrong_tenant)?,
                &params,
                &context,
            )
        }
    }
    .map_err(|e| refuse(&e))?;

    let select = request
        .query
        .get("$select")
        .map(|s| Select::only(s.split(',').map(str::trim)))
        .unwrap_or_default();
    let cap = output.result_size.cap();
    let matched = match &output.rows {
        cmdlets::Rows::Recipients { ids, .. } => ids.len(),
        cmdlets::Rows::Rendered(rows) => rows.len(),
    };
    let mut final_warnings = output.warnings;
    if matched > cap {
        final_warnings.push(TRUNCATION_WARNING.to_string());
    }
    let cursor = Cursor {
        tenant: caller.tenant_id,
        app: caller.app_id,
        cmdlet: spec.name.to_string(),
        source: Source::from_rows(output.rows, cap, &select),
        page_size: paging::page_size(request.headers.get("prefer").and_then(|v| v.to_str().ok())),
        final_warnings,
        created: now,
    };
    let more = cursor.page_size < cursor.source.len();
    let next = more.then(|| sim.cursors.open(cursor.clone(), now, cursor_ttl(sim)));
    Ok(render(sim, request, &cursor, 0, next.as_deref()))
}

fn cursor_ttl(sim: &SimState) -> i64 {
    i64::try_from(sim.faults.settings().cursor_ttl_secs).unwrap_or(i64::MAX)
}

/// Renders a page under a read lock of the directory.
fn render(
    sim: &SimState,
    request: &Request<'_>,
    cursor: &Cursor,
    position: usize,
    next: Option<&str>,
) -> Vec<u8> {
    let directory = sim.directory.read();
    let tenant = directory.tenants.iter().find(|t| t.id == cursor.tenant);
    envelope::page(&page_base(sim, request), tenant, cursor, position, next)
}

/// Serves a later page from a skip token.
fn next_page(
    sim: &Arc<SimState>,
    request: &Request<'_>,
    caller: &Caller,
    token: &str,
    now: i64,
) -> Result<Vec<u8>, Refusal> {
    let expired = || {
        refuse(&CmdletError {
            status: 400,
            code: "BadRequest",
            message: EXPIRED_CURSOR,
            error_id: "",
            exception: "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
            text: EXPIRED_CURSOR.to_string(),
            in_details: true,
        })
    };
    let (id, cursor, position) = sim
        .cursors
        .lookup(token, now, cursor_ttl(sim))
        .ok_or_else(expired)?;
    if cursor.app != caller.app_id || cursor.tenant != caller.tenant_id {
        return Err(expired());
    }
    if *request.method == Method::POST {
        let same_cmdlet = request
            .body
            .and_then(|b| b.pointer("/CmdletInput/CmdletName"))
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(&cursor.cmdlet));
        if !same_cmdlet {
            return Err(expired());
        }
    }
    let more = position + cursor.page_size < cursor.source.len();
    Ok(render(
        sim,
        request,
        &cursor,
        position,
        more.then_some(id.as_str()),
    ))
}
