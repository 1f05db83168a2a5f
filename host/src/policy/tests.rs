use std::sync::Arc;

use serde_json::json;

use super::*;

const DIGEST: &str = "3f2a0c5b9e1d4f6a8b7c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a";
const OTHER: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// A minisign public key line (random bytes of the right shape).
const KEY: &str = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";

fn auto_reply() -> Manifest {
    Manifest::parse(
        r#"
name = "auto-reply"
version = "0.1.0"
description = "Sets automatic replies"
mutates = true
[[cmdlet]]
name = "Set-MailboxAutoReplyConfiguration"
parameters = ["Identity", "AutoReplyState", "InternalMessage"]
[[cmdlet]]
name = "Get-Mailbox"
parameters = ["Identity", "ResultSize"]
[limits]
memory_mb = 64
[[config]]
key = "tone"
description = "d"
"#,
    )
    .unwrap()
}

const HELPDESK: &str = r#"
[trusted_keys]
review = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"

[[plugin]]
name = "auto-reply"
digest = "3f2a0c5b9e1d4f6a8b7c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a"
max_mutations = 2
[plugin.limits]
memory_mb = 128
[plugin.config]
tone = { values = ["formal", "friendly"] }

[[plugin.cmdlet]]
name = "set-mailboxautoreplyconfiguration"
[plugin.cmdlet.parameters]
Identity = { glob = "*@contoso.com", required = true }
AutoReplyState = { values = ["Enabled", "Disabled"] }
InternalMessage = {}

[[plugin.cmdlet]]
name = "Get-Mailbox"
parameters = { Identity = {}, ResultSize = { max = 1000 } }
"#;

fn candidate<'a>(manifest: &'a Manifest, digest: &'a str, signers: &'a [String]) -> Candidate<'a> {
    Candidate {
        manifest,
        digest,
        signers,
        file: None,
    }
}

fn error(text: &str) -> String {
    Policy::parse(text, "policy.toml").unwrap_err().to_string()
}

#[test]
fn errors_point_at_the_line() {
    let e = error("[[plugin]]\nname = \"x\"\ndigest = \"abc\"\n");
    assert!(
        e.starts_with("policy.toml line 3: digest 'abc' is not a sha256"),
        "{e}"
    );
    let e = error("[[plugin]]\nname = \"x\"\n");
    assert!(
        e.starts_with("policy.toml line 1: the rule for 'x' admits no build"),
        "{e}"
    );
    let e = error(&format!(
        "[[plugin]]\nname = \"x\"\ndigest = \"{DIGEST}\"\n[[plugin.cmdlet]]\nname = \"Get-Mailbox\"\n[plugin.cmdlet.parameters]\nIdentity = {{ regex = \"(\" }}\n"
    ));
    assert!(
        e.starts_with("policy.toml line 7: regex '(' is not a valid regular expression"),
        "{e}"
    );
    let e = error(&format!(
        "[[plugin]]\nname = \"x\"\ndigest = \"{DIGEST}\"\nsigned_by = [\"nobody\"]\n"
    ));
    assert!(
        e.starts_with("policy.toml line 4: signed_by names 'nobody'"),
        "{e}"
    );
    let e = error("[trusted_keys]\nreview = \"not a key\"\n");
    assert!(
        e.starts_with("policy.toml line 2: trusted key 'review' is not a minisign public key"),
        "{e}"
    );
    let e = error("[[plugin]]\nname = \"x\"\nsigned = true\n");
    assert!(
        e.contains("line 3") && e.contains("unknown field `signed`"),
        "{e}"
    );
    let e = error(&format!(
        "[[plugin]]\nname = \"x\"\ndigest = \"{DIGEST}\"\n[[plugin.cmdlet]]\nname = \"Get Mailbox\"\n"
    ));
    assert!(
        e.starts_with("policy.toml line 5: 'Get Mailbox' is not a cmdlet name"),
        "{e}"
    );
    let policy = Policy::parse(
        &format!("[[plugin]]\nname = \"x\"\ndigest = \"{DIGEST}\"\n[[plugin.cmdlet]]\nname = \"Get-Mailboxx\"\n[[plugin.cmdlet]]\nname = \"Get-Mailbox\"\nparameters = {{ Identiti = {{}} }}\n"),
        "policy.toml",
    )
    .unwrap();
    assert_eq!(
        policy.warnings(),
        [
            "policy.toml line 5: Get-Mailboxx is not in exorun's cmdlet catalogue, so the types of its values are not checked; did you mean Get-Mailbox?",
            "policy.toml line 8: Get-Mailbox has no parameter Identiti in exorun's catalogue; did you mean Identity?",
        ]
    );
}

