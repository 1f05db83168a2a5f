//! Many tenants in one process (run: `bash scripts/build-plugins.sh --no-python && cargo bench
//! -p exorun --bench tenants`; with `EXORUN_BASELINE=/path/to/an/older/exorun` the same runs of
//! that binary are measured beside this build's, alternating).
//!
//! One workflow (one `mailbox-inventory` step, no statistics) over T = 10, 200 and 2,000 tenants
//! of one emulator (in this process, on its own threads, like a separate server), each tenant
//! with 50 mailboxes and an admin app signing in with a client secret (one profile each in the
//! config file). Each figure is one whole `exorun workflow run` process: its CPU time (user +
//! system, `getrusage(RUSAGE_CHILDREN)` around it) per tenant, its wall time, and its peak open
//! files (the entries of `/proc/PID/fd`, looked at every 2 ms while it runs).

// The module is shared with the other benches, which use the parts this one does not.
#[allow(dead_code)]
mod emulator;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use exorun_sim::ReadyInfo;
use exorun_sim::scenario::{AppSpec, TenantSpec};
use nix::sys::resource::{UsageWho, getrusage};

use emulator::plugin;

/// The largest run's tenants; the smaller runs take the first of them.
const TENANTS: usize = 2000;
/// The runs' sizes.
const SIZES: [usize; 3] = [10, 200, TENANTS];
const MAILBOXES: usize = 50;
/// Runs of each binary at each size (the middle one is shown): fewer of the largest, which
/// takes tens of seconds a run.
fn rounds(tenants: usize) -> usize {
    if tenants >= TENANTS { 1 } else { 3 }
}

/// The name of tenant `n` (and of its profile).
fn name(n: usize) -> String {
    format!("t{n:04}")
}

/// The emulator with `TENANTS` more tenants whose only app signs in with a client secret.
fn emulator() -> emulator::Emulator {
    emulator::start_with(|config| {
        for n in 0..TENANTS {
            let mut tenant = TenantSpec::named(&name(n));
            tenant.mailboxes = MAILBOXES;
            tenant.default_apps = false;
            tenant.apps = vec![AppSpec {
                name: "exorun-admin".into(),
                client_id: None,
                roles: vec!["Exchange Administrator".into()],
                consent: true,
                certificates: Vec::new(),
                generate_certificate: false,
                generate_secret: true,
                managed_identity: false,
            }];
            config.scenario.tenants.push(tenant);
        }
    })
}

/// The config file (a profile per tenant), the policy and a workflow over the first `t`
/// tenants for each size, in `dir`.
struct Files {
    config: PathBuf,
    policy: PathBuf,
    workflows: Vec<(usize, PathBuf)>,
}

fn files(info: &ReadyInfo, dir: &Path) -> Files {
    let mut config = String::new();
    for tenant in info.tenants.iter().filter(|t| t.name != "contoso") {
        let admin = tenant
            .apps
            .iter()
            .find(|a| a.name == "exorun-admin")
            .expect("admin app");
        config.push_str(&format!(
            "[profiles.{}]\nclient_id = \"{}\"\ntenant = \"{}\"\nclient_secret_file = \"{}\"\nauthority = \"{base}\"\nexchange_url = \"{base}\"\ncompliance_url = \"{base}/compliance\"\nca_file = \"{}\"\n\n",
            tenant.name,
            admin.client_id,
            tenant.domain,
            admin.secret_file.as_ref().expect("secret").display(),
            info.ca_file.display(),
            base = info.base_url,
        ));
    }
    let config_path = dir.join("config.toml");
    std::fs::write(&config_path, config).expect("config");
    let policy = Command::new(env!("CARGO_BIN_EXE_exorun"))
        .args(["policy", "init"])
        .arg(plugin("mailbox-inventory"))
        .output()
        .expect("policy init");
    assert!(policy.status.success(), "policy init failed");
    let policy_path = dir.join("policy.toml");
    std::fs::write(&policy_path, policy.stdout).expect("policy");
    let plugins = plugin("mailbox-inventory")
        .parent()
        .expect("plugin dir")
        .to_path_buf();
    let workflows = SIZES
        .iter()
        .map(|&t| {
            let tenants: Vec<String> = (0..t).map(|n| format!("\"{}\"", name(n))).collect();
            let path = dir.join(format!("over-{t}.toml"));
            std::fs::write(
                &path,
                format!(
                    "name = \"nightly\"\nplugin_dir = \"{}\"\ntenants = [{}]\n\n[[steps]]\nid = \"mailboxes\"\nplugin = \"mailbox-inventory\"\ninput = {{ statistics = false }}\n",
                    plugins.display(),
                    tenants.join(", ")
                ),
            )
            .expect("workflow");
            (t, path)
        })
        .collect();
    Files {
        config: config_path,
        policy: policy_path,
        workflows,
    }
}

