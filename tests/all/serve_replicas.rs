//! `exorun serve` on PostgreSQL: replicas sharing one queue (and one runs_dir), one killed
//! mid-way and its runs taken up by the other; a database password never shown.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use crate::cli::mailboxes;
use crate::postgres::Postgres;
use crate::serve::{Service, configure, me};
use crate::support::{Sim, start_with};

/// Auto-replies for any contoso.com mailbox, with no hourly limit.
fn auto_reply_rule() -> String {
    format!(
        r#"[[caller]]
name = "helpdesk auto-replies"
who = ["unix-user:{}"]
plugins = ["auto-reply"]
[caller.inputs]
identities = {{ glob = "*@contoso.com", required = true }}
state = {{ values = ["Enabled", "Disabled"] }}
"#,
        me()
    )
}

/// Replica `name`'s configuration: its own state_dir, socket and audit log; the shared
/// database (password from a file) and runs_dir.
fn replica(sim: &Sim, db: &Postgres, name: &str) -> String {
    sim.write("db-password", format!("{}\n", db.password()));
    sim.write(
        &format!("{name}.toml"),
        format!(
            "config = \"config.toml\"\npolicy = \"policy.toml\"\nplugins = \"store\"\naudit_log = \"audit-{name}.jsonl\"\nstate_dir = \"state-{name}\"\nruns_dir = \"runs\"\nsocket = \"{name}.sock\"\nworkers = 4\nlease_secs = 3\ndatabase = \"{}\"\ndatabase_password_file = \"db-password\"\n",
            db.url_without_password()
        ),
    );
    format!("{name}.toml")
}

/// The number of runs in `state`.
fn runs_in(db: &Postgres, state: &str) -> usize {
    db.query(&format!(
        "SELECT COUNT(*) FROM runs WHERE state = '{state}'"
    ))
    .parse()
    .unwrap()
}

