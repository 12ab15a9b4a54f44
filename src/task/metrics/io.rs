//! I/O a task reported: [`IoUsage`], its live counters, and the free functions
//! [`record_read`] and [`record_write`] that count against the task being polled.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::current;

/// Counts a read of `bytes` that took `latency` against the metrics-enabled task being
/// polled on this thread.
///
/// A no-op costing one thread-local read when no such task is being polled, so sources
/// and user code can call it unconditionally.
///
/// # Examples
///
/// A reader that reports its reads, whoever polls it:
///
/// ```
/// use std::time::{Duration, Instant};
/// use sweet_async::task::TaskMetrics;
/// use sweet_async::task::metrics::record_read;
///
/// fn read_block(buf: &mut [u8]) -> usize {
///     let started = Instant::now();
///     buf.fill(7); // stands for a real read
///     record_read(buf.len() as u64, started.elapsed());
///     buf.len()
/// }
///
/// let mut buf = [0u8; 512];
/// read_block(&mut buf); // outside any task: not counted anywhere
///
/// let metrics = TaskMetrics::new();
/// {
///     let _poll = metrics.enter_poll();
///     read_block(&mut buf);
///     read_block(&mut buf);
/// }
/// assert_eq!(metrics.io_usage().bytes_read(), 1024);
/// assert_eq!(metrics.io_usage().read_operations(), 2);
/// ```
#[inline]
pub fn record_read(bytes: u64, latency: Duration) {
    current::with(|m| m.record_read(bytes, latency));
}

/// Counts a write of `bytes` that took `latency` against the metrics-enabled task being
/// polled on this thread.
///
/// A no-op costing one thread-local read when no such task is being polled.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use sweet_async::task::TaskMetrics;
/// use sweet_async::task::metrics::record_write;
///
/// let metrics = TaskMetrics::new();
/// {
///     let _poll = metrics.enter_poll();
///     record_write(4096, Duration::from_micros(150));
/// }
/// assert_eq!(metrics.io_usage().bytes_written(), 4096);
/// assert_eq!(metrics.io_usage().write_latency(), Duration::from_micros(150));
/// ```
#[inline]
pub fn record_write(bytes: u64, latency: Duration) {
    current::with(|m| m.record_write(bytes, latency));
}

/// I/O a task reported, with average latencies and throughput.
///
/// Only I/O reported through [`TaskMetrics::record_read`](super::TaskMetrics::record_read),
/// [`record_write`](super::TaskMetrics::record_write) or the free functions
/// [`record_read`] / [`record_write`] is counted: the crate's own sources report theirs,
/// and other I/O is invisible to it.
///
/// # Examples
///
/// A monitoring dashboard reads I/O throughput of a running task from another thread:
///
/// ```
/// use std::time::Duration;
/// use sweet_async::task::TaskMetrics;
///
/// let metrics = TaskMetrics::new();
/// let handle = metrics.clone(); // what the dashboard holds
///
/// metrics.record_read(64 * 1024, Duration::from_millis(2));
/// metrics.record_read(64 * 1024, Duration::from_millis(4));
/// metrics.record_write(1024, Duration::from_millis(1));
///
/// let io = std::thread::spawn(move || handle.io_usage()).join().unwrap();
/// assert_eq!(io.bytes_read(), 128 * 1024);
/// assert_eq!(io.read_latency(), Duration::from_millis(3));
/// assert_eq!(io.write_operations(), 1);
/// println!("{:.1} ops/s", io.operations_per_second());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IoUsage {
    bytes_read: u64,
    bytes_written: u64,
    reads: u64,
    writes: u64,
    read_latency_total: Duration,
    write_latency_total: Duration,
    wall: Duration,
}

impl IoUsage {
    /// Bytes read.
    #[inline]
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Bytes written.
    #[inline]
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Number of reads.
    #[inline]
    pub fn read_operations(&self) -> u64 {
        self.reads
    }

    /// Number of writes.
    #[inline]
    pub fn write_operations(&self) -> u64 {
        self.writes
    }

