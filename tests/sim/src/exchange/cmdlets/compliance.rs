//! Security & Compliance: Get-ComplianceSearch and New-ComplianceSearch.

use uuid::Uuid;

use crate::directory::{ComplianceSearch, Tenant};
use crate::exchange::error::CmdletError;
use crate::exchange::params::Params;

use super::{CmdletSpec, Context, DEFAULT_RESULT_SIZE, Output, Run, Surface, object};

/// The cmdlets of this module.
pub const CMDLETS: [CmdletSpec; 2] = [
    CmdletSpec {
        name: "Get-ComplianceSearch",
        surface: Surface::Compliance,
        params: &["Identity", "ResultSize"],
        run: Run::Read(get_compliance_search),
    },
    CmdletSpec {
        name: "New-ComplianceSearch",
        surface: Surface::Compliance,
        params: &[
            "Name",
            "ExchangeLocation",
            "ContentMatchQuery",
            "Description",
            "Confirm",
            "Force",
            "AllowNotFoundExchangeLocationsEnabled",
        ],
        run: Run::Write(new_compliance_search),
    },
];

/// One search as Get-ComplianceSearch shows it. Searches are never started here, so the job
/// fields stay empty; `CreatedBy` is the calling app.
fn search_row(search: &ComplianceSearch, caller: &str) -> String {
    let none: [&str; 0] = [];
    object(|w| {
        w.str("Name", &search.name)
            .str("Identity", &search.name)
            .guid("Guid", search.guid)
            .str("ContentMatchQuery", &search.query)
            .str("Description", &search.description)
            .list(
                "ExchangeLocation",
                search.exchange_location.iter().map(String::as_str),
            )
            .list("ExchangeLocationExclusion", none)
            .list("SharePointLocation", none)
            .list("PublicFolderLocation", none)
            .str("Status", "NotStarted")
            .str("CreatedBy", caller)
            .date("CreatedTime", Some(search.created))
            .str("LastModifiedBy", caller)
            .date("LastModifiedTime", Some(search.created))
            .str("RunBy", "")
            .date("JobStartTime", None)
            .date("JobEndTime", None)
            .int("Items", 0)
            .int("Size", 0)
            .bool("IsValid", true)
            .str("ObjectState", "Unchanged");
    })
}

fn get_compliance_search(
    tenant: &Tenant,
    params: &Params<'_>,
    ctx: &Context,
) -> Result<Output, CmdletError> {
    let result_size = params.result_size(DEFAULT_RESULT_SIZE)?;
    let identity = params.str("Identity").map(|i| i.trim().to_string());
    let matches = |s: &&ComplianceSearch| {
        identity.as_deref().is_none_or(|i| {
            s.name.eq_ignore_ascii_case(i) || Uuid::parse_str(i).is_ok_and(|g| g == s.guid)
        })
    };
    let rows: Vec<String> = tenant
        .compliance_searches
        .iter()
        .filter(matches)
        .map(|s| search_row(s, &ctx.caller))
        .collect();
    if let Some(identity) = identity.filter(|_| rows.is_empty()) {
        return Err(CmdletError::not_found(&identity));
    }
    let mut out = Output::rendered(rows);
    out.result_size = result_size;
    Ok(out)
}

