//! `offboard-mailbox`: converts a leaver's mailbox to shared and hides it from the address lists.
//!
//! Reads the mailbox first (`Get-Mailbox -Identity`) and sends one `Set-Mailbox` with only the
//! changes that were asked for and are not made yet (`-Type Shared`,
//! `-HiddenFromAddressListsEnabled $true`), so running it again changes nothing and says
//! `"changed": false`. In a dry run the host records the `Set-Mailbox` instead of sending it;
//! the summary then lists the changes it would make, with `"dry_run": true`.

use exorun_plugin::{CmdletError, Parameters, PluginError, info, invoke};
use serde::{Deserialize, Serialize};
use serde_json::Value;

const SHARED: &str = "SharedMailbox";
const USER: &str = "UserMailbox";

/// The mailbox and what to do to it; what is not asked for is left as it is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    identity: String,
    #[serde(default)]
    convert_to_shared: bool,
    #[serde(default)]
    hide_from_address_lists: bool,
}

/// The Get-Mailbox properties the plugin reads.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Mailbox {
    primary_smtp_address: Option<String>,
    recipient_type_details: Option<String>,
    #[serde(default)]
    hidden_from_address_lists_enabled: Option<bool>,
}

/// One change: the property as Get-Mailbox shows it, its value before and after.
#[derive(Serialize)]
struct Change {
    property: &'static str,
    from: Value,
    to: Value,
}

/// The run's summary: `changes` are the changes made (in a dry run: the ones that would be
/// made); `changed` is true only if the tenant was changed.
#[derive(Serialize)]
struct Summary {
    identity: String,
    primary_smtp_address: Option<String>,
    changed: bool,
    dry_run: bool,
    changes: Vec<Change>,
}

/// The Set-Mailbox parameters and the changes they make, for what is asked and not yet so.
fn plan(
    input: &Input,
    identity: &str,
    mailbox: &Mailbox,
) -> Result<(Parameters, Vec<Change>), PluginError> {
    let mut params = Parameters::new();
    let mut changes = Vec::new();
    let kind = mailbox
        .recipient_type_details
        .as_deref()
        .unwrap_or_default();
    if input.convert_to_shared && kind != SHARED {
        if kind != USER {
            return Err(PluginError::new(format!(
                "'{identity}' is a {} mailbox, not a user mailbox: only a user mailbox is converted to shared; leave `convert_to_shared` out for it",
                if kind.is_empty() {
                    "(type unknown)"
                } else {
                    kind
                }
            )));
        }
        params.set("Type", "Shared");
        changes.push(Change {
            property: "RecipientTypeDetails",
            from: Value::from(kind),
            to: Value::from(SHARED),
        });
    }
    let hidden = mailbox.hidden_from_address_lists_enabled.unwrap_or(false);
    if input.hide_from_address_lists && !hidden {
        params.set("HiddenFromAddressListsEnabled", true);
        changes.push(Change {
            property: "HiddenFromAddressListsEnabled",
            from: Value::from(hidden),
            to: Value::from(true),
        });
    }
    Ok((params, changes))
}

fn run(input: Input) -> Result<Summary, PluginError> {
    let identity = input.identity.trim().to_string();
    if identity.is_empty() {
        return Err(PluginError::new(
            "`identity` is empty: name the mailbox to offboard (its address or UPN)",
        ));
    }
    let read = Parameters::new().with("Identity", identity.as_str());
    let mailbox = match invoke::<Mailbox>("Get-Mailbox", read) {
        Ok(rows) => rows.into_iter().next(),
        Err(CmdletError::NotFound(_)) => None,
        Err(e) => {
            return Err(PluginError::from(e).context(format!("Get-Mailbox -Identity {identity}")));
        }
    };
    let Some(mailbox) = mailbox else {
        return Err(PluginError::new(format!(
            "no mailbox '{identity}' in this tenant: check the address (find-recipient looks a recipient up); nothing was changed"
        )));
    };
    let (mut params, changes) = plan(&input, &identity, &mailbox)?;
    let mut summary = Summary {
        identity,
        primary_smtp_address: mailbox.primary_smtp_address,
        changed: false,
        dry_run: false,
        changes,
    };
    if summary.changes.is_empty() {
        info!("{}: nothing to change", summary.identity);
        return Ok(summary);
    }
    params.set("Identity", summary.identity.as_str());
    match invoke::<Value>("Set-Mailbox", params) {
        Ok(_) => summary.changed = true,
        Err(CmdletError::DryRun(_)) => summary.dry_run = true,
        Err(e) => {
            return Err(
                PluginError::from(e).context(format!("Set-Mailbox -Identity {}", summary.identity))
            );
        }
    }
    let what: Vec<&str> = summary.changes.iter().map(|c| c.property).collect();
    info!(
        "{}: {} {}",
        summary.identity,
        what.join(", "),
        if summary.dry_run {
            "would change (dry run: recorded, not sent)"
        } else {
            "changed"
        }
    );
    Ok(summary)
}

exorun_plugin::export_plugin!(run);
