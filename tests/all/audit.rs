//! The audit log as an admin meets it: `exorun invoke` and `exorun run` record their tokens, each
//! page of each cmdlet and the run around them in one hash chain, print its head, and stop when
//! the log cannot be written; `exorun audit verify` finds each kind of tampering by its line;
//! `exorun audit show` filters; processes and threads share one chain; no secret is ever in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Map, Value, json};

use exorun::audit::{Audit, AuditError, CallContext, PluginRef, RunId};
use exorun::auth::Resource;
use exorun::digest::sha256_hex;
use exorun::exchange::Surface;
use exorun::runtime::{
    MemoryCheckpoints, NoProgress, RunError, RunRequest, Runtime, RuntimeSettings, VecSink,
};

use crate::cli::{exorun, pfx_flags, run};
use crate::support::{Sim, artifact, start, start_with};

/// The log's records, parsed.
fn records(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The SHA-256 of the log's last line: its head.
fn last_hash(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap();
    sha256_hex(text.lines().last().unwrap().as_bytes())
}

/// The run id in the `audit: …` line a command ends with.
fn run_id(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("audit: "))
        .unwrap_or_else(|| panic!("no audit line in {stderr}"));
    let (_, rest) = line.split_once("(run ").unwrap();
    rest.split(',').next().unwrap().to_string()
}

/// `exorun audit ARGS --log LOG`.
fn audit(log: &Path, args: &[&str]) -> (bool, String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_exorun"))
        .arg("audit")
        .args(args)
        .arg("--log")
        .arg(log))
}

