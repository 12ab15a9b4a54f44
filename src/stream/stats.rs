//! [`SourceStats`]: what a source read, emitted, failed and skipped; and the [`Ledger`]
//! through which a terminal stage learns about skipped items it never saw.
//!
//! # How counts travel with the stream
//!
//! A terminal stage (a collector, `await_final_event`, a sink) owns a [`Ledger`] and makes
//! it *current* on its thread while it polls. A source links its [`SourceStats`] to the
//! current ledger (once) the first time it is polled inside such a poll, and again on its
//! rare paths (a skip, a cancellation, its end). From then on every skip and the
//! cancellation are *pushed* into each linked ledger by the source itself, wherever it is
//! polled: the terminal's own poll, a parallel operator's driver task, a blocking pool
//! thread. Counts no longer depend on which thread polls last.
//!
//! A source first polled outside any terminal (a task the user spawned to read it, behind
//! a channel) cannot find a ledger that way: its first event then carries a link to its
//! stats, and whoever takes that event inside a terminal's poll links it: the
//! [`receiver`](crate::collect::ReceiverExt::receiver) stage when it takes the event, or
//! the event's rare parts when they are dropped there (`into_data()` in a `map` before a
//! collector, or in the `f` of `par_map_blocking`, which runs with its terminal's ledger
//! current). Counts of a source whose events never reach a terminal's poll (all items
//! skipped, or events kept as they are in a collected `Vec`) stay in its [`SourceStats`].

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::ledger::{Ledger, WeakLedger};

/// Live counters of one emitting task, readable from any thread through a clone.
///
/// The emitting stream keeps its counts in plain integers and publishes them with
/// relaxed stores (a plain move on common CPUs), so the handle costs nothing per item.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use sweet_async::prelude::*;
/// use sweet_async::stream::{ErrorPolicy, source};
///
/// # futures::executor::block_on(async {
/// let input = vec![Ok(1), Err("bad"), Ok(3)];
/// let stream = AsyncTask::emits::<i32>()
///     .on_error(ErrorPolicy::Skip)
///     .sender(futures::stream::iter(input));
/// let stats = stream.stats();
/// let events: Vec<_> = stream.collect().await;
/// assert_eq!(events.len(), 2);
/// assert_eq!((stats.emitted(), stats.errors(), stats.skipped()), (2, 1, 1));
/// assert!(stats.is_finished());
/// # });
/// ```
#[derive(Clone, Default)]
pub struct SourceStats(Arc<Counters>);

#[derive(Default)]
struct Counters {
    emitted: AtomicU64,
    errors: AtomicU64,
    skipped: AtomicU64,
    bytes_read: AtomicU64,
    cancelled: AtomicBool,
    finished: AtomicBool,
    /// At least one terminal was linked (set once, read without the lock).
    linked: AtomicBool,
    /// The ledgers of the terminals this source reports to (at most [`MAX_LINKS`]). The
    /// lock is taken only on rare paths: linking, a skip, a cancellation.
    links: Mutex<Vec<WeakLedger>>,
}

/// The most terminals one source reports to; past it (dead ones are pruned first), a new
/// terminal is not linked and finds the counts in [`SourceStats`] only.
const MAX_LINKS: usize = 16;

impl SourceStats {
    /// Items the stream yielded as events (`Ok`).
    pub fn emitted(&self) -> u64 {
        self.0.emitted.load(Ordering::Relaxed)
    }

    /// Items that failed (yielded as `Err` or skipped).
    pub fn errors(&self) -> u64 {
        self.0.errors.load(Ordering::Relaxed)
    }

    /// Failed items the [`Skip`](crate::stream::ErrorPolicy::Skip) policy dropped.
    pub fn skipped(&self) -> u64 {
        self.0.skipped.load(Ordering::Relaxed)
    }

    /// Bytes read from the source's files.
    pub fn bytes_read(&self) -> u64 {
        self.0.bytes_read.load(Ordering::Relaxed)
    }

