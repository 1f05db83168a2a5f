//! Get-MailContact, New-MailContact and Remove-MailContact.

use uuid::Uuid;

use crate::directory::Tenant;
use crate::directory::recipient::{Recipient, RecipientKind};
use crate::exchange::error::CmdletError;
use crate::exchange::params::{Params, ResultSize};
use crate::exchange::row::Select;
use crate::exchange::views::View;

use super::{
    CmdletSpec, Context, DEFAULT_RESULT_SIZE, Output, Run, Surface, resolve, select_recipients,
    smtp_address,
};

/// The cmdlets of this module.
pub const CMDLETS: [CmdletSpec; 3] = [
    CmdletSpec {
        name: "Get-MailContact",
        surface: Surface::Exchange,
        params: &[
            "Identity",
            "Filter",
            "ResultSize",
            "Anr",
            "RecipientTypeDetails",
        ],
        run: Run::Read(get_mail_contact),
    },
    CmdletSpec {
        name: "New-MailContact",
        surface: Surface::Exchange,
        params: &[
            "Name",
            "ExternalEmailAddress",
            "DisplayName",
            "Alias",
            "FirstName",
            "LastName",
            "PrimarySmtpAddress",
            "Confirm",
        ],
        run: Run::Write(new_mail_contact),
    },
    CmdletSpec {
        name: "Remove-MailContact",
        surface: Surface::Exchange,
        params: &["Identity", "Confirm"],
        run: Run::Write(remove_mail_contact),
    },
];

/// Characters an alias may hold besides ASCII letters and digits (periods are handled apart).
const ALIAS_SYMBOLS: &str = "!#$%&'*+-/=?^_`{|}~";

fn is_contact(r: &Recipient) -> bool {
    r.kind == RecipientKind::MailContact
}

fn get_mail_contact(
    tenant: &Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let result_size = params.result_size(DEFAULT_RESULT_SIZE)?;
    let ids = select_recipients(tenant, params, |k| k == RecipientKind::MailContact)?;
    Ok(Output::recipients(
        View::MailContact,
        ids,
        Select::all(),
        result_size,
    ))
}

fn new_mail_contact(
    tenant: &mut Tenant,
    params: &Params<'_>,
    ctx: &Context,
) -> Result<Output, CmdletError> {
    let name = params.required("Name")?.trim().to_string();
    let external = smtp_address(
        "ExternalEmailAddress",
        &params.required("ExternalEmailAddress")?,
    )?;
    let primary = match params.str("PrimarySmtpAddress") {
        Some(text) => smtp_address("PrimarySmtpAddress", &text)?,
        None => external.clone(),
    };
    let alias = match params.str("Alias") {
        Some(alias) => checked_alias(alias.trim())?,
        None => alias_from_name(&name),
    };
    if taken(tenant, &name, |r, n| r.name.eq_ignore_ascii_case(n)) {
        return Err(CmdletError::task(
            "",
            "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
            format!("The name \"{name}\" is already being used. Please try another name."),
        ));
    }
    for address in [&primary, &external] {
        if taken(tenant, address, |r, a| {
            r.smtp_addresses().any(|s| s.eq_ignore_ascii_case(a))
        }) {
            return Err(CmdletError::task(
                "",
                "Microsoft.Exchange.Data.Directory.ProxyAddressExistsException",
                format!(
                    "The proxy address \"SMTP:{address}\" is already being used by the proxy addresses or LegacyExchangeDN. Please choose another proxy address."
                ),
            ));
        }
    }
    let alias = free_alias(tenant, &alias);
    let secondary_smtp = if primary.eq_ignore_ascii_case(&external) {
        Vec::new()
    } else {
        vec![external.clone()]
    };
    let id = tenant.recipients.insert(Recipient {
        guid: Uuid::new_v4(),
        external_id: Uuid::new_v4(),
        kind: RecipientKind::MailContact,
        display_name: params.str("DisplayName").unwrap_or_else(|| name.clone()),
        name,
        alias,
        first_name: params.str("FirstName").unwrap_or_default(),
        last_name: params.str("LastName").unwrap_or_default(),
        upn: None,
        primary_smtp: primary,
        secondary_smtp,
        external_email: Some(external),
        department: "",
        city: "",
        title: "",
        hidden: false,
        custom_attribute1: String::new(),
        created: ctx.now,
        changed: ctx.now,
        mailbox: None,
        members: Vec::new(),
        managed_by: Vec::new(),
        manager: None,
    });
    Ok(Output::recipients(
        View::MailContact,
        vec![id],
        Select::all(),
        ResultSize::Unlimited,
    ))
}

/// True if some recipient answers to `text` and `same` says it holds that value.
fn taken(tenant: &Tenant, text: &str, same: impl Fn(&Recipient, &str) -> bool) -> bool {
    tenant.recipients.resolve(text, |r| same(r, text)) != Err(crate::directory::Resolve::NotFound)
}