fn new_compliance_search(
    tenant: &mut Tenant,
    params: &Params<'_>,
    ctx: &Context,
) -> Result<Output, CmdletError> {
    let name = params.required("Name")?.trim().to_string();
    params.bool("AllowNotFoundExchangeLocationsEnabled")?;
    params.switch("Force")?;
    if tenant
        .compliance_searches
        .iter()
        .any(|s| s.name.eq_ignore_ascii_case(&name))
    {
        return Err(CmdletError::task(
            "",
            "Microsoft.Office.ComplianceJob.Tasks.ComplianceJobAlreadyExistsException",
            format!("A compliance search with the name \"{name}\" already exists."),
        ));
    }
    let search = ComplianceSearch {
        name,
        query: params.str("ContentMatchQuery").unwrap_or_default(),
        description: params.str("Description").unwrap_or_default(),
        exchange_location: params.strings("ExchangeLocation").unwrap_or_default(),
        created: ctx.now,
        guid: Uuid::new_v4(),
    };
    let row = search_row(&search, &ctx.caller);
    tenant.compliance_searches.push(search);
    Ok(Output::rendered(vec![row]))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{NOW, rows, run, tenant};
    use super::*;
    use crate::exchange::cmdlets::find;
    use crate::exchange::params::ResultSize;

    #[test]
    fn served_by_security_and_compliance_only() {
        for c in CMDLETS {
            assert!(find(c.name, Surface::Compliance).is_some());
            assert!(find(c.name, Surface::Exchange).is_none());
        }
    }

    #[test]
    fn new_then_get() {
        let mut t = tenant();
        let params = json!({"Name": "Case 1", "ExchangeLocation": ["All"], "ContentMatchQuery": "subject:\"Invoice\"",
            "Description": "d", "Confirm": false});
        let out = run(&mut t, "New-ComplianceSearch", params).unwrap();
        let row = &rows(&t, &out)[0];
        assert_eq!(row["Name"], "Case 1");
        assert_eq!(row["Status"], "NotStarted");
        assert_eq!(row["ExchangeLocation"], json!(["All"]));
        assert_eq!(row["CreatedBy"], "exorun-tests");
        assert_eq!(row["CreatedTime"], crate::time::exchange_date(NOW).as_str());
        assert!(row["JobStartTime"].is_null() && row["JobEndTime"].is_null());
        assert_eq!(
            (row["Items"].as_i64(), row["Size"].as_i64()),
            (Some(0), Some(0))
        );
        run(
            &mut t,
            "New-ComplianceSearch",
            json!({"Name": "Case 2", "ExchangeLocation": "a@contoso.com, b@contoso.com"}),
        )
        .unwrap();
        let out = run(&mut t, "Get-ComplianceSearch", json!({})).unwrap();
        assert_eq!(out.result_size, ResultSize::Limit(1000));
        let rs = rows(&t, &out);
        assert_eq!(rs.len(), 2);
        assert_eq!(
            (&rs[0]["Description"], &rs[1]["Description"]),
            (&json!("d"), &json!(""))
        );
        assert_eq!(
            rs[1]["ExchangeLocation"],
            json!(["a@contoso.com", "b@contoso.com"])
        );
        assert_eq!(rs[1]["ContentMatchQuery"], "");
        let out = run(
            &mut t,
            "Get-ComplianceSearch",
            json!({"Identity": "case 1"}),
        )
        .unwrap();
        assert_eq!(
            rows(&t, &out)[0]["ContentMatchQuery"],
            "subject:\"Invoice\""
        );
        let guid = t.compliance_searches[1].guid.to_string();
        let out = run(&mut t, "Get-ComplianceSearch", json!({"Identity": guid})).unwrap();
        assert_eq!(rows(&t, &out)[0]["Name"], "Case 2");
    }

    #[test]
    fn errors() {
        let mut t = tenant();
        run(&mut t, "New-ComplianceSearch", json!({"Name": "Dup"})).unwrap();
        let e = run(&mut t, "New-ComplianceSearch", json!({"Name": "dup"}))
            .err()
            .unwrap();
        assert_eq!(
            e.text,
            "A compliance search with the name \"dup\" already exists."
        );
        assert_eq!(e.status, 400);
        let e = run(
            &mut t,
            "New-ComplianceSearch",
            json!({"ExchangeLocation": "All"}),
        )
        .err()
        .unwrap();
        assert!(e.text.contains("missing mandatory parameters: Name"));
        let e = run(&mut t, "Get-ComplianceSearch", json!({"Identity": "Nope"}))
            .err()
            .unwrap();
        assert_eq!(e.status, 404);
        assert_eq!(t.compliance_searches.len(), 1);
    }
}