#[test]
fn admits_by_digest_and_explains_a_different_build() {
    let policy = Policy::parse(HELPDESK, "policy.toml").unwrap();
    let manifest = auto_reply();
    let grant = policy.admit(candidate(&manifest, DIGEST, &[])).unwrap();
    assert_eq!(grant.source, "policy.toml line 5");
    assert_eq!(grant.cmdlets.len(), 2);
    let refusal = policy.admit(candidate(&manifest, OTHER, &[])).unwrap_err();
    let text = Refused {
        refusal: &refusal,
        candidate: candidate(&manifest, OTHER, &[]),
    }
    .to_string();
    assert!(
        text.contains("not admitted by policy.toml")
            && text.contains(&format!(
                "the rule at line 5 pins digest {DIGEST}, this build is {OTHER}"
            )),
        "{text}"
    );
    let mut other = manifest.clone();
    other.name = "other".into();
    let refusal = policy.admit(candidate(&other, DIGEST, &[])).unwrap_err();
    let text = Refused {
        refusal: &refusal,
        candidate: candidate(&other, DIGEST, &[]),
    }
    .to_string();
    assert!(
        text.contains("no rule names 'other'") && text.contains("exorun policy init"),
        "{text}"
    );
}

#[test]
fn revocation_beats_every_grant() {
    let text = format!("revoked = [\"sha256:{DIGEST}\"]\n{HELPDESK}");
    let policy = Policy::parse(&text, "policy.toml").unwrap();
    let manifest = auto_reply();
    let signers = ["review".to_string()];
    assert_eq!(
        policy
            .admit(candidate(&manifest, DIGEST, &signers))
            .unwrap_err(),
        Refusal::Revoked {
            origin: "policy.toml".into(),
            line: 1
        }
    );
}

#[test]
fn signers_admit_any_build_they_signed() {
    let text = format!(
        "[trusted_keys]\nauthor = \"{KEY}\"\nreview = \"{KEY}\"\n[[plugin]]\nname = \"auto-reply\"\nsigned_by = [\"author\", \"review\"]\nmin_signers = 1\n[[plugin]]\nname = \"auto-reply\"\nsigned_by = [\"author\", \"review\"]\n"
    );
    let policy = Policy::parse(&text, "policy.toml").unwrap();
    let manifest =
        Manifest::parse("name = 'auto-reply'\nversion = '1.0.0'\ndescription = 'd'").unwrap();
    let one = ["review".to_string()];
    let grant = policy.admit(candidate(&manifest, OTHER, &one)).unwrap();
    assert_eq!(
        grant.lineage.as_deref(),
        Some("auto-reply signed by author, review"),
        "builds admitted by their signers share checkpoints"
    );
    let pinned = Policy::parse(HELPDESK, "policy.toml").unwrap();
    let grant = pinned.admit(candidate(&auto_reply(), DIGEST, &[])).unwrap();
    assert_eq!(grant.lineage, None, "a pinned build keeps its own");
    assert_eq!(
        policy
            .rule_for(candidate(&manifest, OTHER, &one))
            .unwrap()
            .line,
        4
    );
    let refusal = policy
        .rule_for(candidate(&manifest, OTHER, &[]))
        .unwrap_err();
    let Refusal::NotAdmitted { near, .. } = refusal else {
        panic!("{refusal:?}")
    };
    assert_eq!(
        near[1],
        "the rule at line 8 needs 2 signature(s) of author, review; it has 0 (missing: author, review)"
    );
    let e = error(&format!(
        "[trusted_keys]\na = \"{KEY}\"\n[[plugin]]\nname = \"x\"\nsigned_by = [\"a\"]\nmin_signers = 2\n"
    ));
    assert!(
        e.starts_with("policy.toml line 6: min_signers = 2 but signed_by names 1 key(s)"),
        "{e}"
    );
}

