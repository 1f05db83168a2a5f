//! The plugin runtime against exorun-sim with the real plugins (`target/plugins`, built by
//! `bash scripts/build-plugins.sh`): inventory, auto-reply (live and dry run), permission audit,
//! the Python plugin and the disk cache, every attack of the hostile plugin (after each of which
//! the host still runs plugins), a query that outlives its tokens, operator settings, an
//! inventory that resumes from its checkpoint after a failed run, and changes a journal answers
//! instead of sending them again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use exorun::Connection;
use exorun::changes::{ChangeJournal, MemoryJournal};
use exorun::config::Settings;
use exorun::exchange::{Parameters, Surface};
use exorun::policy::Grant;
use exorun::runtime::{
    CheckpointKey, CheckpointStore, LoadKind, MemoryCheckpoints, NoProgress, Plugin, Record,
    RecordSink, RunError, RunOutcome, RunRequest, Runtime, RuntimeSettings, VecSink,
};
use serde_json::{Value, json};

use crate::support::{Sim, artifact, start, start_with};

/// The runtime most tests share, as a process shares one (compiled plugins cached on disk
/// between test runs).
pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::new(RuntimeSettings {
            cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("runtime-cache")),
            ..RuntimeSettings::default()
        })
        .unwrap()
    })
}

pub(crate) async fn load(name: &str) -> Arc<Plugin> {
    runtime().load(artifact(name)).await.unwrap()
}

/// A connection to the emulator as the admin app, adjusted by `adjust`.
pub(crate) fn connect(sim: &Sim, adjust: impl FnOnce(&mut Settings)) -> Connection {
    let mut settings = sim.secret_settings("exorun-admin");
    adjust(&mut settings);
    Connection::open(settings).unwrap()
}

fn request(
    plugin: &Plugin,
    connection: &Connection,
    input: Value,
    sink: Arc<dyn RecordSink>,
) -> RunRequest {
    RunRequest {
        input: input.to_string(),
        config: BTreeMap::new(),
        exchange: connection.exchange().clone(),
        dry_run: false,
        journal: None,
        grant: Arc::new(Grant::from_manifest(plugin.manifest())),
        limits: plugin.default_limits(),
        sink,
        checkpoints: Arc::new(MemoryCheckpoints::new()),
        progress: Arc::new(NoProgress),
    }
}

/// Runs `plugin` on the shared runtime; the records it emitted come back too.
pub(crate) async fn run(
    plugin: &Plugin,
    connection: &Connection,
    input: Value,
) -> (Result<RunOutcome, RunError>, Vec<Record>) {
    run_with(plugin, connection, input, |_| {}).await
}

pub(crate) async fn run_with(
    plugin: &Plugin,
    connection: &Connection,
    input: Value,
    adjust: impl FnOnce(&mut RunRequest),
) -> (Result<RunOutcome, RunError>, Vec<Record>) {
    let sink = Arc::new(VecSink::new());
    let mut request = request(plugin, connection, input, sink.clone());
    adjust(&mut request);
    let outcome = runtime().run(plugin, request).await;
    (outcome, sink.records())
}

/// Runs `plugin` as a dry run on the shared runtime: the outcome and the changes it rehearsed.
pub(crate) async fn rehearse(
    plugin: &Plugin,
    connection: &Connection,
    input: Value,
) -> (
    Result<RunOutcome, RunError>,
    Vec<exorun::exchange::Rehearsal>,
) {
    let sink = Arc::new(VecSink::new());
    let mut request = request(plugin, connection, input, sink.clone());
    request.dry_run = true;
    let outcome = runtime().run(plugin, request).await;
    (outcome, sink.rehearsals())
}

pub(crate) fn params(value: Value) -> Parameters {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

pub(crate) fn summary(outcome: &RunOutcome) -> Value {
    serde_json::from_str(&outcome.summary).unwrap()
}

fn text<'a>(row: &'a serde_json::Map<String, Value>, key: &str) -> &'a str {
    row[key].as_str().unwrap_or_default()
}

