//! exorun: unattended Exchange Online administration with app-only modern authentication.
//!
//! The host holds the tenant credential and owns the one authenticated transport to Exchange
//! Online; automation scripts run as sandboxed WebAssembly plugins that can only ask the host to
//! run the cmdlets the operator granted. This crate is the library; the `exorun` binary is a thin
//! shell over it. Start with [`Connection`].

/// A kill point, `kill_point!("name")` or `kill_point!("name", only_when)`: in a build with the
/// `failpoints` feature the process kills itself here with SIGKILL when `FAIL_POINTS` says so
/// (see `failpoints`); in any other build it is nothing. For the kill suite, not for library
/// users.
#[cfg(feature = "failpoints")]
#[doc(hidden)]
#[macro_export]
macro_rules! kill_point {
    ($name:literal) => {
        ::fail::fail_point!($name, $crate::failpoints::armed(), |_| {
            $crate::failpoints::kill()
        })
    };
    ($name:literal, $when:expr) => {
        ::fail::fail_point!($name, $crate::failpoints::armed() && $when, |_| {
            $crate::failpoints::kill()
        })
    };
}

/// Without the `failpoints` feature a kill point is nothing (its condition is not evaluated).
#[cfg(not(feature = "failpoints"))]
#[doc(hidden)]
#[macro_export]
macro_rules! kill_point {
    ($name:literal $(, $when:expr)?) => {};
}

pub mod atomic_file;
pub mod audit;
pub mod auth;
pub mod caller;
pub mod caller_token;
pub mod changes;
pub mod config;
pub mod config_cache;
pub mod connection;
pub mod connector;
pub mod digest;
pub mod durable;
pub mod duration;
pub mod exchange;
#[cfg(feature = "failpoints")]
pub mod failpoints;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod group_commit;
pub mod http;
pub mod plugin;
pub mod policy;
pub mod runtime;
pub mod secret;
pub mod signing;
pub mod telemetry;
pub mod text;
pub mod wildcard;
pub mod workflow;
pub mod xdg;

pub use connection::Connection;
pub use connector::Connector;

/// The version of this build, shown by `exorun --version` and recorded in audit records.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
