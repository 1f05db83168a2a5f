//! `mailbox-permission-audit`: who has FullAccess or SendAs on which mailbox.
//!
//! For each mailbox (the ones named in the input, else every mailbox from `Get-Mailbox`) it lists
//! the explicit FullAccess grants from `Get-MailboxPermission` and the SendAs grants from
//! `Get-RecipientPermission`, leaving out the mailbox's own `NT AUTHORITY\SELF` entry, inherited
//! entries, Deny entries and the trustees the operator set to ignore (`ignore_trustees`, e.g.
//! the backup service's account), and emits one record per grant.

use exorun_plugin::{
    CmdletError, Parameters, PluginError, config, emit, info, invoke, progress, query, warn,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The entry every mailbox has for its own user.
const SELF: &str = "NT AUTHORITY\\SELF";

/// Which mailboxes to audit; none means all of them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    #[serde(default)]
    identities: Vec<String>,
}

/// The Get-Mailbox properties the audit reads.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Mailbox {
    user_principal_name: Option<String>,
    primary_smtp_address: Option<String>,
    guid: Option<String>,
}

/// One Get-MailboxPermission row.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MailboxPermission {
    user: Option<String>,
    #[serde(default)]
    access_rights: Value,
    #[serde(default)]
    is_inherited: Option<bool>,
    #[serde(default)]
    deny: Option<bool>,
}

/// One Get-RecipientPermission row.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RecipientPermission {
    trustee: Option<String>,
    #[serde(default)]
    access_rights: Value,
    #[serde(default)]
    is_inherited: Option<bool>,
    #[serde(default)]
    access_control_type: Option<String>,
}

/// The operator setting naming trustees every audit leaves out.
const IGNORE_TRUSTEES: &str = "ignore_trustees";

/// Trustees left out of the audit: the mailbox's own entry and the operator's list.
struct Ignored(Vec<String>);

impl Ignored {
    /// `NT AUTHORITY\SELF` and the comma- or semicolon-separated `ignore_trustees` setting.
    fn from_config() -> Ignored {
        let mut trustees = vec![SELF.to_string()];
        if let Some(list) = config(IGNORE_TRUSTEES) {
            trustees.extend(
                list.split([',', ';'])
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
            );
        }
        Ignored(trustees)
    }

    fn contains(&self, trustee: &str) -> bool {
        self.0.iter().any(|t| t.eq_ignore_ascii_case(trustee))
    }
}

/// One emitted record.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Grant<'a> {
    mailbox: &'a str,
    trustee: &'a str,
    right: &'static str,
}

/// The run's summary.
#[derive(Default, Serialize)]
struct Summary {
    mailboxes: u64,
    full_access: u64,
    send_as: u64,
    not_found: u64,
}

/// True if `rights` (a list, or Exchange's comma-separated text) holds `right`.
fn has_right(rights: &Value, right: &str) -> bool {
    let matches = |text: &str| {
        text.split(',')
            .any(|r| r.trim().eq_ignore_ascii_case(right))
    };
    match rights {
        Value::Array(items) => items.iter().filter_map(Value::as_str).any(matches),
        Value::String(text) => matches(text),
        _ => false,
    }
}

/// The rows of `cmdlet -Identity <identity>` (one mailbox's grants: a short list), or `None` if
/// the mailbox does not exist.
fn rows<T: serde::de::DeserializeOwned>(
    cmdlet: &str,
    identity: &str,
) -> Result<Option<Vec<T>>, PluginError> {
    let params = Parameters::new()
        .with("Identity", identity)
        .with("ResultSize", "Unlimited");
    match invoke::<T>(cmdlet, params) {
        Ok(rows) => Ok(Some(rows)),
        Err(CmdletError::NotFound(text)) => {
            warn!("{identity}: {text}");
            Ok(None)
        }
        Err(e) => Err(PluginError::from(e).context(format!("{cmdlet} -Identity {identity}"))),
    }
}

/// Audits one mailbox: `identity` is what the cmdlets are called with, `shown` what the records
/// name it by.
fn audit(
    identity: &str,
    shown: &str,
    ignored: &Ignored,
    summary: &mut Summary,
) -> Result<(), PluginError> {
    let Some(permissions) = rows::<MailboxPermission>("Get-MailboxPermission", identity)? else {
        summary.not_found += 1;
        return Ok(());
    };
    summary.mailboxes += 1;
    for p in &permissions {
        let Some(trustee) = p.user.as_deref() else {
            continue;
        };
        if ignored.contains(trustee)
            || p.is_inherited == Some(true)
            || p.deny == Some(true)
            || !has_right(&p.access_rights, "FullAccess")
        {
            continue;
        }
        emit(&Grant {
            mailbox: shown,
            trustee,
            right: "FullAccess",
        })?;
        summary.full_access += 1;
    }
    // A mailbox that vanished between the two calls still had its FullAccess grants listed.
    let send_as =
        rows::<RecipientPermission>("Get-RecipientPermission", identity)?.unwrap_or_default();
    for p in &send_as {
        let Some(trustee) = p.trustee.as_deref() else {
            continue;
        };
        let denied = p
            .access_control_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("Deny"));
        if ignored.contains(trustee)
            || p.is_inherited == Some(true)
            || denied
            || !has_right(&p.access_rights, "SendAs")
        {
            continue;
        }
        emit(&Grant {
            mailbox: shown,
            trustee,
            right: "SendAs",
        })?;
        summary.send_as += 1;
    }
    Ok(())
}

fn run(input: Input) -> Result<Summary, PluginError> {
    let mut summary = Summary::default();
    let ignored = Ignored::from_config();
    if input.identities.is_empty() {
        let params = Parameters::new().with("ResultSize", "Unlimited");
        let mut done = 0;
        for page in query::<Mailbox>("Get-Mailbox", params).pages() {
            for mailbox in page? {
                let shown = mailbox
                    .user_principal_name
                    .as_ref()
                    .or(mailbox.primary_smtp_address.as_ref());
                let (Some(identity), Some(shown)) = (
                    mailbox.guid.as_ref().or(shown),
                    shown.or(mailbox.guid.as_ref()),
                ) else {
                    warn!(
                        "a mailbox without Guid, UserPrincipalName or PrimarySmtpAddress was skipped"
                    );
                    continue;
                };
                audit(identity, shown, &ignored, &mut summary)?;
                done += 1;
            }
            progress(done, 0, &format!("{done} mailboxes"));
        }
    } else {
        let total = input.identities.len() as u64;
        for (done, identity) in (1..).zip(&input.identities) {
            audit(identity, identity, &ignored, &mut summary)?;
            progress(done, total, identity);
        }
    }
    info!(
        "{} mailboxes: {} FullAccess and {} SendAs grants",
        summary.mailboxes, summary.full_access, summary.send_as
    );
    Ok(summary)
}

exorun_plugin::export_plugin!(run);
