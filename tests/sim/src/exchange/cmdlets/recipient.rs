//! Get-Recipient, Get-EXORecipient and Get-User.

use crate::directory::Tenant;
use crate::directory::recipient::RecipientKind;
use crate::exchange::error::CmdletError;
use crate::exchange::params::Params;
use crate::exchange::row::Select;
use crate::exchange::views::{RECIPIENT_MINIMUM, View};

use super::{
    CmdletSpec, Context, DEFAULT_RESULT_SIZE, Output, Run, Surface, property_sets, resolve,
    select_recipients,
};

/// The cmdlets of this module.
pub const CMDLETS: [CmdletSpec; 3] = [
    CmdletSpec {
        name: "Get-Recipient",
        surface: Surface::Exchange,
        params: &[
            "Identity",
            "Filter",
            "ResultSize",
            "RecipientTypeDetails",
            "Anr",
            "RecipientType",
            "Properties",
            "IncludeSoftDeletedRecipients",
        ],
        run: Run::Read(get_recipient),
    },
    CmdletSpec {
        name: "Get-EXORecipient",
        surface: Surface::Exchange,
        params: &[
            "Identity",
            "Filter",
            "ResultSize",
            "RecipientTypeDetails",
            "RecipientType",
            "Anr",
            "PropertySets",
            "Properties",
            "PrimarySmtpAddress",
            "ExternalDirectoryObjectId",
            "IncludeSoftDeletedRecipients",
        ],
        run: Run::Read(get_exo_recipient),
    },
    CmdletSpec {
        name: "Get-User",
        surface: Surface::Exchange,
        params: &[
            "Identity",
            "Filter",
            "ResultSize",
            "RecipientTypeDetails",
            "Anr",
        ],
        run: Run::Read(get_user),
    },
];

/// Members of Exchange's `RecipientType` enum, which `-RecipientType` accepts.
const RECIPIENT_TYPES: [&str; 16] = [
    "Invalid",
    "User",
    "UserMailbox",
    "MailUser",
    "Contact",
    "MailContact",
    "Group",
    "MailUniversalDistributionGroup",
    "MailUniversalSecurityGroup",
    "MailNonUniversalGroup",
    "DynamicDistributionGroup",
    "PublicFolder",
    "SystemAttendantMailbox",
    "SystemMailbox",
    "MicrosoftExchange",
    "Computer",
];

/// Get-EXORecipient property sets the recipient view can fill, and the properties each adds.
const RECIPIENT_PROPERTY_SETS: [(&str, &[&str]); 3] = [
    ("Minimum", &[]),
    ("Archive", &["ArchiveStatus"]),
    ("Custom", &["CustomAttribute1"]),
];

/// `-RecipientType` values, checked against the enum (empty when not given).
fn recipient_types(params: &Params<'_>) -> Result<Vec<&'static str>, CmdletError> {
    let given = params.strings("RecipientType").unwrap_or_default();
    given
        .iter()
        .map(|t| {
            RECIPIENT_TYPES
                .iter()
                .find(|m| m.eq_ignore_ascii_case(t.trim()))
                .copied()
                .ok_or_else(|| {
                    CmdletError::bad_enum(
                        "RecipientType",
                        t,
                        "Microsoft.Exchange.Data.Directory.Recipient.RecipientType[]",
                        &RECIPIENT_TYPES,
                    )
                })
        })
        .collect()
}

/// True if `kind` is of one of `types` (or no types were asked for).
fn of_types(types: &[&str], kind: RecipientKind) -> bool {
    types.is_empty()
        || types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(kind.recipient_type()))
}

fn get_recipient(tenant: &Tenant, params: &Params<'_>, _: &Context) -> Result<Output, CmdletError> {
    let result_size = params.result_size(DEFAULT_RESULT_SIZE)?;
    let types = recipient_types(params)?;
    // Soft-deleted recipients are not modelled; the switch is only checked.
    params.switch("IncludeSoftDeletedRecipients")?;
    let ids = select_recipients(tenant, params, |k| of_types(&types, k))?;
    Ok(Output::recipients(
        View::Recipient,
        ids,
        Select::all(),
        result_size,
    ))
}