    /// Average latency of a read; zero when there was none.
    #[inline]
    pub fn read_latency(&self) -> Duration {
        average(self.read_latency_total, self.reads)
    }

    /// Average latency of a write; zero when there was none.
    #[inline]
    pub fn write_latency(&self) -> Duration {
        average(self.write_latency_total, self.writes)
    }

    /// Total time spent waiting on reads and writes (the sum of their latencies).
    #[inline]
    pub fn io_wait_time(&self) -> Duration {
        self.read_latency_total
            .saturating_add(self.write_latency_total)
    }

    /// Reads and writes per second of the task's wall-clock time; `0.0` when no time has
    /// passed.
    #[inline]
    pub fn operations_per_second(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            self.reads.saturating_add(self.writes) as f64 / secs
        } else {
            0.0
        }
    }
}

fn average(total: Duration, ops: u64) -> Duration {
    match u128::from(ops) {
        0 => Duration::ZERO,
        n => nanos_to_duration(total.as_nanos().checked_div(n).unwrap_or(0)),
    }
}

fn nanos_to_duration(nanos: u128) -> Duration {
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// The live I/O counters of one task.
#[derive(Debug, Default)]
pub(crate) struct IoCounters {
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
    reads: AtomicU64,
    writes: AtomicU64,
    read_nanos: AtomicU64,
    write_nanos: AtomicU64,
}

impl IoCounters {
    #[inline]
    pub(crate) fn record_read(&self, bytes: u64, latency: Duration) {
        self.bytes_read.fetch_add(bytes, Ordering::Relaxed);
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.read_nanos
            .fetch_add(duration_to_nanos(latency), Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn record_write(&self, bytes: u64, latency: Duration) {
        self.bytes_written.fetch_add(bytes, Ordering::Relaxed);
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.write_nanos
            .fetch_add(duration_to_nanos(latency), Ordering::Relaxed);
    }

    /// A snapshot, with the task's wall-clock time for the rate.
    pub(crate) fn usage(&self, wall: Duration) -> IoUsage {
        IoUsage {
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            read_latency_total: Duration::from_nanos(self.read_nanos.load(Ordering::Relaxed)),
            write_latency_total: Duration::from_nanos(self.write_nanos.load(Ordering::Relaxed)),
            wall,
        }
    }
}

/// `d` in nanoseconds, saturating at `u64::MAX` (about 584 years).
#[inline]
pub(crate) fn duration_to_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn counts_bytes_operations_and_average_latency() {
        let c = IoCounters::default();
        c.record_read(100, 2 * MS);
        c.record_read(300, 4 * MS);
        c.record_read(0, 9 * MS);
        c.record_write(50, 10 * MS);
        let io = c.usage(2 * 1000 * MS);
        assert_eq!(io.bytes_read(), 400);
        assert_eq!(io.bytes_written(), 50);
        assert_eq!(io.read_operations(), 3);
        assert_eq!(io.write_operations(), 1);
        assert_eq!(io.read_latency(), 5 * MS);
        assert_eq!(io.write_latency(), 10 * MS);
        assert_eq!(io.io_wait_time(), 25 * MS);
        assert_eq!(io.operations_per_second(), 2.0);
    }

    #[test]
    fn empty_usage_has_zero_latency_and_rate() {
        let io = IoCounters::default().usage(Duration::ZERO);
        assert_eq!(io, IoUsage::default());
        assert_eq!(io.read_latency(), Duration::ZERO);
        assert_eq!(io.write_latency(), Duration::ZERO);
        assert_eq!(io.operations_per_second(), 0.0);
    }

    #[test]
    fn huge_latencies_saturate() {
        assert_eq!(duration_to_nanos(Duration::MAX), u64::MAX);
        let c = IoCounters::default();
        c.record_write(1, Duration::MAX);
        assert_eq!(c.usage(MS).write_latency(), Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn free_functions_outside_a_task_are_no_ops() {
        record_read(10, MS);
        record_write(10, MS);
        assert!(super::super::TaskMetrics::current().is_none());
    }
}
