//! One workflow step fanned out over items against the emulator, with the real auto-reply
//! plugin: bounded concurrency, every try journaled, a resumed run that runs nothing finished
//! again (the emulator's request log shows no change sent twice), `on_error = "fail"`, a
//! throttled item that lets its siblings work while it waits, no more items sending at once
//! than `max_parallel` says, and an item whose plugin says a unit of its work failed retried
//! with only the change not made sent again.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::Utc;
use exorun::Connection;
use exorun::policy::Grant;
use exorun::runtime::{NoProgress, Plugin, Runtime, RuntimeSettings};
use exorun::workflow::fanout::{
    Item, ItemResult, OnError, Retry, RunFiles, StepEvents, StepPlan, StepResult, run_step,
};
use exorun::workflow::journal::{ItemOutcome, Journal, JournalState, RunHeader};
use exorun::workflow::slots::Waits;
use serde_json::{Map, json};

use crate::support::{Sim, artifact, start_with};

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::new(RuntimeSettings {
            cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("runtime-cache")),
            max_concurrent_runs: 4,
            ..RuntimeSettings::default()
        })
        .unwrap()
    })
}

/// What the events said, in order.
#[derive(Default)]
struct Heard(Mutex<Vec<String>>);

impl StepEvents for Heard {
    fn started(&self, step: &str, _: &str, total: usize, done: usize) {
        self.push(format!("{step}: {total} items, {done} done before"));
    }
    fn item_ended(&self, _: &str, _: &str, item: &ItemResult) {
        self.push(format!("{}: {:?}", item.label, item.outcome));
    }
    fn retrying(&self, _: &str, _: &str, label: &str, _: &str, _: Duration) {
        self.push(format!("{label}: retrying"));
    }
    fn throttled(&self, step: &str, _: &str, waits: Waits) {
        self.push(format!(
            "{step}: throttled {}, {} waiting",
            waits.throttled, waits.waiting
        ));
    }
}

impl Heard {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
}

fn plan(plugin: Arc<Plugin>, connection: &Connection, on_error: OnError) -> StepPlan {
    StepPlan {
        step: "auto-reply".into(),
        tenant: "contoso".into(),
        grant: Arc::new(Grant::from_manifest(plugin.manifest())),
        limits: plugin.default_limits(),
        plugin,
        exchange: connection.exchange().clone(),
        config: Default::default(),
        dry_run: false,
        max_parallel: 3,
        retry: Retry::NONE,
        on_error,
        keep_records: true,
    }
}

fn header() -> RunHeader {
    RunHeader {
        id: "run-1".into(),
        workflow: "test".into(),
        file: "test.toml".into(),
        digest: String::new(),
        inputs: Map::new(),
        tenants: vec!["contoso".into()],
        dry_run: false,
        shard: None,
        started: Utc::now(),
    }
}

fn item(upn: &str) -> Item {
    Item {
        key: upn.to_string(),
        label: upn.to_string(),
        input: json!({"identities": [upn], "state": "Enabled", "internal_message": "Away"})
            .to_string(),
    }
}

/// One item per UPN.
fn items_of(upns: &[String]) -> Vec<Item> {
    upns.iter().map(|u| item(u)).collect()
}

async fn mailboxes(connection: &Connection, n: usize) -> Vec<String> {
    let rows = connection
        .exchange()
        .invoke(
            exorun::exchange::Surface::Exchange,
            "Get-Mailbox",
            json!({"ResultSize": n}).as_object().unwrap().clone(),
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| r["UserPrincipalName"].as_str().unwrap().to_string())
        .collect()
}

