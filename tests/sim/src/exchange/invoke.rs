//! `InvokeCommand` (PROTOCOL.md §1–§2): authentication, RBAC, throttling, dispatch to the
//! cmdlet, paging, and the exact success and error envelopes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::control::{Fault, LogEntry};
use crate::directory::Access;
use crate::entra::issuer::{BearerError, Caller, Resource};
use crate::state::SimState;
use crate::time::{iso, now};

use super::cmdlets::{self, Context, Run, Surface};
use super::error::CmdletError;
use super::paging::{self, Cursor, EXPIRED_CURSOR, Source, TRUNCATION_WARNING};
use super::params::Params;
use super::row::Select;
use super::throttle::Budget;

/// What one request produced, before it becomes an HTTP response.
enum Outcome {
    /// 200 with a JSON body.
    Page { body: Vec<u8>, budget: Budget, concurrency: usize },
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
    let endpoint = Endpoint { surface: Surface::Exchange, prefix: String::new() };
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
    let home = sim.directory.read().tenant(&tenant).map(|t| t.compliance_region.clone());
    if let Some(home) = home.filter(|h| !h.eq_ignore_ascii_case(&region)) {
        return compliance_redirect(&sim, &home, &tenant, &query);
    }
    let endpoint = Endpoint { surface: Surface::Compliance, prefix: format!("/compliance/{region}") };
    handle(&sim, &endpoint, &tenant, &method, &query, &headers, &body).await
}

/// `POST|GET /compliance/adminapi/beta/{tenant}/InvokeCommand` and `.../EXOBanner(...)`: the
/// global front door that redirects a tenant to its regional host.
pub async fn compliance_front_door(
    State(sim): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let region = sim.directory.read().tenant(&tenant).map(|t| t.compliance_region.clone());
    match region {
        Some(region) => compliance_redirect(&sim, &region, &tenant, &query),
        None => challenge(&BearerError::WrongTenant, Resource::Compliance),
    }
}

/// `/adminapi/v1.0/{tenant}/InvokeCommand`: InvokeCommand exists only under `beta`.
pub async fn v1_not_allowed() -> Response {
    (StatusCode::METHOD_NOT_ALLOWED, [("Allow", "")]).into_response()
}

fn compliance_redirect(sim: &SimState, region: &str, tenant: &str, query: &HashMap<String, String>) -> Response {
    let mut location = format!("{}/compliance/{region}/adminapi/beta/{tenant}/InvokeCommand", sim.base_url);
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
async fn handle(
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
    let parameters = parsed_body.as_ref().and_then(|b| b.pointer("/CmdletInput/Parameters")).cloned();
    let skiptoken = query.get("$skiptoken").cloned();
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
        Some(Fault::Throttle) => Outcome::Done(throttled_response(sim.faults.settings().retry_after, None)),
        Some(Fault::Unavailable) => Outcome::Done(service_unavailable(StatusCode::SERVICE_UNAVAILABLE)),
        Some(Fault::GatewayTimeout) => Outcome::Done(service_unavailable(StatusCode::GATEWAY_TIMEOUT)),
        Some(Fault::Concurrency) => Outcome::Done(concurrency_response()),
        Some(Fault::Drop) | None => {
            let request = Request { endpoint, tenant_text, method, headers, body: parsed_body.as_ref(), skiptoken: skiptoken.as_deref(), query };
            run(sim, &request, &mut entry).await
        }
    };
    let response = match outcome {
        Outcome::Page { body, budget, concurrency } => {
            let drop_mid_body = fault == Some(Fault::Drop);
            success_response(body, budget, concurrency, drop_mid_body)
        }
        Outcome::Done(response) => response,
    };
    entry.status = response.status().as_u16();
    sim.log.push(entry);
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
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
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
    let caller = match authenticate(sim, request, resource, now) {
        Ok(caller) => caller,
        Err(response) => return Outcome::Done(response),
    };
    entry.app_id = Some(caller.app_id.to_string());
    let budget = match sim.throttle.take(caller.app_id) {
        Ok(budget) => budget,
        Err(refused) => return Outcome::Done(throttled_response(refused.retry_after.ceil().max(1.0), Some(refused.budget))),
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
        Ok(body) => Outcome::Page { body, budget, concurrency: slot.count },
        Err(response) => Outcome::Done(response),
    }
}

/// Checks the bearer token and `Exchange.ManageAsApp`.
fn authenticate(sim: &SimState, request: &Request<'_>, resource: Resource, now: i64) -> Result<Caller, Response> {
    let token = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(token) = token else {
        return Err(challenge(&BearerError::Missing, resource));
    };
    let directory = sim.directory.read();
    let Some(tenant) = directory.tenant(request.tenant_text) else {
        return Err(challenge(&BearerError::WrongTenant, resource));
    };
    let caller = sim.issuer.validate(token, resource, tenant, now).map_err(|e| challenge(&e, resource))?;
    if !caller.can_manage_as_app() {
        return Err(missing_app_role(resource));
    }
    Ok(caller)
}

