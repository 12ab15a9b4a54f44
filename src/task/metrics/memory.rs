//! Memory attributed to a task: [`MemoryUsage`] (a snapshot) and [`MemoryCounters`] (the
//! live atomics the tracking allocator updates).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Memory a task allocated and freed while it was being polled.
///
/// Filled only when the crate is built with the `memory-tracking` feature **and**
/// `TrackingAllocator` is the program's global allocator ([how](super#memory));
/// otherwise every counter is zero and [`is_tracked`](MemoryUsage::is_tracked) is `false`.
///
/// An allocation counts for the task being polled on the thread that makes it, so memory
/// a task's future allocates between polls (on another thread, by a runtime worker) is
/// not counted, and memory it frees that was allocated elsewhere makes
/// [`current_bytes`](MemoryUsage::current_bytes) go down, possibly below zero.
///
/// # Examples
///
/// Memory monitoring for a large data-processing job: after the job, compare its peak with
/// a budget.
///
/// ```
/// use sweet_async::task::TaskMetrics;
///
/// let metrics = TaskMetrics::new();
/// let rows = {
///     let _poll = metrics.enter_poll();
///     (0..10_000u32).map(|i| i * 2).collect::<Vec<_>>() // the job's work
/// };
/// metrics.finish();
///
/// const BUDGET: u64 = 8 * 1024 * 1024 * 1024;
/// let memory = metrics.memory_usage();
/// if memory.is_tracked() && memory.peak_bytes() > BUDGET {
///     eprintln!("peak {} B over budget, process in smaller chunks", memory.peak_bytes());
/// }
/// # assert_eq!(rows.len(), 10_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryUsage {
    tracked: bool,
    current: i64,
    peak: u64,
    allocations: u64,
    total_allocated: u64,
    wall: Duration,
}

impl MemoryUsage {
    /// Whether memory is being tracked at all.
    ///
    /// `false` without the `memory-tracking` feature, or when `TrackingAllocator` is not
    /// the global allocator (it has never seen an allocation); the other counters are then zero and mean nothing.
    #[inline]
    pub fn is_tracked(&self) -> bool {
        self.tracked
    }

    /// Net bytes: allocated minus freed while the task was polled.
    ///
    /// May be negative when the task frees memory that was allocated outside its polls
    /// (by another task, or before it started), and does not drop when memory it
    /// allocated is freed by someone else.
    #[inline]
    pub fn current_bytes(&self) -> i64 {
        self.current
    }

    /// The highest [`current_bytes`](MemoryUsage::current_bytes) seen so far.
    #[inline]
    pub fn peak_bytes(&self) -> u64 {
        self.peak
    }

    /// Number of allocations (a `realloc` counts as one).
    #[inline]
    pub fn allocation_count(&self) -> u64 {
        self.allocations
    }

    /// Bytes allocated in total, frees not subtracted (a `realloc` counts its new size).
    #[inline]
    pub fn total_allocated_bytes(&self) -> u64 {
        self.total_allocated
    }

    /// Bytes allocated per second of the task's wall-clock time; `0.0` when no time has
    /// passed.
    #[inline]
    pub fn allocation_rate(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            self.total_allocated as f64 / secs
        } else {
            0.0
        }
    }
}

/// The live memory counters of one task, updated by the tracking allocator.
///
/// Every method is lock-free and never allocates or panics: it runs inside the global
/// allocator.
#[derive(Debug, Default)]
pub(crate) struct MemoryCounters {
    current: AtomicI64,
    peak: AtomicU64,
    allocations: AtomicU64,
    total_allocated: AtomicU64,
}

impl MemoryCounters {
    /// A new allocation of `size` bytes.
    #[cfg(any(test, feature = "memory-tracking"))]
    #[inline]
    pub(crate) fn record_alloc(&self, size: usize) {
        self.allocations.fetch_add(1, Ordering::Relaxed);
        self.total_allocated
            .fetch_add(to_u64(size), Ordering::Relaxed);
        self.add_current(to_i64(size));
    }

    /// A free of `size` bytes.
    #[cfg(any(test, feature = "memory-tracking"))]
    #[inline]
    pub(crate) fn record_free(&self, size: usize) {
        self.current.fetch_sub(to_i64(size), Ordering::Relaxed);
    }

