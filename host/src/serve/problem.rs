//! Every refusal the API gives is a problem document (RFC 9457, `application/problem+json`):
//! what went wrong, for whom, and, where a rule decided it, which one.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A problem document.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (relative, under the service's docs).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A short summary of the kind.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What happened to this request, and what to do.
    pub detail: String,
    /// The caller rule that refused, where one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The `WWW-Authenticate` challenge of a 401 (sent as a header, not in the body).
    #[serde(skip)]
    pub challenge: Option<String>,
}

impl Problem {
    /// A problem of kind `kind` (e.g. `/problems/forbidden`) with HTTP `status`.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem {
            kind,
            title,
            status: status.as_u16(),
            detail: detail.into(),
            rule: None,
            challenge: None,
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "/problems/bad-request",
            "Bad request",
            detail,
        )
    }

    /// 401: no caller could be authenticated.
    pub fn unauthenticated(detail: impl Into<String>, challenge: String) -> Problem {
        Problem {
            challenge: Some(challenge),
            ..Problem::new(
                StatusCode::UNAUTHORIZED,
                "/problems/unauthenticated",
                "Not authenticated",
                detail,
            )
        }
    }

    /// 403: the caller may not do this.
    pub fn forbidden(detail: impl Into<String>, rule: Option<String>) -> Problem {
        Problem {
            rule,
            ..Problem::new(
                StatusCode::FORBIDDEN,
                "/problems/forbidden",
                "Not allowed",
                detail,
            )
        }
    }

    /// 404: nothing by that name or id (that the caller may see).
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "/problems/not-found",
            "Not found",
            detail,
        )
    }

    /// 409: the request conflicts with the state of what it names.
    pub fn conflict(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::CONFLICT,
            "/problems/conflict",
            "Conflict",
            detail,
        )
    }

    /// 500: the service failed; the detail says what, never a secret.
    pub fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "/problems/internal",
            "The service failed",
            detail,
        )
    }

    /// 503: the service cannot take requests now.
    pub fn unavailable(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "/problems/unavailable",
            "Not ready",
            detail,
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(challenge) = self
            .challenge
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}
