//! exorun: unattended Exchange Online administration with app-only modern authentication.
//!
//! The host holds the tenant credential and owns the one authenticated transport to Exchange
//! Online; automation scripts run as sandboxed WebAssembly plugins that can only ask the host to
//! run the cmdlets the operator granted. This crate is the library; the `exorun` binary is a thin
//! shell over it. Start with [`Connection`].

pub mod audit;
pub mod auth;
pub mod changes;
pub mod config;
pub mod connection;
pub mod durable;
pub mod exchange;
pub mod group_commit;
pub mod http;
pub mod plugin;
pub mod policy;
pub mod runtime;
pub mod secret;
pub mod signing;
pub mod workflow;

pub use connection::Connection;

/// The version of this build, shown by `exorun --version` and recorded in audit records.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
