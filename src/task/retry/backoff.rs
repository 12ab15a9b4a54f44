//! [`Backoff`]: the stateful sequence of delays of one run.

use std::iter::FusedIterator;
use std::time::Duration;

use super::{Jitter, RetryPolicy, jitter};

/// The delays before each retry of one run, jitter applied.
///
/// Created by [`RetryPolicy::backoff`] or [`RetryPolicy::backoff_with_seed`]. Hands out
/// at most [`max_retries`](RetryPolicy::max_retries) delays, then `None`. It does not
/// sleep and does not watch the clock: the caller sleeps each delay and enforces the
/// policy's [`max_elapsed`](RetryPolicy::max_elapsed) budget, read through
/// [`policy`](Backoff::policy).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use sweet_async::task::{RetryPolicy, RetryStrategy};
///
/// let policy = RetryPolicy::new(RetryStrategy::Linear {
///     base: Duration::from_millis(100),
///     max: Duration::from_millis(250),
/// });
/// let mut backoff = policy.backoff();
/// assert_eq!(backoff.next_delay(), Some(Duration::from_millis(100)));
/// assert_eq!(backoff.next_delay(), Some(Duration::from_millis(200)));
/// assert_eq!(backoff.next_delay(), Some(Duration::from_millis(250)));
/// assert_eq!(backoff.next_delay(), None); // 3 retries by default
/// assert_eq!(backoff.retries(), 3);
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    retries: u32,
    /// Previous delay, for decorrelated jitter.
    prev: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    pub(crate) fn new(policy: RetryPolicy, rng: fastrand::Rng) -> Self {
        let prev = policy.strategy().delay(1);
        Backoff {
            policy,
            retries: 0,
            prev,
            rng,
        }
    }

    /// The delay to wait before the next retry, or `None` once every allowed retry
    /// has been handed a delay.
    pub fn next_delay(&mut self) -> Option<Duration> {
        if self.retries >= self.policy.max_retries() {
            return None;
        }
        self.retries = self.retries.saturating_add(1);
        let strategy = self.policy.strategy();
        let d = strategy.delay(self.retries);
        let delay = match self.policy.jitter() {
            Jitter::None => d,
            Jitter::Full => jitter::full(&mut self.rng, d),
            Jitter::Equal => jitter::equal(&mut self.rng, d),
            Jitter::Decorrelated => {
                jitter::decorrelated(&mut self.rng, strategy.delay(1), self.prev, strategy.cap())
            }
        };
        self.prev = delay;
        Some(delay)
    }

    /// How many delays have been handed out so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The policy this sequence follows (for its time budget).
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    fn remaining(&self) -> u32 {
        self.policy.max_retries().saturating_sub(self.retries)
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.next_delay()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining()).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

impl ExactSizeIterator for Backoff {}

impl FusedIterator for Backoff {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::retry::RetryStrategy;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn exp() -> RetryStrategy {
        RetryStrategy::Exponential {
            base: ms(100),
            factor: 2.0,
            max: ms(1000),
        }
    }

