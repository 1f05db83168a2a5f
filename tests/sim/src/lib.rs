//! exorun-sim: a faithful local Exchange Online + Entra ID emulator.
//!
//! It serves, over real HTTPS on loopback, the Entra ID v2.0 client-credentials token endpoint
//! (certificate assertions and secrets, AADSTS errors), a managed-identity endpoint, and the
//! Exchange Online admin API (`InvokeCommand`) with RBAC, OData paging, throttling and fault
//! injection, over a deterministic generated directory. See `docs/protocol.md` for the wire facts.

pub mod client;
pub mod control;
pub mod control_api;
pub mod directory;
pub mod entra;
pub mod exchange;
pub mod jwt;
pub mod opath;
pub mod pki;
pub mod scenario;
pub mod server;
pub mod setup;
pub mod state;
pub mod testkit;
pub mod time;

pub use server::{ReadyInfo, RunningSim, SimConfig, start};

/// Errors starting or configuring the emulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
    /// The scenario or flags are wrong.
    #[error("{0}")]
    Config(String),
    /// OpenSSL failed while making keys or certificates.
    #[error("certificate or key generation failed: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}
