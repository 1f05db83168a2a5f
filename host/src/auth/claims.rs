//! The non-secret claims of an access token, decoded for `connect --test` and `doctor`: who the
//! token is for and what it allows. The token is not verified here (Exchange does that); this
//! only reads what it says.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// What an Exchange access token says about the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenClaims {
    /// `aud`.
    pub audience: String,
    /// `tid`.
    pub tenant_id: String,
    /// `appid` (or `azp` in v2 tokens).
    pub app_id: String,
    /// `app_displayname`.
    pub app_name: String,
    /// App permissions (`roles`), e.g. `Exchange.ManageAsApp`.
    pub roles: Vec<String>,
    /// Directory roles by name (from `wids`); unknown template ids are shown as ids.
    pub directory_roles: Vec<String>,
    /// `exp`.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Directory roles that can run Exchange cmdlets app-only (docs/protocol.md §4.4), by template id.
pub const EXCHANGE_ROLES: [(&str, &str); 8] = [
    (
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
    ),
    (
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Administrator",
    ),
    (
        "31392ffb-586c-42d1-9346-e59415a2cc4e",
        "Exchange Recipient Administrator",
    ),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader"),
    ("5d6b6bb7-de71-4623-b4af-96380a352509", "Security Reader"),
    (
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
    ),
    (
        "17315797-102d-40b4-93e0-432062caca18",
        "Compliance Administrator",
    ),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
    ),
];

/// The `wids` entry every app-only token carries; it is not a directory role.
const APP_ONLY_WID: &str = "0997a1d0-0d1d-4acb-b408-d5ca73121e90";

/// Decodes the claims of a JWT access token; `None` if it is not a JWT (opaque tokens exist).
pub fn decode(token: &str) -> Option<TokenClaims> {
    let payload = token.split('.').nth(1)?;
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?)
            .ok()?;
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let list = |name: &str| -> Vec<String> {
        claims
            .get(name)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let directory_roles = list("wids")
        .into_iter()
        .filter(|w| w != APP_ONLY_WID)
        .map(|w| {
            EXCHANGE_ROLES
                .iter()
                .find(|(id, _)| id.eq_ignore_ascii_case(&w))
                .map_or(w.clone(), |(_, name)| (*name).to_string())
        })
        .collect();
    let app_id = Some(text("appid"))
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| text("azp"));
    Some(TokenClaims {
        audience: text("aud"),
        tenant_id: text("tid"),
        app_id,
        app_name: text("app_displayname"),
        roles: list("roles"),
        directory_roles,
        expires_at: claims
            .get("exp")
            .and_then(Value::as_f64)
            .and_then(|e| DateTime::from_timestamp(e as i64, 0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exchange_claims_and_names_roles() {
        let claims = serde_json::json!({
            "aud": "https://outlook.office365.com", "tid": "t", "appid": "a", "app_displayname": "n",
            "roles": ["Exchange.ManageAsApp"], "wids": ["29232cdf-9323-42fd-ade2-1d097af3e4de", APP_ONLY_WID, "x"],
            "exp": 1_800_000_000,
        });
        let token = format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims.to_string()));
        let c = decode(&token).unwrap();
        assert_eq!(c.roles, ["Exchange.ManageAsApp"]);
        assert_eq!(c.directory_roles, ["Exchange Administrator", "x"]);
        assert_eq!(c.expires_at.unwrap().timestamp(), 1_800_000_000);
        assert!(decode("opaque-token").is_none());
    }
}
