//! What is worth trying again, how long to wait first, and what to report when the tries run
//! out (docs/protocol.md §2.6, §8.2). Changes are retried only when they certainly did not run.

use std::time::Duration;

use super::error::ExchangeError;
use super::service_message::ServiceMessage;
use super::settings::RetryPolicy;

/// A try that may succeed if made again.
pub enum Failure {
    /// 429, or the concurrency text.
    Throttled {
        /// The `Retry-After` the service asked for.
        retry_after: Option<Duration>,
    },
    /// 502, 503, 504.
    Unavailable {
        /// The status.
        status: u16,
        /// What the body said.
        message: Box<ServiceMessage>,
    },
    /// No usable response.
    Broken {
        /// What went wrong.
        reason: String,
        /// The request may have reached the service.
        sent: bool,
    },
}

impl Failure {
    /// A change is tried again only when it certainly did not run: after a throttle, a 503
    /// (refused at the front door), or a connection that never opened. Otherwise it may have
    /// been applied, and running it twice (New-*, Add-*) would fail or do it twice.
    pub fn may_retry(&self, mutating: bool) -> bool {
        match self {
            Failure::Throttled { .. } => true,
            Failure::Unavailable { status, .. } => !mutating || *status == 503,
            Failure::Broken { sent, .. } => !mutating || !sent,
        }
    }

    /// How long to wait before try number `attempt + 1`: what `Retry-After` asked for, else
    /// the policy's jittered backoff.
    pub fn wait(&self, policy: &RetryPolicy, attempt: u32) -> Duration {
        match self {
            Failure::Throttled {
                retry_after: Some(wait),
            } => RetryPolicy::honour(*wait),
            _ => policy.backoff(attempt),
        }
    }

    /// The error to report when no further try will be made after `attempts` tries.
    pub fn into_error(self, attempts: u32, mutating: bool) -> ExchangeError {
        const MAYBE_APPLIED: &str =
            "; the change may or may not have been applied: check before running it again";
        match self {
            Failure::Throttled { retry_after } => ExchangeError::Throttled {
                attempts,
                retry_after,
            },
            Failure::Unavailable {
                status,
                mut message,
            } => {
                if mutating && status != 503 {
                    message.text.push_str(MAYBE_APPLIED);
                }
                ExchangeError::Service { status, message }
            }
            Failure::Broken { mut reason, sent } => {
                if mutating && sent {
                    reason.push_str(MAYBE_APPLIED);
                }
                ExchangeError::Transport { attempts, reason }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_retried_only_when_they_cannot_have_run() {
        let throttled = Failure::Throttled { retry_after: None };
        let refused = Failure::Unavailable {
            status: 503,
            message: Box::default(),
        };
        let timeout = Failure::Unavailable {
            status: 504,
            message: Box::default(),
        };
        let unopened = Failure::Broken {
            reason: "refused".into(),
            sent: false,
        };
        let cut = Failure::Broken {
            reason: "reset".into(),
            sent: true,
        };
        for f in [&throttled, &refused, &timeout, &unopened, &cut] {
            assert!(f.may_retry(false));
        }
        assert!(throttled.may_retry(true) && refused.may_retry(true) && unopened.may_retry(true));
        assert!(!timeout.may_retry(true) && !cut.may_retry(true));
        let e = cut.into_error(1, true).to_string();
        assert!(e.contains("may or may not have been applied"), "{e}");
    }

    #[test]
    fn throttle_waits_follow_retry_after_else_backoff() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
        };
        let told = Failure::Throttled {
            retry_after: Some(Duration::from_millis(200)),
        };
        assert_eq!(told.wait(&policy, 1), Duration::from_millis(200));
        let untold = Failure::Throttled { retry_after: None };
        assert!(untold.wait(&policy, 5) <= Duration::from_millis(40));
    }
}