#[test]
fn a_manifest_asking_for_more_is_refused_with_the_lines_that_would_allow_it() {
    let narrowed = HELPDESK
        .replace("InternalMessage = {}\n", "")
        .replace("memory_mb = 128", "memory_mb = 32");
    let text = narrowed.replace(
        "[[plugin.cmdlet]]\nname = \"Get-Mailbox\"\nparameters = { Identity = {}, ResultSize = { max = 1000 } }\n",
        "",
    );
    let policy = Policy::parse(&text, "policy.toml").unwrap();
    let manifest = auto_reply();
    let refusal = policy.admit(candidate(&manifest, DIGEST, &[])).unwrap_err();
    let Refusal::Exceeds { missing, line, .. } = &refusal else {
        panic!("{refusal:?}")
    };
    assert_eq!(*line, 5);
    assert_eq!(
        missing.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "parameter -InternalMessage of Set-MailboxAutoReplyConfiguration: add `InternalMessage = {}` to the parameters of its grant (line 14)",
            "cmdlet Get-Mailbox: add to the rule\n      [[plugin.cmdlet]]\n      name = \"Get-Mailbox\"\n      parameters = { Identity = {}, ResultSize = {} }",
            "limits.memory_mb: the manifest asks for 64, the rule allows 32: raise `limits.memory_mb`",
        ]
    );
    let message = Refused {
        refusal: &refusal,
        candidate: candidate(&manifest, DIGEST, &[]),
    }
    .to_string();
    assert!(message.ends_with("set `narrow = true` in the rule to run it without them (each such call is then refused)."), "{message}");
    let narrow = text.replace("max_mutations = 2", "max_mutations = 2\nnarrow = true");
    let policy = Policy::parse(&narrow, "policy.toml").unwrap();
    let grant = policy.admit(candidate(&manifest, DIGEST, &[])).unwrap();
    assert_eq!(grant.cmdlets.len(), 1);
    assert_eq!(grant.withheld.len(), 3);
    let read_only = HELPDESK.replace("max_mutations = 2", "read_only = true");
    let policy = Policy::parse(&read_only, "policy.toml").unwrap();
    let refusal = policy.admit(candidate(&manifest, DIGEST, &[])).unwrap_err();
    assert!(
        matches!(&refusal, Refusal::Exceeds { missing, .. } if missing == &[Missing::ReadOnly { cmdlet: "Set-MailboxAutoReplyConfiguration".into() }]),
        "{refusal:?}"
    );
}

#[test]
fn settings_are_checked_against_the_grant() {
    let policy = Policy::parse(HELPDESK, "policy.toml").unwrap();
    let grant = policy.admit(candidate(&auto_reply(), DIGEST, &[])).unwrap();
    assert!(grant.check_config([("tone", "formal")]).is_ok());
    assert_eq!(
        grant.check_config([("tone", "rude")]).unwrap_err(),
        "setting tone: 'rude' is not one of the allowed values ('formal', 'friendly') (policy: policy.toml line 5)"
    );
    assert!(
        grant
            .check_config([("other", "x")])
            .unwrap_err()
            .contains("no setting 'other'; it allows tone")
    );
}

fn gate() -> Gate {
    let policy = Policy::parse(HELPDESK, "policy.toml").unwrap();
    let grant = policy.admit(candidate(&auto_reply(), DIGEST, &[])).unwrap();
    Gate::new(Arc::new(grant), None, false)
}

fn checked(gate: &Gate, cmdlet: &str, params: serde_json::Value) -> Result<(), String> {
    gate.check(cmdlet, params.as_object().unwrap()).map(|_| ())
}

