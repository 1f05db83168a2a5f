//! Workflows through `exorun serve`: the service's workflow files, run for the callers their
//! rules name, with the same engine, journal and report as `exorun workflow run`, and taken up
//! again from the journal after the service was killed.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::serve::{Service, configure, me};
use crate::support::{Sim, start_with};

/// A workflow `away` that sets an auto-reply for each of `people` (UPNs), `max_parallel` at
/// once, from the store's plugin; serve.toml names the workflows directory.
fn away_workflow(sim: &Sim, max_parallel: usize) {
    away_workflow_with(sim, &format!("max_parallel = {max_parallel}"));
}

/// [`away_workflow`] with `step` (TOML lines) in its step.
fn away_workflow_with(sim: &Sim, step: &str) {
    let dir = sim.dir.path().join("workflows");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("away.toml"),
        format!(
            r#"name = "away"
description = "Auto-replies for people who are away"
plugin_dir = "../store"

[inputs.people]
type = "list"
description = "UPNs"

[inputs.message]
type = "string"
default = "Away"

[[steps]]
id = "reply"
plugin = "auto-reply"
for_each = "${{inputs.people}}"
{step}
input = {{ identities = ["${{item}}"], state = "Enabled", internal_message = "${{inputs.message}}" }}

[outputs]
replied = "${{steps.reply.counts.succeeded}}"
"#
        ),
    )
    .unwrap();
    let serve_toml = sim.dir.path().join("serve.toml");
    let mut text = std::fs::read_to_string(&serve_toml).unwrap();
    text.push_str("workflows = \"workflows\"\nlease_secs = 3\n");
    std::fs::write(&serve_toml, text).unwrap();
}

/// The rule: the test's user may run `away` for contoso.com people.
fn away_rule(extra: &str) -> String {
    format!(
        "[[caller]]\nname = \"away for helpdesk\"\nwho = [\"unix-user:{}\"]\nworkflows = [\"away\"]\n{extra}[caller.inputs]\npeople = {{ glob = \"*@contoso.com\", required = true }}\nmessage = {{}}\n",
        me()
    )
}

/// `exorun` with a clean environment, asking the service at `server`.
fn client_of(server: &str) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_exorun"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("EXORUN_SERVER", server);
    command
}