fn get_exo_recipient(
    tenant: &Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let result_size = params.result_size(DEFAULT_RESULT_SIZE)?;
    let types = recipient_types(params)?;
    params.switch("IncludeSoftDeletedRecipients")?;
    let select = exo_select(params)?;
    let identity = [
        "Identity",
        "PrimarySmtpAddress",
        "ExternalDirectoryObjectId",
    ]
    .iter()
    .find_map(|p| params.str(p));
    let ids = match identity {
        Some(identity) => vec![resolve(tenant, &identity, |r| of_types(&types, r.kind))?],
        None => select_recipients(tenant, params, |k| of_types(&types, k))?,
    };
    Ok(Output::recipients(
        View::Recipient,
        ids,
        select,
        result_size,
    ))
}

/// The properties Get-EXORecipient returns: the Minimum set plus `-PropertySets`/`-Properties`.
fn exo_select(params: &Params<'_>) -> Result<Select, CmdletError> {
    property_sets(params, &RECIPIENT_MINIMUM, &RECIPIENT_PROPERTY_SETS)
}

fn is_user(kind: RecipientKind) -> bool {
    kind.is_mailbox() || kind == RecipientKind::MailUser
}

fn get_user(tenant: &Tenant, params: &Params<'_>, _: &Context) -> Result<Output, CmdletError> {
    let result_size = params.result_size(DEFAULT_RESULT_SIZE)?;
    let ids = select_recipients(tenant, params, is_user)?;
    Ok(Output::recipients(
        View::User,
        ids,
        Select::all(),
        result_size,
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{name, nth, rows, run, tenant};
    use super::*;
    use crate::exchange::params::ResultSize;

    #[test]
    fn get_recipient_returns_every_kind_and_filters_by_type() {
        let mut t = tenant();
        let out = run(&mut t, "Get-Recipient", json!({"ResultSize": "Unlimited"})).unwrap();
        assert_eq!(out.result_size, ResultSize::Unlimited);
        let all = rows(&t, &out);
        assert_eq!(all.len(), t.recipients.len());
        for kind in [
            "UserMailbox",
            "MailUser",
            "MailContact",
            "MailUniversalDistributionGroup",
        ] {
            assert!(all.iter().any(|r| r["RecipientType"] == kind), "{kind}");
        }
        let out = run(
            &mut t,
            "Get-Recipient",
            json!({"RecipientType": "mailcontact"}),
        )
        .unwrap();
        let contacts = rows(&t, &out);
        assert_eq!(out.result_size, ResultSize::Limit(1000));
        assert!(
            !contacts.is_empty() && contacts.iter().all(|r| r["RecipientType"] == "MailContact")
        );
        assert!(
            contacts[0]["ExternalEmailAddress"]
                .as_str()
                .unwrap()
                .starts_with("SMTP:")
        );
        let e = run(&mut t, "Get-Recipient", json!({"RecipientType": "Robot"}))
            .err()
            .unwrap();
        assert!(e.text.contains("DynamicDistributionGroup"), "{}", e.text);
    }

    #[test]
    fn get_recipient_by_identity_and_unknown() {
        let mut t = tenant();
        let group = nth(&t, RecipientKind::DistributionGroup, 0);
        let group_name = name(&t, group);
        let out = run(&mut t, "Get-Recipient", json!({"Identity": group_name})).unwrap();
        assert_eq!(
            rows(&t, &out)[0]["RecipientTypeDetails"],
            "MailUniversalDistributionGroup"
        );
        let e = run(
            &mut t,
            "Get-Recipient",
            json!({"Identity": "nobody@contoso.com"}),
        )
        .err()
        .unwrap();
        assert_eq!(e.status, 404);
        let e = run(
            &mut t,
            "Get-Recipient",
            json!({"Identity": group_name, "RecipientType": "UserMailbox"}),
        );
        assert_eq!(e.err().unwrap().status, 404);
    }

    #[test]
    fn get_exo_recipient_trims_to_property_sets() {
        let mut t = tenant();
        let out = run(&mut t, "Get-EXORecipient", json!({"ResultSize": 3})).unwrap();
        let rs = rows(&t, &out);
        assert_eq!(out.result_size, ResultSize::Limit(3));
        assert!(rs[0].get("PrimarySmtpAddress").is_some());
        assert!(rs[0].get("WhenCreated").is_none() && rs[0].get("CustomAttribute1").is_none());
        let out = run(
            &mut t,
            "Get-EXORecipient",
            json!({"Properties": ["WhenCreated"], "PropertySets": "Custom"}),
        );
        let rs = rows(&t, &out.unwrap());
        assert!(rs[0].get("WhenCreated").is_some() && rs[0].get("CustomAttribute1").is_some());
        let out = run(
            &mut t,
            "Get-EXORecipient",
            json!({"PropertySets": ["Minimum", "All"]}),
        )
        .unwrap();
        assert!(rows(&t, &out)[0].get("Department").is_some());
        let e = run(&mut t, "Get-EXORecipient", json!({"PropertySets": "Quota"}))
            .err()
            .unwrap();
        assert!(
            e.text.contains("All, Minimum, Archive, Custom"),
            "{}",
            e.text
        );
    }

    #[test]
    fn get_exo_recipient_by_address_or_object_id() {
        let mut t = tenant();
        let contact = nth(&t, RecipientKind::MailContact, 1);
        let r = t.recipients.get(contact).unwrap().clone();
        let out = run(
            &mut t,
            "Get-EXORecipient",
            json!({"PrimarySmtpAddress": r.primary_smtp}),
        )
        .unwrap();
        assert_eq!(rows(&t, &out)[0]["Name"], r.name.as_str());
        let id = r.external_id.to_string();
        let out = run(
            &mut t,
            "Get-EXORecipient",
            json!({"ExternalDirectoryObjectId": id}),
        )
        .unwrap();
        assert_eq!(rows(&t, &out)[0]["Guid"], r.guid.to_string());
        let e = run(&mut t, "Get-EXORecipient", json!({"Identity": "ghost"}))
            .err()
            .unwrap();
        assert_eq!(e.status, 404);
    }

    #[test]
    fn users_show_their_manager_and_are_found_by_the_managers_dn() {
        let mut t = tenant();
        let (report, manager) = t
            .recipients
            .iter()
            .find_map(|(id, r)| r.manager.map(|m| (id, m)))
            .expect("the generated tenant has managers");
        let report_name = name(&t, report);
        let manager_name = name(&t, manager);
        for cmdlet in ["Get-User", "Get-Recipient"] {
            let out = run(&mut t, cmdlet, json!({"Identity": report_name})).unwrap();
            assert_eq!(
                rows(&t, &out)[0]["Manager"],
                manager_name.as_str(),
                "{cmdlet}"
            );
            let out = run(&mut t, cmdlet, json!({"Identity": manager_name})).unwrap();
            assert!(
                rows(&t, &out)[0]["Manager"].is_null(),
                "a head has no manager"
            );
        }
        let dn = t
            .recipients
            .distinguished_name(t.recipients.get(manager).unwrap());
        let filter = format!("Manager -eq '{dn}'");
        let out = run(
            &mut t,
            "Get-User",
            json!({"Filter": filter, "ResultSize": "Unlimited"}),
        )
        .unwrap();
        let reports: Vec<String> = rows(&t, &out)
            .iter()
            .map(|r| r["Name"].as_str().unwrap().to_string())
            .collect();
        let expected: Vec<String> = t
            .recipients
            .iter()
            .filter(|(_, r)| r.manager == Some(manager))
            .map(|(_, r)| r.name.clone())
            .collect();
        assert!(reports.contains(&report_name));
        assert_eq!(reports, expected);
        let out = run(
            &mut t,
            "Get-User",
            json!({"Filter": "Manager -eq $null", "ResultSize": "Unlimited"}),
        );
        assert!(
            rows(&t, &out.unwrap())
                .iter()
                .all(|r| r["Manager"].is_null())
        );
    }

    #[test]
    fn get_user_skips_contacts_and_groups() {
        let mut t = tenant();
        let out = run(&mut t, "Get-User", json!({"ResultSize": "Unlimited"})).unwrap();
        let users = rows(&t, &out);
        let expected = t.recipients.iter().filter(|(_, r)| is_user(r.kind)).count();
        assert_eq!(users.len(), expected);
        assert!(
            users.iter().all(
                |u| u["RecipientType"] != "MailContact" && u.get("UserPrincipalName").is_some()
            )
        );
        let out = run(
            &mut t,
            "Get-User",
            json!({"RecipientTypeDetails": "MailUser"}),
        )
        .unwrap();
        assert!(
            rows(&t, &out)
                .iter()
                .all(|u| u["RecipientTypeDetails"] == "MailUser")
        );
        let contact = nth(&t, RecipientKind::MailContact, 0);
        let contact_name = name(&t, contact);
        assert_eq!(
            run(&mut t, "Get-User", json!({"Identity": contact_name}))
                .err()
                .unwrap()
                .status,
            404
        );
        let e = run(&mut t, "Get-User", json!({"PropertySets": "All"}))
            .err()
            .unwrap();
        assert!(e.text.contains("'PropertySets'"));
    }
}
