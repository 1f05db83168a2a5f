//! A plugin's failed work is never reported as success: a run whose plugin says (in its
//! summary's standard `failed`/`errors` fields) that some of its units failed exits non-zero;
//! in a workflow its item fails, the run and `workflow runs` say so, and `workflow resume` runs
//! exactly the failed items again. Tried against the emulator with the Exchange of one tenant
//! going away mid-fan-out, a tenant that cannot sign in at all (or whose credential cannot be
//! read), and `exorun run` on its own; and a summary whose failure fields are malformed is an
//! error, not a success.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use exorun::runtime::RunError;
use serde_json::{Value, json};

use crate::cli::{exorun, mailboxes, pfx_flags, policy, run};
use crate::runtime::{connect, load};
use crate::support::{Sim, artifact, start_with};

fn plugins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins")
}

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-plugin-cache")
}

/// Each auto-reply change the emulator received: (app, identity).
async fn sets(sim: &Sim) -> Vec<(String, String)> {
    sim.requests()
        .await
        .into_iter()
        .filter(|e| e.cmdlet.as_deref() == Some("Set-MailboxAutoReplyConfiguration"))
        .map(|e| {
            (
                e.app_id.unwrap_or_default(),
                e.parameters.unwrap()["Identity"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

/// A config file with one profile per tenant of the emulator, as its admin app; `adjust`
/// changes a tenant's profile text (e.g. to break its sign-in).
fn profiles(sim: &Sim, adjust: impl Fn(&str, String) -> String) -> PathBuf {
    let info = sim.info();
    let mut config = String::new();
    for tenant in &info.tenants {
        let admin = tenant
            .apps
            .iter()
            .find(|a| a.name == "exorun-admin")
            .unwrap();
        let profile = format!(
            "[profiles.{}]\nclient_id = \"{}\"\ntenant = \"{}\"\ncertificate_path = \"{}\"\ncertificate_password_file = \"{}\"\nauthority = \"{base}\"\nexchange_url = \"{base}\"\ncompliance_url = \"{base}/compliance\"\nca_file = \"{}\"\n\n",
            tenant.name,
            admin.client_id,
            tenant.domain,
            admin.pfx.as_ref().unwrap().display(),
            admin.pfx_password_file.as_ref().unwrap().display(),
            info.ca_file.display(),
            base = info.base_url,
        );
        config.push_str(&adjust(&tenant.name, profile));
    }
    sim.write("config.toml", config)
}

/// The admin app's client id in `tenant`.
fn admin_app(sim: &Sim, tenant: &str) -> String {
    let info = sim.info();
    let tenant = info.tenants.iter().find(|t| t.name == tenant).unwrap();
    tenant
        .apps
        .iter()
        .find(|a| a.name == "exorun-admin")
        .unwrap()
        .client_id
        .clone()
}

/// An emulator with contoso (`contoso` mailboxes) and fabrikam (`fabrikam` mailboxes).
async fn two_tenants(contoso: usize, fabrikam: usize) -> Sim {
    start_with(|c| {
        c.scenario.tenants[0].mailboxes = contoso;
        let mut other = exorun_sim::scenario::TenantSpec::named("fabrikam");
        other.mailboxes = fabrikam;
        c.scenario.tenants.push(other);
    })
    .await
}

/// `exorun --config-file CONFIG workflow ARGS… --runs-dir …`.
fn workflow_cmd(sim: &Sim, config: &Path, args: &[&str]) -> Command {
    let mut command = exorun(sim);
    command
        .arg("--config-file")
        .arg(config)
        .arg("workflow")
        .args(args)
        .arg("--runs-dir")
        .arg(sim.dir.path().join("runs"));
    if args[0] != "runs" {
        command.arg("--cache-dir").arg(cache_dir());
    }
    command
}

/// The one line of `workflow runs` after its header.
fn listed_run(sim: &Sim, config: &Path) -> String {
    let (ok, listed, err) = run(&mut workflow_cmd(sim, config, &["runs"]));
    assert!(ok, "{err}");
    listed.lines().nth(1).unwrap_or_default().to_string()
}

/// The failed items of `step` in a `--output json` result, per tenant.
fn failed_items(result: &Value, tenant: &str, step: &str) -> BTreeSet<String> {
    result["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["tenant"] == tenant)
        .flat_map(|t| t["steps"].as_array().unwrap().iter())
        .filter(|s| s["step"] == step)
        .flat_map(|s| s["failures"].as_array().unwrap().iter())
        .map(|f| f["item"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exorun_run_exits_non_zero_when_its_plugin_says_units_failed() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 4).await;
    let upns = mailboxes(&sim, 2);
    let policy = policy(&sim, &["auto-reply"]);
    // Exchange cuts every answer: each change may or may not have been made, so it fails.
    sim.put_control("faults", json!({"drop_rate": 1.0})).await;
    let input = json!({"identities": upns, "state": "Enabled"}).to_string();
    let output = exorun(&sim)
        .args(pfx_flags(&sim, "exorun-admin"))
        .arg("run")
        .arg(artifact("auto-reply"))
        .arg("--cache-dir")
        .arg(cache_dir())
        .arg("--checkpoint-dir")
        .arg(sim.dir.path().join("checkpoints"))
        .arg("--policy")
        .arg(&policy)
        .args(["--input", &input, "--output", "jsonl"])
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(1), "{out}\n{err}");
    let results: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["Result"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(results, ["Failed", "Failed"], "{out}");
    let said = err
        .lines()
        .find(|l| l.starts_with("exorun: FAILED:"))
        .unwrap_or_else(|| panic!("no FAILED line: {err}"));
    assert!(
        said.starts_with(&format!(
            "exorun: FAILED: plugin auto-reply 0.1.0 ran, but 2 units of its work failed: {}: ",
            upns[0]
        )) && said.contains(&format!("; {}: ", upns[1])),
        "{said}"
    );
    assert!(
        err.contains(
            "the records it wrote say which units failed and why; fix the cause and run it again"
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summary_whose_failure_fields_are_malformed_is_an_error_not_success() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 1).await;
    let connection = connect(&sim, |_| {});
    let hostile = load("hostile").await;
    let (outcome, _) =
        crate::runtime::run(&hostile, &connection, json!({"attempt": "bad-summary"})).await;
    let error = outcome.unwrap_err();
    assert!(matches!(error, RunError::Summary { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "plugin hostile returned a summary exorun cannot read: its summary's \"failed\" is \"some\", not a whole number of failed units ≥ 0; its failed work cannot be counted, so the run is not reported as a success\n  fix: the plugin's author must write \"failed\" as the count of failed units and \"errors\" as a list of text (the Rust SDK's exorun_plugin::Failures writes both; see wit/plugin.wit)"
    );
    // A summary that reports failed units is an outcome with them, not an error.
    let echo = load("echo").await;
    let (outcome, _) =
        crate::runtime::run(&echo, &connection, json!({"failed_units": ["ann", "bob"]})).await;
    let outcome = outcome.unwrap();
    assert_eq!(outcome.failures.failed, 2);
    assert_eq!(
        outcome.failures.errors,
        [
            "ann: failed, as the input asked",
            "bob: failed, as the input asked"
        ]
    );
}

/// Two tenants; the Exchange of one (fabrikam) goes away in the middle of the fan-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_whose_exchange_goes_away_mid_fan_out_fails_and_resume_runs_only_its_failed_items()
{
    let sim = two_tenants(2, 8).await;
    let config = profiles(&sim, |_, profile| profile);
    let policy = policy(&sim, &["mailbox-inventory", "auto-reply"]);
    let file = sim.write(
        "nightly.toml",
        format!(
            r#"name = "nightly"
plugin_dir = "{}"
tenants = ["contoso", "fabrikam"]

[[steps]]
id = "mailboxes"
plugin = "mailbox-inventory"
input = {{ statistics = false }}

[[steps]]
id = "reply"
plugin = "auto-reply"
for_each = "${{steps.mailboxes.records}}"
max_parallel = 1
on_error = "continue"
input = {{ identities = ["${{item.UserPrincipalName}}"], state = "Enabled" }}
"#,
            plugins_dir().display()
        ),
    );
    let (contoso, fabrikam) = (admin_app(&sim, "contoso"), admin_app(&sim, "fabrikam"));
    // Slow answers, so the cut lands mid-fan-out.
    sim.put_control("faults", json!({"page_latency_ms": 60}))
        .await;
    let child = workflow_cmd(&sim, &config, &["run"])
        .arg(&file)
        .arg("--policy")
        .arg(&policy)
        .args(["--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sent = sets(&sim).await;
        let of = |app: &str| sent.iter().filter(|(a, _)| a == app).count();
        if of(&contoso) == 2 && of(&fabrikam) >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress: {sent:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // From here every answer is cut: fabrikam's Exchange has gone away.
    sim.put_control("faults", json!({"drop_rate": 1.0})).await;
    let output = child.wait_with_output().unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    assert_eq!(output.status.code(), Some(1), "{out}\n{err}");
    let result: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["succeeded"], false, "{out}");
    let tenants = result["tenants"].as_array().unwrap();
    assert_eq!(
        tenants[0]["succeeded"], true,
        "contoso finished first: {out}"
    );
    assert_eq!(tenants[1]["succeeded"], false, "{out}");
    let failed = failed_items(&result, "fabrikam", "reply");
    assert!(
        (1..=6).contains(&failed.len()),
        "fabrikam's items after the cut failed: {out}"
    );
    let reply = &tenants[1]["steps"][1];
    assert_eq!(reply["status"], "failed");
    assert_eq!(reply["failed"], failed.len());
    assert_eq!(
        reply["succeeded"].as_u64().unwrap() + failed.len() as u64,
        8
    );
    let error = reply["failures"][0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("the plugin says 1 unit of its work failed: ")
            && error.contains("transport"),
        "{error}"
    );

    let line = listed_run(&sim, &config);
    assert!(
        line.contains(&format!("failed: {} of 12 items", failed.len())),
        "`workflow runs` shows the partial failure: {line}"
    );
    let id = line.split_whitespace().next().unwrap().to_string();

    // Exchange is back: resuming runs exactly the failed items again, nothing else.
    sim.put_control("faults", json!({})).await;
    let before = sets(&sim).await.len();
    let (ok, out, err) = run(workflow_cmd(&sim, &config, &["resume", &id])
        .arg("--policy")
        .arg(&policy));
    assert!(ok, "{out}\n{err}");
    assert!(!err.contains("already succeeded"), "{err}");
    let again: BTreeSet<(String, String)> = sets(&sim).await[before..].iter().cloned().collect();
    let expected: BTreeSet<(String, String)> = failed
        .iter()
        .map(|upn| (fabrikam.clone(), upn.clone()))
        .collect();
    assert_eq!(again, expected, "only the failed items ran again");
    assert_eq!(sets(&sim).await.len() - before, failed.len(), "each once");
    assert!(listed_run(&sim, &config).contains("succeeded"));
}

/// Two tenants; one (fabrikam) cannot sign in at all: its app is not registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_that_cannot_sign_in_fails_and_resume_tries_it_again() {
    let sim = two_tenants(3, 2).await;
    let upns = mailboxes(&sim, 3);
    let fabrikam = admin_app(&sim, "fabrikam");
    let unknown = "0b5c1a8e-7d6f-4e2a-9c3b-1f0e2d4c6a88";
    let broken = profiles(&sim, |tenant, profile| {
        if tenant == "fabrikam" {
            profile.replace(&fabrikam, unknown)
        } else {
            profile
        }
    });
    let policy = policy(&sim, &["echo", "auto-reply"]);
    let file = sim.write(
        "replies.toml",
        format!(
            r#"name = "replies"
plugin_dir = "{}"
tenants = ["contoso", "fabrikam"]

[inputs.people]
type = "list"

[[steps]]
id = "list"
plugin = "echo"
input = {{ records = "${{inputs.people}}" }}

[[steps]]
id = "reply"
plugin = "auto-reply"
for_each = "${{steps.list.records}}"
on_error = "continue"
input = {{ identities = ["${{item.upn}}"], state = "Enabled" }}
"#,
            plugins_dir().display()
        ),
    );
    let people = Value::Array(upns.iter().map(|u| json!({"upn": u})).collect()).to_string();
    let (ok, out, err) = run(workflow_cmd(&sim, &broken, &["run"])
        .arg(&file)
        .args(["--input", &format!("people={people}"), "--policy"])
        .arg(&policy));
    assert!(!ok, "{out}\n{err}");
    assert!(
        out.contains("fabrikam: failed: 3 of 4 items"),
        "the table says which tenant failed and how much: {out}"
    );
    for upn in &upns {
        let said = format!(
            "  reply / {upn}: failed: the plugin says 1 unit of its work failed: {upn}: unauthorized: "
        );
        assert!(out.contains(&said), "{said}\n{out}");
    }
    assert!(out.contains("AADSTS"), "{out}");
    let line = listed_run(&sim, &broken);
    assert!(line.contains("failed: 3 of 8 items"), "{line}");
    let id = line.split_whitespace().next().unwrap().to_string();
    let contoso_sets = sets(&sim).await.len();
    assert_eq!(contoso_sets, 3, "only contoso's changes reached Exchange");

    // Signed in properly, resume tries fabrikam's items again, and only those.
    let fixed = profiles(&sim, |_, profile| profile);
    let (ok, out, err) = run(workflow_cmd(&sim, &fixed, &["resume", &id])
        .arg("--policy")
        .arg(&policy));
    assert!(ok, "{out}\n{err}");
    let again: Vec<(String, String)> = sets(&sim).await[contoso_sets..].to_vec();
    assert_eq!(again.len(), 3, "{again:?}");
    assert!(again.iter().all(|(app, _)| *app == fabrikam), "{again:?}");
}

/// The Python plugin goes on past a mailbox whose statistics it may not read, and counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_plugin_counts_the_mailboxes_it_could_not_read() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 3).await;
    let connection = connect(&sim, |_| {});
    let plugin = load("stale-mailboxes").await;
    let (outcome, records) =
        crate::runtime::run_with(&plugin, &connection, json!({"days": 0}), |request| {
            let mut grant = exorun::policy::Grant::from_manifest(plugin.manifest());
            grant.cmdlets.retain(|c| c.name != "Get-MailboxStatistics");
            request.grant = std::sync::Arc::new(grant);
        })
        .await;
    let outcome = outcome.unwrap();
    assert!(records.is_empty(), "{records:?}");
    assert_eq!(outcome.failures.failed, 3, "{}", outcome.summary);
    assert_eq!(outcome.failures.errors.len(), 3);
    assert!(
        outcome.failures.errors[0].contains(": Get-MailboxStatistics: denied: "),
        "{:?}",
        outcome.failures.errors
    );
}

/// Two tenants; the credential of one (fabrikam) cannot even be read: the other still runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_whose_credential_cannot_be_read_fails_alone_and_resume_runs_it() {
    let sim = two_tenants(2, 2).await;
    let policy = policy(&sim, &["mailbox-inventory"]);
    let missing = sim.dir.path().join("fabrikam-moved.pfx");
    let info = sim.info();
    let fabrikam_pfx = info.tenants[1]
        .apps
        .iter()
        .find(|a| a.name == "exorun-admin")
        .unwrap()
        .pfx
        .clone()
        .unwrap();
    let broken = profiles(&sim, |tenant, profile| {
        if tenant == "fabrikam" {
            profile.replace(
                &fabrikam_pfx.display().to_string(),
                &missing.display().to_string(),
            )
        } else {
            profile
        }
    });
    let file = sim.write(
        "inventory.toml",
        format!(
            r#"name = "inventory"
plugin_dir = "{}"
tenants = ["contoso", "fabrikam"]

[[steps]]
id = "mailboxes"
plugin = "mailbox-inventory"
input = {{ statistics = false }}
"#,
            plugins_dir().display()
        ),
    );
    let (ok, out, err) = run(workflow_cmd(&sim, &broken, &["run"])
        .arg(&file)
        .arg("--policy")
        .arg(&policy));
    assert!(!ok, "{out}\n{err}");
    assert!(out.contains("contoso: succeeded"), "{out}");
    assert!(out.contains("fabrikam: failed\n"), "{out}");
    assert!(
        out.contains("  mailboxes: not run: tenant 'fabrikam' cannot be signed in to: "),
        "{out}"
    );
    assert!(
        err.contains("exorun: warning: cannot sign in to tenant 'fabrikam': "),
        "{err}"
    );
    let line = listed_run(&sim, &broken);
    assert!(
        line.contains("inventory") && line.contains("failed"),
        "{line}"
    );
    let id = line.split_whitespace().next().unwrap().to_string();

    let fixed = profiles(&sim, |_, profile| profile);
    let before = sim.requests().await.len();
    let (ok, out, err) = run(workflow_cmd(&sim, &fixed, &["resume", &id])
        .arg("--policy")
        .arg(&policy));
    assert!(ok, "{out}\n{err}");
    let listed: Vec<String> = sim.requests().await[before..]
        .iter()
        .filter(|e| e.cmdlet.as_deref() == Some("Get-Mailbox"))
        .map(|e| e.app_id.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        listed,
        [admin_app(&sim, "fabrikam")],
        "only fabrikam's step ran again"
    );
    assert!(listed_run(&sim, &fixed).contains("succeeded"));
}
