//! [`Signal`]: how acknowledgements, rebalances and dead-letter deliveries call the source
//! back to its poll (to commit, resume a partition, report an error) without blocking.

use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;

use futures::task::AtomicWaker;

/// A flag plus the source task's waker.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    waker: AtomicWaker,
    attention: AtomicBool,
    stop: AtomicBool,
}

impl Signal {
    /// Asks the source to look at its shared state on its next poll, and wakes it.
    pub(crate) fn raise(&self) {
        self.attention.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// `true` (once) when something was raised since the last call.
    #[inline]
    pub(crate) fn take(&self) -> bool {
        self.attention.load(Ordering::Relaxed) && self.attention.swap(false, Ordering::Acquire)
    }

    /// Registers the task to wake.
    pub(crate) fn register(&self, waker: &Waker) {
        self.waker.register(waker);
    }

    /// Asks the source to end.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.raise();
    }

    /// `true` once [`stop`](Self::stop) was called.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}
