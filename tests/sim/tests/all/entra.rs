//! The Entra endpoints: discovery, JWKS, every client-credential form, and every AADSTS error.

use exorun_sim::entra::issuer::Lifetime;
use serde_json::Value;

use crate::support::{Assertion, EXO_SCOPE, SCC_SCOPE, app_cert, claims, start, start_with, x5c};

const BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn error_code(body: &Value) -> u64 {
    body["error_codes"][0].as_u64().unwrap_or_default()
}

async fn assertion_request(
    sim: &crate::support::TestSim,
    client_id: &str,
    assertion: &str,
) -> (u16, Value) {
    sim.token_request(
        &sim.info().tenant_id,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("scope", EXO_SCOPE),
            ("client_assertion_type", BEARER),
            ("client_assertion", assertion),
        ],
    )
    .await
}

#[tokio::test]
async fn discovery_advertises_https_endpoints_for_guid_and_domain() {
    let sim = start().await;
    for tenant in [
        sim.info().tenant_id.clone(),
        "contoso.onmicrosoft.com".into(),
        "CONTOSO.COM".into(),
    ] {
        let url = format!(
            "{}/{tenant}/v2.0/.well-known/openid-configuration",
            sim.info().base_url
        );
        let body: Value = sim
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for key in [
            "token_endpoint",
            "authorization_endpoint",
            "issuer",
            "jwks_uri",
        ] {
            assert!(
                body[key]
                    .as_str()
                    .unwrap()
                    .starts_with("https://127.0.0.1:"),
                "{key}: {body}"
            );
        }
        let keys: Value = sim
            .http
            .get(body["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(keys["keys"][0]["kty"], "RSA");
    }
    let url = format!(
        "{}/nosuch.onmicrosoft.com/v2.0/.well-known/openid-configuration",
        sim.info().base_url
    );
    let response = sim.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_tenant");
    assert_eq!(error_code(&body), 90002);
}

#[tokio::test]
async fn ps256_and_rs256_and_x5c_assertions_get_exchange_tokens() {
    let sim = start_with(|c| c.token_lifetime = Lifetime::Seconds(600)).await;
    let app = sim.app("exorun-admin").clone();
    let cert = app_cert(&app);
    let aud = sim.info().token_url.clone();

    let ps256 = Assertion::new(&app, &aud).sign();
    let rs256 = Assertion::new(&app, &aud).rs256(&cert).sign();
    let mut x5c_only = Assertion::new(&app, &aud);
    let pem_body = x5c(&cert)
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    x5c_only.header = serde_json::json!({"alg": "PS256", "typ": "JWT", "x5c": [pem_body]});
    let mut padded = Assertion::new(&app, &aud);
    let thumb = padded.header["x5t#S256"].as_str().unwrap().to_string();
    padded.header["x5t#S256"] = Value::String(format!("{thumb}="));
    padded.claims.as_object_mut().unwrap().remove("nbf");

    for (what, assertion) in [
        ("ps256", ps256),
        ("rs256", rs256),
        ("x5c", x5c_only.sign()),
        ("padded", padded.sign()),
    ] {
        let (status, body) = assertion_request(&sim, &app.client_id, &assertion).await;
        assert_eq!(status, 200, "{what}: {body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 600);
        assert_eq!(body["ext_expires_in"], 600);
        let c = claims(body["access_token"].as_str().unwrap());
        assert_eq!(c["aud"], "https://outlook.office365.com");
        assert_eq!(
            c["iss"],
            format!("https://sts.windows.net/{}/", sim.info().tenant_id)
        );
        assert_eq!(c["tid"], sim.info().tenant_id);
        assert_eq!(c["appid"], app.client_id);
        assert_eq!(c["appidacr"], "2");
        assert_eq!(c["ver"], "1.0");
        assert_eq!(c["roles"], serde_json::json!(["Exchange.ManageAsApp"]));
        let wids = c["wids"].as_array().unwrap();
        assert!(
            wids.contains(&Value::from("29232cdf-9323-42fd-ade2-1d097af3e4de")),
            "{wids:?}"
        );
        assert!(wids.contains(&Value::from("0997a1d0-0d1d-4acb-b408-d5ca73121e90")));
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);
    }
}

#[tokio::test]
async fn default_lifetime_is_sixty_to_ninety_minutes() {
    let sim = start().await;
    let token = sim.admin_token().await;
    let c = claims(&token);
    let life = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert!((3600..=5400).contains(&life), "{life}");
}

#[tokio::test]
async fn client_secret_works_and_a_wrong_one_gets_7000215() {
    let sim = start().await;
    let app = sim.app("exorun-admin").clone();
    let secret = std::fs::read_to_string(app.secret_file.as_ref().unwrap()).unwrap();
    let form = |secret: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", app.client_id.clone()),
            ("scope", EXO_SCOPE.to_string()),
            ("client_secret", secret.to_string()),
        ]
    };
    let send = |f: Vec<(&'static str, String)>| {
        let sim = &sim;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            sim.token_request("contoso.onmicrosoft.com", &pairs).await
        }
    };
    let (status, body) = send(form(secret.trim())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["appidacr"],
        "1"
    );
    let (status, body) = send(form("not-the-secret")).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(error_code(&body), 7000215);
    assert!(
        !body.to_string().contains(secret.trim()),
        "the secret must not be echoed"
    );
}

