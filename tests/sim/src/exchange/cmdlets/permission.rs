//! Mailbox permissions (Get/Add/Remove-MailboxPermission), and the trustee and rights helpers
//! SendAs shares.

use crate::directory::Tenant;
use crate::directory::recipient::{MailboxData, MailboxGrant, Recipient, RecipientKind};
use crate::exchange::error::CmdletError;
use crate::exchange::params::{Params, ResultSize};

use super::{CmdletSpec, Context, DEFAULT_RESULT_SIZE, Output, Run, Surface, object, resolve};

/// The cmdlets of this module.
pub const CMDLETS: [CmdletSpec; 3] = [
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
];

/// The implicit entry every mailbox grants its own user.
pub(super) const SELF: &str = "NT AUTHORITY\\SELF";
/// The rights of the implicit SELF entry.
const SELF_RIGHTS: [&str; 2] = ["FullAccess", "ReadPermission"];
/// The owner Get-MailboxPermission -Owner shows (EXO's service-managed owner; unverified).
const OWNER: &str = "NAMPR01A001\\JitUsers";
/// Members of `MailboxRights` that Add/Remove-MailboxPermission accept.
const MAILBOX_RIGHTS: [&str; 6] = [
    "ChangeOwner",
    "ChangePermission",
    "DeleteItem",
    "ExternalAccount",
    "FullAccess",
    "ReadPermission",
];
/// Members of `ActiveDirectorySecurityInheritance`.
const INHERITANCE: [&str; 5] = ["None", "All", "Descendents", "SelfAndChildren", "Children"];

pub(super) fn is_mailbox(r: &Recipient) -> bool {
    r.kind.is_mailbox()
}

/// Recipients that can be trustees: mailbox users and mail users.
pub(super) fn is_principal(r: &Recipient) -> bool {
    r.kind.is_mailbox() || r.kind == RecipientKind::MailUser
}

/// How a trustee is stored and shown: its UPN, else its primary address.
pub(super) fn trustee_name(r: &Recipient) -> String {
    r.upn.clone().unwrap_or_else(|| r.primary_smtp.clone())
}

/// A trustee that must exist; returns its stored name.
pub(super) fn principal(tenant: &Tenant, text: &str) -> Result<String, CmdletError> {
    let id = resolve(tenant, text, is_principal)?;
    Ok(tenant
        .recipients
        .get(id)
        .map(trustee_name)
        .unwrap_or_default())
}

/// A trustee to filter on: the recipient it names, else the text as given.
pub(super) fn filter_name(tenant: &Tenant, text: &str) -> String {
    let named = tenant.recipients.resolve(text, |_| true).ok();
    let recipient = named.and_then(|id| tenant.recipients.get(id));
    recipient.map_or_else(|| text.trim().to_string(), trustee_name)
}

/// `Name` and `DistinguishedName` of a recipient.
pub(super) fn name_and_dn(tenant: &Tenant, id: u32) -> (String, String) {
    let r = tenant.recipients.get(id);
    let dn = r.map(|r| tenant.recipients.distinguished_name(r));
    (
        r.map(|r| r.name.clone()).unwrap_or_default(),
        dn.unwrap_or_default(),
    )
}

/// A mandatory enum-array parameter (`-AccessRights`), in canonical spelling.
pub(super) fn rights(
    params: &Params<'_>,
    cmdlet: &str,
    type_name: &str,
    members: &[&'static str],
) -> Result<Vec<&'static str>, CmdletError> {
    let given = params.strings("AccessRights").filter(|v| !v.is_empty());
    let given = given.ok_or_else(|| CmdletError::missing_parameter(cmdlet, "AccessRights"))?;
    let mut out = Vec::new();
    for value in &given {
        let Some(member) = members
            .iter()
            .find(|m| m.eq_ignore_ascii_case(value.trim()))
        else {
            return Err(CmdletError::bad_enum(
                "AccessRights",
                value,
                type_name,
                members,
            ));
        };
        if !out.contains(member) {
            out.push(*member);
        }
    }
    Ok(out)
}

