//! [`RetryStrategy`]: how long to wait before each retry, before jitter.

use std::time::Duration;

use crate::error::ConfigError;

/// How the delay before a retry grows with the retry number.
///
/// Retries are numbered from 1 (the first retry follows the first failed attempt).
/// Delays are computed with saturating arithmetic: a delay that would overflow or
/// exceed the strategy's cap is the cap, never a panic.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum RetryStrategy {
    /// Retry at once.
    Immediate,
    /// Wait the same duration before every retry.
    Fixed(Duration),
    /// Wait `base * n` before retry `n`, at most `max`.
    Linear {
        /// Delay before the first retry, and the step added for each further one.
        base: Duration,
        /// Longest delay.
        max: Duration,
    },
    /// Wait `base * factor^(n-1)` before retry `n`, at most `max`.
    Exponential {
        /// Delay before the first retry.
        base: Duration,
        /// Growth per retry; finite and at least 1.0.
        factor: f64,
        /// Longest delay.
        max: Duration,
    },
}

impl RetryStrategy {
    /// The delay before retry `retry` (1-based; 0 is treated as 1).
    ///
    /// Never panics, even for invalid settings: an overflowing, infinite or NaN delay
    /// is the strategy's `max`, a negative one is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::task::RetryStrategy;
    ///
    /// let s = RetryStrategy::Exponential {
    ///     base: Duration::from_millis(100),
    ///     factor: 2.0,
    ///     max: Duration::from_secs(1),
    /// };
    /// assert_eq!(s.delay(3), Duration::from_millis(400));
    /// assert_eq!(s.delay(u32::MAX), Duration::from_secs(1));
    /// ```
    pub fn delay(&self, retry: u32) -> Duration {
        let n = retry.max(1);
        match *self {
            RetryStrategy::Immediate => Duration::ZERO,
            RetryStrategy::Fixed(d) => d,
            RetryStrategy::Linear { base, max } => base.checked_mul(n).map_or(max, |d| d.min(max)),
            RetryStrategy::Exponential { base, factor, max } => exponential(base, factor, max, n),
        }
    }

    /// The largest delay this strategy hands out: the cap of decorrelated jitter.
    ///
    /// `Fixed(d)` has no cap of its own; decorrelated jitter uses `3 * d` (saturating)
    /// so that it still spreads retries over `[d, 3d]`.
    pub(crate) fn cap(&self) -> Duration {
        match *self {
            RetryStrategy::Immediate => Duration::ZERO,
            RetryStrategy::Fixed(d) => d.saturating_mul(3),
            RetryStrategy::Linear { max, .. } | RetryStrategy::Exponential { max, .. } => max,
        }
    }

    /// Checks the settings: a positive delay for `Fixed` (retrying at once is
    /// [`Immediate`](Self::Immediate), and every other zero duration of the crate is a
    /// [`ConfigError`] too), a finite factor of at least 1.0, a positive base for
    /// `Linear` and `Exponential`, and `base <= max`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] for a bad factor, [`ConfigError::ZeroDuration`] for a
    /// zero fixed delay or base, [`ConfigError::Conflict`] when `base > max`.
    #[inline]
    pub fn validate(&self) -> Result<(), ConfigError> {
        // The common, valid case is a few comparisons, inlined; errors are built apart.
        let valid = match *self {
            RetryStrategy::Immediate => true,
            RetryStrategy::Fixed(d) => !d.is_zero(),
            RetryStrategy::Linear { base, max } => !base.is_zero() && base <= max,
            RetryStrategy::Exponential { base, factor, max } => {
                factor.is_finite() && factor >= 1.0 && !base.is_zero() && base <= max
            }
        };
        if valid { Ok(()) } else { self.invalid() }
    }

    /// The error of a strategy `validate` found invalid.
    #[cold]
    #[inline(never)]
    fn invalid(&self) -> Result<(), ConfigError> {
        match *self {
            RetryStrategy::Immediate => Ok(()),
            RetryStrategy::Fixed(d) => {
                ConfigError::check_duration("fixed retry delay", d).map(|_| ())
            }
            RetryStrategy::Linear { base, max } => check_base_max(base, max),
            RetryStrategy::Exponential { base, factor, max } => {
                if !factor.is_finite() || factor < 1.0 {
                    return Err(ConfigError::Invalid {
                        setting: "backoff factor",
                        reason: format!("{factor} must be finite and at least 1.0"),
                    });
                }
                check_base_max(base, max)
            }
        }
    }
}

fn check_base_max(base: Duration, max: Duration) -> Result<(), ConfigError> {
    ConfigError::check_duration("retry base delay", base)?;
    if base > max {
        return Err(ConfigError::Conflict {
            reason: format!("retry base delay {base:?} is longer than max delay {max:?}"),
        });
    }
    Ok(())
}

