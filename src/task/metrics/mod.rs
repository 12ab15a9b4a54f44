//! Per-task metrics: CPU, I/O and memory, opt-in and free when off.
//!
//! A task built with `.with_metrics()` owns one [`TaskMetrics`]. Around every poll of the
//! task's work it holds a [`PollGuard`], which counts the poll, its wall-clock time and the
//! thread's CPU time, and makes the task *current* on the thread so that
//! [`record_read`] / [`record_write`] (and, with the `memory-tracking` feature, the
//! [`TrackingAllocator`]) count against it. A [`MetricsSnapshot`] can be taken at any time,
//! from any thread, through a clone of the handle.
//!
//! Tasks without metrics create nothing: the free recording functions then cost one
//! thread-local read and record nothing.
//!
//! # Memory
//!
//! Memory figures need the `memory-tracking` feature and [`TrackingAllocator`] installed as
//! the global allocator; without them [`MemoryUsage::is_tracked`] is `false` and the
//! counters stay zero.
//!
//! # Examples
//!
//! What a task runner does, and what a monitor reads:
//!
//! ```
//! use sweet_async::task::TaskMetrics;
//!
//! let metrics = TaskMetrics::new(); // when the task starts
//! for _ in 0..3 {
//!     let _poll = metrics.enter_poll(); // around each poll of the user's work
//!     let _work: u64 = (0..1_000u64).sum();
//! }
//! metrics.finish(); // when it ends: freezes the wall-clock time
//!
//! let snapshot = metrics.snapshot();
//! assert_eq!(snapshot.cpu().poll_count(), 3);
//! assert_eq!(snapshot.cpu().wall_time(), snapshot.elapsed());
//! assert_eq!(metrics.snapshot().elapsed(), snapshot.elapsed()); // frozen
//! ```
#![cfg_attr(
    feature = "memory-tracking",
    doc = "\n[`TrackingAllocator`]: TrackingAllocator"
)]
#![cfg_attr(
    not(feature = "memory-tracking"),
    doc = "\n[`TrackingAllocator`]: https://docs.rs/sweet-async/latest/sweet_async/task/metrics/struct.TrackingAllocator.html"
)]

#[cfg(feature = "memory-tracking")]
mod alloc;
mod cpu;
mod current;
mod io;
mod memory;
mod thread_time;

#[cfg(feature = "memory-tracking")]
#[cfg_attr(docsrs, doc(cfg(feature = "memory-tracking")))]
pub use alloc::TrackingAllocator;
pub use cpu::CpuUsage;
pub use io::{IoUsage, record_read, record_write};
pub use memory::MemoryUsage;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use thread_time::ThreadTime;

use io::{IoCounters, duration_to_nanos};
use memory::MemoryCounters;

/// `Inner::finished_nanos` while the task runs.
const RUNNING: u64 = u64::MAX;

/// The live metrics of one task: a cheap, shareable handle.
///
/// Clones share the same counters, so a monitor can hold one while the task runs on another
/// thread. All counters are relaxed atomics: a snapshot taken during a poll may see one
/// counter updated and another not yet.
#[doc(alias = "MetricsEnabledTask")]
#[derive(Clone)]
pub struct TaskMetrics(Arc<Inner>);

struct Inner {
    started: Instant,
    /// Wall-clock time at [`TaskMetrics::finish`], in nanoseconds; `RUNNING` until then.
    finished_nanos: AtomicU64,
    polls: AtomicU64,
    poll_nanos: AtomicU64,
    cpu_nanos: AtomicU64,
    io: IoCounters,
    memory: MemoryCounters,
}

impl TaskMetrics {
    /// Metrics for a task starting now.
    pub fn new() -> Self {
        TaskMetrics(Arc::new(Inner {
            started: Instant::now(),
            finished_nanos: AtomicU64::new(RUNNING),
            polls: AtomicU64::new(0),
            poll_nanos: AtomicU64::new(0),
            cpu_nanos: AtomicU64::new(0),
            io: IoCounters::default(),
            memory: MemoryCounters::default(),
        }))
    }

