//! The offboarding plugins (`find-recipient`, `offboard-mailbox`, `grant-mailbox-access`,
//! `remove-group-member`, with `auto-reply`): on the runtime against exorun-sim with the real
//! built plugins, each one's work checked in the tenant afterwards, a second run that finds the
//! work done and sends no change (the emulator's request log), a dry run that sends none, and a
//! missing identity; then from the command line under the example policy
//! (`examples/policies/offboarding.toml`).

mod find_recipient;
mod grant_mailbox_access;
mod offboard_mailbox;
mod policy;
mod remove_group_member;
mod workflow;

use std::collections::BTreeSet;

use exorun::Connection;
use exorun::exchange::Surface;
use exorun::exchange::catalogue::{Catalogue, Lookup};
use exorun::runtime::{RunError, RunOutcome};
use serde_json::{Value, json};

use crate::runtime::{invoked, load, params};
use crate::support::{Sim, start_with};

/// A tenant of `mailboxes` mailboxes, the usual mix around them and four distribution groups.
async fn tenant(mailboxes: usize) -> Sim {
    start_with(|c| {
        c.scenario.tenants[0].mailboxes = mailboxes;
        c.scenario.tenants[0].distribution_groups = Some(4);
    })
    .await
}

/// Runs a cmdlet as the admin app, straight through the library; its rows.
async fn get(connection: &Connection, cmdlet: &str, parameters: Value) -> Vec<Value> {
    connection
        .exchange()
        .invoke(Surface::Exchange, cmdlet, params(parameters))
        .await
        .unwrap_or_else(|e| panic!("{cmdlet}: {e}"))
}

fn text(row: &Value, key: &str) -> String {
    row[key].as_str().unwrap_or_default().to_string()
}

/// A user mailbox that has a manager and is shown in the address lists: a leaver.
async fn leaver(connection: &Connection) -> Value {
    let visible: BTreeSet<String> = get(
        connection,
        "Get-Mailbox",
        json!({"RecipientTypeDetails": "UserMailbox", "Filter": "HiddenFromAddressListsEnabled -eq $false", "ResultSize": "Unlimited"}),
    )
    .await
    .iter()
    .map(|m| text(m, "UserPrincipalName"))
    .collect();
    let managed = get(
        connection,
        "Get-User",
        json!({"Filter": "Manager -ne $null", "RecipientTypeDetails": "UserMailbox", "ResultSize": "Unlimited"}),
    )
    .await;
    let user = managed
        .into_iter()
        .find(|u| visible.contains(&text(u, "UserPrincipalName")))
        .expect("the tenant has a visible user with a manager");
    let upn = text(&user, "UserPrincipalName");
    get(connection, "Get-Recipient", json!({"Identity": upn}))
        .await
        .remove(0)
}

/// The distribution groups `identity` is a direct member of, as (Guid, Name, address), read
/// group by group (not the way the plugins read them).
async fn groups_of(connection: &Connection, identity: &str) -> BTreeSet<(String, String, String)> {
    let guid = text(
        &get(connection, "Get-Recipient", json!({"Identity": identity})).await[0],
        "Guid",
    );
    let mut found = BTreeSet::new();
    for group in get(
        connection,
        "Get-DistributionGroup",
        json!({"ResultSize": "Unlimited"}),
    )
    .await
    {
        let members = get(
            connection,
            "Get-DistributionGroupMember",
            json!({"Identity": text(&group, "Guid"), "ResultSize": "Unlimited"}),
        )
        .await;
        if members.iter().any(|m| text(m, "Guid") == guid) {
            found.insert((
                text(&group, "Guid"),
                text(&group, "Name"),
                text(&group, "PrimarySmtpAddress"),
            ));
        }
    }
    found
}

/// Makes `member` a member of the first `n` distribution groups it is not in yet.
async fn join_groups(connection: &Connection, member: &str, n: usize) {
    let already = groups_of(connection, member).await;
    let groups = get(
        connection,
        "Get-DistributionGroup",
        json!({"ResultSize": "Unlimited"}),
    )
    .await;
    let outside = groups
        .iter()
        .filter(|g| !already.iter().any(|(guid, _, _)| *guid == text(g, "Guid")));
    for group in outside.take(n) {
        get(
            connection,
            "Add-DistributionGroupMember",
            json!({"Identity": text(group, "Guid"), "Member": member}),
        )
        .await;
    }
}

/// The cmdlets sent since the log had `from` entries.
async fn sent_since(sim: &Sim, from: usize) -> Vec<(String, Value)> {
    invoked(sim).await.into_iter().skip(from).collect()
}

/// The changing cmdlets among `sent`.
fn changes(sent: &[(String, Value)]) -> Vec<&(String, Value)> {
    sent.iter()
        .filter(|(cmdlet, _)| !cmdlet.starts_with("Get-"))
        .collect()
}

/// The plugin's failure text; the run must have failed in the plugin.
fn failure(outcome: Result<RunOutcome, RunError>) -> String {
    match outcome {
        Err(RunError::Plugin(message)) => message,
        other => panic!("expected the plugin to fail, got {other:?}"),
    }
}

/// Whether `trustee` holds `right` on `mailbox`, read back through the emulator.
async fn holds(connection: &Connection, mailbox: &str, trustee: &str, right: &str) -> bool {
    let (cmdlet, filter) = if right == "SendAs" {
        ("Get-RecipientPermission", "Trustee")
    } else {
        ("Get-MailboxPermission", "User")
    };
    get(
        connection,
        cmdlet,
        json!({"Identity": mailbox, filter: trustee}),
    )
    .await
    .iter()
    .any(|row| {
        row["AccessRights"]
            .as_array()
            .is_some_and(|rights| rights.iter().any(|r| r == right))
    })
}

/// The plugins the offboarding policy admits.
const OFFBOARDING: [&str; 5] = [
    "find-recipient",
    "offboard-mailbox",
    "auto-reply",
    "grant-mailbox-access",
    "remove-group-member",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_and_the_emulator_know_every_cmdlet_and_parameter_they_use() {
    let catalogue = Catalogue::get();
    for name in OFFBOARDING {
        let plugin = load(name).await;
        for cmdlet in &plugin.manifest().cmdlets {
            let what = format!("{name}: {}", cmdlet.name);
            // The catalogue types the values the policy gate checks.
            let known = catalogue
                .cmdlet(&cmdlet.name)
                .unwrap_or_else(|| panic!("{what}: not in the catalogue"));
            // The emulator runs it with these parameters.
            let served = exorun_sim::exchange::cmdlets::find(
                &cmdlet.name,
                exorun_sim::exchange::cmdlets::Surface::Exchange,
            )
            .unwrap_or_else(|| panic!("{what}: the emulator does not serve it"));
            for parameter in &cmdlet.parameters {
                assert!(
                    matches!(known.parameter(parameter), Lookup::Found(p) if p.name.eq_ignore_ascii_case(parameter)),
                    "{what} -{parameter}: not in the catalogue"
                );
                assert!(
                    served
                        .params
                        .iter()
                        .any(|p| p.eq_ignore_ascii_case(parameter)),
                    "{what} -{parameter}: the emulator does not take it"
                );
            }
        }
    }
}
