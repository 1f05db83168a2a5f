//! Plugins from the command line, as an admin runs them: `exorun plugin inspect` and `check`,
//! `exorun run` streaming every page, settings, resuming after a failed run, a closed pipe, and
//! host memory that stays flat over 100,000 records.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::cli::{exorun, peak_rss_kib, pfx_flags, run};
use crate::support::{Sim, artifact, start_with};

/// A packed plugin's path, as a command-line argument.
fn plugin(name: &str) -> String {
    artifact(name).display().to_string()
}

/// The compile cache the binary's tests share, so each plugin is compiled once per test run.
fn cache_dir() -> String {
    let dir: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-plugin-cache");
    dir.display().to_string()
}

/// A policy admitting plugin `name` with exactly what its manifest requests, written by
/// `exorun policy init` into the emulator's scratch directory (once).
pub fn policy_for(sim: &Sim, name: &str) -> PathBuf {
    let path = sim.dir.path().join(format!("policy-{name}.toml"));
    if !path.exists() {
        let (ok, _, err) = run(exorun(sim)
            .args(["policy", "init", &plugin(name), "--out"])
            .arg(&path));
        assert!(ok, "policy init: {err}");
    }
    path
}

/// `exorun <global flags> run <plugin> ...` as the admin app, with its own checkpoint directory,
/// under a policy that grants what the plugin requests.
fn exorun_run(sim: &Sim, name: &str, args: &[&str]) -> Command {
    let policy = policy_for(sim, name);
    let mut command = exorun(sim);
    command
        .args(pfx_flags(sim, "exorun-admin"))
        .args(["run", &plugin(name), "--cache-dir", &cache_dir()])
        .arg("--checkpoint-dir")
        .arg(sim.dir.path().join("checkpoints"))
        .arg("--policy")
        .arg(policy)
        .args(args);
    command
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn plugin_inspect_and_check_read_and_start_plugins() {
    let binary = || Command::new(env!("CARGO_BIN_EXE_exorun"));
    let audit = plugin("mailbox-permission-audit");
    let (ok, out, err) = run(binary().args(["plugin", "inspect", &audit]));
    assert!(ok, "{err}");
    assert!(out.starts_with("mailbox-permission-audit 0.1.0"), "{out}");
    assert!(out.contains("sha256:") && out.contains("Get-RecipientPermission -Identity"));
    assert!(
        out.contains("settings (--config key=value):\n    ignore_trustees: "),
        "{out}"
    );
    let (ok, out, _) = run(binary().args(["plugin", "inspect", "--json", &audit]));
    assert!(ok);
    let manifest: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(manifest["config"][0]["key"], "ignore_trustees");
    assert_eq!(manifest["sha256"].as_str().unwrap().len(), 64);

    let (ok, out, err) = run(binary().args([
        "plugin",
        "check",
        &plugin("mailbox-inventory"),
        &plugin("hostile"),
        "--cache-dir",
        &cache_dir(),
    ]));
    assert!(ok, "{out}{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        2,
        "{out}"
    );
    assert!(out.contains("links and starts within 64 MiB"), "{out}");

    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let (ok, out, err) = run(binary()
        .args(["plugin", "check", "--cache-dir", &cache_dir()])
        .arg(&readme)
        .arg(plugin("mailbox-inventory")));
    assert!(!ok);
    assert!(
        err.starts_with("FAILED  ") && err.contains("does not start with the WebAssembly header"),
        "failures belong on stderr: {err}"
    );
    assert!(
        out.starts_with("ok      mailbox-inventory") && !out.contains("FAILED"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_streams_every_page_and_resumes_after_a_failed_run() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 1000).await;
    let pages = ["--page-size", "200", "--output", "jsonl"];

    // Every page reaches stdout (checkpoints flush the output after each page; they must not
    // close it).
    let (ok, out, err) =
        run(exorun_run(&sim, "mailbox-inventory", &pages)
            .args(["--input", r#"{"statistics": false}"#]));
    assert!(ok, "{err}");
    assert_eq!(lines(&out).len(), 1000);
    assert!(err.contains(r#"summary {"mailboxes":1000}"#), "{err}");

    // Paging cursors that expire at once: the first page is listed, the second fails the run.
    sim.put_control("faults", json!({"cursor_ttl_secs": 0}))
        .await;
    let (ok, out, err) = run(&mut exorun_run(&sim, "mailbox-inventory", &pages));
    assert!(!ok);
    assert_eq!(lines(&out).len(), 200);
    assert!(
        err.contains("Get-Mailbox, after 200 mailboxes") && err.contains("Expired"),
        "{err}"
    );
    let checkpoints = sim.dir.path().join("checkpoints");
    assert_eq!(std::fs::read_dir(&checkpoints).unwrap().count(), 1);

    sim.put_control("faults", json!({})).await;
    let (ok, out, err) = run(&mut exorun_run(&sim, "mailbox-inventory", &pages));
    assert!(ok, "{err}");
    let rows = lines(&out);
    assert_eq!(
        rows.len(),
        800,
        "only the mailboxes the failed run had not listed"
    );
    assert!(rows.iter().all(|r| r["TotalItemSizeBytes"].is_u64()));
    assert!(err.contains(r#""resumed_after":200"#), "{err}");
    assert_eq!(
        std::fs::read_dir(&checkpoints).unwrap().count(),
        0,
        "a finished run clears its checkpoint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_takes_declared_settings_and_a_closed_pipe() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 1000).await;
    let (ok, _, err) = run(exorun_run(&sim, "mailbox-permission-audit", &[])
        .args(["--config", "ignore_trustes=svc-backup"]));
    assert!(!ok);
    assert!(
        err.contains("has no setting 'ignore_trustes'") && err.contains("it reads ignore_trustees"),
        "{err}"
    );
    let (ok, out, err) = run(exorun_run(&sim, "mailbox-permission-audit", &[]).args([
        "--config",
        "ignore_trustees=svc-backup",
        "--output",
        "csv",
    ]));
    assert!(ok, "{err}");
    assert!(out.starts_with("Mailbox,Trustee,Right\n"), "{out}");

    // `exorun run ... | head -1`: the reader goes away after one record; that is success.
    let mut child = exorun_run(
        &sim,
        "mailbox-inventory",
        &["--input", r#"{"statistics": false}"#, "--output", "jsonl"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("UserPrincipalName"), "{first}");
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{err}");
    assert!(!err.contains("Broken pipe"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_refuses_input_the_manifest_schema_does_not_allow() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 5).await;
    let (ok, out, err) = run(exorun_run(&sim, "auto-reply", &[]).args([
        "--input",
        r#"{"identities": ["ann@contoso.com"], "state": "Scheduled", "start_time": "tomorrow"}"#,
    ]));
    assert!(!ok && out.is_empty());
    assert!(
        err.contains("does not match what plugin auto-reply takes")
            && err.contains(r#"/start_time: "tomorrow" is not a "date-time""#),
        "{err}"
    );
    let (ok, _, err) =
        run(exorun_run(&sim, "mailbox-inventory", &[])
            .args(["--input", r#"{"statistics": "yes"}"#]));
    assert!(!ok && err.contains("/statistics: "), "{err}");
    assert!(
        sim.requests().await.iter().all(|e| e.endpoint != "invoke"),
        "no cmdlet was sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_keeps_host_memory_flat_over_100000_records() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 100_000).await;
    let inventory = |input: &str| {
        exorun_run(
            &sim,
            "mailbox-inventory",
            &["--input", input, "--output", "jsonl"],
        )
    };
    // Room mailboxes: about 4,000 of them; then all 100,000.
    let small = peak_rss_kib(&mut inventory(
        r#"{"statistics": false, "recipient_type_details": "RoomMailbox"}"#,
    ));
    let large = peak_rss_kib(&mut inventory(r#"{"statistics": false}"#));
    assert!(
        large < small + 16 * 1024,
        "100,000 records through mailbox-inventory took {large} KiB at peak, 4,000 took {small} KiB: host memory grows with the result"
    );
}
