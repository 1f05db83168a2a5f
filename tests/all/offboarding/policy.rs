//! The offboarding plugins from the command line under the example policy
//! (`examples/policies/offboarding.toml`), as a helpdesk runs them: a leaver's steps one after
//! the other leave the tenant as asked and, run again, send no change; what the policy does not
//! grant (a target outside its scope, a value it does not allow, an unsigned build, a plugin
//! without a rule, a change in a read-only rule) is refused and never sent.

use std::path::{Path, PathBuf};
use std::process::Command;

use exorun::Connection;
use serde_json::{Value, json};

use super::{get, groups_of, holds, join_groups, leaver, tenant, text};
use crate::cli::{exorun, pfx_flags, run};
use crate::policy_cli::{edit, example, init, key_line, plugin_cmd, records, sent};
use crate::runtime::connect;
use crate::support::{Sim, artifact};

/// The plugins the policy admits by the reviewer's signature.
const SIGNED: [&str; 4] = [
    "offboard-mailbox",
    "auto-reply",
    "grant-mailbox-access",
    "remove-group-member",
];

/// A tenant with a leaver, an admin in the group the policy protects, and the example policy
/// made real: the reviewer's key is ours, find-recipient's digest is today's build, the
/// protected group is one of the tenant's, and the profiles exist.
struct Helpdesk {
    sim: Sim,
    connection: Connection,
    policy: PathBuf,
    config: PathBuf,
    /// The leaver's Get-Recipient row.
    leaver: Value,
    /// A user mailbox in the protected group.
    admin: String,
    /// The protected group's name (the policy's "Tenant Admins").
    admins_group: String,
}

impl Helpdesk {
    async fn new() -> Helpdesk {
        let sim = tenant(60).await;
        let connection = connect(&sim, |_| {});
        let leaver = leaver(&connection).await;
        let address = text(&leaver, "PrimarySmtpAddress");
        join_groups(&connection, &address, 2).await;
        // The protected group: one the leaver is not in, with an admin who is not the leaver.
        let groups = get(
            &connection,
            "Get-DistributionGroup",
            json!({"ResultSize": "Unlimited"}),
        )
        .await;
        let theirs = groups_of(&connection, &address).await;
        let admins = groups
            .iter()
            .find(|g| !theirs.iter().any(|(guid, _, _)| *guid == text(g, "Guid")))
            .expect("a group the leaver is not in");
        let admins_group = text(admins, "Name");
        let admin = get(
            &connection,
            "Get-Mailbox",
            json!({"RecipientTypeDetails": "UserMailbox", "ResultSize": "Unlimited"}),
        )
        .await
        .iter()
        .map(|m| text(m, "PrimarySmtpAddress"))
        .find(|a| *a != address && *a != text(&leaver, "Manager"))
        .unwrap();
        let members = get(
            &connection,
            "Get-DistributionGroupMember",
            json!({"Identity": admins_group, "ResultSize": "Unlimited"}),
        )
        .await;
        if !members
            .iter()
            .any(|m| text(m, "PrimarySmtpAddress") == admin)
        {
            get(
                &connection,
                "Add-DistributionGroupMember",
                json!({"Identity": admins_group, "Member": admin}),
            )
            .await;
        }

        let dir = sim.dir.path().to_path_buf();
        plugin_cmd(
            &sim,
            &dir,
            &[
                "keygen",
                "-p",
                "review.pub",
                "-s",
                "review.key",
                "--no-password",
            ],
        );
        for name in SIGNED {
            let file = format!("{name}.wasm");
            std::fs::copy(artifact(name), dir.join(&file)).unwrap();
            plugin_cmd(&sim, &dir, &["sign", &file, "-s", "review.key"]);
        }
        let mut policy = example("offboarding.toml");
        let key = policy
            .lines()
            .find_map(|l| l.strip_prefix("security-review = \""))
            .unwrap()
            .trim_end_matches('"')
            .to_string();
        policy = policy.replace(&key, &key_line(&dir.join("review.pub")));
        let pinned = policy
            .lines()
            .find(|l| l.starts_with("digest = "))
            .unwrap()
            .to_string();
        let today = init(&sim, &["find-recipient"]);
        let today = today.lines().find(|l| l.starts_with("digest = ")).unwrap();
        let today = &today[..today.find("  #").unwrap_or(today.len())];
        policy = edit(&policy, &pinned, today);
        assert!(policy.contains("'Tenant Admins'"));
        policy = policy.replace("'Tenant Admins'", &format!("'{admins_group}'"));
        let policy = sim.write("offboarding.toml", policy);
        let config = Helpdesk::config(&sim);
        Helpdesk {
            sim,
            connection,
            policy,
            config,
            leaver,
            admin,
            admins_group,
        }
    }

