//! The non-success responses of InvokeCommand and the response headers of a page, shaped as
//! Exchange Online sends them (docs/protocol.md §2.4–§2.7).

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use uuid::Uuid;

use crate::entra::issuer::{BearerError, Resource};
use crate::time::{iso, now};

use super::error::CmdletError;
use super::throttle::Budget;

/// A 401 with Exchange's Bearer challenge (docs/protocol.md §2.7).
pub fn challenge(error: &BearerError, resource: Resource) -> Response {
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
    if let Ok(v) = HeaderValue::from_str(&format!(
        "2000003;reason=\"{error}\";error_category=\"invalid_token\""
    )) {
        h.insert("x-ms-diagnostics", v);
    }
    response
}

/// 401 for a token without `Exchange.ManageAsApp`.
pub fn missing_app_role(resource: Resource) -> Response {
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
pub fn forbidden(verbose: bool, app_id: Uuid, cmdlet: &str, unknown: bool) -> Response {
    if !verbose {
        return (StatusCode::FORBIDDEN, Body::from(vec![0u8; 8])).into_response();
    }
    let text = if unknown {
        format!(
            "[AuthZRequestId={}][FailureCategory=AuthZ-CmdletAccessDeniedException] The term '{cmdlet}' is not recognized as a name of a cmdlet.",
            Uuid::new_v4()
        )
    } else {
        format!(
            "[AuthZRequestId={}][FailureCategory=AuthZ-CmdletAccessDeniedException] The role assigned to application {app_id} isn't supported in this scenario. Please check online documentation for assigning correct Directory Roles to Azure AD Application for EXO App-Only Authentication.",
            Uuid::new_v4()
        )
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

/// The OData error envelope with its status and headers.
pub fn error_response(error: &CmdletError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, axum::Json(error.body())).into_response();
    let h = response.headers_mut();
    h.insert("x-ExceptionType", HeaderValue::from_static(error.exception));
    h.insert("request-id", header_value(&Uuid::new_v4().to_string()));
    h.insert(
        "X-CalculatedBETarget",
        HeaderValue::from_static("BN8PR01MB1234.namprd01.prod.outlook.com"),
    );
    response
}

/// A header value from text (invalid characters give an empty value).
pub fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// 429 for an exhausted budget or an injected throttle, with `Retry-After`.
pub fn throttled_response(retry_after: f64, budget: Option<Budget>) -> Response {
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

/// Seconds as `Retry-After` text: whole numbers without a fraction.
pub fn format_seconds(seconds: f64) -> String {
    if seconds.fract() == 0.0 {
        format!("{}", seconds as u64)
    } else {
        format!("{seconds}")
    }
}

/// The per-tenant concurrency 429 (plain text, as Exchange sends it).
pub fn concurrency_response() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [("Retry-After", "1"), ("Content-Type", "text/plain")],
        "You have reached the maximum number of concurrent requests per tenant. Please wait and try again",
    )
        .into_response()
}

/// 503/504 from the front door (HTML, not JSON).
pub fn service_unavailable(status: StatusCode) -> Response {
    let text = if status == StatusCode::GATEWAY_TIMEOUT {
        "504 Gateway Timeout"
    } else {
        "503 Service Unavailable"
    };
    (
        status,
        [("Content-Type", "text/html")],
        format!("<html><body><h1>{text}</h1></body></html>"),
    )
        .into_response()
}

/// The `Rate-Limit-*` headers.
pub fn insert_budget(h: &mut HeaderMap, budget: Budget) {
    h.insert("Rate-Limit-Limit", header_value(&budget.limit.to_string()));
    h.insert(
        "Rate-Limit-Remaining",
        header_value(&budget.remaining.to_string()),
    );
    h.insert(
        "Rate-Limit-Reset",
        header_value(&iso(now() + budget.reset_in.ceil() as i64)),
    );
}

/// 200 with a page body and Exchange's headers; with `drop_mid_body` the connection is cut.
pub fn success_response(
    body: Vec<u8>,
    budget: Budget,
    concurrency: usize,
    drop_mid_body: bool,
) -> Response {
    let mut response = if drop_mid_body {
        use futures_util::StreamExt;
        let half = Bytes::from(body[..body.len() / 2].to_vec());
        // The status line and half the body go out first; then the connection is cut.
        let cut = futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection dropped by fault injection",
            ))
        });
        Response::new(Body::from_stream(
            futures_util::stream::iter([Ok::<Bytes, std::io::Error>(half)]).chain(cut),
        ))
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
    h.insert(
        "X-CalculatedBETarget",
        HeaderValue::from_static("BN8PR01MB1234.namprd01.prod.outlook.com"),
    );
    h.insert("X-BackEndHttpStatus", HeaderValue::from_static("200"));
    h.insert("X-FEServer", HeaderValue::from_static("BN8PR05CA0001"));
    h.insert("X-Concurrencycount", header_value(&concurrency.to_string()));
    h.insert(
        "X-Combinedapponlyconcurrencycount",
        header_value(&concurrency.to_string()),
    );
    h.insert(
        "Preference-Applied",
        HeaderValue::from_static("odata.include-annotations=\"*\""),
    );
    insert_budget(h, budget);
    response
}

/// 400 for a request the API cannot read.
pub fn bad_request(text: &str) -> CmdletError {
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
