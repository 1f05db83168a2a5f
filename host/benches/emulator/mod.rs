//! What the host benchmarks share: the emulator running beside them as a separate server would,
//! the `exorun` command line signed in to it, and the minimal reqwest paging loop they compare
//! against.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use exorun::config::{CredentialSpec, Settings};
use exorun::secret::SecretSource;
use exorun_sim::{ReadyInfo, SimConfig};
use serde_json::json;

/// A runtime for the in-process clients, a connection signed in as the admin app, and its token.
pub fn sign_in(info: &ReadyInfo) -> (tokio::runtime::Runtime, exorun::Connection, String) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let connection = exorun::Connection::open(settings(info)).expect("connection");
    let token = runtime
        .block_on(connection.tokens().token(exorun::auth::Resource::Exchange))
        .expect("token");
    let token = token.secret.expose().to_string();
    (runtime, connection, token)
}

/// The middle sample.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// A running emulator; dropping it shuts the emulator down.
pub struct Emulator {
    /// Its ready line.
    pub info: ReadyInfo,
    stop: Sender<()>,
    _state: tempfile::TempDir,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(());
    }
}

/// Starts the emulator with `mailboxes` mailboxes on its own runtime and threads, as a separate
/// server would be, so the clients measured here do not share worker threads with it.
pub fn start(mailboxes: usize) -> Emulator {
    start_with(move |config| config.scenario.tenants[0].mailboxes = mailboxes)
}

/// Starts the emulator as [`start`] does, its configuration changed by `adjust` (more tenants...).
pub fn start_with(adjust: impl FnOnce(&mut SimConfig) + Send + 'static) -> Emulator {
    let state = tempfile::tempdir().expect("tempdir");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop, stop_rx) = std::sync::mpsc::channel::<()>();
    let state_dir = state.path().to_path_buf();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let mut config = SimConfig::new(&state_dir);
        adjust(&mut config);
        let sim = runtime
            .block_on(exorun_sim::start(config))
            .expect("emulator");
        ready_tx.send(sim.info.clone()).expect("ready");
        let _ = stop_rx.recv();
        runtime.block_on(sim.shutdown());
    });
    Emulator {
        info: ready_rx.recv().expect("emulator started"),
        stop,
        _state: state,
    }
}

/// Library settings for the emulator's admin app (PFX certificate credential).
pub fn settings(info: &ReadyInfo) -> Settings {
    let admin = info.app("exorun-admin").expect("admin app");
    Settings {
        app_id: Some(admin.client_id.clone()),
        organization: Some(info.tenant_domain.clone()),
        credential: Some(CredentialSpec::CertificateFile {
            path: admin.pfx.clone().expect("pfx"),
            password: Some(SecretSource::File(
                admin.pfx_password_file.clone().expect("password file"),
            )),
        }),
        authority: Some(info.base_url.clone()),
        exchange_url: Some(info.base_url.clone()),
        compliance_url: Some(format!("{}/compliance", info.base_url)),
        ca_file: Some(info.ca_file.clone()),
        ..Settings::default()
    }
}

/// The `exorun` binary (this build) with the sign-in options for the emulator's admin app
/// (PFX certificate, `--ca-file` the emulator's CA) before the subcommand, audited in the
/// emulator's state directory (not the user's log); output discarded.
pub fn exorun(info: &ReadyInfo) -> Command {
    let admin = info.app("exorun-admin").expect("admin app");
    let mut command = Command::new(env!("CARGO_BIN_EXE_exorun"));
    command
        .args([
            "--app-id",
            &admin.client_id,
            "--organization",
            &info.tenant_domain,
        ])
        .arg("--certificate")
        .arg(admin.pfx.as_ref().expect("pfx"))
        .arg("--certificate-password-file")
        .arg(admin.pfx_password_file.as_ref().expect("password file"))
        .args([
            "--authority",
            &info.base_url,
            "--exchange-url",
            &info.base_url,
        ])
        .arg("--ca-file")
        .arg(&info.ca_file)
        .arg("--audit-log")
        .arg(info.state_dir.join("audit.jsonl"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Runs `command` to its end, from process start to exit; it must succeed.
pub fn timed(command: &mut Command) -> Duration {
    let started = Instant::now();
    let status = command.status().expect("the command starts");
    assert!(status.success(), "{command:?} failed");
    started.elapsed()
}

/// `exorun --version`: bare process start, the floor under every command.
pub fn bare_start() -> Duration {
    timed(
        Command::new(env!("CARGO_BIN_EXE_exorun"))
            .arg("--version")
            .stdout(Stdio::null()),
    )
}

/// A reqwest client that trusts only the emulator's CA.
pub fn minimal_client(info: &ReadyInfo) -> reqwest::Client {
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(&info.ca_file).expect("ca")).expect("ca pem");
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .expect("client")
}

/// A page's envelope, rows left as text.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    value: Vec<&'a serde_json::value::RawValue>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// The minimal direct paging loop: POST `Get-Mailbox -ResultSize Unlimited`, read only the
/// page's envelope (rows checked as JSON but not parsed), follow `@odata.nextLink` with the
/// same body; returns the row count.
pub async fn minimal_loop(http: &reqwest::Client, info: &ReadyInfo, token: &str) -> usize {
    let body = json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"ResultSize": "Unlimited"}}});
    let mut url = info.exchange_url.clone();
    let mut rows = 0;
    loop {
        let bytes = http
            .post(&url)
            .bearer_auth(token)
            .header("Prefer", "odata.maxpagesize=1000")
            .json(&body)
            .send()
            .await
            .expect("send")
            .bytes()
            .await
            .expect("body");
        let page: Envelope = serde_json::from_slice(&bytes).expect("json");
        rows += page.value.len();
        match page.next_link {
            Some(next) => url = next,
            None => return rows,
        }
    }
}

/// The packed plugin artifact `name` from `scripts/build-plugins.sh`.
pub fn plugin(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/plugins")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/build-plugins.sh --no-python` first",
        path.display()
    );
    path
}
