//! [`RateLimiter`]: a token bucket on the tokio clock that several streams and tasks can
//! share, with a burst size of its own.

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::lazy_sleep::LazySleep;
use crate::error::ConfigError;
use crate::task::timing::after;
use crate::units::Count;

/// A rate limit shared by everything that holds a clone of it: `limit` permits per
/// `period`, in bursts of up to `burst` (by default `limit`).
///
/// A token bucket on the tokio clock (so tests can pause time): it holds up to `burst`
/// tokens, starts full, and refills continuously at `limit` tokens per `period`; each
/// permit takes one. Clones share one bucket, so one limiter can pace several streams
/// ([`DataflowExt::rate_limit_with`](super::DataflowExt::rate_limit_with)) and the calls
/// made inside a `par_map` or a task's retries ([`acquire`](Self::acquire)): what the
/// remote service sees is the sum of them all.
///
/// Without a tokio runtime with the time driver, a wait cannot sleep; it is never
/// skipped either: the waiting future or stream re-polls until the permit is due (and
/// logs a `tracing` error once), so the rate always holds.
///
/// Why not `governor`: its waiting runs on its own timer thread and clock
/// (`futures-timer`, `quanta`), not tokio's, so paused-time tests and tokio's clock would
/// not apply, and its non-blocking check would still need this waiting around it; the
/// bucket itself is a few lines of exact integer arithmetic.
///
/// # Examples
///
/// One limit for the first attempts and the retries of calls made eight at a time:
///
/// ```
/// use futures::{StreamExt, stream};
/// use sweet_async::operators::RateLimiter;
/// use sweet_async::prelude::*;
/// use tokio::time::Instant;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), ConfigError> {
/// let api = RateLimiter::new(10.messages(), 1.seconds())?.with_burst(2)?;
/// let start = Instant::now();
/// let calls: Vec<u32> = stream::iter(0..6_u32)
///     .par_map(8, {
///         let api = api.clone();
///         move |id| {
///             let api = api.clone();
///             async move {
///                 api.acquire().await;            // the first attempt
///                 if id % 2 == 0 {
///                     api.acquire().await;        // and a retry, under the same limit
///                 }
///                 id
///             }
///         }
///     })?
///     .map(|r| r.unwrap_or_default())
///     .collect()
///     .await;
/// assert_eq!(calls, [0, 1, 2, 3, 4, 5]);
/// // 9 permits: 2 at once (the burst), then one every 100 ms.
/// assert_eq!(start.elapsed(), 700.millis());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RateLimiter {
    shared: Arc<Shared>,
}

struct Shared {
    bucket: Mutex<Bucket>,
    limit: NonZeroUsize,
    burst: NonZeroUsize,
    period: Duration,
    // Credit is counted in nanoseconds-of-period times `limit`: one token is `period`
    // units and the bucket refills `limit` units per nanosecond, so the arithmetic is
    // exact whatever `period / limit` is.
    token: u128,
    capacity: u128,
}

struct Bucket {
    credit: u128,
    last: Option<Instant>,
}

impl RateLimiter {
    /// At most `limit` permits per `period`, in bursts of up to `limit`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] (`"rate limit"`) and [`ConfigError::ZeroDuration`]
    /// (`"rate limit period"`).
    pub fn new(limit: impl Into<Count>, period: Duration) -> Result<Self, ConfigError> {
        let limit = limit.into().validate("rate limit")?;
        let period = ConfigError::check_duration("rate limit period", period)?;
        Ok(Self::build(limit, limit, period))
    }

    /// The same rate with bursts of up to `burst` permits (the bucket's size): `1` spaces
    /// every permit evenly, a larger burst lets that many ready callers through at once
    /// after a quiet time. The bucket starts full. Call it before sharing the limiter:
    /// it makes a new bucket.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] (`"rate limit burst"`).
    pub fn with_burst(self, burst: impl Into<Count>) -> Result<Self, ConfigError> {
        let burst = burst.into().validate("rate limit burst")?;
        Ok(Self::build(self.shared.limit, burst, self.shared.period))
    }

