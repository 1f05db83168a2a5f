//! The demo: start the emulator, sign in as the ready-made admin app with its certificate (a PS256
//! client assertion, no secret), and page through every mailbox over HTTPS.
//!
//! Run: `cargo run -p exorun-sim --example demo -- [--mailboxes N]`

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, bail};
use exorun_sim::client::ClientAssertion;
use exorun_sim::directory::DirectoryRole;
use exorun_sim::{SimConfig, start};
use serde_json::{Value, json};

fn mailboxes_arg() -> anyhow::Result<usize> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(2000),
        [flag, n] if flag == "--mailboxes" => n.parse().context("--mailboxes takes a number"),
        _ => bail!("usage: demo [--mailboxes N]"),
    }
}

fn claims(token: &str) -> anyhow::Result<Value> {
    use base64::Engine;
    let payload = token.split('.').nth(1).context("the token is not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?;
    Ok(serde_json::from_slice(&bytes)?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mailboxes = mailboxes_arg()?;
    let state = tempfile::tempdir()?;
    let mut config = SimConfig::new(state.path());
    config.scenario.tenants[0].mailboxes = mailboxes;
    let sim = start(config).await?;
    let info = &sim.info;
    println!(
        "exorun-sim ready at {} (CA {})",
        info.base_url,
        info.ca_file.display()
    );
    println!(
        "tenant {} ({}), {} recipients",
        info.tenant_domain, info.tenant_id, info.tenants[0].recipients
    );

    let admin = info
        .app("exorun-admin")
        .context("the ready-made admin app is missing")?;
    let (cert, key) = (
        admin.certificate.as_ref().context("no certificate")?,
        admin.private_key.as_ref().context("no key")?,
    );
    let assertion =
        ClientAssertion::from_pem_files(cert, key, &admin.client_id, &info.token_url)?.sign()?;
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&info.ca_file)?)?;
    let http = reqwest::Client::builder().tls_certs_only([ca]).build()?;
    let response: Value = http
        .post(&info.token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", admin.client_id.as_str()),
            ("scope", "https://outlook.office365.com/.default"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await?
        .json()
        .await?;
    let token = response["access_token"]
        .as_str()
        .with_context(|| format!("no token: {response}"))?;
    let c = claims(token)?;
    let roles: Vec<&str> = c["wids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w.as_str().and_then(DirectoryRole::from_template_id))
        .map(DirectoryRole::display_name)
        .collect();
    println!(
        "signed in as {} (app {}) with certificate {}: app roles {}, directory roles {:?}, token valid {} s",
        c["app_displayname"].as_str().unwrap_or_default(),
        c["appid"].as_str().unwrap_or_default(),
        admin.thumbprint.as_deref().unwrap_or_default(),
        c["roles"],
        roles,
        response["expires_in"]
    );

    let started = Instant::now();
    let body = json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"ResultSize": "Unlimited"}}});
    let mut url = info.exchange_url.clone();
    let mut rows = Vec::new();
    for page in 1.. {
        let response = http
            .post(&url)
            .bearer_auth(token)
            .header("Prefer", "odata.maxpagesize=1000")
            .header("client-request-id", uuid::Uuid::new_v4().to_string())
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let page_body: Value = response.json().await?;
        if !status.is_success() {
            bail!("Get-Mailbox failed with {status}: {page_body}");
        }
        let value = page_body["value"].as_array().cloned().unwrap_or_default();
        rows.extend(value.iter().cloned());
        println!(
            "  page {page}: {} mailboxes (total {})",
            value.len(),
            rows.len()
        );
        match page_body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    let elapsed = started.elapsed();
    println!(
        "Get-Mailbox -ResultSize Unlimited: {} mailboxes in {:.0} ms",
        rows.len(),
        elapsed.as_secs_f64() * 1000.0
    );

    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    for row in &rows {
        *by_type
            .entry(
                row["RecipientTypeDetails"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
            )
            .or_default() += 1;
    }
    for (kind, n) in &by_type {
        println!("  {kind:<18} {n}");
    }
    println!(
        "\n{:<40} {:<16} {:<7} FORWARDING",
        "USER PRINCIPAL NAME", "TYPE", "HIDDEN"
    );
    for row in rows
        .iter()
        .filter(|r| !r["ForwardingSmtpAddress"].is_null())
        .chain(rows.iter())
        .take(5)
    {
        println!(
            "{:<40} {:<16} {:<7} {}",
            row["UserPrincipalName"].as_str().unwrap_or_default(),
            row["RecipientTypeDetails"].as_str().unwrap_or_default(),
            row["HiddenFromAddressListsEnabled"].to_string(),
            row["ForwardingSmtpAddress"].as_str().unwrap_or("-")
        );
    }
    sim.shutdown().await;
    Ok(())
}