    /// A reallocation from `old` to `new` bytes: one allocation of `new` bytes, and the
    /// net change is `new - old`.
    #[cfg(any(test, feature = "memory-tracking"))]
    #[inline]
    pub(crate) fn record_realloc(&self, old: usize, new: usize) {
        self.allocations.fetch_add(1, Ordering::Relaxed);
        self.total_allocated
            .fetch_add(to_u64(new), Ordering::Relaxed);
        self.add_current(to_i64(new).saturating_sub(to_i64(old)));
    }

    #[cfg(any(test, feature = "memory-tracking"))]
    #[inline]
    fn add_current(&self, delta: i64) {
        let now = self
            .current
            .fetch_add(delta, Ordering::Relaxed)
            .saturating_add(delta);
        if let Ok(now) = u64::try_from(now) {
            self.peak.fetch_max(now, Ordering::Relaxed);
        }
    }

    /// A snapshot, with the task's wall-clock time for the rate.
    pub(crate) fn usage(&self, wall: Duration) -> MemoryUsage {
        MemoryUsage {
            tracked: installed(),
            current: self.current.load(Ordering::Relaxed),
            peak: self.peak.load(Ordering::Relaxed),
            allocations: self.allocations.load(Ordering::Relaxed),
            total_allocated: self.total_allocated.load(Ordering::Relaxed),
            wall,
        }
    }
}

/// Set by the tracking allocator (`alloc.rs`, feature `memory-tracking`) once it has
/// served an allocation: it is then the global allocator (or in use through it), so
/// memory figures mean something.
pub(super) static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Whether the tracking allocator has ever served an allocation.
pub(super) fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

#[cfg(any(test, feature = "memory-tracking"))]
#[inline]
fn to_i64(size: usize) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

#[cfg(any(test, feature = "memory-tracking"))]
#[inline]
fn to_u64(size: usize) -> u64 {
    u64::try_from(size).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_allocations_frees_and_reallocs() {
        let c = MemoryCounters::default();
        c.record_alloc(100);
        c.record_alloc(50);
        c.record_free(100);
        c.record_realloc(50, 80);
        let u = c.usage(Duration::from_secs(2));
        assert_eq!(u.current_bytes(), 80);
        assert_eq!(u.peak_bytes(), 150);
        assert_eq!(u.allocation_count(), 3);
        assert_eq!(u.total_allocated_bytes(), 230);
        assert_eq!(u.allocation_rate(), 115.0);
    }

    #[test]
    fn peak_keeps_the_maximum_and_current_may_go_negative() {
        let c = MemoryCounters::default();
        c.record_free(10);
        assert_eq!(c.usage(Duration::ZERO).current_bytes(), -10);
        assert_eq!(c.usage(Duration::ZERO).peak_bytes(), 0);
        c.record_alloc(30);
        c.record_realloc(30, 5);
        let u = c.usage(Duration::ZERO);
        assert_eq!(u.current_bytes(), -5);
        assert_eq!(u.peak_bytes(), 20);
        assert_eq!(u.allocation_rate(), 0.0);
    }

    #[test]
    fn concurrent_peaks_keep_the_largest() {
        let c = std::sync::Arc::new(MemoryCounters::default());
        let handles: Vec<_> = (1..=4usize)
            .map(|i| {
                let c = std::sync::Arc::clone(&c);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        c.record_alloc(i);
                        c.record_free(i);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let u = c.usage(Duration::ZERO);
        assert_eq!(u.current_bytes(), 0);
        assert_eq!(u.allocation_count(), 4000);
        assert!(u.peak_bytes() >= 4 && u.peak_bytes() <= 10);
    }

    #[test]
    #[cfg(not(feature = "memory-tracking"))]
    fn never_tracked_without_the_feature() {
        let u = MemoryCounters::default().usage(Duration::from_secs(1));
        assert!(!u.is_tracked());
        assert_eq!(
            u,
            MemoryUsage {
                wall: Duration::from_secs(1),
                ..MemoryUsage::default()
            }
        );
    }
}
