//! `POST /adminapi/beta/{tenant}/$batch` (docs/protocol.md §1.5): up to ten InvokeCommand requests
//! in one, each run exactly as if sent alone (auth, throttling, faults, log), answered together.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::to_bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::state::SimState;

use super::cmdlets::Surface;
use super::invoke::{Endpoint, handle};
use super::responses::{bad_request, error_response};

/// Exchange's limit of sub-requests per batch.
pub const MAX_BATCH: usize = 10;

/// Runs every sub-request of a batch in order.
pub async fn batch(
    State(sim): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let requests = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b.get("requests").and_then(Value::as_array).cloned());
    let Some(requests) = requests else {
        return error_response(&bad_request(
            "A $batch body is {\"requests\": [{\"id\", \"method\", \"url\", \"headers\", \"body\"}, ...]}.",
        ));
    };
    if requests.is_empty() || requests.len() > MAX_BATCH {
        return error_response(&bad_request(&format!(
            "A batch holds 1 to {MAX_BATCH} requests; this one has {}.",
            requests.len()
        )));
    }
    let endpoint = Endpoint {
        surface: Surface::Exchange,
        prefix: String::new(),
    };
    let mut responses = Vec::with_capacity(requests.len());
    for request in &requests {
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let mut sub_headers = headers.clone();
        if let Some(extra) = request.get("headers").and_then(Value::as_object) {
            for (name, value) in extra {
                if let (Ok(name), Some(Ok(value))) = (
                    HeaderName::try_from(name.as_str()),
                    value.as_str().map(HeaderValue::from_str),
                ) {
                    sub_headers.insert(name, value);
                }
            }
        }
        let query: HashMap<String, String> = request
            .get("url")
            .and_then(Value::as_str)
            .and_then(|u| u.split_once('?'))
            .map(|(_, q)| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let sub_body = Bytes::from(
            request
                .get("body")
                .map(Value::to_string)
                .unwrap_or_default(),
        );
        let response = handle(
            &sim,
            &endpoint,
            &tenant,
            &Method::POST,
            &query,
            &sub_headers,
            &sub_body,
        )
        .await;
        let status = response.status().as_u16();
        let bytes = to_bytes(response.into_body(), 64 << 20)
            .await
            .unwrap_or_default();
        let body = serde_json::from_slice::<Value>(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        responses.push(json!({"id": id, "status": status, "body": body}));
    }
    Json(json!({"responses": responses})).into_response()
}
