//! Entra ID endpoints (docs/protocol.md §4, §6): OpenID discovery, JWKS, the v2.0 token endpoint for
//! the client-credentials grant, and a managed-identity endpoint; and, through the control
//! endpoint, callers' tokens for service API apps (`callers`) and signing key rolls (`signing`).

pub mod aadsts;
pub mod assertion;
mod caller_claims;
pub mod callers;
pub mod issuer;
pub mod signing;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::control::LogEntry;
use crate::directory::Tenant;
use crate::state::SimState;
use crate::time::{iso, now};
use aadsts::AadError;
use issuer::{ClientAuth, Resource};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn aad_response(error: &AadError, headers: &HeaderMap) -> Response {
    let correlation = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok());
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(error.body(now(), correlation))).into_response()
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub async fn openid_configuration(
    State(sim): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let directory = sim.directory.read();
    let Some(t) = directory.tenant(&tenant) else {
        log_discovery(&sim, "openid_configuration", &tenant, &headers, 400);
        return aad_response(&AadError::tenant_not_found(&tenant, true), &headers);
    };
    log_discovery(&sim, "openid_configuration", &tenant, &headers, 200);
    let base = &sim.base_url;
    let id = t.id;
    Json(json!({
        "token_endpoint": format!("{base}/{id}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{id}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{id}/v2.0"),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/{id}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{id}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{base}/{id}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
    }))
    .into_response()
}

/// `GET /{tenant}/discovery/v2.0/keys`: the published signing keys (the same for every
/// tenant, as Entra's are). Logged, so tests can count how often a validator fetches them.
pub async fn jwks(
    State(sim): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Json<Value> {
    log_discovery(&sim, "jwks", &tenant, &headers, 200);
    Json(sim.issuer.jwks())
}

/// Records a discovery request (`openid_configuration` or `jwks`) in the request log.
fn log_discovery(sim: &SimState, endpoint: &str, tenant: &str, headers: &HeaderMap, status: u16) {
    sim.log.push(LogEntry {
        time: iso(now()),
        endpoint: endpoint.into(),
        method: "GET".into(),
        client_request_id: header(headers, "client-request-id"),
        connection_id: None,
        anchor_mailbox: None,
        app_id: None,
        tenant: tenant.to_string(),
        cmdlet: None,
        parameters: None,
        next_page: false,
        status,
        fault: None,
        aadsts: None,
    });
}

/// The one resource a client-credentials scope names.
fn scope_resource(scope: &str, tenant: &Tenant) -> Result<Resource, AadError> {
    let mut resources = Vec::new();
    for item in scope.split_whitespace() {
        let Some(resource) = item.strip_suffix("/.default") else {
            return Err(AadError::invalid_scope(scope));
        };
        match Resource::from_identifier(resource) {
            Some(r) => {
                if !resources.contains(&r) {
                    resources.push(r);
                }
            }
            None => return Err(AadError::unknown_resource(resource, &tenant.initial_domain)),
        }
    }
    match resources.as_slice() {
        [] => Err(AadError::missing_parameter("scope")),
        [one] => Ok(*one),
        _ => Err(AadError::multiple_resources(scope)),
    }
}

/// `POST /{tenant}/oauth2/v2.0/token` (client credentials with an assertion or a secret).
pub async fn token(
    State(sim): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let result = issue_token(&sim, &tenant, &form);
    let (status, aadsts) = match &result {
        Ok(_) => (200, None),
        Err(e) => (e.status, Some(e.code)),
    };
    sim.log.push(LogEntry {
        time: iso(now()),
        endpoint: "token".into(),
        method: "POST".into(),
        client_request_id: header(&headers, "client-request-id"),
        connection_id: None,
        anchor_mailbox: None,
        app_id: form.get("client_id").cloned(),
        tenant: tenant.clone(),
        cmdlet: None,
        parameters: None,
        next_page: false,
        status,
        fault: None,
        aadsts,
    });
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) if e.status == 429 => {
            let mut response = aad_response(&e, &headers);
            response
                .headers_mut()
                .insert("Retry-After", axum::http::HeaderValue::from_static("1"));
            response
        }
        Err(e) => aad_response(&e, &headers),
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn issue_token(
    sim: &SimState,
    tenant_text: &str,
    form: &HashMap<String, String>,
) -> Result<Value, AadError> {
    if sim.faults.token_throttled() {
        return Err(AadError { status: 429, error: "temporarily_unavailable", code: 50196, text: "The server is temporarily unable to service your request. Retry after the interval in Retry-After.".into() });
    }
    let directory = sim.directory.read();
    let tenant = directory
        .tenant(tenant_text)
        .ok_or_else(|| AadError::tenant_not_found(tenant_text, false))?;
    let grant = form
        .get("grant_type")
        .ok_or_else(|| AadError::missing_parameter("grant_type"))?;
    if grant != "client_credentials" {
        return Err(AadError::unsupported_grant(grant));
    }
    let client_id = form
        .get("client_id")
        .ok_or_else(|| AadError::missing_parameter("client_id"))?;
    let app = tenant
        .app(client_id)
        .filter(|a| !a.managed_identity)
        .ok_or_else(|| AadError::app_not_found(client_id, &tenant.initial_domain))?;
    let scope = form
        .get("scope")
        .ok_or_else(|| AadError::missing_parameter("scope"))?;
    let resource = scope_resource(scope, tenant)?;
    let now = now();
    let auth = match (form.get("client_assertion"), form.get("client_secret")) {
        (Some(assertion), _) => {
            let kind = form
                .get("client_assertion_type")
                .map(String::as_str)
                .unwrap_or_default();
            if kind != JWT_BEARER {
                return Err(AadError::unsupported_assertion_type(kind));
            }
            let audiences = token_urls(&sim.base_url, tenant, tenant_text);
            assertion::verify_assertion(assertion, app, &audiences, now)?;
            ClientAuth::Certificate
        }
        (None, Some(secret)) => {
            assertion::verify_secret(secret, app, now)?;
            ClientAuth::Secret
        }
        (None, None) => return Err(AadError::missing_credential()),
    };
    let (access_token, lifetime) = sim
        .issuer
        .issue(tenant, app, resource, auth, now)
        .map_err(|_| AadError::bad_signature())?;
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    }))
}

