//! `remove-group-member`: takes one member out of one distribution group (or mail-enabled
//! security group).
//!
//! Reads the group (`Get-DistributionGroup -Identity`) and the member (`Get-Recipient
//! -Identity`), checks that the member is still in the group (`Get-DistributionGroup -Filter
//! "Members -eq '<its DN>'"`), and only then sends `Remove-DistributionGroupMember
//! -BypassSecurityGroupManagerCheck -Confirm:$false`. A member that is not in the group any more,
//! or no longer exists at all, is no error: the summary says `"removed": false` and why, so a
//! workflow that fans out over a leaver's groups can run again. In a dry run the host records the
//! removal instead of sending it; the summary says `"dry_run": true`.

use exorun_plugin::{CmdletError, Parameters, PluginError, info, invoke, query, value, warn};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The group and the member to take out of it: any identity Exchange takes (address, GUID, DN...).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    group: String,
    member: String,
}

/// The Get-DistributionGroup / Get-Recipient properties the plugin reads.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Recipient {
    guid: Option<String>,
    name: Option<String>,
    distinguished_name: Option<String>,
}

/// The run's summary: `removed` is true only if the member was taken out by this run; `detail`
/// says what happened.
#[derive(Serialize)]
struct Summary {
    group: String,
    member: String,
    group_name: Option<String>,
    removed: bool,
    dry_run: bool,
    detail: String,
}

/// Why the member is not removed although nothing failed.
enum Gone {
    /// No recipient by that identity.
    NoSuchRecipient,
    /// The recipient is not a direct member of the group.
    NotAMember,
}

/// The one recipient `cmdlet -Identity identity` returns, `None` if there is none.
fn read(cmdlet: &str, identity: &str) -> Result<Option<Recipient>, PluginError> {
    match invoke::<Recipient>(cmdlet, Parameters::new().with("Identity", identity)) {
        Ok(rows) => Ok(rows.into_iter().next()),
        Err(CmdletError::NotFound(_)) => Ok(None),
        Err(e) => Err(PluginError::from(e).context(format!("{cmdlet} -Identity {identity}"))),
    }
}

/// Whether the recipient with distinguished name `dn` is a direct member of the group `guid`:
/// the groups it is a member of are few, where a group's members may be thousands.
fn is_member(dn: &str, group_guid: &str) -> Result<bool, PluginError> {
    let params = Parameters::new()
        .with("Filter", format!("Members -eq {}", value::opath_string(dn)))
        .with("ResultSize", "Unlimited");
    for group in query::<Recipient>("Get-DistributionGroup", params) {
        let group = group.map_err(|e| PluginError::from(e).context("Get-DistributionGroup"))?;
        if group
            .guid
            .as_deref()
            .is_some_and(|g| g.eq_ignore_ascii_case(group_guid))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether the service says the member is not in the group (the removal raced another one).
fn says_not_a_member(error: &CmdletError) -> bool {
    error.is_invalid_parameter() && error.message().contains("isn't a member of the group")
}

/// Why `member` is not to be removed from the group `group_guid`, or `None` if it is a member.
fn gone(member: &str, group_guid: &str) -> Result<Option<Gone>, PluginError> {
    let Some(recipient) = read("Get-Recipient", member)? else {
        return Ok(Some(Gone::NoSuchRecipient));
    };
    let Some(dn) = recipient.distinguished_name else {
        return Err(PluginError::new(format!(
            "Get-Recipient -Identity {member} returned no DistinguishedName"
        )));
    };
    Ok((!is_member(&dn, group_guid)?).then_some(Gone::NotAMember))
}

/// Sends the removal and says in `summary` what became of it.
fn remove(summary: &mut Summary, group_shown: &str) -> Result<(), PluginError> {
    let member = &summary.member;
    let params = Parameters::new()
        .with("Identity", summary.group.as_str())
        .with("Member", member.as_str())
        .with("BypassSecurityGroupManagerCheck", true)
        .with("Confirm", false);
    summary.detail = match invoke::<Value>("Remove-DistributionGroupMember", params) {
        Ok(_) => {
            summary.removed = true;
            format!("'{member}' was removed from '{group_shown}'")
        }
        Err(CmdletError::DryRun(_)) => {
            summary.dry_run = true;
            format!(
                "'{member}' would be removed from '{group_shown}' (dry run: recorded, not sent)"
            )
        }
        Err(e) if says_not_a_member(&e) => {
            warn!("{e}");
            format!(
                "'{member}' was no longer a member of '{group_shown}' when it was to be removed"
            )
        }
        Err(e) => {
            return Err(PluginError::from(e).context(format!(
                "Remove-DistributionGroupMember -Identity {} -Member {member}",
                summary.group
            )));
        }
    };
    Ok(())
}

fn run(input: Input) -> Result<Summary, PluginError> {
    let group = input.group.trim().to_string();
    let member = input.member.trim().to_string();
    if group.is_empty() || member.is_empty() {
        return Err(PluginError::new(
            "`group` and `member` must both name a recipient (an address, GUID or DN)",
        ));
    }
    let Some(found) = read("Get-DistributionGroup", &group)? else {
        return Err(PluginError::new(format!(
            "no distribution group '{group}' in this tenant: check the identity (find-recipient lists a recipient's groups); nothing was changed"
        )));
    };
    let Some(group_guid) = found.guid else {
        return Err(PluginError::new(format!(
            "Get-DistributionGroup -Identity {group} returned a group without a Guid"
        )));
    };
    let group_shown = found.name.clone().unwrap_or_else(|| group.clone());
    let mut summary = Summary {
        group,
        member,
        group_name: found.name,
        removed: false,
        dry_run: false,
        detail: String::new(),
    };
    match gone(&summary.member, &group_guid)? {
        Some(Gone::NoSuchRecipient) => {
            summary.detail = format!(
                "there is no recipient '{}' any more, so it is in no group",
                summary.member
            );
        }
        Some(Gone::NotAMember) => {
            summary.detail = format!("'{}' is not a member of '{group_shown}'", summary.member);
        }
        None => remove(&mut summary, &group_shown)?,
    }
    info!("{}", summary.detail);
    Ok(summary)
}

exorun_plugin::export_plugin!(run);
