//! The work queue's acknowledgement tracker: which delivery belongs to which open batch,
//! how each ended, and the [`QueueHandle`] that reads the counts.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::task::AtomicWaker;
use tokio::sync::Notify;

use super::error::PgError;
use crate::ack::{AckSink, Outcome};

/// How one delivered row ended.
#[derive(Debug, Clone)]
pub(crate) enum Settled {
    Acked,
    Rejected(Arc<str>),
    Released,
}

/// The rows of one open batch (one transaction holding their locks) and their outcomes.
pub(crate) struct Batch {
    len: usize,
    slots: Mutex<Slots>,
    settled: Notify,
    // The delivery number of the first row, once the source has taken the rows.
    first: AtomicU64,
}

struct Slots {
    outcomes: Vec<Option<Settled>>,
    unsettled: usize,
    // Closed when the batch's transaction is being settled: later outcomes are late.
    closed: bool,
}

const UNREGISTERED: u64 = u64::MAX;

impl Batch {
    pub(crate) fn new(len: usize) -> Self {
        Batch {
            len,
            slots: Mutex::new(Slots {
                outcomes: vec![None; len],
                unsettled: len,
                closed: false,
            }),
            settled: Notify::new(),
            first: AtomicU64::new(UNREGISTERED),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        // A poisoned lock only means another thread panicked while holding it; the
        // outcomes it holds are still valid.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Settles rows `range` (indexes into the batch) that are not settled yet; returns how
    /// many were still open (`0` when the batch is closed: they are late).
    pub(crate) fn settle(&self, range: Range<usize>, outcome: &Settled) -> usize {
        let mut slots = self.slots();
        if slots.closed {
            return 0;
        }
        let mut n = 0usize;
        let end = range.end.min(self.len);
        for slot in slots.outcomes.iter_mut().take(end).skip(range.start) {
            if slot.is_none() {
                *slot = Some(outcome.clone());
                n = n.saturating_add(1);
            }
        }
        slots.unsettled = slots.unsettled.saturating_sub(n);
        if slots.unsettled == 0 {
            self.settled.notify_one();
        }
        n
    }

    /// Waits until every row is settled.
    pub(crate) async fn wait(&self) {
        loop {
            if self.slots().unsettled == 0 {
                return;
            }
            // `notify_one` leaves a permit when nobody waits, so a settlement between the
            // check and this await is not missed.
            self.settled.notified().await;
        }
    }

    /// Closes the batch and takes its outcomes (`None`: not settled in time).
    pub(crate) fn close(&self) -> Vec<Option<Settled>> {
        let mut slots = self.slots();
        slots.closed = true;
        std::mem::take(&mut slots.outcomes)
    }

    /// The first delivery number, when the source took the rows.
    pub(crate) fn first(&self) -> Option<u64> {
        let first = self.first.load(Ordering::Acquire);
        (first != UNREGISTERED).then_some(first)
    }
}

/// Live counts of a work queue source, shared by its handle, its stream and its batches.
#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    rows: AtomicU64,
    acked: AtomicU64,
    rejected: AtomicU64,
    parked: AtomicU64,
    released: AtomicU64,
    expired: AtomicU64,
    late: AtomicU64,
    failed_batches: AtomicU64,
}

/// The acknowledgement sink of a work queue source.
pub(crate) struct Tracker {
    pub(crate) table: Arc<str>,
    // Open batches by their first delivery number.
    batches: Mutex<BTreeMap<u64, Arc<Batch>>>,
    // Batch tasks that have not ended.
    open: AtomicUsize,
    // The source stream, waiting for a batch to end.
    waker: AtomicWaker,
    // `settled()` callers, waiting for every batch to end.
    idle: Notify,
    counters: Counters,
    error: Mutex<Option<PgError>>,
}

impl Tracker {
    pub(crate) fn new(table: Arc<str>) -> Self {
        Tracker {
            table,
            batches: Mutex::new(BTreeMap::new()),
            open: AtomicUsize::new(0),
            waker: AtomicWaker::new(),
            idle: Notify::new(),
            counters: Counters::default(),
            error: Mutex::new(None),
        }
    }

