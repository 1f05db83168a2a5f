//! Whole-process CLI benchmarks (run: `bash scripts/build-plugins.sh --no-python && cargo bench -p exorun --bench cli`;
//! `-- C` after it runs only C, and so on).
//!
//! Every figure times a process from its start to its exit, against one warm emulator with
//! 100,000 mailboxes running in this process (on its own threads, like a separate server), with a
//! baseline measured in the same run:
//!
//! A. Start-up: `exorun invoke Get-OrganizationConfig` (PFX certificate, token request, one
//!    InvokeCommand) with the machine's system trust store, both with `SSL_CERT_FILE` unset and
//!    set to the system bundle, against a one-certificate store (`SSL_CERT_FILE` = the emulator's
//!    CA, the one exorun is given with `--ca-file`); `exorun --version` is the floor.
//! B. `exorun run auto-reply` for one mailbox (exactly one Set-MailboxAutoReplyConfiguration call,
//!    the compiled plugin already in the cache) against `exorun invoke` of the same call.
//! C. `exorun invoke Get-Mailbox -ResultSize Unlimited --output jsonl` over the 100,000 mailboxes
//!    against a plain Python msal + requests client writing the same lines (`python_client.py`,
//!    whose output is first compared byte for byte with exorun's) and the minimal reqwest loop.

mod emulator;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use exorun::exchange::Surface;
use exorun_sim::ReadyInfo;
use serde_json::json;

use emulator::{bare_start, median, minimal_client, minimal_loop, plugin, timed};

const MAILBOXES: usize = 100_000;
/// Runs behind each start-up median (A and B).
const STARTS: usize = 21;
/// Runs behind each throughput median (C): 100,000 rows take seconds a run.
const STREAMS: usize = 3;
/// Rows of the run that compares the Python client's lines with exorun's.
const COMPARED_ROWS: usize = 5000;
/// The system CA bundle these machines point `SSL_CERT_FILE` at (Debian's).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Where the exorun process finds its trust store.
#[derive(Clone, Copy)]
enum Trust<'a> {
    /// The system store with `SSL_CERT_FILE` unset (`SSL_CERT_DIR` as this process has it).
    System,
    /// `SSL_CERT_FILE` = the system bundle (`SSL_CERT_DIR` as this process has it).
    SystemBundle,
    /// `SSL_CERT_FILE` = this one certificate, `SSL_CERT_DIR` unset.
    Only(&'a Path),
}

fn get_organization_config(info: &ReadyInfo, trust: Trust) -> Duration {
    let mut command = emulator::exorun(info);
    command.args(["invoke", "Get-OrganizationConfig"]);
    match trust {
        Trust::System => command.env_remove("SSL_CERT_FILE"),
        Trust::SystemBundle => command.env("SSL_CERT_FILE", SYSTEM_BUNDLE),
        Trust::Only(ca) => command.env("SSL_CERT_FILE", ca).env_remove("SSL_CERT_DIR"),
    };
    timed(&mut command)
}

/// A: start-up with the system trust store vs a one-certificate store.
fn start_up(info: &ReadyInfo) {
    let trusts = [
        Trust::System,
        Trust::SystemBundle,
        Trust::Only(&info.ca_file),
    ];
    for trust in trusts {
        get_organization_config(info, trust);
    }
    let mut floor = Vec::new();
    let mut samples = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..STARTS {
        floor.push(bare_start());
        for (trust, runs) in trusts.into_iter().zip(&mut samples) {
            runs.push(get_organization_config(info, trust));
        }
    }
    let [system, bundle, one] = samples.map(median);
    let dir = std::env::var("SSL_CERT_DIR").map_or("SSL_CERT_DIR not set".into(), |d| {
        format!("SSL_CERT_DIR={d}")
    });
    println!(
        "A. exorun invoke Get-OrganizationConfig, process start to result (PFX certificate, token request + one InvokeCommand), warm emulator, median of {STARTS}:"
    );
    println!(
        "  {:<72} {:>6.1} ms",
        "exorun --version (bare process start, floor)",
        ms(median(floor))
    );
    for (label, time) in [
        (
            format!("(1) system store, SSL_CERT_FILE unset, {dir}"),
            system,
        ),
        (
            format!("(1) system store, SSL_CERT_FILE={SYSTEM_BUNDLE}"),
            bundle,
        ),
    ] {
        println!(
            "  {label:<72} {:>6.1} ms  (1)/(2) {:.2}   targets ≤ 30 ms, ≤ 1.5",
            ms(time),
            time.as_secs_f64() / one.as_secs_f64()
        );
    }
    println!(
        "  {:<72} {:>6.1} ms  1.00            target  ≤ 30 ms",
        "(2) one certificate: SSL_CERT_FILE=the emulator's CA, SSL_CERT_DIR unset",
        ms(one)
    );
}

