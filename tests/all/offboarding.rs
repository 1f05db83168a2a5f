//! The offboarding plugins (`find-recipient`, `offboard-mailbox`, `grant-mailbox-access`,
//! `remove-group-member`) on the runtime against exorun-sim with the real built plugins: each
//! one's work checked in the tenant afterwards, a second run that finds the work done and sends
//! no change (the emulator's request log), a dry run that sends none, and a missing identity.

use std::collections::BTreeSet;

use exorun::Connection;
use exorun::exchange::Surface;
use exorun::exchange::catalogue::{Catalogue, Lookup};
use exorun::runtime::{Record, RunError, RunOutcome};
use serde_json::{Value, json};

use crate::runtime::{connect, invoked, load, params, run, summary};
use crate::support::{Sim, start_with};

/// A tenant of `mailboxes` mailboxes, the usual mix around them and four distribution groups.
pub(crate) async fn tenant(mailboxes: usize) -> Sim {
    start_with(|c| {
        c.scenario.tenants[0].mailboxes = mailboxes;
        c.scenario.tenants[0].distribution_groups = Some(4);
    })
    .await
}

/// Runs a cmdlet as the admin app, straight through the library; its rows.
pub(crate) async fn get(connection: &Connection, cmdlet: &str, parameters: Value) -> Vec<Value> {
    connection
        .exchange()
        .invoke(Surface::Exchange, cmdlet, params(parameters))
        .await
        .unwrap_or_else(|e| panic!("{cmdlet}: {e}"))
}

pub(crate) fn text(row: &Value, key: &str) -> String {
    row[key].as_str().unwrap_or_default().to_string()
}

