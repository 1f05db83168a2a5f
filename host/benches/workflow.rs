//! Workflow benchmarks (run: `bash scripts/build-plugins.sh && cargo bench -p exorun --bench workflow`;
//! `-- fanout`, `-- mutations` or `-- synced` runs only that part).
//!
//! Syncing: the run's journal, records and audit log are synced to disk (`fdatasync`, grouped)
//! where a lost machine must not lose them. "On disk" runs keep them in a directory of the
//! target directory (the machine's real disk); "on tmpfs" runs keep them in `/dev/shm`, where a
//! sync returns at once: the same code without the cost of syncing, side by side.
//!
//! 1. Fan-out overhead: one step of 10,000 items of the trivial `echo` plugin, each emitting one
//!    record, 32 at once, every try journaled and every run audited (on disk, then on tmpfs),
//!    against the same plugin run 10,000 times on its own (`Runtime::run`: an instance from the
//!    pool and the `run` call, no journal, no audit log). Host time is the process's CPU time
//!    (user + system, `/proc/self/stat`) per item; `echo`'s own work is a few microseconds of
//!    JSON.
//! 2. Mutations under throttling: 10,000 `Set-MailboxAutoReplyConfiguration` (one `auto-reply`
//!    item per mailbox, 32 at once, journaled and audited) with 5 % of requests answered 429
//!    (`Retry-After: 1`) against the same run without faults, on a fresh emulator each; the
//!    emulator's request log must show every mailbox changed exactly once (none lost, none
//!    repeated). Twice: with the emulator answering as fast as it can (a fault-free run takes
//!    about 3 s, so one item meeting three 429s in a row adds 3 s no client honouring
//!    `Retry-After` can avoid), and with 5 ms added to each answer, still far quicker than the
//!    service. `-- mutations` runs only this part.
//! 3. Synced mutations: 10,000 `Set-MailboxAutoReplyConfiguration` as in 2, fault-free, with the
//!    run's files and the audit log on disk and on tmpfs, alternating, two runs each (`-- synced`).

// The module is shared with the other benches, which use the parts this one does not.
#[allow(dead_code)]
mod emulator;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use exorun::Connection;
use exorun::config::Settings;
use exorun::policy::Grant;
use exorun::runtime::{
    MemoryCheckpoints, NoProgress, Plugin, RunRequest, Runtime, RuntimeSettings, VecSink,
};
use exorun::workflow::fanout::{
    Item, ItemResult, OnError, Retry, RunFiles, StepEvents, StepPlan, StepResult, run_step,
};
use exorun::workflow::journal::{Journal, JournalState, RunHeader};
use exorun::workflow::slots::alive;
use serde_json::Map;

const ITEMS: usize = 10_000;

/// CPU time this process has used (user + system), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

struct Quiet;

impl StepEvents for Quiet {
    fn started(&self, _: &str, _: &str, _: usize, _: usize) {}
    fn item_ended(&self, _: &str, _: &str, _: &ItemResult) {}
    fn retrying(&self, _: &str, _: &str, _: &str, _: &str, _: Duration) {}
}

fn items() -> Vec<Item> {
    (0..ITEMS)
        .map(|i| Item {
            key: format!("item-{i}"),
            label: format!("item {i}"),
            input: format!(r#"{{"value": {i}, "records": [{{"n": {i}}}]}}"#),
        })
        .collect()
}

/// Where a run's files and its audit log are kept: on the real disk (synced) or on tmpfs
/// (a sync returns at once).
#[derive(Clone, Copy, PartialEq)]
enum Disk {
    Real,
    Tmpfs,
}

impl Disk {
    /// A new scratch directory there.
    fn scratch(self) -> tempfile::TempDir {
        match self {
            Disk::Real => tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")),
            Disk::Tmpfs => tempfile::tempdir_in("/dev/shm"),
        }
        .expect("scratch directory")
    }

    fn name(self) -> &'static str {
        match self {
            Disk::Real => "on disk",
            Disk::Tmpfs => "on tmpfs",
        }
    }
}

