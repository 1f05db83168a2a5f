//! Get-Recipient, Get-EXORecipient and Get-User.

use crate::directory::Tenant;
use crate::directory::recipient::RecipientKind;
use crate::exchange::error::CmdletError;
use crate::exchange::params::Params;
use crate::exchange::row::Select;
use crate::exchange::views::{RECIPIENT_MINIMUM, View};

use super::{
    CmdletSpec, Context, DEFAULT_RESULT_SIZE, Output, Run, Surface, resolve, select_recipients,
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
    let mut wanted: Vec<&str> = RECIPIENT_MINIMUM.to_vec();
    for set in params.strings("PropertySets").unwrap_or_default() {
        if set.eq_ignore_ascii_case("All") {
            return Ok(Select::all());
        }
        let Some((_, props)) = RECIPIENT_PROPERTY_SETS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&set))
        else {
            let names: Vec<&str> = ["All"]
                .into_iter()
                .chain(RECIPIENT_PROPERTY_SETS.iter().map(|(n, _)| *n))
                .collect();
            return Err(CmdletError::bad_enum(
                "PropertySets",
                &set,
                "Microsoft.Exchange.Management.RestApiClient.PropertySet",
                &names,
            ));
        };
        wanted.extend_from_slice(props);
    }
    let extra = params.strings("Properties").unwrap_or_default();
    Ok(Select::only(
        wanted.into_iter().chain(extra.iter().map(String::as_str)),
    ))
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

/// A small generated tenant and helpers the cmdlet tests of every module share.
#[cfg(test)]
pub(super) mod test_support {
    use serde_json::Value;
    use uuid::Uuid;

    use crate::directory::generate::{Population, generate};
    use crate::directory::recipient::RecipientKind;
    use crate::directory::{RecipientStore, Tenant};
    use crate::exchange::cmdlets::{Context, Output, Rows, Run, all};
    use crate::exchange::error::CmdletError;
    use crate::exchange::params::Params;
    use crate::exchange::views::render;

    /// The clock the tests run at.
    pub const NOW: i64 = 1_767_225_600;

    /// Contoso: 50 mailboxes and the usual mix around them.
    pub fn tenant() -> Tenant {
        let mut recipients = RecipientStore::new("contoso.onmicrosoft.com");
        let population = Population::around_mailboxes(50);
        generate(
            &mut recipients,
            &population,
            7,
            "contoso.com",
            "contoso.onmicrosoft.com",
            NOW,
        );
        Tenant {
            id: Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0),
            display_name: "Contoso".into(),
            initial_domain: "contoso.onmicrosoft.com".into(),
            domains: vec!["contoso.com".into()],
            apps: Vec::new(),
            recipients,
            compliance_searches: Vec::new(),
            compliance_region: "nam".into(),
        }
    }

    /// Runs a cmdlet by name with JSON parameters, as the server would.
    pub fn run(tenant: &mut Tenant, name: &str, params: Value) -> Result<Output, CmdletError> {
        let spec = all().find(|c| c.name == name).expect("cmdlet exists");
        let map = params.as_object().cloned().unwrap_or_default();
        let params = Params::new(spec.name, &map, spec.params)?;
        let ctx = Context {
            now: NOW,
            caller: "exorun-tests".into(),
        };
        match spec.run {
            Run::Read(f) => f(tenant, &params, &ctx),
            Run::Write(f) => f(tenant, &params, &ctx),
        }
    }

    /// The rows of an output as JSON.
    pub fn rows(tenant: &Tenant, output: &Output) -> Vec<Value> {
        match &output.rows {
            Rows::Rendered(rows) => rows
                .iter()
                .map(|r| serde_json::from_str(r).expect("valid JSON"))
                .collect(),
            Rows::Recipients { view, ids, select } => ids
                .iter()
                .map(|&id| {
                    let mut buf = Vec::new();
                    render(
                        *view,
                        tenant,
                        tenant.recipients.get(id).expect("live id"),
                        select,
                        &mut buf,
                    );
                    serde_json::from_slice(&buf).expect("valid JSON")
                })
                .collect(),
        }
    }

    /// Runs a cmdlet that must succeed; returns its rows.
    pub fn ok(tenant: &mut Tenant, name: &str, params: Value) -> Vec<Value> {
        let out = run(tenant, name, params)
            .map_err(|e| e.text)
            .expect("cmdlet succeeds");
        rows(tenant, &out)
    }

    /// Runs a cmdlet that must fail; returns the error.
    pub fn fail(tenant: &mut Tenant, name: &str, params: Value) -> CmdletError {
        run(tenant, name, params).err().expect("cmdlet fails")
    }

    /// The id of the `n`-th recipient of a kind.
    pub fn nth(tenant: &Tenant, kind: RecipientKind, n: usize) -> u32 {
        tenant
            .recipients
            .iter()
            .filter(|(_, r)| r.kind == kind)
            .nth(n)
            .expect("enough recipients")
            .0
    }

    /// The `Name` of a recipient.
    pub fn name(tenant: &Tenant, id: u32) -> String {
        tenant.recipients.get(id).expect("live id").name.clone()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::test_support::{name, nth, rows, run, tenant};
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
