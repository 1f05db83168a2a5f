//! `examples/workflows/offboard-user.toml` as an admin runs it: a dry run that prints the plan
//! and changes nothing, then the real run, read back in the tenant, then a second run that finds
//! the work done.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{get, groups_of, join_groups, leaver, tenant, text};
use crate::cli::{exorun, pfx_flags, run};
use crate::runtime::{connect, invoked};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/workflows/offboard-user.toml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_offboards_a_leaver_after_a_dry_run_shows_the_plan() {
    let sim = tenant(20).await;
    let connection = connect(&sim, |_| {});
    let user = leaver(&connection).await;
    let address = text(&user, "PrimarySmtpAddress");
    join_groups(&connection, &address, 2).await;
    let groups = groups_of(&connection, &address).await.len();
    assert!(groups >= 2);
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins");
    let (ok, policy, err) = run(exorun(&sim).args(["policy", "init"]).args(
        [
            "find-recipient",
            "offboard-mailbox",
            "auto-reply",
            "grant-mailbox-access",
            "remove-group-member",
        ]
        .map(|p| plugins.join(format!("{p}.wasm"))),
    ));
    assert!(ok, "{err}");
    let policy = sim.write("policy.toml", policy);
    let offboard = |extra: &[&str]| {
        let mut command = exorun(&sim);
        command
            .args(pfx_flags(&sim, "exorun-admin"))
            .args(["workflow", "run"])
            .arg(example())
            .args(["--input", &format!("user={address}"), "--policy"])
            .arg(&policy)
            .arg("--runs-dir")
            .arg(sim.dir.path().join("runs"))
            .args(extra);
        command
    };

    let before = invoked(&sim).await.len();
    let (ok, out, err) = run(&mut offboard(&["--dry-run"]));
    assert!(ok, "{out}\n{err}");
    for cmdlet in [
        "Set-Mailbox",
        "Set-MailboxAutoReplyConfiguration",
        "Add-MailboxPermission",
        "Remove-DistributionGroupMember",
    ] {
        assert!(
            out.contains(&format!(": {cmdlet} {{")),
            "{cmdlet} in the plan: {out}"
        );
    }
    assert!(
        out.contains(&format!("Plan: {} changes would be made", 3 + groups)),
        "{out}"
    );
    let changed: Vec<(String, Value)> = invoked(&sim)
        .await
        .into_iter()
        .skip(before)
        .filter(|(cmdlet, _)| !cmdlet.starts_with("Get-"))
        .collect();
    assert!(changed.is_empty(), "a dry run changes nothing: {changed:?}");

    let (ok, out, err) = run(&mut offboard(&[]));
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains(&format!("output groups_left = {groups}")),
        "{out}"
    );
    let mailbox = get(&connection, "Get-Mailbox", json!({"Identity": address})).await;
    assert_eq!(mailbox[0]["RecipientTypeDetails"], "SharedMailbox");
    assert_eq!(mailbox[0]["HiddenFromAddressListsEnabled"], true);
    assert!(groups_of(&connection, &address).await.is_empty());

    // Again: everything is already so; only the auto-reply, which always sets, is sent.
    let before = invoked(&sim).await.len();
    let (ok, out, err) = run(&mut offboard(&[]));
    assert!(ok, "{out}\n{err}");
    let changed: Vec<String> = invoked(&sim)
        .await
        .into_iter()
        .skip(before)
        .map(|(cmdlet, _)| cmdlet)
        .filter(|cmdlet| !cmdlet.starts_with("Get-"))
        .collect();
    assert_eq!(changed, ["Set-MailboxAutoReplyConfiguration"], "{out}");
}
