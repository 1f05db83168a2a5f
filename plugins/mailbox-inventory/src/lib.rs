//! `mailbox-inventory`: one record per mailbox with its size, item count, last logon and
//! forwarding, for a tenant of any size.
//!
//! Streams `Get-Mailbox -ResultSize Unlimited` page by page and, unless the input says
//! `"statistics": false`, joins `Get-MailboxStatistics -Identity <Guid>` for each mailbox. Nothing
//! is kept per mailbox, so memory stays flat however many there are.
//!
//! After each page it saves a checkpoint (how many mailboxes are done, and the last one). A run
//! of the same input after a failed one skips those mailboxes (no statistics calls, no records)
//! once it has checked that the list still starts the same way; if it does not, it starts over.

use exorun_plugin::{
    CmdletError, Parameters, PluginError, checkpoint, emit, info, invoke, progress, query, value,
    warn,
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
    /// Mailboxes listed by this run.
    mailboxes: u64,
    /// Mailboxes an earlier, interrupted run had already listed (skipped by this one).
    #[serde(skip_serializing_if = "is_zero")]
    resumed_after: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Where an interrupted inventory got to.
#[derive(Serialize, Deserialize)]
struct Cursor {
    /// Mailboxes listed, in Get-Mailbox order.
    done: u64,
    /// The last of them (Guid, else UPN): the list must still have it at that position.
    last: String,
}

impl Mailbox {
    /// What names the mailbox in a checkpoint.
    fn key(&self) -> &str {
        self.guid
            .as_deref()
            .or(self.user_principal_name.as_deref())
            .or(self.primary_smtp_address.as_deref())
            .unwrap_or("")
    }
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

/// The checkpoint of an interrupted run of the same input, if there is a usable one.
fn restore() -> Option<Cursor> {
    let text = checkpoint::restore()?;
    match serde_json::from_str::<Cursor>(&text) {
        Ok(cursor) => Some(cursor),
        Err(e) => {
            warn!("the saved checkpoint is unreadable ({e}): starting from the first mailbox");
            None
        }
    }
}

/// Lists the mailboxes after `resume`'s (all of them without one). `None`: the mailboxes up to
/// the checkpoint are no longer the same, and nothing was listed.
fn walk(input: &Input, resume: Option<&Cursor>) -> Result<Option<Summary>, PluginError> {
    let params = Parameters::new()
        .with("ResultSize", "Unlimited")
        .with_some("Filter", input.filter.as_deref())
        .with_some(
            "RecipientTypeDetails",
            input.recipient_type_details.as_deref(),
        );
    let skip = resume.map_or(0, |c| c.done);
    let (mut position, mut listed) = (0u64, 0u64);
    for page in query::<Mailbox>("Get-Mailbox", params).pages() {
        let mut last = None;
        let page = page.map_err(|e| {
            PluginError::from(e).context(format_args!("Get-Mailbox, after {position} mailboxes"))
        })?;
        for mailbox in page {
            position += 1;
            if position < skip {
                continue;
            }
            if position == skip {
                if resume.is_some_and(|c| c.last != mailbox.key()) {
                    return Ok(None);
                }
                continue;
            }
            let key = mailbox.key().to_string();
            list(mailbox, input.statistics)?;
            last = Some(key);
            listed += 1;
        }
        if let Some(last) = last {
            let cursor = Cursor {
                done: position,
                last,
            };
            checkpoint::save(&serde_json::to_string(&cursor)?)?;
        }
        progress(position, 0, &format!("{position} mailboxes"));
    }
    if position < skip {
        return Ok(None);
    }
    Ok(Some(Summary {
        mailboxes: listed,
        resumed_after: skip,
    }))
}

/// Emits the record of one mailbox, with its statistics if asked.
fn list(mailbox: Mailbox, with_statistics: bool) -> Result<(), PluginError> {
    let stats = if with_statistics {
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
    })
}

fn run(input: Input) -> Result<Summary, PluginError> {
    let mut resume = restore();
    if let Some(cursor) = &resume {
        info!(
            "resuming an interrupted inventory after {} mailboxes",
            cursor.done
        );
    }
    loop {
        match walk(&input, resume.take().as_ref())? {
            Some(summary) => return Ok(summary),
            None => warn!(
                "the mailbox list changed since the interrupted run, so its checkpoint no longer fits: listing every mailbox again"
            ),
        }
    }
}

exorun_plugin::export_plugin!(run);