    /// Starts measuring one poll; the poll ends when the guard is dropped.
    ///
    /// While the guard lives, this task is [current](TaskMetrics::current) on this thread:
    /// I/O recorded with the free functions and (with `memory-tracking`) allocations
    /// count against it. Guards nest; drop them in reverse order of creation, as scopes
    /// do. A guard dropped while unwinding from a panic still counts the poll and restores
    /// the previous current task.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::task::TaskMetrics;
    ///
    /// let outer = TaskMetrics::new();
    /// let inner = TaskMetrics::new();
    /// {
    ///     let _poll = outer.enter_poll();
    ///     {
    ///         let _nested = inner.enter_poll(); // a task polled inside another one
    ///         let current = TaskMetrics::current().unwrap();
    ///         assert_eq!(current.cpu_usage().poll_count(), 0); // `inner`, first poll
    ///     }
    ///     // back to the outer task
    ///     assert!(TaskMetrics::current().is_some());
    /// }
    /// assert!(TaskMetrics::current().is_none());
    /// assert_eq!(outer.cpu_usage().poll_count(), 1);
    /// assert_eq!(inner.cpu_usage().poll_count(), 1);
    /// ```
    pub fn enter_poll(&self) -> PollGuard<'_> {
        let (previous, installed) = match current::replace(Some(self.clone())) {
            Ok(previous) => (previous, true),
            Err(_) => (None, false),
        };
        let cpu_started = ThreadTime::try_now();
        PollGuard {
            metrics: self,
            previous,
            installed,
            cpu_started,
            started: Instant::now(),
            _not_send: PhantomData,
        }
    }

    /// The metrics-enabled task being polled on this thread, if any.
    ///
    /// # Examples
    ///
    /// Resource-constrained processing: code deep inside a task checks how much memory its
    /// task holds, without being handed the metrics.
    ///
    /// ```
    /// use sweet_async::task::TaskMetrics;
    ///
    /// const MEMORY_LIMIT: i64 = 512 * 1024 * 1024;
    ///
    /// fn process_item(item: u32) -> u32 {
    ///     if let Some(task) = TaskMetrics::current() {
    ///         if task.memory_usage().current_bytes() > MEMORY_LIMIT {
    ///             eprintln!("over the memory limit: flush buffers before going on");
    ///         }
    ///     }
    ///     item * 2
    /// }
    ///
    /// assert!(TaskMetrics::current().is_none());
    /// let metrics = TaskMetrics::new();
    /// let _poll = metrics.enter_poll();
    /// assert_eq!(process_item(21), 42);
    /// ```
    pub fn current() -> Option<TaskMetrics> {
        current::with(TaskMetrics::clone)
    }

    /// Counts a read of `bytes` that took `latency`.
    pub fn record_read(&self, bytes: u64, latency: Duration) {
        self.0.io.record_read(bytes, latency);
    }

    /// Counts a write of `bytes` that took `latency`.
    pub fn record_write(&self, bytes: u64, latency: Duration) {
        self.0.io.record_write(bytes, latency);
    }

    /// Marks the task as ended: its wall-clock time stops growing. Later calls do nothing.
    pub fn finish(&self) {
        self.freeze_wall(self.0.started.elapsed());
    }

    /// The task's metrics now.
    ///
    /// # Examples
    ///
    /// A performance dashboard samples a running task from another thread:
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::task::TaskMetrics;
    ///
    /// let metrics = TaskMetrics::new();
    /// let monitor = metrics.clone();
    /// let dashboard = std::thread::spawn(move || {
    ///     let s = monitor.snapshot();
    ///     (s.cpu().utilization(), s.memory().peak_bytes(), s.io().operations_per_second())
    /// });
    ///
    /// {
    ///     let _poll = metrics.enter_poll();
    ///     metrics.record_read(1024, Duration::from_micros(80));
    /// }
    /// let (cpu, _peak, _ops) = dashboard.join().unwrap();
    /// assert!((0.0..=1.0).contains(&cpu));
    /// ```
    #[doc(alias = "get_metrics_snapshot")]
    pub fn snapshot(&self) -> MetricsSnapshot {
        let inner = &*self.0;
        let wall = self.wall();
        MetricsSnapshot {
            cpu: CpuUsage::new(
                inner.polls.load(Ordering::Relaxed),
                Duration::from_nanos(inner.poll_nanos.load(Ordering::Relaxed)),
                Duration::from_nanos(inner.cpu_nanos.load(Ordering::Relaxed)),
                wall,
            ),
            io: inner.io.usage(wall),
            memory: inner.memory.usage(wall),
            elapsed: wall,
        }
    }

    /// CPU figures now; the same as `self.snapshot().cpu()`.
    pub fn cpu_usage(&self) -> CpuUsage {
        self.snapshot().cpu()
    }

    /// I/O figures now; the same as `self.snapshot().io()`.
    pub fn io_usage(&self) -> IoUsage {
        self.snapshot().io()
    }

    /// Memory figures now; the same as `self.snapshot().memory()`.
    pub fn memory_usage(&self) -> MemoryUsage {
        self.snapshot().memory()
    }

    /// Wall-clock time since start, or until [`finish`](TaskMetrics::finish).
    fn wall(&self) -> Duration {
        match self.0.finished_nanos.load(Ordering::Relaxed) {
            RUNNING => self.0.started.elapsed(),
            nanos => Duration::from_nanos(nanos),
        }
    }

    /// Freezes the wall-clock time at `wall` unless it already is.
    fn freeze_wall(&self, wall: Duration) {
        let nanos = duration_to_nanos(wall).min(RUNNING - 1);
        let _ = self.0.finished_nanos.compare_exchange(
            RUNNING,
            nanos,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// [`finish`](TaskMetrics::finish) with a chosen wall-clock time, so tests can check
    /// rates exactly.
    #[cfg(test)]
    pub(crate) fn finish_with_wall(&self, wall: Duration) {
        self.freeze_wall(wall);
    }

    /// Whether both handles share the same counters.
    #[cfg(test)]
    pub(crate) fn ptr_eq(&self, other: &TaskMetrics) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The counters the tracking allocator updates.
    #[cfg(feature = "memory-tracking")]
    fn memory_counters(&self) -> &MemoryCounters {
        &self.0.memory
    }

    fn record_poll(&self, poll_time: Duration, cpu_time: Option<Duration>) {
        let inner = &*self.0;
        inner.polls.fetch_add(1, Ordering::Relaxed);
        inner
            .poll_nanos
            .fetch_add(duration_to_nanos(poll_time), Ordering::Relaxed);
        if let Some(cpu) = cpu_time {
            inner
                .cpu_nanos
                .fetch_add(duration_to_nanos(cpu), Ordering::Relaxed);
        }
    }
}

impl Default for TaskMetrics {
    fn default() -> Self {
        TaskMetrics::new()
    }
}

impl fmt::Debug for TaskMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TaskMetrics")
            .field(&self.snapshot())
            .finish()
    }
}

