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
max_parallel = {max_parallel}
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
    let client = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_exorun"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("EXORUN_SERVER", &server);
        command
    };
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
