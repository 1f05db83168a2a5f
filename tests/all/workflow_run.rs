//! `exorun workflow run|resume|runs` against the emulator with real plugins under a policy:
//! data passed from step to step, fan-out, the summary, a dry run's plan, and a resumed run
//! that sends nothing twice (the emulator's request log shows what was sent).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::cli::{exorun, mailboxes, pfx_flags, policy, run};
use crate::support::{Sim, start_with};

/// Where scripts/build-plugins.sh puts the plugins.
pub(crate) fn plugins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins")
}

/// A workflow that lists people (echo), then sets an auto-reply for each, two at once.
fn workflow(sim: &Sim) -> PathBuf {
    workflow_at_most(sim, 2)
}

/// The same with `max_parallel` items at once.
fn workflow_at_most(sim: &Sim, max_parallel: usize) -> PathBuf {
    sim.write(
        "replies.toml",
        format!(
            r#"name = "replies"
description = "Auto-replies for a list of people"
plugin_dir = "{}"

[inputs.people]
type = "list"
description = "objects with an upn"

[inputs.message]
type = "string"
default = "Away"

[[steps]]
id = "list"
plugin = "echo"
input = {{ value = "listed", records = "${{inputs.people}}" }}

[[steps]]
id = "reply"
plugin = "auto-reply"
for_each = "${{steps.list.records}}"
max_parallel = {}
input = {{ identities = ["${{item.upn}}"], state = "Enabled", internal_message = "${{inputs.message}}" }}
on_error = "continue"

[outputs]
listed = "${{steps.list.output.value}}"
replied = "${{steps.reply.counts.succeeded}}"
"#,
            plugins_dir().display(),
            max_parallel
        ),
    )
}

