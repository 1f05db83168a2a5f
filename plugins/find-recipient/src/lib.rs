//! `find-recipient`: looks a recipient up and says what an offboarding needs to know of it.
//!
//! Reads the recipient with `Get-Recipient -Identity`, its manager (the `Manager` property names
//! the manager's recipient, read again for its address), and the distribution groups and
//! mail-enabled security groups it is a direct member of, the way an admin finds them:
//! `Get-DistributionGroup -Filter "Members -eq '<its DN>'"`. Emits one record per group, so a
//! later step can fan out over them, and returns the recipient's summary. A recipient that does
//! not exist is no error: the summary says `"found": false`. An identity holding `*` (a
//! wildcard to `-Identity`) or naming several recipients is refused: the lookup is of one.

use exorun_plugin::{
    CmdletError, Failures, Parameters, PluginError, emit, info, invoke, query, value, warn,
};
use serde::{Deserialize, Serialize};

/// The recipient to look up: any identity Exchange takes (address, UPN, alias, name, GUID, DN).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    identity: String,
}

/// The Get-Recipient properties the plugin reads.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Recipient {
    name: Option<String>,
    display_name: Option<String>,
    primary_smtp_address: Option<String>,
    recipient_type_details: Option<String>,
    distinguished_name: Option<String>,
    #[serde(default)]
    manager: Option<String>,
}

/// The Get-DistributionGroup properties a group record carries.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Group {
    guid: Option<String>,
    name: Option<String>,
    primary_smtp_address: Option<String>,
}

/// One emitted record: a group the recipient is a direct member of. `group` is its GUID, the
/// identity to hand to a later step (`remove-group-member`).
#[derive(Serialize)]
struct GroupRecord {
    group: String,
    name: Option<String>,
    primary_smtp_address: Option<String>,
}

/// The recipient's manager.
#[derive(Serialize)]
struct Manager {
    /// What to hand to a later step (`grant-mailbox-access`'s `trustee`): the manager's primary
    /// address, or its name if it has none.
    identity: String,
    name: String,
    display_name: Option<String>,
    primary_smtp_address: Option<String>,
}

/// The run's summary. Everything but `found`, `identity` and `groups` is null when the
/// recipient was not found.
#[derive(Serialize)]
struct Summary {
    found: bool,
    identity: String,
    primary_smtp_address: Option<String>,
    display_name: Option<String>,
    recipient_type_details: Option<String>,
    distinguished_name: Option<String>,
    manager: Option<Manager>,
    groups: u64,
    /// A manager that could not be read (not one that does not exist) is failed work.
    #[serde(flatten)]
    failures: Failures,
}

impl Summary {
    fn not_found(identity: String) -> Summary {
        Summary {
            found: false,
            identity,
            primary_smtp_address: None,
            display_name: None,
            recipient_type_details: None,
            distinguished_name: None,
            manager: None,
            groups: 0,
            failures: Failures::new(),
        }
    }
}

/// The one recipient `identity` names, or `None` if there is none; an identity that names
/// several (Exchange's `-Identity` takes wildcards) is an error, never the first of them.
fn recipient(identity: &str) -> Result<Option<Recipient>, PluginError> {
    match invoke::<Recipient>(
        "Get-Recipient",
        Parameters::new().with("Identity", identity),
    ) {
        Ok(rows) if rows.len() > 1 => Err(PluginError::new(format!(
            "'{identity}' names {} recipients, and a lookup is of one: give its primary address, UPN or GUID",
            rows.len()
        ))),
        Ok(rows) => Ok(rows.into_iter().next()),
        Err(CmdletError::NotFound(_)) => Ok(None),
        Err(e) => Err(PluginError::from(e).context(format!("Get-Recipient -Identity {identity}"))),
    }
}

/// The manager Exchange names (`Manager` holds the manager's name), with its address if it is
/// a recipient; a manager that cannot be read is named only, and counted in `failures`.
fn manager(name: String, failures: &mut Failures) -> Manager {
    let found = match recipient(&name) {
        Ok(found) => found,
        Err(e) => {
            warn!("the manager '{name}' could not be read: {e}");
            failures.add(format!("manager '{name}'"), &e);
            None
        }
    };
    let (display_name, primary_smtp_address) = found
        .map(|m| (m.display_name, m.primary_smtp_address))
        .unwrap_or_default();
    Manager {
        identity: primary_smtp_address.clone().unwrap_or_else(|| name.clone()),
        name,
        display_name,
        primary_smtp_address,
    }
}

/// Emits one record per group whose members include `dn`; returns how many.
fn emit_groups(dn: &str) -> Result<u64, PluginError> {
    let filter = format!("Members -eq {}", value::opath_string(dn));
    let params = Parameters::new()
        .with("Filter", filter)
        .with("ResultSize", "Unlimited");
    let mut groups = 0;
    for group in query::<Group>("Get-DistributionGroup", params) {
        let group = group.map_err(|e| PluginError::from(e).context("Get-DistributionGroup"))?;
        let Some(guid) = group.guid else {
            warn!(
                "a group without a Guid was left out: {}",
                group.name.as_deref().unwrap_or("(no name)")
            );
            continue;
        };
        emit(&GroupRecord {
            group: guid,
            name: group.name,
            primary_smtp_address: group.primary_smtp_address,
        })?;
        groups += 1;
    }
    Ok(groups)
}

fn run(input: Input) -> Result<Summary, PluginError> {
    let identity = input.identity.trim().to_string();
    if identity.is_empty() {
        return Err(PluginError::new(
            "`identity` is empty: name the recipient to look up (an address, UPN, alias or GUID)",
        ));
    }
    if identity.contains('*') {
        return Err(PluginError::new(format!(
            "`identity` '{identity}' holds *, which Exchange's -Identity reads as a wildcard that can name many recipients: name one recipient by its address, UPN, alias or GUID"
        )));
    }
    let Some(found) = recipient(&identity)? else {
        warn!("no recipient '{identity}' in this tenant");
        return Ok(Summary::not_found(identity));
    };
    let groups = match found.distinguished_name.as_deref() {
        Some(dn) => emit_groups(dn)?,
        None => {
            warn!("'{identity}' has no DistinguishedName: its groups cannot be listed");
            0
        }
    };
    let mut failures = Failures::new();
    let manager = found
        .manager
        .filter(|m| !m.is_empty())
        .map(|name| manager(name, &mut failures));
    info!(
        "{identity}: {} ({}), member of {groups} group(s){}",
        found.name.as_deref().unwrap_or_default(),
        found
            .recipient_type_details
            .as_deref()
            .unwrap_or("unknown type"),
        manager
            .as_ref()
            .map(|m| format!(", manager {}", m.identity))
            .unwrap_or_default()
    );
    Ok(Summary {
        found: true,
        identity,
        primary_smtp_address: found.primary_smtp_address,
        display_name: found.display_name,
        recipient_type_details: found.recipient_type_details,
        distinguished_name: found.distinguished_name,
        manager,
        groups,
        failures,
    })
}

exorun_plugin::export_plugin!(run);
