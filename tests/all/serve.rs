//! `exorun serve` as a team uses it: the real binary on a Unix socket, its caller rules, its
//! queue and workers, against exorun-sim. Every refusal is checked to have sent nothing.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::{exorun, mailboxes, policy, run};
use crate::support::{Sim, start};

/// The name of the user the tests run as: what the service sees on its socket.
pub fn me() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap()
        .name
}

/// A running `exorun serve` with its files in the emulator's scratch directory.
pub struct Service {
    pub child: Child,
    pub socket: PathBuf,
    pub dir: PathBuf,
    log: PathBuf,
    client: reqwest::Client,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The admin app's profile, the store holding `plugins`, a policy admitting them (as `policy
/// init` writes it) with `callers` appended, and the service's configuration.
pub fn configure(sim: &Sim, plugins: &[&str], callers: &str) -> PathBuf {
    let info = sim.info();
    let admin = sim.app("exorun-admin");
    sim.write(
        "config.toml",
        format!(
            "default_profile = \"admin\"\n[profiles.admin]\napp_id = \"{}\"\norganization = \"{}\"\ncertificate_path = \"{}\"\ncertificate_password_file = \"{}\"\nauthority = \"{base}\"\nexchange_url = \"{base}\"\ncompliance_url = \"{base}/compliance\"\nca_file = \"{}\"\n",
            admin.client_id,
            info.tenant_domain,
            admin.pfx.as_ref().unwrap().display(),
            admin.pfx_password_file.as_ref().unwrap().display(),
            info.ca_file.display(),
            base = info.base_url,
        ),
    );
    let store = sim.dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    for plugin in plugins {
        std::fs::copy(
            crate::support::artifact(plugin),
            store.join(format!("{plugin}.wasm")),
        )
        .unwrap();
    }
    let policy = policy(sim, plugins);
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, format!("{text}\n{callers}")).unwrap();
    sim.write(
        "serve.toml",
        "config = \"config.toml\"\npolicy = \"policy.toml\"\nplugins = \"store\"\naudit_log = \"audit.jsonl\"\nstate_dir = \"state\"\nsocket = \"exorun.sock\"\nworkers = 2\n",
    )
}

impl Service {
    /// Starts the service on `serve.toml` in the scratch directory and waits for its socket.
    pub fn start(sim: &Sim) -> Service {
        Service::start_named(sim, "serve.toml", "exorun.sock", "serve.log")
    }

