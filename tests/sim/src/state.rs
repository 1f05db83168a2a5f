//! Everything the request handlers share.

use parking_lot::RwLock;

use crate::control::{Faults, RequestLog};
use crate::directory::Directory;
use crate::entra::callers::CallerDirectory;
use crate::entra::issuer::TokenIssuer;
use crate::exchange::paging::Cursors;
use crate::exchange::throttle::Throttle;

/// The emulator's live state.
pub struct SimState {
    /// Tenants, apps and recipients; mutations persist for the life of the process.
    pub directory: RwLock<Directory>,
    /// Signs and checks access tokens.
    pub issuer: TokenIssuer,
    /// Service API apps and test users, for callers' tokens.
    pub callers: CallerDirectory,
    /// `https://127.0.0.1:<port>`.
    pub base_url: String,
    /// Injected faults.
    pub faults: Faults,
    /// Requests seen.
    pub log: RequestLog,
    /// Rate and concurrency limits.
    pub throttle: Throttle,
    /// Open paging cursors.
    pub cursors: Cursors,
    /// The secret managed-identity callers must send in `X-IDENTITY-HEADER`.
    pub identity_header: String,
    /// Send 403s with the AuthZ text in an OData body instead of the real NUL body.
    pub verbose_authz: std::sync::atomic::AtomicBool,
}
