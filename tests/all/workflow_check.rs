//! `exorun workflow check` and `exorun workflow graph` as an admin runs them. Every file in
//! `tests/workflows/invalid/` makes `check` print exactly the text in the `.err` file beside it
//! (exit 1); every file in `tests/workflows/valid/` and `examples/workflows/` passes under a
//! policy made for the built plugins, and draws as the `.graph` file beside it where there is one;
//! every file in `tests/workflows/warnings/` passes with exactly the warnings in the `.warn` file
//! beside it. The policy decides as it does for `exorun run`: the same refusal, the same message
//! when there is none.
//!
//! `EXORUN_BLESS=1` writes the `.err`, `.warn` and `.graph` files from what the commands print instead of
//! comparing; review the diff before committing it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::artifact;

/// The folder of workflow files.
fn workflows() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/workflows")
}

/// The repository's root: the valid workflows find the built plugins from there.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `exorun` with a clean environment whose home is `home` (no policy or config there unless a
/// test puts one).
fn exorun(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_exorun"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home);
    command
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn blessing() -> bool {
    std::env::var_os("EXORUN_BLESS").is_some_and(|v| !v.is_empty())
}

/// The `.toml` files of a folder of `tests/workflows`, by name.
fn files(folder: &str) -> Vec<PathBuf> {
    toml_files(&workflows().join(folder))
}

/// The `.toml` files in `dir`, by name.
fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Compares `actual` with the file at `expected` (or writes it when blessing); a difference is
/// added to `wrong`.
fn compare(expected: &Path, actual: &str, wrong: &mut Vec<String>) {
    if blessing() {
        std::fs::write(expected, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(expected).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (EXORUN_BLESS=1 writes it from the output)",
            expected.display()
        )
    });
    if want != actual {
        wrong.push(format!(
            "{}:\n--- expected\n{want}--- printed\n{actual}",
            expected.display()
        ));
    }
}

/// A policy admitting the built plugins `names`, written by `exorun policy init` to `path`.
fn policy_for(home: &Path, names: &[&str], path: &Path) {
    let output = exorun(home)
        .args(["policy", "init"])
        .args(names.iter().map(|n| artifact(n)))
        .arg("--out")
        .arg(path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output).1);
}

/// The invalid workflows whose only problems are with plugin files, which `graph` does not read.
const ABOUT_PLUGIN_FILES: [&str; 3] = ["digest-mismatch", "missing-plugin", "missing-plugin-dir"];

