//! remove-group-member: removed once; a member gone is no error; a dry run sends nothing.

use serde_json::json;

use super::{changes, failure, groups_of, join_groups, leaver, sent_since, tenant, text};
use crate::runtime::{connect, invoked, load, rehearse, run, summary};

/// A leaver's address, and the id and name of the one group they were put in.
async fn leaver_in_a_group(connection: &exorun::Connection) -> (String, String, String) {
    let user = leaver(connection).await;
    let member = text(&user, "PrimarySmtpAddress");
    join_groups(connection, &member, 1).await;
    let (group, group_name, _) = groups_of(connection, &member).await.pop_first().unwrap();
    (member, group, group_name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removes_once_and_a_member_gone_is_no_error() {
    let sim = tenant(30).await;
    let connection = connect(&sim, |_| {});
    let (member, group, group_name) = leaver_in_a_group(&connection).await;
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
async fn in_a_dry_run_sends_nothing() {
    let sim = tenant(20).await;
    let connection = connect(&sim, |_| {});
    let (member, group, group_name) = leaver_in_a_group(&connection).await;
    let plugin = load("remove-group-member").await;
    let before = invoked(&sim).await.len();
    let (outcome, rehearsed) = rehearse(
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
    assert_eq!(rehearsed.len(), 1);
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