/// Token URLs an assertion's `aud` may name: the tenant segment may be the GUID, any domain, or
/// exactly what the request used.
fn token_urls(base: &str, tenant: &Tenant, as_requested: &str) -> Vec<String> {
    let mut segments = vec![
        as_requested.to_string(),
        tenant.id.to_string(),
        tenant.initial_domain.clone(),
    ];
    segments.extend(tenant.domains.iter().cloned());
    segments
        .into_iter()
        .map(|s| format!("{base}/{s}/oauth2/v2.0/token"))
        .collect()
}

/// `GET /msi/token?resource=...&api-version=2019-08-01[&client_id=...]` with `X-IDENTITY-HEADER`.
pub async fn managed_identity(
    State(sim): State<Arc<SimState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let presented = header(&headers, "x-identity-header").unwrap_or_default();
    let error = |status: StatusCode, text: &str| {
        (
            status,
            Json(json!({"error": "invalid_request", "error_description": text})),
        )
            .into_response()
    };
    if presented.len() != sim.identity_header.len()
        || !openssl::memcmp::eq(presented.as_bytes(), sim.identity_header.as_bytes())
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "The X-IDENTITY-HEADER header is missing or wrong.",
        );
    }
    let Some(resource) = query
        .get("resource")
        .and_then(|r| Resource::from_identifier(r))
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "Parameter 'resource' is missing or names an unknown resource.",
        );
    };
    let directory = sim.directory.read();
    let wanted = query.get("client_id").or_else(|| query.get("clientid"));
    let found = directory.tenants.iter().find_map(|t| {
        t.apps
            .iter()
            .find(|a| {
                a.managed_identity
                    && wanted.is_none_or(|w| a.client_id.to_string().eq_ignore_ascii_case(w))
            })
            .map(|a| (t, a))
    });
    let Some((tenant, app)) = found else {
        return error(
            StatusCode::BAD_REQUEST,
            "No managed identity matches this request.",
        );
    };
    let now = now();
    match sim
        .issuer
        .issue(tenant, app, resource, ClientAuth::Certificate, now)
    {
        Ok((token, lifetime)) => Json(json!({
            "access_token": token,
            "expires_on": (now + lifetime).to_string(),
            "resource": resource.audience(),
            "token_type": "Bearer",
            "client_id": app.client_id.to_string(),
        }))
        .into_response(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "Token signing failed."),
    }
}