#[test]
fn the_gate_checks_names_types_values_and_targets() {
    let gate = gate();
    let set = "Set-MailboxAutoReplyConfiguration";
    assert!(
        checked(
            &gate,
            set,
            json!({"Identity": "ann@contoso.com", "AutoReplyState": "Enabled"})
        )
        .is_ok()
    );
    assert!(
        checked(
            &gate,
            "set-mailboxautoreplyconfiguration",
            json!({"identity": "ann@contoso.com"})
        )
        .is_ok()
    );
    let e = checked(&gate, set, json!({"Identity": "admin@fabrikam.com"})).unwrap_err();
    assert_eq!(
        e,
        "-Identity of Set-MailboxAutoReplyConfiguration: 'admin@fabrikam.com' does not match *@contoso.com (policy: policy.toml line 5)"
    );
    let e = checked(&gate, set, json!({"AutoReplyState": "Enabled"})).unwrap_err();
    assert!(e.contains("must be given -Identity"), "{e}");
    let e = checked(
        &gate,
        set,
        json!({"Identity": "ann@contoso.com", "AutoReplyState": "Scheduled"}),
    )
    .unwrap_err();
    assert!(
        e.contains("'Scheduled' is not one of the allowed values"),
        "{e}"
    );
    let e = checked(
        &gate,
        set,
        json!({"Identity": "ann@contoso.com", "ExternalMessage": "x"}),
    )
    .unwrap_err();
    assert!(
        e.contains("not granted the parameter -ExternalMessage"),
        "{e}"
    );
    let e = checked(&gate, "Set-Mailbox", json!({})).unwrap_err();
    assert!(
        e.contains("is not granted Set-Mailbox")
            && e.contains("it may call Set-MailboxAutoReplyConfiguration, Get-Mailbox"),
        "{e}"
    );
    let e = checked(&gate, "Get-Mailbox", json!({"ResultSize": "Unlimited"})).unwrap_err();
    assert!(e.contains("not a number of at most 1000"), "{e}");
    let e = checked(&gate, "Get-Mailbox", json!({"ResultSize": true})).unwrap_err();
    assert!(
        e.contains("not a whole number or Unlimited"),
        "type from the catalogue: {e}"
    );
    assert!(checked(&gate, "Get-Mailbox", json!({"ResultSize": 10})).is_ok());
}

#[test]
fn nothing_slips_through_a_name() {
    let gate = gate();
    for cmdlet in [
        "Get-Mailbox ",
        " Get-Mailbox",
        "Get-Mailbox\n",
        "Get-Mailbox;Set-Mailbox",
        "Get-\u{0}Mailbox",
        "Get–Mailbox",
    ] {
        let e = checked(&gate, cmdlet, json!({})).unwrap_err();
        assert!(e.contains("is not a cmdlet name"), "{cmdlet:?}: {e}");
    }
    for name in [
        "Identity ",
        "Identity\u{0}",
        "Iden tity",
        "-Identity",
        "Identity@odata.id",
        "Identity@data.type",
    ] {
        let e = checked(&gate, "Get-Mailbox", json!({ name: "ann@contoso.com" })).unwrap_err();
        assert!(
            e.contains("not a parameter name") || e.contains("is not allowed"),
            "{name:?}: {e}"
        );
    }
    assert!(
        checked(
            &gate,
            "Get-Mailbox",
            json!({"Identity": "ann@contoso.com", "Identity@odata.type": "#String"})
        )
        .is_ok()
    );
    let e = checked(
        &gate,
        "Get-Mailbox",
        json!({"Filter@odata.type": "#String"}),
    )
    .unwrap_err();
    assert!(
        e.contains("not granted the parameter -Filter"),
        "an annotation of an ungranted parameter: {e}"
    );
}