/// The alias itself if free, else the first free of `alias2`, `alias3`... (as Exchange does).
fn free_alias(tenant: &Tenant, alias: &str) -> String {
    let same = |r: &Recipient, a: &str| r.alias.eq_ignore_ascii_case(a);
    std::iter::once(alias.to_string())
        .chain((2u32..).map(|n| format!("{alias}{n}")))
        .find(|candidate| !taken(tenant, candidate, same))
        .unwrap_or_default()
}

fn alias_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ALIAS_SYMBOLS.contains(c)
}

/// The alias Exchange derives from a name: invalid characters dropped, no stray periods.
fn alias_from_name(name: &str) -> String {
    let kept: String = name
        .chars()
        .filter(|&c| alias_char(c) || c == '.')
        .collect();
    let alias = kept
        .split('.')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    if alias.is_empty() {
        "MailContact".to_string()
    } else {
        alias
    }
}

/// Checks an explicit `-Alias` the way Exchange validates the property.
fn checked_alias(alias: &str) -> Result<String, CmdletError> {
    let valid = !alias.is_empty()
        && alias
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(alias_char));
    if valid {
        return Ok(alias.to_string());
    }
    Err(CmdletError::task(
        "",
        "Microsoft.Exchange.Data.DataValidationException",
        format!(
            "Property expression \"{alias}\" isn't valid. Valid values are: Strings formed with characters from A to Z (uppercase or lowercase), digits from 0 to 9, !, #, $, %, &, ', *, +, -, /, =, ?, ^, _, `, {{, |, }} or ~. One or more periods may be embedded in an alias, but each period should be preceded and followed by at least one of the other characters."
        ),
    ))
}