    fn batches(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<Batch>>> {
        self.batches.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The source took `batch`'s rows as deliveries `first..first + len`.
    pub(crate) fn register(&self, first: u64, batch: &Arc<Batch>) {
        batch.first.store(first, Ordering::Release);
        self.batches().insert(first, batch.clone());
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        add(&self.counters.rows, batch.len);
    }

    /// The batch is being settled: outcomes for it from now on are late.
    pub(crate) fn unregister(&self, batch: &Batch) {
        if let Some(first) = batch.first() {
            self.batches().remove(&first);
        }
    }

    /// Open batch tasks.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    pub(crate) fn batch_started(&self) {
        self.open.fetch_add(1, Ordering::AcqRel);
    }

    /// A batch task ended: wake the source (a batch slot is free) and `settled()` callers.
    pub(crate) fn batch_ended(&self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        self.waker.wake();
        self.idle.notify_waiters();
    }

    /// Registers the source's waker, to be woken when a batch ends.
    pub(crate) fn wait_for_slot(&self, waker: &std::task::Waker) {
        self.waker.register(waker);
    }

    /// Counts what a committed batch came to.
    pub(crate) fn committed(&self, acked: usize, rejected: usize, parked: u64, released: usize) {
        add(&self.counters.acked, acked);
        add(&self.counters.rejected, rejected);
        self.counters.parked.fetch_add(parked, Ordering::Relaxed);
        add(&self.counters.released, released);
    }

    /// Counts rows not settled within the acknowledgement wait.
    pub(crate) fn expired(&self, n: usize) {
        add(&self.counters.expired, n);
    }

    /// A batch could not be settled: its rows are back in the queue.
    pub(crate) fn failed(&self, error: PgError) {
        self.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(table = %self.table, %error, "work queue batch rolled back");
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(error);
    }

    fn settle_ids(&self, range: Range<u64>, outcome: &Settled) {
        let mut at = range.start;
        let mut late = 0u64;
        while at < range.end {
            let found = {
                let batches = self.batches();
                match batches.range(..=at).next_back() {
                    Some((&first, b)) if at < first.saturating_add(b.len as u64) => {
                        Some((first, b.clone()))
                    }
                    _ => {
                        // Not in an open batch: skip to the next one that may hold the
                        // rest of the range.
                        let next = batches
                            .range(at..)
                            .next()
                            .map_or(range.end, |(&f, _)| f.min(range.end));
                        late = late.saturating_add(next.saturating_sub(at));
                        at = next;
                        None
                    }
                }
            };
            let Some((first, batch)) = found else {
                continue;
            };
            let end = range.end.min(first.saturating_add(batch.len as u64));
            let lo = usize::try_from(at.saturating_sub(first)).unwrap_or(usize::MAX);
            let hi = usize::try_from(end.saturating_sub(first)).unwrap_or(usize::MAX);
            let settled = batch.settle(lo..hi, outcome);
            late = late.saturating_add(end.saturating_sub(at).saturating_sub(settled as u64));
            at = end;
        }
        if late > 0 {
            self.counters.late.fetch_add(late, Ordering::Relaxed);
        }
    }

    pub(crate) fn stats(&self) -> QueueStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        QueueStats {
            batches: get(&c.batches),
            rows: get(&c.rows),
            acked: get(&c.acked),
            rejected: get(&c.rejected),
            parked: get(&c.parked),
            released: get(&c.released),
            expired: get(&c.expired),
            late: get(&c.late),
            failed_batches: get(&c.failed_batches),
            open_batches: self.open() as u64,
        }
    }
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

impl AckSink for Tracker {
    fn settle(&self, _partition: u32, range: Range<u64>, outcome: Outcome<'_>) {
        let settled = match outcome {
            Outcome::Acked => Settled::Acked,
            Outcome::Rejected(reason) => Settled::Rejected(reason.to_string().into()),
            _ => Settled::Released,
        };
        self.settle_ids(range, &settled);
    }
}

/// What a work queue source did so far: rows taken, how they ended, batches committed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStats {
    /// Batches taken (each a transaction holding its rows' locks).
    pub batches: u64,
    /// Rows taken.
    pub rows: u64,
    /// Rows acknowledged, deleted or marked done by a committed batch.
    pub acked: u64,
    /// Rows rejected by a committed batch (attempts counted, error recorded, as
    /// configured); they are back in the queue unless parked.
    pub rejected: u64,
    /// Rejected rows that reached the maximum of attempts and were parked.
    pub parked: u64,
    /// Rows released unsettled (the pipeline dropped them): back in the queue as they
    /// were.
    pub released: u64,
    /// Rows not settled within the acknowledgement wait: back in the queue as they were.
    pub expired: u64,
    /// Settlements that came after their batch was closed (expired), or for unknown
    /// deliveries; ignored.
    pub late: u64,
    /// Batches whose settlement failed and rolled back: their rows are back in the queue.
    pub failed_batches: u64,
    /// Batches still open (their transactions not yet committed).
    pub open_batches: u64,
}

impl fmt::Display for QueueStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rows in {} batches: {} acked, {} rejected ({} parked), {} released, {} expired; {} failed batches",
            self.rows,
            self.batches,
            self.acked,
            self.rejected,
            self.parked,
            self.released,
            self.expired,
            self.failed_batches
        )
    }
}

