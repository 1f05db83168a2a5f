//! App-only authentication to Exchange Online: where the credential comes from, how it becomes
//! an access token, and how tokens are cached and refreshed.
//!
//! Every credential source implements [`TokenSource`]; the [`provider::TokenProvider`] in front
//! of it caches tokens per resource, refreshes them ahead of expiry, and lets only one refresh
//! run at a time.

pub mod cert;
pub mod claims;
pub mod entra;
pub mod identity;
pub mod provider;
pub mod sources;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use crate::secret::Secret;

/// The API a token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// Exchange Online (`outlook.office365.com`).
    Exchange,
    /// Security & Compliance (`ps.compliance.protection.outlook.com`).
    Compliance,
}

impl Resource {
    /// The resource identifier (token audience).
    pub fn identifier(self) -> &'static str {
        match self {
            Resource::Exchange => "https://outlook.office365.com",
            Resource::Compliance => "https://ps.compliance.protection.outlook.com",
        }
    }

    /// The client-credentials scope.
    pub fn scope(self) -> String {
        format!("{}/.default", self.identifier())
    }
}

/// An access token and when it stops working.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The bearer token.
    pub secret: Secret,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// When the issuer asked us to refresh (`refresh_in`), if it did.
    pub refresh_at: Option<DateTime<Utc>>,
}

/// A source of access tokens: an app credential, a ready token, a command, a managed identity.
pub trait TokenSource: Send + Sync {
    /// Gets a fresh token for `resource` (no caching here: the provider caches).
    fn acquire(&self, resource: Resource) -> BoxFuture<'_, Result<AccessToken, AuthError>>;

    /// What this source is, for messages and `doctor` (never includes a secret).
    fn describe(&self) -> String;
}

/// Why no token could be had. Every message says what failed, why, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The AppId is not a GUID.
    #[error("{0}")]
    BadAppId(String),
    /// The organization is neither a domain nor a GUID.
    #[error("{0}")]
    BadOrganization(String),
    /// The certificate could not be used.
    #[error(transparent)]
    Certificate(#[from] cert::CertError),
    /// A password or secret could not be read.
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    /// Entra ID refused the request (an AADSTS error), with the fix.
    #[error("Entra ID refused the token request: AADSTS{code}: {summary}\n  fix: {hint}")]
    Entra {
        /// AADSTS number.
        code: u32,
        /// What Entra said, first sentence.
        summary: String,
        /// What to do.
        hint: String,
    },
    /// The token service could not be reached or answered nonsense.
    #[error("cannot get a token from {endpoint}: {reason}")]
    Transport {
        /// The endpoint (no query, no secrets).
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// A ready-made token (env, file, command) could not be had or is unusable.
    #[error("{0}")]
    ReadyToken(String),
    /// No organization was configured and the token does not say its tenant either.
    #[error(
        "no organization, and the access token from {source_name} does not name its tenant (it has no tid claim)\n  fix: pass --organization contoso.onmicrosoft.com (or the tenant ID), set AZURE_TENANT_ID, or put organization in the profile"
    )]
    NoTenant {
        /// Where the token came from (never the token).
        source_name: String,
    },
    /// The audit log could not be written, so nothing more is done: a token that cannot be
    /// recorded is not used, and no request is sent unaudited.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}