    /// Starts the service on `config` in the scratch directory, listening on `socket` (as the
    /// file names) and logging to `log`: a replica among others.
    pub fn start_named(sim: &Sim, config: &str, socket: &str, log: &str) -> Service {
        let dir = sim.dir.path().to_path_buf();
        let socket = dir.join(socket);
        let log = dir.join(log);
        let _ = std::fs::remove_file(&socket);
        let child = Command::new(env!("CARGO_BIN_EXE_exorun"))
            .args(["serve", "--config"])
            .arg(dir.join(config))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let client = reqwest::Client::builder()
            .unix_socket(socket.clone())
            .build()
            .unwrap();
        let service = Service {
            child,
            socket,
            dir,
            log,
            client,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !service.socket.exists() {
            assert!(
                Instant::now() < deadline,
                "the service did not start: {}",
                service.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        service
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("http://exorun{path}"))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// GETs `path` as text.
    pub async fn text(&self, path: &str) -> String {
        let response = self.client.get(format!("http://exorun{path}")).send();
        response.await.unwrap().text().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_raw(path, body.to_string()).await
    }

    async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let response = self
            .client
            .post(format!("http://exorun{path}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let problem = response
            .headers()
            .get("content-type")
            .is_some_and(|t| t == "application/problem+json");
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status >= 400 {
            assert!(problem, "{status} without a problem document: {body}");
        }
        (status, body)
    }

    /// Waits for run `id` to succeed or fail (a run a killed service left is `running` until
    /// it is taken up again) and gives it.
    pub async fn finished(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let (_, run) = self.get(&format!("/api/v1/runs/{id}")).await;
            if matches!(run["state"].as_str(), Some("succeeded" | "failed")) {
                return run;
            }
            assert!(Instant::now() < deadline, "{run}\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for run `id` to end and gives it.
    pub async fn wait(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, run) = self.get(&format!("/api/v1/runs/{id}")).await;
            assert_eq!(status, 200, "{run}");
            if !matches!(run["state"].as_str(), Some("queued" | "running")) {
                return run;
            }
            assert!(Instant::now() < deadline, "run {id} did not end: {run}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The samples of an OpenMetrics text as `name{label=value,…}` → value, parsed by the
/// `prometheus_client` Python package (an independent parser).
fn parse_metrics(text: &str) -> std::collections::BTreeMap<String, f64> {
    use std::io::Write as _;
    let script = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        out[s.name + ("{" + labels + "}" if labels else "")] = s.value
print(json.dumps(out))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the metrics do not parse: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The helpdesk rule: the test's user may set auto-replies for contoso.com mailboxes.
pub fn helpdesk_rule() -> String {
    format!(
        r#"[[caller]]
name = "helpdesk auto-replies"
who = ["unix-user:{}"]
plugins = ["auto-reply"]
runs_per_hour = 5
[caller.inputs]
identities = {{ glob = "*@contoso.com", required = true }}
state = {{ values = ["Enabled", "Disabled"] }}
internal_message = {{}}
"#,
        me()
    )
}

/// Auto-reply changes the emulator carried out (a throttled request changed nothing).
fn auto_reply_changes(requests: &[exorun_sim::control::LogEntry]) -> usize {
    requests
        .iter()
        .filter(|r| r.fault.is_none())
        .filter(|r| {
            r.cmdlet
                .as_deref()
                .is_some_and(|c| c == "Set-MailboxAutoReplyConfiguration")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_unix_caller_runs_what_their_rule_grants_and_is_refused_the_rest() {
    let sim = start().await;
    let target = mailboxes(&sim, 1).remove(0);
    configure(&sim, &["auto-reply", "echo"], &helpdesk_rule());
    let service = Service::start(&sim);
    let who = format!("unix:{}", me());

    let (status, me) = service.get("/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["principal"], json!(who));
    assert_eq!(me["may_run"], json!(["plugin auto-reply"]));
    let (_, plugins) = service.get("/api/v1/plugins").await;
    let names: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["auto-reply"], "{plugins}");
    assert!(plugins[0]["input_schema"]["properties"]["identities"].is_object());

    // Exchange throttles the run's first request once: it waits and tries again.
    sim.put_control(
        "faults",
        json!({"script": ["throttle"], "retry_after": 0.2}),
    )
    .await;
    let (status, queued) = service
        .post(
            "/api/v1/runs",
            &json!({"plugin": "auto-reply", "input": {"identities": [target], "state": "Enabled", "internal_message": "Away"}}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    let id = queued["id"].as_str().unwrap().to_string();
    let done = service.wait(&id).await;
    assert_eq!(done["state"], "succeeded", "{done}\n{}", service.log());
    assert_eq!(done["records"], 1);
    assert_eq!(done["summary"]["updated"], 1, "{done}");
    let records = service
        .text(&format!("/api/v1/runs/{id}/records?format=csv"))
        .await;
    assert!(records.starts_with("Identity,Result"), "{records}");
    assert!(records.contains(&format!("{target},Updated")), "{records}");

    // Refusals: another plugin, an input outside the rule, a value the rule does not list.
    let refusals = [
        (
            json!({"plugin": "echo", "input": {}}),
            403,
            "no caller rule of",
        ),
        (
            json!({"plugin": "auto-reply", "input": {"identities": ["ceo@fabrikam.com"], "state": "Enabled"}}),
            403,
            "'ceo@fabrikam.com' does not match *@contoso.com",
        ),
        (
            json!({"plugin": "auto-reply", "input": {"identities": [target], "state": "Scheduled"}}),
            403,
            "is not one of the allowed values",
        ),
        (
            json!({"plugin": "auto-reply", "input": {"identities": [target], "state": "Enabled", "external_message": "x"}}),
            403,
            "'external_message' may not be given",
        ),
        (
            json!({"plugin": "mailbox-inventory", "input": {}}),
            404,
            "the store has no plugin 'mailbox-inventory'",
        ),
    ];
    for (body, status, words) in &refusals {
        let (got, problem) = service.post("/api/v1/runs", body).await;
        assert_eq!(got, *status, "{body}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(words),
            "{body}: {problem}"
        );
    }
    // Nothing queued for the refusals, and the service sent one change in all.
    let (_, runs) = service.get("/api/v1/runs").await;
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(auto_reply_changes(&sim.requests().await), 1);

    // The metrics, read by the Prometheus project's own Python parser.
    let text = service.text("/metrics").await;
    let samples = parse_metrics(&text);
    assert_eq!(samples["exorun_runs{state=succeeded}"], 1.0, "{text}");
    assert_eq!(samples["exorun_queue_depth"], 0.0, "{text}");
    assert_eq!(samples["exorun_runs_started_total"], 1.0, "{text}");
    assert_eq!(
        samples["exorun_cmdlet_calls_total{decision=allowed}"], 1.0,
        "{text}"
    );
    assert_eq!(
        samples["exorun_exchange_requests_total{cmdlet=Set-MailboxAutoReplyConfiguration,outcome=ok}"],
        1.0,
        "{text}"
    );
    assert_eq!(samples["exorun_throttle_waits_total"], 1.0, "{text}");
    assert!(
        samples["exorun_throttle_wait_seconds_total"] >= 0.2,
        "{text}"
    );
    assert_eq!(
        samples["exorun_token_requests_total{outcome=ok}"], 1.0,
        "{text}"
    );
    assert!(!text.contains(&target), "metrics name no mailbox");

    // The audit log names the caller on the run and on each refusal.
    let (ok, out, err) = run(exorun(&sim).args([
        "audit",
        "show",
        "--audit-log",
        service.dir.join("audit.jsonl").to_str().unwrap(),
        "--caller",
        &who,
        "--output",
        "jsonl",
    ]));
    assert!(ok, "{err}");
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "refused").count(),
        5,
        "{kinds:?}"
    );
    let start = events.iter().find(|e| e["event"] == "run-start").unwrap();
    assert_eq!(start["caller"]["principal"], json!(who));
    assert_eq!(start["caller"]["authenticated_by"], "unix-socket");
    assert_eq!(start["run"], json!(id));
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "call" && e["caller"] == json!(who))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_no_rule_names_is_refused_and_a_retried_submit_runs_once() {
    let sim = start().await;
    let target = mailboxes(&sim, 1).remove(0);
    let rules = format!(
        "{}\n[[caller]]\nwho = [\"unix-user:somebody-else\", \"unix-group:no-such-group-here\"]\nplugins = [\"echo\"]\n",
        helpdesk_rule()
    );
    configure(&sim, &["auto-reply", "echo"], &rules);
    let service = Service::start(&sim);
    let (status, problem) = service
        .post("/api/v1/runs", &json!({"plugin": "echo"}))
        .await;
    assert_eq!(status, 403);
    assert_eq!(problem["type"], "/problems/forbidden");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("(they may run: plugin auto-reply)"),
        "{problem}"
    );

    let body = json!({"plugin": "auto-reply", "run_id": "ticket-4711", "input": {"identities": [target], "state": "Disabled"}});
    let (first, queued) = service.post("/api/v1/runs", &body).await;
    assert_eq!(first, 202, "{queued}");
    let (again, same) = service.post("/api/v1/runs", &body).await;
    assert_eq!(again, 200, "{same}");
    assert_eq!(same["id"], queued["id"]);
    let mut changed = body.clone();
    changed["input"]["state"] = json!("Enabled");
    let (conflict, problem) = service.post("/api/v1/runs", &changed).await;
    assert_eq!(conflict, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("already used for a different request")
    );
    let done = service.wait(queued["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(auto_reply_changes(&sim.requests().await), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_problems_and_the_service_keeps_serving() {
    let sim = start().await;
    configure(&sim, &["auto-reply"], &helpdesk_rule());
    let service = Service::start(&sim);
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            b"{\"plugin\": \"auto-reply\",".to_vec(),
            400,
            "not what this endpoint takes",
        ),
        (b"[1, 2]".to_vec(), 422, "not what this endpoint takes"),
        (
            br#"{"plugin": "auto-reply", "inputs": {}}"#.to_vec(),
            422,
            "unknown field `inputs`",
        ),
        (
            br#"{"plugin": "auto-reply", "workflow": "x"}"#.to_vec(),
            400,
            "exactly one of `plugin`",
        ),
        (
            br#"{"plugin": "../../../etc/passwd"}"#.to_vec(),
            400,
            "is not a plugin name",
        ),
        (
            br#"{"plugin": "sha256:0000"}"#.to_vec(),
            400,
            "is not a plugin name",
        ),
        (
            br#"{"plugin": "auto-reply", "input": {"identities": ["a@contoso.com"]}}"#.to_vec(),
            400,
            "does not fit plugin auto-reply's input schema",
        ),
    ];
    for (body, status, words) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        let (got, problem) = service.post_raw("/api/v1/runs", body).await;
        assert_eq!(got, status, "{shown}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(words),
            "{shown}: {problem}"
        );
    }
    let (status, problem) = service.get("/etc/passwd").await;
    assert_eq!(status, 404, "{problem}");
    let (status, problem) = service.get("/api/v1/runs/not-a-run").await;
    assert_eq!(status, 404, "{problem}");
    let (status, problem) = service.get("/api/v1/runs?state=done").await;
    assert_eq!(status, 400, "{problem}");
    let (status, problem) = service.get("/api/v1/runs?colour=red").await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`"),
        "{problem}"
    );
    let (status, problem) = service.get("/api/v1/runs?limit=lots").await;
    assert_eq!(status, 400, "{problem}");

    // Bodies over the limit (1 MiB here), 2 MB and 100 MB: refused once they pass it, with a
    // 413 problem, or the connection closed while the client is still sending; nothing queued.
    for size in [2 << 20, 100 << 20] {
        let sent = service
            .client
            .post("http://exorun/api/v1/runs")
            .header("content-type", "application/json")
            .body(vec![b' '; size])
            .send()
            .await;
        if let Ok(response) = sent {
            assert_eq!(response.status().as_u16(), 413, "{size} bytes");
            let problem: Value = response.json().await.unwrap_or(Value::Null);
            assert!(
                problem["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("not what this endpoint takes")),
                "{problem}"
            );
        }
    }
    // A client that sends half its headers and stalls is cut off, and others are served
    // meanwhile.
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut slow = tokio::net::UnixStream::connect(&service.socket)
        .await
        .unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: exorun\r\n")
        .await
        .unwrap();
    let (status, _) = service.get("/readyz").await;
    assert_eq!(status, 200);
    let mut answer = Vec::new();
    let cut = tokio::time::timeout(Duration::from_secs(20), slow.read_to_end(&mut answer)).await;
    assert!(cut.is_ok(), "a stalled client was never cut off");
    assert!(
        !String::from_utf8_lossy(&answer).contains("200 OK"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let (status, ready) = service.get("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    let (_, runs) = service.get("/api/v1/runs").await;
    assert_eq!(runs, json!([]));
    assert_eq!(auto_reply_changes(&sim.requests().await), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_policy_that_does_not_check_is_refused_and_the_old_one_stays() {
    let sim = start().await;
    let target = mailboxes(&sim, 1).remove(0);
    configure(&sim, &["auto-reply"], &helpdesk_rule());
    let service = Service::start(&sim);
    let (_, before) = service.get("/readyz").await;
    let policy = service.dir.join("policy.toml");
    let good = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(
        &policy,
        format!("{good}\n[[caller]]\nwho = [\"wizard:merlin\"]\nplugins = [\"auto-reply\"]\n"),
    )
    .unwrap();
    let _ = Command::new("kill")
        .args(["-HUP", &service.child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !service.log().contains("the one in force stays") {
        assert!(Instant::now() < deadline, "{}", service.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        service
            .log()
            .contains("'wizard' in 'wizard:merlin' is not a kind of caller"),
        "{}",
        service.log()
    );
    let (_, after) = service.get("/readyz").await;
    assert_eq!(after["policy_digest"], before["policy_digest"]);
    let input = json!({"identities": [target], "state": "Enabled"});
    let (status, queued) = service
        .post(
            "/api/v1/runs",
            &json!({"plugin": "auto-reply", "input": input}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");

    // A policy that checks and drops the rule takes effect on its own (no signal).
    let without: String = good.split("[[caller]]").next().unwrap().to_string();
    std::fs::write(&policy, without).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, ready) = service.get("/readyz").await;
        if ready["policy_digest"] != before["policy_digest"] {
            break;
        }
        assert!(Instant::now() < deadline, "{}", service.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, problem) = service
        .post(
            "/api/v1/runs",
            &json!({"plugin": "auto-reply", "input": input}),
        )
        .await;
    assert_eq!(status, 403, "{problem}");
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_check_and_explain_show_the_caller_rules() {
    let sim = start().await;
    let rules = format!(
        "{}\n[[caller]]\nname = \"offboarding\"\nwho = [\"group:aaaaaaaa-0000-0000-0000-000000000001\"]\nplugins = [\"echo\"]\napprovers = [\"role:Exorun.Approver\"]\n",
        helpdesk_rule()
    );
    configure(&sim, &["auto-reply", "echo"], &rules);
    let policy = sim.dir.path().join("policy.toml");
    let (ok, out, err) = run(exorun(&sim).args(["policy", "check"]).arg(&policy));
    assert!(ok, "{err}");
    assert!(
        out.contains("2 rule(s), 2 caller rule(s), 0 auditor rule(s)"),
        "{out}"
    );
    let explain = |args: &[&str]| {
        run(exorun(&sim)
            .args(["policy", "explain", "--policy"])
            .arg(&policy)
            .args(args))
    };
    let (ok, out, err) = explain(&["--caller", &format!("unix:{}", me())]);
    assert!(ok, "{err}");
    assert!(
        out.contains("caller rule 'helpdesk auto-replies' (line"),
        "{out}"
    );
    assert!(
        out.contains("input identities: required, matches *@contoso.com"),
        "{out}"
    );
    assert!(out.contains("at most 5 runs an hour"), "{out}");
    let (ok, out, _) = explain(&[
        "--caller",
        "erin@contoso.com",
        "--group",
        "aaaaaaaa-0000-0000-0000-000000000001",
    ]);
    assert!(ok);
    assert!(
        out.contains(
            "needs 1 approval(s) within 24 h, by role:Exorun.Approver (never the requester)"
        ),
        "{out}"
    );
    let (ok, out, _) = explain(&["--caller", "ann@contoso.com"]);
    assert!(ok);
    assert!(
        out.contains("they may run nothing through exorun serve (deny by default)"),
        "{out}"
    );
    let (ok, _, err) = explain(&["--caller", "ann"]);
    assert!(!ok);
    assert!(err.contains("'ann' names no caller: give a UPN"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_runs_through_the_service_as_it_runs_locally() {
    let sim = start().await;
    let target = mailboxes(&sim, 1).remove(0);
    configure(&sim, &["auto-reply", "echo"], &helpdesk_rule());
    let service = Service::start(&sim);
    let server = format!("unix:{}", service.socket.display());
    let input = json!({"identities": [target], "state": "Enabled"}).to_string();
    let client = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_exorun"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("EXORUN_SERVER", &server);
        command
    };
    let (ok, out, err) = run(client().args([
        "run",
        "auto-reply",
        "--input",
        &input,
        "--output",
        "csv",
        "--run-id",
        "INC-1",
    ]));
    assert!(ok, "{err}");
    assert!(out.starts_with("Identity,Result"), "{out}");
    assert!(out.contains(&format!("{target},Updated")), "{out}");
    assert!(err.contains("succeeded on the service"), "{err}");
    // The same command again (a retried cron job) runs nothing new.
    let (ok, _, err) =
        run(client().args(["run", "auto-reply", "--input", &input, "--run-id", "INC-1"]));
    assert!(ok, "{err}");
    assert!(
        err.contains("was already submitted with run id INC-1"),
        "{err}"
    );
    assert_eq!(auto_reply_changes(&sim.requests().await), 1);

    let (ok, _, err) = run(client().args(["run", "echo"]));
    assert!(!ok);
    assert!(err.contains("the service refused: unix:"), "{err}");
    assert!(err.contains("no caller rule of"), "{err}");
    let (ok, _, err) = run(client().args(["run", "auto-reply", "--input", &input, "--fuel", "10"]));
    assert!(!ok);
    assert!(
        err.contains("are the operator's to set on the service"),
        "{err}"
    );

    let (ok, out, err) = run(client().args(["runs"]));
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.contains("auto-reply") && out.contains("succeeded"),
        "{out}"
    );
    let id = out
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let (ok, out, err) = run(client().args(["runs", "records", id, "--output", "jsonl"]));
    assert!(ok, "{err}");
    assert!(out.contains("\"Result\":\"Updated\""), "{out}");
    let (ok, _, err) = run(client().args(["runs", "cancel", id]));
    assert!(!ok);
    assert!(err.contains("has already ended (succeeded)"), "{err}");
    let (ok, _, err) = run(client().args(["runs", "--server", "unix:/nowhere/exorun.sock"]));
    assert!(!ok);
    assert!(
        err.contains("there is no service socket at /nowhere/exorun.sock"),
        "{err}"
    );
}

const HELPDESK_GROUP: &str = "7d9c0f8e-0b43-4f59-9a51-3f7f4c1e2a10";
const SERVICE_APP: &str = "2b0f7a4c-86d4-4a39-8f1e-9e7c2d5a1b30";
const APPROVERS_GROUP: &str = "3c1e5a7b-2d4f-4e6a-8b0c-9d1e2f3a4b5c";

/// The service's API app (v2.0 tokens) and Ann, a helpdesk member, in the emulator's tenant; a
/// server certificate for loopback from the emulator's CA; and `[https]` + `[entra]` in the
/// service's configuration.
pub async fn configure_https(sim: &Sim, serve_toml: &std::path::Path) {
    use exorun_sim::entra::callers::{ServiceApiSpec, TestUserSpec};
    let api = ServiceApiSpec {
        tenant: None,
        name: "exorun".into(),
        client_id: Some(SERVICE_APP.parse().unwrap()),
        app_id_uri: Some("api://exorun".into()),
        token_version: 2,
        app_roles: vec!["Runs.Submit".into()],
        scopes: vec!["access_as_user".into()],
        idtyp_claim: false,
    };
    sim.post_control("entra/apis", &api).await;
    sim.post_control(
        "entra/users",
        &TestUserSpec {
            tenant: None,
            upn: "ann@contoso.com".into(),
            object_id: None,
            display_name: Some("Ann Example".into()),
            groups: vec![HELPDESK_GROUP.parse().unwrap()],
        },
    )
    .await;
    for (upn, group) in [
        ("bob@contoso.com", APPROVERS_GROUP),
        ("carl@contoso.com", HELPDESK_GROUP),
    ] {
        sim.post_control(
            "entra/users",
            &TestUserSpec {
                tenant: None,
                upn: upn.into(),
                object_id: None,
                display_name: None,
                groups: vec![group.parse().unwrap()],
            },
        )
        .await;
    }
    let dir = sim.dir.path();
    let ca = exorun_sim::pki::load_pair(&dir.join("ca.pem"), &dir.join("ca.key")).unwrap();
    let server = exorun_sim::pki::issue_server_cert(&ca).unwrap();
    sim.write("service.pem", server.cert_pem().unwrap());
    sim.write("service.key", server.key_pem().unwrap());
    let info = sim.info();
    let mut text = std::fs::read_to_string(serve_toml).unwrap();
    text.push_str(&format!(
        "[https]\nlisten = \"127.0.0.1:0\"\ncertificate = \"service.pem\"\nkey = \"service.key\"\n\n[entra]\ntenant = \"{}\"\naudience = \"{SERVICE_APP}\"\nauthority = \"{}\"\nca_file = \"{}\"\n",
        info.tenant_id,
        info.base_url,
        info.ca_file.display()
    ));
    std::fs::write(serve_toml, text).unwrap();
}

/// The service's HTTPS address, from its start line.
pub fn https_base(service: &Service) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = service.log();
        if let Some(at) = log.find("https://") {
            let rest = &log[at..];
            return rest[..rest.find([' ', '\n']).unwrap()].to_string();
        }
        assert!(Instant::now() < deadline, "{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn https_callers_are_who_their_entra_token_says_and_bad_tokens_get_a_challenge() {
    use exorun_sim::entra::callers::{CallerTokenRequest, SigningChoice};
    let sim = start().await;
    let target = mailboxes(&sim, 1).remove(0);
    let rules = format!(
        "[[caller]]\nname = \"helpdesk\"\nwho = [\"group:{HELPDESK_GROUP}\"]\nplugins = [\"auto-reply\"]\n[caller.inputs]\nidentities = {{ glob = \"*@contoso.com\" }}\nstate = {{}}\n"
    );
    let serve_toml = configure(&sim, &["auto-reply"], &rules);
    configure_https(&sim, &serve_toml).await;
    let service = Service::start(&sim);
    let base = https_base(&service);
    let https = sim.http();
    let ann = |adjust: &dyn Fn(&mut CallerTokenRequest)| {
        let mut request = CallerTokenRequest {
            resource: "api://exorun".into(),
            user: Some("ann@contoso.com".into()),
            ..CallerTokenRequest::default()
        };
        adjust(&mut request);
        request
    };
    let token = sim.caller_token(&ann(&|_| {})).await;
    let (_, me) = call(&sim, &base, &token, "/api/v1/me", None).await;
    assert_eq!(me["principal"], "ann@contoso.com", "{me}");
    assert_eq!(me["authenticated_by"], "entra-token");
    assert_eq!(me["may_run"], json!(["plugin auto-reply"]));
    let input = json!({"identities": [target], "state": "Enabled"});
    let (status, run) = call(
        &sim,
        &base,
        &token,
        "/api/v1/runs",
        Some(json!({"plugin": "auto-reply", "input": input})),
    )
    .await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap();
    let done = poll_run(&sim, &base, &token, id, ended).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    // The Unix caller does not see Ann's run.
    let (status, _) = service.get(&format!("/api/v1/runs/{id}")).await;
    assert_eq!(status, 404);
    let audit = std::fs::read_to_string(service.dir.join("audit.jsonl")).unwrap();
    let start: Value = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["event"] == "run-start")
        .unwrap();
    assert_eq!(start["caller"]["principal"], "ann@contoso.com");
    assert_eq!(start["caller"]["authenticated_by"], "entra-token");
    assert!(
        start["caller"]["source"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{start}"
    );

    // Refused tokens: 401 with a challenge naming what is wrong; nothing runs.
    let expired = sim
        .caller_token(&ann(&|r| {
            r.starts_in_secs = -7200;
            r.lifetime_secs = Some(3600);
        }))
        .await;
    let early = sim.caller_token(&ann(&|r| r.starts_in_secs = 3600)).await;
    let unknown_key = sim
        .caller_token(&ann(&|r| r.signing_key = SigningChoice::Unpublished))
        .await;
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 3;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
    let cases: [(Option<&str>, &str); 6] = [
        (None, "no access token"),
        (Some(&expired), "expired"),
        (Some(&early), "not valid before"),
        (Some(&unknown_key), "key"),
        (Some(&forged), "does not verify"),
        (Some(&none), "algorithm 'none'"),
    ];
    for (bearer, words) in cases {
        let mut request = https.post(format!("{base}/api/v1/runs")).json(
            &json!({"plugin": "auto-reply", "input": {"identities": [target], "state": "Disabled"}}),
        );
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{words}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            challenge.starts_with("Bearer realm=\"exorun\""),
            "{challenge}"
        );
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains(words),
            "{words}: {problem}"
        );
        if let Some(bearer) = bearer {
            assert!(
                !problem.to_string().contains(bearer),
                "the token leaked: {problem}"
            );
            assert!(
                !service.log().contains(bearer),
                "the token leaked into the log"
            );
        }
    }
    let overage = sim.caller_token(&ann(&|r| r.groups_overage = true)).await;
    let response = https
        .post(format!("{base}/api/v1/runs"))
        .bearer_auth(&overage)
        .json(&json!({"plugin": "auto-reply", "input": {"identities": [target], "state": "Disabled"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("groups overage marker"),
        "{problem}"
    );
    assert_eq!(auto_reply_changes(&sim.requests().await), 1);
}

/// Ann's, Bob's or Carl's token for the service.
pub async fn token_of(sim: &Sim, upn: &str) -> String {
    sim.caller_token(&exorun_sim::entra::callers::CallerTokenRequest {
        resource: "api://exorun".into(),
        user: Some(upn.into()),
        ..Default::default()
    })
    .await
}

/// `method` `path` on the service's HTTPS address as the holder of `token`.
pub async fn call(
    sim: &Sim,
    base: &str,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let https = sim.http();
    let request = match body {
        Some(body) => https.post(format!("{base}{path}")).json(&body),
        None => https.get(format!("{base}{path}")),
    };
    let response = request.bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls run `id` as the holder of `token` until `done` says so, and gives it.
pub async fn poll_run(
    sim: &Sim,
    base: &str,
    token: &str,
    id: &str,
    done: fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, run) = call(sim, base, token, &format!("/api/v1/runs/{id}"), None).await;
        if done(&run) {
            return run;
        }
        assert!(Instant::now() < deadline, "{run}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The run has ended.
pub fn ended(run: &Value) -> bool {
    !matches!(run["state"].as_str(), Some("queued" | "running"))
}

/// The run waits for approval, with its plan made.
fn planned(run: &Value) -> bool {
    run["state"] == "pending-approval" && run["plan_hash"].is_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offboarding_runs_only_after_another_person_approves_the_plan_they_saw() {
    let sim = start().await;
    let leavers = mailboxes(&sim, 3);
    let rules = format!(
        "[[caller]]\nname = \"offboarding\"\nwho = [\"group:{HELPDESK_GROUP}\"]\nplugins = [\"offboard-mailbox\"]\napprovers = [\"group:{APPROVERS_GROUP}\", \"group:{HELPDESK_GROUP}\"]\n[caller.inputs]\nidentity = {{ glob = \"*@contoso.com\" }}\nconvert_to_shared = {{}}\n"
    );
    let serve_toml = configure(&sim, &["offboard-mailbox"], &rules);
    configure_https(&sim, &serve_toml).await;
    let service = Service::start(&sim);
    let base = https_base(&service);
    let (ann, bob, carl) = (
        token_of(&sim, "ann@contoso.com").await,
        token_of(&sim, "bob@contoso.com").await,
        token_of(&sim, "carl@contoso.com").await,
    );
    let submit = |leaver: &str| json!({"plugin": "offboard-mailbox", "input": {"identity": leaver, "convert_to_shared": true}});
    let changes = |requests: &[exorun_sim::control::LogEntry]| {
        requests
            .iter()
            .filter(|r| r.cmdlet.as_deref() == Some("Set-Mailbox"))
            .count()
    };
    let (status, run) = call(&sim, &base, &ann, "/api/v1/runs", Some(submit(&leavers[0]))).await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    // The worker makes the dry-run plan the approvers see; nothing is changed.
    let pending = poll_run(&sim, &base, &ann, &id, planned).await;
    let plan = &pending["plan"]["changes"];
    assert_eq!(plan[0]["cmdlet"], "Set-Mailbox", "{pending}");
    assert_eq!(changes(&sim.requests().await), 0);
    let plan_hash = pending["plan_hash"].as_str().unwrap().to_string();

    // Bob sees it among his approvals; Ann may not approve her own request.
    let (_, listed) = call(&sim, &base, &bob, "/api/v1/approvals", None).await;
    assert_eq!(listed[0]["id"], json!(id), "{listed}");
    let (_, listed) = call(&sim, &base, &ann, "/api/v1/approvals", None).await;
    assert_eq!(listed, json!([]));
    let approve = json!({"plan_hash": plan_hash, "comment": "leaver ticket 4711"});
    let (status, problem) = call(
        &sim,
        &base,
        &ann,
        &format!("/api/v1/runs/{id}/approve"),
        Some(approve.clone()),
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("asked for this run and may not approve it"),
        "{problem}"
    );
    // An approval must name the plan the approver saw.
    let (status, problem) = call(
        &sim,
        &base,
        &bob,
        &format!("/api/v1/runs/{id}/approve"),
        Some(json!({"plan_hash": "0".repeat(64)})),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(changes(&sim.requests().await), 0);

    let (status, answer) = call(
        &sim,
        &base,
        &bob,
        &format!("/api/v1/runs/{id}/approve"),
        Some(approve),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["state"], "queued");
    let done = poll_run(&sim, &base, &ann, &id, ended).await;
    assert_eq!(done["state"], "succeeded", "{done}\n{}", service.log());
    assert_eq!(done["approved_by"], json!(["bob@contoso.com"]));
    assert_eq!(changes(&sim.requests().await), 1);
    let audit = std::fs::read_to_string(service.dir.join("audit.jsonl")).unwrap();
    let start: Value = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["event"] == "run-start")
        .find(|r| !r["dry_run"].as_bool().unwrap())
        .unwrap();
    assert_eq!(start["caller"]["principal"], "ann@contoso.com");
    assert_eq!(start["caller"]["approved_by"], json!(["bob@contoso.com"]));

    // A rejected request never runs.
    let (_, run) = call(
        &sim,
        &base,
        &carl,
        "/api/v1/runs",
        Some(submit(&leavers[1])),
    )
    .await;
    let rejected = run["id"].as_str().unwrap().to_string();
    poll_run(&sim, &base, &carl, &rejected, planned).await;
    let (status, answer) = call(
        &sim,
        &base,
        &ann,
        &format!("/api/v1/runs/{rejected}/reject"),
        Some(json!({"comment": "not a leaver"})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (_, run) = call(
        &sim,
        &base,
        &carl,
        &format!("/api/v1/runs/{rejected}"),
        None,
    )
    .await;
    assert_eq!(run["state"], "rejected");
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("rejected by ann@contoso.com: not a leaver")
    );
    let (status, _) = call(
        &sim,
        &base,
        &bob,
        &format!("/api/v1/runs/{rejected}/approve"),
        Some(json!({"plan_hash": run["plan_hash"]})),
    )
    .await;
    assert_eq!(status, 404);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(changes(&sim.requests().await), 1);

    // The same through the command line over HTTPS, each person with their token command.
    let as_person = |token: &str| {
        let file = sim.write(&format!("token-{}", &token[token.len() - 8..]), token);
        let mut command = Command::new(env!("CARGO_BIN_EXE_exorun"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("EXORUN_SERVER", &base)
            .env("EXORUN_SERVER_CA_FILE", &sim.info().ca_file)
            .env(
                "EXORUN_ACCESS_TOKEN_COMMAND",
                format!("cat {}", file.display()),
            );
        command
    };
    let input = json!({"identity": leavers[2], "convert_to_shared": true}).to_string();
    let (ok, out, err) =
        crate::cli::run(as_person(&ann).args(["run", "offboard-mailbox", "--input", &input]));
    assert!(ok, "{err}");
    assert!(
        err.contains("waits for approval (caller rule 'offboarding'"),
        "{err}"
    );
    let third = out.trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ok, out, _) = crate::cli::run(as_person(&bob).args(["runs", "approve"]));
        assert!(ok);
        if out.contains(&third) {
            assert!(out.contains("ann@contoso.com"), "{out}");
            break;
        }
        assert!(Instant::now() < deadline, "{out}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (ok, _, err) = crate::cli::run(as_person(&ann).args(["runs", "approve", &third]));
    assert!(!ok);
    assert!(err.contains("may not approve it"), "{err}");
    let (ok, out, err) =
        crate::cli::run(as_person(&bob).args(["approve", &third, "--comment", "HR-77"]));
    assert!(ok, "{err}");
    assert!(err.contains("Set-Mailbox"), "the plan is shown: {err}");
    assert_eq!(out.trim(), format!("run {third}: queued"));
    let (ok, _, err) =
        crate::cli::run(as_person(&bob).args(["reject", "no-such-run", "--comment", "x"]));
    assert!(!ok);
    assert!(err.contains("no run no-such-run that you may see"), "{err}");
    let (ok, _, err) = crate::cli::run(as_person("not-a-token").args(["runs"]));
    assert!(!ok);
    assert!(err.contains("the service refused"), "{err}");

    // A request nobody approves within the rule's hours expires and never runs.
    let (_, run) = call(&sim, &base, &ann, "/api/v1/runs", Some(submit(&leavers[1]))).await;
    let late = run["id"].as_str().unwrap().to_string();
    poll_run(&sim, &base, &ann, &late, planned).await;
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&format!(
        "sqlite://{}",
        service.dir.join("state/exorun.db").display()
    ))
    .await
    .unwrap();
    sqlx::query("UPDATE runs SET submitted_at = submitted_at - 90000000 WHERE id = $1")
        .bind(&late)
        .execute(&db)
        .await
        .unwrap();
    let (_, listed) = call(&sim, &base, &bob, "/api/v1/approvals", None).await;
    assert_eq!(listed, json!([]), "an expired request is not offered");
    let (_, run) = call(&sim, &base, &ann, &format!("/api/v1/runs/{late}"), None).await;
    assert_eq!(run["state"], "expired", "{run}");
    assert_eq!(run["error"], "nobody approved it within 24 h");
    assert_eq!(changes(&sim.requests().await), 2);
}

/// The events of a Server-Sent Events body: (id, event, data) each.
fn sse_events(body: &str) -> Vec<(i64, String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut id = None;
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line
                    .strip_prefix("id: ")
                    .or_else(|| line.strip_prefix("id:"))
                {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line
                    .strip_prefix("event: ")
                    .or_else(|| line.strip_prefix("event:"))
                {
                    event = v.trim().to_string();
                } else if let Some(v) = line
                    .strip_prefix("data: ")
                    .or_else(|| line.strip_prefix("data:"))
                {
                    data.push_str(v);
                }
            }
            Some((id?, event, serde_json::from_str(&data).ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runs_live_events_stream_ends_with_its_end_and_resumes_after_the_last_event_seen() {
    let sim = start().await;
    let targets = mailboxes(&sim, 3);
    configure(&sim, &["auto-reply"], &helpdesk_rule());
    let service = Service::start(&sim);
    let (status, run) = service
        .post(
            "/api/v1/runs",
            &json!({"plugin": "auto-reply", "input": {"identities": targets, "state": "Enabled"}}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    let stream = |last: Option<i64>| {
        let mut request = service
            .client
            .get(format!("http://exorun/api/v1/runs/{id}/events"))
            .header("accept", "text/event-stream");
        if let Some(last) = last {
            request = request.header("last-event-id", last.to_string());
        }
        request.send()
    };
    // Followed from the start, the stream carries every event in order and ends after `end`.
    let response = tokio::time::timeout(Duration::from_secs(60), stream(None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let body = tokio::time::timeout(Duration::from_secs(60), response.text())
        .await
        .expect("the stream ends after the run's end")
        .unwrap();
    let events = sse_events(&body);
    let ids: Vec<i64> = events.iter().map(|e| e.0).collect();
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>(), "{body}");
    assert_eq!(events.last().unwrap().1, "end", "{body}");
    assert_eq!(events.last().unwrap().2["state"], "succeeded");
    let progress = events.iter().filter(|e| e.1 == "progress").count();
    assert_eq!(progress, 3, "one progress event per mailbox: {body}");
    // Reconnected with Last-Event-ID, it gives only what came after.
    let again = stream(Some(2)).await.unwrap().text().await.unwrap();
    let resumed: Vec<i64> = sse_events(&again).iter().map(|e| e.0).collect();
    assert_eq!(resumed, ids[2..].to_vec(), "{again}");
    // The same events as JSON.
    let (_, page) = service
        .get(&format!("/api/v1/runs/{id}/events?after=0"))
        .await;
    assert_eq!(page["events"].as_array().unwrap().len(), ids.len());
    let status = service
        .client
        .get(format!("http://exorun/api/v1/runs/{id}/events"))
        .header("last-event-id", "yesterday")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_the_killed_service_left_is_taken_up_again_and_sends_no_change_twice() {
    let sim = start().await;
    let targets = mailboxes(&sim, 6);
    let serve_toml = configure(&sim, &["auto-reply"], &helpdesk_rule());
    let mut text = std::fs::read_to_string(&serve_toml).unwrap();
    text.push_str("lease_secs = 3\n");
    std::fs::write(&serve_toml, text).unwrap();
    let invokes = |log: &[exorun_sim::control::LogEntry]| {
        log.iter().filter(|e| e.endpoint == "invoke").count() as u64
    };
    // The run's third change is carried out and never answered: the service is killed then.
    let held = invokes(&sim.requests().await) + 3;
    sim.put_control("faults", json!({ "hold_after": held }))
        .await;
    let mut first = Service::start(&sim);
    let (status, run) = first
        .post(
            "/api/v1/runs",
            &json!({"plugin": "auto-reply", "input": {"identities": targets, "state": "Enabled"}}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while invokes(&sim.requests().await) < held {
        assert!(Instant::now() < deadline, "{}", first.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    // The change in flight at the kill: the last one the emulator got.
    let in_flight = sim
        .requests()
        .await
        .iter()
        .rev()
        .find_map(|e| e.parameters.as_ref().map(|p| p["Identity"].clone()))
        .unwrap();
    sim.put_control("faults", json!({})).await;

    let second = Service::start(&sim);
    let done = second.finished(&id).await;
    assert_eq!(done["state"], "succeeded", "{done}\n{}", second.log());
    // Every mailbox's auto-reply was set; only the change in flight at the kill went twice.
    let log = sim.requests().await;
    for (n, target) in targets.iter().enumerate() {
        let sent = log
            .iter()
            .filter(|e| e.cmdlet.as_deref() == Some("Set-MailboxAutoReplyConfiguration"))
            .filter(|e| {
                e.parameters
                    .as_ref()
                    .is_some_and(|p| p["Identity"] == json!(target))
            })
            .count();
        let most = if json!(target) == in_flight { 2 } else { 1 };
        assert!(
            (1..=most).contains(&sent),
            "{target} (#{n}) was sent {sent} times"
        );
    }
    // Its records are there once each.
    let records = second.text(&format!("/api/v1/runs/{id}/records")).await;
    assert_eq!(records.lines().count(), targets.len(), "{records}");
}

/// With `min_approvals = 2` a run waits for two different approvers: one approval (given twice)
/// leaves it waiting; the second person's queues it; the audit log names both.
#[tokio::test(flavor = "multi_thread")]
async fn a_rule_with_two_approvals_waits_for_two_different_people() {
    let sim = start().await;
    let leaver = mailboxes(&sim, 1).remove(0);
    let rules = format!(
        "[[caller]]\nname = \"offboarding\"\nwho = [\"group:{HELPDESK_GROUP}\"]\nplugins = [\"offboard-mailbox\"]\napprovers = [\"group:{APPROVERS_GROUP}\", \"group:{HELPDESK_GROUP}\"]\nmin_approvals = 2\n[caller.inputs]\nidentity = {{ glob = \"*@contoso.com\" }}\nconvert_to_shared = {{}}\n"
    );
    let serve_toml = configure(&sim, &["offboard-mailbox"], &rules);
    configure_https(&sim, &serve_toml).await;
    let service = Service::start(&sim);
    let base = https_base(&service);
    let (ann, bob, carl) = (
        token_of(&sim, "ann@contoso.com").await,
        token_of(&sim, "bob@contoso.com").await,
        token_of(&sim, "carl@contoso.com").await,
    );
    let body = json!({"plugin": "offboard-mailbox", "input": {"identity": leaver, "convert_to_shared": true}});
    let (status, run) = call(&sim, &base, &ann, "/api/v1/runs", Some(body)).await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    let pending = poll_run(&sim, &base, &ann, &id, planned).await;
    let approve = json!({"plan_hash": pending["plan_hash"], "comment": "ok"});
    let path = format!("/api/v1/runs/{id}/approve");
    for _ in 0..2 {
        let (status, answer) = call(&sim, &base, &bob, &path, Some(approve.clone())).await;
        assert!(matches!(status, 200 | 409), "{status} {answer}");
        let (_, run) = call(&sim, &base, &ann, &format!("/api/v1/runs/{id}"), None).await;
        assert_eq!(run["state"], "pending-approval", "{run}");
    }
    let set_mailbox = |requests: &[exorun_sim::control::LogEntry]| {
        requests
            .iter()
            .filter(|r| r.cmdlet.as_deref() == Some("Set-Mailbox"))
            .count()
    };
    assert_eq!(set_mailbox(&sim.requests().await), 0);
    let (status, answer) = call(&sim, &base, &carl, &path, Some(approve)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["state"], "queued", "{answer}");
    let done = poll_run(&sim, &base, &ann, &id, ended).await;
    assert_eq!(done["state"], "succeeded", "{done}\n{}", service.log());
    let mut approvers: Vec<String> = done["approved_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    approvers.sort();
    assert_eq!(approvers, ["bob@contoso.com", "carl@contoso.com"]);
    assert_eq!(set_mailbox(&sim.requests().await), 1);
}
