//! SendAs: Get/Add/Remove-RecipientPermission.

use crate::directory::Tenant;
use crate::directory::recipient::Recipient;
use crate::exchange::error::CmdletError;
use crate::exchange::params::Params;

use super::permission::{
    SELF, change_data, filter_name, is_mailbox, name_and_dn, no_ace_warning, paged, principal,
    rights,
};
use super::{CmdletSpec, Context, DEFAULT_RESULT_SIZE, Output, Run, Surface, object, resolve};

/// The cmdlets of this module.
pub const CMDLETS: [CmdletSpec; 3] = [
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

/// Members of `RecipientAccessRight`.
const RECIPIENT_RIGHTS: [&str; 1] = ["SendAs"];

fn send_as_rights(params: &Params<'_>, cmdlet: &str) -> Result<Vec<&'static str>, CmdletError> {
    let type_name = "Microsoft.Exchange.Management.RecipientTasks.RecipientAccessRight[]";
    rights(params, cmdlet, type_name, &RECIPIENT_RIGHTS)
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
    let one = params
        .str("Identity")
        .map(|i| resolve(tenant, &i, is_mailbox))
        .transpose()?;
    let targets: Box<dyn Iterator<Item = &Recipient>> = match one {
        Some(id) => Box::new(tenant.recipients.get(id).into_iter()),
        None => Box::new(
            tenant
                .recipients
                .iter()
                .map(|(_, r)| r)
                .filter(|r| is_mailbox(r)),
        ),
    };
    let wanted = |t: &str| trustee.as_deref().is_none_or(|w| w.eq_ignore_ascii_case(t));
    // One row past the cap is enough for the "more results available" warning.
    let rows = targets
        .flat_map(|r| {
            send_as_entries(r)
                .filter(|t| wanted(t))
                .map(|t| send_as_row(&r.name, t))
        })
        .take(result_size.cap().saturating_add(1))
        .collect();
    Ok(paged(rows, result_size))
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
    let (name, _) = name_and_dn(tenant, id);
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
    if removed == Some(true) {
        return Ok(Output::nothing());
    }
    Ok(Output::nothing().warn(no_ace_warning(&name_and_dn(tenant, id).1, &trustee)))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::test_support::{fail, name, nth, ok, run, tenant};
    use super::*;
    use crate::directory::recipient::RecipientKind;
    use crate::exchange::params::ResultSize;

    fn upn(t: &Tenant, id: u32) -> String {
        t.recipients.get(id).unwrap().upn.clone().unwrap()
    }

    fn column<'a>(rs: &'a [Value], key: &str) -> Vec<&'a str> {
        rs.iter().filter_map(|r| r[key].as_str()).collect()
    }

    #[test]
    fn recipient_permissions_round_trip() {
        let mut t = tenant();
        let shared = nth(&t, RecipientKind::SharedMailbox, 0);
        let mbx = name(&t, shared);
        let send_as = t
            .recipients
            .get(shared)
            .unwrap()
            .mailbox
            .as_ref()
            .unwrap()
            .send_as
            .clone();
        let rs = ok(&mut t, "Get-RecipientPermission", json!({"Identity": mbx}));
        assert_eq!(rs.len(), send_as.len() + 1);
        assert_eq!(
            (rs[0]["Trustee"].as_str(), rs[1]["Trustee"].as_str()),
            (Some(SELF), Some(send_as[0].as_str()))
        );
        assert_eq!(rs[1]["AccessControlType"], "Allow");
        assert_eq!(rs[1]["InheritanceType"], "None");
        assert_eq!(rs[1]["AccessRights"], json!(["SendAs"]));

        let trustee = upn(&t, nth(&t, RecipientKind::UserMailbox, 3));
        let change = json!({"Identity": mbx, "Trustee": trustee, "AccessRights": "SendAs", "Confirm": false});
        let rs = ok(&mut t, "Add-RecipientPermission", change.clone());
        assert_eq!(rs[0]["Trustee"], trustee.as_str());
        let rs = ok(
            &mut t,
            "Get-RecipientPermission",
            json!({"Trustee": trustee, "ResultSize": "Unlimited"}),
        );
        assert!(column(&rs, "Identity").contains(&mbx.as_str()));
        let out = run(&mut t, "Remove-RecipientPermission", change.clone()).unwrap();
        assert!(out.warnings.is_empty());
        let out = run(&mut t, "Remove-RecipientPermission", change).unwrap();
        assert!(out.warnings[0].contains("because the ACE doesn't exist on the object."));
    }

    #[test]
    fn recipient_permission_paging_and_errors() {
        let mut t = tenant();
        let out = run(&mut t, "Get-RecipientPermission", json!({"ResultSize": 5})).unwrap();
        assert_eq!(out.result_size, ResultSize::Limit(5));
        assert_eq!(
            ok(&mut t, "Get-RecipientPermission", json!({"ResultSize": 5})).len(),
            6
        );
        let all = json!({"ResultSize": "Unlimited", "AccessRights": "SendAs"});
        let mailboxes = t.recipients.iter().filter(|(_, r)| is_mailbox(r)).count();
        assert!(ok(&mut t, "Get-RecipientPermission", all).len() > mailboxes);
        let e = fail(
            &mut t,
            "Get-RecipientPermission",
            json!({"AccessRights": "FullAccess"}),
        );
        assert!(e.text.contains("RecipientAccessRight"));
        let mbx = name(&t, nth(&t, RecipientKind::UserMailbox, 0));
        let e = fail(
            &mut t,
            "Add-RecipientPermission",
            json!({"Identity": mbx, "AccessRights": "SendAs"}),
        );
        assert!(e.text.contains("Trustee"));
        let change = |id: &str, trustee: &str| json!({"Identity": id, "Trustee": trustee, "AccessRights": "SendAs"});
        assert_eq!(
            fail(&mut t, "Add-RecipientPermission", change(&mbx, "ghost")).status,
            404
        );
        assert_eq!(
            fail(&mut t, "Remove-RecipientPermission", change("ghost", &mbx)).status,
            404
        );
    }
}
