//! Shared test plumbing: start an emulator, an HTTPS client that trusts only its CA, client
//! assertions signed with the apps' real keys, and InvokeCommand calls.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use exorun_sim::client::ClientAssertion;
use exorun_sim::setup::AppInfo;
use exorun_sim::{ReadyInfo, RunningSim, SimConfig};
use openssl::pkey::PKey;
use openssl::x509::X509;
use serde_json::{Value, json};

/// A running emulator and a client for it.
pub struct TestSim {
    /// The emulator.
    pub sim: RunningSim,
    /// HTTPS client trusting only the emulator's CA.
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Starts an emulator with the default scenario, adjusted by `adjust`.
pub async fn start_with(adjust: impl FnOnce(&mut SimConfig)) -> TestSim {
    let dir = tempfile::tempdir().unwrap();
    exorun_sim::testkit::prepare_state_dir(Path::new(env!("CARGO_TARGET_TMPDIR")), dir.path())
        .unwrap();
    let mut config = SimConfig::new(dir.path());
    adjust(&mut config);
    let sim = exorun_sim::start(config).await.unwrap();
    let http = client(&sim.info.ca_file);
    TestSim {
        sim,
        http,
        _dir: dir,
    }
}

/// Starts an emulator with the default scenario.
pub async fn start() -> TestSim {
    start_with(|_| {}).await
}

/// An HTTPS client that trusts only `ca_file`.
pub fn client(ca_file: &Path) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca_file).unwrap()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap()
}

impl TestSim {
    /// The ready line.
    pub fn info(&self) -> &ReadyInfo {
        &self.sim.info
    }

    /// A ready-made app of the first tenant.
    pub fn app(&self, name: &str) -> &AppInfo {
        self.info()
            .app(name)
            .unwrap_or_else(|| panic!("no app {name}"))
    }

    /// POSTs a form to the first tenant's token endpoint.
    pub async fn token_request(&self, tenant: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let url = format!("{}/{tenant}/oauth2/v2.0/token", self.info().base_url);
        let response = self.http.post(url).form(form).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Gets an access token for an app with its certificate (PS256 assertion).
    pub async fn token_for(&self, app: &str, scope: &str) -> String {
        let info = self.app(app);
        let aud = self.info().token_url.clone();
        let assertion = Assertion::new(info, &aud).sign();
        let (status, body) = self
            .token_request(
                &self.info().tenant_id,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &info.client_id),
                    ("scope", scope),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &assertion),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// An Exchange token for the admin app.
    pub async fn admin_token(&self) -> String {
        self.token_for("exorun-admin", EXO_SCOPE).await
    }

    /// POSTs a cmdlet to the first tenant's InvokeCommand.
    pub async fn invoke(&self, token: &str, cmdlet: &str, params: Value) -> reqwest::Response {
        self.invoke_at(
            &self.info().exchange_url.clone(),
            token,
            cmdlet,
            params,
            None,
        )
        .await
    }

    /// POSTs a cmdlet to `url`, optionally with a page size.
    pub async fn invoke_at(
        &self,
        url: &str,
        token: &str,
        cmdlet: &str,
        params: Value,
        page_size: Option<usize>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(url)
            .bearer_auth(token)
            .header("client-request-id", uuid::Uuid::new_v4().to_string())
            .json(&json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}}));
        if let Some(n) = page_size {
            request = request.header("Prefer", format!("odata.maxpagesize={n}"));
        }
        request.send().await.unwrap()
    }

    /// Runs a cmdlet, expects 200, and returns every row across all pages.
    pub async fn rows(&self, token: &str, cmdlet: &str, params: Value) -> Vec<Value> {
        let mut rows = Vec::new();
        let mut url = self.info().exchange_url.clone();
        loop {
            let response = self
                .invoke_at(&url, token, cmdlet, params.clone(), None)
                .await;
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert_eq!(status, 200, "{cmdlet}: {body}");
            rows.extend(body["value"].as_array().unwrap().iter().cloned());
            match body["@odata.nextLink"].as_str() {
                Some(next) => url = next.to_string(),
                None => return rows,
            }
        }
    }

    /// A control endpoint URL.
    pub fn control(&self, path: &str) -> String {
        format!("{}/{path}", self.info().control_url)
    }
}

/// The Exchange Online scope.
pub const EXO_SCOPE: &str = "https://outlook.office365.com/.default";
/// The Security & Compliance scope.
pub const SCC_SCOPE: &str = "https://ps.compliance.protection.outlook.com/.default";

/// A client assertion for tests (the library's, with test-friendly constructors).
pub struct Assertion(pub ClientAssertion);

impl Assertion {
    /// A valid PS256 assertion for `app` with audience `aud`.
    pub fn new(app: &AppInfo, aud: &str) -> Assertion {
        let key =
            PKey::private_key_from_pem(&std::fs::read(app.private_key.as_ref().unwrap()).unwrap())
                .unwrap();
        Assertion::with_key(&app_cert(app), key, &app.client_id, aud)
    }

    /// A valid PS256 assertion signed by `key`, naming `cert`.
    pub fn with_key(
        cert: &X509,
        key: PKey<openssl::pkey::Private>,
        client_id: &str,
        aud: &str,
    ) -> Assertion {
        Assertion(ClientAssertion::new(cert, key, client_id, aud).unwrap())
    }

    /// Switches to RS256 with an `x5t` header.
    pub fn rs256(self, cert: &X509) -> Assertion {
        Assertion(self.0.rs256(cert).unwrap())
    }

    /// Signs it.
    pub fn sign(&self) -> String {
        self.0.sign().unwrap()
    }
}

impl std::ops::Deref for Assertion {
    type Target = ClientAssertion;
    fn deref(&self) -> &ClientAssertion {
        &self.0
    }
}

impl std::ops::DerefMut for Assertion {
    fn deref_mut(&mut self) -> &mut ClientAssertion {
        &mut self.0
    }
}

/// The certificate of an app.
pub fn app_cert(app: &AppInfo) -> X509 {
    X509::from_pem(&std::fs::read(app.certificate.as_ref().unwrap()).unwrap()).unwrap()
}

/// Standard base64 of a certificate's DER (an `x5c` entry).
pub fn x5c(cert: &X509) -> String {
    STANDARD.encode(cert.to_der().unwrap())
}

/// Decodes a JWT's claims without checking it.
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
