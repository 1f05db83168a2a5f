//! Workflow benchmarks (run: `bash scripts/build-plugins.sh && cargo bench -p exorun --bench workflow`;
//! `-- fanout` runs only that part).
//!
//! 1. Fan-out overhead: one step of 10,000 items of the trivial `echo` plugin, 32 at once, every
//!    try journaled and every run audited, against the same plugin run 10,000 times on its own
//!    (`Runtime::run`: an instance from the pool and the `run` call, no journal, no audit log).
//!    Host time is the process's CPU time (user + system, `/proc/self/stat`) per item; `echo`'s
//!    own work is a few microseconds of JSON.

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
    Item, ItemResult, OnError, Retry, RunFiles, StepEvents, StepPlan, run_step,
};
use exorun::workflow::journal::{Journal, JournalState, RunHeader};
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
            input: format!(r#"{{"value": {i}}}"#),
        })
        .collect()
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

/// One step of `ITEMS` items of `plugin`, 32 at once, journaled in `dir` and audited through
/// `connection`: (wall, CPU) per item.
async fn fanned_out(
    runtime: &Runtime,
    plugin: &Arc<Plugin>,
    connection: &Connection,
    dir: &Path,
) -> (Duration, Duration) {
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
        step: "echo".into(),
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
    let (wall, cpu) = (Instant::now(), cpu_time());
    let result = run_step(
        runtime,
        &files,
        &plan,
        items(),
        Arc::new(NoProgress),
        &Quiet,
    )
    .await
    .expect("step");
    let (wall, cpu) = (wall.elapsed(), cpu_time() - cpu);
    assert_eq!(result.failed(), 0);
    (wall / ITEMS as u32, cpu / ITEMS as u32)
}

fn main() {
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs = |part: &str| chosen.is_empty() || chosen.iter().any(|c| c == part);
    let emulator = emulator::start(100);
    let (tokio, _, _) = emulator::sign_in(&emulator.info);
    let scratch = tempfile::tempdir().expect("scratch");
    let audited = Connection::open(Settings {
        audit_log: Some(scratch.path().join("audit.jsonl")),
        ..emulator::settings(&emulator.info)
    })
    .expect("connection");
    let bare = Connection::open(emulator::settings(&emulator.info)).expect("connection");
    tokio.block_on(async {
        let runtime = Runtime::new(RuntimeSettings { cache_dir: None, max_concurrent_runs: 32, ..RuntimeSettings::default() }).expect("runtime");
        let echo = runtime
            .load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins/echo.wasm"))
            .await
            .expect("echo is built: bash scripts/build-plugins.sh");
        if runs("fanout") {
            // A warm-up of each, then the measured rounds, interleaved.
            let _ = alone(&runtime, &echo, &bare).await;
            let _ = fanned_out(&runtime, &echo, &audited, &scratch.path().join("warm-up")).await;
            let mut rounds = Vec::new();
            for round in 0..3 {
                let base = alone(&runtime, &echo, &bare).await;
                let fan = fanned_out(&runtime, &echo, &audited, &scratch.path().join(format!("run-{round}"))).await;
                rounds.push((base, fan));
            }
            println!("Fan-out: {ITEMS} items of the echo plugin (3 rounds, interleaved; CPU = process user+system time):");
            for ((base_wall, base_cpu), (fan_wall, fan_cpu)) in rounds {
                println!(
                    "  alone (Runtime::run, one at a time) {:>6.1} µs wall {:>6.1} µs CPU | step, 32 at once, journaled + audited {:>6.1} µs wall {:>6.1} µs CPU per item   target ≤ 50 µs host time",
                    base_wall.as_secs_f64() * 1e6,
                    base_cpu.as_secs_f64() * 1e6,
                    fan_wall.as_secs_f64() * 1e6,
                    fan_cpu.as_secs_f64() * 1e6
                );
            }
        }
    });
}
