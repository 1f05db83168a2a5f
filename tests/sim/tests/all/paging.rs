//! OData paging: page sizes, nextLink by POST and GET, ResultSize truncation, cursor expiry and
//! ownership, retrying a page.

use std::collections::HashSet;
use std::time::Duration;

use exorun_sim::control::FaultSettings;
use serde_json::{Value, json};

use crate::support::{EXO_SCOPE, TestSim, start_with};

async fn with_mailboxes(n: usize) -> TestSim {
    start_with(|c| c.scenario.tenants[0].mailboxes = n).await
}

async fn page(sim: &TestSim, url: &str, token: &str, params: Value, size: usize) -> Value {
    let response = sim
        .invoke_at(url, token, "Get-Mailbox", params, Some(size))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn pages_through_every_mailbox_by_post_and_by_get() {
    let sim = with_mailboxes(1000).await;
    let token = sim.admin_token().await;
    let params = json!({"ResultSize": "Unlimited"});

    let mut seen = HashSet::new();
    let mut url = sim.info().exchange_url.clone();
    let mut pages = 0;
    loop {
        let body = page(&sim, &url, &token, params.clone(), 300).await;
        pages += 1;
        let rows = body["value"].as_array().unwrap();
        assert!(rows.len() <= 300);
        for row in rows {
            assert!(
                seen.insert(row["Guid"].as_str().unwrap().to_string()),
                "duplicate row"
            );
        }
        match body["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.contains("$skiptoken="), "{next}");
                assert_eq!(body["@adminapi.warnings"], json!([]));
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (1000, 4));

    let first = page(&sim, &sim.info().exchange_url, &token, params.clone(), 400).await;
    let mut next = first["@odata.nextLink"].as_str().map(str::to_string);
    let mut count = first["value"].as_array().unwrap().len();
    while let Some(url) = next {
        let body: Value = sim
            .http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        count += body["value"].as_array().unwrap().len();
        next = body["@odata.nextLink"].as_str().map(str::to_string);
    }
    assert_eq!(count, 1000);
}

#[tokio::test]
async fn result_size_truncates_with_the_exchange_warning() {
    let sim = with_mailboxes(1200).await;
    let token = sim.admin_token().await;
    let rows = sim.rows(&token, "Get-Mailbox", json!({})).await;
    assert_eq!(rows.len(), 1000, "Get-Mailbox returns 1000 by default");

    let body = page(
        &sim,
        &sim.info().exchange_url,
        &token,
        json!({"ResultSize": 10}),
        1000,
    )
    .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 10);
    assert!(body.get("@odata.nextLink").is_none());
    assert_eq!(
        body["@adminapi.warnings"],
        json!([
            "There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter."
        ])
    );

    let body = page(
        &sim,
        &sim.info().exchange_url,
        &token,
        json!({"ResultSize": "Unlimited"}),
        5000,
    )
    .await;
    assert_eq!(
        body["value"].as_array().unwrap().len(),
        1000,
        "page size is capped at 1000"
    );
}

#[tokio::test]
async fn a_page_can_be_fetched_again_but_not_by_another_app_nor_after_expiry() {
    let sim = with_mailboxes(50).await;
    let token = sim.admin_token().await;
    let first = page(&sim, &sim.info().exchange_url, &token, json!({}), 20).await;
    let next = first["@odata.nextLink"].as_str().unwrap().to_string();
    let a = page(&sim, &next, &token, json!({}), 20).await;
    let b = page(&sim, &next, &token, json!({}), 20).await;
    assert_eq!(
        a["value"], b["value"],
        "the same skiptoken gives the same page"
    );

    let reader = sim.token_for("exorun-reader", EXO_SCOPE).await;
    let response = sim
        .invoke_at(&next, &reader, "Get-Mailbox", json!({}), Some(20))
        .await;
    assert_eq!(response.status(), 400);

    let response = sim
        .invoke_at(&next, &token, "Get-Recipient", json!({}), Some(20))
        .await;
    assert_eq!(response.status(), 400, "a nextLink replays the same cmdlet");

    sim.http
        .put(sim.control("faults"))
        .json(&FaultSettings {
            cursor_ttl_secs: 1,
            ..FaultSettings::default()
        })
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let response = sim
        .invoke_at(&next, &token, "Get-Mailbox", json!({}), Some(20))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body.to_string()
            .contains("Expired or Invalid pagination request. Default Expiry time is 00:30:00"),
        "{body}"
    );

    let garbage = format!("{}?$skiptoken=bm9wZQ", sim.info().exchange_url);
    assert_eq!(
        sim.invoke_at(&garbage, &token, "Get-Mailbox", json!({}), None)
            .await
            .status(),
        400
    );
}
