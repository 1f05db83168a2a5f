//! A small generated tenant and helpers the cmdlet tests of every module share.

use serde_json::Value;
use uuid::Uuid;

use crate::directory::generate::{Population, generate};
use crate::directory::recipient::RecipientKind;
use crate::directory::{RecipientStore, Tenant};
use crate::exchange::cmdlets::{Context, Output, Rows, Run, all};
use crate::exchange::error::CmdletError;
use crate::exchange::params::Params;
use crate::exchange::views::render;

/// The clock the tests run at.
pub const NOW: i64 = 1_767_225_600;

/// Contoso: 50 mailboxes and the usual mix around them.
pub fn tenant() -> Tenant {
    let mut recipients = RecipientStore::new("contoso.onmicrosoft.com");
    let population = Population::around_mailboxes(50);
    generate(
        &mut recipients,
        &population,
        7,
        "contoso.com",
        "contoso.onmicrosoft.com",
        NOW,
    );
    Tenant {
        id: Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0),
        display_name: "Contoso".into(),
        initial_domain: "contoso.onmicrosoft.com".into(),
        domains: vec!["contoso.com".into()],
        apps: Vec::new(),
        recipients,
        compliance_searches: Vec::new(),
        compliance_region: "nam".into(),
    }
}

/// Runs a cmdlet by name with JSON parameters, as the server would.
pub fn run(tenant: &mut Tenant, name: &str, params: Value) -> Result<Output, CmdletError> {
    let spec = all().find(|c| c.name == name).expect("cmdlet exists");
    let map = params.as_object().cloned().unwrap_or_default();
    let params = Params::new(spec.name, &map, spec.params)?;
    let ctx = Context {
        now: NOW,
        caller: "exorun-tests".into(),
    };
    match spec.run {
        Run::Read(f) => f(tenant, &params, &ctx),
        Run::Write(f) => f(tenant, &params, &ctx),
    }
}

/// The rows of an output as JSON.
pub fn rows(tenant: &Tenant, output: &Output) -> Vec<Value> {
    match &output.rows {
        Rows::Rendered(rows) => rows
            .iter()
            .map(|r| serde_json::from_str(r).expect("valid JSON"))
            .collect(),
        Rows::Recipients { view, ids, select } => ids
            .iter()
            .map(|&id| {
                let mut buf = Vec::new();
                render(
                    *view,
                    tenant,
                    tenant.recipients.get(id).expect("live id"),
                    select,
                    &mut buf,
                );
                serde_json::from_slice(&buf).expect("valid JSON")
            })
            .collect(),
    }
}

/// Runs a cmdlet that must succeed; returns its rows.
pub fn ok(tenant: &mut Tenant, name: &str, params: Value) -> Vec<Value> {
    let out = run(tenant, name, params)
        .map_err(|e| e.text)
        .expect("cmdlet succeeds");
    rows(tenant, &out)
}

/// Runs a cmdlet that must fail; returns the error.
pub fn fail(tenant: &mut Tenant, name: &str, params: Value) -> CmdletError {
    run(tenant, name, params).err().expect("cmdlet fails")
}

/// The id of the `n`-th recipient of a kind.
pub fn nth(tenant: &Tenant, kind: RecipientKind, n: usize) -> u32 {
    tenant
        .recipients
        .iter()
        .filter(|(_, r)| r.kind == kind)
        .nth(n)
        .expect("enough recipients")
        .0
}

/// The `Name` of a recipient.
pub fn name(tenant: &Tenant, id: u32) -> String {
    tenant.recipients.get(id).expect("live id").name.clone()
}
