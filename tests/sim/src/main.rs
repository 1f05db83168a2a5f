//! The `exorun-sim` command: start the emulator and print one JSON line when it is ready.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use exorun_sim::SimConfig;
use exorun_sim::control::FaultSettings;
use exorun_sim::entra::issuer::Lifetime;
use exorun_sim::exchange::throttle::ThrottleSettings;
use exorun_sim::scenario::{Scenario, TenantSpec};
use exorun_sim::setup::RegisterCert;

/// A local Exchange Online + Entra ID emulator over HTTPS, for exorun's tests, benchmarks and demos.
///
/// With no options it serves tenant contoso.onmicrosoft.com with 100 mailboxes and ready-made
/// apps whose credentials are written to --state-dir; the ready line (JSON on stdout) names them.
#[derive(Parser, Debug)]
#[command(name = "exorun-sim", version)]
struct Cli {
    /// Port on 127.0.0.1 (0 picks a free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where the CA and the apps' credentials (PEM, PFX, password, secret) are written.
    #[arg(long, env = "EXORUN_SIM_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Also write the CA certificate (PEM) here.
    #[arg(long)]
    ca_out: Option<PathBuf>,
    /// Scenario file (TOML) with tenants, apps and recipient counts.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Name of the first tenant (its domain is <name>.onmicrosoft.com).
    #[arg(long)]
    tenant: Option<String>,
    /// Mailboxes in the first tenant (other recipients are added in proportion).
    #[arg(long)]
    mailboxes: Option<usize>,
    /// Seed of the recipient generator.
    #[arg(long)]
    seed: Option<u64>,
    /// Register this certificate (PEM or DER) as an app of the first tenant.
    #[arg(long, value_name = "PEM")]
    register_cert: Vec<PathBuf>,
    /// Client id for the app made by --register-cert (default: derived from the thumbprint).
    #[arg(long, requires = "register_cert")]
    app_id: Option<uuid::Uuid>,
    /// Directory role for the app made by --register-cert.
    #[arg(
        long,
        requires = "register_cert",
        default_value = "Exchange Administrator"
    )]
    role: String,
    /// Access token lifetime in seconds (default: Entra's random 60–90 minutes).
    #[arg(long)]
    token_lifetime: Option<i64>,
    /// Share (0–1) of InvokeCommand requests answered 429.
    #[arg(long, default_value_t = 0.0)]
    throttle_rate: f64,
    /// Share of InvokeCommand requests answered 503.
    #[arg(long, default_value_t = 0.0)]
    unavailable_rate: f64,
    /// Share of InvokeCommand responses whose connection is cut mid-body.
    #[arg(long, default_value_t = 0.0)]
    drop_rate: f64,
    /// Retry-After seconds on injected 429s.
    #[arg(long, default_value_t = 1.0)]
    retry_after: f64,
    /// Extra latency per InvokeCommand response, milliseconds.
    #[arg(long, default_value_t = 0)]
    page_latency_ms: u64,
    /// Requests an app may burst before the rate limit (Rate-Limit-Limit).
    #[arg(long, default_value_t = 30_000.0)]
    rate_burst: f64,
    /// Requests per second the rate limit refills.
    #[arg(long, default_value_t = 100.0)]
    rate_per_second: f64,
    /// Concurrent requests per tenant before the concurrency 429.
    #[arg(long, default_value_t = 32)]
    tenant_concurrency: usize,
    /// 403 responses carry the AuthZ text (the real service sends NUL bytes).
    #[arg(long)]
    verbose_authz: bool,
}

fn config(cli: Cli) -> anyhow::Result<SimConfig> {
    let state_dir = cli
        .state_dir
        .unwrap_or_else(|| std::env::temp_dir().join("exorun-sim"));
    let mut scenario = match &cli.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::default(),
    };
    let first = &mut scenario.tenants[0];
    if let Some(name) = &cli.tenant {
        let mut renamed = TenantSpec::named(name);
        renamed.mailboxes = first.mailboxes;
        renamed.apps = std::mem::take(&mut first.apps);
        *first = renamed;
    }
    if let Some(n) = cli.mailboxes {
        first.mailboxes = n;
        first.mail_users = None;
        first.mail_contacts = None;
        first.distribution_groups = None;
    }
    if let Some(seed) = cli.seed {
        first.seed = seed;
    }
    let register = cli
        .register_cert
        .into_iter()
        .map(|cert| RegisterCert {
            cert,
            app_id: cli.app_id,
            role: Some(cli.role.clone()),
        })
        .collect();
    let token_lifetime = match cli.token_lifetime {
        Some(s) if s > 0 => Lifetime::Seconds(s),
        Some(_) => anyhow::bail!("--token-lifetime must be a positive number of seconds"),
        None => Lifetime::Default,
    };
    Ok(SimConfig {
        port: cli.port,
        state_dir,
        ca_out: cli.ca_out,
        scenario,
        register,
        token_lifetime,
        faults: FaultSettings {
            throttle_rate: cli.throttle_rate,
            unavailable_rate: cli.unavailable_rate,
            drop_rate: cli.drop_rate,
            retry_after: cli.retry_after,
            page_latency_ms: cli.page_latency_ms,
            ..FaultSettings::default()
        },
        throttle: ThrottleSettings {
            burst: cli.rate_burst,
            per_second: cli.rate_per_second,
            tenant_concurrency: cli.tenant_concurrency,
        },
        verbose_authz: cli.verbose_authz,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let config = config(Cli::parse())?;
    let sim = exorun_sim::start(config)
        .await
        .context("exorun-sim could not start")?;
    println!("{}", serde_json::to_string(&sim.info)?);
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    sim.shutdown().await;
    Ok(())
}