fn remove_mail_contact(
    tenant: &mut Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let identity = params.required("Identity")?;
    let id = resolve(tenant, &identity, is_contact)?;
    tenant.recipients.remove(id);
    let groups: Vec<u32> = tenant
        .recipients
        .iter()
        .filter(|(_, r)| r.members.contains(&id))
        .map(|(group, _)| group)
        .collect();
    for group in groups {
        tenant
            .recipients
            .update(group, |g| g.members.retain(|&m| m != id));
    }
    Ok(Output::nothing())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{name, nth, rows, run, tenant};
    use super::*;

    #[test]
    fn get_mail_contact_lists_only_contacts() {
        let mut t = tenant();
        let out = run(&mut t, "Get-MailContact", json!({})).unwrap();
        let contacts = rows(&t, &out);
        assert_eq!(
            contacts.len(),
            t.recipients.iter().filter(|(_, r)| is_contact(r)).count()
        );
        assert!(contacts.iter().all(|c| c["RecipientTypeDetails"] == "MailContact" && c["MessageFormat"] == "Mime"));
        let mailbox = nth(&t, RecipientKind::UserMailbox, 0);
        let mailbox_name = name(&t, mailbox);
        let e = run(&mut t, "Get-MailContact", json!({"Identity": mailbox_name}))
            .err()
            .unwrap();
        assert_eq!(e.status, 404);
    }

    #[test]
    fn new_mail_contact_creates_with_defaults() {
        let mut t = tenant();
        let out = run(
            &mut t,
            "New-MailContact",
            json!({"Name": "Jo Vendor (Ext)", "ExternalEmailAddress": "SMTP:jo@vendor.example", "FirstName": "Jo"}),
        )
        .unwrap();
        let row = &rows(&t, &out)[0];
        assert_eq!(row["Name"], "Jo Vendor (Ext)");
        assert_eq!(row["DisplayName"], "Jo Vendor (Ext)");
        assert_eq!(row["Alias"], "JoVendorExt");
        assert_eq!(row["PrimarySmtpAddress"], "jo@vendor.example");
        assert_eq!(row["ExternalEmailAddress"], "SMTP:jo@vendor.example");
        assert_eq!(
            row["WhenCreated"],
            crate::time::exchange_date(super::super::test_support::NOW)
        );
        let out = run(
            &mut t,
            "Get-MailContact",
            json!({"Identity": "jo@vendor.example"}),
        )
        .unwrap();
        assert_eq!(rows(&t, &out)[0]["Alias"], "JoVendorExt");
    }

    #[test]
    fn new_mail_contact_takes_explicit_values_and_numbers_taken_aliases() {
        let mut t = tenant();
        let params = json!({"Name": "A", "ExternalEmailAddress": "a@x.example", "Alias": "vendor",
            "DisplayName": "Vendor A", "PrimarySmtpAddress": "vendor-a@contoso.com"});
        let out = run(&mut t, "New-MailContact", params).unwrap();
        let row = &rows(&t, &out)[0];
        assert_eq!(row["DisplayName"], "Vendor A");
        assert_eq!(
            row["EmailAddresses"],
            json!(["SMTP:vendor-a@contoso.com", "smtp:a@x.example"])
        );
        let out = run(
            &mut t,
            "New-MailContact",
            json!({"Name": "B", "ExternalEmailAddress": "b@x.example", "Alias": "Vendor"}),
        );
        assert_eq!(rows(&t, &out.unwrap())[0]["Alias"], "Vendor2");
        let out = run(
            &mut t,
            "New-MailContact",
            json!({"Name": "C", "ExternalEmailAddress": "c@x.example", "Alias": "vendor"}),
        );
        assert_eq!(rows(&t, &out.unwrap())[0]["Alias"], "vendor3");
    }

    #[test]
    fn new_mail_contact_refuses_bad_and_duplicate_values() {
        let mut t = tenant();
        let e = run(&mut t, "New-MailContact", json!({"Name": "X"}))
            .err()
            .unwrap();
        assert!(
            e.text
                .contains("missing mandatory parameters: ExternalEmailAddress"),
            "{}",
            e.text
        );
        let e = run(
            &mut t,
            "New-MailContact",
            json!({"Name": "X", "ExternalEmailAddress": "nope"}),
        )
        .err()
        .unwrap();
        assert!(
            e.text.contains("isn't a valid SMTP address") && !e.in_details,
            "{}",
            e.text
        );
        let params =
            json!({"Name": "X", "ExternalEmailAddress": "x@y.example", "PrimarySmtpAddress": "x@"});
        let e = run(&mut t, "New-MailContact", params).err().unwrap();
        assert!(e.text.contains("SmtpAddress"), "{}", e.text);
        let params = json!({"Name": "X", "ExternalEmailAddress": "x@y.example", "Alias": "a b"});
        let e = run(&mut t, "New-MailContact", params).err().unwrap();
        assert!(e.exception.ends_with("DataValidationException"));
        let taken_name = name(&t, nth(&t, RecipientKind::UserMailbox, 0));
        let e = run(
            &mut t,
            "New-MailContact",
            json!({"Name": taken_name.to_uppercase(), "ExternalEmailAddress": "n@y.example"}),
        );
        let e = e.err().unwrap();
        assert!(e.exception.ends_with("ADObjectAlreadyExistsException"));
        assert_eq!(
            e.text,
            format!(
                "The name \"{}\" is already being used. Please try another name.",
                taken_name.to_uppercase()
            )
        );
        let used = t
            .recipients
            .get(nth(&t, RecipientKind::SharedMailbox, 0))
            .unwrap()
            .primary_smtp
            .clone();
        let e = run(
            &mut t,
            "New-MailContact",
            json!({"Name": "Fresh", "ExternalEmailAddress": used}),
        )
        .err()
        .unwrap();
        assert!(e.exception.ends_with("ProxyAddressExistsException"));
        assert!(e.text.starts_with(&format!(
            "The proxy address \"SMTP:{used}\" is already being used"
        )));
        assert_eq!(e.status, 400);
    }

    #[test]
    fn remove_mail_contact_drops_it_from_groups() {
        let mut t = tenant();
        run(
            &mut t,
            "New-MailContact",
            json!({"Name": "Temp", "ExternalEmailAddress": "temp@x.example"}),
        )
        .unwrap();
        let contact = t.recipients.resolve("Temp", |_| true).unwrap();
        let group = nth(&t, RecipientKind::DistributionGroup, 0);
        t.recipients.update(group, |g| g.members.push(contact));
        let out = run(
            &mut t,
            "Remove-MailContact",
            json!({"Identity": "temp@x.example", "Confirm": false}),
        )
        .unwrap();
        assert!(rows(&t, &out).is_empty());
        assert!(t.recipients.get(contact).is_none());
        assert!(!t.recipients.get(group).unwrap().members.contains(&contact));
        let e = run(&mut t, "Remove-MailContact", json!({"Identity": "Temp"}))
            .err()
            .unwrap();
        assert_eq!(e.status, 404);
        let mailbox = name(&t, nth(&t, RecipientKind::UserMailbox, 0));
        assert_eq!(
            run(&mut t, "Remove-MailContact", json!({"Identity": mailbox}))
                .err()
                .unwrap()
                .status,
            404
        );
        let e = run(&mut t, "Remove-MailContact", json!({})).err().unwrap();
        assert!(e.text.contains("Identity"));
    }

    #[test]
    fn aliases_from_names() {
        assert_eq!(alias_from_name("Ann O'Neil"), "AnnO'Neil");
        assert_eq!(alias_from_name(".a..b. c"), "a.b.c");
        assert_eq!(alias_from_name("ÅÄÖ"), "MailContact");
        assert_eq!(
            smtp_address("ExternalEmailAddress", "smtp:A@b.com").unwrap(),
            "A@b.com"
        );
    }
}
