//! Mailbox permissions (Get/Add/Remove-MailboxPermission) and SendAs
//! (Get/Add/Remove-RecipientPermission).

use crate::directory::Tenant;
use crate::directory::recipient::{MailboxData, MailboxGrant, Recipient, RecipientKind};
use crate::exchange::error::CmdletError;
use crate::exchange::params::Params;

use super::{CmdletSpec, Context, DEFAULT_RESULT_SIZE, Output, Run, Surface, object, resolve};

/// The cmdlets of this module.
pub const CMDLETS: [CmdletSpec; 6] = [
    CmdletSpec {
        name: "Get-MailboxPermission",
        surface: Surface::Exchange,
        params: &["Identity", "User", "ResultSize", "Owner"],
        run: Run::Read(get_mailbox_permission),
    },
    CmdletSpec {
        name: "Add-MailboxPermission",
        surface: Surface::Exchange,
        params: &[
            "Identity",
            "User",
            "AccessRights",
            "InheritanceType",
            "AutoMapping",
            "Deny",
            "Confirm",
        ],
        run: Run::Write(add_mailbox_permission),
    },
    CmdletSpec {
        name: "Remove-MailboxPermission",
        surface: Surface::Exchange,
        params: &[
            "Identity",
            "User",
            "AccessRights",
            "InheritanceType",
            "Deny",
            "Confirm",
            "BypassMasterAccountSid",
        ],
        run: Run::Write(remove_mailbox_permission),
    },
    CmdletSpec {
        name: "Get-RecipientPermission",
        surface: Surface::Exchange,
        params: &["Identity", "Trustee", "AccessRights", "ResultSize"],
        run: Run::Read(get_recipient_permission),
    },
    CmdletSpec {
        name: "Add-RecipientPermission",
        surface: Surface::Exchange,
        params: &["Identity", "Trustee", "AccessRights", "Confirm"],
        run: Run::Write(add_recipient_permission),
    },
    CmdletSpec {
        name: "Remove-RecipientPermission",
        surface: Surface::Exchange,
        params: &["Identity", "Trustee", "AccessRights", "Confirm"],
        run: Run::Write(remove_recipient_permission),
    },
];

/// The implicit entry every mailbox grants its own user.
const SELF: &str = "NT AUTHORITY\\SELF";
/// Members of `MailboxRights` that Add/Remove-MailboxPermission accept.
const MAILBOX_RIGHTS: [&str; 6] = [
    "ChangeOwner",
    "ChangePermission",
    "DeleteItem",
    "ExternalAccount",
    "FullAccess",
    "ReadPermission",
];
/// Members of `RecipientAccessRight`.
const RECIPIENT_RIGHTS: [&str; 1] = ["SendAs"];
/// Members of `ActiveDirectorySecurityInheritance`.
const INHERITANCE: [&str; 5] = ["None", "All", "Descendents", "SelfAndChildren", "Children"];

fn is_mailbox(r: &Recipient) -> bool {
    r.kind.is_mailbox()
}

/// Recipients that can be trustees: mailbox users and mail users.
fn is_principal(r: &Recipient) -> bool {
    r.kind.is_mailbox() || r.kind == RecipientKind::MailUser
}

/// How a trustee is stored and shown: its UPN, else its primary address.
fn trustee_name(r: &Recipient) -> String {
    r.upn.clone().unwrap_or_else(|| r.primary_smtp.clone())
}

/// A trustee that must exist; returns its stored name.
fn principal(tenant: &Tenant, text: &str) -> Result<String, CmdletError> {
    let id = resolve(tenant, text, is_principal)?;
    Ok(tenant
        .recipients
        .get(id)
        .map(trustee_name)
        .unwrap_or_default())
}