/// B: `exorun run` of a plugin making one small call vs `exorun invoke` of that call.
fn small_plugin_run(info: &ReadyInfo, identity: &str) {
    let artifact = plugin("auto-reply");
    let cache = tempfile::tempdir().expect("cache dir");
    let checkpoints = tempfile::tempdir().expect("checkpoint dir");
    let message = "Back on Monday.";
    let input = json!({"identities": [identity], "state": "Enabled", "internal_message": message})
        .to_string();
    // The operator's policy, as `exorun policy init` writes it, narrowed to one domain: the
    // run pays for reading it, admitting the plugin and checking the call.
    let policy = checkpoints.path().join("policy.toml");
    let written = Command::new(env!("CARGO_BIN_EXE_exorun"))
        .args(["policy", "init"])
        .arg(&artifact)
        .output()
        .expect("policy init runs");
    assert!(written.status.success(), "policy init failed");
    let text = String::from_utf8(written.stdout).expect("policy text");
    let domain = identity.split_once('@').map_or("*", |(_, d)| d);
    let text = text.replacen(
        "Identity = {}",
        &format!("Identity = {{ glob = \"*@{domain}\", required = true }}"),
        1,
    );
    std::fs::write(&policy, text).expect("policy file");
    let run = || {
        let mut command = emulator::exorun(info);
        command
            .arg("run")
            .arg(&artifact)
            .args(["--input", &input, "--output", "jsonl", "--cache-dir"])
            .arg(cache.path())
            .arg("--checkpoint-dir")
            .arg(checkpoints.path())
            .arg("--policy")
            .arg(&policy);
        command
    };
    let invoke = || {
        let mut command = emulator::exorun(info);
        command.args([
            "invoke",
            "--output",
            "jsonl",
            "Set-MailboxAutoReplyConfiguration",
            "-Identity",
            identity,
            "-AutoReplyState",
            "Enabled",
            "-InternalMessage",
            message,
        ]);
        command
    };
    // The first run compiles the plugin into the cache; it must make exactly one call.
    let first = run()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("exorun runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&first.stderr),
    );
    assert!(
        first.status.success()
            && stdout.contains(r#""Result":"Updated""#)
            && stderr.contains("1 record, 1 cmdlet call,"),
        "the first auto-reply run did not make its one call:\n{stdout}\n{stderr}"
    );
    timed(&mut invoke());
    let (mut floor, mut direct, mut plugin) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..STARTS {
        floor.push(bare_start());
        direct.push(timed(&mut invoke()));
        plugin.push(timed(&mut run()));
    }
    let (direct, plugin) = (median(direct), median(plugin));
    let trust = std::env::var("SSL_CERT_FILE").map_or("SSL_CERT_FILE not set".into(), |f| {
        format!("SSL_CERT_FILE={f}")
    });
    println!(
        "B. One Set-MailboxAutoReplyConfiguration call for one mailbox, process start to result (PFX certificate, token request + the call; {trust} as inherited), median of {STARTS}:"
    );
    println!(
        "  exorun --version (bare process start, floor)              {:>6.1} ms",
        ms(median(floor))
    );
    println!(
        "  exorun invoke Set-MailboxAutoReplyConfiguration (baseline) {:>6.1} ms  1.00x",
        ms(direct)
    );
    println!(
        "  exorun run auto-reply.wasm (compiled plugin cached)       {:>6.1} ms  {:.2}x   target ≤ 40 ms",
        ms(plugin),
        plugin.as_secs_f64() / direct.as_secs_f64()
    );
}

/// `python3 python_client.py READY RESULT_SIZE`, its lines to stdout.
fn python_client(ready: &Path, result_size: &str) -> Command {
    let mut command = Command::new("python3");
    command
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/python_client.py"
        ))
        .arg(ready)
        .arg(result_size)
        // requests lets these override the verify= msal and the script pass (docs/protocol.md §6).
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .stdout(Stdio::null());
    command
}

/// `exorun invoke Get-Mailbox -ResultSize RESULT_SIZE --output jsonl`, its lines discarded.
fn exorun_jsonl(info: &ReadyInfo, result_size: &str) -> Command {
    let mut command = emulator::exorun(info);
    command.args([
        "invoke",
        "--output",
        "jsonl",
        "Get-Mailbox",
        "-ResultSize",
        result_size,
    ]);
    command
}