#[test]
fn each_invalid_workflow_says_what_is_wrong_where() {
    let home = tempfile::tempdir().unwrap();
    let dir = workflows().join("invalid");
    let mut wrong = Vec::new();
    let files = files("invalid");
    assert!(files.len() >= 14, "{files:?}");
    for file in &files {
        let name = file.file_name().unwrap().to_str().unwrap();
        // Run beside the file and name it as the admin would: the paths printed are the ones
        // in the .err files.
        let output = exorun(home.path())
            .current_dir(&dir)
            .args(["workflow", "check", name])
            .output()
            .unwrap();
        let (out, err) = text(&output);
        assert_eq!(output.status.code(), Some(1), "{name}: {out}{err}");
        assert_eq!(out, "", "{name}");
        let err = err.replace(&home.path().display().to_string(), "$HOME");
        compare(&file.with_extension("err"), &err, &mut wrong);
        // The graph finds the same problems, but for those of plugin files: it reads only the
        // workflow file.
        let graph = exorun(home.path())
            .current_dir(&dir)
            .args(["workflow", "graph", name])
            .output()
            .unwrap();
        let stem = name.trim_end_matches(".toml");
        if ABOUT_PLUGIN_FILES.contains(&stem) {
            assert!(graph.status.success(), "graph {name}: {}", text(&graph).1);
        } else {
            assert_eq!(graph.status.code(), Some(1), "graph {name}");
            assert_eq!(text(&graph).1, text(&output).1, "graph {name}");
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn each_valid_workflow_passes_under_a_policy_for_its_plugins() {
    let home = tempfile::tempdir().unwrap();
    let policy = home.path().join("policy.toml");
    policy_for(
        home.path(),
        &[
            "mailbox-inventory",
            "auto-reply",
            "mailbox-permission-audit",
            "find-recipient",
            "offboard-mailbox",
            "grant-mailbox-access",
            "remove-group-member",
        ],
        &policy,
    );
    let mut wrong = Vec::new();
    let examples = toml_files(&root().join("examples/workflows"));
    assert!(!examples.is_empty());
    for file in files("valid").into_iter().chain(examples) {
        let shown = file.display();
        let output = exorun(home.path())
            .args(["workflow", "check"])
            .arg(&file)
            .arg("--policy")
            .arg(&policy)
            .output()
            .unwrap();
        let (out, err) = text(&output);
        assert!(output.status.success(), "{shown}: {err}");
        assert_eq!(err, "", "{shown}");
        assert!(
            out.starts_with("ok: ")
                && out.ends_with(&format!("plugins admitted by {}\n", policy.display())),
            "{shown}: {out}"
        );
        let graph = exorun(home.path())
            .args(["workflow", "graph"])
            .arg(&file)
            .output()
            .unwrap();
        let (drawn, err) = text(&graph);
        assert!(graph.status.success(), "{shown}: {err}");
        assert!(!drawn.contains('\x1b'), "no colour when piped: {drawn}");
        let expected = file.with_extension("graph");
        if expected.exists() || (blessing() && file.starts_with(workflows())) {
            compare(&expected, &drawn, &mut wrong);
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn values_written_into_filters_as_they_are_are_warned_of_and_the_check_passes() {
    let home = tempfile::tempdir().unwrap();
    let policy = home.path().join("policy.toml");
    policy_for(home.path(), &["mailbox-inventory"], &policy);
    let dir = workflows().join("warnings");
    let mut wrong = Vec::new();
    let files = files("warnings");
    assert!(!files.is_empty());
    for file in &files {
        let name = file.file_name().unwrap().to_str().unwrap();
        let output = exorun(home.path())
            .current_dir(&dir)
            .args(["workflow", "check", name, "--policy"])
            .arg(&policy)
            .output()
            .unwrap();
        let (out, err) = text(&output);
        assert!(output.status.success(), "{name}: {err}");
        assert!(out.starts_with("ok: "), "{name}: {out}");
        assert!(
            !err.is_empty() && err.lines().all(|l| l.contains(": warning: ")),
            "{name}: {err}"
        );
        compare(&file.with_extension("warn"), &err, &mut wrong);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_summary_counts_steps_and_inputs() {
    let home = tempfile::tempdir().unwrap();
    let policy = home.path().join("policy.toml");
    policy_for(
        home.path(),
        &[
            "mailbox-inventory",
            "auto-reply",
            "mailbox-permission-audit",
            "find-recipient",
            "offboard-mailbox",
            "grant-mailbox-access",
            "remove-group-member",
        ],
        &policy,
    );
    let output = exorun(home.path())
        .current_dir(root())
        .args([
            "workflow",
            "check",
            "tests/workflows/valid/offboard.toml",
            "--policy",
        ])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(
        text(&output).0,
        format!(
            "ok: offboard-user — 4 steps, 3 inputs, plugins admitted by {}\n",
            policy.display()
        )
    );
}

#[test]
fn a_plugin_the_policy_does_not_admit_is_refused_as_run_refuses_it() {
    let home = tempfile::tempdir().unwrap();
    let policy = home.path().join("policy.toml");
    // auto-reply is not in it.
    policy_for(
        home.path(),
        &["mailbox-inventory", "mailbox-permission-audit"],
        &policy,
    );
    let output = exorun(home.path())
        .current_dir(root())
        .args([
            "workflow",
            "check",
            "tests/workflows/valid/offboard.toml",
            "--policy",
        ])
        .arg(&policy)
        .output()
        .unwrap();
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}{err}");
    assert_eq!(out, "");
    let run = exorun(home.path())
        .current_dir(root())
        .args(["run", "target/plugins/auto-reply.wasm", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    let (_, refused) = text(&run);
    assert!(!run.status.success());
    let refusal = refused
        .strip_prefix("exorun: ")
        .unwrap_or_else(|| panic!("{refused}"));
    assert!(refusal.contains("is not admitted by"), "{refusal}");
    assert_eq!(
        err,
        format!("tests/workflows/valid/offboard.toml:27:10: error: step 'auto-reply': {refusal}")
    );
}

#[test]
fn without_a_policy_the_check_fails_as_run_does() {
    let home = tempfile::tempdir().unwrap();
    let check = exorun(home.path())
        .current_dir(root())
        .args([
            "workflow",
            "check",
            "tests/workflows/valid/plugin-by-path.toml",
        ])
        .output()
        .unwrap();
    let run = exorun(home.path())
        .current_dir(root())
        .args(["run", "target/plugins/auto-reply.wasm"])
        .output()
        .unwrap();
    let (out, err) = text(&check);
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(out, "");
    assert!(err.contains("no policy is configured"), "{err}");
    assert_eq!(err, text(&run).1);
    // The structure is still checked first: a broken file says so, not that the policy is missing.
    let broken = exorun(home.path())
        .current_dir(workflows().join("invalid"))
        .args(["workflow", "check", "several-problems.toml"])
        .output()
        .unwrap();
    let (_, err) = text(&broken);
    assert_eq!(err.lines().count(), 6, "{err}");
    assert!(!err.contains("policy"), "{err}");
}

#[test]
fn each_tenant_is_checked_under_its_profile_policy() {
    let home = tempfile::tempdir().unwrap();
    let everything = home.path().join("contoso-policy.toml");
    let inventory_only = home.path().join("fabrikam-policy.toml");
    policy_for(
        home.path(),
        &["mailbox-inventory", "mailbox-permission-audit"],
        &everything,
    );
    policy_for(home.path(), &["mailbox-inventory"], &inventory_only);
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        "[profiles.contoso]\npolicy = \"contoso-policy.toml\"\n\n[profiles.fabrikam]\npolicy = \"fabrikam-policy.toml\"\n",
    )
    .unwrap();
    let output = exorun(home.path())
        .current_dir(root())
        .args([
            "workflow",
            "check",
            "tests/workflows/valid/msp-nightly.toml",
            "--config-file",
        ])
        .arg(&config)
        .output()
        .unwrap();
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}{err}");
    assert!(
        err.starts_with("tests/workflows/valid/msp-nightly.toml:13:10: error: step 'audit': plugin mailbox-permission-audit "),
        "{err}"
    );
    assert!(
        err.contains(&format!("is not admitted by {}", inventory_only.display())),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.contains(": error: ")).count(),
        1,
        "{err}"
    );
    // With one policy for both, it passes and says which.
    let output = exorun(home.path())
        .current_dir(root())
        .env("EXORUN_CONFIG", &config)
        .args([
            "workflow",
            "check",
            "tests/workflows/valid/msp-nightly.toml",
            "--policy",
        ])
        .arg(&everything)
        .output()
        .unwrap();
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    assert!(
        out.ends_with(&format!("plugins admitted by {}\n", everything.display())),
        "{out}"
    );
    // A profile the config file does not have is the error `exorun run --profile` gives.
    std::fs::write(
        &config,
        "[profiles.contoso]\npolicy = \"contoso-policy.toml\"\n",
    )
    .unwrap();
    let output = exorun(home.path())
        .current_dir(root())
        .args([
            "workflow",
            "check",
            "tests/workflows/valid/msp-nightly.toml",
            "--config-file",
        ])
        .arg(&config)
        .output()
        .unwrap();
    let (_, err) = text(&output);
    assert!(err.contains("fabrikam"), "{err}");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn workflow_help_lists_its_commands() {
    let home = tempfile::tempdir().unwrap();
    let output = exorun(home.path())
        .args(["workflow", "--help"])
        .output()
        .unwrap();
    let (out, _) = text(&output);
    assert!(output.status.success());
    for command in ["check", "graph"] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(command)),
            "{out}"
        );
    }
}
