//! [`TimePoint`]: an absolute moment given as a tokio `Instant`, a std `Instant` or a
//! `SystemTime`, for deadlines and delayed starts.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use tokio::time::{Instant, Sleep};

/// The wall-clock time at `at`, read off one process-wide anchor: one clock read per
/// task instead of two, and consistent with the tokio clock (paused clocks included).
pub(crate) fn system_time_at(at: Instant) -> SystemTime {
    static ANCHOR: OnceLock<(SystemTime, std::time::Instant)> = OnceLock::new();
    let (wall, mono) = *ANCHOR.get_or_init(|| (SystemTime::now(), std::time::Instant::now()));
    let at = at.into_std();
    if at >= mono {
        wall.checked_add(at.saturating_duration_since(mono))
            .unwrap_or(wall)
    } else {
        wall.checked_sub(mono.saturating_duration_since(at))
            .unwrap_or(wall)
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
                    Ok(ahead) => after(now, ahead),
                    Err(_) => now,
                }
            }
        }
    }
}

/// About 30 years: what "never" means for a timer (tokio's own `sleep` uses the same).
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `d` after `at`, saturating: a duration too long for the clock (`Duration::MAX`, a
/// timeout of "forever") means about 30 years, as tokio's own `sleep` does, and past
/// that the latest instant the clock can represent is never exceeded. Every deadline the
/// library computes goes through here (or [`after_std`]), so no `Instant + Duration` can
/// panic on overflow.
#[inline]
pub(crate) fn after(at: Instant, d: Duration) -> Instant {
    Instant::from_std(after_std(at.into_std(), d))
}

/// [`after`] on the std clock.
#[inline]
pub(crate) fn after_std(at: std::time::Instant, d: Duration) -> std::time::Instant {
    at.checked_add(d)
        .or_else(|| at.checked_add(FAR_FUTURE))
        .unwrap_or(at)
}

/// A tokio timer at `at`, or `None` outside a runtime with the time driver. With
/// [`arm_in`], the one place the library creates a timer (tasks, the orchestra's
/// scheduler, the timed operators' `LazySleep`): `tokio::time::sleep_until` panics in
/// those cases, and that panic must not reach the user.
pub(crate) fn try_sleep_until(at: Instant) -> Option<Sleep> {
    tokio::runtime::Handle::try_current().ok()?;
    // A runtime built without `enable_time` panics here.
    catch_unwind(|| tokio::time::sleep_until(at)).ok()
}

/// Arms the timer in `slot` for `at`: resets the one there, or creates it in place.
/// `false`, the slot left empty, outside a runtime with the time driver.
///
/// In place rather than `slot.set(try_sleep_until(at)?)`: the large `Sleep` is not moved.
/// A task with a timeout and retries (the `benches/task.rs` workload) costs 2524
/// instructions this way against 2626 with the move (callgrind, per task, -3.9%).
#[inline]
pub(crate) fn arm_in(mut slot: Pin<&mut Option<Sleep>>, at: Instant) -> bool {
    if let Some(sleep) = slot.as_mut().as_pin_mut() {
        sleep.reset(at);
        return true;
    }
    if tokio::runtime::Handle::try_current().is_err() {
        return false;
    }
    // A runtime built without `enable_time` panics here.
    catch_unwind(AssertUnwindSafe(|| {
        slot.set(Some(tokio::time::sleep_until(at)))
    }))
    .is_ok()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_saturates() {
        let now = Instant::now();
        assert_eq!(
            after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert_eq!(after(now, Duration::MAX), now + FAR_FUTURE);
        let std_now = std::time::Instant::now();
        assert_eq!(after_std(std_now, Duration::MAX), std_now + FAR_FUTURE);
    }

    #[test]
    fn no_timer_outside_a_runtime_or_without_the_time_driver() {
        assert!(try_sleep_until(Instant::now()).is_none());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async { assert!(try_sleep_until(Instant::now()).is_none()) });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async { assert!(try_sleep_until(Instant::now()).is_some()) });
        let mut slot = Box::pin(None);
        assert!(!arm_in(slot.as_mut(), Instant::now()));
        assert!(slot.is_none());
        rt.block_on(async {
            assert!(arm_in(slot.as_mut(), Instant::now()));
            assert!(arm_in(slot.as_mut(), Instant::now()));
        });
        assert!(slot.is_some());
    }
}
