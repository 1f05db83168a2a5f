//! exorun-sim benchmarks (run: `cargo bench -p exorun-sim --bench sim`).
//!
//! 1. Generating 1,000,000 recipients: time and peak memory, against the issue's budget
//!    (10 s, 2 GB) and against a baseline measured in the same run (building the same number of
//!    bare `String` display names, the least any generator must do).
//! 2. Serving one 1000-row Get-Mailbox page over HTTPS from a 1,000,000-recipient tenant, against
//!    a baseline in the same run: the same TLS + HTTP stack serving a static body of the same size.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use exorun_sim::client::ClientAssertion;
use exorun_sim::directory::RecipientStore;
use exorun_sim::directory::generate::{Population, generate};
use exorun_sim::{SimConfig, pki, server, start};
use serde_json::{Value, json};

const MILLION: Population = Population {
    mailboxes: 850_000,
    mail_users: 50_000,
    mail_contacts: 80_000,
    distribution_groups: 20_000,
};

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn bench_generation() {
    let rss_before = peak_rss_mb();
    let started = Instant::now();
    let names: Vec<String> = (0..1_000_000)
        .map(|i| format!("Recipient Number {i}"))
        .collect();
    let baseline = started.elapsed();
    drop(names);

    let started = Instant::now();
    let mut store = RecipientStore::new("contoso.onmicrosoft.com");
    generate(
        &mut store,
        &MILLION,
        1,
        "contoso.com",
        "contoso.onmicrosoft.com",
        exorun_sim::time::now(),
    );
    let elapsed = started.elapsed();
    let rss = peak_rss_mb();
    println!("generate 1,000,000 recipients ({} stored):", store.len());
    println!(
        "  time      {:>8.2} s   ({:.2}x the 10 s budget; {:.1}x the bare-names baseline of {:.3} s)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() / 10.0,
        elapsed.as_secs_f64() / baseline.as_secs_f64(),
        baseline.as_secs_f64()
    );
    println!(
        "  peak RSS  {:>8.0} MB  ({:.2}x the 2 GB budget; {:.0} MB before)",
        rss,
        rss / 2048.0,
        rss_before
    );
}

async fn bench_page() {
    let state = tempfile::tempdir().unwrap();
    let mut config = SimConfig::new(state.path());
    let tenant = &mut config.scenario.tenants[0];
    tenant.mailboxes = MILLION.mailboxes;
    tenant.mail_users = Some(MILLION.mail_users);
    tenant.mail_contacts = Some(MILLION.mail_contacts);
    tenant.distribution_groups = Some(MILLION.distribution_groups);
    let sim = start(config).await.unwrap();
    let info = sim.info.clone();
    let admin = info.app("exorun-admin").unwrap();
    let assertion = ClientAssertion::from_pem_files(
        admin.certificate.as_ref().unwrap(),
        admin.private_key.as_ref().unwrap(),
        &admin.client_id,
        &info.token_url,
    )
    .unwrap()
    .sign()
    .unwrap();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&info.ca_file).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([ca.clone()])
        .build()
        .unwrap();
    let token: Value = http
        .post(&info.token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", admin.client_id.as_str()),
            ("scope", "https://outlook.office365.com/.default"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    let body = json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"ResultSize": "Unlimited"}}});

    // The first page runs the query over all mailboxes; later pages come from the cursor.
    let first = http
        .post(&info.exchange_url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let first_json: Value = serde_json::from_slice(&first).unwrap();
    let next = first_json["@odata.nextLink"].as_str().unwrap().to_string();
    let page_bytes = first.len();

    let mut query = Vec::new();
    let mut paged = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let b = http
            .post(&info.exchange_url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        query.push(t.elapsed());
        assert!(b.len() > 100_000);
        let t = Instant::now();
        let b = http
            .post(&next)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        paged.push(t.elapsed());
        assert!(b.len() > 100_000);
    }

    // Baseline: the same TLS and HTTP stack serving a static body of the same size.
    let static_body = bytes::Bytes::from(first.to_vec());
    let app = Router::new().route(
        "/static",
        get(move || {
            let b = static_body.clone();
            async move { b }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ca_pair = pki::generate_ca().unwrap();
    let server_pair = pki::issue_server_cert(&ca_pair).unwrap();
    let acceptor = Arc::new(pki::acceptor(&server_pair, &ca_pair.cert).unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(server::serve(listener, acceptor, app, rx));
    let base_client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca_pair.cert_pem().unwrap()).unwrap()])
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{}/static", addr.port());
    base_client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut baseline = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        base_client
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        baseline.push(t.elapsed());
    }
    let _ = tx.send(());
    let (q, p, b) = (median(query), median(paged), median(baseline));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "1000-row Get-Mailbox page over HTTPS, 1,000,000-recipient tenant ({page_bytes} bytes), median of 30:"
    );
    println!(
        "  static body, same stack (baseline) {:>7.2} ms   1.00x",
        ms(b)
    );
    println!(
        "  next page (from the cursor)        {:>7.2} ms   {:.2}x baseline",
        ms(p),
        ms(p) / ms(b)
    );
    println!(
        "  first page (query over 1M)         {:>7.2} ms   {:.2}x baseline",
        ms(q),
        ms(q) / ms(b)
    );
    sim.shutdown().await;
}

fn main() {
    bench_generation();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench_page());
}
