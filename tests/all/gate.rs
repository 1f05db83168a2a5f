//! The policy gate against exorun-sim, attacked by the hostile plugin: a call that names a
//! parameter twice in any spelling (case, alias, prefix, a look-alike letter) or gives it an
//! `@odata.type` of another shape is refused and never sent; what is sent is exactly the
//! canonical, checked parameters (the catalogue's spelling, one entry each). Every recipient a
//! change names (a group's member, a list's items, a hashtable's Add and Remove, an address) is
//! read once and checked against the scope, and the change names the objects read by their Guid.

use std::sync::Arc;

use exorun::Connection;
use exorun::changes::{ChangeJournal, ChangeResult, MemoryJournal};
use exorun::exchange::Surface;
use exorun::plugin::manifest::Manifest;
use exorun::policy::gate::{Admitted, Refusal};
use exorun::policy::{Gate, Grant, Policy};
use exorun::runtime::{RunError, RunOutcome};
use serde_json::{Value, json};

use crate::runtime::{connect, invoked, load, run_with, summary};
use crate::support::{Sim, start_with};

/// A tenant with user and shared mailboxes, and the hostile plugin's grant under a scope of
/// user mailboxes.
struct Tenant {
    sim: Sim,
    connection: Connection,
    /// A user mailbox (in scope).
    user: String,
    /// A shared mailbox (outside the scope).
    shared: String,
}

impl Tenant {
    async fn new() -> Tenant {
        let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 40).await;
        let connection = connect(&sim, |_| {});
        let mailboxes = connection
            .exchange()
            .invoke(
                Surface::Exchange,
                "Get-Mailbox",
                crate::runtime::params(json!({"ResultSize": "Unlimited"})),
            )
            .await
            .unwrap();
        let first = |kind: &str| -> String {
            mailboxes
                .iter()
                .find(|m| m["RecipientTypeDetails"] == kind)
                .and_then(|m| m["PrimarySmtpAddress"].as_str())
                .unwrap_or_else(|| panic!("no {kind}"))
                .to_string()
        };
        let (user, shared) = (first("UserMailbox"), first("SharedMailbox"));
        Tenant {
            sim,
            connection,
            user,
            shared,
        }
    }

    /// Runs the hostile `attempt` on `user`, naming `shared` where it can, under the policy.
    async fn attack(&self, attempt: &str) -> Result<RunOutcome, RunError> {
        let hostile = load("hostile").await;
        let policy = Policy::parse(
            &format!(
                r#"
[[plugin]]
name = "hostile"
digest = "{}"
scope = "RecipientTypeDetails -eq 'UserMailbox'"
[[plugin.cmdlet]]
name = "Get-Mailbox"
parameters = {{ ResultSize = {{}} }}
[[plugin.cmdlet]]
name = "Set-MailboxAutoReplyConfiguration"
parameters = {{ Identity = {{}}, AutoReplyState = {{}}, Confirm = {{}} }}
"#,
                hostile.digest()
            ),
            "gate.toml",
        )
        .unwrap();
        let grant =
            Grant::intersect(hostile.manifest(), &policy.rules()[0], source(&policy)).unwrap();
        let input = json!({"attempt": attempt, "target": self.user, "other": self.shared});
        let (outcome, _) = run_with(&hostile, &self.connection, input, |r| {
            r.grant = Arc::new(grant)
        })
        .await;
        outcome
    }

    /// The auto-reply changes the emulator received, as their parameters.
    async fn changes(&self) -> Vec<Value> {
        invoked(&self.sim)
            .await
            .into_iter()
            .filter(|(cmdlet, _)| cmdlet == "Set-MailboxAutoReplyConfiguration")
            .map(|(_, params)| params)
            .collect()
    }
}