/// `base * factor^(n-1)` in nanoseconds, capped at `max`, computed in `f64`.
fn exponential(base: Duration, factor: f64, max: Duration, n: u32) -> Duration {
    let exp = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
    let nanos = base.as_nanos() as f64 * factor.powi(exp);
    if nanos.is_nan() || nanos >= max.as_nanos() as f64 {
        return max;
    }
    // Below `max`, so it fits; `as` saturates negative values to 0.
    nanos_to_duration(nanos as u128).min(max)
}

/// A duration from a nanosecond count, saturating at `Duration::MAX`.
pub(crate) fn nanos_to_duration(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    // The remainder is below 10^9 and fits a u32.
    let sub = u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0);
    Duration::new(secs, sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn first_six(s: RetryStrategy) -> Vec<u64> {
        (1..=6).map(|n| s.delay(n).as_millis() as u64).collect()
    }

    #[test]
    fn immediate_is_zero() {
        assert_eq!(first_six(RetryStrategy::Immediate), [0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn fixed_is_constant() {
        assert_eq!(
            first_six(RetryStrategy::Fixed(ms(250))),
            [250, 250, 250, 250, 250, 250]
        );
    }

    #[test]
    fn linear_grows_by_base_then_caps() {
        let s = RetryStrategy::Linear {
            base: ms(100),
            max: ms(450),
        };
        assert_eq!(first_six(s), [100, 200, 300, 400, 450, 450]);
    }

    #[test]
    fn exponential_doubles_then_caps() {
        let s = RetryStrategy::Exponential {
            base: ms(100),
            factor: 2.0,
            max: ms(1000),
        };
        assert_eq!(first_six(s), [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn exponential_fractional_factor() {
        let s = RetryStrategy::Exponential {
            base: ms(100),
            factor: 1.5,
            max: Duration::from_secs(10),
        };
        assert_eq!(first_six(s), [100, 150, 225, 337, 506, 759]);
    }

    #[test]
    fn retry_zero_is_treated_as_first() {
        let s = RetryStrategy::Linear {
            base: ms(100),
            max: ms(450),
        };
        assert_eq!(s.delay(0), ms(100));
    }

    #[test]
    fn huge_values_saturate_to_max() {
        let max = Duration::from_secs(60);
        let lin = RetryStrategy::Linear {
            base: Duration::MAX,
            max,
        };
        assert_eq!(lin.delay(u32::MAX), max);
        let exp = RetryStrategy::Exponential {
            base: Duration::from_secs(1),
            factor: 1e300,
            max,
        };
        assert_eq!(exp.delay(u32::MAX), max);
        let inf = RetryStrategy::Exponential {
            base: Duration::from_secs(1),
            factor: f64::INFINITY,
            max,
        };
        assert_eq!(inf.delay(2), max);
        let nan = RetryStrategy::Exponential {
            base: Duration::from_secs(1),
            factor: f64::NAN,
            max,
        };
        assert_eq!(nan.delay(2), max);
        let neg = RetryStrategy::Exponential {
            base: Duration::from_secs(1),
            factor: -3.0,
            max,
        };
        assert_eq!(neg.delay(2), Duration::ZERO);
        let top = RetryStrategy::Exponential {
            base: Duration::MAX,
            factor: 1.0,
            max: Duration::MAX,
        };
        assert_eq!(top.delay(5), Duration::MAX);
    }

    #[test]
    fn validation_errors() {
        let bad_factor = RetryStrategy::Exponential {
            base: ms(100),
            factor: 0.5,
            max: ms(1000),
        };
        assert!(matches!(
            bad_factor.validate(),
            Err(ConfigError::Invalid {
                setting: "backoff factor",
                ..
            })
        ));
        let nan = RetryStrategy::Exponential {
            base: ms(100),
            factor: f64::NAN,
            max: ms(1000),
        };
        assert!(matches!(
            nan.validate(),
            Err(ConfigError::Invalid {
                setting: "backoff factor",
                ..
            })
        ));
        let inverted = RetryStrategy::Linear {
            base: ms(2000),
            max: ms(1000),
        };
        assert_eq!(
            inverted.validate(),
            Err(ConfigError::Conflict {
                reason: "retry base delay 2s is longer than max delay 1s".into()
            })
        );
        let zero = RetryStrategy::Exponential {
            base: Duration::ZERO,
            factor: 2.0,
            max: ms(1000),
        };
        assert_eq!(
            zero.validate(),
            Err(ConfigError::ZeroDuration {
                setting: "retry base delay"
            })
        );
        assert_eq!(RetryStrategy::Immediate.validate(), Ok(()));
        assert_eq!(RetryStrategy::Fixed(ms(5)).validate(), Ok(()));
    }

    #[test]
    fn caps() {
        assert_eq!(RetryStrategy::Immediate.cap(), Duration::ZERO);
        assert_eq!(RetryStrategy::Fixed(ms(100)).cap(), ms(300));
        assert_eq!(RetryStrategy::Fixed(Duration::MAX).cap(), Duration::MAX);
    }
}