/// One run's figures.
#[derive(Clone, Copy)]
struct Measured {
    cpu: Duration,
    wall: Duration,
    open_files: usize,
}

/// The CPU time of this process's waited-for children so far.
fn children_cpu() -> Duration {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let time = |t: nix::sys::time::TimeVal| {
        Duration::new(
            u64::try_from(t.tv_sec()).unwrap_or(0),
            u32::try_from(t.tv_usec()).unwrap_or(0) * 1000,
        )
    };
    time(usage.user_time()) + time(usage.system_time())
}

/// Runs `binary`'s `workflow run` of `workflow` in a fresh home and runs directory.
fn measure(binary: &Path, files: &Files, workflow: &Path, scratch: &Path) -> Measured {
    let home = tempfile::tempdir_in(scratch).expect("home");
    let cpu_before = children_cpu();
    let started = Instant::now();
    let mut child = Command::new(binary)
        .arg("--config-file")
        .arg(&files.config)
        .args(["workflow", "run"])
        .arg(workflow)
        .arg("--policy")
        .arg(&files.policy)
        .arg("--runs-dir")
        .arg(home.path().join("runs"))
        .arg("--cache-dir")
        .arg(scratch.join("compiled"))
        .args(["--output", "json"])
        .env("HOME", home.path())
        .env_remove("EXORUN_CONFIG")
        .env_remove("EXORUN_AUDIT_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("exorun starts");
    let fds = PathBuf::from(format!("/proc/{}/fd", child.id()));
    let mut open_files = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if let Ok(entries) = std::fs::read_dir(&fds) {
            open_files = open_files.max(entries.count());
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = started.elapsed();
    assert!(
        status.success(),
        "{} failed over {}",
        binary.display(),
        workflow.display()
    );
    Measured {
        cpu: children_cpu() - cpu_before,
        wall,
        open_files,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let emulator = emulator();
    let scratch = tempfile::tempdir().expect("scratch");
    let files = files(&emulator.info, scratch.path());
    let mut binaries = vec![(
        "this build".to_string(),
        PathBuf::from(env!("CARGO_BIN_EXE_exorun")),
    )];
    if let Some(baseline) = std::env::var_os("EXORUN_BASELINE") {
        binaries.push(("baseline".to_string(), PathBuf::from(baseline)));
    }
    // Compiles the plugin into the shared cache, so no run below pays for it.
    measure(
        &binaries[0].1,
        &files,
        &files.workflows[0].1,
        scratch.path(),
    );
    println!(
        "| binary | tenants | CPU per tenant (user + system) | wall | wall per tenant | peak open files |"
    );
    println!("|---|---|---|---|---|---|");
    for (t, workflow) in &files.workflows {
        let mut samples: Vec<Vec<Measured>> = vec![Vec::new(); binaries.len()];
        for _ in 0..rounds(*t) {
            for ((_, binary), runs) in binaries.iter().zip(&mut samples) {
                runs.push(measure(binary, &files, workflow, scratch.path()));
            }
        }
        for ((label, _), mut runs) in binaries.iter().zip(samples) {
            runs.sort_by_key(|m| m.wall);
            let middle = runs[runs.len() / 2];
            let per = |d: Duration| ms(d) / *t as f64;
            println!(
                "| {label} | {t} | {:.2} ms | {:.0} ms | {:.2} ms | {} |",
                per(middle.cpu),
                ms(middle.wall),
                per(middle.wall),
                runs.iter().map(|m| m.open_files).max().unwrap_or(0),
            );
        }
    }
}