#[tokio::test]
async fn every_aadsts_error_has_the_exact_shape() {
    let sim = start().await;
    let admin = sim.app("exorun-admin").clone();
    let reader = sim.app("exorun-reader").clone();
    let aud = sim.info().token_url.clone();
    let tenant = sim.info().tenant_id.clone();

    // 700016: a display name (or any unknown id) as client_id.
    let assertion = Assertion::new(&admin, &aud).sign();
    let (status, body) = assertion_request(&sim, "exorun-admin", &assertion).await;
    assert_eq!(
        (status, body["error"].as_str(), error_code(&body)),
        (400, Some("unauthorized_client"), 700016)
    );
    let text = body["error_description"].as_str().unwrap();
    assert!(text.starts_with("AADSTS700016: Application with identifier 'exorun-admin' was not found in the directory"), "{text}");
    for key in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(body[key].is_string(), "{key} missing: {body}");
    }
    let ts = body["timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), "2026-01-01 00:00:00Z".len(), "{ts}");
    assert!(
        text.contains("\r\nTrace ID: ")
            && text.contains("\r\nCorrelation ID: ")
            && text.contains("\r\nTimestamp: ")
    );

    // 700027 (not registered): the reader's certificate presented for the admin app.
    let assertion = Assertion::new(&reader, &aud);
    let mut assertion = assertion;
    assertion.claims["iss"] = Value::from(admin.client_id.clone());
    assertion.claims["sub"] = Value::from(admin.client_id.clone());
    let (status, body) = assertion_request(&sim, &admin.client_id, &assertion.sign()).await;
    assert_eq!((status, error_code(&body)), (401, 700027));
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("is not registered on application"),
        "{body}"
    );

    // 700027 (bad signature): admin's certificate named, reader's key signs.
    let reader_key = openssl::pkey::PKey::private_key_from_pem(
        &std::fs::read(reader.private_key.as_ref().unwrap()).unwrap(),
    )
    .unwrap();
    let forged = Assertion::with_key(&app_cert(&admin), reader_key, &admin.client_id, &aud).sign();
    let (status, body) = assertion_request(&sim, &admin.client_id, &forged).await;
    assert_eq!((status, error_code(&body)), (401, 700027));
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Client assertion failed signature validation.")
    );

    // 90002 at the token endpoint.
    let (status, body) = sim
        .token_request(
            "nosuch.onmicrosoft.com",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &admin.client_id),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str(), error_code(&body)),
        (400, Some("invalid_request"), 90002)
    );

    // 700024: expired assertion.
    let mut expired = Assertion::new(&admin, &aud);
    let past = exorun_sim::time::now_f64() - 3600.0;
    expired.claims["exp"] = Value::from(past);
    expired.claims["nbf"] = Value::from(past as i64 - 600);
    let (status, body) = assertion_request(&sim, &admin.client_id, &expired.sign()).await;
    assert_eq!((status, error_code(&body)), (401, 700024));
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not within its valid time range")
    );

    // 50048: sub differs from iss.
    let mut mismatch = Assertion::new(&admin, &aud);
    mismatch.claims["sub"] = Value::from("someone-else");
    let (status, body) = assertion_request(&sim, &admin.client_id, &mismatch.sign()).await;
    assert_eq!((status, error_code(&body)), (401, 50048));

    // aud must be the token endpoint.
    let wrong_aud = Assertion::new(
        &admin,
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
    )
    .sign();
    let (status, body) = assertion_request(&sim, &admin.client_id, &wrong_aud).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("audience"),
        "{body}"
    );

    // 7000218: no credential at all.
    let (status, body) = sim
        .token_request(
            &tenant,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &admin.client_id),
                ("scope", EXO_SCOPE),
            ],
        )
        .await;
    assert_eq!((status, error_code(&body)), (401, 7000218));

    // 70011 and 700022: scopes.
    let secret = std::fs::read_to_string(admin.secret_file.as_ref().unwrap()).unwrap();
    for (scope, code) in [
        ("https://outlook.office365.com/Exchange.Manage", 70011),
        (&format!("{EXO_SCOPE} {SCC_SCOPE}") as &str, 700022),
        ("https://graph.example/.default", 500011),
    ] {
        let (status, body) = sim
            .token_request(
                &tenant,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &admin.client_id),
                    ("scope", scope),
                    ("client_secret", secret.trim()),
                ],
            )
            .await;
        assert_eq!((status, error_code(&body)), (400, code), "{scope}: {body}");
    }
}

#[tokio::test]
async fn assertion_audience_may_name_the_tenant_by_domain() {
    let sim = start().await;
    let admin = sim.app("exorun-admin").clone();
    let aud = format!(
        "{}/contoso.onmicrosoft.com/oauth2/v2.0/token",
        sim.info().base_url
    );
    let assertion = Assertion::new(&admin, &aud).sign();
    let (status, body) = sim
        .token_request(
            "contoso.onmicrosoft.com",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &admin.client_id),
                ("scope", EXO_SCOPE),
                ("client_assertion_type", BEARER),
                ("client_assertion", &assertion),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn managed_identity_endpoint_needs_the_identity_header() {
    let sim = start().await;
    let info = sim.info();
    let url = format!(
        "{}?api-version=2019-08-01&resource=https://outlook.office365.com",
        info.identity_endpoint
    );
    let response = sim
        .http
        .get(&url)
        .header("X-IDENTITY-HEADER", &info.identity_header)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(claims(token)["appid"], sim.app("exorun-identity").client_id);
    assert!(body["expires_on"].as_str().unwrap().parse::<i64>().is_ok());
    let rows = sim
        .rows(token, "Get-OrganizationConfig", serde_json::json!({}))
        .await;
    assert_eq!(rows.len(), 1);

    let response = sim
        .http
        .get(&url)
        .header("X-IDENTITY-HEADER", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}
