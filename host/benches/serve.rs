//! `exorun serve` benchmarks (run: `bash scripts/build-plugins.sh --no-python && cargo bench -p
//! exorun --bench serve`; `-- A` after it runs only A, and so on). The service is the release
//! binary on a Unix socket with SQLite in a temp dir, against an emulator running in this
//! process on its own threads; each figure has its baseline measured in the same run.
//!
//! A. One auto-reply run for one mailbox through the service, submitted and awaited by the
//!    command-line client (`exorun run --server unix:…`), against the same `exorun run` run
//!    locally (the compiled plugin cached for both). Target ≤ 1.2×.
//! B. 1,000 one-call runs submitted over the socket (16 requests in flight): submits a second
//!    (target ≥ 500); then drained by the workers: the service's overhead per run is the
//!    workers' wall time not spent inside a run (claim, state writes, events), per run:
//!    (wall × workers − Σ run durations) / runs. Target ≤ 2 ms.
//! C. 200 clients following one run's live event stream (SSE) while it runs: the service's
//!    resident memory at its peak against before (target ≤ 150 MB), and every client gets
//!    every event.

// The module is shared with the other benches, which use the parts this one does not.
#[allow(dead_code)]
mod emulator;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use exorun_sim::ReadyInfo;
use serde_json::{Value, json};

use emulator::{median, plugin, timed};

/// Runs behind each median of A.
const STARTS: usize = 21;
/// Runs of B.
const QUEUED: usize = 1000;
/// Event-stream followers of C.
const FOLLOWERS: usize = 200;
/// Mailboxes of the emulator (C lists them all).
const MAILBOXES: usize = 20_000;
/// The service's workers.
const WORKERS: usize = 4;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A running `exorun serve`; killed when dropped.
struct Served {
    child: Child,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// The service's resident memory now, in bytes.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }

    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .unix_socket(self.socket.clone())
            .build()
            .expect("client")
    }
}

/// The name of the user this runs as: the service's caller.
fn me() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .expect("user database")
        .expect("a user")
        .name
}

