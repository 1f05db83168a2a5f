//! Filters built from a workflow's inputs, run against the emulator with the shipped examples:
//! written with `opath(…)`, hostile inputs (`x' -or Name -like '*`, `*`, `'`) match nobody and
//! no change is sent to anyone, while a real address with an apostrophe still finds its
//! mailbox; the same input written into the quotes as it is reaches every mailbox. A prefix made
//! with `opath_prefix(…)` refuses `*`, `?` and empty text before anything is asked of
//! Exchange. The emulator's request log shows each filter as it was sent.

use std::path::{Path, PathBuf};

use crate::cli::{exorun, policy, run};
use crate::support::{Sim, start_with};
use crate::workflow_run::{plugins_dir, sets, workflow_cmd};

/// A shipped example workflow.
fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/workflows")
        .join(format!("{name}.toml"))
}

/// Gives the tenant's first mailbox the address (and UPN) `o'brien@<domain>` and the display
/// name `display`; returns the address.
fn obrien(sim: &Sim, display: &str) -> String {
    let domain = sim.info().tenant_domain.clone();
    let address = format!("o'brien@{domain}");
    let mut directory = sim.sim.state.directory.write();
    let tenant = directory.tenant_mut(&domain).unwrap();
    let id = tenant
        .recipients
        .ids_of_kind(|k| k.is_mailbox())
        .next()
        .unwrap();
    tenant.recipients.update(id, |r| {
        r.primary_smtp = address.clone();
        r.upn = Some(address.clone());
        r.display_name = display.to_string();
    });
    address
}

/// The `-Filter` of every `Get-Mailbox` the emulator received, in order.
async fn filters(sim: &Sim) -> Vec<String> {
    sim.requests()
        .await
        .into_iter()
        .filter(|e| e.cmdlet.as_deref() == Some("Get-Mailbox"))
        .filter_map(|e| Some(e.parameters?.get("Filter")?.as_str()?.to_string()))
        .collect()
}

/// Runs workflow `file` with `--input NAME=VALUE`; whether it succeeded, stdout and stderr.
fn run_with(sim: &Sim, file: &Path, input: &str, policy: &Path) -> (bool, String, String) {
    run(workflow_cmd(sim, &["run"])
        .arg(file)
        .args(["--input", input, "--policy"])
        .arg(policy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_addresses_match_nobody_and_a_real_one_with_an_apostrophe_is_found() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 6).await;
    let address = obrien(&sim, "Pat O'Brien");
    let policy = policy(&sim, &["mailbox-inventory", "auto-reply"]);
    let file = example("auto-reply-by-address");
    let hostile = [
        (
            "x' -or Name -like '*",
            "PrimarySmtpAddress -eq 'x'' -or Name -like ''*'",
        ),
        ("*", "PrimarySmtpAddress -eq '*'"),
        ("'", "PrimarySmtpAddress -eq ''''"),
        (
            "o'brien@nowhere.example' -or PrimarySmtpAddress -ne '",
            "PrimarySmtpAddress -eq 'o''brien@nowhere.example'' -or PrimarySmtpAddress -ne '''",
        ),
    ];
    for (user, _) in hostile {
        let (ok, out, err) = run_with(&sim, &file, &format!("user={user}"), &policy);
        assert!(ok, "{user}: {out}\n{err}");
        assert!(out.contains("output replied = 0"), "{user}: {out}");
    }
    assert_eq!(
        filters(&sim).await,
        hostile.map(|(_, sent)| sent.to_string()),
        "each input was sent as one quoted value"
    );
    assert!(sets(&sim).await.is_empty(), "no change was sent to anyone");

    let (ok, out, err) = run_with(&sim, &file, &format!("user={address}"), &policy);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("output replied = 1"), "{out}");
    assert_eq!(sets(&sim).await, std::slice::from_ref(&address));
    assert_eq!(
        filters(&sim).await.last().unwrap(),
        &format!("PrimarySmtpAddress -eq '{}'", address.replace('\'', "''"))
    );

    // The same input written into the quotes as it is ends the text and reaches every mailbox.
    let unsafe_copy = std::fs::read_to_string(&file)
        .unwrap()
        .replace("${opath(inputs.user)}", "'${inputs.user}'")
        .replace("../../target/plugins", &plugins_dir().display().to_string());
    let unsafe_file = sim.write("unsafe.toml", unsafe_copy);
    let (ok, _, err) = run(exorun(&sim)
        .args(["workflow", "check"])
        .arg(&unsafe_file)
        .arg("--policy")
        .arg(&policy));
    assert!(ok, "{err}");
    assert!(
        err.contains(
            ": warning: ${inputs.user} is written into a quoted text of filter 'filter' as it is"
        ),
        "{err}"
    );
    let (ok, out, err) = run_with(&sim, &unsafe_file, "user=x' -or Name -like '*", &policy);
    assert!(ok, "{out}\n{err}");
    assert!(
        sets(&sim).await.len() > 2,
        "without opath(…) the hostile input reaches every mailbox: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_that_would_match_more_than_its_text_is_refused_before_anything_is_sent() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 6).await;
    obrien(&sim, "Dara O'Neil-Brien");
    let policy = policy(&sim, &["mailbox-inventory"]);
    let file = example("mailboxes-named");
    let refusals = [
        (
            "*",
            "the value is the text \"*\", and a -like pattern cannot hold *: Exchange has no escape for it, so it would match more than the text; give text without * and ?; to compare a whole value write -eq ${opath(…)}",
        ),
        (
            "Dara?",
            "the value is the text \"Dara?\", and a -like pattern cannot hold ?: Exchange has no escape for it, so it would match more than the text",
        ),
        (
            "",
            "the value is the text \"\", and the pattern '*' would match every recipient; check the input: the start of a name is needed",
        ),
    ];
    for (starts_with, why) in refusals {
        let (ok, out, err) = run_with(&sim, &file, &format!("starts_with={starts_with}"), &policy);
        assert!(!ok, "{starts_with}: {out}\n{err}");
        let said = format!(
            "step 'list': opath_prefix(inputs.starts_with) in \"DisplayName -like ${{opath_prefix(inputs.starts_with)}}\" (line 21): {why}"
        );
        assert!(
            out.contains(&said) || err.contains(&said),
            "{starts_with}: {out}\n{err}"
        );
    }
    assert!(
        sim.requests().await.iter().all(|e| e.endpoint != "invoke"),
        "nothing was asked of Exchange"
    );

    let (ok, out, err) = run_with(&sim, &file, "starts_with=dara o'", &policy);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("output mailboxes = 1"), "{out}");
    assert_eq!(filters(&sim).await, ["DisplayName -like 'dara o''*'"]);
}