/// A 401 with Exchange's Bearer challenge (PROTOCOL.md §2.7).
fn challenge(error: &BearerError, resource: Resource) -> Response {
    let client_id = match resource {
        Resource::Exchange => "00000002-0000-0ff1-ce00-000000000000",
        Resource::Compliance => "80ccca67-54bd-44ab-8625-4b79c4dc7775",
    };
    let mut response = StatusCode::UNAUTHORIZED.into_response();
    let h = response.headers_mut();
    let www = format!(
        "Bearer client_id=\"{client_id}\", trusted_issuers=\"00000001-0000-0000-c000-000000000000@*\", token_types=\"app_asserted_user_v1 service_asserted_app_v1\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", error=\"invalid_token\""
    );
    if let Ok(v) = HeaderValue::from_str(&www) {
        h.insert("WWW-Authenticate", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("2000003;reason=\"{error}\";error_category=\"invalid_token\"")) {
        h.insert("x-ms-diagnostics", v);
    }
    response
}

fn missing_app_role(resource: Resource) -> Response {
    let mut response = challenge(&BearerError::Malformed, resource);
    if let Ok(v) = HeaderValue::from_str(
        "2000008;reason=\"The token does not contain the app role Exchange.ManageAsApp: grant admin consent to the Office 365 Exchange Online application permission Exchange.ManageAsApp.\";error_category=\"insufficient_auth_strength\"",
    ) {
        response.headers_mut().insert("x-ms-diagnostics", v);
    }
    response
}

/// 403 as Exchange sends it for a missing role or an unknown cmdlet: a body of NUL bytes, or
/// in verbose mode the AuthZ text in an OData envelope.
fn forbidden(sim: &SimState, app_id: Uuid, cmdlet: &str, unknown: bool) -> Response {
    if !sim.verbose_authz.load(Ordering::Relaxed) {
        return (StatusCode::FORBIDDEN, Body::from(vec![0u8; 8])).into_response();
    }
    let text = if unknown {
        format!("[AuthZRequestId={}][FailureCategory=AuthZ-CmdletAccessDeniedException] The term '{cmdlet}' is not recognized as a name of a cmdlet.", Uuid::new_v4())
    } else {
        format!("[AuthZRequestId={}][FailureCategory=AuthZ-CmdletAccessDeniedException] The role assigned to application {app_id} isn't supported in this scenario. Please check online documentation for assigning correct Directory Roles to Azure AD Application for EXO App-Only Authentication.", Uuid::new_v4())
    };
    let error = CmdletError {
        status: 403,
        code: "Forbidden",
        message: "Error executing cmdlet",
        error_id: "",
        exception: "Microsoft.Exchange.Configuration.Tasks.CmdletAccessDeniedException",
        text,
        in_details: true,
    };
    error_response(&error)
}

fn error_response(error: &CmdletError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, axum::Json(error.body())).into_response();
    let h = response.headers_mut();
    h.insert("x-ExceptionType", HeaderValue::from_static(error.exception));
    h.insert("request-id", header_value(&Uuid::new_v4().to_string()));
    h.insert("X-CalculatedBETarget", HeaderValue::from_static("BN8PR01MB1234.namprd01.prod.outlook.com"));
    response
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn throttled_response(retry_after: f64, budget: Option<Budget>) -> Response {
    let error = CmdletError {
        status: 429,
        code: "TooManyRequests",
        message: "Too many requests. Please retry after some time.",
        error_id: "",
        exception: "Microsoft.Exchange.Admin.OData.Core.ThrottlingException",
        text: format!("The request was throttled. Retry after {retry_after} seconds."),
        in_details: true,
    };
    let mut response = error_response(&error);
    let h = response.headers_mut();
    h.insert("Retry-After", header_value(&format_seconds(retry_after)));
    if let Some(budget) = budget {
        insert_budget(h, budget);
    }
    response
}

fn format_seconds(seconds: f64) -> String {
    if seconds.fract() == 0.0 { format!("{}", seconds as u64) } else { format!("{seconds}") }
}

fn concurrency_response() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [("Retry-After", "1"), ("Content-Type", "text/plain")],
        "You have reached the maximum number of concurrent requests per tenant. Please wait and try again",
    )
        .into_response()
}

fn service_unavailable(status: StatusCode) -> Response {
    let text = if status == StatusCode::GATEWAY_TIMEOUT { "504 Gateway Timeout" } else { "503 Service Unavailable" };
    (status, [("Content-Type", "text/html")], format!("<html><body><h1>{text}</h1></body></html>")).into_response()
}