/// Every mailbox's UserPrincipalName, read with the library.
async fn mailbox_upns(connection: &Connection) -> BTreeSet<String> {
    mailbox_order(connection).await.into_iter().collect()
}

/// InvokeCommand requests the emulator saw, as (cmdlet, parameters).
pub(crate) async fn invoked(sim: &Sim) -> Vec<(String, Value)> {
    sim.requests()
        .await
        .into_iter()
        .filter(|e| e.endpoint == "invoke" || e.endpoint == "compliance")
        .map(|e| {
            (
                e.cmdlet.unwrap_or_default(),
                e.parameters.unwrap_or(Value::Null),
            )
        })
        .collect()
}

/// The host is unharmed: the shared runtime still runs mailbox-inventory to the end.
async fn host_still_runs_plugins(sim: &Sim) {
    let connection = connect(sim, |_| {});
    let expected = mailbox_upns(&connection).await.len() as u64;
    let inventory = load("mailbox-inventory").await;
    let (outcome, records) = run(&inventory, &connection, json!({"statistics": false})).await;
    let outcome = outcome.unwrap();
    assert_eq!(
        (outcome.records, records.len() as u64),
        (expected, expected)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_inventory_joins_statistics_for_every_mailbox() {
    let sim = start().await;
    let connection = connect(&sim, |_| {});
    let inventory = load("mailbox-inventory").await;
    assert_eq!(inventory.manifest().name, "mailbox-inventory");
    assert_eq!(inventory.digest().len(), 64);

    let (outcome, records) = run(&inventory, &connection, json!({})).await;
    let outcome = outcome.unwrap();
    let upns = mailbox_upns(&connection).await;
    let listed: BTreeSet<String> = records
        .iter()
        .map(|r| text(r, "UserPrincipalName").to_string())
        .collect();
    assert_eq!(listed, upns, "one record per mailbox");
    assert_eq!(outcome.records, upns.len() as u64);
    assert_eq!(summary(&outcome), json!({"mailboxes": upns.len()}));
    assert_eq!(
        outcome.cmdlet_calls,
        1 + upns.len() as u64,
        "Get-Mailbox, then Get-MailboxStatistics per mailbox"
    );
    assert_eq!(outcome.denied, 0);

    // Statistics are joined: compare one mailbox with the library's own call.
    assert!(
        records
            .iter()
            .all(|r| r["ItemCount"].is_u64() && r["TotalItemSizeBytes"].is_u64())
    );
    let first = &records[0];
    let stats = connection
        .exchange()
        .invoke(
            Surface::Exchange,
            "Get-MailboxStatistics",
            params(json!({"Identity": text(first, "UserPrincipalName")})),
        )
        .await
        .unwrap();
    assert_eq!(first["ItemCount"], stats[0]["ItemCount"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_reply_sets_the_replies() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 10).await;
    let connection = connect(&sim, |_| {});
    let plugin = load("auto-reply").await;
    let targets: Vec<String> = mailbox_upns(&connection)
        .await
        .into_iter()
        .take(2)
        .collect();
    let mut identities = targets.clone();
    identities.push("nobody@contoso.com".into());
    let input = json!({
        "identities": identities,
        "state": "Enabled",
        "internal_message": "Away until Monday",
        "external_audience": "Known",
    });

    let (outcome, records) = run(&plugin, &connection, input).await;
    let outcome = outcome.unwrap();
    let results: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (text(r, "Identity"), text(r, "Result")))
        .collect();
    assert_eq!(
        results,
        [
            (targets[0].as_str(), "Updated"),
            (targets[1].as_str(), "Updated"),
            ("nobody@contoso.com", "NotFound")
        ]
    );
    assert_eq!(outcome.cmdlet_calls, 3);
    for upn in &targets {
        let config = connection
            .exchange()
            .invoke(
                Surface::Exchange,
                "Get-MailboxAutoReplyConfiguration",
                params(json!({"Identity": upn})),
            )
            .await
            .unwrap();
        assert_eq!(config[0]["AutoReplyState"], "Enabled", "{upn}");
        assert_eq!(config[0]["InternalMessage"], "Away until Monday", "{upn}");
        assert_eq!(config[0]["ExternalAudience"], "Known", "{upn}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_reply_in_a_dry_run_records_and_sends_nothing() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 10).await;
    let connection = connect(&sim, |_| {});
    let plugin = load("auto-reply").await;
    let targets: Vec<String> = mailbox_upns(&connection)
        .await
        .into_iter()
        .take(2)
        .collect();
    let input = json!({"identities": targets, "state": "Enabled", "internal_message": "Away"});

    let sink = Arc::new(VecSink::new());
    let mut dry = request(&plugin, &connection, input.clone(), sink.clone());
    dry.dry_run = true;
    let outcome = runtime().run(&plugin, dry).await.unwrap();
    let records = sink.records();
    assert!(
        records.iter().all(|r| text(r, "Result") == "DryRun"),
        "{records:?}"
    );
    assert!(text(&records[0], "Detail").contains("recorded, not sent"));
    assert_eq!(summary(&outcome)["dry_run"], 2);
    let rehearsed = sink.rehearsals();
    assert_eq!(rehearsed.len(), 2);
    assert!(
        rehearsed
            .iter()
            .all(|c| c.cmdlet == "Set-MailboxAutoReplyConfiguration")
    );
    assert_eq!(rehearsed[0].params["Identity"], targets[0].as_str());

    let sent = invoked(&sim).await;
    assert!(
        sent.iter()
            .all(|(cmdlet, _)| cmdlet != "Set-MailboxAutoReplyConfiguration"),
        "{sent:?}"
    );
    assert_eq!(
        auto_reply_state(&connection, &targets[0]).await,
        "Disabled",
        "nothing changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_and_a_live_run_share_a_connection_but_not_the_dry_run() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 10).await;
    let connection = connect(&sim, |_| {});
    let plugin = load("auto-reply").await;
    let targets: Vec<String> = mailbox_upns(&connection)
        .await
        .into_iter()
        .take(2)
        .collect();
    let input =
        |upn: &str| json!({"identities": [upn], "state": "Enabled", "internal_message": "Away"});
    let (dry_sink, live_sink) = (Arc::new(VecSink::new()), Arc::new(VecSink::new()));
    let mut dry = request(&plugin, &connection, input(&targets[0]), dry_sink.clone());
    dry.dry_run = true;
    let live = request(&plugin, &connection, input(&targets[1]), live_sink.clone());

    let (dry, live) = tokio::join!(runtime().run(&plugin, dry), runtime().run(&plugin, live));
    assert_eq!(summary(&dry.unwrap())["dry_run"], 1);
    assert_eq!(summary(&live.unwrap())["dry_run"], 0);
    assert_eq!(dry_sink.rehearsals().len(), 1);
    assert!(
        live_sink.rehearsals().is_empty(),
        "the live run rehearsed nothing"
    );
    assert_eq!(auto_reply_state(&connection, &targets[0]).await, "Disabled");
    assert_eq!(auto_reply_state(&connection, &targets[1]).await, "Enabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_the_journal_has_are_answered_from_it_and_not_sent_again() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 10).await;
    let connection = connect(&sim, |_| {});
    let plugin = load("auto-reply").await;
    let targets: Vec<String> = mailbox_upns(&connection)
        .await
        .into_iter()
        .take(2)
        .collect();
    let input = json!({"identities": targets, "state": "Enabled", "internal_message": "Away"});
    let journal = Arc::new(MemoryJournal::new());
    let journaled = |journal: &Arc<MemoryJournal>| {
        let journal: Arc<dyn ChangeJournal> = journal.clone();
        move |request: &mut RunRequest| request.journal = Some(journal)
    };

    let (first, records) = run_with(&plugin, &connection, input.clone(), journaled(&journal)).await;
    assert_eq!(summary(&first.unwrap())["updated"], 2, "{records:?}");
    assert_eq!(sets(&sim).await, 2);
    assert!(journal.unfinished().is_empty());

    // The same work again (a resumed run): the plugin is told the changes were made, and
    // nothing is sent a second time; reads still go out.
    let (again, records) = run_with(&plugin, &connection, input.clone(), journaled(&journal)).await;
    assert_eq!(summary(&again.unwrap())["updated"], 2, "{records:?}");
    assert_eq!(sets(&sim).await, 2, "no change was sent again");

    // Other work, with its own journal, sends its changes.
    let (other, _) = run_with(
        &plugin,
        &connection,
        input,
        journaled(&Arc::new(MemoryJournal::new())),
    )
    .await;
    assert_eq!(summary(&other.unwrap())["updated"], 2);
    assert_eq!(sets(&sim).await, 4);
}

/// How many auto-reply changes the emulator received.
async fn sets(sim: &Sim) -> usize {
    invoked(sim)
        .await
        .into_iter()
        .filter(|(cmdlet, _)| cmdlet == "Set-MailboxAutoReplyConfiguration")
        .count()
}

/// The `AutoReplyState` of `upn`'s mailbox.
async fn auto_reply_state(connection: &Connection, upn: &str) -> String {
    let config = connection
        .exchange()
        .invoke(
            Surface::Exchange,
            "Get-MailboxAutoReplyConfiguration",
            params(json!({"Identity": upn})),
        )
        .await
        .unwrap();
    config[0]["AutoReplyState"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Whether a permission row's `AccessRights` list holds `right`.
fn has_right(row: &Value, right: &str) -> bool {
    row["AccessRights"]
        .as_array()
        .is_some_and(|rights| rights.iter().any(|r| r == right))
}

/// The audit's records as (mailbox, trustee, right).
fn grants(records: &[Record]) -> BTreeSet<(String, String, String)> {
    records
        .iter()
        .map(|r| {
            (
                text(r, "Mailbox").to_string(),
                text(r, "Trustee").to_string(),
                text(r, "Right").to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_audit_finds_the_shared_mailbox_grants() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 60).await;
    let connection = connect(&sim, |_| {});
    let exchange = connection.exchange();
    let shared = exchange
        .invoke(
            Surface::Exchange,
            "Get-Mailbox",
            params(json!({"RecipientTypeDetails": "SharedMailbox", "ResultSize": "Unlimited"})),
        )
        .await
        .unwrap();
    assert!(!shared.is_empty(), "the scenario has shared mailboxes");
    let mut expected = BTreeSet::new();
    for mailbox in &shared {
        let upn = mailbox["UserPrincipalName"].as_str().unwrap().to_string();
        let identity = params(json!({"Identity": upn}));
        for row in exchange
            .invoke(Surface::Exchange, "Get-MailboxPermission", identity.clone())
            .await
            .unwrap()
        {
            let user = row["User"].as_str().unwrap();
            if has_right(&row, "FullAccess")
                && user != "NT AUTHORITY\\SELF"
                && row["IsInherited"] != true
                && row["Deny"] != true
            {
                expected.insert((upn.clone(), user.to_string(), "FullAccess".to_string()));
            }
        }
        for row in exchange
            .invoke(Surface::Exchange, "Get-RecipientPermission", identity)
            .await
            .unwrap()
        {
            let trustee = row["Trustee"].as_str().unwrap();
            if has_right(&row, "SendAs")
                && trustee != "NT AUTHORITY\\SELF"
                && row["IsInherited"] != true
            {
                expected.insert((upn.clone(), trustee.to_string(), "SendAs".to_string()));
            }
        }
    }
    assert!(
        expected.iter().any(|g| g.2 == "FullAccess") && expected.iter().any(|g| g.2 == "SendAs")
    );

    let plugin = load("mailbox-permission-audit").await;
    let (outcome, records) = run(&plugin, &connection, json!({})).await;
    let outcome = outcome.unwrap();
    let found = grants(&records);
    assert_eq!(found, expected);
    assert_eq!(outcome.records as usize, expected.len());
    assert_eq!(summary(&outcome)["mailboxes"], 60);

    // The operator's `ignore_trustees` leaves a service account out of every audit.
    let ignored = expected.iter().next().unwrap().1.clone();
    let (outcome, records) = run_with(&plugin, &connection, json!({}), |r| {
        r.config.insert(
            "ignore_trustees".into(),
            format!(" svc-x@contoso.com ;{ignored}"),
        );
    })
    .await;
    outcome.unwrap();
    let found = grants(&records);
    let kept: BTreeSet<_> = expected
        .iter()
        .filter(|g| !g.1.eq_ignore_ascii_case(&ignored))
        .cloned()
        .collect();
    assert!(kept.len() < expected.len());
    assert_eq!(found, kept);

    // A setting the plugin does not read is refused before it starts, naming the ones it does.
    let (outcome, records) = run_with(&plugin, &connection, json!({}), |r| {
        r.config.insert("ignore_trustee".into(), ignored.clone());
    })
    .await;
    assert!(
        matches!(&outcome, Err(RunError::Config(m)) if m.contains("'ignore_trustee'") && m.contains("it reads ignore_trustees")),
        "{outcome:?}"
    );
    assert!(records.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_plugin_loads_from_the_disk_cache_the_second_time() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 30).await;
    let connection = connect(&sim, |_| {});
    let cache = tempfile::tempdir().unwrap();
    let settings = RuntimeSettings {
        cache_dir: Some(cache.path().join("compiled")),
        ..RuntimeSettings::default()
    };
    let first = Runtime::new(settings.clone()).unwrap();
    let plugin = first.load(artifact("stale-mailboxes")).await.unwrap();
    assert_eq!(plugin.loaded(), LoadKind::Compiled);
    let again = first.load(artifact("stale-mailboxes")).await.unwrap();
    assert_eq!(
        again.loaded(),
        LoadKind::Memory,
        "the same process does not load it again"
    );

    // Another process (another runtime) maps the compiled code from the cache.
    let second = Runtime::new(settings).unwrap();
    let cached = second.load(artifact("stale-mailboxes")).await.unwrap();
    assert_eq!(cached.loaded(), LoadKind::DiskCache);
    assert_eq!(cached.digest(), plugin.digest());

    let sink = Arc::new(VecSink::new());
    let input = json!({"days": 0});
    let outcome = second
        .run(&cached, request(&cached, &connection, input, sink.clone()))
        .await
        .unwrap();
    let summary = summary(&outcome);
    assert_eq!(summary["checked"], 30, "{summary}");
    assert_eq!(summary["stale"], outcome.records, "{summary}");
    assert_eq!(summary["failed"], 0, "every mailbox was read: {summary}");
    assert!(!outcome.failures.any());
    assert!(outcome.records > 0);
    assert!(
        sink.records()
            .iter()
            .all(|r| r.contains_key("DaysSinceLogon"))
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_others_can_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt as _;
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("compiled");
    let settings = RuntimeSettings {
        cache_dir: Some(dir.clone()),
        ..RuntimeSettings::default()
    };
    let chmod =
        |mode| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
    let loaded = |settings: RuntimeSettings| async move {
        let runtime = Runtime::new(settings).unwrap();
        runtime.load(artifact("hostile")).await.unwrap().loaded()
    };
    assert_eq!(loaded(settings.clone()).await, LoadKind::Compiled);
    assert_eq!(loaded(settings.clone()).await, LoadKind::DiskCache);
    chmod(0o777);
    assert_eq!(
        loaded(settings.clone()).await,
        LoadKind::Compiled,
        "world-writable: refused"
    );
    chmod(0o700);
    assert_eq!(loaded(settings).await, LoadKind::DiskCache);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_or_changed_cache_entry_is_compiled_again() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("compiled");
    let settings = RuntimeSettings {
        cache_dir: Some(dir.clone()),
        ..RuntimeSettings::default()
    };
    let load = |name: &'static str| {
        let settings = settings.clone();
        async move {
            let runtime = Runtime::new(settings).unwrap();
            let plugin = runtime.load(artifact(name)).await.unwrap();
            runtime.check(&plugin).await.unwrap();
            (plugin.digest().to_string(), plugin.loaded())
        }
    };
    let (hostile, _) = load("hostile").await;
    let (inventory, _) = load("mailbox-inventory").await;
    let entry_of = |digest: &str| {
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(digest))
            .unwrap()
    };
    // mailbox-inventory's compiled code planted as hostile's entry.
    std::fs::copy(entry_of(&inventory), entry_of(&hostile)).unwrap();
    assert_eq!(
        load("hostile").await.1,
        LoadKind::Compiled,
        "a foreign entry is not used"
    );
    assert_eq!(
        load("hostile").await.1,
        LoadKind::DiskCache,
        "and is replaced"
    );
    // One byte of hostile's compiled code changed.
    let entry = entry_of(&hostile);
    let mut code = std::fs::read(&entry).unwrap();
    let middle = code.len() / 2;
    code[middle] ^= 0x01;
    std::fs::write(&entry, &code).unwrap();
    assert_eq!(
        load("hostile").await.1,
        LoadKind::Compiled,
        "a changed entry is not used"
    );
    assert_eq!(load("hostile").await.1, LoadKind::DiskCache);
}

/// Runs one attack of the hostile plugin against a small tenant; the host must survive it.
async fn attack(attempt: &str) -> (Sim, Result<RunOutcome, RunError>) {
    attack_with(attempt, |_| {}).await
}

async fn attack_with(
    attempt: &str,
    adjust: impl FnOnce(&mut RunRequest),
) -> (Sim, Result<RunOutcome, RunError>) {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 20).await;
    let connection = connect(&sim, |_| {});
    let hostile = load("hostile").await;
    let (outcome, _) = run_with(&hostile, &connection, json!({"attempt": attempt}), adjust).await;
    (sim, outcome)
}

/// The summary of an attack the plugin survived: the sandbox must have held.
fn assert_blocked(outcome: Result<RunOutcome, RunError>) -> RunOutcome {
    let outcome = outcome.unwrap();
    let summary = summary(&outcome);
    assert_eq!(summary["outcome"], "blocked", "{summary}");
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_finds_no_environment() {
    let (sim, outcome) = attack("env").await;
    let outcome = assert_blocked(outcome);
    assert!(
        summary(&outcome)["detail"]
            .as_str()
            .unwrap()
            .starts_with("0 environment variables [], 0 arguments")
    );
    host_still_runs_plugins(&sim).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_cannot_read_files() {
    let (sim, outcome) = attack("file").await;
    assert_blocked(outcome);
    host_still_runs_plugins(&sim).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_cannot_open_sockets() {
    let (sim, outcome) = attack("socket").await;
    assert_blocked(outcome);
    host_still_runs_plugins(&sim).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_loop_times_out_on_time() {
    let timeout = Duration::from_secs(1);
    let started = Instant::now();
    let (sim, outcome) = attack_with("loop", |r| r.limits.timeout = timeout).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(outcome, Err(RunError::Timeout { after }) if after == timeout),
        "{outcome:?}"
    );
    assert!(
        elapsed < timeout + Duration::from_secs(2),
        "stopped after {elapsed:?}"
    );
    host_still_runs_plugins(&sim).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_loop_runs_out_of_fuel() {
    let (sim, outcome) = attack_with("loop", |r| r.limits.fuel = Some(20_000_000)).await;
    assert!(matches!(outcome, Err(RunError::OutOfFuel)), "{outcome:?}");
    host_still_runs_plugins(&sim).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_cannot_take_4_gib() {
    let (sim, outcome) = attack("memory").await;
    match outcome {
        Err(RunError::MemoryLimit { limit }) => assert_eq!(limit, 64 << 20),
        other => {
            assert_blocked(other);
        }
    }
    host_still_runs_plugins(&sim).await;
}

/// The hostile `attempt` at something its manifest does not declare is denied with `why`, and
/// nothing reaches Exchange.
async fn assert_denied_and_not_sent(attempt: &str, why: &str) {
    let (sim, outcome) = attack(attempt).await;
    let outcome = assert_blocked(outcome);
    let detail = summary(&outcome)["detail"].as_str().unwrap().to_string();
    assert!(detail.contains(why), "{detail}");
    assert_eq!((outcome.denied, outcome.cmdlet_calls), (1, 0));
    assert_eq!(invoked(&sim).await, [], "nothing reached Exchange");
    host_still_runs_plugins(&sim).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_undeclared_cmdlet_is_denied_and_not_sent() {
    assert_denied_and_not_sent("undeclared", "is not granted Set-Mailbox").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_undeclared_parameter_is_denied_and_not_sent() {
    assert_denied_and_not_sent(
        "undeclared-parameter",
        "is not granted the parameter -Filter of Get-Mailbox",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_panic_is_a_trap_with_its_message() {
    let (sim, outcome) = attack("panic").await;
    match outcome {
        Err(RunError::Trapped { message }) => {
            assert!(
                message.contains("hostile plugin panicked on purpose"),
                "{message}"
            )
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    host_still_runs_plugins(&sim).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_stdout_is_captured() {
    let (sim, outcome) = attack("stdout").await;
    let outcome = outcome.unwrap();
    assert!(
        outcome
            .captured_output
            .contains("hostile plugin writing to stdout\n"),
        "{outcome:?}"
    );
    assert!(
        outcome
            .captured_output
            .contains("hostile plugin writing to stderr\n"),
        "{outcome:?}"
    );
    host_still_runs_plugins(&sim).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_that_is_not_json_is_refused() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 5).await;
    let connection = connect(&sim, |_| {});
    let hostile = load("hostile").await;
    let (outcome, _) = run_with(&hostile, &connection, json!(null), |r| {
        r.input = "{attempt".into()
    })
    .await;
    assert!(matches!(outcome, Err(RunError::Input(_))), "{outcome:?}");
    let (outcome, _) = run(&hostile, &connection, json!({"attempt": "fly"})).await;
    assert!(
        matches!(&outcome, Err(RunError::Plugin(m)) if m.contains("unknown attempt 'fly'")),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_against_the_manifest_schema_is_refused_before_the_plugin_starts() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 5).await;
    let connection = connect(&sim, |_| {});
    let plugin = load("auto-reply").await;
    let (outcome, records) = run(
        &plugin,
        &connection,
        json!({
            "identities": ["ann@contoso.com"],
            "state": "Scheduled",
            "start_time": "tomorrow",
            "end_time": "2026-12-24T17:00:00Z",
        }),
    )
    .await;
    let Err(RunError::InputSchema {
        plugin: name,
        problems,
    }) = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(name, "auto-reply");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].pointer, "/start_time");
    assert!(problems[0].problem.contains("date-time"), "{problems:?}");
    let message = outcome.unwrap_err().to_string();
    assert!(
        message.contains("/start_time: \"tomorrow\"") && message.contains("plugin inspect"),
        "{message}"
    );
    assert!(records.is_empty());
    assert!(invoked(&sim).await.is_empty(), "nothing was sent");

    let (outcome, _) = run(
        &plugin,
        &connection,
        json!({"identities": [], "state": "Later", "mesage": "x"}),
    )
    .await;
    let Err(RunError::InputSchema { problems, .. }) = &outcome else {
        panic!("{outcome:?}")
    };
    let pointers: BTreeSet<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
    assert_eq!(
        pointers,
        BTreeSet::from(["", "/identities", "/state"]),
        "{problems:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_inside_a_plugin_outlives_its_tokens() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 1200).await;
    sim.put_control("token-lifetime", json!({"seconds": 3}))
        .await;
    sim.put_control("faults", json!({"page_latency_ms": 150}))
        .await;
    let connection = connect(&sim, |s| s.page_size = Some(50));
    let inventory = load("mailbox-inventory").await;
    let started = Instant::now();
    let (outcome, records) = run(&inventory, &connection, json!({"statistics": false})).await;
    let outcome = outcome.unwrap();
    assert!(
        started.elapsed() > Duration::from_secs(3),
        "the run lasted longer than a token lives"
    );
    assert_eq!((outcome.records, records.len()), (1200, 1200));
    let log = sim.requests().await;
    let pages = log.iter().filter(|e| e.endpoint == "invoke").count();
    assert_eq!(pages, 1200 / 50);
    assert!(
        log.iter()
            .filter(|e| e.endpoint == "invoke")
            .all(|e| e.status == 200),
        "no request was refused"
    );
    assert!(
        log.iter().filter(|e| e.endpoint == "token").count() >= pages,
        "fresh tokens as the old ones expired"
    );
}

/// Every mailbox's UserPrincipalName in the order Get-Mailbox lists them.
async fn mailbox_order(connection: &Connection) -> Vec<String> {
    let rows = connection
        .exchange()
        .invoke(
            Surface::Exchange,
            "Get-Mailbox",
            params(json!({"ResultSize": "Unlimited"})),
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| r["UserPrincipalName"].as_str().unwrap().to_string())
        .collect()
}

async fn statistics_calls(sim: &Sim) -> usize {
    invoked(sim)
        .await
        .iter()
        .filter(|(cmdlet, _)| cmdlet == "Get-MailboxStatistics")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_inventory_resumes_where_a_failed_run_stopped() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 150).await;
    let connection = connect(&sim, |s| s.page_size = Some(50));
    let order = mailbox_order(&connection).await;
    assert_eq!(order.len(), 150);
    let inventory = load("mailbox-inventory").await;
    let checkpoints = Arc::new(MemoryCheckpoints::new());
    let input = json!({"statistics": true});
    let key = CheckpointKey::new("mailbox-inventory", inventory.digest(), &input.to_string());

    // Paging cursors that expire at once (a run slower than Exchange's 30 minutes): the first
    // page is listed, then reading the second one fails the run.
    sim.put_control("faults", json!({"cursor_ttl_secs": 0}))
        .await;
    let (first, records) = run_with(&inventory, &connection, input.clone(), |r| {
        r.checkpoints = checkpoints.clone();
    })
    .await;
    assert!(
        matches!(&first, Err(RunError::Plugin(m)) if m.contains("Get-Mailbox")),
        "{first:?}"
    );
    assert_eq!(records.len(), 50);
    let cursor: Value = serde_json::from_str(&checkpoints.restore(&key).unwrap().unwrap()).unwrap();
    assert_eq!(cursor["done"], 50);

    sim.put_control("faults", json!({})).await;
    let before = statistics_calls(&sim).await;
    let (second, records) = run_with(&inventory, &connection, input.clone(), |r| {
        r.checkpoints = checkpoints.clone();
    })
    .await;
    let second = second.unwrap();
    assert_eq!(
        summary(&second),
        json!({"mailboxes": 100, "resumed_after": 50})
    );
    let listed: Vec<&str> = records
        .iter()
        .map(|r| text(r, "UserPrincipalName"))
        .collect();
    assert_eq!(listed, order[50..], "the rest, in order, each once");
    assert_eq!(
        statistics_calls(&sim).await - before,
        100,
        "no statistics for the mailboxes already listed"
    );
    assert_eq!(
        checkpoints.restore(&key).unwrap(),
        None,
        "a finished run clears its checkpoint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_inventory_starts_over_when_its_checkpoint_no_longer_fits() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 120).await;
    let connection = connect(&sim, |s| s.page_size = Some(50));
    let order = mailbox_order(&connection).await;
    let inventory = load("mailbox-inventory").await;
    let input = json!({"statistics": false});
    let key = CheckpointKey::new("mailbox-inventory", inventory.digest(), &input.to_string());
    for cursor in [
        // The 60th mailbox is no longer the one the interrupted run listed last.
        json!({"done": 60, "last": "someone-else"}).to_string(),
        // Fewer mailboxes than the interrupted run had listed.
        json!({"done": 500, "last": "x"}).to_string(),
        "not a cursor".to_string(),
    ] {
        let checkpoints = Arc::new(MemoryCheckpoints::new());
        checkpoints.save(&key, &cursor).unwrap();
        let (outcome, records) = run_with(&inventory, &connection, input.clone(), |r| {
            r.checkpoints = checkpoints.clone();
        })
        .await;
        let outcome = outcome.unwrap();
        assert_eq!(summary(&outcome), json!({"mailboxes": 120}), "{cursor}");
        let listed: Vec<&str> = records
            .iter()
            .map(|r| text(r, "UserPrincipalName"))
            .collect();
        assert_eq!(listed, order, "{cursor}");
    }
}
