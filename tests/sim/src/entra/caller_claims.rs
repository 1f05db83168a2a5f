//! The claims of a caller's token, as the Microsoft identity platform's access token claims
//! reference lists them for each version and kind: what every token carries, what a delegated
//! token adds (the user, the client, `scp`), what an app-only token adds (the client app and its
//! service principal), and `groups` or the overage marker.

use serde_json::{Value, json};
use uuid::Uuid;

use super::callers::{GROUPS_LIMIT, ServiceApi, TestUser};
use crate::directory::Tenant;
use crate::jwt::b64url;
use crate::scenario::derived_guid;

impl ServiceApi {
    /// The claims every token for this API carries.
    pub(super) fn common_claims(
        &self,
        tenant: &Tenant,
        resource: &str,
        authority: &str,
        start: i64,
        lifetime: i64,
    ) -> Value {
        let tid = tenant.id.to_string();
        let (aud, iss, ver) = if self.token_version == 1 {
            let asked = resource.trim().trim_end_matches("/.default").to_string();
            let aud = if Uuid::parse_str(&asked).is_ok() {
                self.client_id.to_string()
            } else {
                self.app_id_uri.clone()
            };
            (aud, format!("https://sts.windows.net/{tid}/"), "1.0")
        } else {
            (
                self.client_id.to_string(),
                format!("{}/{tid}/v2.0", authority.trim_end_matches('/')),
                "2.0",
            )
        };
        json!({
            "aud": aud,
            "iss": iss,
            "iat": start,
            "nbf": start,
            "exp": start + lifetime,
            "aio": b64url(Uuid::new_v4().as_bytes()),
            "rh": "0.AAAA-sim.",
            "tid": tid,
            "uti": b64url(&Uuid::new_v4().as_bytes()[..12]),
            "ver": ver,
        })
    }

    /// A delegated token's claims: who signed in, through which client, with which scopes.
    pub(super) fn user_claims(
        &self,
        claims: &mut Value,
        tenant: &Tenant,
        user: &TestUser,
        client: Uuid,
        scopes: &[String],
    ) {
        let c = claims.as_object_mut().expect("claims are an object");
        let pairwise = derived_guid(&[
            "sub",
            &user.object_id.to_string(),
            &self.client_id.to_string(),
        ]);
        c.insert("name".into(), json!(user.display_name));
        c.insert("oid".into(), json!(user.object_id.to_string()));
        c.insert("scp".into(), json!(scopes.join(" ")));
        c.insert("sub".into(), json!(b64url(pairwise.as_bytes())));
        if self.token_version == 1 {
            c.insert("acr".into(), json!("1"));
            c.insert("amr".into(), json!(["pwd", "mfa"]));
            c.insert("appid".into(), json!(client.to_string()));
            c.insert("appidacr".into(), json!("0"));
            c.insert(
                "idp".into(),
                json!(format!("https://sts.windows.net/{}/", tenant.id)),
            );
            c.insert("ipaddr".into(), json!("127.0.0.1"));
            c.insert("unique_name".into(), json!(user.upn));
            c.insert("upn".into(), json!(user.upn));
        } else {
            c.insert("azp".into(), json!(client.to_string()));
            c.insert("azpacr".into(), json!("0"));
            c.insert("preferred_username".into(), json!(user.upn));
        }
        if self.idtyp_claim {
            c.insert("idtyp".into(), json!("user"));
        }
    }

    /// An app-only token's claims: the client app and its service principal, no `scp`.
    pub(super) fn app_claims(
        &self,
        claims: &mut Value,
        client: Uuid,
        service_principal: Uuid,
        acr: &str,
    ) {
        let c = claims.as_object_mut().expect("claims are an object");
        c.insert("oid".into(), json!(service_principal.to_string()));
        c.insert("sub".into(), json!(service_principal.to_string()));
        if self.token_version == 1 {
            c.insert("appid".into(), json!(client.to_string()));
            c.insert("appidacr".into(), json!(acr));
            let iss = c.get("iss").cloned().unwrap_or_default();
            c.insert("idp".into(), iss);
        } else {
            c.insert("azp".into(), json!(client.to_string()));
            c.insert("azpacr".into(), json!(acr));
        }
        if self.idtyp_claim {
            c.insert("idtyp".into(), json!("app"));
        }
    }
}

/// `groups`, or the overage marker when asked for or past [`GROUPS_LIMIT`] groups.
pub(super) fn groups_claims(claims: &mut Value, tenant: &Tenant, user: &TestUser, overage: bool) {
    if overage || user.groups.len() > GROUPS_LIMIT {
        claims["_claim_names"] = json!({"groups": "src1"});
        claims["_claim_sources"] = json!({"src1": {"endpoint": format!(
            "https://graph.windows.net/{}/users/{}/getMemberObjects", tenant.id, user.object_id
        )}});
    } else if !user.groups.is_empty() {
        let ids: Vec<String> = user.groups.iter().map(Uuid::to_string).collect();
        claims["groups"] = json!(ids);
    }
}
