//! Exchange's throttling (docs/protocol.md §2.6): a token bucket per app, reported in the
//! `Rate-Limit-*` headers, and a cap on concurrent requests per tenant.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Throttling settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleSettings {
    /// Bucket size: requests an app may make in a burst (`Rate-Limit-Limit`).
    pub burst: f64,
    /// Requests per second the bucket refills.
    pub per_second: f64,
    /// Concurrent InvokeCommand requests per tenant before the concurrency 429.
    pub tenant_concurrency: usize,
}

impl Default for ThrottleSettings {
    fn default() -> ThrottleSettings {
        ThrottleSettings {
            burst: 30_000.0,
            per_second: 100.0,
            tenant_concurrency: 32,
        }
    }
}

/// The state of one app's bucket after a request, for the headers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    /// `Rate-Limit-Limit`.
    pub limit: u64,
    /// `Rate-Limit-Remaining`.
    pub remaining: u64,
    /// Seconds until the bucket is full again (`Rate-Limit-Reset`).
    pub reset_in: f64,
}

/// A refused request: retry after this many seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Throttled {
    /// Seconds until one request's worth has refilled.
    pub retry_after: f64,
    /// The budget after refusing.
    pub budget: Budget,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets per app and in-flight counters per tenant.
pub struct Throttle {
    settings: Mutex<ThrottleSettings>,
    buckets: Mutex<HashMap<Uuid, Bucket>>,
    in_flight: Mutex<HashMap<Uuid, Arc<AtomicUsize>>>,
}

/// Holds one concurrency slot of a tenant until dropped.
pub struct Slot {
    counter: Arc<AtomicUsize>,
    /// Requests in flight for the tenant including this one (`X-Concurrencycount`).
    pub count: usize,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Throttle {
    /// Starts with `settings`.
    pub fn new(settings: ThrottleSettings) -> Throttle {
        Throttle {
            settings: Mutex::new(settings),
            buckets: Mutex::default(),
            in_flight: Mutex::default(),
        }
    }

    /// The current settings.
    pub fn settings(&self) -> ThrottleSettings {
        self.settings.lock().clone()
    }

    /// Replaces the settings; buckets refill to the new size.
    pub fn set(&self, settings: ThrottleSettings) {
        *self.settings.lock() = settings;
        self.buckets.lock().clear();
    }

    /// Takes one request from `app`'s bucket.
    pub fn take(&self, app: Uuid) -> Result<Budget, Throttled> {
        let s = self.settings();
        let mut buckets = self.buckets.lock();
        let now = Instant::now();
        let bucket = buckets.entry(app).or_insert(Bucket {
            tokens: s.burst,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * s.per_second).min(s.burst);
        bucket.updated = now;
        let budget = |tokens: f64| Budget {
            limit: s.burst as u64,
            remaining: tokens.max(0.0) as u64,
            reset_in: if s.per_second > 0.0 {
                (s.burst - tokens) / s.per_second
            } else {
                0.0
            },
        };
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(budget(bucket.tokens))
        } else {
            let retry_after = if s.per_second > 0.0 {
                (1.0 - bucket.tokens) / s.per_second
            } else {
                60.0
            };
            Err(Throttled {
                retry_after,
                budget: budget(bucket.tokens),
            })
        }
    }

    /// Enters a tenant's concurrency limit, or `None` if it is full.
    pub fn enter(&self, tenant: Uuid) -> Option<Slot> {
        let limit = self.settings.lock().tenant_concurrency;
        let counter = self.in_flight.lock().entry(tenant).or_default().clone();
        let count = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let slot = Slot { counter, count };
        (count <= limit).then_some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_then_refuses_with_retry_after() {
        let t = Throttle::new(ThrottleSettings {
            burst: 2.0,
            per_second: 0.5,
            tenant_concurrency: 1,
        });
        let app = Uuid::new_v4();
        assert_eq!(t.take(app).unwrap().remaining, 1);
        assert_eq!(t.take(app).unwrap().remaining, 0);
        let refused = t.take(app).unwrap_err();
        assert!(
            refused.retry_after > 1.9 && refused.retry_after <= 2.0,
            "{refused:?}"
        );
        assert!(t.take(Uuid::new_v4()).is_ok(), "buckets are per app");
    }

    #[test]
    fn concurrency_slots_are_released_on_drop() {
        let t = Throttle::new(ThrottleSettings {
            tenant_concurrency: 1,
            ..ThrottleSettings::default()
        });
        let tenant = Uuid::new_v4();
        let first = t.enter(tenant).unwrap();
        assert!(t.enter(tenant).is_none());
        drop(first);
        assert!(t.enter(tenant).is_some());
    }
}
