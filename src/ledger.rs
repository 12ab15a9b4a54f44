//! [`Ledger`]: what the sources upstream of a terminal stage report to it (items they
//! skipped, a cancellation), wherever those sources are polled.
//!
//! A terminal stage owns a ledger and makes it *current* on its thread for the length of
//! each of its polls ([`Ledger::scope`]); sources link themselves to the current ledger
//! (see [`stream::stats`](crate::stream::SourceStats)) and push their counts into it from
//! then on. Work a terminal hands to another task (a parallel operator's driver) takes
//! the ledger along with [`Ledger::current`] and makes it current there.
//!
//! It sits at the bottom of the module tree, next to `error`, so that streams, operators
//! and collectors can all use it without depending on each other.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// What the sources upstream of one terminal stage reported: the items they skipped and
/// whether one was cancelled. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ledger(Arc<LedgerCounts>);

/// A source's link to a [`Ledger`]: does not keep it alive once its terminal is gone.
#[derive(Debug, Clone)]
pub(crate) struct WeakLedger(Weak<LedgerCounts>);

#[derive(Debug, Default)]
struct LedgerCounts {
    skipped: AtomicU64,
    cancelled: AtomicBool,
}

thread_local! {
    /// The ledger of the terminal stage polling on this thread, if any.
    static CURRENT: Cell<Option<Ledger>> = const { Cell::new(None) };
}

/// Calls `f` with the current ledger (never while another call holds it).
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Ledger>) -> R) -> R {
    match CURRENT.try_with(Cell::take) {
        Ok(current) => {
            let out = f(current.as_ref());
            let _ = CURRENT.try_with(|c| c.set(current));
            out
        }
        // The thread is exiting: no terminal polls here any more.
        Err(_) => f(None),
    }
}

/// Puts the ledger that was current back when a terminal's poll ends, even by a panic.
struct Restore(Option<Ledger>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        let _ = CURRENT.try_with(|c| c.set(previous));
    }
}

impl Ledger {
    /// Items the linked sources skipped.
    pub(crate) fn skipped(&self) -> u64 {
        self.0.skipped.load(Ordering::Relaxed)
    }

    /// `true` once a linked source stopped because it was cancelled.
    pub(crate) fn cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Relaxed)
    }

    /// The ledger of the terminal polling on this thread, if any: to make it current
    /// again where that terminal's work goes on (a parallel operator's driver task).
    pub(crate) fn current() -> Option<Ledger> {
        with_current(|l| l.cloned())
    }

    /// A link to this ledger that does not keep it alive.
    pub(crate) fn downgrade(&self) -> WeakLedger {
        WeakLedger(Arc::downgrade(&self.0))
    }

    /// Runs `f` (one poll of a terminal stage) with this ledger current on this thread:
    /// sources polled inside link to it. Nested scopes see only their own sources; the
    /// outer ledger is current again afterwards, even if `f` panics.
    #[inline]
    pub(crate) fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let previous = CURRENT.try_with(|c| c.replace(Some(self.clone()))).ok();
        let _restore = previous.map(Restore);
        f()
    }
}

impl WeakLedger {
    /// `true` when this links `ledger`.
    pub(crate) fn is(&self, ledger: &Ledger) -> bool {
        std::ptr::eq(self.0.as_ptr(), Arc::as_ptr(&ledger.0))
    }

    /// `true` while the terminal owning the ledger exists.
    pub(crate) fn is_alive(&self) -> bool {
        self.0.strong_count() > 0
    }

    /// Counts `n` skipped items, if the ledger is still alive.
    pub(crate) fn add_skipped(&self, n: u64) {
        if let Some(l) = self.0.upgrade() {
            l.skipped.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Marks a cancelled source, if the ledger is still alive.
    pub(crate) fn set_cancelled(&self) {
        if let Some(l) = self.0.upgrade() {
            l.cancelled.store(true, Ordering::Relaxed);
        }
    }
}
