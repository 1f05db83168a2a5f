use serde_json::json;

use super::*;
use crate::caller::{Caller, Groups, TokenIdentity, Via};
use crate::policy::Policy;

const POLICY: &str = r#"
[[plugin]]
name = "auto-reply"
digest = "1111111111111111111111111111111111111111111111111111111111111111"

[[plugin]]
name = "offboard"
digest = "2222222222222222222222222222222222222222222222222222222222222222"

[[caller]]
name = "helpdesk auto-replies"
who = ["unix-group:helpdesk", "role:Exorun.Helpdesk"]
plugins = ["auto-reply"]
runs_per_hour = 5
[caller.inputs]
identities = { glob = "*@contoso.com", required = true }
days = { min = 1, max = 30 }

[[caller]]
name = "offboarding"
who = ["group:aaaaaaaa-0000-0000-0000-000000000001"]
plugins = ["offboard"]
approvers = ["group:bbbbbbbb-0000-0000-0000-000000000002", "user:carol@contoso.com"]
[caller.inputs]
identity = {}

[[caller]]
who = ["user:dan@contoso.com"]
workflows = ["inventory"]
dry_run_only = true
"#;

fn policy() -> Policy {
    Policy::parse(POLICY, "policy.toml").unwrap()
}

fn unix(name: &str, uid: u32, groups: &[&str]) -> Caller {
    Caller::unix(
        name,
        uid,
        uid,
        None,
        groups.iter().map(|g| g.to_string()).collect(),
    )
}

fn user(upn: &str, oid: &str, groups: Groups, roles: &[&str]) -> Caller {
    Caller {
        principal: upn.into(),
        via: Via::EntraToken {
            tenant: "t".into(),
            identity: TokenIdentity::User,
            version: "2.0".into(),
        },
        upn: Some(upn.into()),
        object_id: Some(oid.into()),
        app_id: None,
        unix_user: None,
        groups,
        roles: roles.iter().map(|r| r.to_string()).collect(),
        source: None,
    }
}

fn object(value: serde_json::Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

const AUTO_REPLY: Target<'static> = Target::Plugin {
    name: "auto-reply",
    digest: "1111111111111111111111111111111111111111111111111111111111111111",
};

#[test]
fn a_helpdesk_member_runs_auto_reply_within_its_constraints() {
    let policy = policy();
    let alice = unix("alice", 1001, &["helpdesk"]);
    let input = object(json!({"identities": ["ann@contoso.com"], "days": 3}));
    let ask = Ask {
        target: AUTO_REPLY,
        input: &input,
        dry_run: false,
    };
    let ok = policy.authorize(&alice, ask, 0).unwrap();
    assert_eq!(ok.rule.name.as_deref(), Some("helpdesk auto-replies"));
    // The same through an app role on a token.
    let role = user(
        "zed@contoso.com",
        "z",
        Groups::default(),
        &["Exorun.Helpdesk"],
    );
    assert!(policy.authorize(&role, ask, 0).is_ok());

    let outside = object(json!({"identities": ["ann@fabrikam.com"]}));
    let err = policy
        .authorize(
            &alice,
            Ask {
                input: &outside,
                ..ask
            },
            0,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("input field 'identities': 'ann@fabrikam.com' does not match *@contoso.com"),
        "{err}"
    );
    let extra = object(json!({"identities": ["ann@contoso.com"], "forward_to": "x@evil.com"}));
    let err = policy
        .authorize(
            &alice,
            Ask {
                input: &extra,
                ..ask
            },
            0,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("'forward_to' may not be given: the rule allows days, identities"),
        "{err}"
    );
    let missing = object(json!({"days": 3}));
    let err = policy
        .authorize(
            &alice,
            Ask {
                input: &missing,
                ..ask
            },
            0,
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("'identities' is required"),
        "{err}"
    );
    let err = policy.authorize(&alice, ask, 5).unwrap_err();
    assert!(
        matches!(err, CallerRefusal::RateLimited { count: 5, .. }),
        "{err}"
    );
}

#[test]
fn deny_by_default_names_what_the_caller_may_run() {
    let policy = policy();
    let alice = unix("alice", 1001, &["helpdesk"]);
    let input = Map::new();
    let offboard = Target::Plugin {
        name: "offboard",
        digest: "2222222222222222222222222222222222222222222222222222222222222222",
    };
    let err = policy
        .authorize(
            &alice,
            Ask {
                target: offboard,
                input: &input,
                dry_run: false,
            },
            0,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unix:alice may not run plugin offboard: no caller rule of policy.toml names them for it (they may run: plugin auto-reply). Ask the operator for a [[caller]] rule"
    );
    // A Unix user named like an Entra principal is not that principal.
    let bob = unix("bob", 1002, &["aaaaaaaa-0000-0000-0000-000000000001"]);
    assert!(matches!(
        policy.authorize(
            &bob,
            Ask {
                target: offboard,
                input: &input,
                dry_run: false
            },
            0
        ),
        Err(CallerRefusal::NoRule { .. })
    ));
    // A token's UPN is not a Unix group, and a user name is not a user principal.
    let nobody = unix("dan@contoso.com", 1003, &[]);
    assert!(
        policy
            .authorize(
                &nobody,
                Ask {
                    target: Target::Workflow("inventory"),
                    input: &input,
                    dry_run: true
                },
                0
            )
            .is_err()
    );
}

