//! Get-Mailbox, Get-EXOMailbox, Set-Mailbox and Get-MailboxStatistics.

use crate::directory::Tenant;
use crate::directory::recipient::{Recipient, RecipientKind};
use crate::exchange::error::CmdletError;
use crate::exchange::params::{Params, ResultSize};
use crate::exchange::row::Select;
use crate::exchange::views::{MAILBOX_PROPERTY_SETS, View};

use super::{
    CmdletSpec, Context, DEFAULT_RESULT_SIZE, Output, Run, Surface, property_sets, resolve,
    select_recipients, smtp_address,
};

/// The cmdlets of this module.
pub const CMDLETS: [CmdletSpec; 4] = [
    CmdletSpec {
        name: "Get-Mailbox",
        surface: Surface::Exchange,
        params: &[
            "Identity",
            "Filter",
            "ResultSize",
            "RecipientTypeDetails",
            "Anr",
            "IncludeInactiveMailbox",
            "SoftDeletedMailbox",
            "InactiveMailboxOnly",
            "Archive",
        ],
        run: Run::Read(get_mailbox),
    },
    CmdletSpec {
        name: "Get-EXOMailbox",
        surface: Surface::Exchange,
        params: &[
            "Identity",
            "UserPrincipalName",
            "PrimarySmtpAddress",
            "ExternalDirectoryObjectId",
            "Filter",
            "ResultSize",
            "RecipientTypeDetails",
            "Anr",
            "PropertySets",
            "Properties",
            "IncludeInactiveMailbox",
            "SoftDeletedMailbox",
            "InactiveMailboxOnly",
            "Archive",
        ],
        run: Run::Read(get_exo_mailbox),
    },
    CmdletSpec {
        name: "Set-Mailbox",
        surface: Surface::Exchange,
        params: &[
            "Identity",
            "Type",
            "HiddenFromAddressListsEnabled",
            "ForwardingSmtpAddress",
            "ForwardingAddress",
            "DeliverToMailboxAndForward",
            "DisplayName",
            "CustomAttribute1",
            "LitigationHoldEnabled",
            "Confirm",
            "Force",
        ],
        run: Run::Write(set_mailbox),
    },
    CmdletSpec {
        name: "Get-MailboxStatistics",
        surface: Surface::Exchange,
        params: &["Identity", "Archive", "IncludeSoftDeletedRecipients"],
        run: Run::Read(get_mailbox_statistics),
    },
];

fn is_mailbox(r: &Recipient) -> bool {
    r.kind.is_mailbox()
}

/// Inactive and soft-deleted mailboxes are not modelled: asking only for them finds nothing.
fn only_deleted(params: &Params<'_>) -> Result<bool, CmdletError> {
    Ok(params.switch("SoftDeletedMailbox")? || params.switch("InactiveMailboxOnly")?)
}

fn get_mailbox(tenant: &Tenant, params: &Params<'_>, _: &Context) -> Result<Output, CmdletError> {
    let result_size = params.result_size(DEFAULT_RESULT_SIZE)?;
    let ids = if only_deleted(params)? {
        Vec::new()
    } else {
        select_recipients(tenant, params, RecipientKind::is_mailbox)?
    };
    Ok(Output::recipients(
        View::Mailbox,
        ids,
        Select::all(),
        result_size,
    ))
}

fn get_exo_mailbox(
    tenant: &Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let result_size = params.result_size(DEFAULT_RESULT_SIZE)?;
    let identity = [
        "Identity",
        "UserPrincipalName",
        "PrimarySmtpAddress",
        "ExternalDirectoryObjectId",
    ]
    .iter()
    .find_map(|p| params.str(p));
    let ids = match identity {
        Some(identity) => vec![resolve(tenant, &identity, is_mailbox)?],
        None if only_deleted(params)? => Vec::new(),
        None => select_recipients(tenant, params, RecipientKind::is_mailbox)?,
    };
    Ok(Output::recipients(
        View::Mailbox,
        ids,
        exo_select(params)?,
        result_size,
    ))
}

