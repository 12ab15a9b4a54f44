//! [`RetryPolicy`]: strategy, jitter and limits of a task's retries.

use std::time::Duration;

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{Backoff, Jitter, MAX_RETRIES, RetryIf, RetryStrategy};
use crate::error::{ConfigError, TaskError, panic_message};

/// How often and how far apart a failed task is retried.
///
/// A policy is plain configuration: [`backoff`](RetryPolicy::backoff) turns it into the
/// stateful sequence of delays for one run of a task.
///
/// The time budget ([`with_max_elapsed`](RetryPolicy::with_max_elapsed)) covers every
/// attempt and every wait of a run. It is enforced by the caller that runs the attempts
/// (the task runner), which knows when the run started; [`Backoff`] only carries it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use sweet_async::task::{Jitter, RetryPolicy, RetryStrategy};
///
/// let policy = RetryPolicy::new(RetryStrategy::Exponential {
///     base: Duration::from_millis(100),
///     factor: 2.0,
///     max: Duration::from_secs(5),
/// })
/// .with_max_retries(4)
/// .with_jitter(Jitter::Equal)
/// .with_max_elapsed(Duration::from_secs(30));
/// policy.validate()?;
///
/// let delays: Vec<Duration> = policy.backoff_with_seed(7).collect();
/// assert_eq!(delays.len(), 4);
/// // Equal jitter keeps each delay within [d/2, d].
/// assert!(delays[0] >= Duration::from_millis(50) && delays[0] <= Duration::from_millis(100));
/// # Ok::<(), sweet_async::error::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    strategy: RetryStrategy,
    jitter: Jitter,
    max_retries: u32,
    max_elapsed: Option<Duration>,
}

impl RetryPolicy {
    /// A policy with `strategy`, no jitter, 3 retries and no time budget.
    #[inline]
    pub fn new(strategy: RetryStrategy) -> Self {
        RetryPolicy {
            strategy,
            jitter: Jitter::None,
            max_retries: 3,
            max_elapsed: None,
        }
    }

    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy::new(RetryStrategy::Immediate).with_max_retries(0)
    }

    /// Sets how delays are randomised.
    #[must_use]
    pub fn with_jitter(self, j: Jitter) -> Self {
        RetryPolicy { jitter: j, ..self }
    }

    /// Sets how many retries follow the first attempt (at most [`MAX_RETRIES`], checked
    /// by [`validate`](RetryPolicy::validate)).
    #[must_use]
    #[inline]
    pub fn with_max_retries(self, n: u32) -> Self {
        RetryPolicy {
            max_retries: n,
            ..self
        }
    }

    /// Sets the total time budget across attempts and backoff (enforced by the caller).
    #[must_use]
    pub fn with_max_elapsed(self, budget: Duration) -> Self {
        RetryPolicy {
            max_elapsed: Some(budget),
            ..self
        }
    }

    /// The delay strategy.
    #[inline]
    pub fn strategy(&self) -> RetryStrategy {
        self.strategy
    }

    /// The jitter applied to each delay.
    #[inline]
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// Retries allowed after the first attempt.
    #[inline]
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The total time budget, if any.
    #[inline]
    pub fn max_elapsed(&self) -> Option<Duration> {
        self.max_elapsed
    }

    /// After a failed attempt: whether `err` may be retried at all. Cancellation, a
    /// passed deadline, an open circuit, a missing runtime and bad configuration never
    /// are; otherwise `retry_if` decides, and without one a failure or a timeout is.
    ///
    /// # Errors
    ///
    /// A predicate that panicked: [`TaskError::Panicked`] with its message (prefixed
    /// `"retry_if predicate panicked: "`), the task's final error in its place.
    pub(crate) fn may_retry<E>(
        retry_if: Option<&RetryIf<E>>,
        err: &TaskError<E>,
    ) -> Result<bool, TaskError<E>> {
        let never = matches!(
            err,
            TaskError::Cancelled { .. }
                | TaskError::DeadlineExceeded
                | TaskError::CircuitOpen { .. }
                | TaskError::NoRuntime
                | TaskError::Config(_)
        );
        if never {
            return Ok(false);
        }
        match retry_if {
            Some(predicate) => {
                catch_unwind(AssertUnwindSafe(|| predicate(err))).map_err(|payload| {
                    TaskError::Panicked {
                        message: format!(
                            "retry_if predicate panicked: {}",
                            panic_message(&*payload)
                        ),
                    }
                })
            }
            None => Ok(matches!(
                err,
                TaskError::Failed(_) | TaskError::Timeout { .. }
            )),
        }
    }

    /// Whether waiting `delay` more still fits the time budget, `elapsed` after the run
    /// started (no budget, or no start yet: it fits).
    pub(crate) fn fits_budget(&self, elapsed: Option<Duration>, delay: Duration) -> bool {
        match (self.max_elapsed, elapsed) {
            (Some(budget), Some(elapsed)) => elapsed.saturating_add(delay) <= budget,
            _ => true,
        }
    }

    /// The final error once no retry is left: `RetriesExhausted` with the attempts made
    /// and `err`, or `err` itself for a policy that never retries.
    pub(crate) fn exhausted<E>(&self, attempts: u32, err: TaskError<E>) -> TaskError<E> {
        if self.max_retries == 0 {
            err
        } else {
            TaskError::RetriesExhausted {
                attempts,
                last: Box::new(err),
            }
        }
    }

    /// Checks the retry count, the time budget and the strategy.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] (`"retry count"`) above [`MAX_RETRIES`],
    /// [`ConfigError::ZeroDuration`] (`"retry time budget"`) for a zero budget, and the
    /// errors of [`RetryStrategy::validate`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::check_range(
            "retry count",
            u64::from(self.max_retries),
            0,
            u64::from(MAX_RETRIES),
        )?;
        if let Some(budget) = self.max_elapsed {
            ConfigError::check_duration("retry time budget", budget)?;
        }
        self.strategy.validate()
    }

    /// Replaces the strategy and the retry count, keeping jitter and time budget (the
    /// builder's `retry_strategy`, without rebuilding the policy).
    #[inline]
    pub(crate) fn set_strategy(&mut self, strategy: RetryStrategy, max_retries: u32) {
        self.strategy = strategy;
        self.max_retries = max_retries;
    }

    /// Sets the retry count in place.
    #[inline]
    pub(crate) fn set_max_retries(&mut self, n: u32) {
        self.max_retries = n;
    }

    /// A fresh sequence of delays for one run, with a random jitter seed.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.clone(), fastrand::Rng::new())
    }

    /// A fresh sequence of delays whose jitter is fixed by `seed` (for tests).
    pub fn backoff_with_seed(&self, seed: u64) -> Backoff {
        Backoff::new(self.clone(), fastrand::Rng::with_seed(seed))
    }
}

