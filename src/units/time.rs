//! [`TimeExt`] and the `const fn`s behind it: numbers as [`Duration`]s.

use std::time::Duration;

use super::sealed;

const SECS_PER_MINUTE: u64 = 60;
const SECS_PER_HOUR: u64 = 60 * SECS_PER_MINUTE;
const SECS_PER_DAY: u64 = 24 * SECS_PER_HOUR;

/// `n` milliseconds, usable in constants.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// const POLL_INTERVAL: Duration = sweet_async::units::millis(250);
/// assert_eq!(POLL_INTERVAL, Duration::from_millis(250));
/// ```
pub const fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `n` seconds, usable in constants.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// const TIMEOUT: Duration = sweet_async::units::seconds(30);
/// assert_eq!(TIMEOUT, Duration::from_secs(30));
/// ```
pub const fn seconds(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `n` minutes, saturating at [`Duration::MAX`]; usable in constants.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// const IDLE: Duration = sweet_async::units::minutes(5);
/// assert_eq!(IDLE, Duration::from_secs(300));
/// ```
pub const fn minutes(n: u64) -> Duration {
    secs_times(n, SECS_PER_MINUTE)
}

/// `n` hours, saturating at [`Duration::MAX`]; usable in constants.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// const TTL: Duration = sweet_async::units::hours(1);
/// assert_eq!(TTL, Duration::from_secs(3600));
/// ```
pub const fn hours(n: u64) -> Duration {
    secs_times(n, SECS_PER_HOUR)
}

/// `n` days, saturating at [`Duration::MAX`]; usable in constants.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// const RETENTION: Duration = sweet_async::units::days(7);
/// assert_eq!(RETENTION, Duration::from_secs(7 * 86_400));
/// assert_eq!(sweet_async::units::days(u64::MAX), Duration::MAX);
/// ```
pub const fn days(n: u64) -> Duration {
    secs_times(n, SECS_PER_DAY)
}

/// `n * factor` seconds, or [`Duration::MAX`] when that overflows.
const fn secs_times(n: u64, factor: u64) -> Duration {
    match n.checked_mul(factor) {
        Some(secs) => Duration::from_secs(secs),
        None => Duration::MAX,
    }
}

/// `secs` seconds as a `Duration`: zero when negative or NaN, [`Duration::MAX`] when too
/// large or infinite.
fn secs_f64(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

/// Numbers as durations: `30.seconds()`, `500.millis()`, `1.hour()`, `2.5.seconds()`.
///
/// Implemented for `u8`, `u16`, `u32`, `u64`, `usize`, `i32`, `i64` and `f64`. An
/// unsuffixed integer literal is an `i32`, so `30.seconds()` just works.
///
/// Never panics and never overflows:
///
/// - a value too large for a `Duration` saturates at [`Duration::MAX`]
///   (`u64::MAX.days() == Duration::MAX`, `f64::INFINITY.seconds() == Duration::MAX`);
/// - a negative value (`(-5).seconds()`, `(-0.5).seconds()`) and `f64::NAN` give
///   [`Duration::ZERO`], which settings that need a positive duration reject as
///   [`ConfigError::ZeroDuration`](crate::error::ConfigError::ZeroDuration).
///
/// For constants use the `const fn`s of [`units`](crate::units) ([`seconds`], [`minutes`], ...).
///
/// # Examples
///
/// Database connection timeouts:
///
/// ```
/// use std::time::Duration;
/// use sweet_async::prelude::*;
///
/// struct DatabaseConfig {
///     connection_timeout: Duration,
///     query_timeout: Duration,
///     idle_timeout: Duration,
///     max_lifetime: Duration,
/// }
///
/// let db_config = DatabaseConfig {
///     connection_timeout: 10.seconds(),
///     query_timeout: 30.seconds(),
///     idle_timeout: 5.minutes(),
///     max_lifetime: 1.hour(),
/// };
/// assert_eq!(db_config.connection_timeout, Duration::from_secs(10));
/// assert_eq!(db_config.query_timeout, Duration::from_secs(30));
/// assert_eq!(db_config.idle_timeout, Duration::from_secs(300));
/// assert_eq!(db_config.max_lifetime, Duration::from_secs(3600));
/// ```
///
/// Retry delays with exponential backoff:
///
/// ```
/// use std::time::Duration;
/// use sweet_async::prelude::*;
///
/// let retry_delays = [
///     100.milliseconds(),
///     500.milliseconds(),
///     2.seconds(),
///     10.seconds(),
///     1.minute(),
/// ];
/// let total: Duration = retry_delays.iter().sum();
/// assert_eq!(total, Duration::from_millis(72_600));
/// ```
pub trait TimeExt: sealed::Sealed + Copy {
    /// This many milliseconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(250.millis(), Duration::from_millis(250));
    /// assert_eq!(1.5.millis(), Duration::from_micros(1500));
    /// ```
    fn millis(self) -> Duration;

    /// This many seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(30.seconds(), Duration::from_secs(30));
    /// assert_eq!(2.5.seconds(), Duration::from_millis(2500));
    /// assert_eq!((-3).seconds(), Duration::ZERO);
    /// ```
    fn seconds(self) -> Duration;

    /// This many minutes, saturating at [`Duration::MAX`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(15.minutes(), Duration::from_secs(900));
    /// assert_eq!(0.5.minutes(), Duration::from_secs(30));
    /// ```
    fn minutes(self) -> Duration;

    /// This many hours, saturating at [`Duration::MAX`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(6.hours(), Duration::from_secs(6 * 3600));
    /// ```
    fn hours(self) -> Duration;

    /// This many days, saturating at [`Duration::MAX`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(7.days(), Duration::from_secs(7 * 86_400));
    /// assert_eq!(u64::MAX.days(), Duration::MAX);
    /// ```
    fn days(self) -> Duration;

    /// This many milliseconds (same as [`millis`](TimeExt::millis)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(500.milliseconds(), Duration::from_millis(500));
    /// ```
    fn milliseconds(self) -> Duration {
        self.millis()
    }

    /// Singular of [`milliseconds`](TimeExt::milliseconds), for `1.millisecond()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(1.millisecond(), Duration::from_millis(1));
    /// ```
    fn millisecond(self) -> Duration {
        self.millis()
    }

    /// Singular of [`seconds`](TimeExt::seconds), for `1.second()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(1.second(), Duration::from_secs(1));
    /// ```
    fn second(self) -> Duration {
        self.seconds()
    }

    /// Singular of [`minutes`](TimeExt::minutes), for `1.minute()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(1.minute(), Duration::from_secs(60));
    /// ```
    fn minute(self) -> Duration {
        self.minutes()
    }

    /// Singular of [`hours`](TimeExt::hours), for `1.hour()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(1.hour(), Duration::from_secs(3600));
    /// ```
    fn hour(self) -> Duration {
        self.hours()
    }

    /// Singular of [`days`](TimeExt::days), for `1.day()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(1.day(), Duration::from_secs(86_400));
    /// ```
    fn day(self) -> Duration {
        self.days()
    }
}

/// Implements [`TimeExt`] through the `const fn`s, after converting to `u64` with `$to_u64`.
macro_rules! time_ext_int {
    ($($t:ty => $to_u64:expr),* $(,)?) => {$(
        impl TimeExt for $t {
            fn millis(self) -> Duration {
                millis($to_u64(self))
            }
            fn seconds(self) -> Duration {
                seconds($to_u64(self))
            }
            fn minutes(self) -> Duration {
                minutes($to_u64(self))
            }
            fn hours(self) -> Duration {
                hours($to_u64(self))
            }
            fn days(self) -> Duration {
                days($to_u64(self))
            }
        }
    )*};
}

time_ext_int! {
    u8 => u64::from,
    u16 => u64::from,
    u32 => u64::from,
    u64 => u64::from,
    usize => |n: usize| u64::try_from(n).unwrap_or(u64::MAX),
    i32 => |n: i32| u64::try_from(n).unwrap_or(0),
    i64 => |n: i64| u64::try_from(n).unwrap_or(0),
}

impl TimeExt for f64 {
    fn millis(self) -> Duration {
        secs_f64(self / 1000.0)
    }
    fn seconds(self) -> Duration {
        secs_f64(self)
    }
    fn minutes(self) -> Duration {
        secs_f64(self * SECS_PER_MINUTE as f64)
    }
    fn hours(self) -> Duration {
        secs_f64(self * SECS_PER_HOUR as f64)
    }
    fn days(self) -> Duration {
        secs_f64(self * SECS_PER_DAY as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn time_exact_values() {
        assert_eq!(250u8.millis(), Duration::from_millis(250));
        assert_eq!(500u16.milliseconds(), Duration::from_millis(500));
        assert_eq!(1u32.millisecond(), Duration::from_millis(1));
        assert_eq!(30u64.seconds(), Duration::from_secs(30));
        assert_eq!(1usize.second(), Duration::from_secs(1));
        assert_eq!(5i32.minutes(), Duration::from_secs(300));
        assert_eq!(1i64.minute(), Duration::from_secs(60));
        assert_eq!(24.hours(), Duration::from_secs(86_400));
        assert_eq!(1.hour(), Duration::from_secs(3600));
        assert_eq!(7.days(), Duration::from_secs(604_800));
        assert_eq!(1.day(), Duration::from_secs(86_400));
    }

    #[test]
    fn time_float_values() {
        assert_eq!(2.5.seconds(), Duration::from_millis(2500));
        assert_eq!(1.5.millis(), Duration::from_micros(1500));
        assert_eq!(0.5.minutes(), Duration::from_secs(30));
        assert_eq!(0.25.hours(), Duration::from_secs(900));
        assert_eq!(0.5.days(), Duration::from_secs(43_200));
    }

    #[test]
    fn time_saturates_at_the_limits() {
        assert_eq!(u64::MAX.days(), Duration::MAX);
        assert_eq!(u64::MAX.hours(), Duration::MAX);
        assert_eq!(u64::MAX.minutes(), Duration::MAX);
        assert_eq!(u64::MAX.seconds(), Duration::from_secs(u64::MAX));
        assert_eq!(u64::MAX.millis(), Duration::from_millis(u64::MAX));
        assert_eq!(i64::MAX.days(), Duration::MAX);
        assert_eq!(usize::MAX.days(), Duration::MAX);
        assert_eq!(f64::INFINITY.seconds(), Duration::MAX);
        assert_eq!(f64::MAX.millis(), Duration::MAX);
        assert_eq!(1e300.days(), Duration::MAX);
        assert_eq!(days(u64::MAX), Duration::MAX);
        // The largest day count that still fits is exact.
        let max_days = u64::MAX / SECS_PER_DAY;
        assert_eq!(
            max_days.days(),
            Duration::from_secs(max_days * SECS_PER_DAY)
        );
        assert_eq!((max_days + 1).days(), Duration::MAX);
    }

    #[test]
    fn negative_and_nan_give_zero() {
        assert_eq!((-5).seconds(), Duration::ZERO);
        assert_eq!(i32::MIN.days(), Duration::ZERO);
        assert_eq!((-1i64).millis(), Duration::ZERO);
        assert_eq!(i64::MIN.hours(), Duration::ZERO);
        assert_eq!((-0.5).seconds(), Duration::ZERO);
        assert_eq!((-0.0).seconds(), Duration::ZERO);
        assert_eq!(f64::NEG_INFINITY.minutes(), Duration::ZERO);
        assert_eq!(f64::NAN.seconds(), Duration::ZERO);
        assert_eq!(f64::NAN.millis(), Duration::ZERO);
        assert_eq!(f64::MIN_POSITIVE.seconds(), Duration::ZERO);
    }

    #[test]
    fn const_fns_work_in_constants() {
        const T: Duration = minutes(2);
        assert_eq!(T, Duration::from_secs(120));
        assert_eq!(millis(7), Duration::from_millis(7));
        assert_eq!(hours(2), Duration::from_secs(7200));
    }

    proptest! {
        #[test]
        fn seconds_match_std(n in any::<u64>()) {
            prop_assert_eq!(n.seconds(), Duration::from_secs(n));
            prop_assert_eq!(seconds(n), Duration::from_secs(n));
            prop_assert_eq!(n.millis(), Duration::from_millis(n));
        }

        #[test]
        fn minutes_match_checked_model(n in any::<u64>()) {
            let expected = n.checked_mul(60).map_or(Duration::MAX, Duration::from_secs);
            prop_assert_eq!(n.minutes(), expected);
        }

        #[test]
        fn f64_seconds_never_panics(x in any::<f64>()) {
            let d = x.seconds();
            if x.is_nan() || x <= 0.0 {
                prop_assert_eq!(d, Duration::ZERO);
            }
        }
    }
}
