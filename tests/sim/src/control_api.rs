//! The control endpoint under `/_sim/`: read the request log, set faults, throttling and token
//! lifetime, revoke tokens, register certificates; register service API apps and test users,
//! mint callers' tokens and roll the signing key. Loopback-only, like the rest of the emulator.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::control::{FaultSettings, LogEntry};
use crate::entra::callers::{CallerError, CallerTokenRequest, ServiceApiSpec, TestUserSpec};
use crate::entra::issuer::Lifetime;
use crate::exchange::throttle::ThrottleSettings;
use crate::setup::{RegisterCert, register_cert};
use crate::state::SimState;

/// `GET /_sim/requests`: every request seen, oldest first.
pub async fn requests(State(sim): State<Arc<SimState>>) -> Json<Vec<LogEntry>> {
    Json(sim.log.entries())
}

/// `DELETE /_sim/requests`: forget the log.
pub async fn clear_requests(State(sim): State<Arc<SimState>>) -> StatusCode {
    sim.log.clear();
    StatusCode::NO_CONTENT
}

/// `GET /_sim/faults`.
pub async fn faults(State(sim): State<Arc<SimState>>) -> Json<FaultSettings> {
    Json(sim.faults.settings())
}

/// `PUT /_sim/faults`: replace the fault settings (unset fields take their defaults).
pub async fn set_faults(
    State(sim): State<Arc<SimState>>,
    Json(settings): Json<FaultSettings>,
) -> Json<FaultSettings> {
    sim.faults.set(settings);
    Json(sim.faults.settings())
}

/// `GET /_sim/throttle`.
pub async fn throttle(State(sim): State<Arc<SimState>>) -> Json<ThrottleSettings> {
    Json(sim.throttle.settings())
}

/// `PUT /_sim/throttle`.
pub async fn set_throttle(
    State(sim): State<Arc<SimState>>,
    Json(settings): Json<ThrottleSettings>,
) -> Json<ThrottleSettings> {
    sim.throttle.set(settings);
    Json(sim.throttle.settings())
}

/// Body of `PUT /_sim/token-lifetime`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifetimeRequest {
    /// Seconds, or null for Entra's random 60–90 minutes.
    seconds: Option<i64>,
}

/// `PUT /_sim/token-lifetime`: lifetime of tokens issued from now on.
pub async fn set_token_lifetime(
    State(sim): State<Arc<SimState>>,
    Json(request): Json<LifetimeRequest>,
) -> Response {
    match request.seconds {
        Some(s) if s <= 0 => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "seconds must be positive"})),
        )
            .into_response(),
        Some(s) => {
            sim.issuer.set_lifetime(Lifetime::Seconds(s));
            StatusCode::NO_CONTENT.into_response()
        }
        None => {
            sim.issuer.set_lifetime(Lifetime::Default);
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

/// `POST /_sim/revoke-tokens`: every token issued so far stops working.
pub async fn revoke_tokens(State(sim): State<Arc<SimState>>) -> StatusCode {
    // Tokens issued in this same second are revoked too; wait so later ones are not.
    sim.issuer.revoke_all(crate::time::now());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    StatusCode::NO_CONTENT
}

/// Body of `PUT /_sim/authz`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthzRequest {
    /// Return the AuthZ text in 403 bodies instead of NUL bytes.
    verbose: bool,
}

/// `PUT /_sim/authz`.
pub async fn set_authz(
    State(sim): State<Arc<SimState>>,
    Json(request): Json<AuthzRequest>,
) -> StatusCode {
    sim.verbose_authz.store(request.verbose, Ordering::Relaxed);
    StatusCode::NO_CONTENT
}

/// Body of `POST /_sim/apps`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Tenant GUID or domain (default: the first tenant).
    tenant: Option<String>,
    /// Path of a PEM or DER certificate.
    certificate: PathBuf,
    /// Client id to use.
    app_id: Option<uuid::Uuid>,
    /// Directory role name.
    role: Option<String>,
}

/// `POST /_sim/apps`: register a certificate as an app, like `--register-cert`.
pub async fn register_app(
    State(sim): State<Arc<SimState>>,
    Json(request): Json<RegisterRequest>,
) -> Response {
    let mut directory = sim.directory.write();
    let tenant = match &request.tenant {
        Some(t) => directory.tenant_mut(t),
        None => directory.tenants.first_mut(),
    };
    let Some(tenant) = tenant else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such tenant"})),
        )
            .into_response();
    };
    let register = RegisterCert {
        cert: request.certificate,
        app_id: request.app_id,
        role: request.role,
    };
    match register_cert(tenant, &register) {
        Ok(info) => (
            StatusCode::CREATED,
            Json(serde_json::to_value(info).unwrap_or(Value::Null)),
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

/// A refusal of a callers' token control call: 404 for an unknown tenant, else 400.
fn caller_error(error: &CallerError) -> Response {
    let status = match error {
        CallerError::UnknownTenant(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, Json(json!({"error": error.to_string()}))).into_response()
}

/// Runs `f` on the tenant `name` names (the first one when `None`).
fn with_tenant<T>(
    sim: &SimState,
    name: Option<&str>,
    f: impl FnOnce(&crate::directory::Tenant) -> Result<T, CallerError>,
) -> Result<T, CallerError> {
    let directory = sim.directory.read();
    let tenant = match name {
        Some(t) => directory.tenant(t),
        None => directory.tenants.first(),
    };
    f(tenant.ok_or_else(|| CallerError::UnknownTenant(name.unwrap_or_default().to_string()))?)
}

/// `POST /_sim/entra/apis`: registers a service API app; answers the app as registered.
pub async fn register_api(
    State(sim): State<Arc<SimState>>,
    Json(spec): Json<ServiceApiSpec>,
) -> Response {
    match with_tenant(&sim, spec.tenant.as_deref(), |t| {
        sim.callers.register_api(t, &spec)
    }) {
        Ok(api) => (StatusCode::CREATED, Json(api)).into_response(),
        Err(e) => caller_error(&e),
    }
}

/// `POST /_sim/entra/users`: registers a test user; answers the user as registered.
pub async fn register_user(
    State(sim): State<Arc<SimState>>,
    Json(spec): Json<TestUserSpec>,
) -> Response {
    match with_tenant(&sim, spec.tenant.as_deref(), |t| {
        Ok(sim.callers.register_user(t, &spec))
    }) {
        Ok(user) => (StatusCode::CREATED, Json(user)).into_response(),
        Err(e) => caller_error(&e),
    }
}

/// `POST /_sim/entra/caller-tokens`: mints a caller's access token for a service API app.
pub async fn caller_token(
    State(sim): State<Arc<SimState>>,
    Json(request): Json<CallerTokenRequest>,
) -> Response {
    let now = crate::time::now();
    match with_tenant(&sim, request.tenant.as_deref(), |t| {
        sim.callers
            .mint(t, &request, &sim.issuer.keys, &sim.base_url, now)
    }) {
        Ok(token) => Json(token).into_response(),
        Err(e) => caller_error(&e),
    }
}

/// `POST /_sim/entra/signing-keys/roll`: a new signing key becomes current (tokens are signed
/// with it from now on) and is published beside the previous ones; answers `{"kid": …}`.
pub async fn roll_signing_key(State(sim): State<Arc<SimState>>) -> Response {
    match sim.issuer.keys.roll() {
        Ok(kid) => Json(json!({"kid": kid})).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": format!("cannot make a signing key: {e}")})),
        )
            .into_response(),
    }
}