/// Each twin attack is refused with `why` and nothing is changed.
async fn assert_refused_and_not_sent(tenant: &Tenant, attempt: &str, why: &str) {
    let outcome = tenant.attack(attempt).await.unwrap();
    let summary = summary(&outcome);
    assert_eq!(summary["outcome"], "blocked", "{attempt}: {summary}");
    let detail = summary["detail"].as_str().unwrap();
    assert!(detail.contains(why), "{attempt}: {detail}");
    assert_eq!(outcome.denied, 1, "{attempt}");
    assert_eq!(tenant.changes().await, Vec::<Value>::new(), "{attempt}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parameter_named_twice_in_any_spelling_is_refused_and_never_sent() {
    let tenant = Tenant::new().await;
    let twice = "-Identity of Set-MailboxAutoReplyConfiguration is given twice";
    assert_refused_and_not_sent(
        &tenant,
        "case-twin",
        &format!("{twice} (as 'Identity' and 'identity'): give each parameter once"),
    )
    .await;
    assert_refused_and_not_sent(
        &tenant,
        "prefix-twin",
        &format!("{twice} (as 'Ident' and 'Identity'): give each parameter once"),
    )
    .await;
    assert_refused_and_not_sent(
        &tenant,
        "alias-twin",
        "-Confirm of Set-MailboxAutoReplyConfiguration is given twice (as 'Confirm' and 'cf'): give each parameter once",
    )
    .await;
    assert_refused_and_not_sent(
        &tenant,
        "unicode-twin",
        "'Identıty' is not a parameter name (ASCII letters and digits only)",
    )
    .await;
    assert_refused_and_not_sent(
        &tenant,
        "type-mismatch",
        "'Identity@odata.type' says #Collection(Exchange.GenericHashTable), but the value of -Identity of Set-MailboxAutoReplyConfiguration is text (#String)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_sent_is_the_canonical_checked_parameters() {
    let tenant = Tenant::new().await;
    let outcome = tenant.attack("spelling").await.unwrap();
    let summary = summary(&outcome);
    assert!(
        summary["detail"].as_str().unwrap().starts_with("sent"),
        "{summary}"
    );
    let changes = tenant.changes().await;
    assert_eq!(changes.len(), 1, "{changes:?}");
    let sent = changes[0].as_object().unwrap();
    let names: Vec<&str> = sent.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["AutoReplyState", "Identity"],
        "the catalogue's spelling"
    );
    assert_eq!(sent["AutoReplyState"], "Enabled");
    assert_eq!(
        sent["Identity"],
        tenant.guid(&tenant.user).await.as_str(),
        "the mailbox the scope check read, by its Guid"
    );
}

/// The scope every recipient-check test uses: anything but a shared mailbox.
const NOT_SHARED: &str = "RecipientTypeDetails -ne 'SharedMailbox'";

/// A gate for a plugin granted the changing cmdlets below under `scope` (and `extra` rule
/// lines), sending through the tenant's connection; a `dry_run` records changes instead.
fn gate(tenant: &Tenant, extra: &str, dry_run: bool) -> Gate {
    gate_in(tenant, NOT_SHARED, extra, dry_run)
}

/// [`gate`] with another scope.
fn gate_in(tenant: &Tenant, scope: &str, extra: &str, dry_run: bool) -> Gate {
    let manifest = Manifest::parse(
        r#"
name = "changer"
version = "0.1.0"
description = "d"
mutates = true
[[cmdlet]]
name = "Add-DistributionGroupMember"
parameters = ["Identity", "Member"]
[[cmdlet]]
name = "Remove-DistributionGroupMember"
parameters = ["Identity", "Member", "Confirm"]
[[cmdlet]]
name = "Update-DistributionGroupMember"
parameters = ["Identity", "Members"]
[[cmdlet]]
name = "Set-Mailbox"
parameters = ["Identity", "GrantSendOnBehalfTo", "ForwardingAddress", "ForwardingSmtpAddress"]
"#,
    )
    .unwrap();
    let digest = "ab".repeat(32);
    let policy = Policy::parse(
        &format!(
            r#"
[[plugin]]
name = "changer"
digest = "{digest}"
scope = "{scope}"
{extra}
[[plugin.cmdlet]]
name = "Add-DistributionGroupMember"
parameters = {{ Identity = {{}}, Member = {{}} }}
[[plugin.cmdlet]]
name = "Remove-DistributionGroupMember"
parameters = {{ Identity = {{}}, Member = {{}}, Confirm = {{}} }}
[[plugin.cmdlet]]
name = "Update-DistributionGroupMember"
parameters = {{ Identity = {{}}, Members = {{}} }}
[[plugin.cmdlet]]
name = "Set-Mailbox"
parameters = {{ Identity = {{}}, GrantSendOnBehalfTo = {{}}, ForwardingAddress = {{}}, ForwardingSmtpAddress = {{}} }}
"#
        ),
        "gate.toml",
    )
    .unwrap();
    let grant = Grant::intersect(&manifest, &policy.rules()[0], source(&policy)).unwrap();
    Gate::new(
        Arc::new(grant),
        Some(tenant.connection.exchange().clone()),
        dry_run,
    )
}

impl Tenant {
    /// A recipient's Guid, read as an admin.
    async fn guid(&self, identity: &str) -> String {
        let rows = self
            .connection
            .exchange()
            .invoke(
                Surface::Exchange,
                "Get-Recipient",
                crate::runtime::params(json!({ "Identity": identity })),
            )
            .await
            .unwrap();
        rows[0]["Guid"].as_str().unwrap().to_string()
    }

    /// The first distribution group's address.
    async fn group(&self) -> String {
        let rows = self
            .connection
            .exchange()
            .invoke(
                Surface::Exchange,
                "Get-DistributionGroup",
                crate::runtime::params(json!({"ResultSize": 1})),
            )
            .await
            .unwrap();
        rows[0]["PrimarySmtpAddress"].as_str().unwrap().to_string()
    }

    /// The changes the emulator received (cmdlets that do not only read).
    async fn sent_changes(&self) -> Vec<(String, Value)> {
        invoked(&self.sim)
            .await
            .into_iter()
            .filter(|(cmdlet, _)| exorun::exchange::is_mutating(cmdlet))
            .collect()
    }
}

/// The refusal of `call` on `gate`, which must be a denial.
async fn denied(gate: &mut Gate, cmdlet: &str, params: Value) -> String {
    match gate.admit(cmdlet, &params.to_string()).await {
        Err(Refusal::Denied(why)) => why,
        Err(other) => panic!("{cmdlet}: not a denial: {other:?}"),
        Ok(_) => panic!("{cmdlet} {params} was admitted"),
    }
}

/// The parameters `call` is rehearsed with on a dry-run `gate`.
async fn rehearsed(gate: &mut Gate, cmdlet: &str, params: Value) -> Value {
    match gate.admit(cmdlet, &params.to_string()).await {
        Ok(Admitted::Rehearsed(rehearsal)) => Value::Object(rehearsal.params),
        Ok(_) => panic!("{cmdlet}: not rehearsed"),
        Err(refusal) => panic!("{cmdlet} {params}: refused: {refusal:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recipient_a_change_names_is_in_scope_or_nothing_is_sent() {
    let tenant = Tenant::new().await;
    let group = tenant.group().await;
    let (user, shared) = (tenant.user.clone(), tenant.shared.clone());
    let mut live = gate(&tenant, "", false);
    let outside = |name: &str, who: &str| {
        format!(
            "-{name} '{who}': the recipient is outside the target scope of plugin changer (gate.toml line 2): {NOT_SHARED}"
        )
    };
    let e = denied(
        &mut live,
        "Remove-DistributionGroupMember",
        json!({"Identity": group, "Member": shared, "Confirm": false}),
    )
    .await;
    assert_eq!(
        e,
        format!(
            "Remove-DistributionGroupMember {}",
            outside("Member", &shared)
        )
    );
    let e = denied(
        &mut live,
        "Update-DistributionGroupMember",
        json!({"Identity": group, "Members": [user, shared]}),
    )
    .await;
    assert!(
        e.ends_with(&outside("Members", &shared)),
        "one of a list: {e}"
    );
    let e = denied(
        &mut live,
        "Set-Mailbox",
        json!({"Identity": user, "GrantSendOnBehalfTo": {"Add": [user], "Remove": [shared]}}),
    )
    .await;
    assert!(
        e.ends_with(&outside("GrantSendOnBehalfTo", &shared)),
        "a hashtable's items: {e}"
    );
    let e = denied(
        &mut live,
        "Set-Mailbox",
        json!({"Identity": user, "ForwardingSmtpAddress": "boss@fabrikam.example"}),
    )
    .await;
    assert!(
        e.contains("-ForwardingSmtpAddress 'boss@fabrikam.example': no recipient has this address, so it is outside the tenant, and plugin changer may not name one (gate.toml line 2): set `external_targets = true` in its rule to allow it"),
        "{e}"
    );
    assert_eq!(tenant.sent_changes().await, [], "nothing refused was sent");

    // Admitted: sent naming the objects the check read, by their Guid.
    match live
        .admit(
            "Add-DistributionGroupMember",
            &json!({"identity": group, "member": user}).to_string(),
        )
        .await
    {
        Ok(Admitted::Send { query, .. }) => {
            let mut query = query;
            query.next_page().await.unwrap();
        }
        _ => panic!("not admitted"),
    }
    let (group_id, user_id) = (tenant.guid(&group).await, tenant.guid(&user).await);
    assert_eq!(
        tenant.sent_changes().await,
        [(
            "Add-DistributionGroupMember".to_string(),
            json!({"Identity": group_id, "Member": user_id})
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehearsed_change_shows_the_resolved_recipients_read_once() {
    let tenant = Tenant::new().await;
    let group = tenant.group().await;
    let user = tenant.user.clone();
    let user_id = tenant.guid(&user).await;
    let reads_before = invoked(&tenant.sim).await.len();
    let mut dry = gate(&tenant, "", true);
    let params = rehearsed(
        &mut dry,
        "Set-Mailbox",
        json!({"Identity": user, "ForwardingAddress": user.to_uppercase()}),
    )
    .await;
    assert_eq!(
        params,
        json!({"ForwardingAddress": user_id, "Identity": user_id})
    );
    let params = rehearsed(&mut dry, "Set-Mailbox", json!({"Identity": user_id})).await;
    assert_eq!(params, json!({"Identity": user_id}), "a Guid stays itself");
    let reads: Vec<(String, Value)> = invoked(&tenant.sim)
        .await
        .into_iter()
        .skip(reads_before)
        .collect();
    let of_user = reads
        .iter()
        .filter(|(c, p)| {
            c == "Get-Recipient"
                && p["Identity"]
                    .as_str()
                    .is_some_and(|i| i.eq_ignore_ascii_case(&user))
        })
        .count();
    assert_eq!(
        of_user, 1,
        "the same recipient is read once per run: {reads:?}"
    );

    // Narrowed to -Identity, a shared member no longer counts; external addresses allowed.
    let mut narrowed = gate(
        &tenant,
        "scope_on = [\"Identity\"]\nexternal_targets = true",
        true,
    );
    let params = rehearsed(
        &mut narrowed,
        "Remove-DistributionGroupMember",
        json!({"Identity": group, "Member": tenant.shared, "Confirm": false}),
    )
    .await;
    assert_eq!(
        params["Member"],
        tenant.shared.as_str(),
        "not checked, sent as given"
    );
    let mut external = gate(&tenant, "external_targets = true", true);
    let params = rehearsed(
        &mut external,
        "Set-Mailbox",
        json!({"Identity": user, "ForwardingSmtpAddress": "boss@fabrikam.example"}),
    )
    .await;
    assert_eq!(
        params,
        json!({"ForwardingSmtpAddress": "boss@fabrikam.example", "Identity": user_id})
    );
    assert_eq!(tenant.sent_changes().await, [], "a dry run sends no change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_finds_the_change_an_earlier_attempt_made() {
    let tenant = Tenant::new().await;
    let group = tenant.group().await;
    let journal: Arc<dyn ChangeJournal> = Arc::new(MemoryJournal::new());
    let mut first = gate(&tenant, "", false).with_journal(Some(journal.clone()));
    match first
        .admit(
            "Add-DistributionGroupMember",
            &json!({"Identity": group, "Member": tenant.user}).to_string(),
        )
        .await
    {
        Ok(Admitted::Send {
            mut query,
            ticket: Some(ticket),
        }) => {
            query.next_page().await.unwrap();
            ticket
                .finish(&ChangeResult::Done { rows: Vec::new() })
                .unwrap();
        }
        _ => panic!("not sent with a ticket"),
    }
    // The attempt is interrupted; the member has since left the scope. The same change,
    // spelled otherwise, is answered from the journal: not read, not sent again.
    let mut second = gate_in(
        &tenant,
        "RecipientTypeDetails -eq 'SharedMailbox'",
        "",
        false,
    )
    .with_journal(Some(journal));
    let reads = invoked(&tenant.sim).await.len();
    assert!(matches!(
        second
            .admit(
                "add-distributiongroupmember",
                &json!({"member": tenant.user, "identity": group}).to_string(),
            )
            .await,
        Ok(Admitted::Replayed(_))
    ));
    assert_eq!(
        invoked(&tenant.sim).await.len(),
        reads,
        "nothing read or sent"
    );
    assert_eq!(tenant.sent_changes().await.len(), 1);
}

/// Where the first rule's rights come from, as admission names it (`gate.toml line 2`).
fn source(policy: &Policy) -> String {
    format!("{} line {}", policy.origin(), policy.rules()[0].line)
}
