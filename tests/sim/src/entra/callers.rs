//! Callers' access tokens for a *service API app*: the tokens a real tenant gives people and
//! daemons who call an API registered in it (exorun serve), as the Microsoft identity platform's
//! access token claims reference describes them.
//!
//! Tests register the API app (client id, app ID URI, `accessTokenAcceptedVersion`, app roles,
//! delegated scopes) and test users (UPN, object id, groups), then mint a token as a client
//! would get it: delegated (a user signed in to a client app) or app-only (client credentials).
//! The version is the API app's, never the request's: v1.0 tokens carry
//! `iss=https://sts.windows.net/{tid}/`, the audience the client asked for (client id or app ID
//! URI), `appid`/`appidacr`, `upn`/`unique_name` and a header with `x5t` and `kid`; v2.0 tokens
//! carry `iss={authority}/{tid}/v2.0`, `aud` = the client id, `azp`/`azpacr`,
//! `preferred_username` and a header with `kid` only.

use std::collections::HashMap;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::directory::Tenant;
use crate::entra::signing::SigningKeys;
use crate::scenario::derived_guid;

use super::caller_claims::groups_claims;

/// The Azure CLI's client id: the public client a user token comes from unless the request
/// names another (`az account get-access-token` is how admins get one).
pub const AZURE_CLI: Uuid = Uuid::from_u128(0x04b07795_8ddb_461a_bbee_02f9e1bf7b46);

/// Entra's limit on object ids in a JWT's `groups` claim; past it the token carries the overage
/// marker instead.
pub const GROUPS_LIMIT: usize = 200;

/// A service API app to register (`POST /_sim/entra/apis`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceApiSpec {
    /// Tenant GUID or domain (default: the first tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Display name.
    pub name: String,
    /// Application (client) id (default: derived from the tenant and the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Uuid>,
    /// Application ID URI (default: `api://{client id}`, as the portal proposes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id_uri: Option<String>,
    /// `accessTokenAcceptedVersion`: 1 or 2.
    pub token_version: u8,
    /// App roles defined on the app (`value`s).
    #[serde(default)]
    pub app_roles: Vec<String>,
    /// Delegated scopes the app exposes (default: `access_as_user`).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The `idtyp` optional claim is configured: tokens say `user` or `app`.
    #[serde(default)]
    pub idtyp_claim: bool,
}

fn default_scopes() -> Vec<String> {
    vec!["access_as_user".into()]
}

/// A registered service API app.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceApi {
    /// Display name.
    pub name: String,
    /// Application (client) id.
    pub client_id: Uuid,
    /// Application ID URI.
    pub app_id_uri: String,
    /// `accessTokenAcceptedVersion`: 1 or 2.
    pub token_version: u8,
    /// App roles defined on the app.
    pub app_roles: Vec<String>,
    /// Delegated scopes.
    pub scopes: Vec<String>,
    /// Tokens carry `idtyp`.
    pub idtyp_claim: bool,
}

/// A test user to register (`POST /_sim/entra/users`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestUserSpec {
    /// Tenant GUID or domain (default: the first tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// User principal name.
    pub upn: String,
    /// Object id (default: derived from the tenant and the UPN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<Uuid>,
    /// Display name (default: the UPN's local part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Object ids of the groups the user is a member of.
    #[serde(default)]
    pub groups: Vec<Uuid>,
}

/// A registered test user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestUser {
    /// User principal name.
    pub upn: String,
    /// Object id (`oid`).
    pub object_id: Uuid,
    /// Display name (`name`).
    pub display_name: String,
    /// Group object ids.
    pub groups: Vec<Uuid>,
}

/// Which key signs a minted token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigningChoice {
    /// The tenant's current published key.
    #[default]
    Current,
    /// A key no JWKS lists.
    Unpublished,
}