fn insert_budget(h: &mut HeaderMap, budget: Budget) {
    h.insert("Rate-Limit-Limit", header_value(&budget.limit.to_string()));
    h.insert("Rate-Limit-Remaining", header_value(&budget.remaining.to_string()));
    h.insert("Rate-Limit-Reset", header_value(&iso(now() + budget.reset_in.ceil() as i64)));
}

fn success_response(body: Vec<u8>, budget: Budget, concurrency: usize, drop_mid_body: bool) -> Response {
    let mut response = if drop_mid_body {
        use futures_util::StreamExt;
        let half = Bytes::from(body[..body.len() / 2].to_vec());
        // The status line and half the body go out first; then the connection is cut.
        let cut = futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection dropped by fault injection"))
        });
        Response::new(Body::from_stream(futures_util::stream::iter([Ok::<Bytes, std::io::Error>(half)]).chain(cut)))
    } else {
        Response::new(Body::from(body))
    };
    let h = response.headers_mut();
    h.insert(
        "Content-Type",
        HeaderValue::from_static("application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"),
    );
    h.insert("OData-Version", HeaderValue::from_static("4.0"));
    h.insert("request-id", header_value(&Uuid::new_v4().to_string()));
    h.insert("X-CalculatedBETarget", HeaderValue::from_static("BN8PR01MB1234.namprd01.prod.outlook.com"));
    h.insert("X-BackEndHttpStatus", HeaderValue::from_static("200"));
    h.insert("X-FEServer", HeaderValue::from_static("BN8PR05CA0001"));
    h.insert("X-Concurrencycount", header_value(&concurrency.to_string()));
    h.insert("X-Combinedapponlyconcurrencycount", header_value(&concurrency.to_string()));
    h.insert("Preference-Applied", HeaderValue::from_static("odata.include-annotations=\"*\""));
    insert_budget(h, budget);
    response
}

/// Runs the cmdlet and returns its first page.
fn first_page(sim: &Arc<SimState>, request: &Request<'_>, caller: &Caller, now: i64) -> Result<Vec<u8>, Response> {
    if *request.method != Method::POST {
        return Err(error_response(&bad_request("GET is only valid on an @odata.nextLink (with $skiptoken); run cmdlets with POST.")));
    }
    let input = request
        .body
        .and_then(|b| b.get("CmdletInput"))
        .ok_or_else(|| error_response(&bad_request("The request body must be {\"CmdletInput\": {\"CmdletName\": ..., \"Parameters\": {...}}}.")))?;
    let name = input.get("CmdletName").and_then(Value::as_str).unwrap_or_default();
    let empty = Map::new();
    let params_map = match input.get("Parameters") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => return Err(error_response(&bad_request("'Parameters' must be a JSON object."))),
    };
    let Some(spec) = cmdlets::find(name, request.endpoint.surface) else {
        return Err(forbidden(sim, caller.app_id, name, true));
    };
    let compliance = request.endpoint.surface == Surface::Compliance;
    let context = Context { now, caller: caller.app_name.clone() };
    let tenant_id;
    let output = {
        let access = {
            let directory = sim.directory.read();
            let tenant = directory.tenant(request.tenant_text).ok_or_else(|| challenge(&BearerError::WrongTenant, caller.resource))?;
            tenant_id = tenant.id;
            tenant.apps.iter().find(|a| a.client_id == caller.app_id).map_or(Access::None, |a| a.access(compliance))
        };
        let allowed = match access {
            Access::None => false,
            Access::Read => !spec.writes(),
            Access::Write => true,
        };
        if !allowed {
            return Err(forbidden(sim, caller.app_id, spec.name, false));
        }
        let params = Params::new(spec.name, params_map, spec.params).map_err(|e| error_response(&e))?;
        if spec.writes() && params.bool("Confirm").ok().flatten() == Some(true) {
            return Ok(confirmation_page(sim, request, spec.name));
        }
        let result = match spec.run {
            Run::Read(f) => {
                let directory = sim.directory.read();
                let tenant = directory.tenant(request.tenant_text).ok_or_else(|| challenge(&BearerError::WrongTenant, caller.resource))?;
                f(tenant, &params, &context)
            }
            Run::Write(f) => {
                let mut directory = sim.directory.write();
                let tenant = directory.tenant_mut(request.tenant_text).ok_or_else(|| challenge(&BearerError::WrongTenant, caller.resource))?;
                f(tenant, &params, &context)
            }
        };
        result.map_err(|e| error_response(&e))?
    };
    let select = request
        .query
        .get("$select")
        .map(|s| Select::only(s.split(',').map(str::trim)))
        .unwrap_or_default();
    let cap = output.result_size.cap();
    let total_before_cap = match &output.rows {
        cmdlets::Rows::Recipients { ids, .. } => ids.len(),
        cmdlets::Rows::Rendered(rows) => rows.len(),
    };
    let mut final_warnings = output.warnings;
    if total_before_cap > cap {
        final_warnings.push(TRUNCATION_WARNING.to_string());
    }
    let source = Source::from_rows(output.rows, cap, &select);
    let page_size = paging::page_size(request.headers.get("prefer").and_then(|v| v.to_str().ok()));
    let cursor = Cursor {
        tenant: tenant_id,
        app: caller.app_id,
        cmdlet: spec.name.to_string(),
        source,
        page_size,
        final_warnings,
        created: now,
    };
    Ok(render_page(sim, request, cursor, 0, now))
}

