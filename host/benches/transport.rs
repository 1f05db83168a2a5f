//! Host transport benchmarks (run: `cargo bench -p exorun --bench transport`).
//!
//! 1. `exorun invoke Get-Mailbox -ResultSize Unlimited` over 100,000 mailboxes (the CLI, output to
//!    /dev/null) and the library's page stream, against a minimal direct reqwest paging loop
//!    measured in the same run on the same emulator (same token, same page size).
//! 2. `exorun connect --test` from process start to its result, warm emulator, against
//!    `exorun --version` (bare process start) in the same run.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use exorun::Connection;
use exorun::auth::Resource;
use exorun::config::{CredentialSpec, Settings};
use exorun::exchange::Surface;
use exorun::secret::SecretSource;
use exorun_sim::{ReadyInfo, SimConfig};
use serde_json::{Value, json};

const MAILBOXES: usize = 100_000;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn settings(info: &ReadyInfo) -> Settings {
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

async fn baseline(http: &reqwest::Client, info: &ReadyInfo, token: &str) -> usize {
    let body = json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"ResultSize": "Unlimited"}}});
    let mut url = info.exchange_url.clone();
    let mut rows = 0;
    loop {
        let page: Value = http
            .post(&url)
            .bearer_auth(token)
            .header("Prefer", "odata.maxpagesize=1000")
            .json(&body)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        rows += page["value"].as_array().map_or(0, Vec::len);
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => return rows,
        }
    }
}

async fn library(connection: &Connection) -> usize {
    let mut params = serde_json::Map::new();
    params.insert("ResultSize".into(), "Unlimited".into());
    let mut query = connection
        .exchange()
        .query(Surface::Exchange, "Get-Mailbox", params);
    let mut rows = 0;
    while let Some(page) = query.next_page().await.expect("page") {
        rows += page.rows.len();
    }
    rows
}

fn cli(info: &ReadyInfo, args: &[&str]) -> Duration {
    let admin = info.app("exorun-admin").expect("admin app");
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_exorun"))
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
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("exorun runs");
    assert!(status.success(), "exorun {args:?} failed");
    started.elapsed()
}

/// Runs the emulator on its own runtime and threads, as a separate server would, so the clients
/// measured here do not share worker threads with it; returns its ready line and a stopper.
fn start_emulator(state: &std::path::Path) -> (ReadyInfo, std::sync::mpsc::Sender<()>) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let state = state.to_path_buf();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let mut config = SimConfig::new(&state);
        config.scenario.tenants[0].mailboxes = MAILBOXES;
        let sim = runtime
            .block_on(exorun_sim::start(config))
            .expect("emulator");
        ready_tx.send(sim.info.clone()).expect("ready");
        let _ = stop_rx.recv();
        runtime.block_on(sim.shutdown());
    });
    (ready_rx.recv().expect("emulator started"), stop_tx)
}

fn main() {
    let state = tempfile::tempdir().expect("tempdir");
    let (info, stop) = start_emulator(state.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let connection = Connection::open(settings(&info)).expect("connection");
    let token = runtime
        .block_on(connection.tokens().token(Resource::Exchange))
        .expect("token");
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(&info.ca_file).expect("ca")).expect("ca pem");
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .expect("client");

    let (mut base, mut lib, mut bin) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        assert_eq!(
            runtime.block_on(baseline(&http, &info, token.secret.expose())),
            MAILBOXES
        );
        base.push(t.elapsed());
        let t = Instant::now();
        assert_eq!(runtime.block_on(library(&connection)), MAILBOXES);
        lib.push(t.elapsed());
        bin.push(cli(
            &info,
            &["invoke", "Get-Mailbox", "-ResultSize", "Unlimited"],
        ));
    }
    let (b, l, c) = (median(base), median(lib), median(bin));
    let rate = |d: Duration| MAILBOXES as f64 / d.as_secs_f64();
    println!(
        "Get-Mailbox -ResultSize Unlimited over {MAILBOXES} mailboxes (1000-row pages), median of 3:"
    );
    println!(
        "  minimal reqwest loop (baseline)   {:>7.2} s  {:>8.0} rows/s  1.00x",
        b.as_secs_f64(),
        rate(b)
    );
    println!(
        "  exorun library page stream        {:>7.2} s  {:>8.0} rows/s  {:.2}x",
        l.as_secs_f64(),
        rate(l),
        rate(l) / rate(b)
    );
    println!(
        "  exorun invoke (CLI, to /dev/null) {:>7.2} s  {:>8.0} rows/s  {:.2}x",
        c.as_secs_f64(),
        rate(c),
        rate(c) / rate(b)
    );

    cli(&info, &["connect", "--test"]);
    let (mut start, mut connect) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let t = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_exorun"))
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .expect("exorun runs");
        assert!(status.success());
        start.push(t.elapsed());
        connect.push(cli(&info, &["connect", "--test"]));
    }
    let (s, t) = (median(start), median(connect));
    println!("exorun connect --test, warm emulator, median of 10:");
    println!(
        "  exorun --version (process start)  {:>7.1} ms  1.00x",
        s.as_secs_f64() * 1000.0
    );
    println!(
        "  exorun connect --test             {:>7.1} ms  {:.1}x",
        t.as_secs_f64() * 1000.0,
        t.as_secs_f64() / s.as_secs_f64()
    );
    let _ = stop.send(());
}
