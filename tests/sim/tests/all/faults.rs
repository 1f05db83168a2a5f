//! Fault injection and throttling: scripted 429/503/504/dropped connections, rate limits,
//! per-tenant concurrency, latency, token revocation and lifetime, the request log.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use exorun_sim::control::{Fault, FaultSettings, LogEntry};
use exorun_sim::exchange::throttle::ThrottleSettings;
use serde_json::{Value, json};

use crate::support::{TestSim, start, start_with};

async fn script(sim: &TestSim, faults: &[Fault]) {
    let settings = FaultSettings {
        script: VecDeque::from(faults.to_vec()),
        retry_after: 0.5,
        ..FaultSettings::default()
    };
    let response = sim
        .http
        .put(sim.control("faults"))
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn scripted_faults_arrive_in_order_then_service_resumes() {
    let sim = start().await;
    let token = sim.admin_token().await;
    script(
        &sim,
        &[
            Fault::Throttle,
            Fault::Unavailable,
            Fault::GatewayTimeout,
            Fault::Concurrency,
            Fault::Drop,
        ],
    )
    .await;
    let params = json!({"ResultSize": 50});

    let r = sim.invoke(&token, "Get-Mailbox", params.clone()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "0.5");
    let r = sim.invoke(&token, "Get-Mailbox", params.clone()).await;
    assert_eq!(r.status(), 503);
    let r = sim.invoke(&token, "Get-Mailbox", params.clone()).await;
    assert_eq!(r.status(), 504);
    let r = sim.invoke(&token, "Get-Mailbox", params.clone()).await;
    assert_eq!(r.status(), 429);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("maximum number of concurrent requests per tenant")
    );
    let r = sim.invoke(&token, "Get-Mailbox", params.clone()).await;
    assert_eq!(r.status(), 200, "the status line arrives before the cut");
    assert!(r.bytes().await.is_err(), "the body is cut mid-way");
    let r = sim.invoke(&token, "Get-Mailbox", params).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["value"].as_array().unwrap().len(), 50);

    let log: Vec<LogEntry> = sim
        .http
        .get(sim.control("requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let invokes: Vec<&LogEntry> = log.iter().filter(|e| e.endpoint == "invoke").collect();
    assert_eq!(invokes.len(), 6);
    assert_eq!(invokes[0].fault, Some(Fault::Throttle));
    assert_eq!(invokes[4].fault, Some(Fault::Drop));
    assert_eq!(invokes[5].cmdlet.as_deref(), Some("Get-Mailbox"));
    assert_eq!(invokes[5].parameters, Some(json!({"ResultSize": 50})));
    assert!(invokes[5].client_request_id.is_some());
    assert_eq!(
        invokes[5].app_id.as_deref(),
        Some(sim.app("exorun-admin").client_id.as_str())
    );
}

#[tokio::test]
async fn rate_limit_refuses_with_retry_after_and_budget_headers() {
    let sim = start_with(|c| {
        c.throttle = ThrottleSettings {
            burst: 3.0,
            per_second: 0.5,
            tenant_concurrency: 32,
        }
    })
    .await;
    let token = sim.admin_token().await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = sim
            .invoke(&token, "Get-OrganizationConfig", json!({}))
            .await;
        assert_eq!(r.status(), 200);
        remaining.push(
            r.headers()["rate-limit-remaining"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let r = sim
        .invoke(&token, "Get-OrganizationConfig", json!({}))
        .await;
    assert_eq!(r.status(), 429);
    let retry: f64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1.0..=2.0).contains(&retry), "{retry}");
    assert_eq!(r.headers()["rate-limit-limit"], "3");
}

#[tokio::test]
async fn tenant_concurrency_limit_refuses_the_extra_request() {
    let sim = start_with(|c| {
        c.throttle.tenant_concurrency = 1;
        c.faults.page_latency_ms = 600;
    })
    .await;
    let token = sim.admin_token().await;
    let slow = sim.invoke(&token, "Get-OrganizationConfig", json!({}));
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        sim.invoke(&token, "Get-OrganizationConfig", json!({}))
            .await
    };
    let (slow, second) = tokio::join!(slow, second);
    assert_eq!(slow.status(), 200);
    assert_eq!(second.status(), 429);
    assert!(
        second
            .text()
            .await
            .unwrap()
            .contains("maximum number of concurrent requests per tenant")
    );
    assert_eq!(
        sim.invoke(&token, "Get-OrganizationConfig", json!({}))
            .await
            .status(),
        200,
        "the slot is free again"
    );
}

