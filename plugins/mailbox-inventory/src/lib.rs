//! `mailbox-inventory`: one record per mailbox with its size, item count, last logon and
//! forwarding, for a tenant of any size.
//!
//! Streams `Get-Mailbox -ResultSize Unlimited` page by page and, unless the input says
//! `"statistics": false`, joins `Get-MailboxStatistics -Identity <Guid>` for each mailbox. Nothing
//! is kept per mailbox, so memory stays flat however many there are.

use exorun_plugin::{
    CmdletError, Parameters, PluginError, emit, invoke, progress, query, value, warn,
};
use serde::{Deserialize, Serialize};

/// What to list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    /// An OPATH filter for Get-Mailbox (`-Filter`).
    #[serde(default)]
    filter: Option<String>,
    /// Only these kinds (`-RecipientTypeDetails`), e.g. `"SharedMailbox"`.
    #[serde(default)]
    recipient_type_details: Option<String>,
    /// Join Get-MailboxStatistics (one call per mailbox); default true.
    #[serde(default = "yes")]
    statistics: bool,
}

fn yes() -> bool {
    true
}

/// The Get-Mailbox properties the inventory reads.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Mailbox {
    user_principal_name: Option<String>,
    recipient_type_details: Option<String>,
    forwarding_smtp_address: Option<String>,
    hidden_from_address_lists_enabled: Option<bool>,
    guid: Option<String>,
    primary_smtp_address: Option<String>,
}

/// The Get-MailboxStatistics properties the inventory reads.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Statistics {
    total_item_size: Option<String>,
    item_count: Option<u64>,
    last_logon_time: Option<String>,
}

/// One emitted record.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row {
    user_principal_name: Option<String>,
    recipient_type_details: Option<String>,
    total_item_size_bytes: Option<u64>,
    item_count: Option<u64>,
    last_logon_time: Option<String>,
    forwarding_smtp_address: Option<String>,
    hidden_from_address_lists_enabled: Option<bool>,
}

/// The run's summary.
#[derive(Serialize)]
struct Summary {
    mailboxes: u64,
}

/// The mailbox's statistics, or `None` (with a warning) if it vanished since it was listed.
fn statistics(mailbox: &Mailbox) -> Result<Option<Statistics>, PluginError> {
    let identity = mailbox
        .guid
        .as_ref()
        .or(mailbox.user_principal_name.as_ref())
        .or(mailbox.primary_smtp_address.as_ref());
    let Some(identity) = identity else {
        warn!("a mailbox without Guid, UserPrincipalName or PrimarySmtpAddress: no statistics");
        return Ok(None);
    };
    match invoke::<Statistics>(
        "Get-MailboxStatistics",
        Parameters::new().with("Identity", identity.as_str()),
    ) {
        Ok(rows) => Ok(rows.into_iter().next()),
        Err(CmdletError::NotFound(text)) => {
            warn!("no statistics for {identity}: {text}");
            Ok(None)
        }
        Err(e) => {
            Err(PluginError::from(e).context(format!("Get-MailboxStatistics -Identity {identity}")))
        }
    }
}

fn run(input: Input) -> Result<Summary, PluginError> {
    let params = Parameters::new()
        .with("ResultSize", "Unlimited")
        .with_some("Filter", input.filter)
        .with_some("RecipientTypeDetails", input.recipient_type_details);
    let mut mailboxes = 0;
    for page in query::<Mailbox>("Get-Mailbox", params).pages() {
        for mailbox in page? {
            let stats = if input.statistics {
                statistics(&mailbox)?
            } else {
                None
            };
            let (size, items, logon) = match stats {
                Some(s) => (
                    s.total_item_size.as_deref().and_then(value::byte_size),
                    s.item_count,
                    s.last_logon_time,
                ),
                None => (None, None, None),
            };
            emit(&Row {
                user_principal_name: mailbox.user_principal_name,
                recipient_type_details: mailbox.recipient_type_details,
                total_item_size_bytes: size,
                item_count: items,
                last_logon_time: logon,
                forwarding_smtp_address: mailbox.forwarding_smtp_address,
                hidden_from_address_lists_enabled: mailbox.hidden_from_address_lists_enabled,
            })?;
            mailboxes += 1;
        }
        progress(mailboxes, 0, &format!("{mailboxes} mailboxes"));
    }
    Ok(Summary { mailboxes })
}

exorun_plugin::export_plugin!(run);
