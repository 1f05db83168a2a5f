//! Get-OrganizationConfig and Get-AcceptedDomain.

use crate::directory::Tenant;
use crate::exchange::error::CmdletError;
use crate::exchange::format::organization_id;
use crate::exchange::params::Params;

use super::{CmdletSpec, Context, DEFAULT_RESULT_SIZE, Output, Run, Surface, object};

/// The cmdlets of this module.
pub const CMDLETS: [CmdletSpec; 2] = [
    CmdletSpec {
        name: "Get-OrganizationConfig",
        surface: Surface::Exchange,
        params: &[],
        run: Run::Read(get_organization_config),
    },
    CmdletSpec {
        name: "Get-AcceptedDomain",
        surface: Surface::Exchange,
        params: &["Identity", "ResultSize"],
        run: Run::Read(get_accepted_domain),
    },
];

fn get_organization_config(
    tenant: &Tenant,
    _: &Params<'_>,
    ctx: &Context,
) -> Result<Output, CmdletError> {
    // The organization is as old as its oldest recipient.
    let created = tenant
        .recipients
        .iter()
        .map(|(_, r)| r.created)
        .min()
        .unwrap_or(ctx.now);
    let domain = &tenant.initial_domain;
    let row = object(|w| {
        w.str("Name", domain)
            .str("DisplayName", &tenant.display_name)
            .str("Identity", domain)
            .str("Id", domain)
            .guid("Guid", tenant.id)
            .str("OrganizationId", &organization_id(domain))
            .bool("IsDehydrated", false)
            .opt_str("DefaultPublicFolderMailbox", None)
            .bool("AuditDisabled", false)
            .bool("OAuth2ClientProfileEnabled", true)
            .bool("SmtpActionableMessagesEnabled", true)
            .date("WhenCreated", Some(created))
            .date("WhenCreatedUTC", Some(created))
            .bool("IsValid", true)
            .str("ObjectState", "Unchanged");
    });
    Ok(Output::rendered(vec![row]))
}

fn get_accepted_domain(
    tenant: &Tenant,
    params: &Params<'_>,
    _: &Context,
) -> Result<Output, CmdletError> {
    let result_size = params.result_size(DEFAULT_RESULT_SIZE)?;
    let identity = params.str("Identity").map(|i| i.trim().to_string());
    // The initial domain is the default only while the tenant has no custom domain.
    let domains = std::iter::once((
        tenant.initial_domain.as_str(),
        true,
        tenant.domains.is_empty(),
    ))
    .chain(
        tenant
            .domains
            .iter()
            .enumerate()
            .map(|(i, d)| (d.as_str(), false, i == 0)),
    );
    let rows: Vec<String> = domains
        .filter(|(name, _, _)| {
            identity
                .as_deref()
                .is_none_or(|i| i.eq_ignore_ascii_case(name))
        })
        .map(|(name, initial, default)| {
            object(|w| {
                w.str("Name", name)
                    .str("Identity", name)
                    .str("Id", name)
                    .str("DomainName", name)
                    .str("DomainType", "Authoritative")
                    .bool("Default", default)
                    .bool("InitialDomain", initial)
                    .bool("MatchSubDomains", false)
                    .bool("IsValid", true)
                    .str("ObjectState", "Unchanged");
            })
        })
        .collect();
    if let Some(identity) = identity.filter(|_| rows.is_empty()) {
        return Err(CmdletError::not_found(&identity));
    }
    let mut out = Output::rendered(rows);
    out.result_size = result_size;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::test_support::{rows, run, tenant};
    use super::*;
    use crate::exchange::params::ResultSize;

    fn domains(t: &mut Tenant, params: Value) -> Vec<Value> {
        let out = run(t, "Get-AcceptedDomain", params).unwrap();
        rows(t, &out)
    }

    #[test]
    fn organization_config_describes_the_tenant() {
        let mut t = tenant();
        let out = run(&mut t, "Get-OrganizationConfig", json!({})).unwrap();
        let row = &rows(&t, &out)[0];
        assert_eq!(row["Name"], "contoso.onmicrosoft.com");
        assert_eq!(row["DisplayName"], "Contoso");
        assert_eq!(row["Guid"], t.id.to_string());
        assert_eq!(row["Guid@odata.type"], "#Guid");
        assert!(
            row["OrganizationId"]
                .as_str()
                .unwrap()
                .contains("contoso.onmicrosoft.com")
        );
        assert!(row["DefaultPublicFolderMailbox"].is_null());
        assert_eq!(
            (
                row["IsDehydrated"].as_bool(),
                row["OAuth2ClientProfileEnabled"].as_bool()
            ),
            (Some(false), Some(true))
        );
        let oldest = t.recipients.iter().map(|(_, r)| r.created).min().unwrap();
        assert_eq!(
            row["WhenCreated"],
            crate::time::exchange_date(oldest).as_str()
        );
        let e = run(&mut t, "Get-OrganizationConfig", json!({"Identity": "x"}))
            .err()
            .unwrap();
        assert!(e.text.contains("'Identity'"));
    }

    #[test]
    fn accepted_domains_initial_first_and_one_default() {
        let mut t = tenant();
        t.domains.push("fabrikam.com".into());
        let rs = domains(&mut t, json!({}));
        let names: Vec<&str> = rs
            .iter()
            .map(|r| r["DomainName"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["contoso.onmicrosoft.com", "contoso.com", "fabrikam.com"]
        );
        let defaults: Vec<bool> = rs.iter().map(|r| r["Default"].as_bool().unwrap()).collect();
        assert_eq!(defaults, [false, true, false]);
        assert_eq!(rs[0]["InitialDomain"], true);
        assert_eq!(rs[1]["InitialDomain"], false);
        assert_eq!(rs[2]["DomainType"], "Authoritative");
        let rs = domains(&mut t, json!({"Identity": "FABRIKAM.com"}));
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0]["Name"], "fabrikam.com");
        let out = run(&mut t, "Get-AcceptedDomain", json!({"ResultSize": 1})).unwrap();
        assert_eq!(out.result_size, ResultSize::Limit(1));
        let e = run(
            &mut t,
            "Get-AcceptedDomain",
            json!({"Identity": "northwind.example"}),
        )
        .err()
        .unwrap();
        assert_eq!(e.status, 404);
        assert!(e.text.contains("'northwind.example'"));
    }

    #[test]
    fn initial_domain_is_default_without_custom_domains() {
        let mut t = tenant();
        t.domains.clear();
        let rs = domains(&mut t, json!({}));
        assert_eq!(rs.len(), 1);
        assert_eq!(
            (rs[0]["Default"].as_bool(), rs[0]["InitialDomain"].as_bool()),
            (Some(true), Some(true))
        );
    }
}
