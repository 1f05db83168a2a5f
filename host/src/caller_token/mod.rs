//! Callers' Entra ID access tokens, validated offline: a caller of `exorun serve` over HTTPS
//! presents one as `Authorization: Bearer …`; [`TokenValidator::validate`] checks it against
//! the tenant's published signing keys and the operator's [`TokenSettings`], and turns it into
//! the [`Caller`] the policy's caller rules and the audit log see.
//!
//! In order: the header (RS256 only: `none`, HS256 and every other algorithm are refused before
//! any key is looked at), the key the header's `kid` names (keys cached, refetched once on an
//! unknown `kid`, at most once per 30 s), the signature, then the claims — `ver`, `iss`
//! (exactly the configured tenant's issuer for the configured version), `tid`, `aud`, `exp` and
//! `nbf` with the skew — and last who the caller is (`idtyp`, else a delegated token's `scp`).
//! A refusal never holds the token or its signature.

mod claims;
mod jwt;
mod keys;
mod refusal;
mod settings;

use std::fmt;

pub use refusal::{CHALLENGE, Shown, TokenRefusal};
pub use settings::{SettingsError, TokenSettings, TokenVersion};

use crate::caller::Caller;
use keys::{KeyError, SigningKeys, Timing};
use settings::Expected;

/// Validates callers' tokens for one tenant and one API app; share one per service (it holds
/// the cached keys).
pub struct TokenValidator {
    expected: Expected,
    keys: SigningKeys,
}

impl fmt::Debug for TokenValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenValidator")
            .field("tenant", &self.expected.tenant)
            .field("audience", &self.expected.audience)
            .field("version", &self.expected.version)
            .finish_non_exhaustive()
    }
}

impl TokenValidator {
    /// Checks `settings` and prepares the HTTPS client for the keys (nothing is fetched yet:
    /// the keys are fetched when the first token comes).
    pub fn new(settings: &TokenSettings) -> Result<TokenValidator, SettingsError> {
        let expected = settings.expected()?;
        let http = crate::http::client(settings.ca_file.as_deref())?;
        let keys = SigningKeys::new(http, expected.discovery.clone(), Timing::STANDARD);
        Ok(TokenValidator { expected, keys })
    }

    /// The caller `bearer` (the token, without `Bearer `) speaks for, or why it is refused.
    pub async fn validate(&self, bearer: &str) -> Result<Caller, TokenRefusal> {
        let token = jwt::SignedToken::parse(bearer.trim())?;
        let key = self.keys.key(&token.kid).await.map_err(|e| match e {
            KeyError::Unknown { refetch } => TokenRefusal::UnknownKey {
                kid: Shown::new(&token.kid),
                refetch,
            },
            KeyError::Unavailable { url, reason } => TokenRefusal::KeysUnavailable { url, reason },
        })?;
        token.verify(&key)?;
        claims::check(&token.claims, &self.expected, now())?;
        claims::caller(&token.claims, &self.expected)
    }
}

/// Seconds since 1970 on this machine's clock.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
