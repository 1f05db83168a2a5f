//! The control endpoint under `/_sim/`: read the request log, set faults, throttling and token
//! lifetime, revoke tokens, register certificates. Loopback-only, like the rest of the emulator.

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