/// `ITEMS` runs of `plugin` one after another on their own: (wall, CPU) per run.
async fn alone(
    runtime: &Runtime,
    plugin: &Plugin,
    connection: &Connection,
) -> (Duration, Duration) {
    let (wall, cpu) = (Instant::now(), cpu_time());
    for item in items() {
        let request = RunRequest {
            input: item.input,
            config: Default::default(),
            exchange: connection.exchange().clone(),
            dry_run: false,
            journal: None,
            grant: Arc::new(Grant::from_manifest(plugin.manifest())),
            limits: plugin.default_limits(),
            sink: Arc::new(VecSink::new()),
            checkpoints: Arc::new(MemoryCheckpoints::new()),
            progress: Arc::new(NoProgress),
        };
        runtime.run(plugin, request).await.expect("echo runs");
    }
    (
        wall.elapsed() / ITEMS as u32,
        (cpu_time() - cpu) / ITEMS as u32,
    )
}

/// Runs `items` as one step of `plugin`, 32 at once, journaled in a new run directory `dir` and
/// audited through `connection`; gives the step's result.
async fn step(
    runtime: &Runtime,
    plugin: &Arc<Plugin>,
    connection: &Connection,
    dir: &Path,
    items: Vec<Item>,
) -> StepResult {
    let header = RunHeader {
        id: "bench".into(),
        workflow: "bench".into(),
        file: "bench.toml".into(),
        digest: String::new(),
        inputs: Map::new(),
        tenants: vec!["bench".into()],
        dry_run: false,
        shard: None,
        started: Utc::now(),
    };
    let journal = Arc::new(Journal::create(dir, &header).expect("journal"));
    let earlier = JournalState::read(dir).expect("journal reads");
    let plan = StepPlan {
        step: plugin.manifest().name.clone(),
        tenant: "bench".into(),
        plugin: plugin.clone(),
        grant: Arc::new(Grant::from_manifest(plugin.manifest())),
        exchange: connection.exchange().clone(),
        config: Default::default(),
        limits: plugin.default_limits(),
        dry_run: false,
        max_parallel: 32,
        retry: Retry::NONE,
        on_error: OnError::Continue,
        keep_records: false,
    };
    let files = RunFiles {
        journal: &journal,
        earlier: &earlier,
        dir,
    };
    run_step(runtime, &files, &plan, items, Arc::new(NoProgress), &Quiet)
        .await
        .expect("step")
}

/// One step of `ITEMS` items of `plugin` (see [`step`]): (wall, CPU) per item.
async fn fanned_out(
    runtime: &Runtime,
    plugin: &Arc<Plugin>,
    connection: &Connection,
    dir: &Path,
) -> (Duration, Duration) {
    let (wall, cpu) = (Instant::now(), cpu_time());
    let result = step(runtime, plugin, connection, dir, items()).await;
    let (wall, cpu) = (wall.elapsed(), cpu_time() - cpu);
    assert_eq!(result.failed(), 0);
    (wall / ITEMS as u32, cpu / ITEMS as u32)
}

/// One step of `auto-reply` over `upns` (see [`step`]): the wall time, and how many items
/// failed.
async fn mutations(
    runtime: &Runtime,
    plugin: &Arc<Plugin>,
    connection: &Connection,
    upns: &[String],
    dir: &Path,
) -> (Duration, usize) {
    let items = upns
        .iter()
        .map(|upn| Item {
            key: upn.clone(),
            label: upn.clone(),
            input: serde_json::json!({"identities": [upn], "state": "Enabled", "internal_message": "Away"}).to_string(),
        })
        .collect();
    let started = Instant::now();
    let result = step(runtime, plugin, connection, dir, items).await;
    (started.elapsed(), result.failed())
}

/// Every mailbox's UPN.
async fn mailboxes(connection: &Connection) -> Vec<String> {
    let rows = connection
        .exchange()
        .invoke(
            exorun::exchange::Surface::Exchange,
            "Get-Mailbox",
            serde_json::from_value(serde_json::json!({"ResultSize": "Unlimited"})).expect("params"),
        )
        .await
        .expect("mailboxes");
    rows.iter()
        .map(|r| r["UserPrincipalName"].as_str().expect("upn").to_string())
        .collect()
}

/// What the emulator's request log shows of a run.
struct Logged {
    /// How many times each identity was changed (answered 200).
    made: std::collections::HashMap<String, usize>,
    /// Requests answered, throttled ones included.
    requests: usize,
    /// The most 429s one item (all its requests name its mailbox) met: `Retry-After` waits
    /// one after another that no client can shorten.
    longest_chain: usize,
}

