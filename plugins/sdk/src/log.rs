//! Messages for the run's log, tagged by the host with the plugin's name.
//!
//! The functions take a message; the crate's macros ([`info!`](crate::info) and friends) take
//! `format!` arguments.

use crate::bindings::exorun::plugin::log as wit;

/// Severity of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Step-by-step detail.
    Trace,
    /// Detail for whoever debugs the plugin.
    Debug,
    /// Normal progress worth keeping.
    Info,
    /// Something the operator should look at; the run goes on.
    Warn,
    /// Something failed.
    Error,
}

impl From<Level> for wit::Level {
    fn from(level: Level) -> Self {
        match level {
            Level::Trace => wit::Level::Trace,
            Level::Debug => wit::Level::Debug,
            Level::Info => wit::Level::Info,
            Level::Warn => wit::Level::Warn,
            Level::Error => wit::Level::Error,
        }
    }
}

/// Writes `message` at `level`.
pub fn log(level: Level, message: &str) {
    wit::log(level.into(), message);
}

/// Writes `message` at trace level.
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Writes `message` at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Writes `message` at info level.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Writes `message` at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Writes `message` at error level.
pub fn error(message: &str) {
    log(Level::Error, message);
}

/// Logs at trace level with `format!` arguments: `trace!("page {n}")`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Trace, &::std::format!($($arg)+)) };
}

/// Logs at debug level with `format!` arguments: `debug!("{} rows", rows.len())`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Debug, &::std::format!($($arg)+)) };
}

/// Logs at info level with `format!` arguments: `info!("{count} mailboxes")`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Info, &::std::format!($($arg)+)) };
}

/// Logs at warn level with `format!` arguments: `warn!("{identity}: {e}")`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Warn, &::std::format!($($arg)+)) };
}

/// Logs at error level with `format!` arguments: `error!("{identity}: {e}")`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Error, &::std::format!($($arg)+)) };
}
