//! [`RetryState`]: the one retry decision, shared by every runner of attempts (a task, the
//! orchestra's scheduler, `retry_each`).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Backoff, RetryPolicy};
use crate::error::TaskError;

/// A task's `retry_if` predicate: whether an error may be retried.
pub(crate) type RetryIf<E> = Arc<dyn Fn(&TaskError<E>) -> bool + Send + Sync>;

/// Where one run stands in its retry policy: attempts made, when the first one started,
/// and the sequence of backoff delays (made at the first failure: a run that succeeds at
/// once never builds it).
#[derive(Debug, Default)]
pub(crate) struct RetryState {
    attempts: u32,
    started: Option<Instant>,
    backoff: Option<Box<Backoff>>,
}

impl RetryState {
    /// The run starts at `now` (kept if it had started already).
    #[inline]
    pub(crate) fn start(&mut self, now: Instant) {
        self.started.get_or_insert(now);
    }

    /// When the run started, if it has.
    #[inline]
    pub(crate) fn started(&self) -> Option<Instant> {
        self.started
    }

    /// Attempts started so far.
    #[inline]
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Counts `n` more attempts (an orchestra attempt can report 0: refused by a breaker).
    #[inline]
    pub(crate) fn count(&mut self, n: u32) -> u32 {
        self.attempts = self.attempts.saturating_add(n);
        self.attempts
    }

    /// The delay before the next retry, `now` into the run: `None` once every retry of
    /// `policy` was handed out or the wait would overrun its time budget.
    pub(crate) fn next_delay(&mut self, policy: &RetryPolicy, now: Instant) -> Option<Duration> {
        let delay = self
            .backoff
            .get_or_insert_with(|| Box::new(policy.backoff()))
            .next_delay()?;
        let elapsed = self.started.map(|s| now.saturating_duration_since(s));
        policy.fits_budget(elapsed, delay).then_some(delay)
    }

    /// After an attempt failed with `err`: the delay before the next one, or the run's
    /// final error. Never retried: cancellation, a passed deadline, an open circuit, no
    /// runtime, bad configuration, and whatever `retry_if` refuses (without one, only a
    /// failure or a timeout is retried); a panicking `retry_if` is the final error.
    /// Retries or budget spent: `RetriesExhausted` (or `err` itself for a policy with no
    /// retries).
    pub(crate) fn after_failure<E>(
        &mut self,
        policy: &RetryPolicy,
        retry_if: Option<&RetryIf<E>>,
        err: TaskError<E>,
        now: Instant,
    ) -> Result<Duration, TaskError<E>> {
        if !RetryPolicy::may_retry(retry_if, &err)? {
            return Err(err);
        }
        match self.next_delay(policy, now) {
            Some(delay) => Ok(delay),
            None => Err(policy.exhausted(self.attempts, err)),
        }
    }

    /// Forgets the run (the next item of `retry_each` starts afresh).
    pub(crate) fn reset(&mut self) {
        *self = RetryState::default();
    }
}

/// Whether a final error may go to the `recover_with` fallback: a cancellation, bad
/// configuration or a missing runtime never does.
pub(crate) fn recoverable<E>(err: &TaskError<E>) -> bool {
    !matches!(
        err,
        TaskError::Cancelled { .. } | TaskError::Config(_) | TaskError::NoRuntime
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::RetryStrategy;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn decides_delay_then_exhaustion() {
        let policy = RetryPolicy::new(RetryStrategy::Fixed(ms(10))).with_max_retries(2);
        let now = Instant::now();
        let mut st = RetryState::default();
        st.start(now);
        st.count(1);
        let fail = || TaskError::<&str>::Failed("x");
        assert!(matches!(st.after_failure(&policy, None, fail(), now), Ok(d) if d == ms(10)));
        st.count(1);
        assert!(matches!(st.after_failure(&policy, None, fail(), now), Ok(d) if d == ms(10)));
        st.count(1);
        let last = st.after_failure(&policy, None, fail(), now);
        assert!(matches!(
            last,
            Err(TaskError::RetriesExhausted { attempts: 3, .. })
        ));
    }

    #[test]
    fn budget_and_predicates_stop_retries() {
        let policy = RetryPolicy::new(RetryStrategy::Fixed(ms(10))).with_max_elapsed(ms(15));
        let now = Instant::now();
        let mut st = RetryState::default();
        st.start(now);
        st.count(1);
        // 10 ms into the run, a 10 ms wait overruns the 15 ms budget.
        let late = now + ms(10);
        let err = st.after_failure(&policy, None, TaskError::<&str>::Failed("x"), late);
        assert!(matches!(err, Err(TaskError::RetriesExhausted { .. })));
        let mut st = RetryState::default();
        let panicked = TaskError::<&str>::Panicked {
            message: "p".into(),
        };
        assert!(matches!(
            st.after_failure(&policy, None, panicked, now),
            Err(TaskError::Panicked { .. })
        ));
        let never: RetryIf<&str> = Arc::new(|_| false);
        assert!(matches!(
            st.after_failure(&policy, Some(&never), TaskError::Failed("x"), now),
            Err(TaskError::Failed("x"))
        ));
        let boom: RetryIf<&str> = Arc::new(|_| panic!("predicate"));
        assert!(matches!(
            st.after_failure(&policy, Some(&boom), TaskError::Failed("x"), now),
            Err(TaskError::Panicked { message }) if message.contains("predicate")
        ));
        st.reset();
        assert_eq!(st.attempts(), 0);
        assert!(!recoverable(&TaskError::<&str>::NoRuntime));
        assert!(recoverable(&TaskError::<&str>::Failed("x")));
    }
}