#[test]
fn a_group_rule_fails_closed_on_the_overage_marker() {
    let policy = policy();
    let input = object(json!({"identity": "leaver@contoso.com"}));
    let ask = Ask {
        target: Target::Plugin {
            name: "offboard",
            digest: "2222222222222222222222222222222222222222222222222222222222222222",
        },
        input: &input,
        dry_run: false,
    };
    let member = user(
        "erin@contoso.com",
        "e",
        Groups::Known(vec!["AAAAAAAA-0000-0000-0000-000000000001".into()]),
        &[],
    );
    let ok = policy.authorize(&member, ask, 0).unwrap();
    assert!(ok.rule.approval.is_some());
    let overage = user("erin@contoso.com", "e", Groups::Overage, &[]);
    let err = policy.authorize(&overage, ask, 0).unwrap_err();
    assert!(err.to_string().contains("groups overage marker"), "{err}");
    assert_eq!(err.rule(), Some("caller rule 'offboarding' (line 19)"));
}

#[test]
fn dry_run_only_rules_refuse_real_runs() {
    let policy = policy();
    let dan = user("Dan@Contoso.com", "d", Groups::default(), &[]);
    let input = Map::new();
    let ask = Ask {
        target: Target::Workflow("inventory"),
        input: &input,
        dry_run: false,
    };
    let err = policy.authorize(&dan, ask, 0).unwrap_err();
    assert!(err.to_string().contains("only as a dry run"), "{err}");
    assert!(
        policy
            .authorize(
                &dan,
                Ask {
                    dry_run: true,
                    ..ask
                },
                0
            )
            .is_ok()
    );
}

#[test]
fn an_approver_is_never_the_requester() {
    let policy = policy();
    let rule = &policy.caller_rules()[1];
    let requester = user(
        "erin@contoso.com",
        "e",
        Groups::Known(vec!["bbbbbbbb-0000-0000-0000-000000000002".into()]),
        &[],
    );
    let same_person = user("ERIN@contoso.com", "e", Groups::default(), &[]);
    assert!(matches!(
        may_approve(rule, &requester, &requester),
        Err(ApprovalRefusal::OwnRequest { .. })
    ));
    assert!(matches!(
        may_approve(rule, &requester, &same_person),
        Err(ApprovalRefusal::OwnRequest { .. })
    ));
    let carol = user("carol@contoso.com", "c", Groups::default(), &[]);
    assert!(may_approve(rule, &requester, &carol).is_ok());
    let frank = user(
        "frank@contoso.com",
        "f",
        Groups::Known(vec!["bbbbbbbb-0000-0000-0000-000000000002".into()]),
        &[],
    );
    assert!(may_approve(rule, &requester, &frank).is_ok());
    let gil = user("gil@contoso.com", "g", Groups::default(), &[]);
    let err = may_approve(rule, &requester, &gil).unwrap_err();
    assert!(
        err.to_string()
            .contains("is not an approver of caller rule 'offboarding'"),
        "{err}"
    );
    let overage = user("hal@contoso.com", "h", Groups::Overage, &[]);
    assert!(matches!(
        may_approve(rule, &requester, &overage),
        Err(ApprovalRefusal::GroupsOverage { .. })
    ));
    assert!(matches!(
        may_approve(&policy.caller_rules()[0], &requester, &carol),
        Err(ApprovalRefusal::NotNeeded)
    ));
}

