//! Runs `exorun serve` takes up again after it was killed: each run goes on from its own
//! journal and checkpoints, in its own directory, and loses no record.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::serve::{Service, configure, me};
use crate::support::start_with;

/// An inventory killed after its first pages goes on from its checkpoint when the service
/// starts again, after the records it wrote: every mailbox once.
#[tokio::test(flavor = "multi_thread")]
async fn an_inventory_the_killed_service_left_goes_on_from_its_checkpoint_and_loses_no_record() {
    const MAILBOXES: usize = 3500;
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = MAILBOXES).await;
    let rule = format!(
        "[[caller]]\nname = \"inventory\"\nwho = [\"unix-user:{}\"]\nplugins = [\"mailbox-inventory\"]\n[caller.inputs]\nstatistics = {{}}\n",
        me()
    );
    let serve_toml = configure(&sim, &["mailbox-inventory"], &rule);
    let mut text = std::fs::read_to_string(&serve_toml).unwrap();
    text.push_str("lease_secs = 3\n");
    std::fs::write(&serve_toml, text).unwrap();
    // The fourth page is asked for and never answered: by then the first pages' records and
    // checkpoint are written.
    sim.put_control("faults", json!({ "hold_after": 4 })).await;
    let mut first = Service::start(&sim);
    let (status, run) = first
        .post(
            "/api/v1/runs",
            &json!({"plugin": "mailbox-inventory", "input": {"statistics": false}}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim
        .requests()
        .await
        .iter()
        .filter(|e| e.endpoint == "invoke")
        .count()
        < 4
    {
        assert!(Instant::now() < deadline, "{}", first.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    sim.put_control("faults", json!({})).await;

    let second = Service::start(&sim);
    let done = second.finished(&id).await;
    assert_eq!(done["state"], "succeeded", "{done}\n{}", second.log());
    assert!(
        done["summary"]["resumed_after"].as_u64().unwrap() >= 1000,
        "the second start did not go on from the checkpoint: {done}"
    );
    let records = second.text(&format!("/api/v1/runs/{id}/records")).await;
    let upns: Vec<String> = records
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["UserPrincipalName"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let distinct: HashSet<&String> = upns.iter().collect();
    assert_eq!(distinct.len(), MAILBOXES, "{} records", upns.len());
    assert_eq!(upns.len(), MAILBOXES);
}

/// Records past the service's page (10,000) reach the command line whole: `exorun runs records`
/// reads page after page, as CSV with one header.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_with_more_records_than_a_page_is_read_whole_from_the_command_line() {
    const MAILBOXES: usize = 10_050;
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = MAILBOXES).await;
    let rule = format!(
        "[[caller]]\nname = \"inventory\"\nwho = [\"unix-user:{}\"]\nplugins = [\"mailbox-inventory\"]\n[caller.inputs]\nstatistics = {{}}\n",
        me()
    );
    configure(&sim, &["mailbox-inventory"], &rule);
    let service = Service::start(&sim);
    let (status, run) = service
        .post(
            "/api/v1/runs",
            &json!({"plugin": "mailbox-inventory", "input": {"statistics": false}}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    let done = service.finished(&id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let (ok, out, err) = crate::cli::run(
        std::process::Command::new(env!("CARGO_BIN_EXE_exorun"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["runs", "--server"])
            .arg(format!("unix:{}", service.socket.display()))
            .args(["records", &id, "--output", "csv"]),
    );
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), MAILBOXES + 1, "{err}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("UserPrincipalName"))
            .count(),
        1,
        "one header"
    );
    let distinct: HashSet<&&str> = lines.iter().collect();
    assert_eq!(distinct.len(), MAILBOXES + 1, "no record twice");
}