    #[test]
    fn stops_after_max_retries() {
        let policy = RetryPolicy::new(exp()).with_max_retries(6);
        let mut b = policy.backoff();
        assert_eq!(b.len(), 6);
        let delays: Vec<u128> = b.by_ref().map(|d| d.as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.retries(), 6);
        assert_eq!(b.next_delay(), None);
        assert_eq!(b.next(), None);
        assert_eq!(b.retries(), 6);
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn zero_retries_gives_nothing() {
        let mut b = RetryPolicy::new(exp()).with_max_retries(0).backoff();
        assert_eq!(b.next_delay(), None);
        assert_eq!(b.retries(), 0);
    }

    #[test]
    fn exposes_budget_through_policy() {
        let policy = RetryPolicy::new(exp()).with_max_elapsed(Duration::from_secs(9));
        assert_eq!(
            policy.backoff().policy().max_elapsed(),
            Some(Duration::from_secs(9))
        );
    }

    #[test]
    fn same_seed_same_sequence() {
        for jitter in [Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
            let policy = RetryPolicy::new(exp())
                .with_jitter(jitter)
                .with_max_retries(20);
            let a: Vec<Duration> = policy.backoff_with_seed(42).collect();
            let b: Vec<Duration> = policy.backoff_with_seed(42).collect();
            let c: Vec<Duration> = policy.backoff_with_seed(43).collect();
            assert_eq!(a, b, "{jitter:?}");
            assert_ne!(a, c, "{jitter:?}");
            assert_eq!(a.len(), 20);
        }
    }

    #[test]
    fn clone_continues_identically() {
        let policy = RetryPolicy::new(exp())
            .with_jitter(Jitter::Full)
            .with_max_retries(10);
        let mut a = policy.backoff_with_seed(5);
        a.next_delay();
        let b = a.clone();
        assert_eq!(a.collect::<Vec<_>>(), b.collect::<Vec<_>>());
    }

    #[test]
    fn decorrelated_on_immediate_and_fixed() {
        let imm = RetryPolicy::new(RetryStrategy::Immediate)
            .with_jitter(Jitter::Decorrelated)
            .with_max_retries(5);
        assert!(imm.backoff_with_seed(1).all(|d| d == Duration::ZERO));
        let fixed = RetryPolicy::new(RetryStrategy::Fixed(ms(100)))
            .with_jitter(Jitter::Decorrelated)
            .with_max_retries(50);
        assert!(
            fixed
                .backoff_with_seed(1)
                .all(|d| d >= ms(100) && d <= ms(300))
        );
    }

    fn strategy() -> impl Strategy<Value = RetryStrategy> {
        let base = 1u64..5_000;
        let max = 5_000u64..60_000;
        prop_oneof![
            Just(RetryStrategy::Immediate),
            (1u64..5_000).prop_map(|d| RetryStrategy::Fixed(ms(d))),
            (base.clone(), max.clone()).prop_map(|(b, m)| RetryStrategy::Linear {
                base: ms(b),
                max: ms(m)
            }),
            (base, 1.0f64..4.0, max).prop_map(|(b, f, m)| RetryStrategy::Exponential {
                base: ms(b),
                factor: f,
                max: ms(m)
            }),
        ]
    }

    proptest! {
        #[test]
        fn full_jitter_in_zero_to_d(s in strategy(), seed: u64) {
            let policy = RetryPolicy::new(s).with_jitter(Jitter::Full).with_max_retries(12);
            for (i, got) in policy.backoff_with_seed(seed).enumerate() {
                let d = s.delay(i as u32 + 1);
                prop_assert!(got <= d, "retry {}: {:?} > {:?}", i + 1, got, d);
            }
        }

        #[test]
        fn equal_jitter_in_half_to_d(s in strategy(), seed: u64) {
            let policy = RetryPolicy::new(s).with_jitter(Jitter::Equal).with_max_retries(12);
            for (i, got) in policy.backoff_with_seed(seed).enumerate() {
                let d = s.delay(i as u32 + 1);
                prop_assert!(got >= d / 2 && got <= d, "retry {}: {:?} vs {:?}", i + 1, got, d);
            }
        }

        #[test]
        fn decorrelated_jitter_in_base_to_cap(s in strategy(), seed: u64) {
            let policy = RetryPolicy::new(s).with_jitter(Jitter::Decorrelated).with_max_retries(30);
            let base = s.delay(1);
            let cap = s.cap();
            let mut prev = base;
            for got in policy.backoff_with_seed(seed) {
                prop_assert!(got >= base && got <= cap, "{:?} not in [{:?}, {:?}]", got, base, cap);
                prop_assert!(got <= prev * 3);
                prev = got;
            }
        }

        #[test]
        fn no_jitter_is_the_strategy(s in strategy(), n in 0u32..=100) {
            let policy = RetryPolicy::new(s).with_max_retries(n);
            let got: Vec<Duration> = policy.backoff_with_seed(0).collect();
            let want: Vec<Duration> = (1..=n).map(|i| s.delay(i)).collect();
            prop_assert_eq!(got, want);
        }
    }
}