impl Default for RetryPolicy {
    /// Exponential from 100 ms, factor 2, capped at 30 s; no jitter; no retries.
    #[inline]
    fn default() -> Self {
        RetryPolicy::new(RetryStrategy::Exponential {
            base: Duration::from_millis(100),
            factor: 2.0,
            max: Duration::from_secs(30),
        })
        .with_max_retries(0)
    }
}

impl From<RetryStrategy> for RetryPolicy {
    fn from(strategy: RetryStrategy) -> Self {
        RetryPolicy::new(strategy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let p = RetryPolicy::new(RetryStrategy::Immediate);
        assert_eq!(p.max_retries(), 3);
        assert_eq!(p.jitter(), Jitter::None);
        assert_eq!(p.max_elapsed(), None);
        let d = RetryPolicy::default();
        assert_eq!(d.max_retries(), 0);
        assert_eq!(
            d.strategy(),
            RetryStrategy::Exponential {
                base: Duration::from_millis(100),
                factor: 2.0,
                max: Duration::from_secs(30),
            }
        );
        assert_eq!(d.validate(), Ok(()));
        assert_eq!(RetryPolicy::none().max_retries(), 0);
        assert_eq!(RetryPolicy::none().backoff().next(), None);
        let from: RetryPolicy = RetryStrategy::Fixed(Duration::from_secs(1)).into();
        assert_eq!(
            from,
            RetryPolicy::new(RetryStrategy::Fixed(Duration::from_secs(1)))
        );
    }

    #[test]
    fn retry_count_out_of_range() {
        let p = RetryPolicy::new(RetryStrategy::Immediate).with_max_retries(101);
        assert_eq!(p.max_retries(), 101);
        assert_eq!(
            p.validate(),
            Err(ConfigError::OutOfRange {
                setting: "retry count",
                value: 101,
                min: 0,
                max: 100,
            })
        );
        let ok = RetryPolicy::new(RetryStrategy::Immediate).with_max_retries(MAX_RETRIES);
        assert_eq!(ok.validate(), Ok(()));
    }

    #[test]
    fn zero_budget_is_rejected() {
        let p = RetryPolicy::new(RetryStrategy::Immediate).with_max_elapsed(Duration::ZERO);
        assert_eq!(
            p.validate(),
            Err(ConfigError::ZeroDuration {
                setting: "retry time budget"
            })
        );
        let ok = p.with_max_elapsed(Duration::from_secs(1));
        assert_eq!(ok.max_elapsed(), Some(Duration::from_secs(1)));
        assert_eq!(ok.validate(), Ok(()));
    }

    #[test]
    fn strategy_errors_surface() {
        let p = RetryPolicy::new(RetryStrategy::Exponential {
            base: Duration::from_millis(100),
            factor: 0.5,
            max: Duration::from_secs(1),
        });
        assert!(matches!(
            p.validate(),
            Err(ConfigError::Invalid {
                setting: "backoff factor",
                ..
            })
        ));
    }
}