/// The properties Get-EXOMailbox returns: the Minimum set unless `-PropertySets`/`-Properties` add more.
fn exo_select(params: &Params<'_>) -> Result<Select, CmdletError> {
    property_sets(params, MAILBOX_PROPERTY_SETS[0].1, &MAILBOX_PROPERTY_SETS)
}

fn set_mailbox(
    tenant: &mut Tenant,
    params: &Params<'_>,
    ctx: &Context,
) -> Result<Output, CmdletError> {
    let identity = params.required("Identity")?;
    let id = resolve(tenant, &identity, is_mailbox)?;
    let new_kind = params
        .enum_value(
            "Type",
            "Microsoft.Exchange.Management.RecipientTasks.ConvertibleMailboxSubType",
            &["Regular", "Room", "Equipment", "Shared", "Workspace"],
        )?
        .map(|t| match t {
            "Regular" => RecipientKind::UserMailbox,
            "Room" | "Workspace" => RecipientKind::RoomMailbox,
            "Equipment" => RecipientKind::EquipmentMailbox,
            _ => RecipientKind::SharedMailbox,
        });
    let hidden = params.bool("HiddenFromAddressListsEnabled")?;
    let deliver = params.bool("DeliverToMailboxAndForward")?;
    let hold = params.bool("LitigationHoldEnabled")?;
    let forwarding_smtp = if params.has("ForwardingSmtpAddress") {
        Some(
            params
                .str("ForwardingSmtpAddress")
                .map(|a| forwarding_smtp(&a))
                .transpose()?,
        )
    } else {
        None
    };
    let forwarding_address = if params.has("ForwardingAddress") {
        match params.str("ForwardingAddress") {
            Some(target) => {
                let target_id = resolve(tenant, &target, |_| true)?;
                Some(tenant.recipients.get(target_id).map(|r| r.name.clone()))
            }
            None => Some(None),
        }
    } else {
        None
    };
    let display_name = params.str("DisplayName");
    let custom = params
        .str("CustomAttribute1")
        .map(Some)
        .or_else(|| params.has("CustomAttribute1").then_some(None));
    tenant.recipients.update(id, |r| {
        if let Some(kind) = new_kind {
            r.kind = kind;
        }
        if let Some(hidden) = hidden {
            r.hidden = hidden;
        }
        if let Some(name) = display_name {
            r.display_name = name;
        }
        if let Some(custom) = custom {
            r.custom_attribute1 = custom.unwrap_or_default();
        }
        if let Some(data) = r.mailbox.as_deref_mut() {
            if let Some(fwd) = forwarding_smtp {
                data.forwarding_smtp = fwd;
            }
            if let Some(fwd) = forwarding_address {
                data.forwarding_address = fwd;
            }
            if let Some(deliver) = deliver {
                data.deliver_and_forward = deliver;
            }
            if let Some(hold) = hold {
                data.litigation_hold = hold;
            }
        }
        r.changed = ctx.now;
    });
    Ok(Output::nothing())
}

/// Normalizes `-ForwardingSmtpAddress` to Exchange's stored form `smtp:user@domain`.
fn forwarding_smtp(text: &str) -> Result<String, CmdletError> {
    smtp_address("ForwardingSmtpAddress", text).map(|bare| format!("smtp:{bare}"))
}