/// Two replicas drain 1,000 queued one-call runs; one is killed when about half are done and
/// the other takes up the runs it held once their leases run out. Every run ends once,
/// succeeded, and each mailbox's change was sent once (at most twice for a run in flight at the
/// kill).
#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_drain_a_thousand_runs_and_one_takes_up_the_killed_ones_runs() {
    const RUNS: usize = 1000;
    let db = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = RUNS + 20).await;
    let targets = mailboxes(&sim, RUNS);
    assert_eq!(targets.len(), RUNS);
    configure(&sim, &["auto-reply"], &auto_reply_rule());
    let a_config = replica(&sim, &db, "a");
    let b_config = replica(&sim, &db, "b");
    let a = Service::start_named(&sim, &a_config, "a.sock", "a.log");
    let mut b = Service::start_named(&sim, &b_config, "b.sock", "b.log");

    let started = Instant::now();
    let submitted: Vec<(u16, Value)> = futures::stream::iter(targets.iter().enumerate())
        .map(|(n, target)| {
            let replica = if n % 2 == 0 { &a } else { &b };
            let body = json!({"plugin": "auto-reply", "input": {"identities": [target], "state": "Enabled"}});
            async move { replica.post("/api/v1/runs", &body).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for (status, run) in &submitted {
        assert_eq!(*status, 202, "{run}");
    }
    let queued_in = started.elapsed();

    let deadline = Instant::now() + Duration::from_secs(300);
    while runs_in(&db, "succeeded") < RUNS / 2 {
        assert!(
            Instant::now() < deadline,
            "half the runs did not end in time\nA: {}\nB: {}",
            a.log(),
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    let killed_at = started.elapsed();
    // What B held when it was killed: the runs it was running.
    let b_owner = format!("%:{}:%", b.child.id());
    let held: Vec<String> = db
        .query(&format!(
            "SELECT input FROM runs WHERE state = 'running' AND owner LIKE '{b_owner}'"
        ))
        .lines()
        .map(|input| {
            let input: Value = serde_json::from_str(input).unwrap();
            input["identities"][0].as_str().unwrap().to_string()
        })
        .collect();
    let done_at_kill = runs_in(&db, "succeeded");
    assert!(
        !held.is_empty(),
        "B held no run when it was killed: the test proves nothing\nB: {}",
        b.log()
    );

    let deadline = Instant::now() + Duration::from_secs(300);
    while runs_in(&db, "succeeded") < RUNS {
        let failed = runs_in(&db, "failed");
        assert!(
            failed == 0 && Instant::now() < deadline,
            "{failed} failed, {} succeeded\nA: {}",
            runs_in(&db, "succeeded"),
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained_in = started.elapsed();
    eprintln!(
        "{RUNS} runs: queued in {queued_in:?}, B killed at {killed_at:?} with {done_at_kill} done and {} running on it, all done in {drained_in:?}",
        held.len()
    );

    // Every run ended once.
    assert_eq!(
        db.query("SELECT state, COUNT(*) FROM runs GROUP BY state"),
        format!("succeeded|{RUNS}")
    );
    assert_eq!(
        db.query("SELECT COUNT(*), COUNT(DISTINCT run_id) FROM events WHERE kind = 'end'"),
        format!("{RUNS}|{RUNS}")
    );
    // Each mailbox's change was sent once; a run B held at the kill may have sent it twice.
    let mut sent: HashMap<String, usize> = HashMap::new();
    for entry in sim.requests().await {
        if entry.cmdlet.as_deref() == Some("Set-MailboxAutoReplyConfiguration") {
            let identity = entry.parameters.as_ref().unwrap()["Identity"]
                .as_str()
                .unwrap()
                .to_string();
            *sent.entry(identity).or_default() += 1;
        }
    }
    let held: HashSet<&String> = held.iter().collect();
    let twice = targets.iter().filter(|t| sent.get(*t) == Some(&2)).count();
    eprintln!(
        "{twice} of the {} runs B held at the kill sent their change twice",
        held.len()
    );
    for target in &targets {
        let times = sent.get(target).copied().unwrap_or(0);
        let most = if held.contains(target) { 2 } else { 1 };
        assert!(
            (1..=most).contains(&times),
            "{target} was sent {times} times (held by B at the kill: {})",
            held.contains(target)
        );
    }
    // The password is in neither replica's log.
    for log in [a.log(), b.log()] {
        assert!(!log.contains(db.password()), "{log}");
    }
    // A run B held is served by A, records included: runs_dir is shared.
    let taken_up = db
        .query(&format!(
            "SELECT id FROM runs WHERE input LIKE '%{}%'",
            held.iter().next().unwrap()
        ))
        .to_string();
    let records = a.text(&format!("/api/v1/runs/{taken_up}/records")).await;
    assert_eq!(records.lines().count(), 1, "{records}");
}

/// A replica paused past its lease while it runs a run (SIGSTOP: a frozen VM, a stall): the
/// other replica takes the run up; the paused one, woken, stops the run instead of going on
/// beside the other. Each change is sent once, but for the one in flight at the pause.
#[tokio::test(flavor = "multi_thread")]
async fn a_replica_paused_past_its_lease_stops_the_run_the_other_took_up() {
    const PEOPLE: usize = 30;
    let db = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = PEOPLE + 5).await;
    let targets = mailboxes(&sim, PEOPLE);
    configure(&sim, &["auto-reply"], &auto_reply_rule());
    let a_config = replica(&sim, &db, "a");
    let b_config = replica(&sim, &db, "b");
    let a = Service::start_named(&sim, &a_config, "a.sock", "a.log");
    sim.put_control("faults", json!({"page_latency_ms": 60}))
        .await;
    let (status, run) = a
        .post(
            "/api/v1/runs",
            &json!({"plugin": "auto-reply", "input": {"identities": targets, "state": "Enabled"}}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    let changes = || async {
        sim.requests()
            .await
            .into_iter()
            .filter(|e| e.cmdlet.as_deref() == Some("Set-MailboxAutoReplyConfiguration"))
            .filter_map(|e| {
                e.parameters
                    .map(|p| p["Identity"].as_str().unwrap().to_string())
            })
            .collect::<Vec<String>>()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while changes().await.len() < 3 {
        assert!(Instant::now() < deadline, "A made no change\n{}", a.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let b = Service::start_named(&sim, &b_config, "b.sock", "b.log");
    let signal = |name: &str| {
        let status = Command::new("kill")
            .args([name, &a.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    let paused_with = changes().await.len();
    // B takes the run up once A's lease has run out.
    let b_owner = format!("%:{}:%", b.child.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    while db.query(&format!(
        "SELECT COUNT(*) FROM runs WHERE id = '{id}' AND owner LIKE '{b_owner}'"
    )) != "1"
    {
        assert!(
            Instant::now() < deadline,
            "B never took the run up\n{}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal("-CONT");
    let done = b.finished(&id).await;
    assert_eq!(
        done["state"],
        "succeeded",
        "{done}\nA: {}\nB: {}",
        a.log(),
        b.log()
    );
    assert!(
        a.log().contains("stopped the run"),
        "A went on with the run B took up:\n{}",
        a.log()
    );
    let mut sent: HashMap<String, usize> = HashMap::new();
    for identity in changes().await {
        *sent.entry(identity).or_default() += 1;
    }
    let twice: Vec<(&String, &usize)> = sent.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!("paused after {paused_with} changes; sent more than once: {twice:?}");
    assert!(targets.iter().all(|t| sent.contains_key(t)), "{sent:?}");
    assert!(
        twice.len() <= 2 && twice.iter().all(|(_, n)| **n == 2),
        "changes sent twice beyond those in flight: {twice:?}\nA: {}",
        a.log()
    );
}

/// A database URL's password shows nowhere: not when the server cannot be reached, not when
/// it refuses the password, not when the URL is not PostgreSQL's. `--database` replaces the
/// file's `database`.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_password_never_shows_in_errors() {
    let db = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let sim = start_with(|_| {}).await;
    let serve_toml = configure(&sim, &["auto-reply"], &auto_reply_rule());
    // The file names another database: --database wins (the errors name the flag's).
    let mut text = std::fs::read_to_string(&serve_toml).unwrap();
    text.push_str("database = \"postgres://someone@127.0.0.1:2/elsewhere\"\n");
    std::fs::write(&serve_toml, text).unwrap();
    let serve = |database: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_exorun"))
            .args(["serve", "--config"])
            .arg(&serve_toml)
            .args(["--database", database])
            .env("HOME", sim.dir.path())
            .env("RUST_LOG", "trace")
            .output()
            .unwrap();
        assert!(!out.status.success());
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let password = db.password();
    let wrong_port = db.url().replace(&format!(":{}/", db.port()), ":1/");
    let err = serve(&wrong_port);
    assert!(
        err.contains("cannot open the state database postgres://exorun:***@127.0.0.1:1/exorun: "),
        "{err}"
    );
    assert!(err.contains("check that the server is running"), "{err}");
    assert!(!err.contains(password), "{err}");
    let wrong_host = db.url().replace("127.0.0.1", "db.invalid");
    let err = serve(&wrong_host);
    assert!(
        err.contains("cannot open the state database postgres://exorun:***@db.invalid:"),
        "{err}"
    );
    assert!(!err.contains(password), "{err}");
    let wrong_password = db.url().replace(password, "Wr0ng-Pa55");
    let err = serve(&wrong_password);
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(!err.contains("Wr0ng-Pa55"), "{err}");
    let not_postgres = serve(&format!("mysql://root:{password}@127.0.0.1/exorun"));
    assert!(
        not_postgres.contains("the database URL's scheme is 'mysql'"),
        "{not_postgres}"
    );
    assert!(!not_postgres.contains(password), "{not_postgres}");
}