/// A token to mint (`POST /_sim/entra/caller-tokens`): what a client asked Entra for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerTokenRequest {
    /// Tenant GUID or domain (default: the first tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The API as the client named it: its client id or its app ID URI (a v1.0 token's `aud`
    /// is exactly this; a v2.0 token's is always the client id).
    pub resource: String,
    /// A registered user's UPN: a delegated token. Without it, an app-only token for `app`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The client app: for an app-only token a registered app of the tenant (required); for a
    /// delegated token any client id (default: the Azure CLI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<Uuid>,
    /// Delegated scopes granted (default: every scope the API exposes); ignored for app-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// App roles assigned to the user or app (each must be defined on the API).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Lifetime in seconds (default: Entra's 60–90 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_secs: Option<i64>,
    /// The token is valid from now plus this many seconds (`nbf` = `iat`); negative for a
    /// token issued in the past.
    #[serde(default)]
    pub starts_in_secs: i64,
    /// Send the groups overage marker instead of `groups` (also sent past 200 groups).
    #[serde(default)]
    pub groups_overage: bool,
    /// The key that signs it.
    #[serde(default)]
    pub signing_key: SigningChoice,
}

/// A minted token, shaped like the token endpoint's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallerToken {
    /// Always `Bearer`.
    pub token_type: String,
    /// The access token.
    pub access_token: String,
    /// Seconds until `exp`, from now.
    pub expires_in: i64,
    /// The `kid` that signed it.
    pub kid: String,
}

/// Why a registration or a token request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallerError {
    /// No such tenant.
    #[error("no tenant '{0}' in this emulator")]
    UnknownTenant(String),
    /// `token_version` is neither 1 nor 2.
    #[error("token_version must be 1 or 2, not {0}")]
    BadVersion(u8),
    /// No service API app answers to the resource.
    #[error(
        "no service API app with client id or app ID URI '{0}' is registered in this tenant (POST /_sim/entra/apis first)"
    )]
    UnknownApi(String),
    /// No such test user.
    #[error("no test user '{0}' is registered in this tenant (POST /_sim/entra/users first)")]
    UnknownUser(String),
    /// An app-only token needs a registered client app.
    #[error(
        "an app-only token needs 'app': the client id of an app registered in the tenant ({0})"
    )]
    UnknownApp(String),
    /// A role the API does not define.
    #[error("the API '{api}' defines no app role '{role}'")]
    UnknownRole {
        /// The API's name.
        api: String,
        /// The role asked for.
        role: String,
    },
    /// A scope the API does not expose.
    #[error("the API '{api}' exposes no scope '{scope}'")]
    UnknownScope {
        /// The API's name.
        api: String,
        /// The scope asked for.
        scope: String,
    },
    /// A lifetime of zero or less.
    #[error("lifetime_secs must be positive")]
    BadLifetime,
    /// OpenSSL failed to sign.
    #[error("signing the token failed: {0}")]
    Signing(String),
}

/// The service API apps and test users of every tenant.
#[derive(Default)]
pub struct CallerDirectory {
    tenants: RwLock<HashMap<Uuid, TenantCallers>>,
}

#[derive(Default)]
struct TenantCallers {
    apis: Vec<ServiceApi>,
    users: Vec<TestUser>,
}

impl CallerDirectory {
    /// Registers (or replaces, by client id) a service API app in `tenant`.
    pub fn register_api(
        &self,
        tenant: &Tenant,
        spec: &ServiceApiSpec,
    ) -> Result<ServiceApi, CallerError> {
        if !matches!(spec.token_version, 1 | 2) {
            return Err(CallerError::BadVersion(spec.token_version));
        }
        let client_id = spec
            .client_id
            .unwrap_or_else(|| derived_guid(&["api", &tenant.id.to_string(), &spec.name]));
        let api = ServiceApi {
            name: spec.name.clone(),
            client_id,
            app_id_uri: spec
                .app_id_uri
                .clone()
                .unwrap_or_else(|| format!("api://{client_id}")),
            token_version: spec.token_version,
            app_roles: spec.app_roles.clone(),
            scopes: spec.scopes.clone(),
            idtyp_claim: spec.idtyp_claim,
        };
        let mut tenants = self.tenants.write();
        let apis = &mut tenants.entry(tenant.id).or_default().apis;
        apis.retain(|a| a.client_id != client_id);
        apis.push(api.clone());
        Ok(api)
    }