async fn sets(sim: &Sim) -> Vec<String> {
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

async fn step(
    dir: &Path,
    journal: &Arc<Journal>,
    plan: &StepPlan,
    items: Vec<Item>,
    heard: &Heard,
) -> StepResult {
    let earlier = JournalState::read(dir).unwrap();
    let files = RunFiles {
        journal,
        earlier: &earlier,
        dir,
    };
    run_step(runtime(), &files, plan, items, Arc::new(NoProgress), heard)
        .await
        .unwrap()
}

/// An emulator with `mailboxes` mailboxes, the auto-reply step against it, the UPNs of the
/// first `n`, and a new run (its directory and journal).
struct Setup {
    sim: Sim,
    connection: Connection,
    plan: StepPlan,
    upns: Vec<String>,
    run: std::path::PathBuf,
    journal: Arc<Journal>,
}

async fn setup(mailboxes_in_tenant: usize, n: usize) -> Setup {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = mailboxes_in_tenant).await;
    let connection = Connection::open(sim.secret_settings("exorun-admin")).unwrap();
    let plugin = runtime().load(artifact("auto-reply")).await.unwrap();
    let upns = mailboxes(&connection, n).await;
    let run = sim.dir.path().join("runs/run-1");
    let journal = Arc::new(Journal::create(&run, &header()).unwrap());
    let plan = plan(plugin, &connection, OnError::Continue);
    Setup {
        sim,
        connection,
        plan,
        upns,
        run,
        journal,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_run_once_each_and_a_resumed_step_runs_nothing_finished_again() {
    let Setup {
        sim,
        connection,
        plan,
        upns,
        run,
        journal,
    } = setup(12, 6).await;
    let heard = Heard::default();

    let first = step(&run, &journal, &plan, items_of(&upns), &heard).await;
    assert_eq!(first.count(ItemOutcome::Succeeded), 6, "{first:?}");
    assert!(first.items.iter().all(|i| i.tries == 1 && i.records == 1));
    assert_eq!(
        first
            .items
            .iter()
            .map(|i| i.label.as_str())
            .collect::<Vec<_>>(),
        upns.iter().map(String::as_str).collect::<Vec<_>>(),
        "results come back in the items' order"
    );
    let mut sent = sets(&sim).await;
    sent.sort();
    let mut expected = upns.clone();
    expected.sort();
    assert_eq!(sent, expected, "each change sent once");

    // Resumed with two more items: the six finished ones are not run again, their output and
    // records come from the journal and the records file.
    let more = mailboxes(&connection, 8).await;
    let again = step(&run, &journal, &plan, items_of(&more), &heard).await;
    assert_eq!(again.count(ItemOutcome::Succeeded), 8);
    assert_eq!(again.items.iter().filter(|i| i.tries == 0).count(), 6);
    assert!(
        again
            .items
            .iter()
            .all(|i| i.kept.len() == 1 && i.output.is_some()),
        "{again:?}"
    );
    assert_eq!(
        sets(&sim).await.len(),
        8,
        "only the two new items sent changes"
    );
    assert!(
        heard
            .0
            .lock()
            .unwrap()
            .contains(&"auto-reply: 8 items, 6 done before".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_error_fail_starts_no_further_item_and_continue_runs_them_all() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 6).await;
    let connection = Connection::open(sim.secret_settings("exorun-admin")).unwrap();
    let plugin = runtime().load(artifact("auto-reply")).await.unwrap();
    let upns = mailboxes(&connection, 3).await;
    let broken = Item {
        key: "broken".into(),
        label: "broken".into(),
        input: json!({"identities": "not a list"}).to_string(),
    };
    let items = || {
        vec![
            item(&upns[0]),
            broken.clone(),
            item(&upns[1]),
            item(&upns[2]),
        ]
    };
    for (on_error, run_id) in [(OnError::Fail, "fail"), (OnError::Continue, "continue")] {
        let run = sim.dir.path().join("runs").join(run_id);
        let journal = Arc::new(Journal::create(&run, &header()).unwrap());
        let mut plan = plan(plugin.clone(), &connection, on_error);
        plan.max_parallel = 1;
        plan.retry = Retry {
            attempts: 3,
            backoff: Duration::from_millis(1),
        };
        let heard = Heard::default();
        let result = step(&run, &journal, &plan, items(), &heard).await;
        let outcomes: Vec<ItemOutcome> = result.items.iter().map(|i| i.outcome).collect();
        let broken = &result.items[1];
        assert_eq!(broken.tries, 1, "a refused input is not tried again");
        assert!(
            broken.error.as_deref().unwrap().contains("identities"),
            "{broken:?}"
        );
        match on_error {
            OnError::Fail => {
                assert!(result.stopped);
                assert_eq!(
                    outcomes,
                    [
                        ItemOutcome::Succeeded,
                        ItemOutcome::Failed,
                        ItemOutcome::Skipped,
                        ItemOutcome::Skipped
                    ]
                );
                assert!(
                    result.items[3]
                        .error
                        .as_deref()
                        .unwrap()
                        .contains("not started")
                );
            }
            OnError::Continue => {
                assert!(!result.stopped);
                assert_eq!(result.count(ItemOutcome::Succeeded), 3);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_item_lends_its_slot_to_its_siblings_while_it_waits() {
    let Setup {
        sim,
        mut plan,
        upns,
        run,
        journal,
        ..
    } = setup(6, 4).await;
    plan.max_parallel = 1;
    let heard = Heard::default();
    // The first item's first request is answered 429 with a two-second Retry-After.
    sim.put_control(
        "faults",
        json!({"script": ["throttle"], "retry_after": 2.0}),
    )
    .await;

    let result = step(&run, &journal, &plan, items_of(&upns), &heard).await;

    assert_eq!(result.count(ItemOutcome::Succeeded), 4, "{result:?}");
    assert!(result.items.iter().all(|i| i.tries == 1), "{result:?}");
    let mut expected = upns[1..].to_vec();
    expected.push(upns[0].clone());
    let made: Vec<String> = sim
        .requests()
        .await
        .into_iter()
        .filter(|e| {
            e.status == 200 && e.cmdlet.as_deref() == Some("Set-MailboxAutoReplyConfiguration")
        })
        .map(|e| {
            e.parameters.unwrap()["Identity"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        made, expected,
        "with one slot, the other three items ran while the first waited out its Retry-After"
    );
    let heard = heard.0.lock().unwrap();
    assert!(
        heard.contains(&"auto-reply: throttled 1, 1 waiting".to_string()),
        "the wait is shown while it lasts: {heard:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_than_max_parallel_items_send_at_once() {
    // The emulator refuses a third request in flight for the tenant (Exchange's concurrency
    // 429) and holds each one 30 ms; the client alone would send four at once.
    for (max_parallel, refused) in [(2, false), (4, true)] {
        let Setup {
            sim,
            mut plan,
            upns,
            run,
            journal,
            ..
        } = setup(8, 8).await;
        assert_eq!(plan.exchange.settings().max_concurrency, 4);
        plan.max_parallel = max_parallel;
        sim.put_control("throttle", json!({"tenant_concurrency": 2}))
            .await;
        sim.put_control("faults", json!({"page_latency_ms": 30}))
            .await;

        let result = step(&run, &journal, &plan, items_of(&upns), &Heard::default()).await;

        assert_eq!(result.count(ItemOutcome::Succeeded), 8, "{result:?}");
        let concurrency_429s = sim
            .requests()
            .await
            .iter()
            .filter(|e| e.endpoint == "invoke" && e.status == 429)
            .count();
        assert_eq!(
            concurrency_429s > 0,
            refused,
            "max_parallel = {max_parallel}: {concurrency_429s} requests over the tenant's two"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_whose_plugin_says_a_unit_failed_is_retried_and_sends_only_what_was_not_made() {
    let Setup {
        sim,
        mut plan,
        upns,
        run,
        journal,
        ..
    } = setup(4, 2).await;
    plan.retry = Retry {
        attempts: 2,
        backoff: Duration::from_millis(1),
    };
    let heard = Heard::default();
    // One item changes two mailboxes; the first change's answer is cut, so it may or may not
    // have been made: auto-reply counts it failed and goes on with the second.
    sim.put_control("faults", json!({"script": ["drop"]})).await;
    let both = Item {
        key: "both".into(),
        label: "both".into(),
        input: json!({"identities": upns, "state": "Enabled"}).to_string(),
    };

    let result = step(&run, &journal, &plan, vec![both], &heard).await;

    let item = &result.items[0];
    assert_eq!(item.outcome, ItemOutcome::Succeeded, "{item:?}");
    assert_eq!(
        item.tries, 2,
        "the partial failure was tried again: {item:?}"
    );
    assert!(
        heard
            .0
            .lock()
            .unwrap()
            .contains(&"both: retrying".to_string())
    );
    assert_eq!(
        sets(&sim).await,
        [upns[0].clone(), upns[1].clone(), upns[0].clone()],
        "the retry sent the failed change again, not the one made"
    );
}
