//! [`ExecutionStats`]: lock-free counters and a duration histogram for many tasks.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two: 16, so a bucket spans at most 1/16 of its lower bound.
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// Values below `SUB` ns get one exact bucket each; above, `SUB` buckets per octave up to
/// `2^64`: `(64 - SUB_BITS + 1) * SUB` buckets (976 `AtomicU64`, under 8 KiB).
const BUCKETS: usize = ((64 - SUB_BITS + 1) as usize) * (SUB as usize);

/// Counts and durations of the tasks run by an orchestra or a runtime.
///
/// Every update is a few relaxed atomic operations: no lock, no allocation, so it sits
/// on the scheduling hot path at no measurable cost. Cloning shares the same counters.
///
/// Durations (from a task's first start to its end, retries and backoff included) go to
/// a fixed log-scale histogram of 976 atomic buckets: 16 per power of two of
/// nanoseconds. A percentile is reported as the midpoint of its bucket, so it is within
/// **±3.2 %** of the true value (exact below 16 ns). Min, max and mean are exact.
///
/// # Examples
///
/// ```
/// use sweet_async::orchestra::ExecutionStats;
///
/// let stats = ExecutionStats::new();
/// assert_eq!(stats.snapshot().completed, 0);
/// assert_eq!(stats.snapshot().p50, None);
/// ```
#[derive(Clone, Default)]
pub struct ExecutionStats {
    inner: Arc<Inner>,
}

struct Inner {
    submitted: AtomicU64,
    running: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
    skipped: AtomicU64,
    retried: AtomicU64,
    count: AtomicU64,
    sum_ns: AtomicU64,
    min_ns: AtomicU64,
    max_ns: AtomicU64,
    buckets: Box<[AtomicU64]>,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            submitted: AtomicU64::new(0),
            running: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            count: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
            min_ns: AtomicU64::new(u64::MAX),
            max_ns: AtomicU64::new(0),
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// How a finished task ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    Completed,
    Failed,
    Cancelled,
    Skipped,
}

/// The bucket of a duration of `ns` nanoseconds.
// Proven in range: `ns >= SUB` gives `SUB_BITS <= e <= 63`, so no subtraction underflows,
// no shift reaches 64 bits, and the bucket is below `(64 - SUB_BITS + 1) * SUB`.
#[allow(clippy::arithmetic_side_effects)]
fn bucket_of(ns: u64) -> usize {
    if ns < SUB {
        return ns as usize;
    }
    let e = 63 - ns.leading_zeros(); // >= SUB_BITS
    let sub = (ns >> (e - SUB_BITS)) & (SUB - 1);
    ((e - SUB_BITS + 1) as usize) * (SUB as usize) + sub as usize
}

