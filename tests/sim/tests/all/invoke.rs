//! InvokeCommand: envelopes, bearer validation, consent and RBAC, error bodies, `$select`.

use std::time::Duration;

use exorun_sim::entra::issuer::Lifetime;
use exorun_sim::scenario::{Scenario, TenantSpec};
use serde_json::{Value, json};

use crate::support::{EXO_SCOPE, start, start_with};

#[tokio::test]
async fn success_envelope_and_headers_match_exchange() {
    let sim = start().await;
    let token = sim.admin_token().await;
    let response = sim
        .invoke(&token, "Get-Mailbox", json!({"ResultSize": 2}))
        .await;
    assert_eq!(response.status(), 200);
    let h = response.headers().clone();
    assert_eq!(
        h["content-type"],
        "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
    );
    assert_eq!(h["odata-version"], "4.0");
    for name in [
        "request-id",
        "x-calculatedbetarget",
        "rate-limit-limit",
        "rate-limit-remaining",
        "rate-limit-reset",
        "x-concurrencycount",
    ] {
        assert!(h.contains_key(name), "{name} missing");
    }
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["@odata.context"],
        format!(
            "{}/adminapi/beta/{}/$metadata#Collection(Exchange.GenericHashTable)",
            sim.info().base_url,
            sim.info().tenant_id
        )
    );
    assert_eq!(body["adminapi.warnings@odata.type"], "#Collection(String)");
    assert!(body["@adminapi.warnings"].is_array());
    let rows = body["value"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let row = &rows[0];
    assert_eq!(row["Guid@odata.type"], "#Guid");
    assert_eq!(row["EmailAddresses@odata.type"], "#Collection(String)");
    assert!(
        row["WhenCreated"]
            .as_str()
            .unwrap()
            .ends_with(".0000000+00:00")
    );
    assert!(
        row["ProhibitSendQuota"]
            .as_str()
            .unwrap()
            .ends_with(" bytes)")
    );
}

#[tokio::test]
async fn tenant_segment_may_be_the_domain_and_cmdlet_name_any_case() {
    let sim = start().await;
    let token = sim.admin_token().await;
    let url = format!(
        "{}/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand",
        sim.info().base_url
    );
    let response = sim
        .invoke_at(&url, &token, "get-mailbox", json!({"ResultSize": 1}), None)
        .await;
    assert_eq!(response.status(), 200);
}

fn challenge_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn bad_tokens_get_401_with_a_bearer_challenge() {
    let sim = start_with(|c| c.token_lifetime = Lifetime::Seconds(1)).await;
    // Missing.
    let response = sim
        .http
        .post(&sim.info().exchange_url)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        challenge_of(&response)
            .starts_with("Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\"")
    );
    // Tampered: claims changed after signing.
    let token = sim.admin_token().await;
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] = parts[1].chars().rev().collect();
    let response = sim.invoke(&parts.join("."), "Get-Mailbox", json!({})).await;
    assert_eq!(response.status(), 401);
    // Expired.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let response = sim.invoke(&token, "Get-Mailbox", json!({})).await;
    assert_eq!(response.status(), 401);
    assert!(challenge_of(&response).contains("error=\"invalid_token\""));
    let diagnostics = response.headers()["x-ms-diagnostics"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(diagnostics.contains("expired"), "{diagnostics}");
}

#[tokio::test]
async fn a_token_for_another_tenant_or_resource_is_refused() {
    let sim = start_with(|c| {
        c.scenario = Scenario {
            tenants: vec![
                TenantSpec::named("contoso"),
                TenantSpec {
                    mailboxes: 5,
                    ..TenantSpec::named("fabrikam")
                },
            ],
        };
    })
    .await;
    let token = sim.admin_token().await;
    let fabrikam = &sim.info().tenants[1];
    let url = format!(
        "{}/adminapi/beta/{}/InvokeCommand",
        sim.info().base_url,
        fabrikam.id
    );
    let response = sim
        .invoke_at(&url, &token, "Get-Mailbox", json!({}), None)
        .await;
    assert_eq!(response.status(), 401);
    let compliance_token = sim
        .token_for(
            "exorun-compliance",
            "https://ps.compliance.protection.outlook.com/.default",
        )
        .await;
    let response = sim
        .invoke(&compliance_token, "Get-Mailbox", json!({}))
        .await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn consent_and_roles_decide_401_and_403() {
    let sim = start().await;
    let no_consent = sim.token_for("exorun-noconsent", EXO_SCOPE).await;
    let response = sim.invoke(&no_consent, "Get-Mailbox", json!({})).await;
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["x-ms-diagnostics"]
            .to_str()
            .unwrap()
            .contains("Exchange.ManageAsApp")
    );

    let no_role = sim.token_for("exorun-norole", EXO_SCOPE).await;
    let response = sim.invoke(&no_role, "Get-Mailbox", json!({})).await;
    assert_eq!(response.status(), 403);
    let body = response.bytes().await.unwrap();
    assert!(
        !body.is_empty() && body.iter().all(|b| *b == 0),
        "403 bodies are NUL bytes: {body:?}"
    );

    let reader = sim.token_for("exorun-reader", EXO_SCOPE).await;
    assert_eq!(
        sim.invoke(&reader, "Get-Mailbox", json!({"ResultSize": 1}))
            .await
            .status(),
        200
    );
    let set = sim
        .invoke(
            &reader,
            "Set-Mailbox",
            json!({"Identity": "room1", "HiddenFromAddressListsEnabled": true}),
        )
        .await;
    assert_eq!(
        set.status(),
        403,
        "read-only roles may not run changing cmdlets"
    );

    let admin = sim.admin_token().await;
    let unknown = sim.invoke(&admin, "Get-Everything", json!({})).await;
    assert_eq!(unknown.status(), 403);
    assert!(unknown.bytes().await.unwrap().iter().all(|b| *b == 0));

    sim.http
        .put(sim.control("authz"))
        .json(&json!({"verbose": true}))
        .send()
        .await
        .unwrap();
    let response = sim.invoke(&no_role, "Get-Mailbox", json!({})).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    let detail = body["error"]["details"][0]["message"].as_str().unwrap();
    assert!(
        detail.contains("FailureCategory=AuthZ-CmdletAccessDeniedException"),
        "{detail}"
    );
    assert!(detail.contains(&sim.app("exorun-norole").client_id));
}

