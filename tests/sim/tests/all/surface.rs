//! The rest of the admin surface: `EXOModuleFile` (cmdlets by role), `$metadata`, `$batch`.

use serde_json::{Value, json};

use crate::support::{EXO_SCOPE, start};

#[tokio::test]
async fn module_file_exports_the_cmdlets_the_role_allows() {
    let sim = start().await;
    let url = format!(
        "{}/adminapi/v1.0/{}/EXOModuleFile?Version=3.10.0",
        sim.info().base_url,
        sim.info().tenant_id
    );
    let exported = |body: Value| -> Vec<String> {
        body["value"][0]["exportedCmdlets"]
            .as_str()
            .unwrap()
            .split(',')
            .map(str::to_string)
            .collect()
    };
    let admin = sim.admin_token().await;
    let body: Value = sim
        .http
        .get(&url)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let all = exported(body);
    assert!(all.contains(&"Set-Mailbox".to_string()) && all.contains(&"Get-Mailbox".to_string()));
    assert!(!all.contains(&"Get-ComplianceSearch".to_string()));

    let reader = sim.token_for("exorun-reader", EXO_SCOPE).await;
    let body: Value = sim
        .http
        .get(&url)
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let read_only = exported(body);
    assert!(read_only.contains(&"Get-Mailbox".to_string()));
    assert!(
        read_only.iter().all(|c| c.starts_with("Get-")),
        "{read_only:?}"
    );

    assert_eq!(sim.http.get(&url).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn metadata_is_csdl() {
    let sim = start().await;
    let token = sim.admin_token().await;
    let url = format!(
        "{}/adminapi/beta/{}/$metadata",
        sim.info().base_url,
        sim.info().tenant_id
    );
    let response = sim.http.get(url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("<edmx:Edmx") && text.contains("GenericHashTable"));
}

#[tokio::test]
async fn batch_runs_each_request_and_answers_together() {
    let sim = start().await;
    let token = sim.admin_token().await;
    let url = format!(
        "{}/adminapi/beta/{}/$batch",
        sim.info().base_url,
        sim.info().tenant_id
    );
    let sub = |id: &str, cmdlet: &str, params: Value| {
        json!({"id": id, "method": "POST", "url": sim.info().exchange_url, "headers": {"Prefer": "odata.maxpagesize=5"},
               "body": {"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}}})
    };
    let request = json!({"requests": [
        sub("1", "Get-Mailbox", json!({"ResultSize": 20})),
        sub("2", "Get-Mailbox", json!({"Identity": "nobody@contoso.com"})),
        sub("3", "Get-OrganizationConfig", json!({})),
    ]});
    let response = sim
        .http
        .post(&url)
        .bearer_auth(&token)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let responses = body["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 3);
    assert_eq!(
        (responses[0]["id"].as_str(), responses[0]["status"].as_u64()),
        (Some("1"), Some(200))
    );
    assert_eq!(
        responses[0]["body"]["value"].as_array().unwrap().len(),
        5,
        "sub-request headers apply"
    );
    assert!(responses[0]["body"]["@odata.nextLink"].is_string());
    assert_eq!(responses[1]["status"], 404);
    assert_eq!(responses[1]["body"]["error"]["code"], "NotFound");
    assert_eq!(responses[2]["status"], 200);

    let eleven: Vec<Value> = (0..11)
        .map(|i| sub(&i.to_string(), "Get-OrganizationConfig", json!({})))
        .collect();
    let response = sim
        .http
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({"requests": eleven}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let response = sim.http.post(&url).json(&request).send().await.unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["responses"][0]["status"], 401,
        "each sub-request is authenticated"
    );
}
