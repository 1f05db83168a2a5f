//! Counts of what a connection did, for a long-running process's metrics (`exorun serve`'s
//! `/metrics`): requests to Exchange by cmdlet and outcome, waits for throttling, tokens asked
//! of the credential. Counts only: no identity, parameter or secret is kept. A connection
//! counts into the [`Telemetry`] it was opened with ([`crate::Connection::open_observed`]);
//! one handle can be shared by all of a process's connections.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The counters.
#[derive(Debug, Default)]
pub struct Telemetry {
    requests: Mutex<BTreeMap<(String, &'static str), u64>>,
    throttle_waits: AtomicU64,
    throttle_wait_ms: AtomicU64,
    tokens: Mutex<BTreeMap<&'static str, u64>>,
}

/// The counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Requests to Exchange (one per page asked for, after its retries), by cmdlet and
    /// outcome (`ok`, `throttled`, `service-error`, `not-found`, `unauthorized`, …).
    pub requests: BTreeMap<(String, &'static str), u64>,
    /// Waits for throttling (HTTP 429) before a request was tried again.
    pub throttle_waits: u64,
    /// The time those waits took, in milliseconds.
    pub throttle_wait_ms: u64,
    /// Tokens asked of the credential, by outcome (`ok`, `failed`).
    pub tokens: BTreeMap<&'static str, u64>,
}

impl Telemetry {
    /// Counts a request for `cmdlet` that ended with `outcome`.
    pub fn request(&self, cmdlet: &str, outcome: &'static str) {
        let mut requests = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *requests.entry((cmdlet.to_string(), outcome)).or_default() += 1;
    }

    /// Counts a wait of `wait` for throttling.
    pub fn throttle_wait(&self, wait: Duration) {
        self.throttle_waits.fetch_add(1, Ordering::Relaxed);
        self.throttle_wait_ms.fetch_add(
            u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Counts a token asked of the credential.
    pub fn token(&self, acquired: bool) {
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *tokens
            .entry(if acquired { "ok" } else { "failed" })
            .or_default() += 1;
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            requests: self
                .requests
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            throttle_waits: self.throttle_waits.load(Ordering::Relaxed),
            throttle_wait_ms: self.throttle_wait_ms.load(Ordering::Relaxed),
            tokens: self
                .tokens
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_by_cmdlet_and_outcome() {
        let telemetry = Telemetry::default();
        telemetry.request("Get-Mailbox", "ok");
        telemetry.request("Get-Mailbox", "ok");
        telemetry.request("Set-Mailbox", "throttled");
        telemetry.throttle_wait(Duration::from_millis(1500));
        telemetry.token(true);
        telemetry.token(false);
        let now = telemetry.snapshot();
        assert_eq!(now.requests[&("Get-Mailbox".to_string(), "ok")], 2);
        assert_eq!(now.requests[&("Set-Mailbox".to_string(), "throttled")], 1);
        assert_eq!((now.throttle_waits, now.throttle_wait_ms), (1, 1500));
        assert_eq!((now.tokens["ok"], now.tokens["failed"]), (1, 1));
    }
}