    /// A config file with the policy's two profiles: `reader` (the Global Reader app) and
    /// `helpdesk` (here the admin app).
    fn config(sim: &Sim) -> PathBuf {
        let info = sim.info();
        let profile = |name: &str, app: &str| {
            let a = sim.app(app);
            format!(
                "[profiles.{name}]\napp_id = \"{}\"\norganization = \"{}\"\ncertificate_path = \"{}\"\ncertificate_password_file = \"{}\"\nauthority = \"{}\"\nexchange_url = \"{}\"\nca_file = \"{}\"\n",
                a.client_id,
                info.tenant_domain,
                a.pfx.unwrap().display(),
                a.pfx_password_file.unwrap().display(),
                info.base_url,
                info.base_url,
                info.ca_file.display()
            )
        };
        let text = format!(
            "{}{}",
            profile("reader", "exorun-reader"),
            profile("helpdesk", "exorun-admin")
        );
        sim.write("config.toml", text)
    }

    /// The artifact a step runs: the signed copy for the plugins admitted by signature, the
    /// build itself for find-recipient (admitted by digest).
    fn artifact(&self, name: &str) -> PathBuf {
        if SIGNED.contains(&name) {
            self.sim.dir.path().join(format!("{name}.wasm"))
        } else {
            artifact(name)
        }
    }