/// The midpoint of bucket `b`, in nanoseconds.
// Proven in range: buckets come from `bucket_of` (`b >= SUB` gives an octave of at least
// 1, so `e >= SUB_BITS`, and `e <= 63`); `SUB + sub < 2 * SUB` shifted by `e - SUB_BITS`
// stays below 2^64.
#[allow(clippy::arithmetic_side_effects)]
fn bucket_mid(b: usize) -> u64 {
    let sub_n = SUB as usize;
    if b < sub_n {
        return b as u64;
    }
    let octave = (b / sub_n) as u32; // e - SUB_BITS + 1
    let sub = (b % sub_n) as u64;
    let e = octave + SUB_BITS - 1;
    let width = 1u64 << (e - SUB_BITS);
    let low = (SUB + sub) << (e - SUB_BITS);
    low.saturating_add(width / 2)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl ExecutionStats {
    /// Fresh counters, all zero.
    pub fn new() -> Self {
        ExecutionStats::default()
    }

    /// Adds one duration to min/mean/max and the histogram.
    #[cfg(test)]
    pub(crate) fn record_duration(&self, d: Duration) {
        let ns = nanos(d);
        let i = &self.inner;
        i.count.fetch_add(1, Ordering::Relaxed);
        let _ = i
            .sum_ns
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some(s.saturating_add(ns))
            });
        i.min_ns.fetch_min(ns, Ordering::Relaxed);
        i.max_ns.fetch_max(ns, Ordering::Relaxed);
        if let Some(b) = i.buckets.get(bucket_of(ns)) {
            b.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The duration at quantile `q` (0.0..=1.0), ±3.2 %; `None` before any duration.
    pub fn percentile(&self, q: f64) -> Option<Duration> {
        let counts: Vec<u64> = self
            .inner
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let q = if q.is_nan() { 0.5 } else { q.clamp(0.0, 1.0) };
        // The rank of the value asked for, 1-based (nearest-rank method).
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0u64;
        for (b, c) in counts.iter().enumerate() {
            seen = seen.saturating_add(*c);
            if seen >= rank {
                return Some(Duration::from_nanos(bucket_mid(b)));
            }
        }
        None
    }

    /// A consistent-enough copy of every counter (each read atomically; the set is not
    /// one atomic snapshot while tasks are finishing).
    pub fn snapshot(&self) -> StatsSnapshot {
        let i = &self.inner;
        let count = i.count.load(Ordering::Relaxed);
        let sum = i.sum_ns.load(Ordering::Relaxed);
        let min = (count > 0).then(|| Duration::from_nanos(i.min_ns.load(Ordering::Relaxed)));
        let max = (count > 0).then(|| Duration::from_nanos(i.max_ns.load(Ordering::Relaxed)));
        // A percentile is its bucket's midpoint: never report one outside what was seen.
        let seen = |p: Option<Duration>| match (p, min, max) {
            (Some(p), Some(lo), Some(hi)) => Some(p.clamp(lo, hi.max(lo))),
            (p, _, _) => p,
        };
        StatsSnapshot {
            submitted: i.submitted.load(Ordering::Relaxed),
            running: i.running.load(Ordering::Relaxed),
            completed: i.completed.load(Ordering::Relaxed),
            failed: i.failed.load(Ordering::Relaxed),
            cancelled: i.cancelled.load(Ordering::Relaxed),
            skipped: i.skipped.load(Ordering::Relaxed),
            retried: i.retried.load(Ordering::Relaxed),
            min,
            max,
            mean: sum.checked_div(count).map(Duration::from_nanos),
            p50: seen(self.percentile(0.5)),
            p99: seen(self.percentile(0.99)),
        }
    }
}

impl fmt::Debug for ExecutionStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.snapshot(), f)
    }
}

impl fmt::Display for ExecutionStats {
    /// The [`StatsSnapshot`] line of the counters now.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.snapshot(), f)
    }
}

impl fmt::Display for StatsSnapshot {
    /// One line of plain values: `5 submitted, 0 running, 4 completed, 1 failed, 0
    /// cancelled, 0 skipped, 2 retried; durations min 1ms, mean 3ms, p50 2ms, p99 9ms,
    /// max 9ms` (no durations before a task has finished).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} submitted, {} running, {} completed, {} failed, {} cancelled, {} skipped, \
             {} retried",
            self.submitted,
            self.running,
            self.completed,
            self.failed,
            self.cancelled,
            self.skipped,
            self.retried
        )?;
        if let (Some(min), Some(mean), Some(p50), Some(p99), Some(max)) =
            (self.min, self.mean, self.p50, self.p99, self.max)
        {
            write!(
                f,
                "; durations min {min:.0?}, mean {mean:.0?}, p50 {p50:.0?}, p99 {p99:.0?}, \
                 max {max:.0?}"
            )?;
        }
        Ok(())
    }
}

/// Updates to an [`ExecutionStats`] made by one scheduler, gathered in plain integers
/// and published with a handful of atomic operations per [`flush`](Self::flush)
/// rather than several per task. The scheduler flushes before it waits and before it
/// answers anyone, so a reader never sees counters older than the scheduler's last
/// round of work.
pub(crate) struct StatsBatch {
    shared: ExecutionStats,
    submitted: u64,
    started: u64,
    stopped: u64,
    retried: u64,
    completed: u64,
    failed: u64,
    cancelled: u64,
    skipped: u64,
    count: u64,
    sum_ns: u64,
    min_ns: u64,
    max_ns: u64,
    /// Pending histogram counts, and which buckets hold some.
    buckets: Box<[u32]>,
    touched: Vec<u16>,
    dirty: bool,
}

