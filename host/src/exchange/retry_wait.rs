//! What a caller does while one of its requests waits to be tried again (a throttling
//! `Retry-After`, or the backoff after a 503 or a broken connection). By default the request
//! just sleeps; a workflow's fan-out lends the waiting item's `max_parallel` slot to a sibling
//! for the wait and counts it for the progress display, so a throttled item does not hold up
//! work that could go on meanwhile.

use std::time::Duration;

use futures::future::BoxFuture;

/// Waits out a retry on behalf of the caller (see the module doc).
pub trait RetryWait: Send + Sync {
    /// Resolves once `wait` has passed (and the caller may send again); `throttled` says the
    /// service asked for the wait (429), not the client's own backoff.
    fn wait_out(&self, wait: Duration, throttled: bool) -> BoxFuture<'_, ()>;
}