fn get_mailbox_statistics(
    tenant: &Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let identity = params.required("Identity")?;
    let id = resolve(tenant, &identity, is_mailbox)?;
    if params.switch("Archive")?
        && tenant
            .recipients
            .get(id)
            .and_then(|r| r.mailbox.as_ref())
            .is_some_and(|d| !d.archive)
    {
        return Err(CmdletError::task(
            "",
            "Microsoft.Exchange.Data.Directory.MailboxNotFoundException",
            format!("The mailbox '{identity}' doesn't have an archive."),
        ));
    }
    Ok(Output::recipients(
        View::MailboxStatistics,
        vec![id],
        Select::all(),
        ResultSize::Unlimited,
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{fail, name, nth, ok, run, tenant};
    use super::*;

    #[test]
    fn set_mailbox_converts_to_shared_and_hides_from_address_lists() {
        let mut t = tenant();
        let id = nth(&t, RecipientKind::UserMailbox, 0);
        let upn = t.recipients.get(id).unwrap().upn.clone().unwrap();
        let before = ok(&mut t, "Get-Mailbox", json!({"Identity": upn}));
        assert_eq!(before[0]["RecipientTypeDetails"], "UserMailbox");
        let hidden = before[0]["HiddenFromAddressListsEnabled"]
            .as_bool()
            .unwrap();
        let params =
            json!({"Identity": upn, "Type": "shared", "HiddenFromAddressListsEnabled": !hidden});
        let out = run(&mut t, "Set-Mailbox", params).unwrap();
        assert!(rows_of(&t, &out).is_empty() && out.warnings.is_empty());
        let after = ok(&mut t, "Get-Mailbox", json!({"Identity": upn}));
        assert_eq!(after[0]["RecipientTypeDetails"], "SharedMailbox");
        assert_eq!(after[0]["RecipientType"], "UserMailbox");
        assert_eq!(after[0]["IsShared"], true);
        assert_eq!(after[0]["HiddenFromAddressListsEnabled"], !hidden);
        let recipient = ok(&mut t, "Get-Recipient", json!({"Identity": upn}));
        assert_eq!(recipient[0]["RecipientTypeDetails"], "SharedMailbox");
        assert_eq!(recipient[0]["HiddenFromAddressListsEnabled"], !hidden);
        let shared = ok(
            &mut t,
            "Get-Mailbox",
            json!({"RecipientTypeDetails": "SharedMailbox", "ResultSize": "Unlimited"}),
        );
        assert!(
            shared
                .iter()
                .any(|m| m["UserPrincipalName"] == upn.as_str())
        );
        let filter = json!({"Filter": format!("HiddenFromAddressListsEnabled -eq ${}", !hidden), "ResultSize": "Unlimited"});
        let found = ok(&mut t, "Get-Recipient", filter);
        assert!(found.iter().any(|m| m["Name"] == name(&t, id).as_str()));
        // The same change again is no error and changes nothing; Regular converts back.
        let again = json!({"Identity": upn, "Type": "Shared"});
        ok(&mut t, "Set-Mailbox", again);
        ok(
            &mut t,
            "Set-Mailbox",
            json!({"Identity": upn, "Type": "Regular"}),
        );
        assert_eq!(
            t.recipients.get(id).unwrap().kind,
            RecipientKind::UserMailbox
        );
        let e = fail(
            &mut t,
            "Set-Mailbox",
            json!({"Identity": upn, "Type": "Team"}),
        );
        assert!(
            e.text
                .contains("Regular, Room, Equipment, Shared, Workspace"),
            "{}",
            e.text
        );
        let e = fail(
            &mut t,
            "Set-Mailbox",
            json!({"Identity": upn, "HiddenFromAddressListsEnabled": "maybe"}),
        );
        assert_eq!(e.status, 400);
        let contact = name(&t, nth(&t, RecipientKind::MailContact, 0));
        let e = fail(
            &mut t,
            "Set-Mailbox",
            json!({"Identity": contact, "Type": "Shared"}),
        );
        assert_eq!(e.status, 404);
    }

    fn rows_of(t: &Tenant, out: &Output) -> Vec<serde_json::Value> {
        super::super::test_support::rows(t, out)
    }

    #[test]
    fn forwarding_addresses_are_checked_and_normalized() {
        assert_eq!(forwarding_smtp("SMTP:a@b.com").unwrap(), "smtp:a@b.com");
        assert_eq!(forwarding_smtp("a@b.com").unwrap(), "smtp:a@b.com");
        assert!(forwarding_smtp("not an address").is_err());
        assert!(forwarding_smtp("a@b").is_err());
    }
}
