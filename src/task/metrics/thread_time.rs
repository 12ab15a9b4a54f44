//! [`ThreadTime`]: the CPU time the calling thread has used, from
//! `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` through `rustix` (safe, maintained), where the
//! platform has that clock; elsewhere no CPU time is recorded.

use std::time::Duration;

/// A reading of the calling thread's CPU clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ThreadTime(Duration);

impl ThreadTime {
    /// The thread's CPU time now, or `None` where the platform has no per-thread CPU clock.
    #[cfg(all(
        unix,
        not(any(
            target_os = "solaris",
            target_os = "illumos",
            target_os = "netbsd",
            target_os = "redox",
            target_os = "horizon",
            target_os = "vita"
        ))
    ))]
    #[inline]
    pub(crate) fn try_now() -> Option<Self> {
        let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        let secs = u64::try_from(ts.tv_sec).ok()?;
        let nanos = u32::try_from(ts.tv_nsec).ok()?;
        Some(ThreadTime(Duration::new(secs, nanos)))
    }

    /// The thread's CPU time now, or `None` where the platform has no per-thread CPU clock.
    #[cfg(not(all(
        unix,
        not(any(
            target_os = "solaris",
            target_os = "illumos",
            target_os = "netbsd",
            target_os = "redox",
            target_os = "horizon",
            target_os = "vita"
        ))
    )))]
    #[inline]
    pub(crate) fn try_now() -> Option<Self> {
        None
    }

    /// The reading as a duration since an unspecified start.
    pub(crate) fn as_duration(self) -> Duration {
        self.0
    }

    /// CPU time used since this reading, on the same thread.
    #[cfg(test)]
    pub(crate) fn elapsed(self) -> Option<Duration> {
        Self::try_now()?.0.checked_sub(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_moves_with_work() {
        let Some(start) = ThreadTime::try_now() else {
            return; // no per-thread CPU clock here
        };
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        assert!(start.elapsed().unwrap_or_default() > Duration::ZERO);
    }
}