#[tokio::test]
async fn latency_is_added_per_response() {
    let sim = start_with(|c| c.faults.page_latency_ms = 300).await;
    let token = sim.admin_token().await;
    let started = Instant::now();
    assert_eq!(
        sim.invoke(&token, "Get-OrganizationConfig", json!({}))
            .await
            .status(),
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn revoked_tokens_stop_working_and_new_ones_work() {
    let sim = start().await;
    let token = sim.admin_token().await;
    assert_eq!(
        sim.invoke(&token, "Get-OrganizationConfig", json!({}))
            .await
            .status(),
        200
    );
    assert_eq!(
        sim.http
            .post(sim.control("revoke-tokens"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let r = sim
        .invoke(&token, "Get-OrganizationConfig", json!({}))
        .await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["x-ms-diagnostics"]
            .to_str()
            .unwrap()
            .contains("revoked")
    );
    let fresh = sim.admin_token().await;
    assert_eq!(
        sim.invoke(&fresh, "Get-OrganizationConfig", json!({}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn token_lifetime_can_be_changed_at_run_time() {
    let sim = start().await;
    let r = sim
        .http
        .put(sim.control("token-lifetime"))
        .json(&json!({"seconds": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let token = sim.admin_token().await;
    let c = crate::support::claims(&token);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 7);
    let r = sim
        .http
        .put(sim.control("token-lifetime"))
        .json(&json!({"seconds": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn token_endpoint_can_be_throttled() {
    let sim = start_with(|c| c.faults.token_throttle_rate = 1.0).await;
    let admin = sim.app("exorun-admin").clone();
    let secret = std::fs::read_to_string(admin.secret_file.as_ref().unwrap()).unwrap();
    let (status, body) = sim
        .token_request(
            &sim.info().tenant_id,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &admin.client_id),
                ("scope", crate::support::EXO_SCOPE),
                ("client_secret", secret.trim()),
            ],
        )
        .await;
    assert_eq!(status, 429, "{body}");
}

#[tokio::test]
async fn a_hold_answers_nothing_from_the_nth_request_and_carries_out_nothing_after_it() {
    let sim = start().await;
    let token = sim.admin_token().await;
    let set =
        |sim: &TestSim, settings: Value| sim.http.put(sim.control("faults")).json(&settings).send();
    assert_eq!(
        set(&sim, json!({"hold_after": 2})).await.unwrap().status(),
        200
    );
    let hide =
        |identity: &str| json!({"Identity": identity, "HiddenFromAddressListsEnabled": true});
    let r = sim
        .invoke(&token, "Get-Mailbox", json!({"ResultSize": 1}))
        .await;
    assert_eq!(r.status(), 200, "the first request is answered");

    let (nth, later) = {
        let (sim, token) = (&sim, &token);
        (
            async move { sim.invoke(token, "Set-Mailbox", hide("room1")).await },
            async move {
                // After the nth has arrived.
                tokio::time::sleep(Duration::from_millis(200)).await;
                sim.invoke(token, "Set-Mailbox", hide("room2")).await
            },
        )
    };
    let release = async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let logged = sim
            .http
            .get(sim.control("requests"))
            .send()
            .await
            .unwrap()
            .json::<Vec<LogEntry>>()
            .await
            .unwrap();
        let started = Instant::now();
        set(&sim, json!({})).await.unwrap();
        (logged, started)
    };
    let (nth, later, (logged, released)) = tokio::join!(nth, later, release);
    assert!(
        released.elapsed() < Duration::from_secs(5),
        "answered once released"
    );
    let invokes: Vec<&LogEntry> = logged.iter().filter(|e| e.endpoint == "invoke").collect();
    assert_eq!(
        invokes.len(),
        2,
        "the one after the nth is not logged: {invokes:?}"
    );
    assert_eq!(invokes[1].parameters, Some(hide("room1")));
    assert_eq!(nth.status(), 200, "the nth gets its answer at last");
    assert_eq!(later.status(), 503, "what came after it was refused");

    let hidden = |identity: &'static str| {
        let (sim, token) = (&sim, &token);
        async move {
            sim.rows(token, "Get-Mailbox", json!({"Identity": identity}))
                .await[0]["HiddenFromAddressListsEnabled"]
                .clone()
        }
    };
    assert_eq!(
        hidden("room1").await,
        json!(true),
        "the nth was carried out"
    );
    assert_eq!(hidden("room2").await, json!(false), "the later one was not");
}
