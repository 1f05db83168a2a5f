//! What the Exchange client is told: where the service is, which tenant, how big a page, how many
//! requests at once, how to retry. (Whether changes are only rehearsed is a setting of the run,
//! decided by the policy gate, not of the client.)

use std::time::Duration;

/// Exchange Online's public endpoint.
pub const DEFAULT_EXCHANGE_URL: &str = "https://outlook.office365.com";

/// Security & Compliance's global front door (it redirects each tenant to its region).
pub const DEFAULT_COMPLIANCE_URL: &str = "https://ps.compliance.protection.outlook.com";

/// The largest page InvokeCommand serves (`Prefer: odata.maxpagesize`).
pub const MAX_PAGE_SIZE: usize = 1000;

/// The longest `Retry-After` honoured; a longer one is cut to this so a run never hangs on a
/// bogus header. Fifteen minutes is Exchange's own server-side timeout.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// Settings of one [`ExchangeClient`](super::ExchangeClient): one tenant, one credential.
#[derive(Clone, Debug, PartialEq)]
pub struct ExchangeSettings {
    /// Exchange Online base URL (scheme and host; default [`DEFAULT_EXCHANGE_URL`]).
    pub exchange_url: String,
    /// Security & Compliance base URL (default [`DEFAULT_COMPLIANCE_URL`]).
    pub compliance_url: String,
    /// The tenant as the URL names it: its `*.onmicrosoft.com` domain or its GUID; `None`: the
    /// tenant of the first token (its `tid` claim), for ready tokens and managed identities.
    pub organization: Option<String>,
    /// Rows per page, 1 to [`MAX_PAGE_SIZE`] (values outside are clamped).
    pub page_size: usize,
    /// HTTP requests in flight at once for this tenant (at least 1). Exchange refuses more than
    /// a few concurrent requests per tenant; waiting here is cheaper than a 429.
    pub max_concurrency: usize,
    /// How throttled and failed requests are retried.
    pub retry: RetryPolicy,
}

impl ExchangeSettings {
    /// The defaults for `organization`: the public cloud, pages of 1000, four requests at once,
    /// the module's retry policy, changes sent.
    pub fn new(organization: impl Into<String>) -> ExchangeSettings {
        ExchangeSettings {
            organization: Some(organization.into()),
            ..ExchangeSettings::default()
        }
    }
}

impl Default for ExchangeSettings {
    /// The defaults, with the tenant taken from the first token.
    fn default() -> ExchangeSettings {
        ExchangeSettings {
            exchange_url: DEFAULT_EXCHANGE_URL.into(),
            compliance_url: DEFAULT_COMPLIANCE_URL.into(),
            organization: None,
            page_size: MAX_PAGE_SIZE,
            max_concurrency: 4,
            retry: RetryPolicy::default(),
        }
    }
}

/// When and how often a request is tried again. The defaults are the Exchange module's: six
/// tries, waits growing from 2 s by powers of two (docs/protocol.md §2.6), capped at a minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The first backoff's ceiling; it doubles with every retry.
    pub base_delay: Duration,
    /// No backoff is longer than this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the wait after failed try number `attempt` (1-based):
    /// `base_delay * 2^(attempt-1)`, at most `max_delay`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The wait after failed try number `attempt`, with full jitter: uniformly random between
    /// zero and [`RetryPolicy::ceiling`], so many clients throttled together do not retry together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.ceiling(attempt).mul_f64(fastrand::f64())
    }

    /// The wait a `Retry-After` asks for, within [`MAX_RETRY_AFTER`].
    pub fn honour(retry_after: Duration) -> Duration {
        retry_after.min(MAX_RETRY_AFTER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_modules() {
        let s = ExchangeSettings::new("contoso.onmicrosoft.com");
        assert_eq!(s.organization.as_deref(), Some("contoso.onmicrosoft.com"));
        assert_eq!(ExchangeSettings::default().organization, None);
        assert_eq!(s.exchange_url, "https://outlook.office365.com");
        assert_eq!(
            s.compliance_url,
            "https://ps.compliance.protection.outlook.com"
        );
        assert_eq!((s.page_size, s.max_concurrency), (1000, 4));
        assert_eq!(s.retry.max_attempts, 6);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default();
        let secs: Vec<u64> = (1..=7).map(|a| p.ceiling(a).as_secs()).collect();
        assert_eq!(secs, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(p.ceiling(0), Duration::from_secs(2));
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(60));
        let huge = RetryPolicy {
            base_delay: Duration::from_secs(u64::MAX / 2),
            ..p
        };
        assert_eq!(huge.ceiling(3), Duration::from_secs(60), "no overflow");
    }

    #[test]
    fn jitter_stays_under_the_ceiling() {
        let p = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(250),
        };
        for attempt in 1..5 {
            for _ in 0..200 {
                assert!(p.backoff(attempt) <= p.ceiling(attempt));
            }
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| p.backoff(2)).collect();
        assert!(spread.len() > 10, "full jitter spreads the waits");
    }

    #[test]
    fn retry_after_is_honoured_within_reason() {
        assert_eq!(
            RetryPolicy::honour(Duration::from_millis(200)),
            Duration::from_millis(200)
        );
        assert_eq!(
            RetryPolicy::honour(Duration::from_secs(86_400)),
            MAX_RETRY_AFTER
        );
    }
}