    /// `true` once the stream stopped because its cancellation token fired.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Relaxed)
    }

    /// `true` once the stream has ended.
    pub fn is_finished(&self) -> bool {
        self.0.finished.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn publish(&self, emitted: u64, errors: u64, skipped: u64) {
        self.0.emitted.store(emitted, Ordering::Relaxed);
        self.0.errors.store(errors, Ordering::Relaxed);
        self.0.skipped.store(skipped, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn publish_emitted(&self, emitted: u64) {
        self.0.emitted.store(emitted, Ordering::Relaxed);
    }

    pub(crate) fn add_bytes(&self, bytes: u64) {
        self.0.bytes_read.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A failed item was skipped: publishes the counts (`skipped` one more than before)
    /// and pushes the skip to every linked ledger, under the links lock so that a ledger
    /// linked at the same time counts it exactly once.
    #[cold]
    pub(crate) fn skip(&self, emitted: u64, errors: u64, skipped: u64) {
        let links = self.links();
        self.publish(emitted, errors, skipped);
        for ledger in links.iter() {
            ledger.add_skipped(1);
        }
    }

    /// The source stopped because it was cancelled: marks it and every linked ledger.
    #[cold]
    pub(crate) fn set_cancelled(&self) {
        let links = self.links();
        self.0.cancelled.store(true, Ordering::Relaxed);
        for ledger in links.iter() {
            ledger.set_cancelled();
        }
    }

    pub(crate) fn set_finished(&self) {
        self.0.finished.store(true, Ordering::Release);
    }

    fn links(&self) -> std::sync::MutexGuard<'_, Vec<WeakLedger>> {
        // Held for a few pushes and loads, never across user code: poisoning is moot.
        self.0.links.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `true` once a terminal's ledger was linked.
    pub(crate) fn is_linked(&self) -> bool {
        self.0.linked.load(Ordering::Relaxed)
    }

    /// Links this source to the ledger of the terminal polling on this thread, if any.
    /// `true` when it is linked to it (now or before).
    #[cold]
    pub(crate) fn link_current(&self) -> bool {
        crate::ledger::with_current(|ledger| ledger.is_some_and(|l| self.link(l)))
    }

    /// Links this source to `ledger`: what it skipped so far is added to the ledger now,
    /// later skips are pushed as they happen. `false` when [`MAX_LINKS`] live ledgers
    /// are linked already.
    pub(crate) fn link(&self, ledger: &Ledger) -> bool {
        let mut links = self.links();
        if links.iter().any(|w| w.is(ledger)) {
            return true;
        }
        if links.len() >= MAX_LINKS {
            links.retain(WeakLedger::is_alive);
            if links.len() >= MAX_LINKS {
                return false;
            }
        }
        let weak = ledger.downgrade();
        weak.add_skipped(self.skipped());
        if self.is_cancelled() {
            weak.set_cancelled();
        }
        links.push(weak);
        self.0.linked.store(true, Ordering::Relaxed);
        true
    }
}

impl fmt::Debug for SourceStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceStats")
            .field("emitted", &self.emitted())
            .field("errors", &self.errors())
            .field("skipped", &self.skipped())
            .field("bytes_read", &self.bytes_read())
            .field("cancelled", &self.is_cancelled())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// What chunking sources polled during one poll of a terminal stage reported (skips and
/// cancellation travel through the terminal's [`Ledger`] instead).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Report {
    /// Chunks emitted by chunking sources, and the rows in them.
    pub(crate) chunks: u64,
    pub(crate) chunk_rows: u64,
    /// What the rows are called (the unit of the chunk size), `""` when no chunk came.
    pub(crate) unit: &'static str,
}

thread_local! {
    static REPORT: Cell<Report> = const {
        Cell::new(Report { chunks: 0, chunk_rows: 0, unit: "" })
    };
}

/// A chunking source emitted a chunk of `rows` rows (once per chunk, not per row).
pub(crate) fn report_chunk(rows: usize, unit: &'static str) {
    let _ = REPORT.try_with(|r| {
        let mut v = r.get();
        v.chunks = v.chunks.saturating_add(1);
        v.chunk_rows = v.chunk_rows.saturating_add(rows as u64);
        v.unit = unit;
        r.set(v);
    });
}

/// Runs `f` (one poll of a terminal stage) and returns what chunking sources polled inside
/// it reported. Nested scopes see only their own reports.
#[inline]
pub(crate) fn scope<R>(f: impl FnOnce() -> R) -> (R, Report) {
    let saved = REPORT.try_with(|r| r.replace(Report::default())).ok();
    let out = f();
    let mine = match saved {
        Some(saved) => REPORT.try_with(|r| r.replace(saved)).unwrap_or_default(),
        None => Report::default(),
    };
    (out, mine)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Ledger;

    #[test]
    fn a_linked_source_pushes_its_skips_from_any_thread() {
        let ledger = Ledger::default();
        let stats = SourceStats::default();
        stats.skip(0, 1, 1);
        assert!(ledger.scope(|| stats.link_current()));
        assert_eq!(ledger.skipped(), 1);
        // Linking twice counts nothing twice.
        assert!(stats.link(&ledger));
        let elsewhere = stats.clone();
        std::thread::spawn(move || {
            elsewhere.skip(0, 2, 2);
            elsewhere.set_cancelled();
        })
        .join()
        .unwrap();
        assert_eq!((ledger.skipped(), ledger.cancelled()), (2, true));
        // Outside a scope there is nothing to link to.
        assert!(!SourceStats::default().link_current());
    }

    #[test]
    fn links_are_bounded() {
        let stats = SourceStats::default();
        let ledgers: Vec<Ledger> = (0..MAX_LINKS).map(|_| Ledger::default()).collect();
        assert!(ledgers.iter().all(|l| stats.link(l)));
        assert!(!stats.link(&Ledger::default()));
        drop(ledgers);
        // Dead ledgers make room.
        assert!(stats.link(&Ledger::default()));
    }
}
