//! Time a task spent being polled: [`CpuUsage`].

use std::time::Duration;

/// How much a task was polled and how much CPU it used while polled.
///
/// `poll_time` is wall-clock time inside `poll` (it includes time the thread was
/// descheduled or blocked); `cpu_time` is the CPU time the polling thread used in the same
/// spans, so a task blocking a worker thread shows a high `poll_time` with a low
/// `cpu_time`. Time a task spends waiting between polls counts in neither.
///
/// # Examples
///
/// Performance regression detection: compare a run's utilization with a baseline.
///
/// ```
/// use sweet_async::task::TaskMetrics;
///
/// let metrics = TaskMetrics::new();
/// {
///     let _poll = metrics.enter_poll();
///     let _sum: u64 = (0..100_000u64).sum(); // the task's work
/// }
/// metrics.finish();
///
/// let baseline = 0.40;
/// let cpu = metrics.cpu_usage();
/// if cpu.utilization() > baseline * 1.5 {
///     eprintln!("CPU usage 50% above baseline: {:.0}%", cpu.utilization() * 100.0);
/// }
/// assert_eq!(cpu.poll_count(), 1);
/// assert!(cpu.poll_time() <= cpu.wall_time());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuUsage {
    polls: u64,
    poll_time: Duration,
    cpu_time: Duration,
    wall: Duration,
}

impl CpuUsage {
    pub(crate) fn new(polls: u64, poll_time: Duration, cpu_time: Duration, wall: Duration) -> Self {
        CpuUsage {
            polls,
            poll_time,
            cpu_time,
            wall,
        }
    }

    /// How many times the task's work was polled.
    #[inline]
    pub fn poll_count(&self) -> u64 {
        self.polls
    }

    /// Wall-clock time spent inside `poll`, summed over all polls.
    #[inline]
    pub fn poll_time(&self) -> Duration {
        self.poll_time
    }

    /// CPU time the polling thread used while the task was polled (zero where the
    /// platform cannot measure per-thread CPU time).
    #[inline]
    pub fn cpu_time(&self) -> Duration {
        self.cpu_time
    }

    /// Wall-clock time from the task's start to now, or to its end once it finished.
    #[inline]
    pub fn wall_time(&self) -> Duration {
        self.wall
    }

    /// Share of the task's wall-clock time it spent on a CPU: `cpu_time / wall_time`,
    /// between `0.0` and `1.0`; `0.0` when no time has passed.
    #[inline]
    pub fn utilization(&self) -> f64 {
        let wall = self.wall.as_secs_f64();
        if wall > 0.0 {
            (self.cpu_time.as_secs_f64() / wall).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn utilization_is_cpu_over_wall() {
        let cpu = CpuUsage::new(3, 40 * MS, 25 * MS, 100 * MS);
        assert_eq!(cpu.poll_count(), 3);
        assert_eq!(cpu.poll_time(), 40 * MS);
        assert_eq!(cpu.cpu_time(), 25 * MS);
        assert_eq!(cpu.wall_time(), 100 * MS);
        assert_eq!(cpu.utilization(), 0.25);
    }

    #[test]
    fn utilization_is_clamped_and_zero_without_wall_time() {
        assert_eq!(CpuUsage::new(1, MS, 3 * MS, 2 * MS).utilization(), 1.0);
        assert_eq!(CpuUsage::new(1, MS, MS, Duration::ZERO).utilization(), 0.0);
        assert_eq!(CpuUsage::default().utilization(), 0.0);
    }
}