#[test]
fn bad_caller_rules_point_at_the_line() {
    let cases = [
        (
            "who = [\"alice\"]\nplugins = [\"x\"]",
            "names no kind of caller",
        ),
        (
            "who = [\"wizard:alice\"]\nplugins = [\"x\"]",
            "'wizard' in 'wizard:alice' is not a kind of caller",
        ),
        ("who = []\nplugins = [\"x\"]", "`who` is empty"),
        (
            "who = [\"user:a@b.c\"]",
            "names no `plugins` and no `workflows`",
        ),
        (
            "who = [\"user:a@b.c\"]\nplugins = [\"../etc/passwd\"]",
            "is neither a plugin name",
        ),
        (
            "who = [\"user:a@b.c\"]\nworkflows = [\"a/b\"]",
            "is not a workflow name",
        ),
        (
            "who = [\"user:a@b.c\"]\nplugins = [\"x\"]\nmin_approvals = 2",
            "`min_approvals` without `approvers`",
        ),
        (
            "who = [\"user:a@b.c\"]\nplugins = [\"x\"]\napprovers = [\"user:b@b.c\"]\nmin_approvals = 0",
            "approves nothing",
        ),
        (
            "who = [\"user:a@b.c\"]\nplugins = [\"x\"]\nrunz_per_hour = 3",
            "unknown field `runz_per_hour`",
        ),
        (
            "who = [\"user:a@b.c\"]\nplugins = [\"x\"]\n[caller.inputs]\nid = { regex = \"(\" }",
            "not a valid regular expression",
        ),
    ];
    for (body, expected) in cases {
        let text = format!("\n[[caller]]\n{body}\n");
        let err = Policy::parse(&text, "p.toml").unwrap_err().to_string();
        assert!(err.contains(expected), "{body}: {err}");
        assert!(err.starts_with("p.toml"), "{err}");
    }
    let warned = Policy::parse(
        "[[caller]]\nwho = [\"user:a@b.c\"]\nplugins = [\"ghost\"]\n",
        "p.toml",
    )
    .unwrap();
    assert!(
        warned.warnings()[0].contains("names plugin 'ghost', which no [[plugin]] rule admits"),
        "{:?}",
        warned.warnings()
    );
}

#[test]
fn an_approval_counts_only_for_the_very_request_and_in_time() {
    let approval = Approval {
        approvers: vec![Principal::Role("Exorun.Approver".into())],
        min_approvals: 2,
        hours: 1,
    };
    let input = json!({"identity": "leaver@contoso.com"});
    let bound = Bound {
        digest: "d1",
        input: &input,
        dry_run: false,
        policy_digest: "p1",
        plan_hash: "h1",
    };
    let binding = bound.binding();
    let other_input = json!({"identity": "ceo@contoso.com"});
    let changes = [
        Bound {
            digest: "d2",
            ..bound
        },
        Bound {
            input: &other_input,
            ..bound
        },
        Bound {
            dry_run: true,
            ..bound
        },
        Bound {
            policy_digest: "p2",
            ..bound
        },
        Bound {
            plan_hash: "h2",
            ..bound
        },
    ];
    for changed in changes {
        assert_ne!(changed.binding(), binding, "{changed:?}");
    }
    let given = |who: &str, binding: &str, at_ms: i64| Given {
        approver: who.into(),
        binding: binding.into(),
        at_ms,
    };
    let hour = 3_600_000;
    assert_eq!(
        standing(
            &approval,
            &[given("bob@contoso.com", &binding, 10)],
            &binding,
            0,
            20
        ),
        ApprovalStanding::Waiting { have: 1, need: 2 }
    );
    // The same approver twice is one approval; an approval of another binding does not count.
    let twice = [
        given("bob@contoso.com", &binding, 10),
        given("BOB@contoso.com", &binding, 11),
        given("carol@contoso.com", &changes[1].binding(), 12),
    ];
    assert_eq!(
        standing(&approval, &twice, &binding, 0, 20),
        ApprovalStanding::Waiting { have: 1, need: 2 }
    );
    let two = [
        given("bob@contoso.com", &binding, 10),
        given("carol@contoso.com", &binding, 12),
    ];
    assert_eq!(
        standing(&approval, &two, &binding, 0, 20),
        ApprovalStanding::Approved(vec!["bob@contoso.com".into(), "carol@contoso.com".into()])
    );
    // Approvals older than the rule's hours have expired, and so has the request.
    assert_eq!(
        standing(&approval, &two, &binding, 0, 2 * hour),
        ApprovalStanding::Expired
    );
}

#[test]
fn an_auditor_rule_names_who_may_read_the_log_and_a_group_overage_is_refused() {
    let text = format!(
        "{POLICY}\n[[auditor]]\nname = \"security\"\nwho = [\"unix-group:secops\", \"group:cccccccc-0000-0000-0000-000000000003\"]\n"
    );
    let policy = Policy::parse(&text, "policy.toml").unwrap();
    let eve = unix("eve", 1005, &["secops"]);
    assert_eq!(
        policy.auditor(&eve).unwrap().label(),
        "auditor rule 'security' (line 32)"
    );
    let alice = unix("alice", 1001, &["helpdesk"]);
    assert!(
        policy
            .auditor(&alice)
            .unwrap_err()
            .contains("unix:alice is not an auditor"),
    );
    let overage = user("olga@contoso.com", "o1", Groups::Overage, &[]);
    assert!(
        policy
            .auditor(&overage)
            .unwrap_err()
            .contains("overage marker"),
    );
    let empty = format!("{POLICY}\n[[auditor]]\nwho = []\n");
    let error = Policy::parse(&empty, "policy.toml")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`who` of an auditor rule is empty"),
        "{error}"
    );
}
