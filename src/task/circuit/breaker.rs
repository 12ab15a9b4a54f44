//! [`CircuitBreaker`]: fails fast while a dependency keeps failing.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::CircuitBreakerBuilder;
use super::config::CircuitConfig;
use crate::error::TaskError;

/// Where a [`CircuitBreaker`] is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CircuitState {
    /// Calls go through; consecutive failures are counted.
    Closed,
    /// Calls are refused until the open timeout has passed.
    Open,
    /// A few trial calls go through to probe whether the dependency recovered.
    HalfOpen,
}

/// A breaker shared by every task that calls one dependency.
///
/// - **Closed**: every call gets a permit. Each reported failure adds to a count of
///   consecutive failures, each success resets it; reaching the failure threshold opens
///   the breaker.
/// - **Open**: [`try_acquire`](CircuitBreaker::try_acquire) refuses at once with
///   [`CircuitOpen`], whose `retry_after` is the time left of the open timeout.
/// - **HalfOpen** (once the open timeout has passed): at most `success_threshold` trial
///   calls are let through at once, and no more than are still needed to close it. Any
///   trial failure re-opens the breaker and restarts the timer; `success_threshold`
///   trial successes close it.
///
/// A permit counts only in the state it was issued in: one that reports after the
/// breaker changed state (opened, half-opened, closed or was [`reset`]) is ignored, so a
/// slow call from before the breaker opened cannot close it or restart its timer.
///
/// Cloning is cheap and shares the breaker. The state sits behind one
/// `std::sync::Mutex`, taken only for a few field updates and never across an
/// `.await`; a poisoned lock is recovered, since no update can leave the state half
/// written. Timing uses `tokio::time::Instant`, so tests can pause time.
///
/// [`reset`]: CircuitBreaker::reset
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use sweet_async::task::{CircuitBreaker, CircuitState};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
/// let breaker = CircuitBreaker::builder("payments")
///     .failure_threshold(2)
///     .success_threshold(1)
///     .open_timeout(Duration::from_secs(10))
///     .build()?;
///
/// for _ in 0..2 {
///     if let Ok(permit) = breaker.try_acquire() {
///         permit.failure(); // the call failed
///     }
/// }
/// assert_eq!(breaker.state(), CircuitState::Open);
/// let refused = breaker.try_acquire().unwrap_err();
/// assert_eq!(refused.retry_after, Duration::from_secs(10));
///
/// tokio::time::sleep(Duration::from_secs(10)).await;
/// assert_eq!(breaker.state(), CircuitState::HalfOpen);
/// breaker.try_acquire().unwrap().success(); // the trial call worked
/// assert_eq!(breaker.state(), CircuitState::Closed);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct CircuitBreaker(Arc<Shared>);

struct Shared {
    name: Arc<str>,
    config: CircuitConfig,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Closed,
    Open { since: Instant },
    HalfOpen,
}

#[derive(Debug)]
struct State {
    mode: Mode,
    /// Bumped on every state change; a permit from another generation is stale.
    generation: u64,
    consecutive_failures: u32,
    trials_in_flight: u32,
    trial_successes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    Dropped,
}

impl State {
    fn enter(&mut self, mode: Mode) {
        self.mode = mode;
        self.generation = self.generation.wrapping_add(1);
        self.trials_in_flight = 0;
        self.trial_successes = 0;
    }
}

impl CircuitBreaker {
    /// Starts configuring a breaker named `name` (used in errors and traces).
    pub fn builder(name: impl Into<Arc<str>>) -> CircuitBreakerBuilder {
        CircuitBreakerBuilder::new(name.into())
    }

    pub(crate) fn new(name: Arc<str>, config: CircuitConfig) -> Self {
        CircuitBreaker(Arc::new(Shared {
            name,
            config,
            state: Mutex::new(State {
                mode: Mode::Closed,
                generation: 0,
                consecutive_failures: 0,
                trials_in_flight: 0,
                trial_successes: 0,
            }),
        }))
    }

    /// The breaker's name.
    pub fn name(&self) -> &Arc<str> {
        &self.0.name
    }

    /// The current state; `HalfOpen` as soon as the open timeout has passed.
    pub fn state(&self) -> CircuitState {
        let state = self.lock();
        match state.mode {
            Mode::Closed => CircuitState::Closed,
            Mode::HalfOpen => CircuitState::HalfOpen,
            Mode::Open { since } => match self.time_left(since, Instant::now()) {
                Some(_) => CircuitState::Open,
                None => CircuitState::HalfOpen,
            },
        }
    }