impl StatsBatch {
    pub(crate) fn new(shared: ExecutionStats) -> Self {
        StatsBatch {
            shared,
            submitted: 0,
            started: 0,
            stopped: 0,
            retried: 0,
            completed: 0,
            failed: 0,
            cancelled: 0,
            skipped: 0,
            count: 0,
            sum_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
            buckets: vec![0; BUCKETS].into_boxed_slice(),
            touched: Vec::new(),
            dirty: false,
        }
    }

    pub(crate) fn submitted(&mut self) {
        self.submitted = self.submitted.saturating_add(1);
        self.dirty = true;
    }

    pub(crate) fn started(&mut self) {
        self.started = self.started.saturating_add(1);
        self.dirty = true;
    }

    pub(crate) fn stopped(&mut self) {
        self.stopped = self.stopped.saturating_add(1);
        self.dirty = true;
    }

    pub(crate) fn retried(&mut self) {
        self.retried = self.retried.saturating_add(1);
        self.dirty = true;
    }

    /// Records a task's end, and its duration when it ran.
    pub(crate) fn ended(&mut self, how: Ended, took: Option<Duration>) {
        self.dirty = true;
        match how {
            Ended::Completed => self.completed = self.completed.saturating_add(1),
            Ended::Failed => self.failed = self.failed.saturating_add(1),
            Ended::Cancelled => self.cancelled = self.cancelled.saturating_add(1),
            Ended::Skipped => self.skipped = self.skipped.saturating_add(1),
        }
        let Some(d) = took else { return };
        let ns = nanos(d);
        self.count = self.count.saturating_add(1);
        self.sum_ns = self.sum_ns.saturating_add(ns);
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
        let b = bucket_of(ns);
        if let Some(c) = self.buckets.get_mut(b) {
            if *c == 0 {
                // BUCKETS < 2^16: the index fits.
                self.touched.push(b as u16);
            }
            *c = c.saturating_add(1);
        }
    }

    /// Publishes everything gathered since the last flush.
    pub(crate) fn flush(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let i = &self.shared.inner;
        let add = |a: &AtomicU64, n: &mut u64| {
            if *n > 0 {
                a.fetch_add(std::mem::take(n), Ordering::Relaxed);
            }
        };
        add(&i.submitted, &mut self.submitted);
        add(&i.retried, &mut self.retried);
        add(&i.completed, &mut self.completed);
        add(&i.failed, &mut self.failed);
        add(&i.cancelled, &mut self.cancelled);
        add(&i.skipped, &mut self.skipped);
        let (up, down) = (
            std::mem::take(&mut self.started),
            std::mem::take(&mut self.stopped),
        );
        if up > down {
            i.running
                .fetch_add(up.saturating_sub(down), Ordering::Relaxed);
        } else if down > up {
            // Saturating: a stray extra stop must not wrap the gauge around.
            let _ = i
                .running
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| {
                    Some(r.saturating_sub(down.saturating_sub(up)))
                });
        }
        if self.count > 0 {
            i.count
                .fetch_add(std::mem::take(&mut self.count), Ordering::Relaxed);
            let sum = std::mem::take(&mut self.sum_ns);
            let _ = i
                .sum_ns
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                    Some(s.saturating_add(sum))
                });
            // A plain load first: most rounds set no new extreme, and a load costs no
            // exclusive cache line.
            let min = std::mem::replace(&mut self.min_ns, u64::MAX);
            if min < i.min_ns.load(Ordering::Relaxed) {
                i.min_ns.fetch_min(min, Ordering::Relaxed);
            }
            let max = std::mem::take(&mut self.max_ns);
            if max > i.max_ns.load(Ordering::Relaxed) {
                i.max_ns.fetch_max(max, Ordering::Relaxed);
            }
        }
        for b in self.touched.drain(..) {
            let b = usize::from(b);
            if let (Some(local), Some(shared)) = (self.buckets.get_mut(b), i.buckets.get(b)) {
                shared.fetch_add(u64::from(std::mem::take(local)), Ordering::Relaxed);
            }
        }
    }
}