    fn build(limit: NonZeroUsize, burst: NonZeroUsize, period: Duration) -> Self {
        let token = period.as_nanos();
        RateLimiter {
            shared: Arc::new(Shared {
                bucket: Mutex::new(Bucket {
                    credit: 0,
                    last: None,
                }),
                limit,
                burst,
                period,
                token,
                capacity: token.saturating_mul(burst.get() as u128),
            }),
        }
    }

    /// Permits per period.
    pub fn limit(&self) -> NonZeroUsize {
        self.shared.limit
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.shared.period
    }

    /// The largest burst (the bucket's size).
    pub fn burst(&self) -> NonZeroUsize {
        self.shared.burst
    }

    /// Takes a permit if one is available now; otherwise says how long until one is
    /// (and takes nothing).
    ///
    /// # Errors
    ///
    /// The wait until the next permit.
    pub fn try_acquire(&self) -> Result<(), Duration> {
        self.try_acquire_at(Instant::now())
    }

    pub(crate) fn try_acquire_at(&self, now: Instant) -> Result<(), Duration> {
        let s = &*self.shared;
        let refill = s.limit.get() as u128;
        let mut bucket = s.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        // The bucket starts full at the first request.
        let elapsed = bucket.last.map_or(u128::MAX, |last| {
            now.saturating_duration_since(last).as_nanos()
        });
        bucket.credit = bucket
            .credit
            .saturating_add(elapsed.saturating_mul(refill))
            .min(s.capacity);
        bucket.last = Some(now);
        if bucket.credit >= s.token {
            bucket.credit = bucket.credit.saturating_sub(s.token);
            return Ok(());
        }
        // Wait until the missing credit has flowed in (rounded up).
        let wait_ns = s.token.saturating_sub(bucket.credit).div_ceil(refill);
        Err(Duration::from_nanos(
            u64::try_from(wait_ns).unwrap_or(u64::MAX),
        ))
    }

    /// Returns a permit taken but not used (its stream ended before an item came).
    pub(crate) fn give_back(&self) {
        let s = &*self.shared;
        let mut bucket = s.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        bucket.credit = bucket.credit.saturating_add(s.token).min(s.capacity);
    }

    /// Waits for a permit and takes it.
    ///
    /// # Cancel safety
    ///
    /// A permit is taken only when the future completes: dropping it takes nothing.
    pub fn acquire(&self) -> Acquire {
        Acquire {
            limiter: self.clone(),
            waiter: Waiter::new(),
        }
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limit", &self.shared.limit)
            .field("period", &self.shared.period)
            .field("burst", &self.shared.burst)
            .finish()
    }
}

pin_project! {
    /// Waits until a [`RateLimiter`] permit is due: a tokio timer, or, without one,
    /// re-polling (never skipping the wait).
    #[derive(Debug)]
    pub(crate) struct Waiter {
        #[pin]
        timer: LazySleep,
    }
}

impl Waiter {
    pub(crate) fn new() -> Self {
        Waiter {
            timer: LazySleep::new("rate_limit"),
        }
    }

    /// Takes a permit of `limiter`: `Ready` when taken, `Pending` (with a wake-up when
    /// the next one is due) otherwise.
    pub(crate) fn poll_permit(
        self: Pin<&mut Self>,
        limiter: &RateLimiter,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let mut this = self.project();
        loop {
            let now = Instant::now();
            let wait = match limiter.try_acquire_at(now) {
                Ok(()) => return Poll::Ready(()),
                Err(wait) => wait,
            };
            if this.timer.as_mut().arm(after(now, wait)) {
                match this.timer.as_mut().poll_elapsed(cx) {
                    Poll::Ready(()) => continue,
                    Poll::Pending => return Poll::Pending,
                }
            }
            // No tokio timer (it logged why): poll again soon rather than skip the wait.
            std::thread::yield_now();
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
    }
}

pin_project! {
    /// The future of [`RateLimiter::acquire`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    #[derive(Debug)]
    pub struct Acquire {
        limiter: RateLimiter,
        #[pin]
        waiter: Waiter,
    }
}

impl Future for Acquire {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        this.waiter.poll_permit(this.limiter, cx)
    }
}
