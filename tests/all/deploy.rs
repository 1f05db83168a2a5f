//! The command lines of `examples/deploy/` as the scheduler would run them: each is taken out of
//! its file (a GitHub Actions `run:` block, a Kubernetes `args` folded scalar, a systemd
//! `ExecStart=`), given what the scheduler would put in its variables, and run through `sh`
//! with the real binary. Every option and value must be accepted: the run gets as far as
//! reading its workflow file (absent here), never to a usage error (exit code 2).

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/deploy")
}

/// The lines of `text` from the first one containing `start` for as long as `more` says.
fn block<'a>(text: &'a str, start: &str, more: impl Fn(&str) -> bool) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|l| !l.contains(start));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no line with {start:?}"));
    std::iter::once(first)
        .chain(lines.take_while(|l| more(l)))
        .collect()
}

/// The shell command of a GitHub Actions step's `run: |` that runs a workflow, with the
/// expressions GitHub fills in filled in.
fn github_actions() -> String {
    let text = std::fs::read_to_string(deploy_dir().join("github-actions.yml")).unwrap();
    let command = block(&text, "exorun --certificate", |l| {
        l.starts_with("            ") && !l.trim().is_empty()
    })
    .join("\n");
    command
        .replace("${{ matrix.shard }}", "2")
        .replace("${{ github.run_id }}", "9876")
}

/// The `args` folded scalar (`- >-`) of a Kubernetes manifest, folded as YAML folds it, with
/// the `$(VAR)` references Kubernetes expands expanded.
fn kubernetes(file: &str) -> String {
    let text = std::fs::read_to_string(deploy_dir().join(file)).unwrap();
    let folded = block(&text, "exec exorun", |l| {
        let indent = l.len() - l.trim_start().len();
        indent >= 14 && !l.trim_start().starts_with("env:")
    })
    .iter()
    .map(|l| l.trim())
    .collect::<Vec<_>>()
    .join(" ");
    folded.replace("$(JOB_NAME)", "mailbox-inventory")
}

/// The command inside `ExecStart=/bin/sh -c '…'` of the systemd service, with systemd's `%%`
/// turned back into `%`.
fn systemd() -> String {
    let text = std::fs::read_to_string(deploy_dir().join("exorun-inventory.service")).unwrap();
    let lines = block(&text, "ExecStart=", |l| l.starts_with("  "));
    let line = lines.join("\n");
    let inner = line
        .split_once("-c '")
        .and_then(|(_, rest)| rest.strip_suffix('\''))
        .unwrap_or_else(|| panic!("ExecStart is not /bin/sh -c '…': {line}"));
    inner.replace("%%", "%")
}

/// Runs `command` with `sh` in an empty directory, `exorun` being this build's binary.
fn run(name: &str, command: &str) -> (Option<i32>, String) {
    let scratch = tempfile::tempdir().unwrap();
    let command = command
        .replace("/usr/local/bin/exorun ", "exorun ")
        .replacen("exorun ", "\"$EXORUN_BIN\" ", 1);
    let out = Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(scratch.path())
        .env("EXORUN_BIN", env!("CARGO_BIN_EXE_exorun"))
        .env("HOME", scratch.path())
        .env("RUNNER_TEMP", scratch.path())
        .env("CREDENTIALS_DIRECTORY", scratch.path())
        .env("JOB_COMPLETION_INDEX", "3")
        .env_remove("EXORUN_CONFIG")
        .env_remove("EXORUN_POLICY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("{name}: {command}\n{err}");
    (out.status.code(), err)
}

#[test]
fn every_deploy_example_s_command_line_is_accepted() {
    let commands = [
        ("github-actions.yml", github_actions()),
        (
            "kubernetes-indexed-job.yaml",
            kubernetes("kubernetes-indexed-job.yaml"),
        ),
        (
            "kubernetes-cronjob.yaml",
            kubernetes("kubernetes-cronjob.yaml"),
        ),
        ("exorun-inventory.service", systemd()),
    ];
    for (name, command) in commands {
        assert!(command.contains("workflow run"), "{name}: {command}");
        let (code, err) = run(name, &command);
        assert_eq!(code, Some(1), "{name}: {command}\n{err}");
        assert!(
            err.contains("cannot read the workflow"),
            "{name}: every option was accepted, so the run got as far as its file\n{command}\n{err}"
        );
    }
    // The Indexed Job's shard is the completion index from 1: index 3 runs shard 4 of 8.
    assert!(kubernetes("kubernetes-indexed-job.yaml").contains("$((JOB_COMPLETION_INDEX + 1))/8"));
}

/// The service unit with its `ExecStart` binary pointed at this build.
fn serve_unit(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(deploy_dir().join("exorun-serve.service")).unwrap();
    let unit = dir.join("exorun-serve.service");
    std::fs::write(
        &unit,
        text.replace("/usr/local/bin/exorun", env!("CARGO_BIN_EXE_exorun")),
    )
    .unwrap();
    unit
}

#[test]
fn the_service_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let unit = serve_unit(dir.path());
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze (Debian's systemd) is installed by scripts/prereqs.sh");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("exorun-serve.service"),
        "systemd-analyze warns about the unit: {err}"
    );
    let text = std::fs::read_to_string(&unit).unwrap();
    for hardening in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "User=exorun",
        "SupplementaryGroups=exorun-callers",
    ] {
        assert!(text.contains(hardening), "{hardening}");
    }
    // wasmtime compiles plugins to native code: W^X would stop every run.
    assert!(!text.contains("MemoryDenyWriteExecute=yes"));
}

#[test]
fn the_service_command_lines_are_accepted() {
    let unit = std::fs::read_to_string(deploy_dir().join("exorun-serve.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap()
        .to_string();
    let container = std::fs::read_to_string(deploy_dir().join("Containerfile")).unwrap();
    assert!(container.contains(r#"ENTRYPOINT ["/usr/local/bin/exorun", "serve"]"#));
    assert!(container.contains(r#"CMD ["--config", "/etc/exorun/serve.toml"]"#));
    let kubernetes = std::fs::read_to_string(deploy_dir().join("kubernetes-serve.yaml")).unwrap();
    assert!(kubernetes.contains(r#"args: ["--config", "/etc/exorun/serve.toml"]"#));
    for (name, command) in [
        ("exorun-serve.service", exec),
        (
            "Containerfile / kubernetes-serve.yaml",
            "/usr/local/bin/exorun serve --config /etc/exorun/serve.toml".into(),
        ),
    ] {
        // The configuration the command names is the example, rewritten to a scratch place.
        let dir = tempfile::tempdir().unwrap();
        let example = std::fs::read_to_string(deploy_dir().join("serve.toml")).unwrap();
        std::fs::write(
            dir.path().join("serve.toml"),
            example
                .replace("/etc/exorun/", &format!("{}/", dir.path().display()))
                .replace("/var/lib/", &format!("{}/", dir.path().display()))
                .replace("/var/log/", &format!("{}/", dir.path().display()))
                .replace("/run/exorun/", &format!("{}/", dir.path().display())),
        )
        .unwrap();
        let command = command.replace(
            "/etc/exorun/serve.toml",
            &dir.path().join("serve.toml").display().to_string(),
        );
        let (code, err) = run(name, &command);
        assert_eq!(code, Some(1), "{name}: {command}\n{err}");
        assert!(
            err.contains("the service cannot start") && err.contains("policy.toml"),
            "{name}: the command line and the configuration were accepted, so the service got as far as the policy\n{err}"
        );
    }
}
