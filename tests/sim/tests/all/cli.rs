//! The command line: ready line, `--mailboxes`, `--register-cert`, bad input.

use openssl::pkey::PKey;
use serde_json::{Value, json};

use crate::process::{arg, run, spawn};
use crate::support::{Assertion, EXO_SCOPE, client};

#[tokio::test]
async fn starts_prints_its_urls_and_serves_1000_mailboxes() {
    let dir = tempfile::tempdir().unwrap();
    let ca_copy = dir.path().join("trust-me.pem");
    let sim = spawn(&[
        "--mailboxes",
        "1000",
        "--state-dir",
        arg(dir.path()),
        "--ca-out",
        arg(&ca_copy),
    ]);
    let ready = &sim.ready;
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["tenant_domain"], "contoso.onmicrosoft.com");
    assert_eq!(ready["ca_file"], arg(&ca_copy));
    for key in [
        "base_url",
        "token_url",
        "exchange_url",
        "compliance_url",
        "identity_endpoint",
        "control_url",
    ] {
        assert!(
            ready[key]
                .as_str()
                .unwrap()
                .starts_with("https://127.0.0.1:"),
            "{key}"
        );
    }
    let apps = ready["tenants"][0]["apps"].as_array().unwrap();
    let names: Vec<&str> = apps.iter().map(|a| a["name"].as_str().unwrap()).collect();
    for wanted in ["exorun-admin", "exorun-reader", "exorun-norole"] {
        assert!(names.contains(&wanted), "{names:?}");
    }
    let admin = &apps[0];
    for file in [
        "certificate",
        "private_key",
        "pfx",
        "pfx_password_file",
        "secret_file",
    ] {
        assert!(
            std::path::Path::new(admin[file].as_str().unwrap()).exists(),
            "{file}"
        );
    }

    let http = client(&ca_copy);
    let secret = std::fs::read_to_string(admin["secret_file"].as_str().unwrap()).unwrap();
    let token: Value = http
        .post(ready["token_url"].as_str().unwrap())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", admin["client_id"].as_str().unwrap()),
            ("scope", EXO_SCOPE),
            ("client_secret", secret.trim()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let mut url = ready["exchange_url"].as_str().unwrap().to_string();
    let mut total = 0;
    loop {
        let body: Value = http
            .post(&url)
            .bearer_auth(token)
            .json(&json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"ResultSize": "Unlimited"}}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        total += body["value"].as_array().unwrap().len();
        match body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(total, 1000);
}

#[tokio::test]
async fn register_cert_adds_an_app_for_a_callers_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pair = exorun_sim::pki::self_signed_client("my-automation", 2048, 30).unwrap();
    let cert_file = dir.path().join("mine.pem");
    std::fs::write(&cert_file, pair.cert_pem().unwrap()).unwrap();
    let app_id = "11111111-2222-4333-8444-555555555555";
    let sim = spawn(&[
        "--mailboxes",
        "5",
        "--state-dir",
        arg(&dir.path().join("state")),
        "--register-cert",
        arg(&cert_file),
        "--app-id",
        app_id,
        "--role",
        "Global Reader",
    ]);
    let ready = &sim.ready;
    let registered = ready["tenants"][0]["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["client_id"] == app_id)
        .unwrap()
        .clone();
    assert_eq!(registered["roles"], json!(["Global Reader"]));

    let http = client(std::path::Path::new(ready["ca_file"].as_str().unwrap()));
    let key = PKey::private_key_from_pem(&pair.key_pem().unwrap()).unwrap();
    let assertion = Assertion::with_key(
        &pair.cert,
        key,
        app_id,
        ready["token_url"].as_str().unwrap(),
    )
    .sign();
    let response = http
        .post(ready["token_url"].as_str().unwrap())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", app_id),
            ("scope", EXO_SCOPE),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    let response = http
        .post(ready["exchange_url"].as_str().unwrap())
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn bad_input_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("bad.toml");
    std::fs::write(
        &scenario,
        "[[tenant]]\nname = \"x\"\n[[tenant.app]]\nname = \"a\"\nroles = [\"Boss\"]\n",
    )
    .unwrap();
    let out = run(&["--scenario", arg(&scenario), "--state-dir", arg(dir.path())]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown directory role 'Boss'"), "{stderr}");

    let out = run(&[
        "--register-cert",
        arg(&dir.path().join("missing.pem")),
        "--state-dir",
        arg(dir.path()),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.pem"));

    let out = run(&["--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--register-cert"));
}
