//! Get-DistributionGroup and the Get/Add/Remove-DistributionGroupMember cmdlets.

use crate::directory::Tenant;
use crate::directory::recipient::{Recipient, RecipientKind};
use crate::exchange::error::CmdletError;
use crate::exchange::params::Params;
use crate::exchange::row::Select;
use crate::exchange::views::View;

use super::{
    CmdletSpec, Context, DEFAULT_RESULT_SIZE, Output, Run, Surface, resolve, select_recipients,
};

/// The cmdlets of this module.
pub const CMDLETS: [CmdletSpec; 4] = [
    CmdletSpec {
        name: "Get-DistributionGroup",
        surface: Surface::Exchange,
        params: &[
            "Identity",
            "Filter",
            "ResultSize",
            "Anr",
            "RecipientTypeDetails",
        ],
        run: Run::Read(get_distribution_group),
    },
    CmdletSpec {
        name: "Get-DistributionGroupMember",
        surface: Surface::Exchange,
        params: &["Identity", "ResultSize"],
        run: Run::Read(get_distribution_group_member),
    },
    CmdletSpec {
        name: "Add-DistributionGroupMember",
        surface: Surface::Exchange,
        params: &[
            "Identity",
            "Member",
            "BypassSecurityGroupManagerCheck",
            "Confirm",
        ],
        run: Run::Write(add_distribution_group_member),
    },
    CmdletSpec {
        name: "Remove-DistributionGroupMember",
        surface: Surface::Exchange,
        params: &[
            "Identity",
            "Member",
            "BypassSecurityGroupManagerCheck",
            "Confirm",
        ],
        run: Run::Write(remove_distribution_group_member),
    },
];

fn is_group(r: &Recipient) -> bool {
    r.kind == RecipientKind::DistributionGroup
}

fn get_distribution_group(
    tenant: &Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let result_size = params.result_size(DEFAULT_RESULT_SIZE)?;
    let ids = select_recipients(tenant, params, |k| k == RecipientKind::DistributionGroup)?;
    Ok(Output::recipients(
        View::DistributionGroup,
        ids,
        Select::all(),
        result_size,
    ))
}

fn get_distribution_group_member(
    tenant: &Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let identity = params.required("Identity")?;
    let result_size = params.result_size(DEFAULT_RESULT_SIZE)?;
    let group = resolve(tenant, &identity, is_group)?;
    let members = tenant
        .recipients
        .get(group)
        .map(|g| g.members.as_slice())
        .unwrap_or_default();
    let ids = members
        .iter()
        .copied()
        .filter(|&id| tenant.recipients.get(id).is_some())
        .collect();
    Ok(Output::recipients(
        View::Recipient,
        ids,
        Select::all(),
        result_size,
    ))
}

/// The group and member ids of Add/Remove-DistributionGroupMember, and the group's name.
fn group_and_member(
    tenant: &Tenant,
    params: &Params<'_>,
) -> Result<(u32, u32, String, String), CmdletError> {
    let identity = params.required("Identity")?;
    let member = params.required("Member")?;
    params.switch("BypassSecurityGroupManagerCheck")?;
    let group = resolve(tenant, &identity, is_group)?;
    let (group_guid, group_name) = tenant
        .recipients
        .get(group)
        .map(|g| (g.guid, g.name.clone()))
        .unwrap_or_default();
    let member_id = resolve(tenant, &member, |r| r.guid != group_guid)?;
    Ok((group, member_id, group_name, member))
}

fn add_distribution_group_member(
    tenant: &mut Tenant,
    params: &Params<'_>,
    ctx: &Context,
) -> Result<Output, CmdletError> {
    let (group, member, group_name, member_text) = group_and_member(tenant, params)?;
    if tenant
        .recipients
        .get(group)
        .is_some_and(|g| g.members.contains(&member))
    {
        return Err(CmdletError::task(
            "",
            "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException",
            format!(
                "The recipient \"{member_text}\" is already a member of the group \"{group_name}\"."
            ),
        ));
    }
    tenant.recipients.update(group, |g| {
        g.members.push(member);
        g.changed = ctx.now;
    });
    Ok(Output::nothing())
}