/// `exorun invoke` as the admin app, audited in `log`.
fn invoke(sim: &Sim, log: &Path, cmdlet: &[&str]) -> Command {
    let mut command = exorun(sim);
    command
        .args(pfx_flags(sim, "exorun-admin"))
        .arg("--audit-log")
        .arg(log)
        .arg("invoke")
        .args(cmdlet);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_records_its_token_and_each_page_and_prints_the_head() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 1200).await;
    let (ok, _, err) = run(exorun(&sim).args(pfx_flags(&sim, "exorun-admin")).args([
        "--page-size",
        "500",
        "invoke",
        "Get-Mailbox",
        "-ResultSize",
        "Unlimited",
        "--output",
        "jsonl",
    ]));
    assert!(ok, "{err}");
    // With no --audit-log and no EXORUN_AUDIT_LOG, the log is in the state directory.
    let log = sim.dir.path().join(".local/state/exorun/audit.jsonl");
    let head = last_hash(&log);
    assert!(
        err.contains(&format!("audit: 5 records, head {head} (run ")),
        "{err}"
    );
    assert!(err.contains(&format!("log {})", log.display())), "{err}");

    let records = records(&log);
    let asked = &records[0];
    assert_eq!(
        (&asked["event"], &asked["intent"]),
        (&json!("token"), &json!(true))
    );
    assert_eq!(asked["resource"], "https://outlook.office365.com");
    let token = &records[1];
    assert_eq!(token["event"], "token");
    assert_eq!(token.get("intent"), None);
    assert_eq!(token["credential"], "certificate");
    assert_eq!(token["app_id"], sim.app("exorun-admin").client_id.as_str());
    assert_eq!(token["tenant"], sim.info().tenant_id.as_str());
    assert_eq!(token["resource"], "https://outlook.office365.com");
    assert!(token["expires_at"].is_string(), "{token}");

    let calls = &records[2..];
    let invoke_run = run_id(&err);
    let sent: Vec<Option<String>> = sim
        .requests()
        .await
        .into_iter()
        .filter(|e| e.cmdlet.is_some())
        .map(|e| e.client_request_id)
        .collect();
    for (i, call) in calls.iter().enumerate() {
        assert_eq!(call["event"], "call");
        assert_eq!(call["seq"], i + 3);
        assert_eq!(call.get("intent"), None, "a read has no intent record");
        assert_eq!(call["cmdlet"], "Get-Mailbox");
        assert_eq!(call["params"], json!({"ResultSize": "Unlimited"}));
        assert_eq!(call["decision"], "allowed");
        assert_eq!(call["why"], "the operator's own command (exorun invoke)");
        assert_eq!(call["run"], invoke_run.as_str());
        assert_eq!(call["page"], i + 1);
        assert_eq!(call["status"], 200);
        assert_eq!(call["rows"], [500, 500, 200][i]);
        assert_eq!(call["dry_run"], false);
        assert!(call["duration_ms"].is_u64(), "{call}");
        assert_eq!(
            call["client_request_id"].as_str(),
            sent[i].as_deref(),
            "each record names the request the service logged"
        );
    }

    let (ok, out, err) = run(exorun(&sim).args(["audit", "verify"]));
    assert!(ok, "{out}{err}");
    assert_eq!(
        out,
        format!(
            "✓ {}: 5 records, chain intact, head {head}\n",
            log.display()
        )
    );
    let (ok, out, _) = audit(&log, &["verify", "--head", &head]);
    assert!(ok);
    assert!(
        out.contains("the given head is record 5; 0 records were written after it"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_the_line_of_each_kind_of_tampering() {
    let sim = start().await;
    let log = sim.dir.path().join("audit.jsonl");
    for _ in 0..3 {
        let (ok, _, err) = run(&mut invoke(&sim, &log, &["Get-OrganizationConfig"]));
        assert!(ok, "{err}");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    assert_eq!(
        lines.len(),
        9,
        "a token's ask, the token and a call per invoke: {text}"
    );
    let (ok, out, _) = audit(&log, &["verify"]);
    assert!(ok, "{out}");
    let head = last_hash(&log);

    let tampered = sim.dir.path().join("tampered.jsonl");
    let verify = |edit: &dyn Fn(&mut Vec<String>), head: Option<&str>| {
        let mut copy: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        edit(&mut copy);
        std::fs::write(&tampered, copy.concat()).unwrap();
        let mut args = vec!["verify"];
        args.extend(head.map(|h| ["--head", h]).into_iter().flatten());
        let (ok, out, err) = audit(&tampered, &args);
        assert!(!ok, "{out}{err}");
        assert!(
            out.starts_with(&format!("✗ {}: ", tampered.display())),
            "{out}"
        );
        out
    };
    let out = verify(
        &|l| l[2] = l[2].replace("Get-OrganizationConfig", "Set-OrganizationConfig"),
        None,
    );
    assert!(out.contains(": line 3 was changed"), "{out}");
    let out = verify(
        &|l| {
            l.remove(2);
        },
        None,
    );
    assert!(out.contains("record 3 is missing before line 3"), "{out}");
    let out = verify(&|l| l.insert(3, l[0].clone()), None);
    assert!(out.contains("line 4 was inserted"), "{out}");
    let out = verify(&|l| l.swap(2, 3), None);
    assert!(out.contains("lines 3 and 4 were swapped"), "{out}");
    let out = verify(
        &|l| {
            let line = l.remove(1);
            l.push(line);
        },
        None,
    );
    assert!(
        out.contains("line 2 holds record 3, but record 2 belongs here and is on line 9"),
        "{out}"
    );
    let out = verify(
        &|l| {
            let last = l.last_mut().unwrap();
            last.truncate(last.len() - 10);
        },
        None,
    );
    assert!(out.contains("line 9 is cut short"), "{out}");
    assert!(out.contains("records 1 to 8 are intact"), "{out}");
    let out = verify(
        &|l| {
            l.pop();
        },
        Some(&head),
    );
    assert!(
        out.contains(&format!(
            "the head {head} is not in the log, which ends whole at line 8"
        )),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_recorded_and_show_filters_by_run_plugin_denial_and_time() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 30).await;
    let log = sim.dir.path().join("audit.jsonl");
    let with_env = |command: &mut Command| {
        command.env("EXORUN_AUDIT_LOG", &log);
    };
    let mut first = exorun(&sim);
    with_env(&mut first);
    let (ok, _, err) = run(first
        .args(pfx_flags(&sim, "exorun-admin"))
        .args(["invoke", "Get-OrganizationConfig"]));
    assert!(ok, "{err}");
    let first_run = run_id(&err);
    let mut second = exorun(&sim);
    with_env(&mut second);
    let (ok, _, err) = run(second
        .args(pfx_flags(&sim, "exorun-admin"))
        .args(["invoke", "Get-AcceptedDomain"]));
    assert!(ok, "{err}");

    let inventory = artifact("mailbox-inventory");
    let (ok, _, err) = run(exorun(&sim)
        .args(["policy", "init"])
        .arg(&inventory)
        .arg("--out")
        .arg(sim.dir.path().join(".config/exorun/policy.toml")));
    assert!(ok, "{err}");
    let mut plugin_run = exorun(&sim);
    with_env(&mut plugin_run);
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-plugin-cache");
    let (ok, _, err) = run(plugin_run
        .args(pfx_flags(&sim, "exorun-admin"))
        .arg("run")
        .arg(&inventory)
        .arg("--cache-dir")
        .arg(&cache)
        .arg("--checkpoint-dir")
        .arg(sim.dir.path().join("checkpoints"))
        .args(["--output", "jsonl"]));
    assert!(ok, "{err}");
    let plugin_run_id = run_id(&err);

    // The policy gate records what it refuses through the library's handle.
    let refused_run = RunId::new();
    let context = CallContext {
        run: Some(refused_run),
        plugin: Some(PluginRef {
            name: "auto-reply".into(),
            version: "0.1.0".into(),
            digest: "0".repeat(64),
        }),
        ..CallContext::default()
    };
    let params: Map<String, Value> =
        json!({"Identity": "ceo@contoso.com", "AutoReplyState": "Enabled"})
            .as_object()
            .unwrap()
            .clone();
    Audit::open(&log)
        .unwrap()
        .denied(
            &context,
            "Set-MailboxAutoReplyConfiguration",
            &params,
            "ceo@contoso.com is outside the plugin's target scope",
        )
        .unwrap();
    let (ok, out, _) = audit(&log, &["verify"]);
    assert!(ok, "processes and the library share one chain: {out}");

    let jsonl = |args: &[&str]| -> Vec<Value> {
        let mut all = vec!["show", "--output", "jsonl"];
        all.extend_from_slice(args);
        let (ok, out, err) = audit(&log, &all);
        assert!(ok, "{err}");
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let denied = jsonl(&["--denied"]);
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0]["decision"], "denied");
    assert_eq!(denied[0]["cmdlet"], "Set-MailboxAutoReplyConfiguration");
    assert_eq!(
        denied[0]["why"],
        "ceo@contoso.com is outside the plugin's target scope"
    );

    let of_first = jsonl(&["--run", &first_run[..8]]);
    assert_eq!(of_first.len(), 1, "{of_first:?}");
    assert_eq!(of_first[0]["cmdlet"], "Get-OrganizationConfig");

    let of_plugin = jsonl(&["--plugin", "mailbox-inventory"]);
    let start = &of_plugin[0];
    let end = of_plugin.last().unwrap();
    assert_eq!(start["event"], "run-start");
    assert_eq!(start["run"], plugin_run_id.as_str());
    assert_eq!(start["plugin"]["name"], "mailbox-inventory");
    assert_eq!(
        start["plugin"]["digest"],
        sha256_hex(&std::fs::read(&inventory).unwrap()).as_str()
    );
    assert_eq!(start["input_digest"], sha256_hex(b"{}").as_str());
    assert_eq!(start["signers"], json!([]));
    assert_eq!(end["event"], "run-end");
    assert_eq!(end["outcome"], "succeeded");
    assert_eq!(end["records"], 30);
    let calls = &of_plugin[1..of_plugin.len() - 1];
    assert_eq!(end["calls"], calls.len());
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|c| c["event"] == "call"
            && c["run"] == plugin_run_id.as_str()
            && c["plugin"]["name"] == "mailbox-inventory"
            && c["status"] == 200),
        "{calls:?}"
    );
    assert_eq!(
        jsonl(&["--plugin", "mailbox-inventory", "--run", &plugin_run_id]),
        of_plugin
    );

    let (ok, table, _) = audit(&log, &["show", "--since", "1h"]);
    assert!(ok);
    assert!(table.starts_with("  SEQ  TIME (UTC)"), "{table}");
    assert!(
        table.contains("Set-MailboxAutoReplyConfiguration -Identity ceo@contoso.com -AutoReplyState Enabled → DENIED: ceo@contoso.com is outside the plugin's target scope"),
        "{table}"
    );
    assert!(table.contains("mailbox-inventory 0.1.0 started"), "{table}");
    assert!(
        table.contains("mailbox-inventory 0.1.0 succeeded in "),
        "{table}"
    );
    assert!(
        table.contains("Get-OrganizationConfig → HTTP 200, 1 row, "),
        "{table}"
    );
    let (ok, out, _) = audit(&log, &["show", "--since", "2999-01-01", "--output", "json"]);
    assert!(ok);
    assert_eq!(out, "[]\n");
    let (ok, out, _) = audit(&log, &["show", "--denied", "--output", "json"]);
    assert!(ok);
    let array: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(array, denied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn processes_and_threads_append_to_one_valid_chain() {
    let sim = start().await;
    let log = sim.dir.path().join("audit.jsonl");
    let children: Vec<_> = (0..4)
        .map(|_| {
            invoke(&sim, &log, &["Get-Mailbox", "-ResultSize", "10"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut heads = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{err}");
        let head = err.split("head ").nth(1).unwrap()[..64].to_string();
        heads.push(head);
    }

    // Threads of one process, through one connection's handle.
    let settings = exorun::config::Settings {
        audit_log: Some(log.clone()),
        ..sim.pfx_settings("exorun-admin")
    };
    let connection = exorun::Connection::open(settings).unwrap();
    let calls = (0..16).map(|_| {
        connection
            .exchange()
            .invoke(Surface::Exchange, "Get-OrganizationConfig", Map::new())
    });
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }

    let (ok, out, _) = audit(&log, &["verify"]);
    assert!(ok, "{out}");
    let records = records(&log);
    let count = |event: &str| records.iter().filter(|r| r["event"] == event).count();
    assert_eq!(
        (count("token"), count("call")),
        (10, 20),
        "each token's ask and the token: {records:?}"
    );
    for head in heads {
        let (ok, out, _) = audit(&log, &["verify", "--head", &head]);
        assert!(ok, "each process's head is in the chain: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log() {
    let sim = start().await;
    let admin = sim.app("exorun-admin");
    let read = |path: Option<PathBuf>| {
        std::fs::read_to_string(path.unwrap())
            .unwrap()
            .trim()
            .to_string()
    };
    let pfx_password = read(admin.pfx_password_file.clone());
    let client_secret = read(admin.secret_file.clone());
    let token = exorun::Connection::open(sim.secret_settings("exorun-admin"))
        .unwrap()
        .tokens()
        .token(Resource::Exchange)
        .await
        .unwrap()
        .secret
        .expose()
        .to_string();
    let log = sim.dir.path().join("audit.jsonl");
    let parameter_password = "Parameter-Pa55word-4711";

    let (ok, _, err) = run(exorun(&sim)
        .args(["--app-id", &admin.client_id, "--certificate"])
        .arg(admin.pfx.as_ref().unwrap())
        .env("PFX_PW", &pfx_password)
        .args(["--certificate-password-env", "PFX_PW", "--audit-log"])
        .arg(&log)
        .args(["invoke", "Get-Mailbox", "-ResultSize", "2"]));
    assert!(ok, "{err}");
    let (ok, _, err) = run(exorun(&sim)
        .env("AZURE_CLIENT_ID", &admin.client_id)
        .env("AZURE_CLIENT_SECRET", &client_secret)
        .env("EXORUN_AUDIT_LOG", &log)
        .args([
            "invoke",
            "--dry-run",
            "Set-Mailbox",
            "-Identity",
            "room1",
            "-Password",
            parameter_password,
        ]));
    assert!(ok, "{err}");
    assert!(
        err.contains(
            r#"dry run: Set-Mailbox was not sent ({"Identity":"room1","Password":"[redacted]"})"#
        ),
        "nor in what the dry run reports: {err}"
    );
    let (ok, _, err) = run(exorun(&sim)
        .env("AZURE_CLIENT_ID", &admin.client_id)
        .env("AZURE_CLIENT_SECRET", &client_secret)
        .env("EXORUN_AUDIT_LOG", &log)
        .args(["invoke", "Get-AcceptedDomain"]));
    assert!(ok, "{err}");
    let (ok, _, err) = run(exorun(&sim)
        .env("EXORUN_ACCESS_TOKEN", &token)
        .env("EXORUN_AUDIT_LOG", &log)
        .args(["invoke", "Get-OrganizationConfig"]));
    assert!(ok, "{err}");

    let text = std::fs::read_to_string(&log).unwrap();
    let signature = token.rsplit('.').next().unwrap();
    for secret in [
        pfx_password.as_str(),
        &client_secret,
        &token,
        signature,
        parameter_password,
    ] {
        assert!(!text.contains(secret), "a secret is in the log: {text}");
    }
    let records = records(&log);
    let kinds: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "token")
        .map(|r| &r["credential"])
        .collect();
    assert_eq!(
        kinds,
        [
            "certificate",
            "certificate",
            "client-secret",
            "client-secret",
            "access-token",
            "access-token"
        ]
    );
    let rehearsed = records
        .iter()
        .find(|r| r["cmdlet"] == "Set-Mailbox")
        .unwrap();
    assert_eq!(rehearsed["dry_run"], true);
    assert_eq!(
        rehearsed["params"],
        json!({"Identity": "room1", "Password": "[redacted]"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_cannot_be_written_stops_the_command_before_a_token_is_asked_for() {
    let sim = start().await;
    let file = sim.write("not-a-directory", "");
    let (ok, _, err) = run(&mut invoke(
        &sim,
        &file.join("audit.jsonl"),
        &["Get-OrganizationConfig"],
    ));
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "cannot create the audit log's directory {}",
            file.display()
        )) && err.contains("fix: "),
        "{err}"
    );
    assert!(sim.requests().await.is_empty(), "nothing was sent");
    let (ok, _, err) = run(&mut invoke(
        &sim,
        Path::new("/dev/full"),
        &["Get-OrganizationConfig"],
    ));
    assert!(!ok);
    assert!(
        err.contains("cannot write to the audit log /dev/full")
            && err.contains("exorun stops rather than act unaudited"),
        "{err}"
    );
    let requests = sim.requests().await;
    assert!(
        requests.is_empty(),
        "the token's ask could not be recorded, so nothing was sent, not even a token request: {requests:?}"
    );

    // doctor checks the log as a step of its own.
    let (ok, out, _) = run(exorun(&sim)
        .args(pfx_flags(&sim, "exorun-admin"))
        .arg("--audit-log")
        .arg(file.join("audit.jsonl"))
        .arg("doctor"));
    assert!(!ok);
    assert!(
        out.contains("✗ audit      cannot create the audit log's directory")
            && out.contains("    fix: create it (mode 700)"),
        "doctor names the step: {out}"
    );
    let (ok, out, _) = run(exorun(&sim)
        .args(pfx_flags(&sim, "exorun-admin"))
        .arg("doctor"));
    assert!(ok, "{out}");
    let log = sim.dir.path().join(".local/state/exorun/audit.jsonl");
    assert!(
        out.contains(&format!(
            "✓ audit      {} (0 records so far)",
            log.display()
        )),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stops_as_soon_as_its_records_cannot_be_written() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 400).await;
    let log = sim.dir.path().join("audit.jsonl");
    let connection = exorun::Connection::open(exorun::config::Settings {
        audit_log: Some(log.clone()),
        ..sim.secret_settings("exorun-admin")
    })
    .unwrap();
    let runtime = Runtime::new(RuntimeSettings {
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("runtime-cache")),
        ..RuntimeSettings::default()
    })
    .unwrap();
    let plugin = runtime.load(artifact("mailbox-inventory")).await.unwrap();
    let request = RunRequest {
        input: r#"{"statistics": true}"#.into(),
        config: Default::default(),
        exchange: connection.exchange().clone(),
        dry_run: false,
        journal: None,
        grant: std::sync::Arc::new(exorun::policy::Grant::from_manifest(plugin.manifest())),
        limits: plugin.default_limits(),
        sink: std::sync::Arc::new(VecSink::new()),
        checkpoints: std::sync::Arc::new(MemoryCheckpoints::new()),
        progress: std::sync::Arc::new(NoProgress),
    };
    let running = tokio::spawn(async move { runtime.run(&plugin, request).await });

    // Once the run is under way, a record is cut short behind its back (as a full disk would).
    let lines = || std::fs::read_to_string(&log).map_or(0, |t| t.matches('\n').count());
    while lines() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    file.lock().unwrap();
    std::io::Write::write_all(&mut &file, br#"{"seq":"#).unwrap();
    file.unlock().unwrap();

    let outcome = running.await.unwrap();
    let Err(RunError::Audit(error @ AuditError::HalfWritten { .. })) = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        error.to_string().contains(&log.display().to_string()),
        "{error}"
    );
    let statistics = sim
        .requests()
        .await
        .iter()
        .filter(|e| e.cmdlet.as_deref() == Some("Get-MailboxStatistics"))
        .count();
    assert!(
        statistics < 399,
        "the run stopped: {statistics} calls were sent"
    );
    let (ok, out, _) = audit(&log, &["verify"]);
    assert!(!ok && out.contains("is cut short"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_named_before_the_command_is_the_one_audit_verify_and_show_read() {
    let sim = start().await;
    let other = sim.dir.path().join("other/audit.jsonl");
    let (ok, _, err) = run(&mut invoke(&sim, &other, &["Get-OrganizationConfig"]));
    assert!(ok, "{err}");
    // The default log holds something else, so reading it by mistake shows.
    let (ok, _, err) = run(exorun(&sim)
        .args(pfx_flags(&sim, "exorun-admin"))
        .args(["invoke", "Get-AcceptedDomain"]));
    assert!(ok, "{err}");
    let head = last_hash(&other);

    let before = |args: &[&str]| {
        run(Command::new(env!("CARGO_BIN_EXE_exorun"))
            .env_clear()
            .env("HOME", sim.dir.path())
            .arg("--audit-log")
            .arg(&other)
            .arg("audit")
            .args(args))
    };
    let (ok, out, err) = before(&["verify"]);
    assert!(ok, "{out}{err}");
    assert_eq!(
        out,
        format!(
            "✓ {}: 3 records, chain intact, head {head}\n",
            other.display()
        )
    );
    let (ok, out, err) = before(&["show", "--output", "jsonl"]);
    assert!(ok, "{err}");
    assert_eq!(out, std::fs::read_to_string(&other).unwrap());
    // The same option after `audit verify` (and its short form, --log) wins.
    let (ok, out, _) = run(Command::new(env!("CARGO_BIN_EXE_exorun"))
        .env_clear()
        .env("HOME", sim.dir.path())
        .args([
            "--audit-log",
            "/nonexistent/audit.jsonl",
            "audit",
            "verify",
            "--audit-log",
        ])
        .arg(&other));
    assert!(ok && out.contains(&other.display().to_string()), "{out}");
}

/// `lines` as someone who may write the log but has not the key would rewrite them: numbered
/// again and each chained to the hash of the line before, MACs left as they were.
fn rechained(lines: &[String]) -> String {
    let mut prev: Option<String> = None;
    let mut text = String::new();
    for (n, line) in (1..).zip(lines) {
        let rest = &line[line.find(r#","time":"#).unwrap()..];
        let prev_json = prev.as_ref().map_or("null".into(), |h| format!("\"{h}\""));
        let line = format!("{{\"seq\":{n},\"prev\":{prev_json}{rest}");
        prev = Some(sha256_hex(line.trim_end().as_bytes()));
        text.push_str(&line);
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_log_shows_a_rewrite_with_recomputed_hashes_and_never_holds_the_key() {
    let sim = start().await;
    let log = sim.dir.path().join("audit.jsonl");
    let key = sim.dir.path().join("keys/audit.key");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    let (ok, out, err) = run(Command::new(env!("CARGO_BIN_EXE_exorun"))
        .args(["audit", "key", "new"])
        .arg(&key));
    assert!(ok, "{err}");
    assert!(
        out.starts_with(&format!(
            "wrote a new audit key to {} (mode 600)",
            key.display()
        )),
        "{out}"
    );
    let digits = std::fs::read_to_string(&key).unwrap().trim().to_string();
    assert!(!out.contains(&digits[..16]), "{out}");
    for cmdlet in ["Get-OrganizationConfig", "Get-AcceptedDomain"] {
        let (ok, _, err) = run(invoke(&sim, &log, &[cmdlet]).arg("--audit-key").arg(&key));
        assert!(ok, "{err}");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(&digits[..16]), "the key is not in the log");
    assert!(records(&log).iter().all(|r| r["mac"].is_string()), "{text}");

    let verify = |path: &Path, key: &Path| {
        run(Command::new(env!("CARGO_BIN_EXE_exorun"))
            .args(["audit", "verify", "--audit-log"])
            .arg(path)
            .arg("--key")
            .arg(key))
    };
    let (ok, out, _) = verify(&log, &key);
    assert!(ok, "{out}");
    assert!(
        out.contains("6 records, chain intact, every MAC matches the key, head"),
        "{out}"
    );
    let (ok, out, _) = audit(&log, &["verify"]);
    assert!(
        ok && out.contains("(its records carry MACs: pass --key FILE to check them)"),
        "{out}"
    );

    let lines: Vec<String> = text.split_inclusive('\n').map(String::from).collect();
    let tampered = sim.dir.path().join("tampered.jsonl");
    let mut edited = lines.clone();
    edited[2] = edited[2].replace("Get-OrganizationConfig", "Set-OrganizationConfig");
    std::fs::write(&tampered, rechained(&edited)).unwrap();
    let (ok, out, _) = audit(&tampered, &["verify"]);
    assert!(ok, "the chain alone is fooled: {out}");
    let (ok, out, _) = verify(&tampered, &key);
    assert!(!ok);
    assert!(
        out.starts_with(&format!(
            "✗ {}: line 3 was changed, or a record before it removed, and the hashes recomputed to hide it: its MAC is not the one the key gives it",
            tampered.display()
        )) && out.contains("  fix: ")
            && out.contains("records 1 to 2 are intact"),
        "{out}"
    );

    let mut removed = lines.clone();
    removed.remove(1);
    std::fs::write(&tampered, rechained(&removed)).unwrap();
    let (ok, out, _) = verify(&tampered, &key);
    assert!(
        !ok && out.contains(": line 2 was changed, or a record before it removed"),
        "{out}"
    );

    let wrong = sim.dir.path().join("keys/wrong.key");
    run(Command::new(env!("CARGO_BIN_EXE_exorun"))
        .args(["audit", "key", "new"])
        .arg(&wrong));
    let (ok, out, _) = verify(&log, &wrong);
    assert!(!ok);
    assert!(
        out.contains(": line 1, the first with a MAC, does not carry the MAC this key gives it: the key is not the one the log was written with")
            && out.contains("fix: pass the key the log was written with"),
        "{out}"
    );

    // An unkeyed log (or one stripped of its MACs) is no proof with the key.
    let unkeyed = sim.dir.path().join("unkeyed.jsonl");
    let (ok, _, err) = run(&mut invoke(&sim, &unkeyed, &["Get-OrganizationConfig"]));
    assert!(ok, "{err}");
    let (ok, out, _) = verify(&unkeyed, &key);
    assert!(!ok);
    assert!(
        out.starts_with(&format!("✗ {}: no record carries a MAC: the log was written without a key, or its MACs were stripped; the key vouches for none of it", unkeyed.display()))
            && out.contains("the chain is intact (3 records, head"),
        "{out}"
    );

    // A key others may read is refused before anything is sent.
    let requests = sim.requests().await.len();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let (ok, _, err) = run(invoke(&sim, &log, &["Get-OrganizationConfig"])
        .arg("--audit-key")
        .arg(&key));
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "the audit key {} may be read by other users (mode 644), so it vouches for nothing",
            key.display()
        )) && err.contains(&format!("fix: chmod 600 {}", key.display())),
        "{err}"
    );
    assert!(!err.contains(&digits[..16]), "{err}");
    assert_eq!(sim.requests().await.len(), requests, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_sent_by_a_process_killed_before_the_answer_is_in_the_log() {
    let sim = start().await;
    let log = sim.dir.path().join("audit.jsonl");
    // The service carries the change out but takes its time answering: the process is killed
    // while it waits.
    sim.put_control("faults", json!({"answer_latency_ms": 5_000}))
        .await;
    let mut child = invoke(
        &sim,
        &log,
        &[
            "Set-Mailbox",
            "-Identity",
            "room1",
            "-HiddenFromAddressListsEnabled:true",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let sent = sim.requests().await;
        if sent
            .iter()
            .any(|e| e.cmdlet.as_deref() == Some("Set-Mailbox"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the change was never sent"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // SIGKILL: nothing of the process runs after this.
    child.kill().unwrap();
    child.wait().unwrap();
    sim.put_control("faults", json!({})).await;

    let records = records(&log);
    let intents: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "call" && r["intent"] == true)
        .collect();
    assert_eq!(intents.len(), 1, "{records:?}");
    assert_eq!(intents[0]["cmdlet"], "Set-Mailbox");
    assert_eq!(
        intents[0]["params"],
        json!({"Identity": "room1", "HiddenFromAddressListsEnabled": true})
    );
    let (ok, out, _) = audit(&log, &["verify"]);
    assert!(ok, "{out}");
    let (ok, out, _) = audit(&log, &["show"]);
    assert!(
        ok && out.contains("Set-Mailbox -Identity room1 -HiddenFromAddressListsEnabled $true → sending (its outcome follows in a later record)"),
        "{out}"
    );

    // Answered, a change has its intent and then its outcome.
    let (ok, _, err) = run(&mut invoke(
        &sim,
        &log,
        &[
            "Set-Mailbox",
            "-Identity",
            "room1",
            "-HiddenFromAddressListsEnabled:false",
        ],
    ));
    assert!(ok, "{err}");
    let records = self::records(&log);
    let calls: Vec<(&Value, &Value)> = records
        .iter()
        .filter(|r| r["event"] == "call")
        .map(|r| (&r["intent"], &r["status"]))
        .collect();
    assert_eq!(
        calls[1..],
        [(&json!(true), &Value::Null), (&Value::Null, &json!(200))],
        "{records:?}"
    );
}