    /// Registers (or replaces, by UPN) a test user in `tenant`.
    pub fn register_user(&self, tenant: &Tenant, spec: &TestUserSpec) -> TestUser {
        let user = TestUser {
            upn: spec.upn.clone(),
            object_id: spec.object_id.unwrap_or_else(|| {
                derived_guid(&["user", &tenant.id.to_string(), &spec.upn.to_lowercase()])
            }),
            display_name: spec
                .display_name
                .clone()
                .unwrap_or_else(|| spec.upn.split('@').next().unwrap_or(&spec.upn).to_string()),
            groups: spec.groups.clone(),
        };
        let mut tenants = self.tenants.write();
        let users = &mut tenants.entry(tenant.id).or_default().users;
        users.retain(|u| !u.upn.eq_ignore_ascii_case(&user.upn));
        users.push(user.clone());
        user
    }

    /// Mints the token `request` asks for, signed with one of `keys`. `authority` is the
    /// emulator's base URL (the v2.0 issuer's host).
    pub fn mint(
        &self,
        tenant: &Tenant,
        request: &CallerTokenRequest,
        keys: &SigningKeys,
        authority: &str,
        now: i64,
    ) -> Result<CallerToken, CallerError> {
        let tenants = self.tenants.read();
        let callers = tenants.get(&tenant.id);
        let api = callers
            .and_then(|c| c.apis.iter().find(|a| a.answers_to(&request.resource)))
            .ok_or_else(|| CallerError::UnknownApi(request.resource.clone()))?;
        for role in &request.roles {
            if !api.app_roles.contains(role) {
                return Err(CallerError::UnknownRole {
                    api: api.name.clone(),
                    role: role.clone(),
                });
            }
        }
        let lifetime = match request.lifetime_secs {
            Some(s) if s <= 0 => return Err(CallerError::BadLifetime),
            Some(s) => s,
            None => fastrand::i64(3600..=5400),
        };
        let start = now + request.starts_in_secs;
        let mut claims = api.common_claims(tenant, &request.resource, authority, start, lifetime);
        match &request.user {
            Some(upn) => {
                let user = callers
                    .and_then(|c| c.users.iter().find(|u| u.upn.eq_ignore_ascii_case(upn)))
                    .ok_or_else(|| CallerError::UnknownUser(upn.clone()))?;
                let scopes = request.scopes.clone().unwrap_or_else(|| api.scopes.clone());
                if let Some(scope) = scopes.iter().find(|s| !api.scopes.contains(s)) {
                    return Err(CallerError::UnknownScope {
                        api: api.name.clone(),
                        scope: scope.clone(),
                    });
                }
                let client = request.app.unwrap_or(AZURE_CLI);
                api.user_claims(&mut claims, tenant, user, client, &scopes);
                groups_claims(&mut claims, tenant, user, request.groups_overage);
            }
            None => {
                let app = request
                    .app
                    .and_then(|id| tenant.app(&id.to_string()))
                    .ok_or_else(|| {
                        CallerError::UnknownApp(
                            request.app.map(|a| a.to_string()).unwrap_or_default(),
                        )
                    })?;
                let acr = if app.certificates.is_empty() {
                    "1"
                } else {
                    "2"
                };
                api.app_claims(&mut claims, app.client_id, app.object_id, acr);
            }
        }
        if !request.roles.is_empty() {
            claims["roles"] = json!(request.roles);
        }
        let key = match request.signing_key {
            SigningChoice::Current => keys.current(),
            SigningChoice::Unpublished => keys
                .unpublished()
                .map_err(|e| CallerError::Signing(e.to_string()))?,
        };
        let header = if api.token_version == 1 {
            json!({"typ": "JWT", "alg": "RS256", "x5t": key.kid, "kid": key.kid})
        } else {
            json!({"typ": "JWT", "alg": "RS256", "kid": key.kid})
        };
        let access_token = key
            .sign(&header, &claims)
            .map_err(|e| CallerError::Signing(e.to_string()))?;
        Ok(CallerToken {
            token_type: "Bearer".into(),
            access_token,
            expires_in: start + lifetime - now,
            kid: key.kid.clone(),
        })
    }
}

impl ServiceApi {
    /// True when a client naming the API as `resource` gets a token for it: its client id or
    /// its app ID URI, with or without a `/.default` or trailing slash.
    pub fn answers_to(&self, resource: &str) -> bool {
        let r = resource
            .trim()
            .trim_end_matches("/.default")
            .trim_end_matches('/');
        Uuid::parse_str(r).is_ok_and(|id| id == self.client_id)
            || r.eq_ignore_ascii_case(self.app_id_uri.trim_end_matches('/'))
    }
}