/// A trustee to filter on: the recipient it names, else the text as given.
fn filter_name(tenant: &Tenant, text: &str) -> String {
    match tenant.recipients.resolve(text, |_| true) {
        Ok(id) => tenant
            .recipients
            .get(id)
            .map(trustee_name)
            .unwrap_or_default(),
        Err(_) => text.trim().to_string(),
    }
}

/// A mandatory enum-array parameter (`-AccessRights`), in canonical spelling.
fn rights(
    params: &Params<'_>,
    cmdlet: &str,
    type_name: &str,
    members: &[&'static str],
) -> Result<Vec<&'static str>, CmdletError> {
    let given = params
        .strings("AccessRights")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| CmdletError::missing_parameter(cmdlet, "AccessRights"))?;
    let mut out = Vec::new();
    for value in &given {
        let member = members
            .iter()
            .find(|m| m.eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| CmdletError::bad_enum("AccessRights", value, type_name, members))?;
        if !out.contains(member) {
            out.push(*member);
        }
    }
    Ok(out)
}

fn mailbox_rights(params: &Params<'_>, cmdlet: &str) -> Result<Vec<&'static str>, CmdletError> {
    rights(
        params,
        cmdlet,
        "Microsoft.Exchange.Management.RecipientTasks.MailboxRights[]",
        &MAILBOX_RIGHTS,
    )
}

fn send_as_rights(params: &Params<'_>, cmdlet: &str) -> Result<Vec<&'static str>, CmdletError> {
    rights(
        params,
        cmdlet,
        "Microsoft.Exchange.Management.RecipientTasks.RecipientAccessRight[]",
        &RECIPIENT_RIGHTS,
    )
}

/// Runs `change` on a mailbox's data; `None` if the mailbox has none.
fn change_data<T>(
    tenant: &mut Tenant,
    id: u32,
    change: impl FnOnce(&mut MailboxData) -> T,
) -> Option<T> {
    tenant
        .recipients
        .update(id, |r| r.mailbox.as_deref_mut().map(change))
        .flatten()
}

/// `Can't remove...` warning for an entry that is not there.
fn no_ace_warning(tenant: &Tenant, id: u32, account: &str) -> String {
    let dn = tenant
        .recipients
        .get(id)
        .map(|r| tenant.recipients.distinguished_name(r))
        .unwrap_or_default();
    format!(
        "Can't remove the access control entry on the object \"{dn}\" for account \"{account}\" because the ACE doesn't exist on the object."
    )
}

/// One Get-MailboxPermission row.
fn mailbox_row(
    mailbox: &str,
    user: &str,
    rights: &[&str],
    deny: bool,
    inherited: bool,
    inheritance: &str,
) -> String {
    object(|w| {
        w.list("AccessRights", rights.iter().copied())
            .bool("Deny", deny)
            .str("InheritanceType", inheritance)
            .str("User", user)
            .str("Identity", mailbox)
            .bool("IsInherited", inherited)
            .bool("IsValid", true)
            .str("ObjectState", "Unchanged");
    })
}

fn grant_row(mailbox: &str, grant: &MailboxGrant) -> String {
    let rights: Vec<&str> = grant.rights.iter().map(String::as_str).collect();
    mailbox_row(
        mailbox,
        &grant.user,
        &rights,
        grant.deny,
        grant.inherited,
        "All",
    )
}

fn get_mailbox_permission(
    tenant: &Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let identity = params.required("Identity")?;
    let result_size = params.result_size(DEFAULT_RESULT_SIZE)?;
    let id = resolve(tenant, &identity, is_mailbox)?;
    let Some(mailbox) = tenant.recipients.get(id) else {
        return Err(CmdletError::not_found(&identity));
    };
    if params.switch("Owner")? {
        let row = object(|w| {
            w.str("Identity", &mailbox.name)
                .str("Owner", "NAMPR01A001\\JitUsers")
                .bool("IsValid", true);
        });
        return Ok(Output::rendered(vec![row]));
    }
    let user = params.str("User").map(|u| filter_name(tenant, &u));
    let wanted = |entry: &str| {
        user.as_deref()
            .is_none_or(|u| u.eq_ignore_ascii_case(entry))
    };
    let mut rows = Vec::new();
    if wanted(SELF) {
        rows.push(mailbox_row(
            &mailbox.name,
            SELF,
            &["FullAccess", "ReadPermission"],
            false,
            false,
            "All",
        ));
    }
    let grants = mailbox
        .mailbox
        .as_deref()
        .map(|d| d.grants.as_slice())
        .unwrap_or_default();
    rows.extend(
        grants
            .iter()
            .filter(|g| wanted(&g.user))
            .map(|g| grant_row(&mailbox.name, g)),
    );
    let mut out = Output::rendered(rows);
    out.result_size = result_size;
    Ok(out)
}

fn add_mailbox_permission(
    tenant: &mut Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let identity = params.required("Identity")?;
    let user = params.required("User")?;
    let rights = mailbox_rights(params, "Add-MailboxPermission")?;
    let inheritance = params
        .enum_value(
            "InheritanceType",
            "System.DirectoryServices.ActiveDirectorySecurityInheritance",
            &INHERITANCE,
        )?
        .unwrap_or("All");
    params.bool("AutoMapping")?;
    let deny = params.switch("Deny")?;
    let id = resolve(tenant, &identity, is_mailbox)?;
    let trustee = principal(tenant, &user)?;
    let existing = change_data(tenant, id, |data| {
        let same = |g: &&mut MailboxGrant| {
            g.user.eq_ignore_ascii_case(&trustee) && g.deny == deny && !g.inherited
        };
        match data.grants.iter_mut().find(same) {
            Some(grant) if rights.iter().all(|r| grant.rights.iter().any(|g| g == r)) => {
                Some(grant.clone())
            }
            Some(grant) => {
                let missing: Vec<String> = rights
                    .iter()
                    .filter(|r| !grant.rights.iter().any(|g| g == *r))
                    .map(|r| r.to_string())
                    .collect();
                grant.rights.extend(missing);
                None
            }
            None => {
                let rights = rights.iter().map(|r| r.to_string()).collect();
                data.grants.push(MailboxGrant {
                    user: trustee.clone(),
                    rights,
                    deny,
                    inherited: false,
                });
                None
            }
        }
    })
    .ok_or_else(|| CmdletError::not_found(&identity))?;
    let name = tenant
        .recipients
        .get(id)
        .map(|r| r.name.clone())
        .unwrap_or_default();
    Ok(match existing {
        Some(grant) => {
            let dn = tenant
                .recipients
                .get(id)
                .map(|r| tenant.recipients.distinguished_name(r))
                .unwrap_or_default();
            Output::rendered(vec![grant_row(&name, &grant)]).warn(format!(
                "Appropriate ACE is already present on object \"{dn}\" for account \"{trustee}\"."
            ))
        }
        None => Output::rendered(vec![mailbox_row(
            &name,
            &trustee,
            &rights,
            deny,
            false,
            inheritance,
        )]),
    })
}

fn remove_mailbox_permission(
    tenant: &mut Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let identity = params.required("Identity")?;
    let user = params.required("User")?;
    let rights = mailbox_rights(params, "Remove-MailboxPermission")?;
    params.enum_value(
        "InheritanceType",
        "System.DirectoryServices.ActiveDirectorySecurityInheritance",
        &INHERITANCE,
    )?;
    params.switch("BypassMasterAccountSid")?;
    let deny = params.switch("Deny")?;
    let id = resolve(tenant, &identity, is_mailbox)?;
    let trustee = principal(tenant, &user)?;
    let removed = change_data(tenant, id, |data| {
        let same = |g: &MailboxGrant| {
            g.user.eq_ignore_ascii_case(&trustee) && g.deny == deny && !g.inherited
        };
        let Some(pos) = data.grants.iter().position(same) else {
            return false;
        };
        let grant = &mut data.grants[pos];
        let before = grant.rights.len();
        grant.rights.retain(|g| !rights.iter().any(|r| r == g));
        let changed = grant.rights.len() != before;
        if grant.rights.is_empty() {
            data.grants.remove(pos);
        }
        changed
    })
    .ok_or_else(|| CmdletError::not_found(&identity))?;
    Ok(if removed {
        Output::nothing()
    } else {
        Output::nothing().warn(no_ace_warning(tenant, id, &trustee))
    })
}

/// One Get-RecipientPermission row.
fn send_as_row(recipient: &str, trustee: &str) -> String {
    object(|w| {
        w.str("Identity", recipient)
            .str("Trustee", trustee)
            .str("AccessControlType", "Allow")
            .list("AccessRights", ["SendAs"])
            .bool("IsInherited", false)
            .str("InheritanceType", "None")
            .bool("IsValid", true)
            .str("ObjectState", "Unchanged");
    })
}

/// A mailbox's SendAs trustees, the implicit SELF entry first.
fn send_as_entries(r: &Recipient) -> impl Iterator<Item = &str> {
    let explicit = r
        .mailbox
        .as_deref()
        .map(|d| d.send_as.as_slice())
        .unwrap_or_default();
    std::iter::once(SELF).chain(explicit.iter().map(String::as_str))
}

fn get_recipient_permission(
    tenant: &Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let result_size = params.result_size(DEFAULT_RESULT_SIZE)?;
    if params.has("AccessRights") {
        send_as_rights(params, "Get-RecipientPermission")?;
    }
    let trustee = params.str("Trustee").map(|t| filter_name(tenant, &t));
    let targets: Box<dyn Iterator<Item = &Recipient>> = match params.str("Identity") {
        Some(identity) => Box::new(
            tenant
                .recipients
                .get(resolve(tenant, &identity, is_mailbox)?)
                .into_iter(),
        ),
        None => Box::new(
            tenant
                .recipients
                .iter()
                .map(|(_, r)| r)
                .filter(|r| is_mailbox(r)),
        ),
    };
    // One row past the cap is enough for the "more results available" warning.
    let rows = targets
        .flat_map(|r| send_as_entries(r).map(move |t| (r, t)))
        .filter(|(_, t)| {
            trustee
                .as_deref()
                .is_none_or(|wanted| wanted.eq_ignore_ascii_case(t))
        })
        .map(|(r, t)| send_as_row(&r.name, t))
        .take(result_size.cap().saturating_add(1))
        .collect();
    let mut out = Output::rendered(rows);
    out.result_size = result_size;
    Ok(out)
}

/// Resolves the mailbox and trustee of Add/Remove-RecipientPermission.
fn send_as_target(
    tenant: &Tenant,
    params: &Params<'_>,
    cmdlet: &str,
) -> Result<(u32, String), CmdletError> {
    let identity = params.required("Identity")?;
    let trustee = params.required("Trustee")?;
    send_as_rights(params, cmdlet)?;
    let id = resolve(tenant, &identity, is_mailbox)?;
    Ok((id, principal(tenant, &trustee)?))
}

fn add_recipient_permission(
    tenant: &mut Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let (id, trustee) = send_as_target(tenant, params, "Add-RecipientPermission")?;
    change_data(tenant, id, |data| {
        if !data
            .send_as
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&trustee))
        {
            data.send_as.push(trustee.clone());
        }
    });
    let name = tenant
        .recipients
        .get(id)
        .map(|r| r.name.clone())
        .unwrap_or_default();
    Ok(Output::rendered(vec![send_as_row(&name, &trustee)]))
}