async fn logged(info: &exorun_sim::ReadyInfo) -> Logged {
    let log: Vec<exorun_sim::control::LogEntry> = emulator::minimal_client(info)
        .get(format!("{}/requests", info.control_url))
        .send()
        .await
        .expect("log")
        .json()
        .await
        .expect("log JSON");
    let identity = |entry: &exorun_sim::control::LogEntry| {
        entry
            .parameters
            .as_ref()
            .and_then(|p| p["Identity"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let mut made = std::collections::HashMap::new();
    let mut throttled = std::collections::HashMap::new();
    for entry in log.iter().filter(|e| e.endpoint == "invoke") {
        if entry.status == 429 {
            *throttled.entry(identity(entry)).or_insert(0) += 1;
        } else if entry.status == 200
            && entry.cmdlet.as_deref() == Some("Set-MailboxAutoReplyConfiguration")
        {
            *made.entry(identity(entry)).or_insert(0) += 1;
        }
    }
    Logged {
        made,
        requests: log.iter().filter(|e| e.endpoint == "invoke").count(),
        longest_chain: throttled.values().copied().max().unwrap_or(0),
    }
}

/// Part 2: 10,000 changes with and without 5 % 429s, each on a fresh emulator answering each
/// request after `latency_ms` more.
fn throttled_mutations(latency_ms: u64) {
    let mut rows = Vec::new();
    for (label, throttle) in [
        ("no faults", 0.0),
        ("5% 429 (Retry-After 1 s)", 0.05),
        ("no faults", 0.0),
        ("5% 429 (Retry-After 1 s)", 0.05),
    ] {
        rows.push(one_mutation_run(label, throttle, latency_ms, Disk::Real));
    }
    println!(
        "Mutations under throttling: 10,000 auto-reply changes, 32 at once, journaled + audited, {latency_ms} ms added to each response (fresh emulator each, alternating):"
    );
    let clean: Vec<&Row> = rows.iter().filter(|r| r.label == "no faults").collect();
    let base = clean.iter().map(|r| r.took).sum::<Duration>() / clean.len() as u32;
    for row in &rows {
        println!(
            "  {:<26} {:>6.2} s  {:.2}x   {} requests, the most 429s one item met: {} (1 s each, one after another)   failed {}, changed exactly once {}/{}, repeated {}   target ≤ 1.3x, none lost or repeated",
            row.label,
            row.took.as_secs_f64(),
            row.took.as_secs_f64() / base.as_secs_f64(),
            row.requests,
            row.chain,
            row.failed,
            row.once,
            row.total,
            row.repeated
        );
    }
}

/// Part 3: 10,000 changes, fault-free, the run's files and the audit log on disk and on
/// tmpfs, alternating.
fn synced_mutations() {
    let rows: Vec<(Disk, Row)> = [Disk::Real, Disk::Tmpfs, Disk::Real, Disk::Tmpfs]
        .into_iter()
        .map(|disk| (disk, one_mutation_run("no faults", 0.0, 0, disk)))
        .collect();
    println!(
        "Synced mutations: 10,000 auto-reply changes, 32 at once, journaled + audited, fault-free (fresh emulator each, alternating):"
    );
    let tmpfs: Vec<Duration> = rows
        .iter()
        .filter(|(disk, _)| *disk == Disk::Tmpfs)
        .map(|(_, row)| row.took)
        .collect();
    let base = tmpfs.iter().sum::<Duration>() / tmpfs.len() as u32;
    for (disk, row) in &rows {
        println!(
            "  {:<9} {:>6.2} s  {:.2}x the mean on tmpfs   failed {}, changed exactly once {}/{}, repeated {}",
            disk.name(),
            row.took.as_secs_f64(),
            row.took.as_secs_f64() / base.as_secs_f64(),
            row.failed,
            row.once,
            row.total,
            row.repeated
        );
    }
}

/// One run of 10,000 changes on a fresh emulator (`throttle` of its requests answered 429,
/// `latency_ms` added to each answer), the run's files and audit log on `disk`.
fn one_mutation_run(label: &'static str, throttle: f64, latency_ms: u64, disk: Disk) -> Row {
    let emulator = emulator::start(10_000);
    let (tokio, _, _) = emulator::sign_in(&emulator.info);
    let scratch = disk.scratch();
    let connection = Connection::open(Settings {
        audit_log: Some(scratch.path().join("audit.jsonl")),
        ..emulator::settings(&emulator.info)
    })
    .expect("connection");
    let (took, failed, logged, upns) = tokio.block_on(async {
        let runtime = Runtime::new(RuntimeSettings {
            cache_dir: None,
            max_concurrent_runs: alive(32) as u32,
            ..RuntimeSettings::default()
        })
        .expect("runtime");
        let plugin = runtime
            .load(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins/auto-reply.wasm"),
            )
            .await
            .expect("auto-reply is built: bash scripts/build-plugins.sh");
        let upns = mailboxes(&connection).await;
        let http = emulator::minimal_client(&emulator.info);
        http.delete(format!("{}/requests", emulator.info.control_url))
            .send()
            .await
            .expect("clear log");
        http.put(format!("{}/faults", emulator.info.control_url))
            .json(&serde_json::json!({"throttle_rate": throttle, "retry_after": 1.0, "page_latency_ms": latency_ms}))
            .send()
            .await
            .expect("faults");
        let (took, failed) = mutations(
            &runtime,
            &plugin,
            &connection,
            &upns,
            &scratch.path().join("run"),
        )
        .await;
        (took, failed, logged(&emulator.info).await, upns)
    });
    let once = upns
        .iter()
        .filter(|u| logged.made.get(*u) == Some(&1))
        .count();
    let repeated = logged.made.values().filter(|&&n| n > 1).count();
    Row {
        label,
        took,
        failed,
        once,
        repeated,
        total: upns.len(),
        requests: logged.requests,
        chain: logged.longest_chain,
    }
}

/// One run of part 2.
struct Row {
    label: &'static str,
    took: Duration,
    failed: usize,
    once: usize,
    repeated: usize,
    total: usize,
    requests: usize,
    chain: usize,
}

fn main() {
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs = |part: &str| chosen.is_empty() || chosen.iter().any(|c| c == part);
    if runs("mutations") {
        // The emulator as fast as it goes, then closer to the service's own latency.
        throttled_mutations(0);
        throttled_mutations(5);
    }
    if runs("synced") {
        synced_mutations();
    }
    if !runs("fanout") {
        return;
    }
    let emulator = emulator::start(100);
    let (tokio, _, _) = emulator::sign_in(&emulator.info);
    let (real, tmpfs) = (Disk::Real.scratch(), Disk::Tmpfs.scratch());
    let audited = |scratch: &tempfile::TempDir| {
        Connection::open(Settings {
            audit_log: Some(scratch.path().join("audit.jsonl")),
            ..emulator::settings(&emulator.info)
        })
        .expect("connection")
    };
    let (on_disk, on_tmpfs) = (audited(&real), audited(&tmpfs));
    let bare = Connection::open(emulator::settings(&emulator.info)).expect("connection");
    tokio.block_on(async {
        let runtime = Runtime::new(RuntimeSettings { cache_dir: None, max_concurrent_runs: 32, ..RuntimeSettings::default() }).expect("runtime");
        let echo = runtime
            .load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins/echo.wasm"))
            .await
            .expect("echo is built: bash scripts/build-plugins.sh");
        // A warm-up of each, then the measured rounds, interleaved.
        let _ = alone(&runtime, &echo, &bare).await;
        let _ = fanned_out(&runtime, &echo, &on_disk, &real.path().join("warm-up")).await;
        let _ = fanned_out(&runtime, &echo, &on_tmpfs, &tmpfs.path().join("warm-up")).await;
        let mut rounds = Vec::new();
        for round in 0..3 {
            let base = alone(&runtime, &echo, &bare).await;
            let disk = fanned_out(&runtime, &echo, &on_disk, &real.path().join(format!("run-{round}"))).await;
            let shm = fanned_out(&runtime, &echo, &on_tmpfs, &tmpfs.path().join(format!("run-{round}"))).await;
            rounds.push((base, disk, shm));
        }
        println!("Fan-out: {ITEMS} items of the echo plugin, one record each (3 rounds, interleaved; CPU = process user+system time; µs per item):");
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        for ((base_wall, base_cpu), (disk_wall, disk_cpu), (shm_wall, shm_cpu)) in rounds {
            println!(
                "  alone (Runtime::run, one at a time) {:>6.1} wall {:>6.1} CPU | step, 32 at once, journaled + audited: on disk {:>6.1} wall {:>6.1} CPU, on tmpfs {:>6.1} wall {:>6.1} CPU ({:.2}x CPU on disk)   target ≤ 50 µs host time",
                us(base_wall),
                us(base_cpu),
                us(disk_wall),
                us(disk_cpu),
                us(shm_wall),
                us(shm_cpu),
                disk_cpu.as_secs_f64() / shm_cpu.as_secs_f64()
            );
        }
    });
}