fn changes_for(log: &[exorun_sim::control::LogEntry], upn: &str) -> usize {
    log.iter()
        .filter(|e| e.cmdlet.as_deref() == Some("Set-MailboxAutoReplyConfiguration"))
        .filter(|e| {
            e.parameters
                .as_ref()
                .is_some_and(|p| p["Identity"] == json!(upn))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_runs_through_the_service_for_the_callers_its_rule_names() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 5).await;
    let people = crate::cli::mailboxes(&sim, 3);
    configure(&sim, &["auto-reply"], &away_rule(""));
    away_workflow(&sim, 2);
    let service = Service::start(&sim);

    let (status, listed) = service.get("/api/v1/workflows").await;
    assert_eq!(status, 200, "{listed}");
    let away = &listed[0];
    assert_eq!(away["name"], "away", "{listed}");
    assert_eq!(away["input_schema"]["required"], json!(["people"]));
    assert_eq!(away["steps"][0]["plugin"], "auto-reply");
    assert_eq!(away["mutates"], true);

    // Refused before anything is queued: an input outside the rule, an unknown input, a
    // workflow the service does not have.
    let before = sim.requests().await.len();
    let (status, problem) = service
        .post(
            "/api/v1/runs",
            &json!({"workflow": "away", "input": {"people": ["boss@fabrikam.com"]}}),
        )
        .await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("people"),
        "{problem}"
    );
    let (status, problem) = service
        .post(
            "/api/v1/runs",
            &json!({"workflow": "away", "input": {"people": "ann@contoso.com", "mesage": "x"}}),
        )
        .await;
    assert_eq!(status, 403, "{problem}");
    let (status, problem) = service
        .post(
            "/api/v1/runs",
            &json!({"workflow": "away", "input": {"people": ["ann@contoso.com"], "message": 5}}),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("input 'message' is a string, and '5' is not"),
        "{problem}"
    );
    let (status, problem) = service
        .post("/api/v1/runs", &json!({"workflow": "leavers", "input": {}}))
        .await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(
        sim.requests().await.len(),
        before,
        "a refusal sent something"
    );

    let (status, run) = service
        .post(
            "/api/v1/runs",
            &json!({"workflow": "away", "input": {"people": people, "message": "Back Monday"}}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    assert_eq!(run["kind"], "workflow");
    let id = run["id"].as_str().unwrap().to_string();
    let done = service.wait(&id).await;
    assert_eq!(done["state"], "succeeded", "{done}\n{}", service.log());
    assert_eq!(
        done["summary"]["tenants"][0]["outputs"]["replied"], 3,
        "{done}"
    );
    assert_eq!(done["records"], 3, "{done}");
    let log = sim.requests().await;
    for upn in &people {
        assert_eq!(changes_for(&log, upn), 1, "{upn}");
    }
    // Its records, its report, and its events.
    let records = service.text(&format!("/api/v1/runs/{id}/records")).await;
    assert_eq!(records.lines().count(), 3, "{records}");
    let csv = service
        .text(&format!("/api/v1/runs/{id}/records?format=csv&step=nosuch"))
        .await;
    assert!(csv.contains("no records of a step 'nosuch'"), "{csv}");
    let page = service.text(&format!("/api/v1/runs/{id}/report")).await;
    assert!(page.contains("<html") && page.contains("away"), "{page}");
    let (_, events) = service.get(&format!("/api/v1/runs/{id}/events")).await;
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"step") && kinds.contains(&"progress"),
        "{events}"
    );
    assert_eq!(kinds.last(), Some(&"end"), "{events}");
    // Every change in the audit log (its outcome; its intent is recorded before it is sent)
    // names the caller and the workflow run.
    let audit = std::fs::read_to_string(sim.dir.path().join("audit.jsonl")).unwrap();
    let calls: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["cmdlet"] == "Set-MailboxAutoReplyConfiguration" && r["intent"] != true)
        .collect();
    assert_eq!(calls.len(), 3, "{audit}");
    for call in &calls {
        assert_eq!(call["caller"], format!("unix:{}", me()), "{call}");
        assert_eq!(call["workflow"], id, "{call}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_that_needs_approval_waits_with_the_plan_of_every_item() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 4).await;
    let people = crate::cli::mailboxes(&sim, 2);
    configure(
        &sim,
        &["auto-reply"],
        &away_rule("approvers = [\"unix-user:nobody\"]\n"),
    );
    away_workflow(&sim, 2);
    let service = Service::start(&sim);
    let (status, run) = service
        .post(
            "/api/v1/runs",
            &json!({"workflow": "away", "input": {"people": people}}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    let pending = service.wait(&id).await;
    assert_eq!(pending["state"], "pending-approval", "{pending}");
    let changes = pending["plan"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{pending}");
    assert_eq!(changes[0]["cmdlet"], "Set-MailboxAutoReplyConfiguration");
    assert_eq!(changes[0]["step"], "reply");
    // The plan was rehearsed: nothing changed.
    let log = sim.requests().await;
    assert!(people.iter().all(|upn| changes_for(&log, upn) == 0));
    // The requester cannot approve it.
    let (status, problem) = service
        .post(
            &format!("/api/v1/runs/{id}/approve"),
            &json!({"comment": "ok"}),
        )
        .await;
    assert_eq!(status, 403, "{problem}");
    // Cancelled before anyone approved it, it cannot be resumed past its approvers.
    let (status, cancelled) = service
        .post(&format!("/api/v1/runs/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    let (status, problem) = service
        .post(&format!("/api/v1/runs/{id}/resume"), &json!({}))
        .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("was never approved"),
        "{problem}"
    );
    let log = sim.requests().await;
    assert!(people.iter().all(|upn| changes_for(&log, upn) == 0));
}

/// `kill -9` of the service in the middle of a workflow's fan-out: started again, it takes the
/// run up from its journal; every mailbox's change is sent, and none twice but those in flight
/// at the kill (at most `max_parallel`).
#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_the_killed_service_left_is_taken_up_from_its_journal() {
    const PEOPLE: usize = 12;
    const MAX_PARALLEL: usize = 2;
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = PEOPLE + 2).await;
    let people = crate::cli::mailboxes(&sim, PEOPLE);
    configure(&sim, &["auto-reply"], &away_rule(""));
    away_workflow(&sim, MAX_PARALLEL);
    let invokes = |log: &[exorun_sim::control::LogEntry]| {
        log.iter().filter(|e| e.endpoint == "invoke").count()
    };
    let held = invokes(&sim.requests().await) + 9;
    sim.put_control("faults", json!({ "hold_after": 9 })).await;
    let mut first = Service::start(&sim);
    let (status, run) = first
        .post(
            "/api/v1/runs",
            &json!({"workflow": "away", "input": {"people": people}}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while invokes(&sim.requests().await) < held {
        assert!(Instant::now() < deadline, "{}", first.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    sim.put_control("faults", json!({})).await;

    let second = Service::start(&sim);
    let done = second.finished(&id).await;
    assert_eq!(done["state"], "succeeded", "{done}\n{}", second.log());
    let (_, events) = second.get(&format!("/api/v1/runs/{id}/events")).await;
    assert!(
        events
            .to_string()
            .contains("taken up again from its journal"),
        "{events}"
    );
    let log = sim.requests().await;
    let twice: Vec<&String> = people
        .iter()
        .filter(|upn| {
            let sent = changes_for(&log, upn);
            assert!((1..=2).contains(&sent), "{upn} was sent {sent} times");
            sent == 2
        })
        .collect();
    assert!(twice.len() <= MAX_PARALLEL, "sent twice: {twice:?}");
    let records = second.text(&format!("/api/v1/runs/{id}/records")).await;
    assert_eq!(records.lines().count(), PEOPLE, "{records}");
}

/// `exorun workflow run NAME --server …` asks the service and prints what a local run prints.
#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_runs_a_workflow_through_the_service() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 4).await;
    let people = crate::cli::mailboxes(&sim, 2);
    configure(&sim, &["auto-reply"], &away_rule(""));
    away_workflow(&sim, 2);
    let service = Service::start(&sim);
    let server = format!("unix:{}", service.socket.display());
    let client = || client_of(&server);
    let people_arg = format!("people={}", people.join(","));
    // A dry run: the plan, as a table, and nothing sent.
    let (ok, out, err) = crate::cli::run(client().args([
        "workflow",
        "run",
        "away",
        "--input",
        &people_arg,
        "--dry-run",
    ]));
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("Workflow away (dry run)"), "{out}");
    assert!(out.contains("Plan: 2 changes would be made"), "{out}");
    assert!(
        err.contains("step reply (default)") || err.contains("step reply ("),
        "{err}"
    );
    let log = sim.requests().await;
    assert!(people.iter().all(|upn| changes_for(&log, upn) == 0));
    // The run, as JSON, retried with the same run id: once.
    for _ in 0..2 {
        let (ok, out, err) = crate::cli::run(client().args([
            "workflow",
            "run",
            "away",
            "--input",
            &people_arg,
            "--input",
            "message=$true",
            "--run-id",
            "CHG-7",
            "--output",
            "json",
        ]));
        assert!(ok, "{out}\n{err}");
        let result: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(result["succeeded"], true, "{out}");
        assert_eq!(result["tenants"][0]["outputs"]["replied"], 2, "{out}");
    }
    let log = sim.requests().await;
    assert!(people.iter().all(|upn| changes_for(&log, upn) == 1));
    let (ok, out, err) = crate::cli::run(client().args(["runs"]));
    assert!(ok, "{err}");
    let id = out
        .lines()
        .find(|l| l.contains("away") && l.contains("succeeded"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let (ok, out, err) = crate::cli::run(
        client().args(["runs", "records", &id, "--step", "reply", "--output", "csv"]),
    );
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    // Refusals say why; nothing is sent.
    let (ok, _, err) = crate::cli::run(client().args([
        "workflow",
        "run",
        "away",
        "--input",
        "people=boss@fabrikam.com",
    ]));
    assert!(!ok);
    assert!(err.contains("does not match *@contoso.com"), "{err}");
    let (ok, _, err) = crate::cli::run(client().args([
        "workflow",
        "run",
        "away",
        "--input",
        &people_arg,
        "--shard",
        "1/2",
    ]));
    assert!(!ok);
    assert!(err.contains("leave out --shard with --server"), "{err}");
}

/// A workflow run that failed on the service is resumed by its requester from the command
/// line: only its failed items run again, once each; `workflow runs` and `workflow records`
/// read the service's runs as they read local ones.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_workflow_run_is_resumed_on_the_service_and_only_its_failed_items_run_again() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 5).await;
    let people = crate::cli::mailboxes(&sim, 3);
    configure(&sim, &["auto-reply"], &away_rule(""));
    away_workflow_with(&sim, "max_parallel = 1\non_error = \"continue\"");
    let service = Service::start(&sim);
    let server = format!("unix:{}", service.socket.display());
    let client = || client_of(&server);
    // Exchange cuts its first answer: that item fails, the others go on.
    sim.put_control("faults", json!({"script": ["drop"]})).await;
    let people_arg = format!("people={}", people.join(","));
    let (ok, out, err) = crate::cli::run(client().args([
        "workflow",
        "run",
        "away",
        "--input",
        &people_arg,
        "--output",
        "json",
    ]));
    assert!(!ok, "{out}\n{err}");
    let failed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(failed["state"], "failed", "{out}");
    let id = failed["run"].as_str().unwrap().to_string();
    let failures: Vec<String> = failed["tenants"][0]["steps"][0]["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["item"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failures.len(), 1, "{out}");
    let (ok, out, err) = crate::cli::run(client().args(["workflow", "runs"]));
    assert!(ok, "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("away"), "{line}");
    assert!(
        line.contains(&format!("failed: {} of 3 items", failures.len())),
        "{line}"
    );

    // Exchange is back: the run goes on by the start of its id.
    sim.put_control("faults", json!({})).await;
    let first = sim.requests().await;
    let before = first.len();
    let (ok, out, err) = crate::cli::run(client().args(["workflow", "resume", &id[..8]]));
    assert!(ok, "{out}\n{err}");
    assert!(err.contains("queued again on the service"), "{err}");
    assert!(out.contains(&format!("run {id} on the service")), "{out}");
    let again = sim.requests().await.split_off(before);
    // Each person's auto-reply is set once over both: what was answered before is not sent
    // again, what failed is.
    for upn in &people {
        let answered: Vec<_> = first
            .iter()
            .filter(|e| e.fault.is_none())
            .cloned()
            .collect();
        assert_eq!(
            changes_for(&answered, upn) + changes_for(&again, upn),
            1,
            "{upn}: {failures:?}"
        );
    }
    let (ok, out, err) = crate::cli::run(client().args(["workflow", "runs"]));
    assert!(ok, "{err}");
    let line = out.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(line.contains("succeeded"), "{line}");
    // A run that succeeded has nothing left to run.
    let (ok, _, err) = crate::cli::run(client().args(["workflow", "resume", &id]));
    assert!(!ok);
    assert!(err.contains("already succeeded"), "{err}");
    let (ok, out, err) =
        crate::cli::run(client().args(["workflow", "records", &id, "reply", "--output", "csv"]));
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 4, "a header and three records: {out}");
    // As a table, by default.
    let (ok, out, err) = crate::cli::run(client().args(["workflow", "records", &id]));
    assert!(ok, "{err}");
    assert!(people.iter().all(|upn| out.contains(upn.as_str())), "{out}");
    let (ok, _, err) = crate::cli::run(client().args(["workflow", "resume", "ffff"]));
    assert!(!ok);
    assert!(err.contains("has an id starting with 'ffff'"), "{err}");
}

/// Only who asked for a workflow run resumes it, and the caller rules in force decide again:
/// an auditor sees Ann's failed run but can neither resume nor cancel it; Ann resumes it over
/// HTTPS, once; a plugin run is not resumed; a changed workflow file is refused.
#[tokio::test(flavor = "multi_thread")]
async fn only_the_requester_resumes_a_run_and_the_caller_rules_in_force_decide() {
    use crate::serve::{call, configure_https, ended, https_base, poll_run, token_of};
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 4).await;
    let people = crate::cli::mailboxes(&sim, 2);
    let rules = format!(
        "[[caller]]\nname = \"away for ann\"\nwho = [\"user:ann@contoso.com\"]\nworkflows = [\"away\"]\n[caller.inputs]\npeople = {{ glob = \"*@contoso.com\" }}\n\n[[caller]]\nname = \"replies for ann\"\nwho = [\"user:ann@contoso.com\"]\nplugins = [\"auto-reply\"]\n[caller.inputs]\nidentities = {{}}\nstate = {{}}\n\n[[auditor]]\nname = \"security\"\nwho = [\"unix-user:{}\"]\n",
        me()
    );
    let serve_toml = configure(&sim, &["auto-reply"], &rules);
    away_workflow(&sim, 1);
    configure_https(&sim, &serve_toml).await;
    let service = Service::start(&sim);
    let base = https_base(&service);
    let ann = token_of(&sim, "ann@contoso.com").await;

    sim.put_control("faults", json!({"drop_rate": 1.0})).await;
    let (status, run) = call(
        &sim,
        &base,
        &ann,
        "/api/v1/runs",
        Some(json!({"workflow": "away", "input": {"people": people}})),
    )
    .await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    let failed = poll_run(&sim, &base, &ann, &id, ended).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    sim.put_control("faults", json!({})).await;

    // The auditor sees the run, and may neither resume it nor cancel it.
    let (status, seen) = service.get(&format!("/api/v1/runs/{id}")).await;
    assert_eq!(status, 200, "{seen}");
    for action in ["resume", "cancel"] {
        let (status, problem) = service
            .post(&format!("/api/v1/runs/{id}/{action}"), &json!({}))
            .await;
        assert_eq!(status, 403, "{action}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("only"),
            "{action}: {problem}"
        );
    }
    let audit = std::fs::read_to_string(service.dir.join("audit.jsonl")).unwrap();
    assert!(
        audit.contains(&format!("\"request\":\"resume run {id}\"")),
        "the refused resume is audited"
    );

    // Ann resumes it: once, even when she asks twice at the same moment.
    let resume = format!("/api/v1/runs/{id}/resume");
    let (first, second) = tokio::join!(
        call(&sim, &base, &ann, &resume, Some(json!({}))),
        call(&sim, &base, &ann, &resume, Some(json!({})))
    );
    let mut statuses = [first.0, second.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 409], "{first:?} {second:?}");
    let accepted = if first.0 == 202 { &first.1 } else { &second.1 };
    assert!(
        accepted["resumed_event"].as_i64().unwrap() > 1,
        "{accepted}"
    );
    let done = poll_run(&sim, &base, &ann, &id, ended).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let log = sim.requests().await;
    for upn in &people {
        let answered: Vec<_> = log.iter().filter(|e| e.fault.is_none()).cloned().collect();
        assert_eq!(changes_for(&answered, upn), 1, "{upn}");
    }
    // A full page of records says where the next page is.
    let response = sim
        .http()
        .get(format!("{base}/api/v1/runs/{id}/records?limit=1"))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    let link = response.headers()["link"].to_str().unwrap().to_string();
    assert_eq!(
        link,
        format!("</api/v1/runs/{id}/records?format=jsonl&offset=1&limit=1>; rel=\"next\"")
    );
    let (_, events) = call(
        &sim,
        &base,
        &ann,
        &format!("/api/v1/runs/{id}/events"),
        None,
    )
    .await;
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "end").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(kinds.iter().filter(|k| **k == "resumed").count(), 1);

    // A plugin run is not resumed.
    sim.put_control("faults", json!({"drop_rate": 1.0})).await;
    let (_, plugin_run) = call(
        &sim,
        &base,
        &ann,
        "/api/v1/runs",
        Some(json!({"plugin": "auto-reply", "input": {"identities": [people[0]], "state": "Disabled"}})),
    )
    .await;
    let plugin_id = plugin_run["id"].as_str().unwrap().to_string();
    let plugin_failed = poll_run(&sim, &base, &ann, &plugin_id, ended).await;
    assert_eq!(plugin_failed["state"], "failed", "{plugin_failed}");
    sim.put_control("faults", json!({})).await;
    let (status, problem) = call(
        &sim,
        &base,
        &ann,
        &format!("/api/v1/runs/{plugin_id}/resume"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("plugin run"),
        "{problem}"
    );

    // A failed run whose workflow file changed since is not resumed: it would run another
    // workflow.
    sim.put_control("faults", json!({"drop_rate": 1.0})).await;
    let (_, again) = call(
        &sim,
        &base,
        &ann,
        "/api/v1/runs",
        Some(json!({"workflow": "away", "input": {"people": [people[1]]}})),
    )
    .await;
    let again_id = again["id"].as_str().unwrap().to_string();
    let failed = poll_run(&sim, &base, &ann, &again_id, ended).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    sim.put_control("faults", json!({})).await;
    let file = sim.dir.path().join("workflows/away.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let (_, listed) = call(&sim, &base, &ann, "/api/v1/workflows", None).await;
    let digest = listed[0]["digest"].clone();
    std::fs::write(&file, text.replace("Away", "Out of office")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while call(&sim, &base, &ann, "/api/v1/workflows", None).await.1[0]["digest"] == digest {
        assert!(
            Instant::now() < deadline,
            "the changed workflow was never read"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, problem) = call(
        &sim,
        &base,
        &ann,
        &format!("/api/v1/runs/{again_id}/resume"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("changed since"),
        "{problem}"
    );
}
