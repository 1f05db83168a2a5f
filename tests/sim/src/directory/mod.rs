//! The emulated directory: tenants, their app registrations and their Exchange recipients.

pub mod generate;
pub mod recipient;
pub mod roles;
pub mod store;

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::x509::X509;
use uuid::Uuid;

use crate::time::asn1_to_unix;
pub use recipient::{Recipient, RecipientKind};
pub use roles::{Access, DirectoryRole};
pub use store::{RecipientStore, Resolve};

/// A certificate registered on an app (the public half the admin uploaded).
pub struct RegisteredCert {
    /// SHA-1 of the DER (what `x5t` carries and the portal shows as thumbprint).
    pub sha1: Vec<u8>,
    /// SHA-256 of the DER (what `x5t#S256` carries).
    pub sha256: Vec<u8>,
    /// The key assertions are verified with.
    pub public_key: PKey<Public>,
    /// Start of validity (Unix seconds).
    pub not_before: i64,
    /// End of validity (Unix seconds).
    pub not_after: i64,
}

impl RegisteredCert {
    /// Registers a certificate, reading its thumbprints, key and validity.
    pub fn from_x509(cert: &X509) -> Result<RegisteredCert, openssl::error::ErrorStack> {
        Ok(RegisteredCert {
            sha1: cert.digest(MessageDigest::sha1())?.to_vec(),
            sha256: cert.digest(MessageDigest::sha256())?.to_vec(),
            public_key: cert.public_key()?,
            not_before: asn1_to_unix(cert.not_before()),
            not_after: asn1_to_unix(cert.not_after()),
        })
    }

    /// Upper-case hex SHA-1 thumbprint, as the Azure portal shows it.
    pub fn thumbprint(&self) -> String {
        hex_upper(&self.sha1)
    }
}

/// A client secret registered on an app.
pub struct RegisteredSecret {
    /// The secret value.
    pub value: String,
    /// Expiry (Unix seconds).
    pub expires: i64,
}

/// An app registration (and its service principal) in a tenant.
pub struct App {
    /// Application (client) id.
    pub client_id: Uuid,
    /// Service principal object id (`oid` in tokens).
    pub object_id: Uuid,
    /// The name admins see in the portal.
    pub display_name: String,
    /// Uploaded certificates.
    pub certificates: Vec<RegisteredCert>,
    /// Client secrets.
    pub secrets: Vec<RegisteredSecret>,
    /// Admin consent to `Exchange.ManageAsApp`.
    pub exchange_consent: bool,
    /// Directory roles assigned to the service principal.
    pub roles: Vec<DirectoryRole>,
    /// This identity is a managed identity (tokens come from the identity endpoint).
    pub managed_identity: bool,
}

impl App {
    /// The best access the app's roles give on Exchange (or Security & Compliance).
    pub fn access(&self, compliance: bool) -> Access {
        self.roles
            .iter()
            .map(|r| {
                if compliance {
                    r.compliance_access()
                } else {
                    r.exchange_access()
                }
            })
            .max()
            .unwrap_or(Access::None)
    }
}

/// A compliance search created through Security & Compliance.
#[derive(Clone)]
pub struct ComplianceSearch {
    /// Search name (its identity).
    pub name: String,
    /// KQL query.
    pub query: String,
    /// What the search is for, as its creator wrote it.
    pub description: String,
    /// Mailboxes searched (`All` or addresses).
    pub exchange_location: Vec<String>,
    /// Creation time (Unix seconds).
    pub created: i64,
    /// Object GUID.
    pub guid: Uuid,
}

/// One tenant: its domains, apps and recipients.
pub struct Tenant {
    /// Tenant id.
    pub id: Uuid,
    /// Organization display name.
    pub display_name: String,
    /// The initial `*.onmicrosoft.com` domain.
    pub initial_domain: String,
    /// Further accepted domains (the first is the default for new addresses).
    pub domains: Vec<String>,
    /// App registrations.
    pub apps: Vec<App>,
    /// Exchange recipients.
    pub recipients: RecipientStore,
    /// Security & Compliance searches.
    pub compliance_searches: Vec<ComplianceSearch>,
    /// The Security & Compliance region this tenant's requests are redirected to.
    pub compliance_region: String,
}

impl Tenant {
    /// True if `text` names this tenant (GUID or any accepted domain, any case).
    pub fn answers_to(&self, text: &str) -> bool {
        Uuid::parse_str(text).is_ok_and(|id| id == self.id)
            || self.initial_domain.eq_ignore_ascii_case(text)
            || self.domains.iter().any(|d| d.eq_ignore_ascii_case(text))
    }

    /// The domain new addresses get: the first custom domain, else the initial one.
    pub fn default_domain(&self) -> &str {
        self.domains.first().unwrap_or(&self.initial_domain)
    }

    /// The app with this client id (compared as text, so display names never match).
    pub fn app(&self, client_id: &str) -> Option<&App> {
        let id = Uuid::parse_str(client_id.trim()).ok()?;
        self.apps.iter().find(|a| a.client_id == id)
    }
}

/// Every tenant the emulator serves.
#[derive(Default)]
pub struct Directory {
    /// The tenants.
    pub tenants: Vec<Tenant>,
}

impl Directory {
    /// Finds a tenant by GUID or domain.
    pub fn tenant(&self, text: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.answers_to(text))
    }

    /// Finds a tenant by GUID or domain, for changes.
    pub fn tenant_mut(&mut self, text: &str) -> Option<&mut Tenant> {
        self.tenants.iter_mut().find(|t| t.answers_to(text))
    }
}

/// Upper-case hex of bytes.
pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
