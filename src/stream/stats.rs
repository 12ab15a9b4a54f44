//! [`SourceStats`]: what a source read, emitted, failed and skipped; and the thread-local
//! report through which a terminal stage learns about skipped items it never saw.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
}

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

    pub(crate) fn set_cancelled(&self) {
        self.0.cancelled.store(true, Ordering::Relaxed);
    }

    pub(crate) fn set_finished(&self) {
        self.0.finished.store(true, Ordering::Relaxed);
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

/// What sources polled during one poll of a terminal stage reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Report {
    pub(crate) skipped: u64,
    pub(crate) cancelled: bool,
    /// Chunks emitted by chunking sources, and the rows in them.
    pub(crate) chunks: u64,
    pub(crate) chunk_rows: u64,
    /// What the rows are called (the unit of the chunk size), `""` when no chunk came.
    pub(crate) unit: &'static str,
}

thread_local! {
    static REPORT: Cell<Report> = const {
        Cell::new(Report { skipped: 0, cancelled: false, chunks: 0, chunk_rows: 0, unit: "" })
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

/// A source skipped an item (called only on error paths).
pub(crate) fn report_skip() {
    let _ = REPORT.try_with(|r| {
        let mut v = r.get();
        v.skipped = v.skipped.saturating_add(1);
        r.set(v);
    });
}

/// A source stopped because it was cancelled.
pub(crate) fn report_cancelled() {
    let _ = REPORT.try_with(|r| {
        let mut v = r.get();
        v.cancelled = true;
        r.set(v);
    });
}

/// Runs `f` (one poll of a terminal stage) and returns what sources polled inside it
/// reported. Nested scopes see only their own reports.
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
