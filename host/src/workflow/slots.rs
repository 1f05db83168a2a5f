//! A fan-out's `max_parallel`: how many of a step's items may be working at once. An item
//! whose request waits out a retry (a throttling `Retry-After`, a 503's backoff) is not
//! working: it lends its slot to a sibling for the wait and takes one again before it sends.
//! Without that, a 5 % throttle with `Retry-After: 1` leaves every slot asleep a good part of
//! the time. The items alive at once, working or waiting, are bounded as well ([`alive`]),
//! since each holds a plugin instance.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::exchange::RetryWait;

/// Items alive at once per working slot: room for the ones waiting out a throttle.
const ALIVE_PER_SLOT: usize = 4;

/// Items alive at once in a fan-out of `max_parallel`, working or waiting out a retry (at
/// most 256 more than `max_parallel`). The runtime must have as many run slots for the
/// waiting items to free their working slots.
pub fn alive(max_parallel: usize) -> usize {
    let max_parallel = max_parallel.max(1);
    max_parallel
        .saturating_mul(ALIVE_PER_SLOT)
        .min(max_parallel.saturating_add(256))
}

/// The throttling waits of a step so far, for its progress display.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Waits {
    /// Items waiting out a throttle now.
    pub waiting: usize,
    /// Throttled requests so far, those waiting now included.
    pub throttled: u64,
    /// The time those waits add up to.
    pub waited: Duration,
}

/// One step's working slots.
pub struct Slots {
    working: Arc<Semaphore>,
    waiting: AtomicUsize,
    throttled: AtomicU64,
    waited_ms: AtomicU64,
}

impl Slots {
    /// `max_parallel` working slots (at least 1).
    pub fn new(max_parallel: usize) -> Arc<Slots> {
        Arc::new(Slots {
            working: Arc::new(Semaphore::new(max_parallel.max(1))),
            waiting: AtomicUsize::new(0),
            throttled: AtomicU64::new(0),
            waited_ms: AtomicU64::new(0),
        })
    }

    /// A working slot for one item, once one is free.
    pub async fn take(self: &Arc<Slots>) -> ItemSlot {
        let permit = self.permit().await;
        ItemSlot {
            slots: self.clone(),
            permit: Mutex::new(permit),
        }
    }

    /// The throttling waits so far.
    pub fn waits(&self) -> Waits {
        Waits {
            waiting: self.waiting.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            waited: Duration::from_millis(self.waited_ms.load(Ordering::Relaxed)),
        }
    }

    async fn permit(&self) -> Option<OwnedSemaphorePermit> {
        // The semaphore is never closed.
        self.working.clone().acquire_owned().await.ok()
    }
}

/// The working slot one item holds; it hands the slot back while a request of the item waits
/// out a retry, and for good when the item's try is over ([`ItemSlot::release`]).
pub struct ItemSlot {
    slots: Arc<Slots>,
    permit: Mutex<Option<OwnedSemaphorePermit>>,
}

impl ItemSlot {
    /// Gives the slot back (the try is over).
    pub fn release(&self) {
        drop(self.held().take());
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Option<OwnedSemaphorePermit>> {
        self.permit.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn wait(&self, wait: Duration, throttled: bool) {
        let lent = self.held().take().is_some();
        if throttled {
            self.slots.waiting.fetch_add(1, Ordering::Relaxed);
            self.slots.throttled.fetch_add(1, Ordering::Relaxed);
            let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            self.slots.waited_ms.fetch_add(ms, Ordering::Relaxed);
        }
        tokio::time::sleep(wait).await;
        if throttled {
            self.slots.waiting.fetch_sub(1, Ordering::Relaxed);
        }
        if lent {
            let permit = self.slots.permit().await;
            *self.held() = permit;
        }
    }
}

impl RetryWait for ItemSlot {
    fn wait_out(&self, wait: Duration, throttled: bool) -> BoxFuture<'_, ()> {
        Box::pin(self.wait(wait, throttled))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alive_leaves_room_for_waiting_items_within_bounds() {
        assert_eq!(alive(0), 4);
        assert_eq!(alive(1), 4);
        assert_eq!(alive(32), 128);
        assert_eq!(alive(100), 356);
        assert_eq!(alive(usize::MAX), usize::MAX);
    }

    #[tokio::test]
    async fn a_waiting_item_lends_its_slot_and_takes_one_back() {
        let slots = Slots::new(1);
        let first = Arc::new(slots.take().await);
        let waiting = tokio::spawn({
            let first = first.clone();
            async move { first.wait_out(Duration::from_millis(50), true).await }
        });
        tokio::task::yield_now().await;
        assert_eq!(slots.waits().waiting, 1);
        // The sibling gets the slot while the first waits, and gives it back.
        let second = slots.take().await;
        second.release();
        waiting.await.unwrap();
        assert_eq!(
            slots.waits(),
            Waits {
                waiting: 0,
                throttled: 1,
                waited: Duration::from_millis(50)
            }
        );
        assert!(first.held().is_some(), "the first holds a slot again");
        first.release();
        assert_eq!(slots.working.available_permits(), 1);
    }
}
