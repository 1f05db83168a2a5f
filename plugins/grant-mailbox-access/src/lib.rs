//! `grant-mailbox-access`: gives a trustee (a leaver's manager, say) access to a mailbox.
//!
//! Reads the mailbox and the trustee first, then the trustee's explicit grants on the mailbox
//! (`Get-MailboxPermission -User`, `Get-RecipientPermission -Trustee`), and sends only what is
//! missing: `Add-MailboxPermission -AccessRights <missing> -AutoMapping <automapping>` and, when
//! `send_as` is asked for, `Add-RecipientPermission -AccessRights SendAs`. Running it again
//! changes nothing and says `"changed": false`. In a dry run the host records the additions
//! instead of sending them; the summary then lists what would be granted, with `"dry_run": true`.

use exorun_plugin::{CmdletError, Parameters, PluginError, info, invoke};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The rights `Add-MailboxPermission -AccessRights` takes (Exchange's `MailboxRights`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
enum Right {
    FullAccess,
    ReadPermission,
    ChangePermission,
    ChangeOwner,
    DeleteItem,
    ExternalAccount,
}

impl Right {
    fn as_str(self) -> &'static str {
        match self {
            Right::FullAccess => "FullAccess",
            Right::ReadPermission => "ReadPermission",
            Right::ChangePermission => "ChangePermission",
            Right::ChangeOwner => "ChangeOwner",
            Right::DeleteItem => "DeleteItem",
            Right::ExternalAccount => "ExternalAccount",
        }
    }
}

fn full_access() -> Vec<Right> {
    vec![Right::FullAccess]
}

/// The mailbox, the trustee and what to grant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    identity: String,
    trustee: String,
    #[serde(default = "full_access")]
    access: Vec<Right>,
    #[serde(default)]
    send_as: bool,
    /// Whether Outlook adds the mailbox to the trustee's profile (`-AutoMapping`); always
    /// sent, so the outcome never depends on the service's default.
    #[serde(default)]
    automapping: bool,
}

/// A row of Get-MailboxPermission or Get-RecipientPermission, as far as the plugin reads it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Permission {
    #[serde(default)]
    access_rights: Value,
    #[serde(default)]
    deny: Option<bool>,
    #[serde(default)]
    access_control_type: Option<String>,
    #[serde(default)]
    is_inherited: Option<bool>,
}

impl Permission {
    /// An explicit Allow entry (not inherited, not Deny).
    fn is_explicit_allow(&self) -> bool {
        self.deny != Some(true)
            && self.is_inherited != Some(true)
            && !self
                .access_control_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("Deny"))
    }

    /// True if the entry holds `right` (a list, or Exchange's comma-separated text).
    fn holds(&self, right: &str) -> bool {
        let matches = |text: &str| {
            text.split(',')
                .any(|r| r.trim().eq_ignore_ascii_case(right))
        };
        match &self.access_rights {
            Value::Array(items) => items.iter().filter_map(Value::as_str).any(matches),
            Value::String(text) => matches(text),
            _ => false,
        }
    }
}

/// The run's summary: `granted` are the rights added (in a dry run: the ones that would be);
/// `already_granted` the asked-for rights the trustee had; `changed` is true only if the
/// tenant was changed.
#[derive(Serialize)]
struct Summary {
    identity: String,
    trustee: String,
    changed: bool,
    dry_run: bool,
    granted: Vec<&'static str>,
    already_granted: Vec<&'static str>,
}

/// Checks that `cmdlet -Identity identity` finds the object; the error names what is missing.
fn must_exist(cmdlet: &str, identity: &str, what: &str) -> Result<(), PluginError> {
    let found = match invoke::<Value>(cmdlet, Parameters::new().with("Identity", identity)) {
        Ok(rows) => !rows.is_empty(),
        Err(CmdletError::NotFound(_)) => false,
        Err(e) => {
            return Err(PluginError::from(e).context(format!("{cmdlet} -Identity {identity}")));
        }
    };
    if found {
        Ok(())
    } else {
        Err(PluginError::new(format!(
            "no {what} '{identity}' in this tenant: check the address; nothing was granted"
        )))
    }
}