/// The metrics of one task at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricsSnapshot {
    cpu: CpuUsage,
    io: IoUsage,
    memory: MemoryUsage,
    elapsed: Duration,
}

impl MetricsSnapshot {
    /// Polls, poll time and CPU time.
    #[doc(alias = "cpu_usage")]
    pub fn cpu(&self) -> CpuUsage {
        self.cpu
    }

    /// Reported reads and writes.
    #[doc(alias = "io_usage")]
    pub fn io(&self) -> IoUsage {
        self.io
    }

    /// Memory allocated while polled (needs the `memory-tracking` feature).
    #[doc(alias = "memory_usage")]
    pub fn memory(&self) -> MemoryUsage {
        self.memory
    }

    /// Wall-clock time from the task's start to this snapshot, or to its end once it
    /// finished.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

/// Measures one poll of a task; see [`TaskMetrics::enter_poll`].
///
/// Not `Send`: it measures and marks the thread it was created on.
#[must_use = "the poll is measured until the guard is dropped"]
pub struct PollGuard<'a> {
    metrics: &'a TaskMetrics,
    /// The task that was current before this guard, put back on drop.
    previous: Option<TaskMetrics>,
    /// Whether this guard made its task current (false during thread teardown).
    installed: bool,
    cpu_started: Option<ThreadTime>,
    started: Instant,
    _not_send: PhantomData<*const ()>,
}

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        let poll_time = self.started.elapsed();
        let cpu_time = self.cpu_started.and_then(|start| {
            let end = ThreadTime::try_now()?;
            end.as_duration().checked_sub(start.as_duration())
        });
        if self.installed {
            // Either way the value handed back (ours, or `previous` if the slot is gone)
            // is simply dropped.
            let _ = current::replace(self.previous.take());
        }
        self.metrics.record_poll(poll_time, cpu_time);
    }
}

