//! What a client asks before running cmdlets (docs/protocol.md §1.5): `EXOModuleFile`, whose
//! `exportedCmdlets` lists the cmdlets the caller's roles allow, and the `$metadata` document.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::directory::Access;
use crate::entra::issuer::Resource;
use crate::state::SimState;
use crate::time::now;

use super::auth::authenticate;
use super::cmdlets::{self, Surface};

/// `GET /adminapi/v1.0/{tenant}/EXOModuleFile?Version=...`: the cmdlets this app may run.
pub async fn module_file(
    State(sim): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let caller = match authenticate(&sim, &headers, &tenant, Resource::Exchange, now()) {
        Ok(caller) => caller,
        Err(refusal) => return *refusal,
    };
    let access = {
        let directory = sim.directory.read();
        directory
            .tenant(&tenant)
            .and_then(|t| t.apps.iter().find(|a| a.client_id == caller.app_id))
            .map_or(Access::None, |a| a.access(false))
    };
    let exported: Vec<&str> = cmdlets::all()
        .filter(|c| c.surface == Surface::Exchange && c.allowed(access))
        .map(|c| c.name)
        .collect();
    let version = query
        .get("Version")
        .cloned()
        .unwrap_or_else(|| "3.10.0".into());
    Json(json!({
        "@odata.context": format!("{}/adminapi/v1.0/{tenant}/$metadata#EXOModuleFile", sim.base_url),
        "value": [{
            "FileName": "tmpEXO_exorun-sim.psm1",
            "Version": version,
            "exportedCmdlets": exported.join(","),
        }]
    }))
    .into_response()
}

/// `GET /adminapi/beta/{tenant}/$metadata`: the OData CSDL of the InvokeCommand surface.
pub async fn metadata(
    State(sim): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = authenticate(&sim, &headers, &tenant, Resource::Exchange, now()) {
        return *refusal;
    }
    let csdl = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Exchange" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <ComplexType Name="GenericHashTable" OpenType="true"/>
      <ComplexType Name="ByteArrayType"><Property Name="Data" Type="Edm.Binary"/></ComplexType>
      <ComplexType Name="CmdletInput">
        <Property Name="CmdletName" Type="Edm.String" Nullable="false"/>
        <Property Name="Parameters" Type="Exchange.GenericHashTable"/>
      </ComplexType>
      <Action Name="InvokeCommand" IsBound="false">
        <Parameter Name="CmdletInput" Type="Exchange.CmdletInput" Nullable="false"/>
        <ReturnType Type="Collection(Exchange.GenericHashTable)"/>
      </Action>
      <EntityContainer Name="Container">
        <ActionImport Name="InvokeCommand" Action="Exchange.InvokeCommand"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"#;
    (
        StatusCode::OK,
        [
            ("Content-Type", "application/xml;charset=utf-8"),
            ("OData-Version", "4.0"),
        ],
        csdl,
    )
        .into_response()
}
