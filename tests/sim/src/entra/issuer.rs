//! The emulator's security token service: it signs access tokens shaped like Entra's v1 app-only
//! tokens for Exchange (docs/protocol.md §4.4) and checks them when they come back as bearer tokens.

use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::Mutex;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::directory::roles::{APP_ONLY_WID, MANAGE_AS_APP};
use crate::directory::{App, Tenant};
use crate::entra::signing::SigningKeys;
use crate::jwt::{Jwt, b64url};

/// The API a token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// Exchange Online.
    Exchange,
    /// Security & Compliance.
    Compliance,
}

impl Resource {
    /// The `aud` the token carries.
    pub fn audience(self) -> &'static str {
        match self {
            Resource::Exchange => "https://outlook.office365.com",
            Resource::Compliance => "https://ps.compliance.protection.outlook.com",
        }
    }

    /// Finds the resource a scope or resource identifier names.
    pub fn from_identifier(text: &str) -> Option<Resource> {
        let id = text.trim().trim_end_matches('/').to_ascii_lowercase();
        match id.as_str() {
            "https://outlook.office365.com"
            | "https://outlook.office.com"
            | "00000002-0000-0ff1-ce00-000000000000" => Some(Resource::Exchange),
            "https://ps.compliance.protection.outlook.com" => Some(Resource::Compliance),
            _ => None,
        }
    }
}

/// How long issued tokens live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    /// Entra's default: a random 60–90 minutes.
    Default,
    /// A fixed number of seconds (tests use a few).
    Seconds(i64),
}

/// How the client proved itself (`appidacr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// A client secret (`appidacr` 1).
    Secret,
    /// A certificate or managed identity (`appidacr` 2).
    Certificate,
}

/// A verified bearer token's caller.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Tenant id (`tid`).
    pub tenant_id: Uuid,
    /// Client id (`appid`).
    pub app_id: Uuid,
    /// App display name.
    pub app_name: String,
    /// App permissions (`roles`).
    pub roles: Vec<String>,
    /// The token's audience.
    pub resource: Resource,
}

impl Caller {
    /// True if the app has `Exchange.ManageAsApp`.
    pub fn can_manage_as_app(&self) -> bool {
        self.roles.iter().any(|r| r == MANAGE_AS_APP)
    }
}

/// Why a bearer token was refused; the text goes to `x-ms-diagnostics`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// No `Authorization: Bearer` header.
    #[error("The access token is missing.")]
    Missing,
    /// Not a JWT.
    #[error("The token is malformed.")]
    Malformed,
    /// Not signed by this issuer.
    #[error("The token signature is invalid.")]
    BadSignature,
    /// Past `exp`.
    #[error("The token has expired.")]
    Expired,
    /// Issued for another API.
    #[error("The audience claim value is invalid for this resource.")]
    WrongAudience,
    /// Issued for another tenant than the URL names.
    #[error("The tenant in the token does not match the tenant in the request.")]
    WrongTenant,
    /// Revoked through the control endpoint.
    #[error("The token has been revoked.")]
    Revoked,
}

/// Signs and checks access tokens.
pub struct TokenIssuer {
    /// The tenant-wide signing keys (also used for callers' tokens, `entra::callers`).
    pub keys: SigningKeys,
    lifetime: Mutex<Lifetime>,
    revoked_before: AtomicI64,
}

impl TokenIssuer {
    /// A new issuer with a fresh signing certificate.
    pub fn new(lifetime: Lifetime) -> Result<TokenIssuer, openssl::error::ErrorStack> {
        Ok(TokenIssuer {
            keys: SigningKeys::new()?,
            lifetime: Mutex::new(lifetime),
            revoked_before: AtomicI64::new(0),
        })
    }

    /// Changes the lifetime of tokens issued from now on.
    pub fn set_lifetime(&self, lifetime: Lifetime) {
        *self.lifetime.lock() = lifetime;
    }

    /// Invalidates every token issued at or before `now`.
    pub fn revoke_all(&self, now: i64) {
        self.revoked_before.store(now, Ordering::SeqCst);
    }

    /// The JWKS document listing the published signing keys.
    pub fn jwks(&self) -> Value {
        self.keys.jwks()
    }

    fn lifetime_seconds(&self) -> i64 {
        match *self.lifetime.lock() {
            Lifetime::Default => fastrand::i64(3600..=5400),
            Lifetime::Seconds(s) => s,
        }
    }

    /// Issues an access token for `app` in `tenant`; returns it and its lifetime in seconds.
    pub fn issue(
        &self,
        tenant: &Tenant,
        app: &App,
        resource: Resource,
        auth: ClientAuth,
        now: i64,
    ) -> Result<(String, i64), openssl::error::ErrorStack> {
        let lifetime = self.lifetime_seconds();
        let issuer = format!("https://sts.windows.net/{}/", tenant.id);
        let mut wids: Vec<&str> = app.roles.iter().map(|r| r.template_id()).collect();
        wids.push(APP_ONLY_WID);
        let mut claims = json!({
            "aud": resource.audience(),
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "aio": b64url(Uuid::new_v4().as_bytes()),
            "app_displayname": app.display_name,
            "appid": app.client_id.to_string(),
            "appidacr": match auth { ClientAuth::Secret => "1", ClientAuth::Certificate => "2" },
            "idp": issuer,
            "idtyp": "app",
            "oid": app.object_id.to_string(),
            "rh": "0.AAAA-sim.",
            "sub": app.object_id.to_string(),
            "tid": tenant.id.to_string(),
            "uti": b64url(&Uuid::new_v4().as_bytes()[..12]),
            "ver": "1.0",
            "wids": wids,
        });
        if app.exchange_consent {
            claims["roles"] = json!([MANAGE_AS_APP]);
        }
        let key = self.keys.current();
        let header = json!({"typ": "JWT", "alg": "RS256", "x5t": key.kid, "kid": key.kid});
        Ok((key.sign(&header, &claims)?, lifetime))
    }

    /// Checks a bearer token for `resource` and the tenant the URL named.
    pub fn validate(
        &self,
        token: &str,
        resource: Resource,
        tenant: &Tenant,
        now: i64,
    ) -> Result<Caller, BearerError> {
        let jwt = Jwt::parse(token).map_err(|_| BearerError::Malformed)?;
        if jwt.alg() != "RS256" || !self.keys.verify(&jwt) {
            return Err(BearerError::BadSignature);
        }
        let exp = jwt.claim_time("exp").ok_or(BearerError::Malformed)?;
        if now as f64 >= exp {
            return Err(BearerError::Expired);
        }
        if jwt
            .claim_time("iat")
            .is_some_and(|iat| iat <= self.revoked_before.load(Ordering::SeqCst) as f64)
        {
            return Err(BearerError::Revoked);
        }
        if jwt.claim_str("aud").and_then(Resource::from_identifier) != Some(resource) {
            return Err(BearerError::WrongAudience);
        }
        let tid = jwt
            .claim_str("tid")
            .and_then(|t| Uuid::parse_str(t).ok())
            .ok_or(BearerError::Malformed)?;
        if tid != tenant.id {
            return Err(BearerError::WrongTenant);
        }
        let app_id = jwt
            .claim_str("appid")
            .and_then(|a| Uuid::parse_str(a).ok())
            .ok_or(BearerError::Malformed)?;
        let roles = jwt
            .claims
            .get("roles")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Caller {
            tenant_id: tid,
            app_id,
            app_name: jwt
                .claim_str("app_displayname")
                .unwrap_or_default()
                .to_string(),
            roles,
            resource,
        })
    }
}