/// A user mailbox that has a manager and is shown in the address lists: a leaver.
pub(crate) async fn leaver(connection: &Connection) -> Value {
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
pub(crate) async fn groups_of(
    connection: &Connection,
    identity: &str,
) -> BTreeSet<(String, String, String)> {
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
pub(crate) async fn join_groups(connection: &Connection, member: &str, n: usize) {
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

/// The group records of find-recipient as (group, name, address).
fn group_records(records: &[Record]) -> BTreeSet<(String, String, String)> {
    records
        .iter()
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (field("group"), field("name"), field("primary_smtp_address"))
        })
        .collect()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_recipient_reports_the_user_its_manager_and_its_groups() {
    let sim = tenant(40).await;
    let connection = connect(&sim, |_| {});
    let user = leaver(&connection).await;
    let address = text(&user, "PrimarySmtpAddress");
    join_groups(&connection, &address, 2).await;
    let expected = groups_of(&connection, &address).await;
    assert!(expected.len() >= 2);
    let manager = get(
        &connection,
        "Get-Recipient",
        json!({"Identity": text(&user, "Manager")}),
    )
    .await
    .remove(0);

    let plugin = load("find-recipient").await;
    let before = invoked(&sim).await.len();
    let (outcome, records) = run(&plugin, &connection, json!({"identity": address})).await;
    let outcome = outcome.unwrap();
    assert_eq!(
        summary(&outcome),
        json!({
            "found": true,
            "identity": address,
            "primary_smtp_address": address,
            "display_name": text(&user, "DisplayName"),
            "recipient_type_details": "UserMailbox",
            "distinguished_name": text(&user, "DistinguishedName"),
            "manager": {
                "identity": text(&manager, "PrimarySmtpAddress"),
                "name": text(&manager, "Name"),
                "display_name": text(&manager, "DisplayName"),
                "primary_smtp_address": text(&manager, "PrimarySmtpAddress"),
            },
            "groups": expected.len(),
        })
    );
    assert_eq!(group_records(&records), expected, "one record per group");
    assert_eq!(outcome.records, expected.len() as u64);
    let sent = sent_since(&sim, before).await;
    let filter = format!("Members -eq '{}'", text(&user, "DistinguishedName"));
    assert!(
        sent.iter()
            .any(|(cmdlet, p)| cmdlet == "Get-DistributionGroup"
                && p["Filter"] == filter.as_str()
                && p["ResultSize"] == "Unlimited"),
        "the groups are found by the member's DN: {sent:?}"
    );
    assert!(changes(&sent).is_empty());

    // A department head has no manager.
    let (outcome, _) = run(
        &plugin,
        &connection,
        json!({"identity": text(&manager, "PrimarySmtpAddress")}),
    )
    .await;
    assert_eq!(summary(&outcome.unwrap())["manager"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_recipient_says_found_false_for_a_missing_recipient() {
    let sim = tenant(10).await;
    let connection = connect(&sim, |_| {});
    let plugin = load("find-recipient").await;
    let before = invoked(&sim).await.len();
    let (outcome, records) = run(
        &plugin,
        &connection,
        json!({"identity": "nobody@contoso.com"}),
    )
    .await;
    let summary = summary(&outcome.unwrap());
    assert_eq!(summary["found"], false);
    assert_eq!(summary["identity"], "nobody@contoso.com");
    assert_eq!(summary["groups"], 0);
    assert!(summary["primary_smtp_address"].is_null() && summary["manager"].is_null());
    assert!(records.is_empty());
    let sent = sent_since(&sim, before).await;
    assert_eq!(sent.len(), 1, "one Get-Recipient, nothing else: {sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offboard_mailbox_converts_and_hides_once() {
    let sim = tenant(30).await;
    let connection = connect(&sim, |_| {});
    let user = leaver(&connection).await;
    let address = text(&user, "PrimarySmtpAddress");
    let plugin = load("offboard-mailbox").await;
    let input =
        json!({"identity": address, "convert_to_shared": true, "hide_from_address_lists": true});

    let before = invoked(&sim).await.len();
    let (outcome, records) = run(&plugin, &connection, input.clone()).await;
    let outcome = outcome.unwrap();
    assert_eq!(
        summary(&outcome),
        json!({
            "identity": address,
            "primary_smtp_address": address,
            "changed": true,
            "dry_run": false,
            "changes": [
                {"property": "RecipientTypeDetails", "from": "UserMailbox", "to": "SharedMailbox"},
                {"property": "HiddenFromAddressListsEnabled", "from": false, "to": true},
            ],
        })
    );
    assert!(records.is_empty());
    let mailbox = get(&connection, "Get-Mailbox", json!({"Identity": address})).await;
    assert_eq!(mailbox[0]["RecipientTypeDetails"], "SharedMailbox");
    assert_eq!(mailbox[0]["HiddenFromAddressListsEnabled"], true);
    let sent = sent_since(&sim, before).await;
    assert_eq!(
        changes(&sent),
        [&(
            "Set-Mailbox".to_string(),
            json!({"Identity": address, "Type": "Shared", "HiddenFromAddressListsEnabled": true})
        )],
        "one Set-Mailbox with both changes"
    );

    // Again: it reads, finds both done, and sends nothing.
    let before = invoked(&sim).await.len();
    let (outcome, _) = run(&plugin, &connection, input).await;
    let summary_again = summary(&outcome.unwrap());
    assert_eq!(summary_again["changed"], false);
    assert_eq!(summary_again["changes"], json!([]));
    let sent = sent_since(&sim, before).await;
    assert!(changes(&sent).is_empty(), "{sent:?}");
    assert_eq!(sent.len(), 1, "only the Get-Mailbox: {sent:?}");

    // Only what is asked: hiding another user's mailbox does not convert it.
    let other = get(
        &connection,
        "Get-Mailbox",
        json!({"RecipientTypeDetails": "UserMailbox", "Filter": "HiddenFromAddressListsEnabled -eq $false", "ResultSize": 1}),
    )
    .await
    .remove(0);
    let other = text(&other, "PrimarySmtpAddress");
    let before = invoked(&sim).await.len();
    let (outcome, _) = run(
        &plugin,
        &connection,
        json!({"identity": other, "hide_from_address_lists": true}),
    )
    .await;
    assert_eq!(
        summary(&outcome.unwrap())["changes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let sent = sent_since(&sim, before).await;
    assert_eq!(
        changes(&sent)[0].1,
        json!({"Identity": other, "HiddenFromAddressListsEnabled": true})
    );
    let mailbox = get(&connection, "Get-Mailbox", json!({"Identity": other})).await;
    assert_eq!(mailbox[0]["RecipientTypeDetails"], "UserMailbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offboard_mailbox_refuses_a_missing_or_resource_mailbox_and_sends_nothing() {
    let sim = tenant(60).await;
    let connection = connect(&sim, |_| {});
    let plugin = load("offboard-mailbox").await;
    let before = invoked(&sim).await.len();
    let (outcome, _) = run(
        &plugin,
        &connection,
        json!({"identity": "nobody@contoso.com", "convert_to_shared": true}),
    )
    .await;
    let message = failure(outcome);
    assert!(
        message.contains("no mailbox 'nobody@contoso.com' in this tenant")
            && message.contains("nothing was changed"),
        "{message}"
    );
    let room = get(
        &connection,
        "Get-Mailbox",
        json!({"RecipientTypeDetails": "RoomMailbox", "ResultSize": 1}),
    )
    .await
    .remove(0);
    let (outcome, _) = run(
        &plugin,
        &connection,
        json!({"identity": text(&room, "PrimarySmtpAddress"), "convert_to_shared": true, "hide_from_address_lists": true}),
    )
    .await;
    let message = failure(outcome);
    assert!(
        message.contains("is a RoomMailbox mailbox, not a user mailbox"),
        "{message}"
    );
    let sent = sent_since(&sim, before).await;
    assert!(changes(&sent).is_empty(), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offboard_mailbox_in_a_dry_run_says_what_it_would_change_and_sends_nothing() {
    let sim = tenant(30).await;
    let connection = connect(&sim, |s| s.dry_run = Some(true));
    let user = leaver(&connection).await;
    let address = text(&user, "PrimarySmtpAddress");
    let plugin = load("offboard-mailbox").await;
    let before = invoked(&sim).await.len();
    let (outcome, _) = run(
        &plugin,
        &connection,
        json!({"identity": address, "convert_to_shared": true, "hide_from_address_lists": true}),
    )
    .await;
    let summary = summary(&outcome.unwrap());
    assert_eq!(
        (&summary["changed"], &summary["dry_run"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(summary["changes"][0]["to"], "SharedMailbox");
    assert_eq!(
        summary["changes"][1]["property"],
        "HiddenFromAddressListsEnabled"
    );
    let recorded = connection.exchange().dry_run_log();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].cmdlet, "Set-Mailbox");
    assert_eq!(recorded[0].params["Type"], "Shared");
    let sent = sent_since(&sim, before).await;
    assert!(changes(&sent).is_empty(), "{sent:?}");
    let mailbox = get(&connection, "Get-Mailbox", json!({"Identity": address})).await;
    assert_eq!(mailbox[0]["RecipientTypeDetails"], "UserMailbox");
    assert_eq!(mailbox[0]["HiddenFromAddressListsEnabled"], false);
}

/// Whether `trustee` holds `right` on `mailbox`, read back through the emulator.
pub(crate) async fn holds(
    connection: &Connection,
    mailbox: &str,
    trustee: &str,
    right: &str,
) -> bool {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_mailbox_access_grants_what_is_missing_once() {
    let sim = tenant(30).await;
    let connection = connect(&sim, |_| {});
    let user = leaver(&connection).await;
    let mailbox = text(&user, "PrimarySmtpAddress");
    let manager = text(
        &get(
            &connection,
            "Get-Recipient",
            json!({"Identity": text(&user, "Manager")}),
        )
        .await[0],
        "PrimarySmtpAddress",
    );
    assert!(!holds(&connection, &mailbox, &manager, "FullAccess").await);
    let plugin = load("grant-mailbox-access").await;
    let input = json!({"identity": mailbox, "trustee": manager, "access": ["FullAccess"], "send_as": true, "automapping": false});

    let before = invoked(&sim).await.len();
    let (outcome, records) = run(&plugin, &connection, input.clone()).await;
    assert_eq!(
        summary(&outcome.unwrap()),
        json!({
            "identity": mailbox,
            "trustee": manager,
            "changed": true,
            "dry_run": false,
            "granted": ["FullAccess", "SendAs"],
            "already_granted": [],
        })
    );
    assert!(records.is_empty());
    assert!(holds(&connection, &mailbox, &manager, "FullAccess").await);
    assert!(holds(&connection, &mailbox, &manager, "SendAs").await);
    let sent = sent_since(&sim, before).await;
    assert_eq!(
        changes(&sent),
        [
            &(
                "Add-MailboxPermission".to_string(),
                json!({"Identity": mailbox, "User": manager, "AccessRights": ["FullAccess"], "AutoMapping": false})
            ),
            &(
                "Add-RecipientPermission".to_string(),
                json!({"Identity": mailbox, "Trustee": manager, "AccessRights": ["SendAs"], "Confirm": false})
            ),
        ]
    );

    // Again: both grants are there; nothing is sent.
    let before = invoked(&sim).await.len();
    let (outcome, _) = run(&plugin, &connection, input).await;
    let again = summary(&outcome.unwrap());
    assert_eq!(again["changed"], false);
    assert_eq!(again["granted"], json!([]));
    assert_eq!(again["already_granted"], json!(["FullAccess", "SendAs"]));
    let sent = sent_since(&sim, before).await;
    assert!(changes(&sent).is_empty(), "{sent:?}");

    // Only the missing right is added: FullAccess is there, ReadPermission is not.
    let before = invoked(&sim).await.len();
    let (outcome, _) = run(
        &plugin,
        &connection,
        json!({"identity": mailbox, "trustee": manager, "access": ["FullAccess", "ReadPermission"]}),
    )
    .await;
    let partial = summary(&outcome.unwrap());
    assert_eq!(partial["granted"], json!(["ReadPermission"]));
    assert_eq!(partial["already_granted"], json!(["FullAccess"]));
    let sent = sent_since(&sim, before).await;
    assert_eq!(changes(&sent).len(), 1);
    assert_eq!(
        changes(&sent)[0].1["AccessRights"],
        json!(["ReadPermission"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_mailbox_access_in_a_dry_run_or_for_someone_missing_sends_nothing() {
    let sim = tenant(20).await;
    let connection = connect(&sim, |s| s.dry_run = Some(true));
    let user = leaver(&connection).await;
    let mailbox = text(&user, "PrimarySmtpAddress");
    let trustee = text(
        &get(
            &connection,
            "Get-Recipient",
            json!({"Identity": text(&user, "Manager")}),
        )
        .await[0],
        "PrimarySmtpAddress",
    );
    let plugin = load("grant-mailbox-access").await;
    let before = invoked(&sim).await.len();
    let (outcome, _) = run(
        &plugin,
        &connection,
        json!({"identity": mailbox, "trustee": trustee, "send_as": true}),
    )
    .await;
    let summary = summary(&outcome.unwrap());
    assert_eq!(
        (&summary["changed"], &summary["dry_run"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(summary["granted"], json!(["FullAccess", "SendAs"]));
    let recorded: Vec<String> = connection
        .exchange()
        .dry_run_log()
        .iter()
        .map(|c| c.cmdlet.clone())
        .collect();
    assert_eq!(
        recorded,
        ["Add-MailboxPermission", "Add-RecipientPermission"]
    );
    assert!(!holds(&connection, &mailbox, &trustee, "FullAccess").await);

    for (input, expected) in [
        (
            json!({"identity": "nobody@contoso.com", "trustee": trustee}),
            "no mailbox 'nobody@contoso.com'",
        ),
        (
            json!({"identity": mailbox, "trustee": "ghost@contoso.com"}),
            "no trustee 'ghost@contoso.com'",
        ),
    ] {
        let message = failure(run(&plugin, &connection, input).await.0);
        assert!(
            message.contains(expected) && message.contains("nothing was granted"),
            "{message}"
        );
    }
    let sent = sent_since(&sim, before).await;
    assert!(changes(&sent).is_empty(), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_group_member_removes_once_and_a_member_gone_is_no_error() {
    let sim = tenant(30).await;
    let connection = connect(&sim, |_| {});
    let user = leaver(&connection).await;
    let member = text(&user, "PrimarySmtpAddress");
    join_groups(&connection, &member, 1).await;
    let (group, group_name, _) = groups_of(&connection, &member).await.pop_first().unwrap();
    let plugin = load("remove-group-member").await;
    let input = json!({"group": group, "member": member});

    let before = invoked(&sim).await.len();
    let (outcome, records) = run(&plugin, &connection, input.clone()).await;
    assert_eq!(
        summary(&outcome.unwrap()),
        json!({
            "group": group,
            "member": member,
            "group_name": group_name,
            "removed": true,
            "dry_run": false,
            "detail": format!("'{member}' was removed from '{group_name}'"),
        })
    );
    assert!(records.is_empty());
    assert!(
        !groups_of(&connection, &member)
            .await
            .iter()
            .any(|(g, _, _)| *g == group)
    );
    let sent = sent_since(&sim, before).await;
    assert_eq!(
        changes(&sent),
        [&(
            "Remove-DistributionGroupMember".to_string(),
            json!({"Identity": group, "Member": member, "BypassSecurityGroupManagerCheck": true, "Confirm": false})
        )]
    );

    // Again: not a member any more, so nothing is sent and it is no error.
    let before = invoked(&sim).await.len();
    let (outcome, _) = run(&plugin, &connection, input).await;
    let again = summary(&outcome.unwrap());
    assert_eq!(again["removed"], false);
    assert_eq!(
        again["detail"],
        format!("'{member}' is not a member of '{group_name}'")
    );
    // A member that no longer exists at all is not in any group either.
    let (outcome, _) = run(
        &plugin,
        &connection,
        json!({"group": group, "member": "gone@contoso.com"}),
    )
    .await;
    let gone = summary(&outcome.unwrap());
    assert_eq!(gone["removed"], false);
    assert!(
        gone["detail"]
            .as_str()
            .unwrap()
            .contains("there is no recipient 'gone@contoso.com' any more")
    );
    // A group that does not exist is an error.
    let message = failure(
        run(
            &plugin,
            &connection,
            json!({"group": "no-such-group@contoso.com", "member": member}),
        )
        .await
        .0,
    );
    assert!(
        message.contains("no distribution group 'no-such-group@contoso.com'"),
        "{message}"
    );
    let sent = sent_since(&sim, before).await;
    assert!(changes(&sent).is_empty(), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_group_member_in_a_dry_run_sends_nothing() {
    let sim = tenant(20).await;
    let connection = connect(&sim, |s| s.dry_run = Some(true));
    let user = leaver(&connection).await;
    let member = text(&user, "PrimarySmtpAddress");
    // Joining a group changes the tenant, so it goes through a connection that sends.
    join_groups(&connect(&sim, |_| {}), &member, 1).await;
    let (group, group_name, _) = groups_of(&connection, &member).await.pop_first().unwrap();
    let plugin = load("remove-group-member").await;
    let before = invoked(&sim).await.len();
    let (outcome, _) = run(
        &plugin,
        &connection,
        json!({"group": group, "member": member}),
    )
    .await;
    let summary = summary(&outcome.unwrap());
    assert_eq!(
        (&summary["removed"], &summary["dry_run"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(
        summary["detail"],
        format!("'{member}' would be removed from '{group_name}' (dry run: recorded, not sent)")
    );
    assert_eq!(connection.exchange().dry_run_log().len(), 1);
    let sent = sent_since(&sim, before).await;
    assert!(changes(&sent).is_empty(), "{sent:?}");
    assert!(
        groups_of(&connection, &member)
            .await
            .iter()
            .any(|(g, _, _)| *g == group),
        "still a member"
    );
}