/// The counters of [`ExecutionStats`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Tasks started by the user (activated).
    pub submitted: u64,
    /// Tasks running now (an attempt or a recovery in flight).
    pub running: u64,
    /// Tasks that produced a value.
    pub completed: u64,
    /// Tasks that ended with an error (panics included).
    pub failed: u64,
    /// Tasks cancelled, before or while running.
    pub cancelled: u64,
    /// Tasks never run because a dependency did not succeed.
    pub skipped: u64,
    /// Retries scheduled after a failed attempt.
    pub retried: u64,
    /// Shortest task duration.
    pub min: Option<Duration>,
    /// Mean task duration.
    pub mean: Option<Duration>,
    /// Longest task duration.
    pub max: Option<Duration>,
    /// Median task duration (±3.2 %).
    pub p50: Option<Duration>,
    /// 99th percentile task duration (±3.2 %).
    pub p99: Option<Duration>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_precise() {
        let mut last = 0;
        for ns in (0..100_000u64).chain([u64::MAX / 3, u64::MAX - 1, u64::MAX]) {
            let b = bucket_of(ns);
            assert!(b >= last && b < BUCKETS, "{ns}");
            last = b;
            let mid = bucket_mid(b) as f64;
            let err = (mid - ns as f64).abs() / (ns.max(1) as f64);
            assert!(err <= 1.0 / 32.0 + 1e-9, "{ns}: mid {mid}");
        }
    }

    #[test]
    fn a_batch_publishes_exactly_what_direct_recording_would() {
        let direct = ExecutionStats::new();
        let batched = ExecutionStats::new();
        let mut batch = StatsBatch::new(batched.clone());
        for ms in 1..=50u64 {
            let d = Duration::from_millis(ms % 7 + 1);
            direct.record_duration(d);
            batch.submitted();
            batch.started();
            batch.stopped();
            batch.ended(Ended::Completed, Some(d));
            if ms % 10 == 0 {
                batch.flush();
            }
        }
        batch.started();
        batch.ended(Ended::Skipped, None);
        assert_eq!(batched.snapshot().completed, 50, "flushed every 10");
        batch.flush();
        let (a, b) = (direct.snapshot(), batched.snapshot());
        assert_eq!((b.submitted, b.running, b.skipped), (50, 1, 1));
        assert_eq!(
            (a.min, a.max, a.mean, a.p50, a.p99),
            (b.min, b.max, b.mean, b.p50, b.p99)
        );
        batch.stopped();
        batch.stopped();
        batch.flush();
        assert_eq!(batched.snapshot().running, 0, "the gauge saturates at zero");
    }

    #[test]
    fn percentiles_never_exceed_the_extremes_and_display_is_plain() {
        let stats = ExecutionStats::new();
        let mut batch = StatsBatch::new(stats.clone());
        // One duration: its bucket's midpoint may lie above it.
        batch.ended(Ended::Completed, Some(Duration::from_nanos(1_000_123)));
        batch.flush();
        let snap = stats.snapshot();
        assert_eq!(snap.max, Some(Duration::from_nanos(1_000_123)));
        assert!(snap.p99 <= snap.max && snap.p99 >= snap.min, "{snap:?}");
        assert!(snap.p50 <= snap.max && snap.p50 >= snap.min, "{snap:?}");
        assert_eq!(
            ExecutionStats::new().to_string(),
            "0 submitted, 0 running, 0 completed, 0 failed, 0 cancelled, 0 skipped, 0 retried"
        );
        let line = stats.to_string();
        assert!(!line.contains("Some("), "{line}");
        assert!(
            line.ends_with("; durations min 1ms, mean 1ms, p50 1ms, p99 1ms, max 1ms"),
            "{line}"
        );
    }

    #[test]
    fn percentiles_and_extremes() {
        let s = ExecutionStats::new();
        for ms in 1..=100u64 {
            s.record_duration(Duration::from_millis(ms));
        }
        let snap = s.snapshot();
        assert_eq!(snap.min, Some(Duration::from_millis(1)));
        assert_eq!(snap.max, Some(Duration::from_millis(100)));
        assert_eq!(snap.mean, Some(Duration::from_micros(50_500)));
        let p50 = snap.p50.unwrap().as_secs_f64();
        assert!((p50 - 0.050).abs() / 0.050 <= 0.033, "{p50}");
        let p99 = snap.p99.unwrap().as_secs_f64();
        assert!((p99 - 0.099).abs() / 0.099 <= 0.033, "{p99}");
    }
}
