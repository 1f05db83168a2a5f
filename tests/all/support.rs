//! Test plumbing for the host against exorun-sim: an emulator per test (key material reused from
//! a template, so tests do not generate RSA keys over and over) and settings for its apps.

use std::path::{Path, PathBuf};

use exorun::config::{CredentialSpec, Settings};
use exorun::secret::SecretSource;
use exorun_sim::setup::AppInfo;
use exorun_sim::{ReadyInfo, RunningSim, SimConfig};

/// A packed plugin built by scripts/build-plugins.sh.
pub fn artifact(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/plugins")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `bash scripts/build-plugins.sh` first",
        path.display()
    );
    path
}

/// A running emulator with a scratch directory for test files.
pub struct Sim {
    /// The emulator.
    pub sim: RunningSim,
    /// Scratch space (also the emulator's state directory).
    pub dir: tempfile::TempDir,
}

/// Starts an emulator, adjusted by `adjust`.
pub async fn start_with(adjust: impl FnOnce(&mut SimConfig)) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    exorun_sim::testkit::prepare_state_dir(Path::new(env!("CARGO_TARGET_TMPDIR")), dir.path())
        .unwrap();
    let mut config = SimConfig::new(dir.path());
    adjust(&mut config);
    Sim {
        sim: exorun_sim::start(config).await.unwrap(),
        dir,
    }
}

/// Starts an emulator with the default scenario.
pub async fn start() -> Sim {
    start_with(|_| {}).await
}

impl Sim {
    /// The ready line.
    pub fn info(&self) -> &ReadyInfo {
        &self.sim.info
    }

    /// A ready-made app.
    pub fn app(&self, name: &str) -> AppInfo {
        self.info()
            .app(name)
            .unwrap_or_else(|| panic!("no app {name}"))
            .clone()
    }

    /// Settings pointing at the emulator for `app` with `credential`.
    pub fn settings(&self, app: &str, credential: CredentialSpec) -> Settings {
        let info = self.info();
        Settings {
            app_id: Some(self.app(app).client_id),
            organization: Some(info.tenant_domain.clone()),
            credential: Some(credential),
            authority: Some(info.base_url.clone()),
            exchange_url: Some(info.base_url.clone()),
            compliance_url: Some(format!("{}/compliance", info.base_url)),
            ca_file: Some(info.ca_file.clone()),
            ..Settings::default()
        }
    }

    /// Settings for `app` with its PFX and password file.
    pub fn pfx_settings(&self, app: &str) -> Settings {
        let a = self.app(app);
        self.settings(
            app,
            CredentialSpec::CertificateFile {
                path: a.pfx.clone().unwrap(),
                password: Some(SecretSource::File(a.pfx_password_file.clone().unwrap())),
            },
        )
    }

    /// Settings for `app` with its client secret file.
    pub fn secret_settings(&self, app: &str) -> Settings {
        let a = self.app(app);
        self.settings(
            app,
            CredentialSpec::ClientSecret(SecretSource::File(a.secret_file.clone().unwrap())),
        )
    }

    /// A control endpoint URL.
    pub fn control(&self, path: &str) -> String {
        format!("{}/{path}", self.info().control_url)
    }

    /// PUTs JSON to a control endpoint (`faults`, `token-lifetime`, `throttle`...) and expects success.
    pub async fn put_control(&self, path: &str, body: serde_json::Value) {
        let response = self
            .http()
            .put(self.control(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }

    /// POSTs JSON to a control endpoint (`entra/apis`, `entra/users`…), expects success and
    /// returns the answer.
    pub async fn post_control(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> serde_json::Value {
        let response = self
            .http()
            .post(self.control(path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let answer: serde_json::Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {answer}");
        answer
    }

    /// A caller's access token for a service API app, minted by the emulator's Entra ID.
    pub async fn caller_token(
        &self,
        request: &exorun_sim::entra::callers::CallerTokenRequest,
    ) -> String {
        let answer = self.post_control("entra/caller-tokens", request).await;
        answer["access_token"].as_str().unwrap().to_string()
    }

    /// How many times the emulator served its JWKS (the signing keys).
    pub async fn jwks_fetches(&self) -> usize {
        self.requests()
            .await
            .iter()
            .filter(|e| e.endpoint == "jwks")
            .count()
    }

    /// An HTTPS client trusting the emulator (for the control endpoint).
    pub fn http(&self) -> reqwest::Client {
        let ca =
            reqwest::Certificate::from_pem(&std::fs::read(&self.info().ca_file).unwrap()).unwrap();
        reqwest::Client::builder()
            .tls_certs_only([ca])
            .build()
            .unwrap()
    }

    /// The emulator's request log.
    pub async fn requests(&self) -> Vec<exorun_sim::control::LogEntry> {
        self.http()
            .get(self.control("requests"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Writes a file in the scratch directory and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}
