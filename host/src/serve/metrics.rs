//! `/metrics`: the service in the Prometheus text format — runs by state, the queue's depth,
//! runs this process started, cmdlet calls let through and refused, requests to Exchange by
//! cmdlet and outcome, throttling waits, tokens asked for. Counts only: nothing in it names a
//! caller, a mailbox or a secret.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::problem::Problem;
use super::service::Service;

/// The label of a run count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

/// The labels of an Exchange request count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    cmdlet: String,
    outcome: String,
}

/// The label of a token count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

/// The label of a call count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabel {
    decision: String,
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "OpenMetrics text: runs by state, queue depth, runs started, cmdlet calls, Exchange requests by cmdlet and outcome, throttling waits, token requests", body = String, content_type = "application/openmetrics-text")))]
pub async fn metrics(State(service): State<Arc<Service>>) -> Result<Response, Problem> {
    let internal = |e: super::state::StateError| Problem::internal(e.to_string());
    let by_state = service.state.counts_by_state().await.map_err(internal)?;
    let (calls, denied) = service.state.call_totals().await.map_err(internal)?;
    let mut registry = Registry::with_prefix("exorun");
    let runs = Family::<StateLabel, Gauge>::default();
    let mut queued = 0;
    for (state, count) in by_state {
        if state == "queued" {
            queued = count;
        }
        runs.get_or_create(&StateLabel { state }).set(count);
    }
    registry.register("runs", "Runs in the state database, by state", runs);
    let depth = Gauge::<i64>::default();
    depth.set(queued);
    registry.register("queue_depth", "Runs waiting for a worker", depth);
    let started = Counter::<u64>::default();
    started.inc_by(service.started.load(Ordering::Relaxed));
    registry.register(
        "runs_started",
        "Runs this process started since it started",
        started,
    );
    let cmdlet_calls = Family::<DecisionLabel, Counter>::default();
    let as_u64 = |n: i64| u64::try_from(n).unwrap_or(0);
    cmdlet_calls
        .get_or_create(&DecisionLabel {
            decision: "allowed".into(),
        })
        .inc_by(as_u64(calls));
    cmdlet_calls
        .get_or_create(&DecisionLabel {
            decision: "denied".into(),
        })
        .inc_by(as_u64(denied));
    registry.register(
        "cmdlet_calls",
        "Cmdlet calls of ended runs, let through by the gate or refused",
        cmdlet_calls,
    );
    register_telemetry(&mut registry, &service.telemetry.snapshot());
    let mut text = String::new();
    encode(&mut text, &registry).map_err(|e| Problem::internal(e.to_string()))?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    Ok(response)
}

/// What the service's connections did: requests by cmdlet and outcome, throttling waits,
/// tokens asked for.
fn register_telemetry(registry: &mut Registry, now: &exorun::telemetry::Snapshot) {
    let requests = Family::<RequestLabels, Counter>::default();
    for ((cmdlet, outcome), n) in &now.requests {
        requests
            .get_or_create(&RequestLabels {
                cmdlet: cmdlet.clone(),
                outcome: (*outcome).to_string(),
            })
            .inc_by(*n);
    }
    registry.register(
        "exchange_requests",
        "Requests to Exchange Online (one per page, after retries) by cmdlet and outcome",
        requests,
    );
    let waits = Counter::<u64>::default();
    waits.inc_by(now.throttle_waits);
    registry.register(
        "throttle_waits",
        "Waits for Exchange's throttling (HTTP 429) before trying a request again",
        waits,
    );
    let waited = Counter::<f64, std::sync::atomic::AtomicU64>::default();
    // Milliseconds to seconds: exact enough for a rate.
    waited.inc_by(now.throttle_wait_ms as f64 / 1000.0);
    registry.register(
        "throttle_wait_seconds",
        "The time those throttling waits took",
        waited,
    );
    let tokens = Family::<OutcomeLabel, Counter>::default();
    for (outcome, n) in &now.tokens {
        tokens
            .get_or_create(&OutcomeLabel {
                outcome: (*outcome).to_string(),
            })
            .inc_by(*n);
    }
    registry.register(
        "token_requests",
        "Access tokens asked of the credential (first ones and refreshes), by outcome",
        tokens,
    );
}