/// `exorun workflow ARGS` as the admin app, with the run and plugin-cache directories of the
/// tests.
pub(crate) fn workflow_cmd(sim: &Sim, args: &[&str]) -> Command {
    let mut command = exorun(sim);
    command
        .args(pfx_flags(sim, "exorun-admin"))
        .arg("workflow")
        .args(args)
        .arg("--runs-dir")
        .arg(sim.dir.path().join("runs"));
    if args[0] != "runs" {
        command
            .arg("--cache-dir")
            .arg(Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-plugin-cache"));
    }
    command
}

/// The identities the emulator received an auto-reply change for, in order.
pub(crate) async fn sets(sim: &Sim) -> Vec<String> {
    sim.requests()
        .await
        .into_iter()
        .filter(|e| e.cmdlet.as_deref() == Some("Set-MailboxAutoReplyConfiguration"))
        .map(|e| {
            e.parameters.unwrap()["Identity"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_passes_data_fans_out_and_a_resumed_run_sends_nothing_twice() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 10).await;
    let (file, policy) = (workflow(&sim), policy(&sim, &["echo", "auto-reply"]));
    let upns = mailboxes(&sim, 3);
    let people = Value::Array(upns.iter().map(|u| json!({"upn": u})).collect()).to_string();
    let input = format!("people={people}");
    let (ok, out, err) = run(workflow_cmd(&sim, &["run"])
        .arg(&file)
        .args(["--input", &input, "--policy"])
        .arg(&policy));
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("Workflow replies, run "), "{out}");
    assert!(out.contains("output listed = \"listed\""), "{out}");
    assert!(out.contains("output replied = 3"), "{out}");
    let mut sent = sets(&sim).await;
    sent.sort();
    let mut expected = upns.clone();
    expected.sort();
    assert_eq!(sent, expected, "one change per person");
    assert!(
        err.contains("step reply: 3 items"),
        "plain progress lines off a terminal: {err}"
    );

    let (ok, listed, err) = run(&mut workflow_cmd(&sim, &["runs"]));
    assert!(ok, "{err}");
    let line = listed.lines().nth(1).unwrap_or_default();
    assert!(
        line.contains("replies") && line.contains("succeeded"),
        "{listed}"
    );
    let id = line.split_whitespace().next().unwrap();

    // Resuming a finished run (by the start of its id) runs nothing again.
    let (ok, out, err) = run(workflow_cmd(&sim, &["resume", &id[..8]])
        .arg("--policy")
        .arg(&policy));
    assert!(ok, "{out}\n{err}");
    assert!(err.contains("already succeeded"), "{err}");
    assert_eq!(sets(&sim).await.len(), 3, "nothing sent twice");

    // The audit log has the workflow's run id on its plugin runs' records.
    let (ok, out, err) =
        run(exorun(&sim).args(["audit", "show", "--run", id, "--output", "jsonl"]));
    assert!(ok, "{err}");
    assert!(
        out.lines().filter(|l| l.contains("\"run-start\"")).count() >= 4,
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_prints_and_saves_the_plan_and_sends_no_change() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 10).await;
    let (file, policy) = (workflow(&sim), policy(&sim, &["echo", "auto-reply"]));
    let upns = mailboxes(&sim, 2);
    let people = Value::Array(upns.iter().map(|u| json!({"upn": u})).collect()).to_string();
    let plan = sim.dir.path().join("plan.json");
    let (ok, out, err) = run(workflow_cmd(&sim, &["run"])
        .arg(&file)
        .args([
            "--input",
            &format!("people={people}"),
            "--dry-run",
            "--plan-out",
        ])
        .arg(&plan)
        .arg("--policy")
        .arg(&policy));
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("(dry run)") && out.contains("Plan: 2 changes would be made (none was sent)"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "default / reply / {}: Set-MailboxAutoReplyConfiguration",
            upns[0]
        )),
        "{out}"
    );
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(saved.as_array().unwrap().len(), 2, "{saved}");
    assert_eq!(saved[0]["cmdlet"], "Set-MailboxAutoReplyConfiguration");
    assert!(sets(&sim).await.is_empty(), "a dry run sends no change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_out_without_a_dry_run_is_refused_before_anything_is_sent() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 4).await;
    let (file, policy) = (workflow(&sim), policy(&sim, &["echo", "auto-reply"]));
    let upns = mailboxes(&sim, 2);
    let people = Value::Array(upns.iter().map(|u| json!({"upn": u})).collect()).to_string();
    let plan = sim.dir.path().join("plan.json");
    let (ok, out, err) = run(workflow_cmd(&sim, &["run"])
        .arg(&file)
        .args(["--input", &format!("people={people}"), "--plan-out"])
        .arg(&plan)
        .arg("--policy")
        .arg(&policy));
    assert!(!ok, "{out}\n{err}");
    assert!(
        err.contains("--plan-out saves a dry run's plan")
            && err.contains("nothing was run")
            && err.contains("add --dry-run"),
        "{err}"
    );
    assert!(sets(&sim).await.is_empty(), "no change was sent");
    assert!(!plan.exists(), "no plan was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_and_plugins_outside_the_policy_are_refused_before_anything_runs() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 4).await;
    let file = workflow(&sim);
    let (ok, out, err) = run(exorun(&sim)
        .args(["policy", "init"])
        .arg(plugins_dir().join("echo.wasm")));
    assert!(ok, "{err}");
    let only_echo = sim.write("only-echo.toml", out);
    let (ok, _, err) = run(workflow_cmd(&sim, &["run"])
        .arg(&file)
        .args(["--input", "people=[]", "--policy"])
        .arg(&only_echo));
    assert!(!ok);
    assert!(
        err.contains("step 'reply'") && err.contains("auto-reply"),
        "{err}"
    );
    let (ok, _, err) = run(workflow_cmd(&sim, &["run"])
        .arg(&file)
        .args(["--input", "nobody=1", "--policy"])
        .arg(&only_echo));
    assert!(!ok);
    assert!(err.contains("no input 'nobody'"), "{err}");
    assert!(
        sim.requests().await.iter().all(|e| e.endpoint != "invoke"),
        "nothing was sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_any_point_a_run_resumes_and_sends_only_the_change_in_flight_again() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 12).await;
    let (file, policy) = (
        workflow_at_most(&sim, 1),
        policy(&sim, &["echo", "auto-reply"]),
    );
    let upns = mailboxes(&sim, 10);
    let people = Value::Array(upns.iter().map(|u| json!({"upn": u})).collect()).to_string();
    // Slow answers, so the kill lands mid-run.
    sim.put_control("faults", json!({"page_latency_ms": 80}))
        .await;
    let mut child = workflow_cmd(&sim, &["run"])
        .arg(&file)
        .args(["--input", &format!("people={people}"), "--policy"])
        .arg(&policy)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_sets(&sim, 3).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = sets(&sim).await.len();

    let (ok, listed, err) = run(&mut workflow_cmd(&sim, &["runs"]));
    assert!(ok, "{err}");
    let line = listed.lines().nth(1).unwrap_or_default();
    assert!(line.contains("interrupted"), "{listed}");
    let id = line.split_whitespace().next().unwrap().to_string();

    // Killed again part way through the resumed run, then resumed to the end.
    let mut child = workflow_cmd(&sim, &["resume", &id])
        .arg("--policy")
        .arg(&policy)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_sets(&sim, before + 3).await;
    child.kill().unwrap();
    child.wait().unwrap();
    sim.put_control("faults", json!({})).await;
    let (ok, out, err) = run(workflow_cmd(&sim, &["resume", &id])
        .arg("--policy")
        .arg(&policy));
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("output replied = 10"), "{out}");

    let sent = sets(&sim).await;
    let mut distinct = sent.clone();
    distinct.sort();
    distinct.dedup();
    let mut expected = upns.clone();
    expected.sort();
    assert_eq!(distinct, expected, "every person got the change");
    assert!(
        sent.len() <= upns.len() + 2,
        "at most the one change in flight at each of the two kills was sent again: {sent:?}"
    );
}

/// Waits (up to a minute) until the emulator has received `n` auto-reply changes.
async fn wait_for_sets(sim: &Sim, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while sets(sim).await.len() < n {
        assert!(std::time::Instant::now() < deadline, "no progress");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_run_every_item_exactly_once_between_them() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 12).await;
    let (file, policy) = (workflow(&sim), policy(&sim, &["echo", "auto-reply"]));
    let upns = mailboxes(&sim, 9);
    let people = Value::Array(upns.iter().map(|u| json!({"upn": u})).collect()).to_string();
    let mut per_shard = Vec::new();
    for shard in ["1/3", "2/3", "3/3"] {
        let before = sets(&sim).await.len();
        let (ok, out, err) = run(workflow_cmd(&sim, &["run"])
            .arg(&file)
            .args([
                "--input",
                &format!("people={people}"),
                "--shard",
                shard,
                "--policy",
            ])
            .arg(&policy));
        assert!(ok, "{shard}: {out}\n{err}");
        per_shard.push(sets(&sim).await.len() - before);
    }
    let mut sent = sets(&sim).await;
    sent.sort();
    let mut expected = upns.clone();
    expected.sort();
    assert_eq!(
        sent, expected,
        "each person once, across the shards: {per_shard:?}"
    );
    assert!(
        per_shard.iter().all(|&n| n < 9),
        "the work was split: {per_shard:?}"
    );

    // A change outside any fan-out would run in every shard: refused.
    let lone = sim.write(
        "lone.toml",
        format!(
            "name = \"lone\"\nplugin_dir = \"{}\"\n\n[[steps]]\nid = \"reply\"\nplugin = \"auto-reply\"\ninput = {{ identities = [\"{}\"], state = \"Enabled\" }}\n",
            plugins_dir().display(),
            upns[0]
        ),
    );
    let (ok, _, err) = run(workflow_cmd(&sim, &["run"])
        .arg(&lone)
        .args(["--shard", "1/2", "--policy"])
        .arg(&policy));
    assert!(!ok);
    assert!(err.contains("every shard would run it"), "{err}");
    for bad in ["0/3", "4/3", "3"] {
        let (ok, _, err) = run(workflow_cmd(&sim, &["run"])
            .arg(&lone)
            .args(["--shard", bad]));
        assert!(!ok && err.contains("K/N"), "{bad}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_workflow_runs_in_each_tenant_with_results_per_tenant() {
    let sim = start_with(|c| {
        c.scenario.tenants[0].mailboxes = 3;
        let mut fabrikam = exorun_sim::scenario::TenantSpec::named("fabrikam");
        fabrikam.mailboxes = 4;
        c.scenario.tenants.push(fabrikam);
    })
    .await;
    let info = sim.info();
    let mut config = String::new();
    for tenant in &info.tenants {
        let admin = tenant
            .apps
            .iter()
            .find(|a| a.name == "exorun-admin")
            .unwrap();
        config.push_str(&format!(
            "[profiles.{}]\nclient_id = \"{}\"\ntenant = \"{}\"\ncertificate_path = \"{}\"\ncertificate_password_file = \"{}\"\nauthority = \"{base}\"\nexchange_url = \"{base}\"\ncompliance_url = \"{base}/compliance\"\nca_file = \"{}\"\n\n",
            tenant.name,
            admin.client_id,
            tenant.domain,
            admin.pfx.as_ref().unwrap().display(),
            admin.pfx_password_file.as_ref().unwrap().display(),
            info.ca_file.display(),
            base = info.base_url,
        ));
    }
    let config = sim.write("config.toml", config);
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
max_parallel = 3
input = {{ identities = ["${{item.UserPrincipalName}}"], state = "Enabled" }}

[outputs]
tenant = "${{tenant}}"
replied = "${{steps.reply.counts.succeeded}}"

[[report.charts]]
title = "Mailboxes by kind"
step = "mailboxes"
kind = "top"
field = "RecipientTypeDetails"
"#,
            plugins_dir().display()
        ),
    );
    let (ok, out, err) = run(exorun(&sim).args(["policy", "init"]).args(
        ["mailbox-inventory", "auto-reply"].map(|p| plugins_dir().join(format!("{p}.wasm"))),
    ));
    assert!(ok, "{err}");
    let policy = sim.write("policy.toml", out);
    let (ok, out, err) = run(exorun(&sim)
        .arg("--config-file")
        .arg(&config)
        .args(["workflow", "run"])
        .arg(&file)
        .arg("--policy")
        .arg(&policy)
        .arg("--runs-dir")
        .arg(sim.dir.path().join("runs"))
        .args(["--output", "json"]));
    assert!(ok, "{out}\n{err}");
    let result: Value = serde_json::from_str(&out).unwrap();
    let replied: Vec<(String, Value)> = result["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tenant"].as_str().unwrap().to_string(),
                t["outputs"]["replied"].clone(),
            )
        })
        .collect();
    assert_eq!(
        replied,
        [
            ("contoso".to_string(), json!(3)),
            ("fabrikam".to_string(), json!(4))
        ],
        "{out}"
    );
    assert_eq!(sets(&sim).await.len(), 7);
    let report = Path::new(result["directory"].as_str().unwrap()).join("report.html");
    assert!(
        err.contains(&format!("report: {}", report.display())),
        "{err}"
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.contains("Mailboxes by kind") && html.contains("<svg"),
        "a chart of both tenants' records"
    );
    assert!(html.contains("fabrikam") && html.contains("contoso"));
    // The real run's report, as a browser shows it: the chart drawn, nothing fetched.
    let visit = crate::chromium::Browser::find().open(&report, crate::chromium::Action::DumpDom);
    visit.assert_loaded_nothing();
    assert!(
        visit.stdout.contains("Mailboxes by kind") && visit.stdout.contains("<rect class=\"bar"),
        "{}",
        visit.stdout
    );

    // The results as CSV for a spreadsheet: whose each row is, and every mailbox once.
    let id = result["run"].as_str().unwrap();
    let records = |args: &[&str]| {
        run(exorun(&sim)
            .args(["workflow", "records"])
            .args(args)
            .arg("--runs-dir")
            .arg(sim.dir.path().join("runs")))
    };
    let (ok, _, err) = records(&[&id[..8]]);
    assert!(
        !ok && err.contains("records of 2 steps: name one (mailboxes, reply)"),
        "{err}"
    );
    let (ok, csv, err) = records(&[&id[..8], "mailboxes", "--output", "csv"]);
    assert!(ok, "{err}");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(&reader.headers().unwrap()[0], "Tenant", "{csv}");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let per_tenant = |t: &str| rows.iter().filter(|r| &r[0] == t).count();
    assert_eq!(
        (per_tenant("contoso"), per_tenant("fabrikam")),
        (3, 4),
        "{csv}"
    );
    let (ok, jsonl, err) = records(&[id, "reply", "--tenant", "fabrikam", "--output", "jsonl"]);
    assert!(ok, "{err}");
    assert_eq!(jsonl.lines().count(), 4, "{jsonl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_runs_on_past_several_token_expiries() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 10).await;
    let (file, policy) = (
        workflow_at_most(&sim, 1),
        policy(&sim, &["echo", "auto-reply"]),
    );
    let upns = mailboxes(&sim, 8);
    let people = Value::Array(upns.iter().map(|u| json!({"upn": u})).collect()).to_string();
    sim.put_control("token-lifetime", json!({"seconds": 1}))
        .await;
    sim.put_control("faults", json!({"page_latency_ms": 400}))
        .await;
    let started = std::time::Instant::now();
    let (ok, out, err) = run(workflow_cmd(&sim, &["run"])
        .arg(&file)
        .args(["--input", &format!("people={people}"), "--policy"])
        .arg(&policy));
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("output replied = 8"), "{out}");
    assert!(
        started.elapsed() > std::time::Duration::from_secs(3),
        "the run outlived three tokens"
    );
    let tokens = sim
        .requests()
        .await
        .iter()
        .filter(|e| e.endpoint == "token")
        .count();
    assert!(tokens >= 3, "a fresh token after each expiry: {tokens}");
    assert_eq!(sets(&sim).await.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_run_started_again_resumes_instead_of_starting_over() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 6).await;
    let (file, policy) = (workflow(&sim), policy(&sim, &["echo", "auto-reply"]));
    let upns = mailboxes(&sim, 3);
    let people = Value::Array(upns.iter().map(|u| json!({"upn": u})).collect()).to_string();
    let input = format!("people={people}");
    let named = |id: &str, input: &str| {
        let mut command = workflow_cmd(&sim, &["run"]);
        command
            .arg(&file)
            .args(["--input", input, "--run-id", id, "--policy"])
            .arg(&policy);
        command
    };
    let (ok, out, err) = run(&mut named("nightly-2026-11-29.shard-1", &input));
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("run nightly-2026-11-29.shard-1"), "{out}");
    // The scheduler starts it again (a restarted pod): nothing is sent twice.
    let (ok, out, err) = run(&mut named("nightly-2026-11-29.shard-1", &input));
    assert!(ok, "{out}\n{err}");
    assert!(err.contains("resuming it"), "{err}");
    assert_eq!(sets(&sim).await.len(), 3);
    // Another input under the same id is refused; so is an id that is not a plain name.
    let (ok, _, err) = run(&mut named("nightly-2026-11-29.shard-1", "people=[]"));
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = run(&mut named("../escape", &input));
    assert!(!ok && err.contains("cannot be a run id"), "{err}");
    // Its plugin runs are found in the audit log by the name.
    let (ok, out, err) = run(exorun(&sim).args([
        "audit",
        "show",
        "--run",
        "nightly-2026-11-29.shard-1",
        "--output",
        "jsonl",
    ]));
    assert!(ok, "{err}");
    assert!(
        out.lines().filter(|l| l.contains("\"run-start\"")).count() >= 4,
        "{out}"
    );
}