#[test]
fn changes_are_counted_and_read_only_refuses_them() {
    let mut gate = gate();
    gate.mutations = 2;
    let e = checked(
        &gate,
        "Set-MailboxAutoReplyConfiguration",
        json!({"Identity": "ann@contoso.com"}),
    )
    .unwrap_err();
    assert!(
        e.contains("has made the 2 change(s) one run may make"),
        "{e}"
    );
    assert!(
        checked(&gate, "Get-Mailbox", json!({})).is_ok(),
        "reads are not counted"
    );
}

#[test]
fn a_starting_policy_admits_exactly_what_the_manifest_requests() {
    let manifest = auto_reply();
    let text = init::starting_policy(&[(manifest.clone(), DIGEST.to_string())]);
    let policy = Policy::parse(&text, "new.toml").unwrap();
    assert!(policy.warnings().is_empty(), "{:?}", policy.warnings());
    let grant = policy.admit(candidate(&manifest, DIGEST, &[])).unwrap();
    assert!(grant.withheld.is_empty());
    let requested: Vec<(String, Vec<String>)> = manifest
        .cmdlets
        .iter()
        .map(|c| (c.name.clone(), c.parameters.clone()))
        .collect();
    let granted: Vec<(String, Vec<String>)> = grant
        .cmdlets
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                c.parameters.iter().map(|(p, _)| p.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(granted, requested);
    assert!(grant.check_config([("tone", "anything")]).is_ok());
}

#[test]
fn scope_on_needs_a_scope_and_parameter_names() {
    let base = format!("[[plugin]]\nname = \"x\"\ndigest = \"{DIGEST}\"\n");
    let e = error(&format!("{base}scope_on = [\"Identity\"]\n"));
    assert!(
        e.contains("line 4: scope_on names the parameters a scope is checked on, but the rule has no scope: add one or remove scope_on"),
        "{e}"
    );
    let scoped = format!("{base}scope = \"Name -eq 'a'\"\n");
    let e = error(&format!("{scoped}scope_on = [\"Iden tity\"]\n"));
    assert!(
        e.contains("line 5: scope_on: 'Iden tity' is not a parameter name"),
        "{e}"
    );
    let e = error(&format!("{scoped}scope_on = []\n"));
    assert!(
        e.contains("scope_on is empty, so the scope would check nothing"),
        "{e}"
    );
}

#[test]
fn the_scope_is_checked_on_every_recipient_a_change_names() {
    use crate::exchange::catalogue::Names;
    let mut grant = Grant::from_manifest(&auto_reply());
    assert!(grant.scope_targets("Set-Mailbox").is_empty(), "no scope");
    grant.scope = Some(Arc::new(scope::Scope::parse("Name -eq 'a'").unwrap()));
    let on = |grant: &Grant, cmdlet: &str| -> Vec<(String, Option<Names>)> {
        grant.scope_targets(cmdlet)
    };
    let recipient = |name: &str| (name.to_string(), Some(Names::Recipient));
    assert_eq!(
        on(&grant, "remove-distributiongroupmember"),
        [recipient("Identity"), recipient("Member")]
    );
    let set = on(&grant, "Set-Mailbox");
    assert!(set.contains(&("ForwardingSmtpAddress".into(), Some(Names::Address))));
    assert!(set.contains(&recipient("GrantSendOnBehalfTo")));
    assert_eq!(
        on(&grant, "Set-Frobnicator"),
        [("Identity".to_string(), None)],
        "a cmdlet the catalogue lacks: -Identity"
    );
    grant.scope_on = Some(vec!["member".into(), "Custom".into()]);
    assert_eq!(
        on(&grant, "Remove-DistributionGroupMember"),
        [recipient("Member"), ("Custom".to_string(), None)]
    );
}

#[test]
fn a_name_given_twice_in_the_same_spelling_is_found() {
    assert_eq!(
        gate::repeated_name(
            r#"{"Identity": "ann", "AutoReplyState": "Enabled", "Identity": "room1"}"#
        ),
        Some("Identity".to_string())
    );
    assert_eq!(
        gate::repeated_name(r#"{"Identity": "ann", "identity": "room1"}"#),
        None
    );
}