fn mailbox_rights(params: &Params<'_>, cmdlet: &str) -> Result<Vec<&'static str>, CmdletError> {
    let type_name = "Microsoft.Exchange.Management.RecipientTasks.MailboxRights[]";
    rights(params, cmdlet, type_name, &MAILBOX_RIGHTS)
}

/// `-InheritanceType`, checked against its enum.
fn inheritance(params: &Params<'_>) -> Result<Option<&'static str>, CmdletError> {
    let type_name = "System.DirectoryServices.ActiveDirectorySecurityInheritance";
    params.enum_value("InheritanceType", type_name, &INHERITANCE)
}

/// Runs `change` on a mailbox's data; `None` if the mailbox has none.
pub(super) fn change_data<T>(
    tenant: &mut Tenant,
    id: u32,
    change: impl FnOnce(&mut MailboxData) -> T,
) -> Option<T> {
    let changed = tenant
        .recipients
        .update(id, |r| r.mailbox.as_deref_mut().map(change));
    changed.flatten()
}

/// Rows limited by `-ResultSize` when the response is paged.
pub(super) fn paged(rows: Vec<String>, result_size: ResultSize) -> Output {
    let mut out = Output::rendered(rows);
    out.result_size = result_size;
    out
}

/// The warning Remove-* gives for an entry that is not there.
pub(super) fn no_ace_warning(dn: &str, account: &str) -> String {
    format!(
        "Can't remove the access control entry on the object \"{dn}\" for account \"{account}\" because the ACE doesn't exist on the object."
    )
}

/// One Get-MailboxPermission row: mailbox, trustee, rights, deny, inherited, inheritance type.
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
        grant.inheritance,
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
                .str("Owner", OWNER)
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
            &SELF_RIGHTS,
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
    let shown = grants.iter().filter(|g| wanted(&g.user));
    rows.extend(shown.map(|g| grant_row(&mailbox.name, g)));
    Ok(paged(rows, result_size))
}

/// Adds `rights` to the trustee's entry (a new entry applies as `inheritance` says); returns
/// the entry if it already had them all.
fn grant(
    data: &mut MailboxData,
    trustee: &str,
    rights: &[&str],
    deny: bool,
    inheritance: &'static str,
) -> Option<MailboxGrant> {
    let same = |g: &&mut MailboxGrant| {
        g.user.eq_ignore_ascii_case(trustee) && g.deny == deny && !g.inherited
    };
    let Some(entry) = data.grants.iter_mut().find(same) else {
        let rights = rights.iter().map(|r| r.to_string()).collect();
        data.grants.push(MailboxGrant {
            user: trustee.to_string(),
            rights,
            deny,
            inherited: false,
            inheritance,
        });
        return None;
    };
    let missing: Vec<String> = rights
        .iter()
        .filter(|r| !entry.rights.iter().any(|g| g == *r))
        .map(|r| r.to_string())
        .collect();
    if missing.is_empty() {
        return Some(entry.clone());
    }
    entry.rights.extend(missing);
    None
}

fn add_mailbox_permission(
    tenant: &mut Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let identity = params.required("Identity")?;
    let user = params.required("User")?;
    let rights = mailbox_rights(params, "Add-MailboxPermission")?;
    let inheritance = inheritance(params)?.unwrap_or("All");
    params.bool("AutoMapping")?;
    let deny = params.switch("Deny")?;
    let id = resolve(tenant, &identity, is_mailbox)?;
    let trustee = principal(tenant, &user)?;
    let (name, dn) = name_and_dn(tenant, id);
    let present = change_data(tenant, id, |data| {
        grant(data, &trustee, &rights, deny, inheritance)
    });
    Ok(
        match present.ok_or_else(|| CmdletError::not_found(&identity))? {
            Some(entry) => Output::rendered(vec![grant_row(&name, &entry)]).warn(format!(
                "Appropriate ACE is already present on object \"{dn}\" for account \"{trustee}\"."
            )),
            None => Output::rendered(vec![mailbox_row(
                &name,
                &trustee,
                &rights,
                deny,
                false,
                inheritance,
            )]),
        },
    )
}

/// Takes `rights` from the trustee's entry (dropping it when empty); false if it had none of them.
fn revoke(data: &mut MailboxData, trustee: &str, rights: &[&str], deny: bool) -> bool {
    let same =
        |g: &MailboxGrant| g.user.eq_ignore_ascii_case(trustee) && g.deny == deny && !g.inherited;
    let Some(pos) = data.grants.iter().position(same) else {
        return false;
    };
    let entry = &mut data.grants[pos];
    let before = entry.rights.len();
    entry.rights.retain(|g| !rights.iter().any(|r| r == g));
    let changed = entry.rights.len() != before;
    if entry.rights.is_empty() {
        data.grants.remove(pos);
    }
    changed
}

fn remove_mailbox_permission(
    tenant: &mut Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let identity = params.required("Identity")?;
    let user = params.required("User")?;
    let rights = mailbox_rights(params, "Remove-MailboxPermission")?;
    inheritance(params)?;
    params.switch("BypassMasterAccountSid")?;
    let deny = params.switch("Deny")?;
    let id = resolve(tenant, &identity, is_mailbox)?;
    let trustee = principal(tenant, &user)?;
    let removed = change_data(tenant, id, |data| revoke(data, &trustee, &rights, deny));
    match removed {
        None => Err(CmdletError::not_found(&identity)),
        Some(true) => Ok(Output::nothing()),
        Some(false) => {
            Ok(Output::nothing().warn(no_ace_warning(&name_and_dn(tenant, id).1, &trustee)))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::test_support::{fail, name, nth, ok, run, tenant};
    use super::*;

    fn upn(t: &Tenant, id: u32) -> String {
        t.recipients.get(id).unwrap().upn.clone().unwrap()
    }

    fn column<'a>(rs: &'a [Value], key: &str) -> Vec<&'a str> {
        rs.iter().map(|r| r[key].as_str().unwrap()).collect()
    }

    #[test]
    fn get_mailbox_permission_lists_self_then_grants() {
        let mut t = tenant();
        let shared = nth(&t, RecipientKind::SharedMailbox, 0);
        let mbx = name(&t, shared);
        let grants = t
            .recipients
            .get(shared)
            .unwrap()
            .mailbox
            .as_ref()
            .unwrap()
            .grants
            .clone();
        let out = run(&mut t, "Get-MailboxPermission", json!({"Identity": mbx})).unwrap();
        assert_eq!(out.result_size, ResultSize::Limit(1000));
        let rs = ok(&mut t, "Get-MailboxPermission", json!({"Identity": mbx}));
        assert_eq!(rs.len(), grants.len() + 1);
        assert!(!grants.is_empty());
        assert_eq!(rs[0]["User"], SELF);
        assert_eq!(
            rs[0]["AccessRights"],
            json!(["FullAccess", "ReadPermission"])
        );
        assert_eq!(rs[0]["AccessRights@odata.type"], "#Collection(String)");
        assert_eq!(rs[1]["User"], grants[0].user.as_str());
        assert_eq!(rs[1]["Identity"], mbx.as_str());
        assert_eq!(
            (&rs[1]["IsInherited"], &rs[1]["Deny"]),
            (&json!(false), &json!(false))
        );
        assert_eq!(rs[1]["InheritanceType"], "All");
        let user = &grants[0].user;
        let rs = ok(
            &mut t,
            "Get-MailboxPermission",
            json!({"Identity": mbx, "User": user}),
        );
        assert_eq!(column(&rs, "User"), [user.as_str()]);
        let params = json!({"Identity": mbx, "User": "nt authority\\self"});
        assert_eq!(
            column(&ok(&mut t, "Get-MailboxPermission", params), "User"),
            [SELF]
        );
        let rs = ok(
            &mut t,
            "Get-MailboxPermission",
            json!({"Identity": mbx, "Owner": true}),
        );
        assert_eq!(rs[0]["Owner"], OWNER);
        assert!(
            fail(&mut t, "Get-MailboxPermission", json!({}))
                .text
                .contains("Identity")
        );
        let contact = name(&t, nth(&t, RecipientKind::MailContact, 0));
        let e = fail(
            &mut t,
            "Get-MailboxPermission",
            json!({"Identity": contact}),
        );
        assert_eq!(e.status, 404);
    }

    #[test]
    fn add_and_remove_mailbox_permission() {
        let mut t = tenant();
        let mbx = name(&t, nth(&t, RecipientKind::UserMailbox, 0));
        let trustee_id = nth(&t, RecipientKind::UserMailbox, 1);
        let trustee = upn(&t, trustee_id);
        let add = json!({"Identity": mbx, "User": name(&t, trustee_id), "AccessRights": "fullaccess",
            "AutoMapping": false});
        let out = run(&mut t, "Add-MailboxPermission", add.clone()).unwrap();
        assert!(out.warnings.is_empty());
        let rs = ok(&mut t, "Add-MailboxPermission", add.clone());
        assert_eq!(
            (rs[0]["User"].as_str(), &rs[0]["AccessRights"]),
            (Some(trustee.as_str()), &json!(["FullAccess"]))
        );
        let out = run(&mut t, "Add-MailboxPermission", add).unwrap();
        assert!(out.warnings[0].starts_with("Appropriate ACE is already present on object \"CN="));
        let both =
            json!({"Identity": mbx, "User": trustee, "AccessRights": ["FullAccess", "DeleteItem"]});
        ok(&mut t, "Add-MailboxPermission", both);
        let get = json!({"Identity": mbx, "User": trustee});
        let rs = ok(&mut t, "Get-MailboxPermission", get.clone());
        assert_eq!(rs[0]["AccessRights"], json!(["FullAccess", "DeleteItem"]));

        let remove = json!({"Identity": mbx, "User": trustee, "AccessRights": "FullAccess", "Confirm": false});
        assert!(
            run(&mut t, "Remove-MailboxPermission", remove.clone())
                .unwrap()
                .warnings
                .is_empty()
        );
        let rs = ok(&mut t, "Get-MailboxPermission", get);
        assert_eq!(rs[0]["AccessRights"], json!(["DeleteItem"]));
        let warning = run(&mut t, "Remove-MailboxPermission", remove)
            .unwrap()
            .warnings
            .remove(0);
        assert!(warning.starts_with("Can't remove the access control entry on the object \"CN="));
        let tail =
            format!("for account \"{trustee}\" because the ACE doesn't exist on the object.");
        assert!(warning.ends_with(&tail), "{warning}");

        let remove = json!({"Identity": mbx, "User": trustee, "AccessRights": "DeleteItem"});
        ok(&mut t, "Remove-MailboxPermission", remove);
        let rs = ok(&mut t, "Get-MailboxPermission", json!({"Identity": mbx}));
        assert_eq!(column(&rs, "User"), [SELF]);
        // An entry keeps the inheritance type Add- gave it.
        let other = upn(&t, nth(&t, RecipientKind::UserMailbox, 2));
        let add = json!({"Identity": mbx, "User": other, "AccessRights": "ReadPermission",
            "InheritanceType": "selfandchildren"});
        assert_eq!(
            ok(&mut t, "Add-MailboxPermission", add)[0]["InheritanceType"],
            "SelfAndChildren"
        );
        let rs = ok(
            &mut t,
            "Get-MailboxPermission",
            json!({"Identity": mbx, "User": other}),
        );
        assert_eq!(rs[0]["InheritanceType"], "SelfAndChildren");
    }

    #[test]
    fn mailbox_permission_errors() {
        let mut t = tenant();
        let mbx = name(&t, nth(&t, RecipientKind::UserMailbox, 0));
        let add = |user: &str, rights: Value| json!({"Identity": mbx, "User": user, "AccessRights": rights});
        let e = fail(
            &mut t,
            "Add-MailboxPermission",
            add("ghost@contoso.com", json!("FullAccess")),
        );
        assert_eq!(e.status, 404);
        assert!(e.text.contains("'ghost@contoso.com'"));
        let e = fail(&mut t, "Add-MailboxPermission", add(&mbx, json!("SendAs")));
        let members = "ChangeOwner, ChangePermission, DeleteItem, ExternalAccount, FullAccess, ReadPermission";
        assert!(e.text.contains(members), "{}", e.text);
        let e = fail(&mut t, "Add-MailboxPermission", add(&mbx, json!([])));
        assert!(
            e.text
                .contains("missing mandatory parameters: AccessRights. (Add-MailboxPermission)")
        );
        let bad = json!({"Identity": mbx, "User": mbx, "AccessRights": "FullAccess", "AutoMapping": "maybe"});
        let e = fail(&mut t, "Add-MailboxPermission", bad);
        assert!(
            e.text.contains("AutoMapping") && e.text.contains("Boolean"),
            "{}",
            e.text
        );
        let bad = json!({"Identity": mbx, "User": mbx, "AccessRights": "FullAccess", "InheritanceType": "Some"});
        assert!(
            fail(&mut t, "Add-MailboxPermission", bad)
                .text
                .contains("SelfAndChildren")
        );
        let contact = name(&t, nth(&t, RecipientKind::MailContact, 0));
        let e = fail(
            &mut t,
            "Add-MailboxPermission",
            add(&contact, json!("FullAccess")),
        );
        assert_eq!(e.status, 404);
        let e = fail(
            &mut t,
            "Remove-MailboxPermission",
            add("ghost", json!("FullAccess")),
        );
        assert_eq!(e.status, 404);
    }
}
