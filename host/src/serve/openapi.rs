//! The API's OpenAPI 3.1 document, generated from the handlers' annotations (`utoipa`) as the
//! router is built, so it lists exactly the routes the service serves; served at
//! `GET /api/v1/openapi.json` for clients and code generators.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's fixed parts: title, description, tags, how callers authenticate.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "exorun serve",
        description = "Runs vetted Exchange Online plugins and workflows for the callers the operator's policy names. Callers are authenticated by the kernel on the Unix socket, or by an Entra ID access token (Bearer) over HTTPS. Every refusal is an RFC 9457 problem document (application/problem+json) with the reason."
    ),
    modifiers(&BearerAuth),
    security(("entra_token" = [])),
    tags(
        (name = "health", description = "Liveness, readiness, metrics"),
        (name = "callers", description = "Who you are"),
        (name = "catalogue", description = "What you may run"),
        (name = "runs", description = "Submit, follow, read and cancel runs"),
        (name = "approvals", description = "Runs waiting for a second person"),
        (name = "schedules", description = "The service's schedules"),
        (name = "audit", description = "The audit log, for auditors")
    )
)]
pub struct ApiDoc;

/// Adds the `entra_token` security scheme: an Entra ID access token as `Bearer`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "entra_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An Entra ID access token for the service's API app (over HTTPS); on the Unix socket the kernel's peer credentials are used instead",
                    ))
                    .build(),
            ),
        );
    }
}

/// `GET /api/v1/openapi.json`: the document (no caller needed: it holds no data).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "health", security(()), responses((status = 200, description = "This API's OpenAPI document", body = Object)))]
pub async fn document(State(document): State<Arc<Document>>) -> Json<Document> {
    Json((*document).clone())
}