/// Starts `exorun serve` with the admin app's profile, a store of auto-reply and
/// mailbox-inventory, the policy `exorun policy init` writes for them and a caller rule for
/// this user.
fn serve(info: &ReadyInfo) -> Served {
    let dir = tempfile::tempdir().expect("tempdir");
    let admin = info.app("exorun-admin").expect("admin app");
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "default_profile = \"admin\"\n[profiles.admin]\napp_id = \"{}\"\norganization = \"{}\"\ncertificate_path = \"{}\"\ncertificate_password_file = \"{}\"\nauthority = \"{base}\"\nexchange_url = \"{base}\"\ncompliance_url = \"{base}/compliance\"\nca_file = \"{}\"\n",
            admin.client_id,
            info.tenant_domain,
            admin.pfx.as_ref().expect("pfx").display(),
            admin.pfx_password_file.as_ref().expect("password").display(),
            info.ca_file.display(),
            base = info.base_url,
        ),
    )
    .expect("config");
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).expect("store");
    let mut init = Command::new(env!("CARGO_BIN_EXE_exorun"));
    init.args(["policy", "init"]);
    for name in ["auto-reply", "mailbox-inventory"] {
        std::fs::copy(plugin(name), store.join(format!("{name}.wasm"))).expect("copy");
        init.arg(plugin(name));
    }
    let policy = init.output().expect("policy init");
    assert!(policy.status.success(), "policy init failed");
    let mut policy = String::from_utf8(policy.stdout).expect("policy text");
    policy.push_str(&format!(
        "\n[[caller]]\nname = \"bench\"\nwho = [\"unix-user:{}\"]\nplugins = [\"auto-reply\", \"mailbox-inventory\"]\n[caller.inputs]\nidentities = {{}}\nstate = {{}}\ninternal_message = {{}}\nstatistics = {{}}\n",
        me()
    ));
    std::fs::write(dir.path().join("policy.toml"), policy).expect("policy");
    std::fs::write(
        dir.path().join("serve.toml"),
        format!("config = \"config.toml\"\npolicy = \"policy.toml\"\nplugins = \"store\"\naudit_log = \"audit.jsonl\"\nstate_dir = \"state\"\nsocket = \"exorun.sock\"\nworkers = {WORKERS}\n"),
    )
    .expect("serve.toml");
    let socket = dir.path().join("exorun.sock");
    let child = Command::new(env!("CARGO_BIN_EXE_exorun"))
        .args(["serve", "--config"])
        .arg(dir.path().join("serve.toml"))
        .env("HOME", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("exorun serve starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "exorun serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Served { child, socket, dir }
}

/// Waits for run `id` to end; gives it.
async fn ended(client: &reqwest::Client, id: &str) -> Value {
    loop {
        let run: Value = client
            .get(format!("http://exorun/api/v1/runs/{id}"))
            .send()
            .await
            .expect("run")
            .json()
            .await
            .expect("json");
        if !matches!(run["state"].as_str(), Some("queued" | "running")) {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A: a run through the service's client vs the same run locally.
fn through_the_service(info: &ReadyInfo, served: &Served, identity: &str) {
    let input = json!({"identities": [identity], "state": "Enabled", "internal_message": "Away"})
        .to_string();
    let cache = tempfile::tempdir().expect("cache");
    let policy = served.dir.path().join("policy.toml");
    let local = || {
        let mut command = emulator::exorun(info);
        command
            .arg("run")
            .arg(plugin("auto-reply"))
            .args(["--input", &input, "--output", "jsonl", "--cache-dir"])
            .arg(cache.path())
            .arg("--checkpoint-dir")
            .arg(cache.path())
            .arg("--policy")
            .arg(&policy);
        command
    };
    let remote = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_exorun"));
        command
            .args(["run", "auto-reply", "--input", &input, "--output", "jsonl"])
            .arg("--server")
            .arg(format!("unix:{}", served.socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    };
    timed(&mut local());
    timed(&mut remote());
    let (mut locally, mut served_runs) = (Vec::new(), Vec::new());
    for _ in 0..STARTS {
        locally.push(timed(&mut local()));
        served_runs.push(timed(&mut remote()));
    }
    let (locally, served_runs) = (median(locally), median(served_runs));
    println!("A. One auto-reply run for one mailbox, process start to result, median of {STARTS}:");
    println!(
        "  exorun run (local, compiled plugin cached)            {:>7.1} ms  1.00",
        ms(locally)
    );
    println!(
        "  exorun run --server unix:… (submitted and awaited)    {:>7.1} ms  {:.2}x   target ≤ 1.2x",
        ms(served_runs),
        served_runs.as_secs_f64() / locally.as_secs_f64()
    );
}

/// B: 1,000 runs submitted, then drained.
async fn queued_runs(served: &Served, identities: &[String]) {
    let client = served.client();
    let started = Instant::now();
    let submits = identities.iter().map(|identity| {
        let client = client.clone();
        let body = json!({"plugin": "auto-reply", "input": {"identities": [identity], "state": "Enabled"}});
        async move {
            let response = client
                .post("http://exorun/api/v1/runs")
                .json(&body)
                .send()
                .await
                .expect("submit");
            assert_eq!(response.status().as_u16(), 202);
            let run: Value = response.json().await.expect("json");
            run["id"].as_str().expect("id").to_string()
        }
    });
    let ids: Vec<String> = futures::StreamExt::collect(futures::StreamExt::buffer_unordered(
        futures::stream::iter(submits),
        16,
    ))
    .await;
    let submitted = started.elapsed();
    let mut spent = 0i64;
    let mut last_end = 0i64;
    let mut first_start = i64::MAX;
    for id in &ids {
        let run = ended(&client, id).await;
        assert_eq!(run["state"], "succeeded", "{run}");
        let (start, end) = (
            run["started_at"].as_i64().expect("started"),
            run["ended_at"].as_i64().expect("ended"),
        );
        spent += end - start;
        first_start = first_start.min(start);
        last_end = last_end.max(end);
    }
    let drained = started.elapsed();
    let wall = i64::try_from(drained.as_millis()).unwrap_or(i64::MAX);
    let worker_ms = wall * i64::try_from(WORKERS).unwrap_or(1);
    let overhead = (worker_ms - spent) as f64 / QUEUED as f64;
    println!("B. {QUEUED} one-call auto-reply runs, {WORKERS} workers, SQLite:");
    println!(
        "  submitted (16 requests in flight)         {:>8.0} ms  {:>6.0} runs/s   target ≥ 500/s",
        ms(submitted),
        QUEUED as f64 / submitted.as_secs_f64()
    );
    println!(
        "  drained (from the first submit)           {:>8.0} ms  runs' own time {:.1} ms each",
        ms(drained),
        spent as f64 / QUEUED as f64
    );
    println!(
        "  service overhead per run                  {:>8.2} ms                  target ≤ 2 ms",
        overhead
    );
    println!("  (first start to last end {} ms)", last_end - first_start);
}

/// C: 200 followers of one run's live event stream.
async fn followers(served: &Served) {
    let client = served.client();
    let before = served.rss();
    let run: Value = client
        .post("http://exorun/api/v1/runs")
        .json(&json!({"plugin": "mailbox-inventory", "input": {"statistics": false}}))
        .send()
        .await
        .expect("submit")
        .json()
        .await
        .expect("json");
    let id = run["id"].as_str().expect("id").to_string();
    let follow = |_| {
        let client = client.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let mut response = client
                .get(format!("http://exorun/api/v1/runs/{id}/events"))
                .header("accept", "text/event-stream")
                .send()
                .await
                .expect("stream");
            let mut text = String::new();
            while let Some(chunk) = response.chunk().await.expect("chunk") {
                text.push_str(&String::from_utf8_lossy(&chunk));
                if text.contains("event: end") {
                    break;
                }
            }
            text.lines().filter(|l| l.starts_with("id:")).count()
        })
    };
    let handles: Vec<_> = (0..FOLLOWERS).map(follow).collect();
    let mut peak = before;
    let watching = async {
        loop {
            peak = peak.max(served.rss());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let counts = tokio::select! {
        counts = futures::future::join_all(handles) => counts,
        () = watching => unreachable!(),
    };
    let events: Value = client
        .get(format!("http://exorun/api/v1/runs/{id}/events"))
        .send()
        .await
        .expect("events")
        .json()
        .await
        .expect("json");
    let total = events["events"].as_array().map_or(0, Vec::len);
    let complete = counts
        .iter()
        .filter(|c| c.as_ref().is_ok_and(|n| *n == total))
        .count();
    let mb = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "C. {FOLLOWERS} clients following one run's live events (inventory of {MAILBOXES} mailboxes, {total} events):"
    );
    println!(
        "  service RSS before {:>6.1} MB, peak {:>6.1} MB   target ≤ 150 MB",
        mb(before),
        mb(peak)
    );
    println!("  clients that got every event: {complete} of {FOLLOWERS}");
}

fn main() {
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |section: &str| only.as_deref().is_none_or(|o| o == section);
    let emulator = emulator::start(MAILBOXES);
    let info = &emulator.info;
    let (runtime, connection, _) = emulator::sign_in(info);
    let identities: Vec<String> = runtime
        .block_on(
            connection.exchange().invoke(
                exorun::exchange::Surface::Exchange,
                "Get-Mailbox",
                json!({"ResultSize": QUEUED + 1})
                    .as_object()
                    .expect("object")
                    .clone(),
            ),
        )
        .expect("mailboxes")
        .iter()
        .map(|m| m["UserPrincipalName"].as_str().expect("upn").to_string())
        .collect();
    let served = serve(info);
    if wanted("A") {
        through_the_service(info, &served, &identities[QUEUED]);
    }
    if wanted("B") {
        runtime.block_on(queued_runs(&served, &identities[..QUEUED]));
    }
    if wanted("C") {
        runtime.block_on(followers(&served));
    }
}
