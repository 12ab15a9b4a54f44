//! [`TimePoint`]: an absolute moment given as a tokio `Instant`, a std `Instant` or a
//! `SystemTime`, for deadlines and delayed starts.

use std::sync::OnceLock;
use std::time::SystemTime;

use tokio::time::Instant;

/// The wall-clock time at `at`, read off one process-wide anchor: one clock read per
/// task instead of two, and consistent with the tokio clock (paused clocks included).
pub(crate) fn system_time_at(at: Instant) -> SystemTime {
    static ANCHOR: OnceLock<(SystemTime, std::time::Instant)> = OnceLock::new();
    let (wall, mono) = *ANCHOR.get_or_init(|| (SystemTime::now(), std::time::Instant::now()));
    let at = at.into_std();
    if at >= mono {
        wall.checked_add(at - mono).unwrap_or(wall)
    } else {
        wall.checked_sub(mono - at).unwrap_or(wall)
    }
}

/// A moment in time, for `deadline(..)` and `wait_until(..)`.
///
/// A `SystemTime` is converted against the tokio clock when the task starts, so a
/// wall-clock deadline and a paused test clock both work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimePoint {
    /// On the tokio clock (pausable in tests).
    Instant(Instant),
    /// On the wall clock.
    System(SystemTime),
}

impl TimePoint {
    /// The moment on the tokio clock; a past `SystemTime` maps to now.
    pub fn to_instant(self) -> Instant {
        match self {
            TimePoint::Instant(i) => i,
            TimePoint::System(t) => {
                let now = Instant::now();
                match t.duration_since(SystemTime::now()) {
                    Ok(ahead) => now.checked_add(ahead).unwrap_or(now + FAR_FUTURE),
                    Err(_) => now,
                }
            }
        }
    }
}

/// About 30 years: what "never" means for a timer.
const FAR_FUTURE: std::time::Duration = std::time::Duration::from_secs(86_400 * 365 * 30);

impl From<Instant> for TimePoint {
    fn from(i: Instant) -> Self {
        TimePoint::Instant(i)
    }
}

impl From<std::time::Instant> for TimePoint {
    fn from(i: std::time::Instant) -> Self {
        TimePoint::Instant(Instant::from_std(i))
    }
}

impl From<SystemTime> for TimePoint {
    fn from(t: SystemTime) -> Self {
        TimePoint::System(t)
    }
}
