//! grant-mailbox-access: only the missing grants, once; a dry run or someone missing changes
//! nothing.

use serde_json::json;

use super::{changes, failure, get, holds, leaver, sent_since, tenant, text};
use crate::runtime::{connect, invoked, load, rehearse, run, summary};

/// The address of `user`'s manager.
async fn manager_of(connection: &exorun::Connection, user: &serde_json::Value) -> String {
    let manager = get(
        connection,
        "Get-Recipient",
        json!({"Identity": text(user, "Manager")}),
    )
    .await;
    text(&manager[0], "PrimarySmtpAddress")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_what_is_missing_once() {
    let sim = tenant(30).await;
    let connection = connect(&sim, |_| {});
    let user = leaver(&connection).await;
    let mailbox = text(&user, "PrimarySmtpAddress");
    let manager = manager_of(&connection, &user).await;
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
async fn in_a_dry_run_or_for_someone_missing_sends_nothing() {
    let sim = tenant(20).await;
    let connection = connect(&sim, |_| {});
    let user = leaver(&connection).await;
    let mailbox = text(&user, "PrimarySmtpAddress");
    let trustee = manager_of(&connection, &user).await;
    let plugin = load("grant-mailbox-access").await;
    let before = invoked(&sim).await.len();
    let (outcome, rehearsed) = rehearse(
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
    let recorded: Vec<String> = rehearsed.iter().map(|c| c.cmdlet.clone()).collect();
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
