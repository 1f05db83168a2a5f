//! Who is calling the admin API: the bearer token checked against the tenant in the URL and the
//! resource of the endpoint, and the `Exchange.ManageAsApp` app role.

use axum::http::HeaderMap;
use axum::response::Response;

use crate::entra::issuer::{BearerError, Caller, Resource};
use crate::state::SimState;

use super::responses::{challenge, missing_app_role};

/// A request refused with a complete response (boxed: responses are large).
pub type Refusal = Box<Response>;

/// Checks the bearer token and `Exchange.ManageAsApp`.
pub fn authenticate(
    sim: &SimState,
    headers: &HeaderMap,
    tenant_text: &str,
    resource: Resource,
    now: i64,
) -> Result<Caller, Refusal> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| Box::new(challenge(&BearerError::Missing, resource)))?;
    let directory = sim.directory.read();
    let tenant = directory
        .tenant(tenant_text)
        .ok_or_else(|| Box::new(challenge(&BearerError::WrongTenant, resource)))?;
    let caller = sim
        .issuer
        .validate(token, resource, tenant, now)
        .map_err(|e| Box::new(challenge(&e, resource)))?;
    if !caller.can_manage_as_app() {
        return Err(Box::new(missing_app_role(resource)));
    }
    Ok(caller)
}
