//! Every cmdlet once over HTTPS, as a client would call it, with its effect read back.

use serde_json::{Value, json};

use crate::support::{TestSim, start};

fn first(rows: &[Value], key: &str) -> String {
    rows[0][key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {}", rows[0]))
        .to_string()
}

async fn ok(sim: &TestSim, token: &str, cmdlet: &str, params: Value) -> Vec<Value> {
    sim.rows(token, cmdlet, params).await
}

#[tokio::test]
async fn reading_cmdlets_return_exchange_shaped_rows() {
    let sim = start().await;
    let token = sim.admin_token().await;

    let mailboxes = ok(
        &sim,
        &token,
        "Get-Mailbox",
        json!({"RecipientTypeDetails": "UserMailbox", "ResultSize": 3}),
    )
    .await;
    let upn = first(&mailboxes, "UserPrincipalName");
    let alias = first(&mailboxes, "Alias");
    let guid = first(&mailboxes, "Guid");
    let dn = first(&mailboxes, "DistinguishedName");
    for identity in [&upn, &alias, &guid, &dn, &first(&mailboxes, "Name")] {
        let found = ok(&sim, &token, "Get-Mailbox", json!({"Identity": identity})).await;
        assert_eq!(first(&found, "Guid"), guid, "{identity}");
    }

    let exo = ok(&sim, &token, "Get-EXOMailbox", json!({"Identity": upn})).await;
    assert!(
        exo[0].get("UserPrincipalName").is_some() && exo[0].get("ProhibitSendQuota").is_none(),
        "Minimum set"
    );
    let exo = ok(
        &sim,
        &token,
        "Get-EXOMailbox",
        json!({"Identity": upn, "PropertySets": ["Minimum", "Quota"]}),
    )
    .await;
    assert!(exo[0].get("ProhibitSendQuota").is_some());

    let stats = ok(
        &sim,
        &token,
        "Get-MailboxStatistics",
        json!({"Identity": upn}),
    )
    .await;
    assert!(first(&stats, "TotalItemSize").ends_with(" bytes)"));
    assert!(stats[0]["ItemCount"].is_number());

    let recipients = ok(
        &sim,
        &token,
        "Get-Recipient",
        json!({"ResultSize": "Unlimited"}),
    )
    .await;
    assert_eq!(recipients.len(), sim.info().tenants[0].recipients);
    let contacts = ok(
        &sim,
        &token,
        "Get-Recipient",
        json!({"Filter": "RecipientTypeDetails -eq 'MailContact'", "ResultSize": "Unlimited"}),
    )
    .await;
    assert_eq!(
        contacts.len(),
        ok(
            &sim,
            &token,
            "Get-MailContact",
            json!({"ResultSize": "Unlimited"})
        )
        .await
        .len()
    );
    let exo_recipient = ok(&sim, &token, "Get-EXORecipient", json!({"Identity": upn})).await;
    assert_eq!(first(&exo_recipient, "PrimarySmtpAddress"), upn);
    let users = ok(&sim, &token, "Get-User", json!({"Identity": upn})).await;
    assert_eq!(first(&users, "UserPrincipalName"), upn);

    let groups = ok(
        &sim,
        &token,
        "Get-DistributionGroup",
        json!({"ResultSize": 1}),
    )
    .await;
    let group = first(&groups, "PrimarySmtpAddress");
    let members = ok(
        &sim,
        &token,
        "Get-DistributionGroupMember",
        json!({"Identity": group}),
    )
    .await;
    assert!(!members.is_empty());

    let permissions = ok(
        &sim,
        &token,
        "Get-MailboxPermission",
        json!({"Identity": upn}),
    )
    .await;
    assert_eq!(first(&permissions, "User"), "NT AUTHORITY\\SELF");
    let send_as = ok(
        &sim,
        &token,
        "Get-RecipientPermission",
        json!({"Identity": upn}),
    )
    .await;
    assert!(!send_as.is_empty());
    let reply = ok(
        &sim,
        &token,
        "Get-MailboxAutoReplyConfiguration",
        json!({"Identity": upn}),
    )
    .await;
    assert!(reply[0]["AutoReplyState"].is_string());

    let org = ok(&sim, &token, "Get-OrganizationConfig", json!({})).await;
    assert_eq!(first(&org, "Name"), "contoso.onmicrosoft.com");
    let domains = ok(&sim, &token, "Get-AcceptedDomain", json!({})).await;
    let names: Vec<&str> = domains
        .iter()
        .filter_map(|d| d["DomainName"].as_str())
        .collect();
    assert_eq!(names, ["contoso.onmicrosoft.com", "contoso.com"]);
}

#[tokio::test]
async fn changing_cmdlets_persist_for_the_life_of_the_process() {
    let sim = start().await;
    let token = sim.admin_token().await;
    let users = ok(
        &sim,
        &token,
        "Get-Mailbox",
        json!({"RecipientTypeDetails": "UserMailbox", "ResultSize": 2}),
    )
    .await;
    let (owner, delegate) = (
        first(&users, "UserPrincipalName"),
        users[1]["UserPrincipalName"].as_str().unwrap().to_string(),
    );

    ok(
        &sim,
        &token,
        "New-MailContact",
        json!({"Name": "Pat Partner", "ExternalEmailAddress": "pat@partner.example"}),
    )
    .await;
    let found = ok(
        &sim,
        &token,
        "Get-MailContact",
        json!({"Identity": "pat@partner.example"}),
    )
    .await;
    assert_eq!(
        first(&found, "ExternalEmailAddress"),
        "SMTP:pat@partner.example"
    );
    let duplicate = sim
        .invoke(
            &token,
            "New-MailContact",
            json!({"Name": "Pat Partner", "ExternalEmailAddress": "pat2@partner.example"}),
        )
        .await;
    assert_eq!(duplicate.status(), 400);
    ok(
        &sim,
        &token,
        "Remove-MailContact",
        json!({"Identity": "Pat Partner", "Confirm": false}),
    )
    .await;
    assert_eq!(
        sim.invoke(
            &token,
            "Get-MailContact",
            json!({"Identity": "Pat Partner"})
        )
        .await
        .status(),
        404
    );

    ok(&sim, &token, "Add-MailboxPermission", json!({"Identity": owner, "User": delegate, "AccessRights": ["FullAccess"], "InheritanceType": "All"})).await;
    let grants = ok(
        &sim,
        &token,
        "Get-MailboxPermission",
        json!({"Identity": owner, "User": delegate}),
    )
    .await;
    assert_eq!(grants[0]["AccessRights"], json!(["FullAccess"]));
    assert_eq!(grants[0]["IsInherited"], false);
    ok(&sim, &token, "Remove-MailboxPermission", json!({"Identity": owner, "User": delegate, "AccessRights": ["FullAccess"], "Confirm": false})).await;
    assert!(
        ok(
            &sim,
            &token,
            "Get-MailboxPermission",
            json!({"Identity": owner, "User": delegate})
        )
        .await
        .is_empty()
    );

    ok(
        &sim,
        &token,
        "Add-RecipientPermission",
        json!({"Identity": owner, "Trustee": delegate, "AccessRights": "SendAs", "Confirm": false}),
    )
    .await;
    let send_as = ok(
        &sim,
        &token,
        "Get-RecipientPermission",
        json!({"Identity": owner, "Trustee": delegate}),
    )
    .await;
    assert_eq!(send_as.len(), 1);
    ok(
        &sim,
        &token,
        "Remove-RecipientPermission",
        json!({"Identity": owner, "Trustee": delegate, "AccessRights": "SendAs", "Confirm": false}),
    )
    .await;

    ok(&sim, &token, "Set-MailboxAutoReplyConfiguration", json!({
        "Identity": owner, "AutoReplyState": "Scheduled", "InternalMessage": "Away", "ExternalMessage": "Away",
        "ExternalAudience": "Known", "StartTime": "2030-01-01T00:00:00Z", "EndTime": "2030-01-08T00:00:00Z",
    }))
    .await;
    let reply = ok(
        &sim,
        &token,
        "Get-MailboxAutoReplyConfiguration",
        json!({"Identity": owner}),
    )
    .await;
    assert_eq!(
        (
            first(&reply, "AutoReplyState"),
            first(&reply, "ExternalAudience")
        ),
        ("Scheduled".into(), "Known".into())
    );
    assert!(first(&reply, "StartTime").starts_with("2030-01-01T00:00:00"));

    let group = first(
        &ok(
            &sim,
            &token,
            "Get-DistributionGroup",
            json!({"ResultSize": 1}),
        )
        .await,
        "Name",
    );
    let contact = first(
        &ok(&sim, &token, "Get-MailContact", json!({"ResultSize": 1})).await,
        "Name",
    );
    let before = ok(
        &sim,
        &token,
        "Get-DistributionGroupMember",
        json!({"Identity": group}),
    )
    .await
    .len();
    let add = json!({"Identity": group, "Member": contact});
    let already_member = sim
        .invoke(
            &token,
            "Get-DistributionGroupMember",
            json!({"Identity": group}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap()["value"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["Name"] == contact.as_str());
    if already_member {
        ok(
            &sim,
            &token,
            "Remove-DistributionGroupMember",
            json!({"Identity": group, "Member": contact, "Confirm": false}),
        )
        .await;
    }
    ok(&sim, &token, "Add-DistributionGroupMember", add.clone()).await;
    let after = ok(
        &sim,
        &token,
        "Get-DistributionGroupMember",
        json!({"Identity": group}),
    )
    .await;
    assert_eq!(
        after.len(),
        if already_member { before } else { before + 1 }
    );
    let again = sim.invoke(&token, "Add-DistributionGroupMember", add).await;
    assert_eq!(again.status(), 400);
    let body: Value = again.json().await.unwrap();
    assert!(
        body["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("MemberAlreadyExistsException")
    );
}
