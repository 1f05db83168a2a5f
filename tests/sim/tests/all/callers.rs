//! Callers' tokens for a service API app: registration, delegated and app-only tokens in both
//! versions, the overage marker, refusals, and the signing key roll with its JWKS.

use exorun_sim::jwt::Jwt;
use serde_json::{Value, json};

use exorun_sim::entra::callers::{ServiceApiSpec, TestUserSpec};

use crate::support::{TestSim, claims, start, start_with};

async fn post(sim: &TestSim, path: &str, body: Value) -> (u16, Value) {
    let response = sim
        .http
        .post(sim.control(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn mint(sim: &TestSim, request: Value) -> String {
    let (status, body) = post(sim, "entra/caller-tokens", request).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

fn header(token: &str) -> Value {
    Value::Object(Jwt::parse(token).unwrap().header)
}

const GROUP: &str = "7d9c0f8e-0b43-4f59-9a51-3f7f4c1e2a10";

async fn setup(sim: &TestSim) -> (String, String) {
    let (status, v2) = post(
        sim,
        "entra/apis",
        json!({"name": "exorun", "app_id_uri": "api://exorun", "token_version": 2,
               "app_roles": ["Runs.Submit", "Runs.Approve"]}),
    )
    .await;
    assert_eq!(status, 201, "{v2}");
    let (status, v1) = post(
        sim,
        "entra/apis",
        json!({"name": "exorun-v1", "app_id_uri": "api://exorun-v1", "token_version": 1,
               "idtyp_claim": true, "app_roles": ["Runs.Submit"]}),
    )
    .await;
    assert_eq!(status, 201, "{v1}");
    let (status, user) = post(
        sim,
        "entra/users",
        json!({"upn": "ann@contoso.com", "display_name": "Ann Example", "groups": [GROUP]}),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    (
        v2["client_id"].as_str().unwrap().to_string(),
        v1["client_id"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn delegated_and_app_only_tokens_carry_the_claims_entra_sends() {
    let sim = start().await;
    let (v2, v1) = setup(&sim).await;
    let tid = sim.info().tenant_id.clone();

    let token = mint(
        &sim,
        json!({"resource": "api://exorun", "user": "ann@contoso.com",
                                  "roles": ["Runs.Submit"]}),
    )
    .await;
    let c = claims(&token);
    assert_eq!(
        c["aud"],
        v2.as_str(),
        "a v2.0 token's aud is always the client id"
    );
    assert_eq!(c["iss"], format!("{}/{tid}/v2.0", sim.info().base_url));
    assert_eq!(c["ver"], "2.0");
    assert_eq!(c["tid"], tid.as_str());
    assert_eq!(c["preferred_username"], "ann@contoso.com");
    assert_eq!(c["name"], "Ann Example");
    assert_eq!(c["scp"], "access_as_user");
    assert_eq!(c["azp"], "04b07795-8ddb-461a-bbee-02f9e1bf7b46");
    assert_eq!(c["groups"], json!([GROUP]));
    assert_eq!(c["roles"], json!(["Runs.Submit"]));
    assert!(c.get("idtyp").is_none() && c.get("appid").is_none());
    assert!(c["exp"].as_i64().unwrap() - c["nbf"].as_i64().unwrap() >= 3600);
    let h = header(&token);
    assert!(h.get("x5t").is_none() && h["kid"].is_string() && h["alg"] == "RS256");

    let admin = sim.app("exorun-admin").client_id.clone();
    let token = mint(
        &sim,
        json!({"resource": "api://exorun-v1", "app": admin,
                                  "roles": ["Runs.Submit"], "lifetime_secs": 600}),
    )
    .await;
    let c = claims(&token);
    assert_eq!(
        c["aud"], "api://exorun-v1",
        "a v1.0 token's aud is what the client asked for"
    );
    assert_eq!(c["iss"], format!("https://sts.windows.net/{tid}/"));
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["appid"], admin.as_str());
    assert_eq!(c["appidacr"], "2");
    assert_eq!(c["idtyp"], "app");
    assert!(c.get("scp").is_none() && c.get("upn").is_none() && c["oid"].is_string());
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);
    let h = header(&token);
    assert_eq!(h["x5t"], h["kid"]);

    let token = mint(
        &sim,
        json!({"resource": v1, "user": "ann@contoso.com",
                                  "groups_overage": true, "starts_in_secs": 300}),
    )
    .await;
    let c = claims(&token);
    assert_eq!(c["aud"], v1.as_str());
    assert_eq!(c["upn"], "ann@contoso.com");
    assert_eq!(c["idtyp"], "user");
    assert_eq!(c["_claim_names"], json!({"groups": "src1"}));
    assert!(
        c["_claim_sources"]["src1"]["endpoint"]
            .as_str()
            .unwrap()
            .contains("getMemberObjects")
    );
    assert!(c.get("groups").is_none());
    assert!(c["nbf"].as_i64().unwrap() > exorun_sim::time::now() + 200);
}

#[tokio::test]
async fn requests_the_tenant_could_not_answer_are_refused_with_the_reason() {
    let sim = start().await;
    setup(&sim).await;
    for (request, text) in [
        (
            json!({"resource": "api://nosuch", "user": "ann@contoso.com"}),
            "no service API app",
        ),
        (
            json!({"resource": "api://exorun", "user": "bob@contoso.com"}),
            "no test user 'bob@contoso.com'",
        ),
        (
            json!({"resource": "api://exorun"}),
            "an app-only token needs 'app'",
        ),
        (
            json!({"resource": "api://exorun", "user": "ann@contoso.com", "roles": ["Admin"]}),
            "defines no app role 'Admin'",
        ),
        (
            json!({"resource": "api://exorun", "user": "ann@contoso.com", "scopes": ["x"]}),
            "exposes no scope 'x'",
        ),
    ] {
        let (status, body) = post(&sim, "entra/caller-tokens", request).await;
        assert_eq!(status, 400);
        assert!(body["error"].as_str().unwrap().contains(text), "{body}");
    }
    let (status, body) = post(&sim, "entra/apis", json!({"name": "x", "token_version": 3})).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (400, "token_version must be 1 or 2, not 3")
    );
}

#[tokio::test]
async fn a_rolled_key_signs_new_tokens_and_both_keys_are_published() {
    let sim = start().await;
    setup(&sim).await;
    let request = json!({"resource": "api://exorun", "user": "ann@contoso.com"});
    let before = header(&mint(&sim, request.clone()).await)["kid"].clone();
    let (status, rolled) = post(&sim, "entra/signing-keys/roll", json!({})).await;
    assert_eq!(status, 200);
    let after = header(&mint(&sim, request.clone()).await)["kid"].clone();
    assert_eq!(after, rolled["kid"]);
    assert_ne!(after, before);
    let url = format!(
        "{}/{}/discovery/v2.0/keys",
        sim.info().base_url,
        sim.info().tenant_id
    );
    let jwks: Value = sim
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&Value> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["kid"])
        .collect();
    assert_eq!(kids, [&after, &before]);
    let unpublished = mint(
        &sim,
        json!({"resource": "api://exorun", "user": "ann@contoso.com",
                                        "signing_key": "unpublished"}),
    )
    .await;
    assert!(!kids.contains(&&header(&unpublished)["kid"]));
    let log: Vec<Value> = sim
        .http
        .get(sim.control("requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        log.iter().filter(|e| e["endpoint"] == "jwks").count(),
        1,
        "JWKS fetches are logged"
    );
}

#[tokio::test]
async fn a_scenario_registers_apis_and_users_and_the_ready_line_lists_them() {
    let sim = start_with(|c| {
        let tenant = &mut c.scenario.tenants[0];
        tenant.apis.push(ServiceApiSpec {
            tenant: None,
            name: "exorun".into(),
            client_id: None,
            app_id_uri: None,
            token_version: 2,
            app_roles: vec!["Runs.Submit".into()],
            scopes: vec!["access_as_user".into()],
            idtyp_claim: true,
        });
        tenant.users.push(TestUserSpec {
            tenant: None,
            upn: "ann@contoso.com".into(),
            object_id: None,
            display_name: None,
            groups: Vec::new(),
        });
    })
    .await;
    let tenant = &sim.info().tenants[0];
    let api = &tenant.apis[0];
    assert_eq!(
        api.app_id_uri,
        format!("api://{}", api.client_id),
        "the portal's default"
    );
    assert_eq!(tenant.users[0].display_name, "ann");
    let token = mint(
        &sim,
        json!({"resource": api.app_id_uri, "user": "ann@contoso.com"}),
    )
    .await;
    let c = claims(&token);
    assert_eq!(c["aud"], api.client_id.to_string());
    assert_eq!(c["idtyp"], "user");
    assert!(c.get("groups").is_none(), "no groups, no claim");
}