fn remove_recipient_permission(
    tenant: &mut Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let (id, trustee) = send_as_target(tenant, params, "Remove-RecipientPermission")?;
    let removed = change_data(tenant, id, |data| {
        let before = data.send_as.len();
        data.send_as.retain(|t| !t.eq_ignore_ascii_case(&trustee));
        data.send_as.len() != before
    });
    Ok(if removed == Some(true) {
        Output::nothing()
    } else {
        Output::nothing().warn(no_ace_warning(tenant, id, &trustee))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::recipient::test_support::{name, nth, rows, run, tenant};
    use super::*;
    use crate::exchange::params::ResultSize;

    fn upn(t: &Tenant, id: u32) -> String {
        t.recipients.get(id).unwrap().upn.clone().unwrap()
    }

    fn users(rs: &[Value]) -> Vec<&str> {
        rs.iter().map(|r| r["User"].as_str().unwrap()).collect()
    }

    #[test]
    fn get_mailbox_permission_lists_self_then_grants() {
        let mut t = tenant();
        let shared = nth(&t, RecipientKind::SharedMailbox, 0);
        let shared_name = name(&t, shared);
        let grants = t
            .recipients
            .get(shared)
            .unwrap()
            .mailbox
            .as_ref()
            .unwrap()
            .grants
            .clone();
        assert!(!grants.is_empty());
        let out = run(
            &mut t,
            "Get-MailboxPermission",
            json!({"Identity": shared_name}),
        )
        .unwrap();
        assert_eq!(out.result_size, ResultSize::Limit(1000));
        let rs = rows(&t, &out);
        assert_eq!(rs.len(), grants.len() + 1);
        assert_eq!(rs[0]["User"], SELF);
        assert_eq!(
            rs[0]["AccessRights"],
            json!(["FullAccess", "ReadPermission"])
        );
        assert_eq!(rs[0]["AccessRights@odata.type"], "#Collection(String)");
        assert_eq!(rs[1]["User"], grants[0].user.as_str());
        assert_eq!(
            (
                rs[1]["Identity"].as_str(),
                &rs[1]["IsInherited"],
                &rs[1]["Deny"]
            ),
            (Some(shared_name.as_str()), &json!(false), &json!(false))
        );
        assert_eq!(rs[1]["InheritanceType"], "All");
        let out = run(
            &mut t,
            "Get-MailboxPermission",
            json!({"Identity": shared_name, "User": grants[0].user}),
        )
        .unwrap();
        assert_eq!(users(&rows(&t, &out)), vec![grants[0].user.as_str()]);
        let out = run(
            &mut t,
            "Get-MailboxPermission",
            json!({"Identity": shared_name, "User": "nt authority\\self"}),
        )
        .unwrap();
        assert_eq!(users(&rows(&t, &out)), vec![SELF]);
        let out = run(
            &mut t,
            "Get-MailboxPermission",
            json!({"Identity": shared_name, "Owner": true}),
        )
        .unwrap();
        assert!(rows(&t, &out)[0]["Owner"].is_string());
        let e = run(&mut t, "Get-MailboxPermission", json!({}))
            .err()
            .unwrap();
        assert!(e.text.contains("Identity"));
        let contact = name(&t, nth(&t, RecipientKind::MailContact, 0));
        assert_eq!(
            run(
                &mut t,
                "Get-MailboxPermission",
                json!({"Identity": contact})
            )
            .err()
            .unwrap()
            .status,
            404
        );
    }

    #[test]
    fn add_and_remove_mailbox_permission() {
        let mut t = tenant();
        let mailbox = name(&t, nth(&t, RecipientKind::UserMailbox, 0));
        let trustee_id = nth(&t, RecipientKind::UserMailbox, 1);
        let trustee = upn(&t, trustee_id);
        let add = json!({"Identity": mailbox, "User": name(&t, trustee_id), "AccessRights": "fullaccess", "AutoMapping": false});
        let out = run(&mut t, "Add-MailboxPermission", add.clone()).unwrap();
        let row = &rows(&t, &out)[0];
        assert_eq!(row["User"], trustee.as_str());
        assert_eq!(row["AccessRights"], json!(["FullAccess"]));
        assert!(out.warnings.is_empty());
        let out = run(&mut t, "Add-MailboxPermission", add).unwrap();
        assert_eq!(rows(&t, &out).len(), 1);
        assert!(
            out.warnings[0].contains("already present"),
            "{:?}",
            out.warnings
        );
        let both = json!({"Identity": mailbox, "User": trustee, "AccessRights": ["FullAccess", "DeleteItem"]});
        run(&mut t, "Add-MailboxPermission", both).unwrap();
        let out = run(
            &mut t,
            "Get-MailboxPermission",
            json!({"Identity": mailbox, "User": trustee}),
        )
        .unwrap();
        assert_eq!(
            rows(&t, &out)[0]["AccessRights"],
            json!(["FullAccess", "DeleteItem"])
        );

        let remove = json!({"Identity": mailbox, "User": trustee, "AccessRights": "FullAccess", "Confirm": false});
        assert!(
            run(&mut t, "Remove-MailboxPermission", remove.clone())
                .unwrap()
                .warnings
                .is_empty()
        );
        let out = run(
            &mut t,
            "Get-MailboxPermission",
            json!({"Identity": mailbox, "User": trustee}),
        )
        .unwrap();
        assert_eq!(rows(&t, &out)[0]["AccessRights"], json!(["DeleteItem"]));
        let out = run(&mut t, "Remove-MailboxPermission", remove).unwrap();
        assert!(
            out.warnings[0]
                .starts_with("Can't remove the access control entry on the object \"CN=")
        );
        assert!(out.warnings[0].ends_with(&format!(
            "for account \"{trustee}\" because the ACE doesn't exist on the object."
        )));
        let remove = json!({"Identity": mailbox, "User": trustee, "AccessRights": "DeleteItem"});
        run(&mut t, "Remove-MailboxPermission", remove).unwrap();
        let out = run(
            &mut t,
            "Get-MailboxPermission",
            json!({"Identity": mailbox}),
        )
        .unwrap();
        assert_eq!(users(&rows(&t, &out)), vec![SELF]);
    }

    #[test]
    fn mailbox_permission_errors() {
        let mut t = tenant();
        let mailbox = name(&t, nth(&t, RecipientKind::UserMailbox, 0));
        let e = run(
            &mut t,
            "Add-MailboxPermission",
            json!({"Identity": mailbox, "User": "ghost@contoso.com", "AccessRights": "FullAccess"}),
        );
        let e = e.err().unwrap();
        assert_eq!(e.status, 404);
        assert!(e.text.contains("'ghost@contoso.com'"));
        let e = run(
            &mut t,
            "Add-MailboxPermission",
            json!({"Identity": mailbox, "User": mailbox, "AccessRights": "SendAs"}),
        );
        let e = e.err().unwrap();
        assert!(e.text.contains(
            "ChangeOwner, ChangePermission, DeleteItem, ExternalAccount, FullAccess, ReadPermission"
        ));
        let e = run(
            &mut t,
            "Add-MailboxPermission",
            json!({"Identity": mailbox, "User": mailbox}),
        )
        .err()
        .unwrap();
        assert!(
            e.text
                .contains("missing mandatory parameters: AccessRights. (Add-MailboxPermission)"),
            "{}",
            e.text
        );
        let bad = json!({"Identity": mailbox, "User": mailbox, "AccessRights": "FullAccess", "InheritanceType": "Some"});
        assert!(
            run(&mut t, "Add-MailboxPermission", bad)
                .err()
                .unwrap()
                .text
                .contains("SelfAndChildren")
        );
        let contact = name(&t, nth(&t, RecipientKind::MailContact, 0));
        let e = run(
            &mut t,
            "Add-MailboxPermission",
            json!({"Identity": mailbox, "User": contact, "AccessRights": "FullAccess"}),
        );
        assert_eq!(e.err().unwrap().status, 404);
    }

    #[test]
    fn recipient_permissions_round_trip() {
        let mut t = tenant();
        let shared = nth(&t, RecipientKind::SharedMailbox, 0);
        let shared_name = name(&t, shared);
        let send_as = t
            .recipients
            .get(shared)
            .unwrap()
            .mailbox
            .as_ref()
            .unwrap()
            .send_as
            .clone();
        let out = run(
            &mut t,
            "Get-RecipientPermission",
            json!({"Identity": shared_name}),
        )
        .unwrap();
        let rs = rows(&t, &out);
        assert_eq!(rs.len(), send_as.len() + 1);
        assert_eq!(rs[0]["Trustee"], SELF);
        assert_eq!(rs[1]["Trustee"], send_as[0].as_str());
        assert_eq!(
            (
                rs[1]["AccessControlType"].as_str(),
                rs[1]["InheritanceType"].as_str()
            ),
            (Some("Allow"), Some("None"))
        );
        assert_eq!(rs[1]["AccessRights"], json!(["SendAs"]));

        let user = nth(&t, RecipientKind::UserMailbox, 3);
        let trustee = upn(&t, user);
        let add = json!({"Identity": shared_name, "Trustee": trustee, "AccessRights": "SendAs", "Confirm": false});
        let out = run(&mut t, "Add-RecipientPermission", add).unwrap();
        assert_eq!(rows(&t, &out)[0]["Trustee"], trustee.as_str());
        let out = run(
            &mut t,
            "Get-RecipientPermission",
            json!({"Trustee": trustee, "ResultSize": "Unlimited"}),
        )
        .unwrap();
        assert!(
            rows(&t, &out)
                .iter()
                .any(|r| r["Identity"] == shared_name.as_str())
        );
        let remove = json!({"Identity": shared_name, "Trustee": trustee, "AccessRights": "SendAs"});
        assert!(
            run(&mut t, "Remove-RecipientPermission", remove.clone())
                .unwrap()
                .warnings
                .is_empty()
        );
        let out = run(&mut t, "Remove-RecipientPermission", remove).unwrap();
        assert!(out.warnings[0].contains("because the ACE doesn't exist on the object."));
    }

    #[test]
    fn recipient_permission_paging_and_errors() {
        let mut t = tenant();
        let out = run(&mut t, "Get-RecipientPermission", json!({"ResultSize": 5})).unwrap();
        assert_eq!(out.result_size, ResultSize::Limit(5));
        assert_eq!(rows(&t, &out).len(), 6);
        let out = run(
            &mut t,
            "Get-RecipientPermission",
            json!({"ResultSize": "Unlimited", "AccessRights": "SendAs"}),
        );
        let mailboxes = t.recipients.iter().filter(|(_, r)| is_mailbox(r)).count();
        assert!(rows(&t, &out.unwrap()).len() > mailboxes);
        let e = run(
            &mut t,
            "Get-RecipientPermission",
            json!({"AccessRights": "FullAccess"}),
        )
        .err()
        .unwrap();
        assert!(e.text.contains("RecipientAccessRight"));
        let mailbox = name(&t, nth(&t, RecipientKind::UserMailbox, 0));
        let e = run(
            &mut t,
            "Add-RecipientPermission",
            json!({"Identity": mailbox, "AccessRights": "SendAs"}),
        )
        .err()
        .unwrap();
        assert!(e.text.contains("Trustee"));
        let e = run(
            &mut t,
            "Add-RecipientPermission",
            json!({"Identity": mailbox, "Trustee": "ghost", "AccessRights": "SendAs"}),
        );
        assert_eq!(e.err().unwrap().status, 404);
        let e = run(
            &mut t,
            "Remove-RecipientPermission",
            json!({"Identity": "ghost", "Trustee": mailbox, "AccessRights": "SendAs"}),
        );
        assert_eq!(e.err().unwrap().status, 404);
    }
}
