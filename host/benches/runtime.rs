//! Plugin runtime benchmarks (run: `bash scripts/build-plugins.sh && cargo build --release -p exorun -p exorun-sim && cargo bench -p exorun --bench runtime`;
//! `-- small` after it runs only that part: load, warm, small, big).
//!
//! 1. Loading a plugin from the disk cache vs compiling it (the Rust and the Python plugin).
//! 2. Warm instantiation: a fresh store and instance from the prepared `InstancePre` (pooling
//!    allocator), as `Runtime::check` does; then a whole warm run (instance plus a minimal `run`
//!    call).
//! 3. One small cmdlet called from a plugin vs the same call made directly with the host's
//!    transport, same emulator, same run.
//! 4. The policy and the audit log: the same plugin runs with only its manifest's rights and no
//!    audit log vs under a policy grant with value constraints, every call written to an audit
//!    log (small cmdlets from `mailbox-permission-audit`; 1,000,000 mailboxes through
//!    `mailbox-inventory`), interleaved in one process.
//! 5. Streaming 1,000,000 mailboxes through `mailbox-inventory` (the `exorun run` process) vs
//!    `exorun invoke Get-Mailbox` (the direct transport, same process kind), with the host
//!    process's peak RSS; the emulator runs as its own process. For reference, the library's
//!    page loop in this process (rows parsed, nothing written) on the same emulator.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use exorun::Connection;
use exorun::config::{CredentialSpec, Settings};
use exorun::exchange::Surface;
use exorun::policy::{Grant, Policy, Submitted};
use exorun::runtime::{
    JsonLinesSink, LoadKind, MemoryCheckpoints, NoProgress, Plugin, RecordSink, RunRequest,
    Runtime, RuntimeSettings, VecSink,
};
use exorun::secret::SecretSource;
use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn artifact(name: &str) -> PathBuf {
    let path = workspace()
        .join("target/plugins")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/build-plugins.sh` first",
        path.display()
    );
    path
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// A running `exorun-sim` process (release build) and its ready line.
struct SimProcess {
    child: std::process::Child,
    ready: Value,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sim_process(mailboxes: usize, state: &Path) -> SimProcess {
    use std::io::BufRead;
    let binary = workspace().join("target/release/exorun-sim");
    assert!(
        binary.exists(),
        "build the emulator first: cargo build --release -p exorun-sim"
    );
    let mut child = Command::new(binary)
        .args(["--mailboxes", &mailboxes.to_string(), "--state-dir"])
        .arg(state)
        // The benches measure the host, not the service's rate limit: no round may run into it.
        .args(["--rate-burst", "1000000000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("exorun-sim starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    SimProcess {
        child,
        ready: serde_json::from_str(&line).expect("ready JSON"),
    }
}

fn admin(ready: &Value) -> &Value {
    ready["tenants"][0]["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|a| a["name"] == "exorun-admin")
        .expect("admin")
}

fn settings(ready: &Value) -> Settings {
    let app = admin(ready);
    let base = ready["base_url"].as_str().expect("base").to_string();
    Settings {
        app_id: Some(app["client_id"].as_str().expect("id").into()),
        organization: Some(ready["tenant_domain"].as_str().expect("domain").into()),
        credential: Some(CredentialSpec::CertificateFile {
            path: app["pfx"].as_str().expect("pfx").into(),
            password: Some(SecretSource::File(
                app["pfx_password_file"].as_str().expect("pw").into(),
            )),
        }),
        authority: Some(base.clone()),
        exchange_url: Some(base.clone()),
        compliance_url: Some(format!("{base}/compliance")),
        ca_file: Some(ready["ca_file"].as_str().expect("ca").into()),
        ..Settings::default()
    }
}

async fn load_vs_compile(name: &str) {
    let cache = tempfile::tempdir().expect("cache dir");
    let settings = RuntimeSettings {
        cache_dir: Some(cache.path().to_path_buf()),
        ..RuntimeSettings::default()
    };
    let started = Instant::now();
    let first = Runtime::new(settings.clone())
        .expect("runtime")
        .load(artifact(name).as_path())
        .await
        .expect("load");
    let compile = started.elapsed();
    assert_eq!(first.loaded(), LoadKind::Compiled);
    let mut cached = Vec::new();
    for _ in 0..5 {
        let runtime = Runtime::new(settings.clone()).expect("runtime");
        let started = Instant::now();
        let plugin = runtime.load(artifact(name).as_path()).await.expect("load");
        cached.push(started.elapsed());
        assert_eq!(plugin.loaded(), LoadKind::DiskCache);
    }
    let cached = median(cached);
    println!(
        "  {name:<18} compile {:>9.1} ms   cached load {:>7.2} ms   {:>6.0}x faster",
        compile.as_secs_f64() * 1e3,
        cached.as_secs_f64() * 1e3,
        compile.as_secs_f64() / cached.as_secs_f64()
    );
}

fn request(plugin: &Plugin, connection: &Connection, input: &str) -> (RunRequest, Arc<VecSink>) {
    let sink = Arc::new(VecSink::new());
    let grant = Arc::new(Grant::from_manifest(plugin.manifest()));
    (governed(grant, connection, input, sink.clone()), sink)
}

/// A run request with `grant`, its records to `sink`.
fn governed(
    grant: Arc<Grant>,
    connection: &Connection,
    input: &str,
    sink: Arc<dyn RecordSink>,
) -> RunRequest {
    RunRequest {
        input: input.into(),
        config: Default::default(),
        exchange: connection.exchange().clone(),
        dry_run: false,
        journal: None,
        grant,
        limits: exorun::runtime::RunLimits {
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(600),
            fuel: None,
        },
        sink,
        checkpoints: Arc::new(MemoryCheckpoints::new()),
        progress: Arc::new(NoProgress),
    }
}

/// The grant of `plugin` under a policy that pins it and constrains `Identity` to the
/// tenant's domain and `ResultSize` to a number (what an operator writes), as the CLI admits it.
fn policy_grant(plugin: &Plugin, domain: &str) -> Arc<Grant> {
    let mut text = format!(
        "[[plugin]]\nname = \"{}\"\ndigest = \"{}\"\n",
        plugin.manifest().name,
        plugin.digest()
    );
    for cmdlet in &plugin.manifest().cmdlets {
        text.push_str(&format!(
            "[[plugin.cmdlet]]\nname = \"{}\"\n[plugin.cmdlet.parameters]\n",
            cmdlet.name
        ));
        for parameter in &cmdlet.parameters {
            let rule = match parameter.as_str() {
                "Identity" => format!("{{ glob = \"*@{domain}\" }}"),
                "ResultSize" => "{ regex = \"[0-9]+|Unlimited\" }".to_string(),
                _ => "{}".to_string(),
            };
            text.push_str(&format!("{parameter} = {rule}\n"));
        }
    }
    let policy = Policy::parse(&text, "bench policy").expect("policy");
    let bytes = std::fs::read(artifact(&plugin.manifest().name)).expect("artifact");
    let vetted = policy
        .vet(Submitted::from_bytes("bench plugin", bytes, None))
        .expect("admitted");
    Arc::new(vetted.grant)
}

/// A connection like `settings` that writes every call to an audit log in `dir`.
fn audited(ready: &Value, dir: &Path) -> Connection {
    Connection::open(Settings {
        audit_log: Some(dir.join("audit.jsonl")),
        ..settings(ready)
    })
    .expect("audited connection")
}

/// [`audited`], each record with its MAC made with a new key kept in `dir`.
fn audited_keyed(ready: &Value, dir: &Path) -> Connection {
    let key = dir.join("audit.key");
    exorun::audit::AuditKey::create(&key).expect("audit key");
    Connection::open(Settings {
        audit_log: Some(dir.join("keyed.jsonl")),
        audit_key: Some(key),
        ..settings(ready)
    })
    .expect("keyed connection")
}

fn peak_rss_and_time(command: &mut Command) -> (u64, Duration) {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("exorun runs");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "exorun failed");
            return (peak, started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn exorun_command(ready: &Value, args: &[&str]) -> Command {
    let app = admin(ready);
    let base = ready["base_url"].as_str().expect("base");
    let mut command = Command::new(workspace().join("target/release/exorun"));
    command
        .args([
            "--app-id",
            app["client_id"].as_str().expect("id"),
            "--organization",
            ready["tenant_domain"].as_str().expect("domain"),
        ])
        .args([
            "--certificate",
            app["pfx"].as_str().expect("pfx"),
            "--certificate-password-file",
            app["pfx_password_file"].as_str().expect("pw"),
        ])
        .args([
            "--authority",
            base,
            "--exchange-url",
            base,
            "--ca-file",
            ready["ca_file"].as_str().expect("ca"),
        ])
        .args(args);
    command
}

fn main() {
    let runtime_tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // `cargo bench --bench runtime -- small` runs only that part (load, warm, small, big).
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs = |part: &str| chosen.is_empty() || chosen.iter().any(|c| c == part);
    runtime_tokio.block_on(async {
        if runs("load") {
            println!("Loading a compiled plugin from the disk cache vs compiling it (median of 5 cached loads):");
            load_vs_compile("mailbox-inventory").await;
            load_vs_compile("stale-mailboxes").await;
        }

        let state = tempfile::tempdir().expect("state");
        let sim = sim_process(1000, state.path());
        let connection = Connection::open(settings(&sim.ready)).expect("connection");
        let runtime = Runtime::new(RuntimeSettings { cache_dir: None, ..RuntimeSettings::default() }).expect("runtime");

        let hostile = runtime.load(artifact("hostile").as_path()).await.expect("hostile");
        let inventory = runtime.load(artifact("mailbox-inventory").as_path()).await.expect("inventory");
        if runs("warm") {
        println!("Warm instantiation (new store + instance from InstancePre, pooling allocator; Runtime::check), median of 5000:");
        for (name, plugin) in [("mailbox-inventory", &inventory), ("hostile", &hostile)] {
            let mut instantiations = Vec::new();
            for _ in 0..5000 {
                let started = Instant::now();
                runtime.check(plugin).await.expect("starts");
                instantiations.push(started.elapsed());
            }
            println!("  {name:<18} {:.1} µs", median(instantiations).as_secs_f64() * 1e6);
        }
        let mut warm = Vec::new();
        for _ in 0..2000 {
            let (request, _) = request(&hostile, &connection, r#"{"attempt": "none"}"#);
            let started = Instant::now();
            let _ = runtime.run(&hostile, request).await;
            warm.push(started.elapsed());
        }
        println!("Warm run (new store + instance from InstancePre, pooling allocator, one trivial run call), median of 2000:");
        println!("  {:.1} µs", median(warm).as_secs_f64() * 1e6);

        }
        if runs("small") {
        let identities: Vec<String> = connection
            .exchange()
            .invoke(Surface::Exchange, "Get-Mailbox", serde_json::from_value(serde_json::json!({"ResultSize": 200})).expect("params"))
            .await
            .expect("mailboxes")
            .iter()
            .filter_map(|m| m["UserPrincipalName"].as_str().map(str::to_string))
            .collect();
        let audit = runtime.load(artifact("mailbox-permission-audit").as_path()).await.expect("audit");
        let input = serde_json::json!({"identities": identities}).to_string();
        let (mut direct, mut plugin) = (Vec::new(), Vec::new());
        for round in 0..6 {
            let started = Instant::now();
            for identity in &identities {
                let params: exorun::exchange::Parameters = serde_json::from_value(serde_json::json!({"Identity": identity})).expect("params");
                connection.exchange().invoke(Surface::Exchange, "Get-MailboxPermission", params.clone()).await.expect("permission");
                connection.exchange().invoke(Surface::Exchange, "Get-RecipientPermission", params).await.expect("send as");
            }
            let direct_time = started.elapsed();
            let (request, _) = request(&audit, &connection, &input);
            let started = Instant::now();
            let outcome = runtime.run(&audit, request).await.expect("audit run");
            let plugin_time = started.elapsed();
            assert_eq!(outcome.cmdlet_calls as usize, identities.len() * 2);
            // The first round warms connections, caches and the emulator up.
            if round > 0 {
                direct.push(direct_time);
                plugin.push(plugin_time);
            }
        }
        let calls = identities.len() as f64 * 2.0;
        let (d, p) = (median(direct), median(plugin));
        println!("Small cmdlets (Get-MailboxPermission + Get-RecipientPermission for 200 mailboxes), median of 5 after a warm-up:");
        println!("  direct transport (baseline)   {:>7.3} ms/call  1.00x", d.as_secs_f64() * 1e3 / calls);
        println!("  from mailbox-permission-audit {:>7.3} ms/call  {:.2}x", p.as_secs_f64() * 1e3 / calls, p.as_secs_f64() / d.as_secs_f64());

        let domain = identities[0].split_once('@').map(|(_, d)| d.to_string()).expect("domain");
        let audit_dir = tempfile::tempdir().expect("audit dir");
        let logged = audited(&sim.ready, audit_dir.path());
        let keyed = audited_keyed(&sim.ready, audit_dir.path());
        // A second connection without a log, opened like the logged one: how much two
        // connections differ on their own.
        let other = Connection::open(settings(&sim.ready)).expect("connection");
        let policy = policy_grant(&audit, &domain);
        let manifest = Arc::new(Grant::from_manifest(audit.manifest()));
        let arms: [(&str, &Connection, &Arc<Grant>); 6] = [
            ("manifest's rights, no audit log (baseline)", &connection, &manifest),
            ("the same on another connection", &other, &manifest),
            ("policy grant with constraints, no audit log", &connection, &policy),
            ("manifest's rights + audit log", &logged, &manifest),
            ("policy grant with constraints + audit log", &logged, &policy),
            ("policy grant + keyed audit log (HMAC a record)", &keyed, &policy),
        ];
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); arms.len()];
        // Thirty rounds after a warm-up, the arms in a different order every round, so no arm
        // always runs right after the same other one.
        for round in 0..31 {
            for turn in 0..arms.len() {
                let arm = (turn + round) % arms.len();
                let (_, on, grant) = arms[arm];
                let started = Instant::now();
                let outcome = runtime.run(&audit, governed(grant.clone(), on, &input, Arc::new(VecSink::new()))).await.expect("run");
                assert_eq!((outcome.cmdlet_calls as usize, outcome.denied), (identities.len() * 2, 0));
                if round > 0 {
                    times[arm].push(started.elapsed());
                }
            }
        }
        let records = std::fs::read_to_string(audit_dir.path().join("audit.jsonl")).expect("log").lines().count();
        // Each arm against the baseline of the same round (the machine's pace drifts between
        // rounds more than the arms differ), then the median of those ratios.
        let ratio = |arm: usize| {
            let mut ratios: Vec<f64> = times[arm].iter().zip(&times[0]).map(|(t, b)| t.as_secs_f64() / b.as_secs_f64()).collect();
            ratios.sort_by(f64::total_cmp);
            ratios[ratios.len() / 2]
        };
        println!("Policy and audit log on those small cmdlets (30 rounds after a warm-up, arms interleaved in rotating order; median time, and median of each round's ratio to the baseline; {records} records written):");
        for (arm, (label, _, _)) in arms.iter().enumerate() {
            println!("  {label:<48} {:>7.3} ms/call  {:.3}x", median(times[arm].clone()).as_secs_f64() * 1e3 / calls, ratio(arm));
        }
        println!("  target: policy grant + audit log (keyed or not) ≤ 1.05x");
        }
        drop(sim);
        if !runs("big") {
            return;
        }

        let big_state = tempfile::tempdir().expect("state");
        let big = sim_process(1_000_000, big_state.path());
        let cache = tempfile::tempdir().expect("cache");
        let inventory = artifact("mailbox-inventory");
        // The CLI runs plugins only under a policy and always audits: both in the bench's own scratch space.
        let policy_file = big_state.path().join("policy.toml");
        let written = Command::new(workspace().join("target/release/exorun")).args(["policy", "init"]).arg(&inventory).arg("--out").arg(&policy_file).output().expect("policy init");
        assert!(written.status.success(), "policy init: {}", String::from_utf8_lossy(&written.stderr));
        let audit_log = big_state.path().join("audit.jsonl");
        let run_args = ["run", inventory.to_str().expect("path"), "--input", r#"{"statistics": false}"#, "--output", "jsonl", "--cache-dir", cache.path().to_str().expect("cache"), "--policy", policy_file.to_str().expect("policy"), "--audit-log", audit_log.to_str().expect("log")];
        let _ = peak_rss_and_time(&mut exorun_command(&big.ready, &run_args));
        let (mut invoke_runs, mut plugin_runs) = (Vec::new(), Vec::new());
        for _ in 0..2 {
            invoke_runs.push(peak_rss_and_time(&mut exorun_command(&big.ready, &["--audit-log", audit_log.to_str().expect("log"), "invoke", "Get-Mailbox", "-ResultSize", "Unlimited", "--output", "jsonl"])));
            plugin_runs.push(peak_rss_and_time(&mut exorun_command(&big.ready, &run_args)));
        }
        let big_connection = Connection::open(settings(&big.ready)).expect("connection");
        let mut library_runs = Vec::new();
        for _ in 0..2 {
            let started = Instant::now();
            let mut query = big_connection.exchange().query(Surface::Exchange, "Get-Mailbox", serde_json::from_value(serde_json::json!({"ResultSize": "Unlimited"})).expect("params"));
            let mut rows = 0;
            while let Some(page) = query.next_page().await.expect("page") {
                rows += page.rows.len();
            }
            assert_eq!(rows, 1_000_000);
            library_runs.push(started.elapsed());
        }
        let library = library_runs.into_iter().min().expect("runs");

        let plugin = runtime.load(inventory.as_path()).await.expect("inventory");
        let grant = policy_grant(&plugin, "contoso.com");
        let big_audit = tempfile::tempdir().expect("audit dir");
        let big_logged = audited(&big.ready, big_audit.path());
        let input = r#"{"statistics": false}"#;
        let (mut bare, mut governed_runs) = (Vec::new(), Vec::new());
        for _ in 0..2 {
            let sink: Arc<dyn RecordSink> = Arc::new(JsonLinesSink::new(std::io::sink()));
            let started = Instant::now();
            let bare_request = governed(Arc::new(Grant::from_manifest(plugin.manifest())), &big_connection, input, sink.clone());
            runtime.run(&plugin, bare_request).await.expect("bare run");
            bare.push(started.elapsed());
            let started = Instant::now();
            let outcome = runtime.run(&plugin, governed(grant.clone(), &big_logged, input, sink)).await.expect("governed run");
            assert_eq!(outcome.records, 1_000_000);
            governed_runs.push(started.elapsed());
        }
        let (b, g) = (bare.into_iter().min().expect("runs"), governed_runs.into_iter().min().expect("runs"));
        println!("Policy and audit log on 1,000,000 mailboxes through mailbox-inventory (library runs in this process, best of 2, interleaved):");
        println!("  manifest's rights, no audit log (baseline)   {:>6.2} s  1.00x", b.as_secs_f64());
        println!("  policy grant + audit log (one record a page) {:>6.2} s  {:.3}x   target ≤ 1.05x", g.as_secs_f64(), g.as_secs_f64() / b.as_secs_f64());
        let best = |runs: &[(u64, Duration)]| runs.iter().map(|r| r.1).min().expect("runs");
        let rss = |runs: &[(u64, Duration)]| runs.iter().map(|r| r.0).max().expect("runs");
        let (i, r) = (best(&invoke_runs), best(&plugin_runs));
        let rows = 1_000_000.0;
        println!("1,000,000 mailboxes streamed, best of 2, emulator in its own process:");
        println!("  exorun invoke Get-Mailbox (direct, baseline) {:>6.2} s {:>8.0} rows/s  peak RSS {:>4} MB  1.00x", i.as_secs_f64(), rows / i.as_secs_f64(), rss(&invoke_runs) / 1024);
        println!("  exorun run mailbox-inventory                 {:>6.2} s {:>8.0} rows/s  peak RSS {:>4} MB  {:.2}x", r.as_secs_f64(), rows / r.as_secs_f64(), rss(&plugin_runs) / 1024, i.as_secs_f64() / r.as_secs_f64());
        println!("  for reference: library Query::next_page loop {:>6.2} s {:>8.0} rows/s  (rows parsed, nothing written; plugin run {:.2}x of it)", library.as_secs_f64(), rows / library.as_secs_f64(), library.as_secs_f64() / r.as_secs_f64());
    });
}