#[tokio::test]
async fn cmdlet_errors_use_the_odata_error_envelope() {
    let sim = start().await;
    let token = sim.admin_token().await;

    let response = sim
        .invoke(
            &token,
            "Get-Mailbox",
            json!({"Identity": "nobody@contoso.com"}),
        )
        .await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NotFound");
    assert_eq!(body["error"]["message"], "Error executing cmdlet");
    let detail = body["error"]["details"][0]["message"].as_str().unwrap();
    let parts: Vec<&str> = detail.splitn(3, '|').collect();
    assert_eq!(parts[0], "Ex6F9304");
    assert_eq!(
        parts[1],
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
    );
    assert!(parts[2].contains("'nobody@contoso.com' couldn't be found"));
    assert!(body["error"]["innererror"]["internalexception"]["message"].is_string());

    let response = sim
        .invoke(&token, "Get-Mailbox", json!({"Idnetity": "x"}))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "BadRequest");
    assert!(
        body["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("'Idnetity'")
    );

    let response = sim
        .invoke(
            &token,
            "Set-Mailbox",
            json!({"Identity": "room1", "Type": "Huge"}),
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["details"],
        json!([]),
        "transformation errors carry the text only in innererror"
    );
    let inner = body["error"]["innererror"]["internalexception"]["message"]
        .as_str()
        .unwrap();
    assert!(
        inner.contains("Regular, Room, Equipment, Shared"),
        "{inner}"
    );

    let response = sim
        .invoke(&token, "Get-Mailbox", json!({"Filter": "Name -eq"}))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid filter syntax")
    );

    let response = sim
        .http
        .post(&sim.info().exchange_url)
        .bearer_auth(&token)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn select_trims_properties() {
    let sim = start().await;
    let token = sim.admin_token().await;
    let url = format!(
        "{}?$select=Name,PrimarySmtpAddress",
        sim.info().exchange_url
    );
    let response = sim
        .invoke_at(&url, &token, "Get-Mailbox", json!({"ResultSize": 3}), None)
        .await;
    let body: Value = response.json().await.unwrap();
    for row in body["value"].as_array().unwrap() {
        let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 2, "{row}");
    }
}

#[tokio::test]
async fn mutations_persist_and_confirm_true_only_asks() {
    let sim = start().await;
    let token = sim.admin_token().await;
    let mailbox = sim
        .rows(
            &token,
            "Get-Mailbox",
            json!({"RecipientTypeDetails": "UserMailbox", "ResultSize": 1}),
        )
        .await
        .remove(0);
    let upn = mailbox["UserPrincipalName"].as_str().unwrap();
    let response = sim
        .invoke(
            &token,
            "Set-Mailbox",
            json!({"Identity": upn, "HiddenFromAddressListsEnabled": true, "Confirm": true}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert!(body["@adminapi.confirmationmessage"].is_string(), "{body}");
    let after = sim
        .rows(&token, "Get-Mailbox", json!({"Identity": upn}))
        .await
        .remove(0);
    assert_eq!(
        after["HiddenFromAddressListsEnabled"],
        mailbox["HiddenFromAddressListsEnabled"]
    );

    let response = sim
        .invoke(
            &token,
            "Set-Mailbox",
            json!({"Identity": upn, "Type": "Shared", "ForwardingSmtpAddress": "ext@fabrikam.com"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let after = sim
        .rows(&token, "Get-Mailbox", json!({"Identity": upn}))
        .await
        .remove(0);
    assert_eq!(after["RecipientTypeDetails"], "SharedMailbox");
    assert_eq!(after["ForwardingSmtpAddress"], "smtp:ext@fabrikam.com");
    let shared = sim.rows(&token, "Get-Mailbox", json!({"Filter": format!("UserPrincipalName -eq '{upn}' -and RecipientTypeDetails -eq 'SharedMailbox'")})).await;
    assert_eq!(shared.len(), 1);
}

#[tokio::test]
async fn get_without_a_skiptoken_and_v1_are_refused() {
    let sim = start().await;
    let token = sim.admin_token().await;
    let response = sim
        .http
        .get(&sim.info().exchange_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let v1 = sim.info().exchange_url.replace("/beta/", "/v1.0/");
    let response = sim
        .http
        .post(v1)
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
}