/// Serves a later page from a skip token.
fn next_page(sim: &Arc<SimState>, request: &Request<'_>, caller: &Caller, token: &str, now: i64) -> Result<Vec<u8>, Response> {
    let ttl = i64::try_from(sim.faults.settings().cursor_ttl_secs).unwrap_or(i64::MAX);
    let expired = || error_response(&CmdletError {
        status: 400,
        code: "BadRequest",
        message: EXPIRED_CURSOR,
        error_id: "",
        exception: "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
        text: EXPIRED_CURSOR.to_string(),
        in_details: true,
    });
    let (cursor, position) = sim.cursors.lookup(token, now, ttl).ok_or_else(expired)?;
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
    Ok(render_page(sim, request, (*cursor).clone(), position, now))
}

fn render_page(sim: &Arc<SimState>, request: &Request<'_>, cursor: Cursor, position: usize, now: i64) -> Vec<u8> {
    let total = cursor.source.len();
    let end = (position + cursor.page_size).min(total);
    let more = end < total;
    let mut buf = Vec::with_capacity(1024 + (end - position) * 2048);
    let tenant_segment = request.tenant_text;
    let base = format!("{}{}/adminapi/beta/{tenant_segment}", sim.base_url, request.endpoint.prefix);
    buf.extend_from_slice(b"{\"@odata.context\":");
    push_str(&mut buf, &format!("{base}/$metadata#Collection(Exchange.GenericHashTable)"));
    buf.extend_from_slice(b",\"adminapi.warnings@odata.type\":\"#Collection(String)\",\"@adminapi.warnings\":");
    let warnings: &[String] = if more { &[] } else { &cursor.final_warnings };
    buf.extend_from_slice(serde_json::to_string(warnings).unwrap_or_else(|_| "[]".into()).as_bytes());
    buf.extend_from_slice(b",\"value\":[");
    {
        let directory = sim.directory.read();
        if let Some(tenant) = directory.tenants.iter().find(|t| t.id == cursor.tenant) {
            cursor.source.render_range(tenant, position, end, &mut buf);
        }
    }
    buf.push(b']');
    if more {
        let ttl = i64::try_from(sim.faults.settings().cursor_ttl_secs).unwrap_or(i64::MAX);
        let id = if position == 0 {
            sim.cursors.open(cursor, now, ttl)
        } else {
            cursor_id_of(request.skiptoken)
        };
        buf.extend_from_slice(b",\"@odata.nextLink\":");
        push_str(&mut buf, &format!("{base}/InvokeCommand?$skiptoken={}", paging::skiptoken(&id, end)));
    }
    buf.push(b'}');
    buf
}

/// The cursor id inside a skip token (already validated by `lookup`).
fn cursor_id_of(token: Option<&str>) -> String {
    token
        .and_then(crate::jwt::b64url_decode)
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.split(':').nth(1).map(str::to_string))
        .unwrap_or_default()
}

fn confirmation_page(sim: &SimState, request: &Request<'_>, cmdlet: &str) -> Vec<u8> {
    let base = format!("{}{}/adminapi/beta/{}", sim.base_url, request.endpoint.prefix, request.tenant_text);
    let body = serde_json::json!({
        "@odata.context": format!("{base}/$metadata#Collection(Exchange.GenericHashTable)"),
        "adminapi.warnings@odata.type": "#Collection(String)",
        "@adminapi.warnings": [],
        "@adminapi.confirmationmessage": format!("Are you sure you want to perform this action? {cmdlet}: send the request again with \"Confirm\": false to proceed."),
        "value": [],
    });
    body.to_string().into_bytes()
}

fn bad_request(text: &str) -> CmdletError {
    CmdletError {
        status: 400,
        code: "BadRequest",
        message: "Invalid Operation",
        error_id: "",
        exception: "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
        text: text.to_string(),
        in_details: true,
    }
}

fn push_str(buf: &mut Vec<u8>, text: &str) {
    let _ = serde_json::to_writer(&mut *buf, text);
}