fn remove_distribution_group_member(
    tenant: &mut Tenant,
    params: &Params<'_>,
    ctx: &Context,
) -> Result<Output, CmdletError> {
    let (group, member, group_name, member_text) = group_and_member(tenant, params)?;
    if !tenant
        .recipients
        .get(group)
        .is_some_and(|g| g.members.contains(&member))
    {
        return Err(CmdletError::task(
            "",
            "Microsoft.Exchange.Management.Tasks.MemberNotFoundException",
            format!(
                "The recipient \"{member_text}\" isn't a member of the group \"{group_name}\"."
            ),
        ));
    }
    tenant.recipients.update(group, |g| {
        g.members.retain(|&m| m != member);
        g.changed = ctx.now;
    });
    Ok(Output::nothing())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{NOW, fail, name, nth, rows, run, tenant};
    use super::*;
    use crate::exchange::params::ResultSize;

    #[test]
    fn get_distribution_group_lists_groups_with_owners() {
        let mut t = tenant();
        let out = run(&mut t, "Get-DistributionGroup", json!({})).unwrap();
        let groups = rows(&t, &out);
        assert_eq!(
            groups.len(),
            t.recipients.iter().filter(|(_, r)| is_group(r)).count()
        );
        assert_eq!(
            groups[0]["RecipientTypeDetails"],
            "MailUniversalDistributionGroup"
        );
        assert_eq!(groups[0]["ManagedBy"].as_array().unwrap().len(), 1);
        let mailbox = name(&t, nth(&t, RecipientKind::UserMailbox, 0));
        assert_eq!(
            run(
                &mut t,
                "Get-DistributionGroup",
                json!({"Identity": mailbox})
            )
            .err()
            .unwrap()
            .status,
            404
        );
        let e = run(
            &mut t,
            "Get-DistributionGroup",
            json!({"Filter": "Colour -eq 'red'"}),
        )
        .err()
        .unwrap();
        assert!(e.text.contains("Filter"));
    }

    #[test]
    fn get_members_skips_removed_recipients() {
        let mut t = tenant();
        let group = nth(&t, RecipientKind::DistributionGroup, 0);
        let group_name = name(&t, group);
        let members = t.recipients.get(group).unwrap().members.clone();
        let out = run(
            &mut t,
            "Get-DistributionGroupMember",
            json!({"Identity": group_name}),
        )
        .unwrap();
        assert_eq!(out.result_size, ResultSize::Limit(1000));
        let rs = rows(&t, &out);
        assert_eq!(rs.len(), members.len());
        assert_eq!(rs[0]["Name"], name(&t, members[0]).as_str());
        t.recipients.remove(members[0]);
        let out = run(
            &mut t,
            "Get-DistributionGroupMember",
            json!({"Identity": group_name, "ResultSize": 1}),
        )
        .unwrap();
        assert_eq!(rows(&t, &out).len(), members.len() - 1);
        assert_eq!(out.result_size, ResultSize::Limit(1));
        assert!(
            run(&mut t, "Get-DistributionGroupMember", json!({}))
                .err()
                .unwrap()
                .text
                .contains("Identity")
        );
        let e = run(
            &mut t,
            "Get-DistributionGroupMember",
            json!({"Identity": "no-such-group"}),
        )
        .err()
        .unwrap();
        assert_eq!(e.status, 404);
    }

    #[test]
    fn add_and_remove_members() {
        let mut t = tenant();
        let group = nth(&t, RecipientKind::DistributionGroup, 0);
        let group_name = name(&t, group);
        let members = t.recipients.get(group).unwrap().members.clone();
        let newcomer = t
            .recipients
            .iter()
            .map(|(id, _)| id)
            .find(|id| !members.contains(id) && *id != group)
            .unwrap();
        let address = t.recipients.get(newcomer).unwrap().primary_smtp.clone();
        let params = json!({"Identity": group_name, "Member": address, "BypassSecurityGroupManagerCheck": true});
        let out = run(&mut t, "Add-DistributionGroupMember", params.clone()).unwrap();
        assert!(rows(&t, &out).is_empty());
        let g = t.recipients.get(group).unwrap();
        assert!(g.members.contains(&newcomer) && g.changed == NOW);
        let e = run(&mut t, "Add-DistributionGroupMember", params.clone())
            .err()
            .unwrap();
        assert!(e.exception.ends_with("MemberAlreadyExistsException"));
        assert_eq!(
            e.text,
            format!(
                "The recipient \"{address}\" is already a member of the group \"{group_name}\"."
            )
        );
        run(&mut t, "Remove-DistributionGroupMember", params.clone()).unwrap();
        assert!(!t.recipients.get(group).unwrap().members.contains(&newcomer));
        let e = run(&mut t, "Remove-DistributionGroupMember", params)
            .err()
            .unwrap();
        assert!(e.exception.ends_with("MemberNotFoundException"));
        assert_eq!(
            e.text,
            format!("The recipient \"{address}\" isn't a member of the group \"{group_name}\".")
        );
    }

    /// The DN of a recipient, as its rows show it.
    fn dn(t: &Tenant, id: u32) -> String {
        t.recipients
            .distinguished_name(t.recipients.get(id).unwrap())
    }

    /// The `Name`s of rows.
    fn names(rows: &[serde_json::Value]) -> Vec<String> {
        rows.iter()
            .map(|r| r["Name"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn the_groups_of_a_member_are_found_by_its_distinguished_name() {
        let mut t = tenant();
        let group = nth(&t, RecipientKind::DistributionGroup, 0);
        let member = t.recipients.get(group).unwrap().members[0];
        let mut expected: Vec<String> = t
            .recipients
            .iter()
            .filter(|(_, r)| r.members.contains(&member))
            .map(|(_, r)| r.name.clone())
            .collect();
        expected.sort();
        let filter = format!("Members -eq '{}'", dn(&t, member));
        for cmdlet in ["Get-DistributionGroup", "Get-Recipient"] {
            let out = run(
                &mut t,
                cmdlet,
                json!({"Filter": filter, "ResultSize": "Unlimited"}),
            );
            let mut found = names(&rows(&t, &out.unwrap()));
            found.sort();
            assert_eq!(found, expected, "{cmdlet}");
        }
        // Any case, and -like, as for other text; a name or an address is not a DN.
        let upper = format!("members -EQ '{}'", dn(&t, member).to_uppercase());
        let out = run(&mut t, "Get-DistributionGroup", json!({"Filter": upper})).unwrap();
        assert_eq!(rows(&t, &out).len(), expected.len());
        let address = t.recipients.get(member).unwrap().primary_smtp.clone();
        for value in [name(&t, member), address] {
            let filter = format!("Members -eq '{value}'");
            let out = run(&mut t, "Get-DistributionGroup", json!({"Filter": filter})).unwrap();
            assert!(rows(&t, &out).is_empty(), "{value}");
        }
        // The member's removal shows at once; every generated group has members, so none is
        // empty (`-eq $null`).
        let params = json!({"Identity": name(&t, group), "Member": dn(&t, member), "BypassSecurityGroupManagerCheck": true, "Confirm": false});
        run(&mut t, "Remove-DistributionGroupMember", params).unwrap();
        let out = run(&mut t, "Get-DistributionGroup", json!({"Filter": filter})).unwrap();
        assert!(!names(&rows(&t, &out)).contains(&name(&t, group)));
        assert_eq!(rows(&t, &out).len(), expected.len() - 1);
        let out = run(
            &mut t,
            "Get-DistributionGroup",
            json!({"Filter": "Members -eq $null"}),
        )
        .unwrap();
        assert!(rows(&t, &out).is_empty());
    }

    #[test]
    fn members_are_added_and_removed_by_distinguished_name() {
        let mut t = tenant();
        let group = nth(&t, RecipientKind::DistributionGroup, 0);
        let outsider = t
            .recipients
            .iter()
            .map(|(id, _)| id)
            .find(|id| *id != group && !t.recipients.get(group).unwrap().members.contains(id))
            .unwrap();
        let params = json!({"Identity": dn(&t, group), "Member": dn(&t, outsider)});
        run(&mut t, "Add-DistributionGroupMember", params.clone()).unwrap();
        assert!(t.recipients.get(group).unwrap().members.contains(&outsider));
        run(&mut t, "Remove-DistributionGroupMember", params.clone()).unwrap();
        assert!(!t.recipients.get(group).unwrap().members.contains(&outsider));
        let e = fail(&mut t, "Remove-DistributionGroupMember", params);
        assert_eq!(e.status, 400);
        assert!(e.exception.ends_with("MemberNotFoundException"));
    }

    #[test]
    fn member_errors() {
        let mut t = tenant();
        let group_name = name(&t, nth(&t, RecipientKind::DistributionGroup, 0));
        let e = run(
            &mut t,
            "Add-DistributionGroupMember",
            json!({"Identity": group_name, "Member": group_name}),
        );
        assert_eq!(e.err().unwrap().status, 404);
        let e = run(
            &mut t,
            "Add-DistributionGroupMember",
            json!({"Identity": group_name, "Member": "ghost"}),
        );
        assert!(e.err().unwrap().text.contains("'ghost'"));
        let e = run(
            &mut t,
            "Add-DistributionGroupMember",
            json!({"Identity": group_name}),
        )
        .err()
        .unwrap();
        assert!(e.text.contains("Member"));
        let e = run(
            &mut t,
            "Remove-DistributionGroupMember",
            json!({"Identity": "nope", "Member": "x"}),
        );
        assert_eq!(e.err().unwrap().status, 404);
    }
}
