//! The operator's policy from the command line, against the emulator: a plugin runs only if the
//! policy admits its build, with what its rule grants; refused calls never reach the service
//! (the emulator's request log shows what was sent).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::cli::{exorun, mailboxes, pfx_flags, run};
use crate::support::{Sim, artifact, start_with};

fn plugin(name: &str) -> String {
    artifact(name).display().to_string()
}

/// The starting policy `exorun policy init` writes for these plugins.
pub(crate) fn init(sim: &Sim, names: &[&str]) -> String {
    let (ok, out, err) = run(exorun(sim)
        .args(["policy", "init"])
        .args(names.iter().map(|n| plugin(n))));
    assert!(ok, "policy init: {err}");
    out
}

/// `text` with `from` replaced by `to`, which must be there.
pub(crate) fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the policy has no `{from}`:\n{text}");
    text.replacen(from, to, 1)
}

/// `exorun run` of `name` as the admin app under the policy file `policy`.
pub(crate) fn run_under(sim: &Sim, policy: &Path, name: &str, input: Value) -> Command {
    let mut command = exorun(sim);
    command
        .args(pfx_flags(sim, "exorun-admin"))
        .args(["run", &plugin(name), "--output", "jsonl", "--input"])
        .arg(input.to_string())
        .arg("--cache-dir")
        .arg(Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-plugin-cache"))
        .arg("--checkpoint-dir")
        .arg(sim.dir.path().join("checkpoints"))
        .arg("--policy")
        .arg(policy);
    command
}

/// The cmdlets the emulator received (InvokeCommand), with their parameters.
pub(crate) async fn sent(sim: &Sim) -> Vec<(String, Value)> {
    sim.requests()
        .await
        .into_iter()
        .filter(|e| e.endpoint == "invoke")
        .map(|e| {
            (
                e.cmdlet.unwrap_or_default(),
                e.parameters.unwrap_or_default(),
            )
        })
        .collect()
}

pub(crate) fn records(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn sim() -> Sim {
    start_with(|c| c.scenario.tenants[0].mailboxes = 20).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_policy_nothing_runs_and_the_error_says_how_to_make_one() {
    let sim = sim().await;
    let without_policy = |input: Value| {
        let mut command = exorun(&sim);
        command
            .args(pfx_flags(&sim, "exorun-admin"))
            .args(["run", &plugin("auto-reply"), "--output", "jsonl", "--input"])
            .arg(input.to_string());
        command
    };
    let (ok, _, err) = run(&mut without_policy(
        json!({"identities": ["ann@contoso.com"], "state": "Enabled"}),
    ));
    assert!(!ok);
    let default = sim.dir.path().join(".config/exorun/policy.toml");
    assert!(
        err.contains("no policy is configured")
            && err.contains(&format!(
                "exorun policy init {} --out {}",
                plugin("auto-reply"),
                default.display()
            )),
        "{err}"
    );
    assert!(
        sim.requests().await.is_empty(),
        "not even a token was asked for"
    );
    // The command the message gives makes a policy where `exorun run` looks by default.
    let init_default = || {
        run(exorun(&sim)
            .args(["policy", "init", &plugin("auto-reply"), "--out"])
            .arg(&default))
    };
    let (ok, _, err) = init_default();
    assert!(ok, "{err}");
    let (ok, _, err) = init_default();
    assert!(!ok && err.contains("never overwritten"), "{err}");
    let target = mailboxes(&sim, 1).remove(0);
    let (ok, out, err) = run(&mut without_policy(
        json!({"identities": [target], "state": "Enabled"}),
    ));
    assert!(ok, "{err}");
    assert_eq!(records(&out)[0]["Result"], "Updated", "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_outside_the_grant_is_refused_and_never_sent() {
    let sim = sim().await;
    let policy = edit(
        &init(&sim, &["auto-reply"]),
        "Identity = {}  # e.g. { glob = \"*@contoso.com\" } to limit the targets",
        "Identity = { glob = \"*@contoso.com\", required = true }",
    );
    let policy = edit(
        &policy,
        "AutoReplyState = {}",
        "AutoReplyState = { values = [\"Enabled\", \"Disabled\"] }",
    );
    let path = sim.write("policy.toml", policy);
    let inside = mailboxes(&sim, 1).remove(0);
    let outside = "admin@fabrikam.onmicrosoft.com";
    let (ok, out, err) = run(&mut run_under(
        &sim,
        &path,
        "auto-reply",
        json!({"identities": [inside, outside], "state": "Enabled"}),
    ));
    // A change the policy refused is one not made: the run is failed work.
    assert!(
        !ok && err.contains("exorun: FAILED: plugin auto-reply 0.1.0 ran, but ")
            && err.contains("1 unit of its work failed: admin@fabrikam.onmicrosoft.com: denied: "),
        "{err}"
    );
    let rows = records(&out);
    assert_eq!(rows[0]["Result"], "Updated");
    assert_eq!(rows[1]["Result"], "Failed");
    let detail = rows[1]["Detail"].as_str().unwrap();
    assert!(
        detail.starts_with("denied: -Identity of Set-MailboxAutoReplyConfiguration: 'admin@fabrikam.onmicrosoft.com' does not match *@contoso.com (policy: "),
        "{detail}"
    );
    assert!(err.contains("1 cmdlet call, 1 denied"), "{err}");
    let (ok, out, _) = run(&mut run_under(
        &sim,
        &path,
        "auto-reply",
        json!({"identities": [inside], "state": "Scheduled"}),
    ));
    assert!(!ok, "a refused value is a change not made");
    assert!(
        records(&out)[0]["Detail"]
            .as_str()
            .unwrap()
            .contains("'Scheduled' is not one of the allowed values")
    );
    let sets: Vec<Value> = sent(&sim)
        .await
        .into_iter()
        .filter(|(c, _)| c == "Set-MailboxAutoReplyConfiguration")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(sets.len(), 1, "only the granted change was sent: {sets:?}");
    assert_eq!(sets[0]["Identity"], inside.as_str());

    // The audit log has the refusals with their reasons, and the change with the grant that
    // allowed it; its chain is intact.
    let (ok, out, err) = run(exorun(&sim).args(["audit", "show", "--denied", "--output", "jsonl"]));
    assert!(ok, "{err}");
    let denied = records(&out);
    assert_eq!(denied.len(), 2, "{out}");
    assert!(
        out.contains("does not match *@contoso.com")
            && out.contains("admin@fabrikam.onmicrosoft.com"),
        "{out}"
    );
    assert!(
        out.contains("'Scheduled' is not one of the allowed values"),
        "{out}"
    );
    let (ok, out, err) = run(exorun(&sim).args([
        "audit",
        "show",
        "--plugin",
        "auto-reply",
        "--output",
        "jsonl",
    ]));
    assert!(ok, "{err}");
    let allowed: Vec<Value> = records(&out)
        .into_iter()
        .filter(|r| {
            r.to_string().contains("Set-MailboxAutoReplyConfiguration")
                && !r.to_string().contains("denied")
        })
        .collect();
    assert!(
        allowed
            .iter()
            .any(|r| r.to_string().contains("allowed by")
                && r.to_string().contains("policy.toml line")),
        "{out}"
    );
    assert!(
        out.contains("\"policy_digest\"") && out.contains("\"grants\""),
        "run records name the policy and the rights: {out}"
    );
    let (ok, out, err) = run(exorun(&sim).args(["audit", "verify"]));
    assert!(ok && out.contains("chain intact"), "{out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_checks_each_change_against_the_policy_shows_it_and_sends_nothing() {
    let sim = sim().await;
    let policy = edit(
        &init(&sim, &["auto-reply"]),
        "Identity = {}  # e.g. { glob = \"*@contoso.com\" } to limit the targets",
        "Identity = { glob = \"*@contoso.com\", required = true }",
    );
    let path = sim.write("policy.toml", policy);
    let inside = mailboxes(&sim, 1).remove(0);
    let outside = "admin@fabrikam.onmicrosoft.com";
    let (ok, out, err) = run(run_under(
        &sim,
        &path,
        "auto-reply",
        json!({"identities": [inside, outside], "state": "Enabled"}),
    )
    .arg("--dry-run"));
    // A change the policy refused is one not made: the run is failed work.
    assert!(
        !ok && err.contains("exorun: FAILED: plugin auto-reply 0.1.0 ran, but ")
            && err.contains("1 unit of its work failed: admin@fabrikam.onmicrosoft.com: denied: "),
        "{err}"
    );
    let rows = records(&out);
    assert_eq!(rows[0]["Result"], "DryRun", "{out}");
    assert_eq!(
        rows[1]["Result"], "Failed",
        "the policy still refuses: {out}"
    );
    let shown = err
        .lines()
        .find(|l| l.starts_with("dry run: Set-MailboxAutoReplyConfiguration was not sent ("))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        shown.contains(&format!("\"Identity\":\"{inside}\"")),
        "{shown}"
    );
    assert_eq!(err.matches("was not sent").count(), 1, "{err}");
    assert!(
        sent(&sim)
            .await
            .iter()
            .all(|(c, _)| c != "Set-MailboxAutoReplyConfiguration"),
        "nothing was changed"
    );
    let (ok, out, err) = run(exorun(&sim).args(["audit", "show", "--output", "jsonl"]));
    assert!(ok, "{err}");
    let rehearsed: Vec<Value> = records(&out)
        .into_iter()
        .filter(|r| r["dry_run"] == true)
        .collect();
    assert_eq!(rehearsed.len(), 2, "the run and its one change: {out}");
    assert!(rehearsed.iter().any(|r| r["event"] == "run-start"));
    assert!(
        rehearsed
            .iter()
            .any(|r| r["cmdlet"] == "Set-MailboxAutoReplyConfiguration"
                && r["decision"] == "allowed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_build_a_revoked_one_or_one_asking_for_more_does_not_run() {
    let sim = sim().await;
    let policy = init(&sim, &["auto-reply"]);
    let digest = policy
        .lines()
        .find_map(|l| l.strip_prefix("digest = \""))
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let other = "0".repeat(64);
    let input = json!({"identities": ["ann@contoso.com"], "state": "Enabled"});

    let pinned_elsewhere = sim.write("other.toml", policy.replace(&digest, &other));
    let (ok, _, err) = run(&mut run_under(
        &sim,
        &pinned_elsewhere,
        "auto-reply",
        input.clone(),
    ));
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "plugin auto-reply 0.1.0 (digest {digest}) is not admitted by"
        )) && err.contains(&format!("pins digest {other}, this build is {digest}")),
        "{err}"
    );

    let revoked = sim.write(
        "revoked.toml",
        edit(
            &policy,
            "# revoked = [\"<sha256>\"]",
            &format!("revoked = [\"{digest}\"]"),
        ),
    );
    let (ok, _, err) = run(&mut run_under(&sim, &revoked, "auto-reply", input.clone()));
    assert!(
        !ok && err.contains("is revoked by") && err.contains("line 6"),
        "{err}"
    );

    let read_only = sim.write(
        "read-only.toml",
        edit(&policy, "# read_only = true", "read_only = true"),
    );
    let (ok, _, err) = run(&mut run_under(
        &sim,
        &read_only,
        "auto-reply",
        input.clone(),
    ));
    assert!(!ok && err.contains("the rule is read_only"), "{err}");

    let small = sim.write(
        "small.toml",
        edit(&policy, "memory_mb = 32", "memory_mb = 16"),
    );
    let (ok, _, err) = run(&mut run_under(&sim, &small, "auto-reply", input.clone()));
    assert!(
        !ok && err.contains("limits.memory_mb: the manifest asks for 32, the rule allows 16"),
        "{err}"
    );

    let fewer = sim.write("fewer.toml", edit(&policy, "ExternalMessage = {}\n", ""));
    let (ok, _, err) = run(&mut run_under(&sim, &fewer, "auto-reply", input.clone()));
    assert!(!ok, "{err}");
    assert!(
        err.contains("asks for more than its rule")
            && err.contains("parameter -ExternalMessage of Set-MailboxAutoReplyConfiguration: add `ExternalMessage = {}`")
            && err.contains("narrow = true"),
        "{err}"
    );
    let (ok, out, _) = run(exorun(&sim)
        .args(["policy", "explain", &plugin("auto-reply"), "--policy"])
        .arg(&fewer));
    assert!(!ok && out.is_empty());
    assert!(
        sent(&sim).await.is_empty(),
        "nothing was sent for a refused plugin"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowed_plugin_runs_without_what_it_was_not_granted() {
    let sim = sim().await;
    let policy = init(&sim, &["mailbox-permission-audit"]);
    let start = policy
        .find("[[plugin.cmdlet]]\nname = \"Get-RecipientPermission\"")
        .unwrap();
    let mut narrowed = policy[..start].to_string();
    narrowed = edit(&narrowed, "# narrow = true", "narrow = true");
    let path = sim.write("narrow.toml", &narrowed);
    let targets = mailboxes(&sim, 2);
    let (ok, _, err) = run(&mut run_under(
        &sim,
        &path,
        "mailbox-permission-audit",
        json!({"identities": targets}),
    ));
    assert!(
        err.contains(
            "policy: mailbox-permission-audit runs without cmdlet Get-RecipientPermission"
        ),
        "{err}"
    );
    // This plugin gives up at the first refusal: the denial reaches it with the reason.
    assert!(!ok);
    assert!(
        err.contains("Get-RecipientPermission -Identity")
            && err.contains(
                "denied: plugin mailbox-permission-audit is not granted Get-RecipientPermission"
            ),
        "{err}"
    );
    let cmdlets: Vec<String> = sent(&sim).await.into_iter().map(|(c, _)| c).collect();
    assert!(cmdlets.contains(&"Get-MailboxPermission".to_string()));
    assert!(
        !cmdlets.contains(&"Get-RecipientPermission".to_string()),
        "{cmdlets:?}"
    );

    let (ok, out, err) = run(exorun(&sim)
        .args([
            "policy",
            "explain",
            &plugin("mailbox-permission-audit"),
            "--policy",
        ])
        .arg(&path));
    assert!(ok, "{err}");
    assert!(
        out.contains("admitted by")
            && out.contains("withheld (narrow = true): cmdlet Get-RecipientPermission"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_per_run_and_settings_are_capped() {
    let sim = sim().await;
    let policy = edit(
        &init(&sim, &["auto-reply"]),
        "# max_mutations = 100",
        "max_mutations = 1",
    );
    let path = sim.write("policy.toml", policy);
    let targets = mailboxes(&sim, 3);
    let (ok, out, err) = run(&mut run_under(
        &sim,
        &path,
        "auto-reply",
        json!({"identities": targets, "state": "Enabled"}),
    ));
    // A change the policy refused is one not made: the run is failed work.
    assert!(
        !ok && err.contains("exorun: FAILED: plugin auto-reply 0.1.0 ran, but ")
            && err.contains("2 units of its work failed: "),
        "{err}"
    );
    let results: Vec<Value> = records(&out).iter().map(|r| r["Result"].clone()).collect();
    assert_eq!(results, ["Updated", "Failed", "Failed"], "{out}");
    assert!(
        out.contains("has made the 1 change(s) one run may make"),
        "{out}"
    );

    let policy = edit(
        &init(&sim, &["mailbox-permission-audit"]),
        "ignore_trustees = {}",
        "ignore_trustees = { values = [\"svc-backup\"] }",
    );
    let path = sim.write("audit.toml", policy);
    let (ok, _, err) = run(
        run_under(&sim, &path, "mailbox-permission-audit", json!({}))
            .args(["--config", "ignore_trustees=everyone"]),
    );
    assert!(
        !ok && err.contains(
            "setting ignore_trustees: 'everyone' is not one of the allowed values ('svc-backup')"
        ),
        "{err}"
    );
    let (ok, _, err) = run(
        run_under(&sim, &path, "mailbox-permission-audit", json!({})).args(["--memory", "1GiB"]),
    );
    assert!(
        !ok && err.contains("--memory 1024 MiB is above what the policy"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_picks_the_credential_a_plugin_runs_with() {
    let sim = sim().await;
    let reader = sim.app("exorun-reader");
    let info = sim.info();
    let config = format!(
        "[profiles.reader]\napp_id = \"{}\"\norganization = \"{}\"\ncertificate_path = \"{}\"\ncertificate_password_file = \"{}\"\nauthority = \"{}\"\nexchange_url = \"{}\"\nca_file = \"{}\"\n",
        reader.client_id,
        info.tenant_domain,
        reader.pfx.unwrap().display(),
        reader.pfx_password_file.unwrap().display(),
        info.base_url,
        info.base_url,
        info.ca_file.display()
    );
    let config = sim.write("config.toml", config);
    let policy = edit(
        &init(&sim, &["mailbox-inventory"]),
        "# profile = \"reader\"",
        "profile = \"reader\"",
    );
    let path = sim.write("policy.toml", policy);
    let (ok, out, err) = run(run_under(
        &sim,
        &path,
        "mailbox-inventory",
        json!({"statistics": false}),
    )
    .arg("--config-file")
    .arg(&config));
    assert!(ok, "{err}");
    assert_eq!(records(&out).len(), 20);
    let apps: Vec<Option<String>> = sim
        .requests()
        .await
        .into_iter()
        .filter(|e| e.endpoint == "invoke")
        .map(|e| e.app_id)
        .collect();
    assert!(!apps.is_empty());
    assert!(
        apps.iter()
            .all(|a| a.as_deref() == Some(reader.client_id.as_str())),
        "every call went as the reader app, not the admin app of the command line: {apps:?}"
    );
    let (ok, _, err) = run(&mut run_under(&sim, &path, "mailbox-inventory", json!({})));
    assert!(
        !ok && err.contains("runs mailbox-inventory with profile 'reader'"),
        "{err}"
    );

    // A profile can name the policy its runs use (relative to the config file).
    std::fs::create_dir_all(sim.dir.path().join("ops")).unwrap();
    std::fs::write(
        sim.dir.path().join("ops/policy.toml"),
        init(&sim, &["mailbox-inventory"]),
    )
    .unwrap();
    let ops = sim.write(
        "ops/config.toml",
        "default_profile = \"ops\"\n[profiles.ops]\npolicy = \"policy.toml\"\n",
    );
    let (ok, out, err) = run(exorun(&sim)
        .args(pfx_flags(&sim, "exorun-admin"))
        .arg("--config-file")
        .arg(&ops)
        .args(["run", &plugin("mailbox-inventory"), "--output", "jsonl"]));
    assert!(ok, "{err}");
    assert_eq!(records(&out).len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_check_points_at_the_line_and_warns_of_unknown_names() {
    let sim = sim().await;
    let broken = sim.write(
        "broken.toml",
        "[[plugin]]\nname = \"auto-reply\"\ndigest = \"abc\"\n",
    );
    let (ok, _, err) = run(exorun(&sim).args(["policy", "check"]).arg(&broken));
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "{} line 3: digest 'abc' is not a sha256",
            broken.display()
        )),
        "{err}"
    );
    let policy = edit(
        &init(&sim, &["auto-reply"]),
        "name = \"Set-MailboxAutoReplyConfiguration\"",
        "name = \"Set-MailboxAutoReplyConfiguraton\"",
    );
    let path: PathBuf = sim.write("typo.toml", policy);
    let (ok, out, err) = run(exorun(&sim).args(["policy", "check"]).arg(&path));
    assert!(ok, "{err}");
    assert!(
        out.contains(
            ": ok — 1 rule(s), 0 caller rule(s), 0 auditor rule(s), 0 trusted key(s), digest "
        ),
        "{out}"
    );
    assert!(
        err.contains("warning: ")
            && err.contains("Set-MailboxAutoReplyConfiguraton is not in exorun's cmdlet catalogue")
            && err.contains("did you mean Set-MailboxAutoReplyConfiguration?"),
        "{err}"
    );
    let (ok, _, err) = run(exorun(&sim)
        .env("EXORUN_POLICY", &path)
        .args(["policy", "check"]));
    assert!(ok, "EXORUN_POLICY names the file: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_outside_the_target_scope_is_refused_and_never_sent() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 60).await;
    let (ok, out, err) = run(exorun(&sim).args(pfx_flags(&sim, "exorun-admin")).args([
        "invoke",
        "Get-Mailbox",
        "-ResultSize",
        "Unlimited",
        "--output",
        "jsonl",
    ]));
    assert!(ok, "{err}");
    let all = records(&out);
    let of_type = |kind: &str| -> Vec<String> {
        all.iter()
            .filter(|m| m["RecipientTypeDetails"] == kind)
            .map(|m| m["UserPrincipalName"].as_str().unwrap().to_string())
            .collect()
    };
    let users = of_type("UserMailbox");
    let shared = of_type("SharedMailbox");
    let (admin, user) = (users[0].clone(), users[1].clone());
    let (ok, out, err) = run(exorun(&sim).args(pfx_flags(&sim, "exorun-admin")).args([
        "invoke",
        "Get-DistributionGroup",
        "-ResultSize",
        "1",
        "--output",
        "jsonl",
    ]));
    assert!(ok, "{err}");
    let group = records(&out)[0]["Name"].as_str().unwrap().to_string();
    let (ok, _, err) = run(exorun(&sim).args(pfx_flags(&sim, "exorun-admin")).args([
        "invoke",
        "Add-DistributionGroupMember",
        "-Identity",
        &group,
        "-Member",
        &admin,
    ]));
    assert!(ok, "{err}");
    let policy = edit(
        &init(&sim, &["auto-reply"]),
        "# scope = \"RecipientTypeDetails -eq 'UserMailbox' -and -not (MemberOfGroup -eq 'Tenant Admins')\"",
        &format!(
            "scope = \"RecipientTypeDetails -eq 'UserMailbox' -and -not (MemberOfGroup -eq '{group}')\""
        ),
    );
    let path = sim.write("scoped.toml", policy);
    let before = sent(&sim).await.len();
    let (ok, out, err) = run(&mut run_under(
        &sim,
        &path,
        "auto-reply",
        json!({"identities": [user, admin, shared[0], "nobody@contoso.com"], "state": "Enabled"}),
    ));
    // A change the policy refused is one not made: the run is failed work.
    assert!(
        !ok && err.contains("exorun: FAILED: plugin auto-reply 0.1.0 ran, but ")
            && err.contains(" of its work failed: "),
        "{err}"
    );
    let rows = records(&out);
    let detail = |i: usize| rows[i]["Detail"].as_str().unwrap_or_default().to_string();
    assert_eq!(rows[0]["Result"], "Updated", "{out}");
    for i in [1, 2] {
        assert!(
            detail(i).contains("the recipient is outside the target scope of plugin auto-reply")
                && detail(i).contains(&format!("MemberOfGroup -eq '{group}'")),
            "{}",
            detail(i)
        );
    }
    assert!(
        detail(3).contains("no such recipient, so it cannot be checked"),
        "{}",
        detail(3)
    );
    let sent: Vec<(String, Value)> = sent(&sim).await.into_iter().skip(before).collect();
    let changed: Vec<&Value> = sent
        .iter()
        .filter(|(c, _)| c == "Set-MailboxAutoReplyConfiguration")
        .map(|(_, p)| &p["Identity"])
        .collect();
    let user_guid = all
        .iter()
        .find(|m| m["UserPrincipalName"] == user.as_str())
        .map(|m| m["Guid"].clone())
        .unwrap();
    assert_eq!(
        changed,
        [&user_guid],
        "only the target in scope was changed, named by the Guid the check read"
    );
    let members_read = sent
        .iter()
        .filter(|(c, _)| c == "Get-DistributionGroupMember")
        .count();
    assert_eq!(members_read, 1, "the group is read once per run");

    let (ok, out, err) = run(exorun(&sim)
        .args(["policy", "explain", &plugin("auto-reply"), "--policy"])
        .arg(&path));
    assert!(ok, "{err}");
    for line in [
        "    Set-MailboxAutoReplyConfiguration (changes)\n".to_string(),
        "      scope checked on: -Identity\n".to_string(),
        format!(
            "  scope: RecipientTypeDetails -eq 'UserMailbox' -and -not (MemberOfGroup -eq '{group}')\n"
        ),
        "  addresses outside the tenant: refused\n".to_string(),
    ] {
        assert!(out.contains(&line), "{line:?} in {out}");
    }

    let e = error_of(&sim, "scope = \"Name -gt 'A'\"");
    assert!(
        e.contains("scope: -gt is not supported in a target scope"),
        "{e}"
    );
}

/// `policy check`'s error for a rule with `line` added.
fn error_of(sim: &Sim, line: &str) -> String {
    let policy = edit(&init(sim, &["auto-reply"]), "# read_only = true", line);
    let path = sim.write("check.toml", policy);
    let (ok, _, err) = run(exorun(sim).args(["policy", "check"]).arg(&path));
    assert!(!ok);
    err
}

/// `exorun plugin <args>` in `dir`; it must succeed.
pub(crate) fn plugin_cmd(sim: &Sim, dir: &Path, args: &[&str]) {
    let (ok, _, err) = run(exorun(sim).current_dir(dir).arg("plugin").args(args));
    assert!(ok, "plugin {args:?}: {err}");
}

/// The base64 line of a minisign .pub file.
pub(crate) fn key_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_are_admitted_by_who_signed_them() {
    let sim = sim().await;
    let dir = sim.dir.path();
    for who in ["author", "review", "eve"] {
        plugin_cmd(
            &sim,
            dir,
            &[
                "keygen",
                "-p",
                &format!("{who}.pub"),
                "-s",
                &format!("{who}.key"),
                "--no-password",
            ],
        );
    }
    std::fs::copy(artifact("auto-reply"), dir.join("signed.wasm")).unwrap();
    std::fs::copy(artifact("auto-reply"), dir.join("unsigned.wasm")).unwrap();
    plugin_cmd(&sim, dir, &["sign", "signed.wasm", "-s", "author.key"]);
    // The rule admits builds by signer, not one digest.
    let policy = init(&sim, &["auto-reply"]);
    let digest_line = policy.lines().find(|l| l.starts_with("digest = ")).unwrap();
    let by_signers = |rule: &str, extra: &str| {
        let text = edit(&policy, digest_line, rule);
        format!(
            "{extra}\n[trusted_keys]\nauthor = \"{}\"\nreview = \"{}\"\n{}",
            key_line(&dir.join("author.pub")),
            key_line(&dir.join("review.pub")),
            text.replace("# [trusted_keys]\n", "")
        )
    };
    let both = sim.write(
        "both.toml",
        by_signers("signed_by = [\"author\", \"review\"]", ""),
    );
    let target = mailboxes(&sim, 1).remove(0);
    let input = json!({"identities": [target], "state": "Enabled"});
    let run_file = |policy: &Path, file: &str| {
        let command = run_under(&sim, policy, "auto-reply", input.clone());
        // run_under names the built artifact; run the scratch copy instead.
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .map(|a| {
                if a == plugin("auto-reply") {
                    dir.join(file).display().to_string()
                } else {
                    a
                }
            })
            .collect();
        let mut fresh = exorun(&sim);
        fresh.args(args);
        run(&mut fresh)
    };

    let (ok, _, err) = run_file(&both, "signed.wasm");
    assert!(!ok);
    assert!(
        err.contains("needs 2 signature(s) of author, review; it has 1 (missing: review)"),
        "{err}"
    );
    plugin_cmd(&sim, dir, &["sign", "signed.wasm", "-s", "review.key"]);
    let (ok, out, err) = run_file(&both, "signed.wasm");
    assert!(ok, "{err}");
    assert_eq!(records(&out)[0]["Result"], "Updated");

    let (ok, _, err) = run_file(&both, "unsigned.wasm");
    assert!(
        !ok && err.contains("it has 0 (missing: author, review)"),
        "{err}"
    );

    // One byte changed after signing, anywhere outside the signatures.
    let mut bytes = std::fs::read(dir.join("signed.wasm")).unwrap();
    let at = bytes.windows(10).position(|w| w == b"auto-reply").unwrap();
    bytes[at] = b'A';
    std::fs::write(dir.join("tampered.wasm"), &bytes).unwrap();
    let (ok, _, err) = run_file(&both, "tampered.wasm");
    assert!(
        !ok && err.contains("is refused") && err.contains("modified after it was signed by key"),
        "{err}"
    );

    // Signed by a key the policy does not trust: named, not counted.
    std::fs::copy(artifact("auto-reply"), dir.join("eve.wasm")).unwrap();
    plugin_cmd(&sim, dir, &["sign", "eve.wasm", "-s", "eve.key"]);
    let one = sim.write(
        "one.toml",
        by_signers("signed_by = [\"author\", \"review\"]\nmin_signers = 1", ""),
    );
    let (ok, _, err) = run_file(&one, "eve.wasm");
    assert!(
        !ok && err.contains("carries signatures by keys") && err.contains("does not trust"),
        "{err}"
    );

    // A revoked key refuses whatever else signed it.
    plugin_cmd(&sim, dir, &["sign", "signed.wasm", "-s", "eve.key"]);
    let revoked = sim.write(
        "revoked.toml",
        by_signers(
            "signed_by = [\"author\", \"review\"]",
            &format!("revoked_keys = [\"{}\"]", key_line(&dir.join("eve.pub"))),
        ),
    );
    let (ok, _, err) = run_file(&revoked, "signed.wasm");
    assert!(
        !ok && err.contains("which") && err.contains("revokes"),
        "{err}"
    );
    let (ok, _, err) = run_file(&one, "signed.wasm");
    assert!(
        ok,
        "an extra untrusted signature does not block a build its trusted signers admit: {err}"
    );
    let sets = sent(&sim)
        .await
        .into_iter()
        .filter(|(c, _)| c == "Set-MailboxAutoReplyConfiguration")
        .count();
    assert_eq!(sets, 2, "only the admitted runs sent anything");
}

/// An example policy from `examples/policies/`.
pub(crate) fn example(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../examples/policies/{name}")),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_policies_admit_what_they_say() {
    let sim = sim().await;
    let explain = |policy: &Path, file: &Path| {
        run(exorun(&sim)
            .args(["policy", "explain"])
            .arg(file)
            .arg("--policy")
            .arg(policy))
    };
    // Reporting: the digests of today's builds put in, as an operator does after a review.
    let mut reporting = example("reporting.toml");
    for name in [
        "mailbox-inventory",
        "mailbox-permission-audit",
        "stale-mailboxes",
    ] {
        let fresh = init(&sim, &[name]);
        let today = fresh.lines().find(|l| l.starts_with("digest = ")).unwrap();
        let today = &today[..today.find("  #").unwrap_or(today.len())];
        let rule = reporting.find(&format!("name = \"{name}\"")).unwrap();
        let line_start = rule + reporting[rule..].find("digest = ").unwrap();
        let line_end = line_start + reporting[line_start..].find('\n').unwrap();
        reporting.replace_range(line_start..line_end, today);
    }
    let path = sim.write("reporting.toml", reporting);
    for name in [
        "mailbox-inventory",
        "mailbox-permission-audit",
        "stale-mailboxes",
    ] {
        let (ok, out, err) = explain(&path, &artifact(name));
        assert!(ok, "{name}: {err}");
        assert!(
            out.contains("credential: profile 'reader'")
                && out.contains("changes: none (read-only)"),
            "{out}"
        );
    }
    let (ok, _, err) = explain(&path, &artifact("auto-reply"));
    assert!(!ok && err.contains("no rule names 'auto-reply'"), "{err}");

    // Helpdesk: the reviewer's key is ours; a build we signed is admitted, others are not.
    let dir = sim.dir.path();
    plugin_cmd(
        &sim,
        dir,
        &[
            "keygen",
            "-p",
            "review.pub",
            "-s",
            "review.key",
            "--no-password",
        ],
    );
    let helpdesk = example("helpdesk.toml");
    let key = helpdesk
        .lines()
        .find_map(|l| l.strip_prefix("security-review = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    let path = sim.write(
        "helpdesk.toml",
        helpdesk.replace(&key, &key_line(&dir.join("review.pub"))),
    );
    std::fs::copy(artifact("auto-reply"), dir.join("auto-reply.wasm")).unwrap();
    let (ok, _, err) = explain(&path, &dir.join("auto-reply.wasm"));
    assert!(
        !ok && err.contains("needs 1 signature(s) of security-review; it has 0"),
        "{err}"
    );
    plugin_cmd(&sim, dir, &["sign", "auto-reply.wasm", "-s", "review.key"]);
    let (ok, out, err) = explain(&path, &dir.join("auto-reply.wasm"));
    assert!(ok, "{err}");
    assert!(
        out.contains("-Identity: required, matches *@contoso.com")
            && out.contains("changes: at most 50 per run")
            && out.contains("credential: profile 'helpdesk'"),
        "{out}"
    );

    // Offboarding: find-recipient by the digest of today's build, read-only, with the reader
    // app; the plugins that change things once the reviewer signed them, with the helpdesk app
    // and only the few changes one leaver needs.
    let mut offboarding = example("offboarding.toml");
    let as_shipped = sim.write("offboarding-as-shipped.toml", &offboarding);
    let (ok, _, err) = run(exorun(&sim).args(["policy", "check"]).arg(&as_shipped));
    assert!(
        ok && !err.contains("warning"),
        "every cmdlet and parameter it names is in the catalogue: {err}"
    );
    assert!(offboarding.contains(&key));
    offboarding = offboarding.replace(&key, &key_line(&dir.join("review.pub")));
    let pinned = offboarding
        .lines()
        .find(|l| l.starts_with("digest = "))
        .unwrap()
        .to_string();
    let fresh = init(&sim, &["find-recipient"]);
    let today = fresh.lines().find(|l| l.starts_with("digest = ")).unwrap();
    let today = &today[..today.find("  #").unwrap_or(today.len())];
    let path = sim.write("offboarding.toml", edit(&offboarding, &pinned, today));
    let (ok, out, err) = explain(&path, &artifact("find-recipient"));
    assert!(ok, "{err}");
    assert!(
        out.contains("credential: profile 'reader'")
            && out.contains("changes: none (read-only)")
            && out.contains("-Filter: required, matches /Members -eq '.+'/"),
        "{out}"
    );
    for (name, changes) in [
        ("offboard-mailbox", 1),
        ("auto-reply", 50),
        ("grant-mailbox-access", 2),
        ("remove-group-member", 1),
    ] {
        let file = dir.join(format!("{name}.wasm"));
        if !file.exists() {
            std::fs::copy(artifact(name), &file).unwrap();
            let (ok, _, err) = explain(&path, &file);
            assert!(
                !ok && err.contains("needs 1 signature(s) of security-review; it has 0"),
                "{name}: {err}"
            );
            plugin_cmd(
                &sim,
                dir,
                &["sign", &format!("{name}.wasm"), "-s", "review.key"],
            );
        }
        let (ok, out, err) = explain(&path, &file);
        assert!(ok, "{name}: {err}");
        assert!(
            out.contains("credential: profile 'helpdesk'")
                && out.contains(&format!("changes: at most {changes} per run")),
            "{name}: {out}"
        );
    }
    let (ok, _, err) = explain(&path, &artifact("mailbox-inventory"));
    assert!(
        !ok && err.contains("no rule names 'mailbox-inventory'"),
        "{err}"
    );
}

/// The command between the first pair of backticks after `after` in `message`, run as the
/// admin would paste it.
fn pasted(sim: &Sim, message: &str, after: &str) -> (bool, String, String) {
    let rest = &message[message
        .find(after)
        .unwrap_or_else(|| panic!("{after}: {message}"))..];
    let start = rest.find('`').unwrap() + 1;
    let line = &rest[start..start + rest[start..].find('`').unwrap()];
    let argv = shell_words::split(line).unwrap();
    assert_eq!(argv[0], "exorun", "{line}");
    run(exorun(sim).args(&argv[1..]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_hints_are_commands_that_work_when_pasted() {
    let sim = start_with(|_| {}).await;
    let only_echo = sim.write("only echo.toml", init(&sim, &["echo"]));
    let explain = |plugin: &Path, policy: Option<&Path>| {
        let mut command = exorun(&sim);
        command.args(["policy", "explain"]).arg(plugin);
        if let Some(policy) = policy {
            command.arg("--policy").arg(policy);
        }
        run(&mut command)
    };

    // A plugin no rule names: the hint names its file, and pasting it prints a rule for it.
    let (ok, _, err) = explain(&artifact("auto-reply"), Some(&only_echo));
    assert!(!ok && err.contains("no rule names 'auto-reply'"), "{err}");
    let (ok, out, err) = pasted(&sim, &err, "no rule names");
    assert!(ok, "{err}");
    assert!(out.contains("name = \"auto-reply\""), "{out}");

    // A policy file given where the plugin goes: the hint checks the policy instead of making
    // one that would admit the policy file as a plugin.
    for policy in [Some(only_echo.as_path()), None] {
        let (ok, _, err) = explain(&only_echo, policy);
        assert!(!ok, "{err}");
        assert!(
            err.contains(&format!(
                "{} is a policy file, not a plugin: `policy explain` takes the plugin (.wasm)",
                only_echo.display()
            )),
            "{err}"
        );
        assert!(!err.contains("policy init"), "{err}");
        let (ok, out, err) = pasted(&sim, &err, "to check the policy");
        assert!(ok, "{err}");
        assert!(out.contains("ok — 1 rule(s)"), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_profile_is_reached_through_the_authority_and_ca_of_the_environment() {
    let sim = sim().await;
    let reader = sim.app("exorun-reader");
    // The profile names the app and its credential only: where Entra ID and Exchange are, and
    // the CA to trust, come from AZURE_AUTHORITY_HOST, EXORUN_EXCHANGE_URL and EXORUN_CA_FILE.
    let config = sim.write(
        "config.toml",
        format!(
            "[profiles.reader]\napp_id = \"{}\"\norganization = \"{}\"\ncertificate_path = \"{}\"\ncertificate_password_file = \"{}\"\n",
            reader.client_id,
            sim.info().tenant_domain,
            reader.pfx.unwrap().display(),
            reader.pfx_password_file.unwrap().display(),
        ),
    );
    let policy = edit(
        &init(&sim, &["mailbox-inventory"]),
        "# profile = \"reader\"",
        "profile = \"reader\"",
    );
    let path = sim.write("policy.toml", policy);
    let (ok, out, err) = run(run_under(
        &sim,
        &path,
        "mailbox-inventory",
        json!({"statistics": false}),
    )
    .arg("--config-file")
    .arg(&config));
    assert!(ok, "{err}");
    assert_eq!(records(&out).len(), 20);
    assert!(
        sim.requests()
            .await
            .iter()
            .filter(|e| e.endpoint == "invoke")
            .all(|e| e.app_id.as_deref() == Some(reader.client_id.as_str())),
        "every call went as the reader app"
    );
}
