//! find-recipient: the user, its manager and its groups; a missing recipient is `found: false`.

use std::collections::BTreeSet;

use exorun::runtime::Record;
use serde_json::{Value, json};

use super::{changes, failure, get, groups_of, join_groups, leaver, sent_since, tenant, text};
use crate::runtime::{connect, invoked, load, run, summary};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_the_user_its_manager_and_its_groups() {
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
            "failed": 0,
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
async fn says_found_false_for_a_missing_recipient() {
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
async fn refuses_an_identity_with_a_wildcard_before_asking_exchange() {
    // Exchange's -Identity reads * as a wildcard: `*` would name every recipient, and the first
    // of them would be offboarded.
    let sim = tenant(10).await;
    let connection = connect(&sim, |_| {});
    let plugin = load("find-recipient").await;
    let before = invoked(&sim).await.len();
    for identity in ["*", "ann*@contoso.com"] {
        let (outcome, records) = run(&plugin, &connection, json!({"identity": identity})).await;
        assert_eq!(
            failure(outcome),
            format!(
                "`identity` '{identity}' holds *, which Exchange's -Identity reads as a wildcard that can name many recipients: name one recipient by its address, UPN, alias or GUID"
            )
        );
        assert!(records.is_empty());
    }
    assert!(
        sent_since(&sim, before).await.is_empty(),
        "nothing was asked"
    );
}