/// Says whether the Python client writes the same bytes as `exorun invoke --output jsonl`, on
/// the first `COMPARED_ROWS` mailboxes.
fn compare_lines(info: &ReadyInfo, ready: &Path) {
    let dir = tempfile::tempdir().expect("tempdir");
    let written = |name: &str, command: &mut Command| {
        let path = dir.path().join(name);
        timed(command.stdout(std::fs::File::create(&path).expect("output file")));
        std::fs::read(&path).expect("output")
    };
    let rows = COMPARED_ROWS.to_string();
    let ours = written("exorun.jsonl", &mut exorun_jsonl(info, &rows));
    let theirs = written("python.jsonl", &mut python_client(ready, &rows));
    assert_eq!(
        ours.iter().filter(|&&b| b == b'\n').count(),
        COMPARED_ROWS,
        "exorun wrote a line per mailbox"
    );
    if ours == theirs {
        println!(
            "  the Python client's lines are byte-identical to exorun's jsonl ({COMPARED_ROWS} mailboxes, {} bytes)",
            ours.len()
        );
        return;
    }
    let ours = String::from_utf8_lossy(&ours);
    let theirs = String::from_utf8_lossy(&theirs);
    match ours.lines().zip(theirs.lines()).position(|(a, b)| a != b) {
        Some(line) => {
            let cut = |text: &str| text.chars().take(400).collect::<String>();
            println!(
                "  NOT byte-identical: the Python client's line {} differs from exorun's\n    exorun: {}\n    python: {}",
                line + 1,
                cut(ours.lines().nth(line).unwrap_or_default()),
                cut(theirs.lines().nth(line).unwrap_or_default())
            );
        }
        None => println!(
            "  NOT byte-identical: exorun wrote {} bytes in {} lines, the Python client {} bytes in {} lines",
            ours.len(),
            ours.lines().count(),
            theirs.len(),
            theirs.lines().count()
        ),
    }
}

/// C: `exorun invoke --output jsonl` over 100,000 mailboxes vs Python and the minimal loop.
fn throughput(info: &ReadyInfo, runtime: &tokio::runtime::Runtime, token: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ready = dir.path().join("ready.json");
    std::fs::write(&ready, serde_json::to_string(info).expect("ready JSON")).expect("ready file");
    println!(
        "C. Get-Mailbox -ResultSize Unlimited over {MAILBOXES} mailboxes (1000-row pages), JSON Lines, median of {STREAMS}:"
    );
    compare_lines(info, &ready);
    let http = minimal_client(info);
    let (mut minimal, mut python, mut ours) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..STREAMS {
        let started = Instant::now();
        assert_eq!(
            runtime.block_on(minimal_loop(&http, info, token)),
            MAILBOXES
        );
        minimal.push(started.elapsed());
        python.push(timed(&mut python_client(&ready, "Unlimited")));
        ours.push(timed(&mut exorun_jsonl(info, "Unlimited")));
    }
    let (minimal, python, ours) = (median(minimal), median(python), median(ours));
    let rate = |d: Duration| MAILBOXES as f64 / d.as_secs_f64();
    println!(
        "  minimal reqwest loop (token fetched before, pages parsed, nothing written) {:>6.2} s {:>8.0} rows/s",
        minimal.as_secs_f64(),
        rate(minimal)
    );
    println!(
        "  python3 msal + requests client (whole process, lines to /dev/null)        {:>6.2} s {:>8.0} rows/s",
        python.as_secs_f64(),
        rate(python)
    );
    println!(
        "  exorun invoke --output jsonl (whole process, lines to /dev/null)          {:>6.2} s {:>8.0} rows/s",
        ours.as_secs_f64(),
        rate(ours)
    );
    println!(
        "  exorun/python {:.2}x (target ≥ 3)   exorun/minimal loop {:.2}x (target ≥ 0.9)",
        rate(ours) / rate(python),
        rate(ours) / rate(minimal)
    );
}

fn main() {
    let emulator = emulator::start(MAILBOXES);
    let info = &emulator.info;
    let (runtime, connection, token) = emulator::sign_in(info);
    let mailbox = runtime
        .block_on(connection.exchange().invoke(
            Surface::Exchange,
            "Get-Mailbox",
            serde_json::from_value(json!({"ResultSize": 1})).expect("params"),
        ))
        .expect("a mailbox");
    let identity = mailbox[0]["UserPrincipalName"].as_str().expect("UPN");

    // `cargo bench --bench cli -- C` runs only C (cargo itself adds `--bench`).
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let runs =
        |letter: &str| chosen.is_empty() || chosen.iter().any(|c| c.eq_ignore_ascii_case(letter));
    if runs("A") {
        start_up(info);
    }
    if runs("B") {
        small_plugin_run(info, identity);
    }
    if runs("C") {
        throughput(info, &runtime, &token);
    }
}