    /// Asks to make one call: a permit to report its outcome with, or a refusal.
    ///
    /// # Errors
    ///
    /// [`CircuitOpen`] while the breaker is open (`retry_after` is the time left of the
    /// open timeout) or half-open with every trial slot taken (`retry_after` is zero: a
    /// slot may free at any moment).
    pub fn try_acquire(&self) -> Result<CircuitPermit, CircuitOpen> {
        let mut state = self.lock();
        if let Mode::Open { since } = state.mode {
            if let Some(retry_after) = self.time_left(since, Instant::now()) {
                return Err(self.refusal(retry_after));
            }
            state.enter(Mode::HalfOpen);
            tracing::debug!(breaker = %self.0.name, "circuit breaker half-open");
        }
        if let Mode::HalfOpen = state.mode {
            let taken = state.trials_in_flight.saturating_add(state.trial_successes);
            if taken >= self.0.config.success_threshold {
                return Err(self.refusal(Duration::ZERO));
            }
            state.trials_in_flight = state.trials_in_flight.saturating_add(1);
        }
        Ok(CircuitPermit {
            breaker: self.clone(),
            generation: state.generation,
            settled: false,
        })
    }

    /// Failures reported in a row since the last success (or close, or reset).
    pub fn consecutive_failures(&self) -> u32 {
        self.lock().consecutive_failures
    }

    /// Forces the breaker closed with fresh counts; permits issued before are ignored.
    pub fn reset(&self) {
        let mut state = self.lock();
        state.enter(Mode::Closed);
        state.consecutive_failures = 0;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Time left of the open timeout, `None` once it has passed.
    fn time_left(&self, since: Instant, now: Instant) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(since);
        let timeout = self.0.config.open_timeout;
        timeout.checked_sub(elapsed).filter(|left| !left.is_zero())
    }

    fn refusal(&self, retry_after: Duration) -> CircuitOpen {
        CircuitOpen {
            breaker: Arc::clone(&self.0.name),
            retry_after,
        }
    }

    fn settle(&self, generation: u64, outcome: Outcome) {
        let mut state = self.lock();
        if state.generation != generation {
            return; // issued in an earlier state: stale
        }
        let config = self.0.config;
        match (state.mode, outcome) {
            // No permit is issued while open, so none of this generation reports here.
            (Mode::Open { .. }, _) | (Mode::Closed, Outcome::Dropped) => {}
            (Mode::HalfOpen, Outcome::Dropped) => {
                state.trials_in_flight = state.trials_in_flight.saturating_sub(1);
            }
            (Mode::Closed, Outcome::Success) => state.consecutive_failures = 0,
            (Mode::Closed, Outcome::Failure) => {
                state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                if state.consecutive_failures >= config.failure_threshold {
                    state.enter(Mode::Open {
                        since: Instant::now(),
                    });
                    tracing::warn!(
                        breaker = %self.0.name,
                        failures = state.consecutive_failures,
                        "circuit breaker opened"
                    );
                }
            }
            (Mode::HalfOpen, Outcome::Success) => {
                state.trials_in_flight = state.trials_in_flight.saturating_sub(1);
                state.trial_successes = state.trial_successes.saturating_add(1);
                state.consecutive_failures = 0;
                if state.trial_successes >= config.success_threshold {
                    state.enter(Mode::Closed);
                    tracing::info!(breaker = %self.0.name, "circuit breaker closed");
                }
            }
            (Mode::HalfOpen, Outcome::Failure) => {
                state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                state.enter(Mode::Open {
                    since: Instant::now(),
                });
                tracing::warn!(breaker = %self.0.name, "circuit breaker re-opened by a trial failure");
            }
        }
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.0.name)
            .field("state", &self.state())
            .field("consecutive_failures", &self.consecutive_failures())
            .finish()
    }
}

/// Leave to make one call through a [`CircuitBreaker`]; report how it went.
///
/// Dropping it without reporting counts as neither success nor failure (a half-open
/// trial slot is freed), for calls that were cancelled or never made.
#[derive(Debug)]
#[must_use = "report the call's outcome with `success` or `failure`"]
pub struct CircuitPermit {
    breaker: CircuitBreaker,
    generation: u64,
    settled: bool,
}

