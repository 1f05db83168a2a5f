//! Schedules of `exorun serve`: runs the service submits itself, at the times of a cron
//! expression, as `schedule:NAME` under the caller rules; refused like any caller when no rule
//! names them; a time missed while the service was down run once or skipped.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use serde_json::Value;
use sqlx::Row;

use crate::cli::{exorun, mailboxes, run};
use crate::serve::{Service, configure, me};
use crate::support::Sim;

/// The runs in the service's state database: (principal, run id the submitter chose, state).
async fn runs(sim: &Sim) -> Vec<(String, Option<String>, String)> {
    sqlx::any::install_default_drivers();
    let url = format!(
        "sqlite://{}?mode=ro",
        sim.dir.path().join("state/exorun.db").display()
    );
    let Ok(pool) = sqlx::AnyPool::connect(&url).await else {
        return Vec::new();
    };
    let rows = sqlx::query("SELECT principal, client_key, state FROM runs ORDER BY submitted_at")
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
    pool.close().await;
    rows.iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// The runs of `principal` in the state database: (run id the submitter chose, state).
async fn runs_of(sim: &Sim, principal: &str) -> Vec<(String, String)> {
    runs(sim)
        .await
        .into_iter()
        .filter(|(p, _, _)| p == principal)
        .map(|(_, key, state)| (key.unwrap_or_default(), state))
        .collect()
}

/// Waits until `done` holds for the runs of `principal` (run id the submitter chose, state),
/// or fails with `what` and the service's log.
async fn until(
    sim: &Sim,
    service: &Service,
    principal: &str,
    what: &str,
    done: impl Fn(&[(String, String)]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let runs = runs_of(sim, principal).await;
        if done(&runs) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {runs:?}\n{}",
            service.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many schedules the state database has a mark for.
async fn marks(sim: &Sim) -> i64 {
    sqlx::any::install_default_drivers();
    let url = format!(
        "sqlite://{}?mode=ro",
        sim.dir.path().join("state/exorun.db").display()
    );
    let Ok(pool) = sqlx::AnyPool::connect(&url).await else {
        return 0;
    };
    let count = sqlx::query("SELECT COUNT(*) FROM schedules")
        .fetch_one(&pool)
        .await
        .map_or(0, |r| r.get::<i64, _>(0));
    pool.close().await;
    count
}

/// The audit records of `caller`, as `exorun audit show` gives them.
fn audit_of(sim: &Sim, caller: &str) -> Vec<Value> {
    let (ok, out, err) = run(exorun(sim).args([
        "audit",
        "show",
        "--audit-log",
        sim.dir.path().join("audit.jsonl").to_str().unwrap(),
        "--caller",
        caller,
        "--output",
        "jsonl",
    ]));
    assert!(ok, "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn append(path: &Path, text: &str) {
    let mut all = std::fs::read_to_string(path).unwrap();
    all.push_str(text);
    std::fs::write(path, all).unwrap();
}

/// The caller rules: `who` may set auto-replies for contoso.com mailboxes, and so may the
/// test's own user (who may then see the schedules that run them).
fn rules(who: &[&str]) -> String {
    let who: Vec<String> = who
        .iter()
        .map(|w| format!("\"{w}\""))
        .chain([format!("\"unix-user:{}\"", me())])
        .collect();
    format!(
        "[[caller]]\nname = \"scheduled auto-replies\"\nwho = [{}]\nplugins = [\"auto-reply\"]\n[caller.inputs]\nidentities = {{ glob = \"*@contoso.com\", required = true }}\nstate = {{ values = [\"Enabled\", \"Disabled\"] }}\n",
        who.join(", ")
    )
}

fn auto_reply_schedule(name: &str, cron: &str, zone: &str, missed: &str, mailbox: &str) -> String {
    format!(
        "\n[[schedule]]\nname = \"{name}\"\ncron = \"{cron}\"\ntime_zone = \"{zone}\"\nplugin = \"auto-reply\"\nmissed = \"{missed}\"\n[schedule.input]\nidentities = [\"{mailbox}\"]\nstate = \"Enabled\"\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_runs_as_its_principal_and_one_no_rule_names_is_refused() {
    let sim = crate::support::start().await;
    let mailbox = mailboxes(&sim, 1).remove(0);
    let serve_toml = configure(&sim, &["auto-reply", "echo"], &rules(&["schedule:ticker"]));
    append(
        &serve_toml,
        &auto_reply_schedule("ticker", "* * * * * *", "Europe/Berlin", "skip", &mailbox),
    );
    append(
        &serve_toml,
        "\n[[schedule]]\nname = \"stray\"\ncron = \"*/2 * * * * *\"\nplugin = \"echo\"\n",
    );
    let service = Service::start(&sim);

    until(
        &sim,
        &service,
        "schedule:ticker",
        "the schedule did not run twice",
        |runs| {
            runs.iter()
                .filter(|(_, state)| state == "succeeded")
                .count()
                >= 2
        },
    )
    .await;
    let ticker = runs_of(&sim, "schedule:ticker").await;
    let keys: Vec<&str> = ticker.iter().map(|(key, _)| key.as_str()).collect();
    for key in &keys {
        let at = key.strip_prefix("schedule:ticker@").unwrap();
        assert!(DateTime::parse_from_rfc3339(at).is_ok(), "{key}");
        assert!(at.ends_with('Z'), "{key}");
    }
    let distinct: std::collections::HashSet<&&str> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "a time ran twice: {keys:?}");
    assert!(runs_of(&sim, "schedule:stray").await.is_empty());
    let changes = sim
        .requests()
        .await
        .iter()
        .filter(|r| r.cmdlet.as_deref() == Some("Set-MailboxAutoReplyConfiguration"))
        .count();
    assert!(changes >= 2, "{changes} changes");

    // The API shows the schedule whose target the caller may run, not the other one.
    let (status, schedules) = service.get("/api/v1/schedules").await;
    assert_eq!(status, 200, "{schedules}");
    let listed = schedules.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{schedules}");
    let shown = &listed[0];
    assert_eq!(shown["name"], "ticker");
    assert_eq!(shown["cron"], "* * * * * *");
    assert_eq!(shown["time_zone"], "Europe/Berlin");
    assert_eq!(shown["plugin"], "auto-reply");
    assert_eq!(shown["missed"], "skip");
    assert_eq!(shown["dry_run"], false);
    assert_eq!(shown["input"]["identities"][0], mailbox.as_str());
    let next = DateTime::parse_from_rfc3339(shown["next"]["at"].as_str().unwrap()).unwrap();
    let next_utc = DateTime::parse_from_rfc3339(shown["next"]["at_utc"].as_str().unwrap()).unwrap();
    assert_eq!(next, next_utc);
    assert!(
        next.to_utc() > Utc::now() - chrono::TimeDelta::seconds(2),
        "{shown}"
    );
    let offset = next.offset().local_minus_utc();
    assert!(
        offset == 3600 || offset == 7200,
        "not Berlin's time: {shown}"
    );
    assert!(shown["next"]["at_utc"].as_str().unwrap().ends_with('Z'));
    assert_eq!(shown["last"]["outcome"], "submitted", "{shown}");
    assert!(shown["last"]["run_id"].is_string(), "{shown}");

    // The runs name the schedule as their caller in the audit log; the refusals too.
    let ticked = audit_of(&sim, "schedule:ticker");
    let start = ticked
        .iter()
        .find(|e| e["event"] == "run-start")
        .expect("a run-start of schedule:ticker");
    assert_eq!(start["caller"]["principal"], "schedule:ticker");
    assert_eq!(start["caller"]["authenticated_by"], "schedule");
    let stray = audit_of(&sim, "schedule:stray");
    let refused = stray
        .iter()
        .find(|e| e["event"] == "refused")
        .expect("a refusal of schedule:stray");
    assert_eq!(refused["request"], "run plugin echo", "{refused}");
    let reason = refused["reason"].as_str().unwrap();
    assert!(reason.contains("no caller rule"), "{refused}");
    let log = service.log();
    assert!(
        log.contains(&format!("the schedule's run was not submitted: {reason}")),
        "{log}"
    );
    // The operator was told at start, with what to write.
    assert!(
        log.contains("schedule stray: no caller rule of ")
            && log.contains("names schedule:stray, so each of its runs will be refused: add \"schedule:stray\" to the `who`"),
        "{log}"
    );
    assert!(!log.contains("schedule ticker: no caller rule"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_time_missed_while_the_service_was_down_runs_once_or_is_skipped() {
    let sim = crate::support::start().await;
    let mailbox = mailboxes(&sim, 1).remove(0);
    let serve_toml = configure(
        &sim,
        &["auto-reply"],
        &rules(&["schedule:catch-up", "schedule:skip-it"]),
    );
    // One time a day, a few seconds from now: the service is down when it comes.
    let at = (Utc::now() + chrono::TimeDelta::seconds(15))
        .with_nanosecond(0)
        .unwrap();
    let cron = format!("{} {} {} * * *", at.second(), at.minute(), at.hour());
    append(
        &serve_toml,
        &auto_reply_schedule("catch-up", &cron, "UTC", "run-once", &mailbox),
    );
    append(
        &serve_toml,
        &auto_reply_schedule("skip-it", &cron, "UTC", "skip", &mailbox),
    );
    let at_utc = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);

    let first = Service::start(&sim);
    let (_, schedules) = first.get("/api/v1/schedules").await;
    assert_eq!(
        schedules[0]["next"]["at_utc"],
        at_utc.as_str(),
        "{schedules}"
    );
    assert_eq!(schedules[0]["last"], Value::Null, "{schedules}");
    // The service has seen the schedules (so a time after this is one it missed) ...
    let deadline = Instant::now() + Duration::from_secs(10);
    while marks(&sim).await < 2 {
        assert!(Instant::now() < deadline, "{}", first.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(first);
    assert!(
        Utc::now() < at,
        "the first service took too long to start: the time came while it ran"
    );
    // ... and is down when the time comes.
    let wait = (at - Utc::now()).to_std().unwrap() + Duration::from_secs(1);
    tokio::time::sleep(wait).await;

    let second = Service::start(&sim);
    until(
        &sim,
        &second,
        "schedule:catch-up",
        "the missed time did not run",
        |runs| runs.iter().any(|(_, state)| state == "succeeded"),
    )
    .await;
    let (_, schedules) = second.get("/api/v1/schedules").await;
    let by_name = |name: &str| {
        schedules
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    let caught = by_name("catch-up");
    assert_eq!(caught["last"]["at_utc"], at_utc.as_str(), "{caught}");
    assert_eq!(caught["last"]["outcome"], "submitted", "{caught}");
    let skipped = by_name("skip-it");
    assert_eq!(skipped["last"]["at_utc"], at_utc.as_str(), "{skipped}");
    assert_eq!(skipped["last"]["outcome"], "skipped", "{skipped}");
    assert!(
        skipped["last"]["reason"]
            .as_str()
            .unwrap()
            .contains("passed while the service was not running"),
        "{skipped}"
    );
    drop(second);

    // A third start runs nothing again: the time is marked handled.
    let third = Service::start(&sim);
    let _ = third.get("/api/v1/schedules").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(third);
    let key = format!("schedule:catch-up@{at_utc}");
    assert_eq!(
        runs_of(&sim, "schedule:catch-up").await,
        [(key, "succeeded".to_string())]
    );
    assert!(runs_of(&sim, "schedule:skip-it").await.is_empty());
    let changes = sim
        .requests()
        .await
        .iter()
        .filter(|r| r.cmdlet.as_deref() == Some("Set-MailboxAutoReplyConfiguration"))
        .count();
    assert_eq!(changes, 1);
}
