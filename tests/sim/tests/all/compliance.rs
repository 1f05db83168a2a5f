//! Security & Compliance: its own token audience, the regional redirect, its own RBAC.

use serde_json::{Value, json};

use crate::support::{EXO_SCOPE, SCC_SCOPE, start};

#[tokio::test]
async fn front_door_redirects_to_the_region_where_searches_run() {
    let sim = start().await;
    let token = sim.token_for("exorun-compliance", SCC_SCOPE).await;
    assert_eq!(
        crate::support::claims(&token)["aud"],
        "https://ps.compliance.protection.outlook.com"
    );

    let no_redirects = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(
            &std::fs::read(&sim.info().ca_file).unwrap(),
        )
        .unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let body = json!({"CmdletInput": {"CmdletName": "Get-ComplianceSearch", "Parameters": {}}});
    let response = no_redirects
        .post(&sim.info().compliance_url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let regional = response.headers()["location"].to_str().unwrap().to_string();
    assert!(
        regional.contains("/compliance/nam12b/adminapi/beta/"),
        "{regional}"
    );

    let banner = format!(
        "{}/compliance/adminapi/beta/{}/EXOBanner('AutogenSession')",
        sim.info().base_url,
        sim.info().tenant_id
    );
    let response = no_redirects
        .get(banner)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);

    let created = sim
        .invoke_at(&regional, &token, "New-ComplianceSearch", json!({"Name": "Case 1", "ExchangeLocation": "All", "ContentMatchQuery": "subject:invoice"}), None)
        .await;
    assert_eq!(created.status(), 200);
    let listed: Value = sim
        .invoke_at(&regional, &token, "Get-ComplianceSearch", json!({}), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["value"][0]["Name"], "Case 1");
    assert!(
        listed["@odata.context"]
            .as_str()
            .unwrap()
            .contains("/compliance/nam12b/adminapi/beta/")
    );

    let wrong_region = regional.replace("/nam12b/", "/eur02b/");
    let response = no_redirects
        .post(wrong_region)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        302,
        "a wrong region redirects to the right one"
    );
}

#[tokio::test]
async fn exchange_tokens_and_exchange_only_roles_are_refused() {
    let sim = start().await;
    let regional = format!(
        "{}/compliance/nam12b/adminapi/beta/{}/InvokeCommand",
        sim.info().base_url,
        sim.info().tenant_id
    );
    let exo_token = sim.token_for("exorun-compliance", EXO_SCOPE).await;
    let response = sim
        .invoke_at(
            &regional,
            &exo_token,
            "Get-ComplianceSearch",
            json!({}),
            None,
        )
        .await;
    assert_eq!(response.status(), 401);

    let exchange_admin = sim.token_for("exorun-admin", SCC_SCOPE).await;
    let response = sim
        .invoke_at(
            &regional,
            &exchange_admin,
            "Get-ComplianceSearch",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        response.status(),
        403,
        "Exchange Administrator is not a Security & Compliance role"
    );

    let scc = sim.token_for("exorun-compliance", SCC_SCOPE).await;
    let response = sim
        .invoke_at(&regional, &scc, "Get-Mailbox", json!({}), None)
        .await;
    assert_eq!(
        response.status(),
        403,
        "Exchange cmdlets are unknown on the compliance endpoint"
    );
}
