//! One workflow over many tenants in one process, under a low open-files limit: the tenants'
//! connections share one HTTPS client and one handle on the audit log, and are signed in a few
//! at a time as the run comes to them, so the files the run holds open do not grow with its
//! tenants; every tenant is signed in once, and the audit log stays one intact chain.

use std::path::{Path, PathBuf};
use std::process::Command;

use exorun_sim::scenario::{AppSpec, TenantSpec};
use serde_json::Value;

use crate::cli::{exorun, policy, run};
use crate::support::{Sim, start_with};
use crate::workflow_run::plugins_dir;

/// Tenants of the run: with a handle on the audit log and a connection per tenant (about
/// 2T + 30 files) this many exceeded [`OPEN_FILES`] many times over.
const TENANTS: usize = 2000;
/// The open-files limit the run is under (`ulimit -n`, the common default).
const OPEN_FILES: usize = 1024;

/// An emulator with `TENANTS` more tenants of one mailbox each, whose only app (exorun-admin,
/// Exchange Administrator) signs in with a client secret.
async fn many_tenants() -> Sim {
    start_with(|c| {
        for n in 0..TENANTS {
            let mut tenant = TenantSpec::named(&name(n));
            tenant.mailboxes = 1;
            tenant.default_apps = false;
            tenant.apps = vec![AppSpec {
                name: "exorun-admin".into(),
                client_id: None,
                roles: vec!["Exchange Administrator".into()],
                consent: true,
                certificates: Vec::new(),
                generate_certificate: false,
                generate_secret: true,
                managed_identity: false,
            }];
            c.scenario.tenants.push(tenant);
        }
    })
    .await
}

/// The name of tenant `n` (and of its profile).
fn name(n: usize) -> String {
    format!("t{n:04}")
}

/// A config file with a profile per tenant of the emulator but contoso, as its admin app.
fn profiles(sim: &Sim) -> PathBuf {
    let info = sim.info();
    let mut config = String::new();
    for tenant in info.tenants.iter().filter(|t| t.name != "contoso") {
        let admin = tenant
            .apps
            .iter()
            .find(|a| a.name == "exorun-admin")
            .unwrap();
        config.push_str(&format!(
            "[profiles.{}]\nclient_id = \"{}\"\ntenant = \"{}\"\nclient_secret_file = \"{}\"\nauthority = \"{base}\"\nexchange_url = \"{base}\"\ncompliance_url = \"{base}/compliance\"\nca_file = \"{}\"\n\n",
            tenant.name,
            admin.client_id,
            tenant.domain,
            admin.secret_file.as_ref().unwrap().display(),
            info.ca_file.display(),
            base = info.base_url,
        ));
    }
    sim.write("config.toml", config)
}

/// `command` run under `prlimit --nofile=LIMIT` (soft and hard).
fn limited(command: &Command, limit: usize) -> Command {
    let mut limited = Command::new("prlimit");
    limited
        .arg(format!("--nofile={limit}:{limit}"))
        .arg(command.get_program())
        .args(command.get_args())
        .env_clear();
    for (name, value) in command.get_envs() {
        if let Some(value) = value {
            limited.env(name, value);
        }
    }
    limited
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_over_2000_tenants_runs_under_an_open_files_limit_of_1024() {
    let sim = many_tenants().await;
    let config = profiles(&sim);
    let tenants: Vec<String> = (0..TENANTS).map(|n| format!("\"{}\"", name(n))).collect();
    let file = sim.write(
        "nightly.toml",
        format!(
            r#"name = "nightly"
plugin_dir = "{}"
tenants = [{}]

[[steps]]
id = "mailboxes"
plugin = "mailbox-inventory"
input = {{ statistics = false }}
"#,
            plugins_dir().display(),
            tenants.join(", ")
        ),
    );
    let policy = policy(&sim, &["mailbox-inventory"]);
    let mut command = exorun(&sim);
    command
        .arg("--config-file")
        .arg(&config)
        .args(["workflow", "run"])
        .arg(&file)
        .arg("--policy")
        .arg(&policy)
        .arg("--runs-dir")
        .arg(sim.dir.path().join("runs"))
        .args(["--output", "json"]);
    let (ok, out, err) = run(&mut limited(&command, OPEN_FILES));
    assert!(ok, "{}\n{}", tail(&out), tail(&err));
    let result: Value = serde_json::from_str(&out).unwrap();
    let results = result["tenants"].as_array().unwrap();
    assert_eq!(results.len(), TENANTS);
    for (n, tenant) in results.iter().enumerate() {
        assert_eq!(tenant["tenant"], name(n), "in the workflow's order");
        assert_eq!(tenant["succeeded"], true, "{tenant}");
    }
    let report = Path::new(result["directory"].as_str().unwrap()).join("report.html");
    assert!(
        err.contains(&format!("report: {}", report.display())),
        "{}",
        tail(&err)
    );

    // Each tenant signed in once, and read its mailboxes once.
    let requests = sim.requests().await;
    let count = |endpoint: &str| requests.iter().filter(|e| e.endpoint == endpoint).count();
    let cmdlets = requests
        .iter()
        .filter(|e| e.cmdlet.as_deref() == Some("Get-Mailbox"))
        .count();
    assert_eq!((count("token"), cmdlets), (TENANTS, TENANTS));

    // Every tenant's records went into one chain.
    let (ok, out, err) = run(exorun(&sim).args(["audit", "verify"]));
    assert!(ok, "{out}{err}");
    assert!(out.contains("chain intact"), "{out}");
}

/// The last lines of `text` (a failed run's output is long).
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