impl fmt::Debug for PollGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollGuard")
            .field("metrics", self.metrics)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn is_current(m: &TaskMetrics) -> bool {
        TaskMetrics::current().is_some_and(|c| c.ptr_eq(m))
    }

    #[test]
    fn recorded_io_gives_exact_counts_averages_and_rates() {
        let m = TaskMetrics::new();
        m.record_read(1000, 3 * MS);
        m.record_read(500, 5 * MS);
        m.record_write(200, 7 * MS);
        m.record_write(0, MS);
        m.finish_with_wall(4 * 1000 * MS);

        let io = m.io_usage();
        assert_eq!(io.bytes_read(), 1500);
        assert_eq!(io.bytes_written(), 200);
        assert_eq!(io.read_operations(), 2);
        assert_eq!(io.write_operations(), 2);
        assert_eq!(io.read_latency(), 4 * MS);
        assert_eq!(io.write_latency(), 4 * MS);
        assert_eq!(io.operations_per_second(), 1.0);
        assert_eq!(m.snapshot().elapsed(), 4 * 1000 * MS);
        assert_eq!(m.cpu_usage().wall_time(), 4 * 1000 * MS);
    }

    #[test]
    fn finish_is_idempotent() {
        let m = TaskMetrics::new();
        m.finish_with_wall(2 * MS);
        m.finish();
        m.finish_with_wall(9 * MS);
        assert_eq!(m.snapshot().elapsed(), 2 * MS);
        assert_eq!(m.snapshot(), m.snapshot());
    }

    #[test]
    fn polls_are_counted_and_bounded_by_wall_time() {
        let m = TaskMetrics::new();
        for _ in 0..3 {
            let _g = m.enter_poll();
        }
        m.finish();
        let cpu = m.cpu_usage();
        assert_eq!(cpu.poll_count(), 3);
        assert!(cpu.poll_time() <= cpu.wall_time());
        assert_eq!(m.memory_usage().allocation_count(), 0);
    }

    #[test]
    fn current_is_none_outside_polls() {
        assert!(TaskMetrics::current().is_none());
        let m = TaskMetrics::new();
        {
            let _g = m.enter_poll();
            assert!(is_current(&m));
        }
        assert!(TaskMetrics::current().is_none());
    }

    #[test]
    fn nested_guards_restore_the_outer_task() {
        let outer = TaskMetrics::new();
        let inner = TaskMetrics::new();
        let _g = outer.enter_poll();
        {
            let _h = inner.enter_poll();
            assert!(is_current(&inner));
            record_read(10, MS);
        }
        assert!(is_current(&outer));
        record_write(20, MS);
        drop(_g);
        assert!(TaskMetrics::current().is_none());
        assert_eq!(inner.io_usage().bytes_read(), 10);
        assert_eq!(inner.io_usage().bytes_written(), 0);
        assert_eq!(outer.io_usage().bytes_read(), 0);
        assert_eq!(outer.io_usage().bytes_written(), 20);
    }

    #[test]
    fn panic_inside_a_guard_restores_the_current_task() {
        let outer = TaskMetrics::new();
        let inner = TaskMetrics::new();
        let _g = outer.enter_poll();
        let result = std::panic::catch_unwind(|| {
            let _h = inner.enter_poll();
            panic!("user work panicked");
        });
        assert!(result.is_err());
        assert!(is_current(&outer));
        assert_eq!(inner.cpu_usage().poll_count(), 1);
        drop(_g);
        assert!(TaskMetrics::current().is_none());
    }

    #[test]
    fn free_recording_outside_a_task_is_a_no_op() {
        let m = TaskMetrics::new();
        record_read(100, MS);
        record_write(100, MS);
        assert_eq!(m.io_usage().read_operations(), 0);
        assert_eq!(m.io_usage().write_operations(), 0);
        {
            let _g = m.enter_poll();
            record_read(100, MS);
        }
        record_read(100, MS);
        assert_eq!(m.io_usage().bytes_read(), 100);
        assert_eq!(m.io_usage().read_operations(), 1);
    }

    #[test]
    fn free_recording_counts_against_the_current_task() {
        let m = TaskMetrics::new();
        {
            let _g = m.enter_poll();
            record_read(4096, 2 * MS);
            record_write(512, 6 * MS);
            record_write(512, 2 * MS);
        }
        m.finish_with_wall(1000 * MS);
        let io = m.io_usage();
        assert_eq!(io.bytes_read(), 4096);
        assert_eq!(io.bytes_written(), 1024);
        assert_eq!(io.write_latency(), 4 * MS);
        assert_eq!(io.operations_per_second(), 3.0);
    }

    #[test]
    fn a_spinning_poll_accumulates_cpu_time() {
        let m = TaskMetrics::new();
        {
            let _g = m.enter_poll();
            // Spin until the thread's CPU clock has visibly moved (bounded, in case the
            // clock is unavailable).
            let start = ThreadTime::try_now();
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut x = 0u64;
            while Instant::now() < deadline {
                for i in 0..10_000u64 {
                    x = std::hint::black_box(x.wrapping_add(i));
                }
                if start.and_then(ThreadTime::elapsed) >= Some(MS) {
                    break;
                }
            }
        }
        assert!(m.cpu_usage().cpu_time() > Duration::ZERO);
    }

    #[test]
    fn handles_are_shared_and_types_are_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<TaskMetrics>();
        assert_send_sync::<MetricsSnapshot>();
        assert_send_sync::<CpuUsage>();
        assert_send_sync::<IoUsage>();
        assert_send_sync::<MemoryUsage>();

        let m = TaskMetrics::new();
        let other = m.clone();
        std::thread::spawn(move || other.record_write(7, MS))
            .join()
            .unwrap();
        assert_eq!(m.io_usage().bytes_written(), 7);
        assert!(format!("{m:?}").starts_with("TaskMetrics(MetricsSnapshot"));
        let g = m.enter_poll();
        assert!(format!("{g:?}").starts_with("PollGuard"));
    }
}
