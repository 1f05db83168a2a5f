//! `exorun invoke` as an admin with PowerShell habits types it in bash: parameters bound by the
//! catalogue's types (a dropped `$false` never becomes the opposite change), 403s explained from
//! the token's roles, and a server certificate that does not verify.

use serde_json::Value;

use crate::cli::{exorun, pfx_flags, run};
use crate::support::start;

fn hidden(sim_log: &[exorun_sim::control::LogEntry]) -> Vec<Value> {
    sim_log
        .iter()
        .filter(|e| e.cmdlet.as_deref() == Some("Set-Mailbox"))
        .filter_map(|e| e.parameters.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_boolean_whose_value_bash_dropped_is_refused_and_nothing_is_sent() {
    let sim = start().await;
    let flags = pfx_flags(&sim, "exorun-admin");
    // `-HiddenFromAddressListsEnabled $false` typed unquoted in bash arrives without its value.
    let output = exorun(&sim)
        .args(&flags)
        .args([
            "invoke",
            "Set-Mailbox",
            "-Identity",
            "room1",
            "-HiddenFromAddressListsEnabled",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "a usage error: {err}");
    assert!(
        err.contains("-HiddenFromAddressListsEnabled needs a value: $true or $false. In bash write '$false' in single quotes, or -HiddenFromAddressListsEnabled:false"),
        "{err}"
    );
    assert!(
        hidden(&sim.requests().await).is_empty(),
        "nothing may reach the service"
    );

    let (ok, _, err) = run(exorun(&sim).args(&flags).args([
        "invoke",
        "Set-Mailbox",
        "room1",
        "-HiddenFromAddressListsEnabled:false",
    ]));
    assert!(ok, "{err}");
    let (ok, _, err) = run(exorun(&sim).args(&flags).args([
        "invoke",
        "set-mailbox",
        "-Identity",
        "room2",
        "-MessageCopy",
        "$true",
    ]));
    assert!(!ok, "an ambiguous prefix is refused");
    assert!(
        err.contains("-MessageCopy is ambiguous for Set-Mailbox"),
        "{err}"
    );
    let sent = hidden(&sim.requests().await);
    assert_eq!(
        sent,
        [serde_json::json!({"Identity": "room1", "HiddenFromAddressListsEnabled": false})],
        "the positional Identity and the boolean, as PowerShell binds them"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_names_and_types_are_refused_before_sending_and_unknown_cmdlets_warn() {
    let sim = start().await;
    let flags = pfx_flags(&sim, "exorun-admin");
    let (ok, _, err) =
        run(exorun(&sim)
            .args(&flags)
            .args(["invoke", "Get-Mailbox", "-ResultSize", "all"]));
    assert!(!ok);
    assert!(
        err.contains("-ResultSize takes a whole number or Unlimited, not 'all'"),
        "{err}"
    );
    let (ok, _, err) =
        run(exorun(&sim)
            .args(&flags)
            .args(["invoke", "Get-Mailbox", "-Identiy", "room1"]));
    assert!(!ok);
    assert!(
        err.contains("Get-Mailbox has no parameter -Identiy; did you mean -Identity?"),
        "{err}"
    );
    assert!(
        sim.requests().await.iter().all(|e| e.cmdlet.is_none()),
        "no cmdlet was sent"
    );

    // Not in the catalogue: sent unchecked with a warning, then the 403 is explained from the
    // token's roles (this app is an Exchange Administrator, so the name is what is wrong).
    let (ok, _, err) =
        run(exorun(&sim)
            .args(&flags)
            .args(["invoke", "Get-Mailboxx", "-ResultSize", "1"]));
    assert!(!ok);
    assert!(
        err.contains("warning: Get-Mailboxx is not in exorun's parameter catalogue, so its parameters were not checked (did you mean Get-Mailbox?)"),
        "{err}"
    );
    assert!(
        err.contains("the app's role Exchange Administrator allows such cmdlets, so Get-Mailboxx most likely does not exist in Exchange Online"),
        "{err}"
    );
    assert!(!err.contains("assign the app a directory role"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_changing_something_is_told_its_role_only_reads() {
    let sim = start().await;
    let (ok, _, err) = run(exorun(&sim).args(pfx_flags(&sim, "exorun-reader")).args([
        "invoke",
        "Set-Mailbox",
        "-Identity",
        "room1",
        "-HiddenFromAddressListsEnabled:$true",
    ]));
    assert!(!ok);
    assert!(
        err.contains("Set-Mailbox changes things and the app's role Global Reader only reads"),
        "{err}"
    );
    assert!(
        err.contains("assign the app Exchange Administrator or Exchange Recipient Administrator"),
        "{err}"
    );
    assert!(!err.contains("or Global Reader"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_that_does_not_verify_says_to_trust_its_ca_once() {
    let sim = start().await;
    // The system's trust store only: the emulator's CA is not in it.
    let (ok, _, err) = run(exorun(&sim)
        .env_remove("EXORUN_CA_FILE")
        .args(pfx_flags(&sim, "exorun-admin"))
        .args(["invoke", "Get-OrganizationConfig"]));
    assert!(!ok);
    assert!(
        err.contains("did not verify (it is not issued by a CA this machine trusts)"),
        "{err}"
    );
    assert_eq!(err.matches("--ca-file").count(), 1, "{err}");
    assert!(!err.contains("ERROR"), "no log line repeats it: {err}");
    assert!(
        sim.requests().await.is_empty(),
        "the handshake failed, so nothing was sent"
    );

    // No trust store at all.
    let empty = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(exorun(&sim)
        .env_remove("EXORUN_CA_FILE")
        .env("SSL_CERT_FILE", "/dev/null")
        .env("SSL_CERT_DIR", empty.path())
        .args(pfx_flags(&sim, "exorun-admin"))
        .args(["invoke", "Get-OrganizationConfig"]));
    assert!(!ok);
    assert!(
        err.contains("no trusted CA certificates were found on this machine"),
        "{err}"
    );
}

/// Runs `exorun invoke ARGS` as the admin app; the exit code, stdout and stderr.
fn invoke(sim: &crate::support::Sim, args: &[&str]) -> (Option<i32>, String, String) {
    let output = exorun(sim)
        .args(pfx_flags(sim, "exorun-admin"))
        .arg("invoke")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn powershell_habits_get_the_exorun_form_and_nothing_is_sent() {
    let sim = start().await;
    for (args, expected) in [
        // bash expanded an unquoted `-Name:$false` to `-Name:`.
        (
            &["Set-Mailbox", "room1", "-HiddenFromAddressListsEnabled:"][..],
            "-HiddenFromAddressListsEnabled: has nothing after the colon: in bash an unquoted $false becomes nothing; write -HiddenFromAddressListsEnabled:'$false' in single quotes, or -HiddenFromAddressListsEnabled:false",
        ),
        (
            &["Set-Mailbox", "room1", "-Office:"],
            "-Office: has nothing after the colon: in bash an unquoted $word (such as $null) becomes nothing; write it in single quotes, e.g. -Office:'$null'",
        ),
        (
            &["Set-Mailbox", "room1", "-Office", "x", "-WhatIf"],
            "-WhatIf is PowerShell's rehearsal: exorun's is --dry-run",
        ),
        (
            &["Set-Mailbox", "room1", "-Office", "x", "-Confirm"],
            "exorun never asks before a change",
        ),
        (
            // `-Confirm:$false` unquoted in bash.
            &["Set-Mailbox", "room1", "-Office", "x", "-Confirm:"],
            "-Confirm: has nothing after the colon: in bash an unquoted $false becomes nothing; write -Confirm:'$false'",
        ),
        (
            &["Set-Mailbox", "room1", "-Office", "x", "--dryrun"],
            "'--dryrun' is not an option: did you mean --dry-run?",
        ),
        (
            &["Set-Mailbox", "room1", "-Office", "x", "--whatif"],
            "'--whatif' is not an option: did you mean --dry-run?",
        ),
        (
            // `Get-Mailbox ann@contoso.com, bob@contoso.com` split by bash at the space.
            &[
                "Get-Recipient",
                "-Identity",
                "ann@contoso.com,",
                "bob@contoso.com",
            ],
            "-Identity has a list that ends with a comma ('ann@contoso.com,'): bash splits `a, b` at the space into two arguments; write the list without spaces (a,b), or quote it whole ('a, b')",
        ),
        (
            &["Get-Mailbox -Identity ann"],
            "'Get-Mailbox -Identity ann' is a whole command line in one argument: split it, as in `exorun invoke Get-Mailbox -Identity ann`",
        ),
        (
            &[
                "--dry-run",
                "Set-Mailbox",
                "room1",
                "-LitigationHoldDate",
                "next tuesday",
            ],
            "-LitigationHoldDate takes a date, not 'next tuesday': write 2026-12-31, 2026-12-31T17:00:00 (ISO 8601; Z or +01:00 for a zone) or 12/31/2026 5:00 PM (month first, as en-US)",
        ),
        (
            &[
                "--dry-run",
                "Set-Mailbox",
                "room1",
                "-LitigationHoldDate",
                "31/12/2026",
            ],
            "-LitigationHoldDate takes a date, not '31/12/2026'",
        ),
        (
            &["--dry-run", "Set-Mailbox", "room1", "-Type", "Shard"],
            "-Type takes one of Regular, Room, Equipment, Shared, Workspace, not 'Shard'",
        ),
        (
            &["--compliance", "Get-Mailbox"],
            "Get-Mailbox is an Exchange Online cmdlet, not a Security & Compliance one: leave out --compliance",
        ),
    ] {
        let (code, _, err) = invoke(&sim, args);
        assert_eq!(code, Some(2), "{args:?}: a usage error: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    assert!(
        sim.requests().await.iter().all(|e| e.cmdlet.is_none()),
        "no cmdlet was sent"
    );

    // The date forms PowerShell binds, and `-Confirm:$false`, which exorun need not be told.
    for date in [
        "2026-12-31",
        "2026-12-31T17:00:00Z",
        "2026-12-31 17:00",
        "12/31/2026",
        "12/31/2026 5:00 PM",
    ] {
        let (code, _, err) = invoke(
            &sim,
            &[
                "--dry-run",
                "Set-Mailbox",
                "room1",
                "-LitigationHoldDate",
                date,
            ],
        );
        assert_eq!(code, Some(0), "{date}: {err}");
    }
    let (code, _, err) = invoke(
        &sim,
        &[
            "--dry-run",
            "Set-Mailbox",
            "room1",
            "-Type",
            "shared",
            "-Confirm:$false",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("-Confirm:$false is left out: exorun never asks before a change"),
        "{err}"
    );
    assert!(
        sim.requests().await.iter().all(|e| e.cmdlet.is_none()),
        "a dry run sends no change"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paging_cursor_that_expires_mid_stream_is_named_with_the_rows_written() {
    let sim = crate::support::start_with(|c| c.scenario.tenants[0].mailboxes = 250).await;
    // Cursors that expire at once, as after a reader slower than Exchange's 30 minutes.
    sim.put_control("faults", serde_json::json!({"cursor_ttl_secs": 0}))
        .await;
    let (code, out, err) = invoke(
        &sim,
        &[
            "--page-size",
            "100",
            "Get-Mailbox",
            "-ResultSize",
            "Unlimited",
            "--output",
            "jsonl",
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(out.lines().count(), 100, "the first page was written");
    assert!(
        err.contains(
            "Get-Mailbox stopped after 100 rows in 1 page were written: the output is incomplete"
        ) && err.contains("the paging cursor expired before the next page was read")
            && err.contains("Expired or Invalid pagination request")
            && err.contains("keeps a next-page link for 30 minutes")
            && err.contains("fix: run it again"),
        "{err}"
    );
    assert!(!err.contains("refused its parameters"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_and_errors_piped_into_a_reader_that_stops_end_quietly() {
    let sim = start().await;
    // `exorun invoke … 2>&1 | head -1`: both streams go to a reader that has gone away.
    for args in [
        &["Get-Mailbox", "-ResultSize", "5", "-ErrorAction", "Stop"][..],
        &["Get-Mailbox", "-ResultSize", "5", "--output", "json"],
    ] {
        let mut child = exorun(&sim)
            .args(pfx_flags(&sim, "exorun-admin"))
            .arg("invoke")
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: no panic (101)");
    }
}
