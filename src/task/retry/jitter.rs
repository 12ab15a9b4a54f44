//! [`Jitter`]: randomness added to backoff delays so that clients do not retry in lockstep.

use std::time::Duration;

use super::strategy::nanos_to_duration;

/// How a backoff delay is randomised, after AWS's "Exponential Backoff And Jitter".
///
/// With `d` the strategy's delay for the retry:
///
/// - `None`: exactly `d`.
/// - `Full`: uniform in `[0, d]`.
/// - `Equal`: `d/2` plus uniform in `[0, d/2]`, so in `[d/2, d]`.
/// - `Decorrelated`: `min(cap, uniform [base, prev * 3])`, where `prev` is the previous
///   delay (starting at `base`), `base` is the strategy's first delay and `cap` its
///   largest: `max` for `Linear` and `Exponential`, `3 * d` for `Fixed(d)`, zero for
///   `Immediate`. The retry number is ignored: each delay grows from the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// No randomness.
    #[default]
    None,
    /// Uniform between zero and the delay.
    Full,
    /// Half the delay plus a uniform share of the other half.
    Equal,
    /// Uniform between the base and three times the previous delay, capped.
    Decorrelated,
}

/// Uniform in `[lo, hi]` (`lo` when the range is empty).
pub(crate) fn uniform(rng: &mut fastrand::Rng, lo: Duration, hi: Duration) -> Duration {
    if hi <= lo {
        return lo;
    }
    nanos_to_duration(rng.u128(lo.as_nanos()..=hi.as_nanos()))
}

/// Full jitter: uniform in `[0, d]`.
pub(crate) fn full(rng: &mut fastrand::Rng, d: Duration) -> Duration {
    uniform(rng, Duration::ZERO, d)
}

/// Equal jitter: `d/2 + uniform [0, d - d/2]`, so in `[d/2, d]`.
pub(crate) fn equal(rng: &mut fastrand::Rng, d: Duration) -> Duration {
    let half = d.checked_div(2).unwrap_or_default();
    uniform(rng, half, d)
}

/// Decorrelated jitter: `min(cap, uniform [base, prev * 3])`.
pub(crate) fn decorrelated(
    rng: &mut fastrand::Rng,
    base: Duration,
    prev: Duration,
    cap: Duration,
) -> Duration {
    let hi = prev.saturating_mul(3).max(base);
    uniform(rng, base, hi).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn default_is_none() {
        assert_eq!(Jitter::default(), Jitter::None);
    }

    #[test]
    fn degenerate_ranges() {
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(full(&mut rng, Duration::ZERO), Duration::ZERO);
        assert_eq!(equal(&mut rng, Duration::ZERO), Duration::ZERO);
        assert_eq!(
            decorrelated(&mut rng, Duration::ZERO, Duration::ZERO, Duration::ZERO),
            Duration::ZERO
        );
        assert_eq!(uniform(&mut rng, ms(5), ms(1)), ms(5));
        let max = full(&mut rng, Duration::MAX);
        assert!(max <= Duration::MAX);
    }

    proptest! {
        #[test]
        fn full_within_zero_and_d(seed: u64, nanos in 0u64..=u64::MAX) {
            let d = Duration::from_nanos(nanos);
            let got = full(&mut fastrand::Rng::with_seed(seed), d);
            prop_assert!(got <= d);
        }

        #[test]
        fn equal_within_half_and_d(seed: u64, nanos in 0u64..=u64::MAX) {
            let d = Duration::from_nanos(nanos);
            let got = equal(&mut fastrand::Rng::with_seed(seed), d);
            prop_assert!(got >= d / 2 && got <= d);
        }

        #[test]
        fn decorrelated_within_base_and_cap(
            seed: u64,
            base in 0u64..1_000_000_000,
            extra_prev in 0u64..10_000_000_000,
            extra_cap in 0u64..10_000_000_000,
        ) {
            let base = Duration::from_nanos(base);
            let prev = base + Duration::from_nanos(extra_prev);
            let cap = base + Duration::from_nanos(extra_cap);
            let got = decorrelated(&mut fastrand::Rng::with_seed(seed), base, prev, cap);
            prop_assert!(got >= base && got <= cap);
            prop_assert!(got <= prev * 3);
        }
    }
}
