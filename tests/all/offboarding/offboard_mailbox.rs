//! offboard-mailbox: converted and hidden once, only what is asked; a missing or resource
//! mailbox and a dry run change nothing.

use serde_json::json;

use super::{changes, failure, get, leaver, sent_since, tenant, text};
use crate::runtime::{connect, invoked, load, rehearse, run, summary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converts_and_hides_once() {
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
async fn refuses_a_missing_or_resource_mailbox_and_sends_nothing() {
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
async fn in_a_dry_run_says_what_it_would_change_and_sends_nothing() {
    let sim = tenant(30).await;
    let connection = connect(&sim, |_| {});
    let user = leaver(&connection).await;
    let address = text(&user, "PrimarySmtpAddress");
    let plugin = load("offboard-mailbox").await;
    let before = invoked(&sim).await.len();
    let (outcome, rehearsed) = rehearse(
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
    let recorded = rehearsed;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].cmdlet, "Set-Mailbox");
    assert_eq!(recorded[0].params["Type"], "Shared");
    let sent = sent_since(&sim, before).await;
    assert!(changes(&sent).is_empty(), "{sent:?}");
    let mailbox = get(&connection, "Get-Mailbox", json!({"Identity": address})).await;
    assert_eq!(mailbox[0]["RecipientTypeDetails"], "UserMailbox");
    assert_eq!(mailbox[0]["HiddenFromAddressListsEnabled"], false);
}
