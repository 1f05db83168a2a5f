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