/// A handle on a work queue source: its counts, and [`settled`](QueueHandle::settled) to
/// wait until its batches are committed.
///
/// A batch commits when every row in it was settled; that happens in the batch's own
/// task, after the pipeline acknowledged the last row, possibly after the pipeline's
/// future returned. Await `settled()` before the process exits so the last
/// acknowledgements reach the table (if it exits first, those rows come back: at least
/// once).
#[derive(Clone)]
pub struct QueueHandle {
    pub(crate) tracker: Arc<Tracker>,
}

impl QueueHandle {
    /// The counts so far.
    pub fn stats(&self) -> QueueStats {
        self.tracker.stats()
    }

    /// Waits until no batch is open (every batch taken so far committed or rolled
    /// back), then returns the counts.
    ///
    /// # Errors
    ///
    /// The first batch whose settlement failed ([`PgError::Commit`]), once; its rows are
    /// back in the queue.
    pub async fn settled(&self) -> Result<QueueStats, PgError> {
        loop {
            let idle = self.tracker.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.tracker.open() == 0 {
                break;
            }
            idle.await;
        }
        let error = self
            .tracker
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match error {
            Some(e) => Err(e),
            None => Ok(self.stats()),
        }
    }
}

impl fmt::Debug for QueueHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueHandle")
            .field("table", &self.tracker.table)
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_spanning_batches_settle_each_and_unknown_ids_are_late() {
        let tracker = Tracker::new("jobs".into());
        let a = Arc::new(Batch::new(3));
        let b = Arc::new(Batch::new(2));
        tracker.register(10, &a);
        tracker.register(13, &b);
        tracker.settle(0, 11..14, Outcome::Acked);
        tracker.settle(0, 10..11, Outcome::Rejected(&"bad"));
        tracker.settle(0, 14..16, Outcome::Released); // 15 is unknown
        tracker.settle(0, 10..11, Outcome::Acked); // already settled: late
        let a = a.close();
        assert!(matches!(a[0], Some(Settled::Rejected(ref r)) if &**r == "bad"));
        assert!(matches!(
            a[1..],
            [Some(Settled::Acked), Some(Settled::Acked)]
        ));
        assert!(matches!(
            b.close()[..],
            [Some(Settled::Acked), Some(Settled::Released)]
        ));
        assert_eq!(tracker.stats().late, 2);
    }
}