    /// `exorun run <file> --input <input>` under `policy` with the config file's profiles.
    fn run_file(&self, policy: &Path, file: &Path, input: &Value) -> Command {
        let mut command = exorun(&self.sim);
        command
            .args(pfx_flags(&self.sim, "exorun-admin"))
            .arg("--config-file")
            .arg(&self.config)
            .arg("run")
            .arg(file)
            .args(["--output", "jsonl", "--input"])
            .arg(input.to_string())
            .arg("--cache-dir")
            .arg(Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-plugin-cache"))
            .arg("--policy")
            .arg(policy);
        command
    }

    /// Runs a step under the example policy; it must succeed. Its records and summary.
    fn step(&self, name: &str, input: Value) -> (Vec<Value>, Value) {
        let (ok, out, err) = run(&mut self.run_file(&self.policy, &self.artifact(name), &input));
        assert!(ok, "{name} {input}: {err}");
        (records(&out), summary_of(&err))
    }

    /// Runs a step under the example policy that must fail; its error output.
    fn refused(&self, name: &str, input: Value) -> String {
        let (ok, _, err) = run(&mut self.run_file(&self.policy, &self.artifact(name), &input));
        assert!(!ok, "{name} {input} ran: {err}");
        err
    }

    fn address(&self) -> String {
        text(&self.leaver, "PrimarySmtpAddress")
    }
}

/// The summary `exorun run` prints on stderr (`...; summary {...}`).
fn summary_of(stderr: &str) -> Value {
    let line = stderr
        .lines()
        .find_map(|l| l.split_once("; summary ").map(|(_, s)| s))
        .unwrap_or_else(|| panic!("no summary in: {stderr}"));
    serde_json::from_str(line).unwrap()
}

/// The changing cmdlets the emulator received after the first `from` requests.
async fn changes_since(sim: &Sim, from: usize) -> Vec<(String, Value)> {
    sent(sim)
        .await
        .into_iter()
        .skip(from)
        .filter(|(cmdlet, _)| !cmdlet.starts_with("Get-"))
        .collect()
}

/// The leaver's steps, in the order a workflow runs them; returns the changes each sent.
async fn offboard(h: &Helpdesk) -> (Value, Vec<Value>, Vec<(String, Value)>) {
    let address = h.address();
    let before = sent(&h.sim).await.len();
    let (groups, found) = h.step("find-recipient", json!({"identity": address}));
    let (_, mailbox) = h.step(
        "offboard-mailbox",
        json!({"identity": address, "convert_to_shared": true, "hide_from_address_lists": true}),
    );
    h.step(
        "auto-reply",
        json!({"identities": [address], "state": "Enabled", "internal_message": "Ann has left; please write to her manager."}),
    );
    let manager = found["manager"]["identity"].as_str().unwrap().to_string();
    let (_, access) = h.step(
        "grant-mailbox-access",
        json!({"identity": address, "trustee": manager, "access": ["FullAccess"], "send_as": true, "automapping": false}),
    );
    let mut results = vec![found, mailbox, access];
    for group in &groups {
        let (_, removed) = h.step(
            "remove-group-member",
            json!({"group": group["group"], "member": address}),
        );
        results.push(removed);
    }
    let changes = changes_since(&h.sim, before).await;
    (Value::Array(groups), results, changes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaver_is_offboarded_under_the_example_policy_and_a_second_pass_changes_nothing() {
    let h = Helpdesk::new().await;
    let address = h.address();
    let before_groups = groups_of(&h.connection, &address).await;
    assert!(before_groups.len() >= 2);

    let (groups, results, changes) = offboard(&h).await;
    let found = &results[0];
    assert_eq!(found["found"], true);
    assert_eq!(groups.as_array().unwrap().len(), before_groups.len());
    assert_eq!(results[1]["changed"], true, "{}", results[1]);
    assert_eq!(results[2]["granted"], json!(["FullAccess", "SendAs"]));
    assert!(
        results[3..].iter().all(|r| r["removed"] == true),
        "{results:?}"
    );
    let cmdlets: Vec<&str> = changes.iter().map(|(c, _)| c.as_str()).collect();
    let mut expected = vec![
        "Set-Mailbox",
        "Set-MailboxAutoReplyConfiguration",
        "Add-MailboxPermission",
        "Add-RecipientPermission",
    ];
    expected.extend(std::iter::repeat_n(
        "Remove-DistributionGroupMember",
        before_groups.len(),
    ));
    assert_eq!(cmdlets, expected);

    // The tenant afterwards, read back through the emulator.
    let mailbox = get(&h.connection, "Get-Mailbox", json!({"Identity": address})).await;
    assert_eq!(mailbox[0]["RecipientTypeDetails"], "SharedMailbox");
    assert_eq!(mailbox[0]["HiddenFromAddressListsEnabled"], true);
    let reply = get(
        &h.connection,
        "Get-MailboxAutoReplyConfiguration",
        json!({"Identity": address}),
    )
    .await;
    assert_eq!(reply[0]["AutoReplyState"], "Enabled");
    let manager = found["manager"]["identity"].as_str().unwrap();
    assert!(holds(&h.connection, &address, manager, "FullAccess").await);
    assert!(holds(&h.connection, &address, manager, "SendAs").await);
    assert!(groups_of(&h.connection, &address).await.is_empty());
    // find-recipient read with the reader app; every change went with the helpdesk's.
    let reader = h.sim.app("exorun-reader").client_id;
    let helpdesk = h.sim.app("exorun-admin").client_id;
    let requests = h.sim.requests().await;
    let apps_of = |cmdlet: &str| -> Vec<Option<String>> {
        requests
            .iter()
            .filter(|e| e.cmdlet.as_deref() == Some(cmdlet))
            .map(|e| e.app_id.clone())
            .collect()
    };
    assert!(
        apps_of("Get-Recipient")
            .iter()
            .any(|a| a.as_deref() == Some(reader.as_str()))
    );
    for cmdlet in &expected {
        let apps = apps_of(cmdlet);
        assert!(
            !apps.is_empty() && apps.iter().all(|a| a.as_deref() == Some(helpdesk.as_str())),
            "{cmdlet}: {apps:?}"
        );
    }

    // A second pass (a resumed workflow): everything is done, so no change is sent but the
    // auto-reply, which sets the same reply again. Removing from the old groups again is no
    // error either.
    let (groups_again, results, changes) = offboard(&h).await;
    assert!(groups_again.as_array().unwrap().is_empty());
    assert_eq!(results[1]["changed"], false);
    assert_eq!(results[2]["changed"], false);
    assert_eq!(
        changes.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(),
        ["Set-MailboxAutoReplyConfiguration"]
    );
    let before = sent(&h.sim).await.len();
    for group in groups.as_array().unwrap() {
        let (_, removed) = h.step(
            "remove-group-member",
            json!({"group": group["group"], "member": address}),
        );
        assert_eq!(removed["removed"], false, "{removed}");
    }
    assert!(changes_since(&h.sim, before).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_policy_keeps_the_helpdesk_inside_its_scope() {
    let h = Helpdesk::new().await;
    let before = sent(&h.sim).await.len();
    let address = h.address();

    // An admin's mailbox is outside the scope of every plugin that changes a mailbox.
    let err = h.refused(
        "offboard-mailbox",
        json!({"identity": h.admin, "convert_to_shared": true}),
    );
    assert!(
        err.contains("the recipient is outside the target scope of plugin offboard-mailbox")
            && err.contains(&format!("MemberOfGroup -eq '{}'", h.admins_group)),
        "{err}"
    );
    let err = h.refused(
        "grant-mailbox-access",
        json!({"identity": h.admin, "trustee": address}),
    );
    assert!(
        err.contains("outside the target scope of plugin grant-mailbox-access"),
        "{err}"
    );
    // The protected group's membership is out of reach.
    let err = h.refused(
        "remove-group-member",
        json!({"group": h.admins_group, "member": h.admin}),
    );
    assert!(
        err.contains("outside the target scope of plugin remove-group-member"),
        "{err}"
    );
    // Values the rule does not allow: other rights, and unhiding.
    let manager = text(
        &get(
            &h.connection,
            "Get-Recipient",
            json!({"Identity": text(&h.leaver, "Manager")}),
        )
        .await[0],
        "PrimarySmtpAddress",
    );
    let err = h.refused(
        "grant-mailbox-access",
        json!({"identity": address, "trustee": manager, "access": ["ChangeOwner"]}),
    );
    assert!(
        err.contains("-AccessRights of Add-MailboxPermission: 'ChangeOwner' is not one of the allowed values ('FullAccess')"),
        "{err}"
    );
    // A build the reviewer did not sign is not admitted at all.
    let err = {
        let (ok, _, err) = run(&mut h.run_file(
            &h.policy,
            &artifact("offboard-mailbox"),
            &json!({"identity": address, "convert_to_shared": true}),
        ));
        assert!(!ok);
        err
    };
    assert!(
        err.contains("needs 1 signature(s) of security-review; it has 0"),
        "{err}"
    );
    assert!(
        changes_since(&h.sim, before).await.is_empty(),
        "nothing refused was sent"
    );
    let mailbox = get(&h.connection, "Get-Mailbox", json!({"Identity": h.admin})).await;
    assert_eq!(mailbox[0]["RecipientTypeDetails"], "UserMailbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offboarding_plugins_do_not_run_or_change_where_a_policy_does_not_grant_it() {
    let h = Helpdesk::new().await;
    let address = h.address();
    let manager = text(
        &get(
            &h.connection,
            "Get-Recipient",
            json!({"Identity": text(&h.leaver, "Manager")}),
        )
        .await[0],
        "PrimarySmtpAddress",
    );
    let group = groups_of(&h.connection, &address)
        .await
        .pop_first()
        .unwrap()
        .0;
    let steps = [
        ("find-recipient", json!({"identity": address})),
        (
            "offboard-mailbox",
            json!({"identity": address, "convert_to_shared": true, "hide_from_address_lists": true}),
        ),
        (
            "grant-mailbox-access",
            json!({"identity": address, "trustee": manager, "send_as": true}),
        ),
        (
            "remove-group-member",
            json!({"group": group, "member": address}),
        ),
    ];
    let before = sent(&h.sim).await.len();

    // The reporting policy has no rule for them: refused before they start.
    let reporting = h.sim.write("reporting.toml", example("reporting.toml"));
    for (name, input) in &steps {
        let (ok, _, err) = run(&mut h.run_file(&reporting, &artifact(name), input));
        assert!(
            !ok && err.contains(&format!("no rule names '{name}'")),
            "{name}: {err}"
        );
    }
    assert_eq!(sent(&h.sim).await.len(), before, "not even a read was sent");

    // A read-only rule for the three that change things: refused before they start, or, with
    // `narrow = true`, started without their changing cmdlets, which are denied when asked for.
    for (name, input) in &steps[1..] {
        let rule = edit(
            &init(&h.sim, &[name]),
            "# read_only = true",
            "read_only = true",
        );
        let strict = h.sim.write("read-only.toml", &rule);
        let (ok, _, err) = run(&mut h.run_file(&strict, &artifact(name), input));
        assert!(
            !ok && err.contains("changes the tenant and the rule is read_only"),
            "{name}: {err}"
        );
        let narrowed = h.sim.write(
            "narrowed.toml",
            edit(&rule, "read_only = true", "read_only = true\nnarrow = true"),
        );
        let (ok, _, err) = run(&mut h.run_file(&narrowed, &artifact(name), input));
        assert!(
            !ok && err.contains(&format!("denied: plugin {name} is not granted")),
            "{name}: {err}"
        );
    }
    assert!(
        changes_since(&h.sim, before).await.is_empty(),
        "no change was sent"
    );
    let mailbox = get(&h.connection, "Get-Mailbox", json!({"Identity": address})).await;
    assert_eq!(mailbox[0]["RecipientTypeDetails"], "UserMailbox");
    assert!(!holds(&h.connection, &address, &manager, "FullAccess").await);
    assert!(
        groups_of(&h.connection, &address)
            .await
            .iter()
            .any(|(g, _, _)| *g == group)
    );
}