impl CircuitPermit {
    /// The call succeeded.
    pub fn success(mut self) {
        self.settle(Outcome::Success);
    }

    /// The call failed.
    pub fn failure(mut self) {
        self.settle(Outcome::Failure);
    }

    fn settle(&mut self, outcome: Outcome) {
        if !self.settled {
            self.settled = true;
            self.breaker.settle(self.generation, outcome);
        }
    }
}

impl Drop for CircuitPermit {
    fn drop(&mut self) {
        self.settle(Outcome::Dropped);
    }
}

/// A call refused because the breaker is open (or its trial slots are taken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitOpen {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// Time left until the breaker lets a trial call through.
    pub retry_after: Duration,
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "circuit breaker `{}` is open (retry after {:?})",
            self.breaker, self.retry_after
        )
    }
}

impl std::error::Error for CircuitOpen {}

impl<E> From<CircuitOpen> for TaskError<E> {
    fn from(e: CircuitOpen) -> Self {
        TaskError::CircuitOpen {
            breaker: e.breaker,
            retry_after: e.retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::advance;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn breaker(failures: u32, successes: u32, timeout: Duration) -> CircuitBreaker {
        CircuitBreaker::builder("db")
            .failure_threshold(failures)
            .success_threshold(successes)
            .open_timeout(timeout)
            .build()
            .unwrap()
    }

    fn fail(b: &CircuitBreaker, n: u32) {
        for _ in 0..n {
            b.try_acquire().unwrap().failure();
        }
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_sync() {
        assert_send_sync::<CircuitBreaker>();
        assert_send_sync::<CircuitPermit>();
        assert_send_sync::<CircuitOpen>();
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures() {
        let b = breaker(3, 2, secs(30));
        fail(&b, 2);
        assert_eq!(b.consecutive_failures(), 2);
        b.try_acquire().unwrap().success();
        assert_eq!(b.consecutive_failures(), 0);
        fail(&b, 2);
        assert_eq!(b.state(), CircuitState::Closed);
        fail(&b, 1);
        assert_eq!(b.state(), CircuitState::Open);
        assert_eq!(b.consecutive_failures(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn fails_fast_with_exact_retry_after() {
        let b = breaker(1, 1, secs(30));
        fail(&b, 1);
        let err = b.try_acquire().unwrap_err();
        assert_eq!(
            err,
            CircuitOpen {
                breaker: "db".into(),
                retry_after: secs(30)
            }
        );
        advance(Duration::from_millis(12_500)).await;
        assert_eq!(
            b.try_acquire().unwrap_err().retry_after,
            Duration::from_millis(17_500)
        );
        assert_eq!(
            err.to_string(),
            "circuit breaker `db` is open (retry after 30s)"
        );
        let te: TaskError<std::io::Error> = err.into();
        assert!(
            matches!(te, TaskError::CircuitOpen { retry_after, .. } if retry_after == secs(30))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn half_opens_after_timeout_then_closes() {
        let b = breaker(2, 2, secs(30));
        fail(&b, 2);
        advance(Duration::from_millis(29_999)).await;
        assert_eq!(b.state(), CircuitState::Open);
        assert_eq!(
            b.try_acquire().unwrap_err().retry_after,
            Duration::from_millis(1)
        );
        advance(Duration::from_millis(1)).await;
        assert_eq!(b.state(), CircuitState::HalfOpen);
        b.try_acquire().unwrap().success();
        assert_eq!(b.state(), CircuitState::HalfOpen);
        b.try_acquire().unwrap().success();
        assert_eq!(b.state(), CircuitState::Closed);
        assert_eq!(b.consecutive_failures(), 0);
        // Fresh counts: it takes the full threshold to open again.
        fail(&b, 1);
        assert_eq!(b.state(), CircuitState::Closed);
        fail(&b, 1);
        assert_eq!(b.state(), CircuitState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_failure_reopens_and_restarts_timer() {
        let b = breaker(1, 2, secs(30));
        fail(&b, 1);
        advance(secs(45)).await;
        let trial = b.try_acquire().unwrap();
        b.try_acquire().unwrap().success();
        trial.failure();
        assert_eq!(b.state(), CircuitState::Open);
        assert_eq!(b.try_acquire().unwrap_err().retry_after, secs(30));
        advance(secs(30)).await;
        assert_eq!(b.state(), CircuitState::HalfOpen);
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_limits_trials() {
        let b = breaker(1, 2, secs(30));
        fail(&b, 1);
        advance(secs(30)).await;
        let t1 = b.try_acquire().unwrap();
        let t2 = b.try_acquire().unwrap();
        assert_eq!(
            b.try_acquire().unwrap_err(),
            CircuitOpen {
                breaker: "db".into(),
                retry_after: Duration::ZERO
            }
        );
        // A success still needs the other trial: no new slot.
        t1.success();
        assert!(b.try_acquire().is_err());
        // A dropped trial frees its slot.
        drop(t2);
        let t3 = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_err());
        t3.success();
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn stale_closed_permits_are_ignored() {
        let b = breaker(2, 2, secs(30));
        let slow_ok = b.try_acquire().unwrap();
        let slow_err = b.try_acquire().unwrap();
        let late_trial_err = b.try_acquire().unwrap();
        let dropped = b.try_acquire().unwrap();
        fail(&b, 2);
        assert_eq!(b.state(), CircuitState::Open);
        advance(secs(10)).await;
        // A stale success does not close it, a stale failure does not restart the timer.
        slow_ok.success();
        slow_err.failure();
        assert_eq!(b.state(), CircuitState::Open);
        assert_eq!(b.consecutive_failures(), 2);
        assert_eq!(b.try_acquire().unwrap_err().retry_after, secs(20));
        advance(secs(20)).await;
        let t1 = b.try_acquire().unwrap();
        // Stale reports during half-open neither re-open it nor take or free a slot.
        late_trial_err.failure();
        drop(dropped);
        assert_eq!(b.state(), CircuitState::HalfOpen);
        let t2 = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_err());
        t1.success();
        t2.success();
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn stale_trial_permits_are_ignored() {
        let b = breaker(1, 2, secs(30));
        fail(&b, 1);
        advance(secs(30)).await;
        let t1 = b.try_acquire().unwrap();
        let t2 = b.try_acquire().unwrap();
        t1.failure();
        assert_eq!(b.state(), CircuitState::Open);
        advance(secs(5)).await;
        t2.success();
        assert_eq!(b.state(), CircuitState::Open);
        assert_eq!(b.try_acquire().unwrap_err().retry_after, secs(25));
    }

    #[tokio::test(start_paused = true)]
    async fn reset_closes_and_ignores_older_permits() {
        let b = breaker(1, 1, secs(30));
        let old = b.try_acquire().unwrap();
        fail(&b, 1);
        b.reset();
        assert_eq!(b.state(), CircuitState::Closed);
        assert_eq!(b.consecutive_failures(), 0);
        old.failure();
        assert_eq!(b.state(), CircuitState::Closed);
        assert_eq!(b.name().as_ref(), "db");
        assert!(format!("{b:?}").contains("Closed"));
    }

    #[test]
    fn poisoned_lock_is_recovered() {
        let b = breaker(1, 1, secs(30));
        let b2 = b.clone();
        let _ = std::thread::spawn(move || {
            let _guard = b2.0.state.lock().unwrap();
            panic!("poison");
        })
        .join();
        assert!(b.0.state.is_poisoned());
        fail(&b, 1);
        assert_eq!(b.state(), CircuitState::Open);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_tasks_share_one_breaker() {
        const TASKS: usize = 32;
        let b = breaker(5, 3, Duration::from_millis(20));
        let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
        // Every task is admitted while closed, then all fail at once: exactly the
        // threshold counts, the rest are stale.
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                let b = b.clone();
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    let permit = b.try_acquire().unwrap();
                    barrier.wait().await;
                    permit.failure();
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(b.state(), CircuitState::Open);
        assert_eq!(b.consecutive_failures(), 5);

        // After the timeout, exactly `success_threshold` of many racing tasks get a trial.
        tokio::time::sleep(Duration::from_millis(40)).await;
        let admitted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                let b = b.clone();
                let barrier = Arc::clone(&barrier);
                let admitted = Arc::clone(&admitted);
                tokio::spawn(async move {
                    let permit = b.try_acquire();
                    if permit.is_ok() {
                        admitted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    barrier.wait().await;
                    if let Ok(p) = permit {
                        p.success();
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(admitted.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(b.state(), CircuitState::Closed);
    }
}