/// The trustee's explicit Allow entries on the mailbox.
fn entries(
    cmdlet: &str,
    identity: &str,
    filter: &str,
    trustee: &str,
) -> Result<Vec<Permission>, PluginError> {
    let params = Parameters::new()
        .with("Identity", identity)
        .with(filter, trustee);
    let rows = invoke::<Permission>(cmdlet, params).map_err(|e| {
        PluginError::from(e).context(format!("{cmdlet} -Identity {identity} -{filter} {trustee}"))
    })?;
    Ok(rows
        .into_iter()
        .filter(Permission::is_explicit_allow)
        .collect())
}

/// Sends one addition; true if it was sent, false if the dry run recorded it.
fn add(cmdlet: &str, params: Parameters) -> Result<bool, PluginError> {
    match invoke::<Value>(cmdlet, params) {
        Ok(_) => Ok(true),
        Err(CmdletError::DryRun(_)) => Ok(false),
        Err(e) => Err(PluginError::from(e).context(cmdlet)),
    }
}

impl Summary {
    /// Notes rights an addition granted, or in a dry run would have granted.
    fn granting(&mut self, sent: bool, rights: &[&'static str]) {
        self.changed |= sent;
        self.dry_run |= !sent;
        self.granted.extend_from_slice(rights);
    }

    /// Adds the mailbox rights among `wanted` the trustee does not hold yet.
    fn grant_mailbox_rights(
        &mut self,
        wanted: &[&'static str],
        automapping: bool,
    ) -> Result<(), PluginError> {
        let held = entries(
            "Get-MailboxPermission",
            &self.identity,
            "User",
            &self.trustee,
        )?;
        let (present, missing): (Vec<&'static str>, Vec<&'static str>) = wanted
            .iter()
            .partition(|right| held.iter().any(|e| e.holds(right)));
        self.already_granted.extend(present);
        if missing.is_empty() {
            return Ok(());
        }
        let params = Parameters::new()
            .with("Identity", self.identity.as_str())
            .with("User", self.trustee.as_str())
            .with("AccessRights", missing.clone())
            .with("AutoMapping", automapping);
        let sent = add("Add-MailboxPermission", params)?;
        self.granting(sent, &missing);
        Ok(())
    }

    /// Adds SendAs unless the trustee holds it.
    fn grant_send_as(&mut self) -> Result<(), PluginError> {
        let held = entries(
            "Get-RecipientPermission",
            &self.identity,
            "Trustee",
            &self.trustee,
        )?;
        if held.iter().any(|e| e.holds("SendAs")) {
            self.already_granted.push("SendAs");
            return Ok(());
        }
        let params = Parameters::new()
            .with("Identity", self.identity.as_str())
            .with("Trustee", self.trustee.as_str())
            .with("AccessRights", vec!["SendAs"])
            .with("Confirm", false);
        let sent = add("Add-RecipientPermission", params)?;
        self.granting(sent, &["SendAs"]);
        Ok(())
    }
}

fn run(input: Input) -> Result<Summary, PluginError> {
    let identity = input.identity.trim().to_string();
    let trustee = input.trustee.trim().to_string();
    if identity.is_empty() || trustee.is_empty() {
        return Err(PluginError::new(
            "`identity` and `trustee` must both name a recipient (an address or UPN)",
        ));
    }
    must_exist("Get-Mailbox", &identity, "mailbox")?;
    must_exist("Get-Recipient", &trustee, "trustee")?;
    let mut summary = Summary {
        identity,
        trustee,
        changed: false,
        dry_run: false,
        granted: Vec::new(),
        already_granted: Vec::new(),
    };
    let mut wanted: Vec<&'static str> = Vec::new();
    for right in input.access.iter().map(|r| r.as_str()) {
        if !wanted.contains(&right) {
            wanted.push(right);
        }
    }
    if !wanted.is_empty() {
        summary.grant_mailbox_rights(&wanted, input.automapping)?;
    }
    if input.send_as {
        summary.grant_send_as()?;
    }
    let granted = match (summary.granted.is_empty(), summary.dry_run) {
        (true, _) => "nothing granted".to_string(),
        (false, false) => format!("{} granted", summary.granted.join(", ")),
        (false, true) => format!(
            "{} would be granted (dry run: recorded, not sent)",
            summary.granted.join(", ")
        ),
    };
    info!(
        "{} on {}: {granted}{}",
        summary.trustee,
        summary.identity,
        if summary.already_granted.is_empty() {
            String::new()
        } else {
            format!("; already held: {}", summary.already_granted.join(", "))
        }
    );
    Ok(summary)
}

exorun_plugin::export_plugin!(run);
