//! Backpressure-aware dataflow operators for every `Stream`, ours and anyone else's.
//!
//! [`DataflowExt`] adds the operators as methods. Each operator lives in its own file,
//! holds a bounded amount of state that the caller can see and set, and pulls from
//! upstream only as fast as downstream consumes. Invalid arguments (zero sizes, zero
//! durations, zero concurrency) are a [`ConfigError`], never a
//! panic; arguments that cannot be invalid (a [`NonZeroUsize`](std::num::NonZeroUsize)
//! count) give the operator without a `Result`.

use std::cmp::Ordering;
use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

use futures::{Stream, TryFuture};

use crate::error::ConfigError;
use crate::task::RetryPolicy;
use crate::units::{Count, CountArg};

mod chain;
pub use chain::TryDataflowExt;

mod accessors;
mod chunks;
mod chunks_timeout;
mod chunks_weighted;
mod inspect_progress;
mod lazy_sleep;
mod partition_errors;
#[cfg(feature = "progress")]
mod progress_bar;
mod rate_limit;
mod rate_limiter;
mod retry_each;
mod skip_errors;
mod stop_on_error;
mod timeout_each;

pub use chunks::Chunks;
pub use chunks_timeout::ChunksTimeout;
pub use chunks_weighted::ChunksWeighted;
pub use inspect_progress::{InspectProgress, NoBytes, Progress};
pub use partition_errors::PartitionErrors;
#[cfg(feature = "progress")]
#[cfg_attr(docsrs, doc(cfg(feature = "progress")))]
pub use progress_bar::ProgressBar;
pub use rate_limit::RateLimit;
pub use rate_limiter::{Acquire, RateLimiter};
pub use retry_each::{RetryEach, RetryError};
pub use skip_errors::{ErrorCount, SkipErrors};
pub use stop_on_error::StopOnError;
pub use timeout_each::{Elapsed, TimeoutEach};

pub mod window;

pub mod sequence;
pub use sequence::{ReorderConfig, SequenceCounts, SequenceError, Sequenced};

pub mod join;
pub mod partition;
pub mod timed;

mod par_map;

pub use par_map::ParMapError;
pub use par_map::{ParMap, ParMapBlocking, ParMapUnordered, TryParMap};

/// Dataflow operators on every [`Stream`].
///
/// | concept | methods | what for |
/// |---|---|---|
/// | batching | [`chunked`](Self::chunked), [`chunked_timeout`](Self::chunked_timeout), [`chunked_weighted`](Self::chunked_weighted) | batches by count, by count or time, by weight (bytes) |
/// | windows | [`event_time_window`](Self::event_time_window), [`processing_time_window`](Self::processing_time_window), [`count_window`](Self::count_window), [`key_by`](Self::key_by) | tumbling, sliding and session windows (Flink's semantics), per key; aggregate with `fold_windows`, `reduce_windows`, `aggregate_windows` |
/// | ordering | [`order_by_timestamp`](Self::order_by_timestamp), [`reorder_by_id`](Self::reorder_by_id), [`detect_gaps`](Self::detect_gaps), [`sort_bounded`](Self::sort_bounded), [`sort_chunks`](Self::sort_chunks) | put late or shuffled items back in order, report gaps |
/// | parallel | [`par_map`](Self::par_map), [`par_map_unordered`](Self::par_map_unordered), [`try_par_map`](Self::try_par_map), [`try_par_map_unordered`](Self::try_par_map_unordered), [`par_map_blocking`](Self::par_map_blocking) | async calls `n` at a time (in input order, where a slow item holds back the rest, or as they finish; `try_` for flat results of fallible calls), CPU work on threads |
/// | per item | [`timeout_each`](Self::timeout_each), [`retry_each`](Self::retry_each), [`rate_limit`](Self::rate_limit), [`rate_limit_with`](Self::rate_limit_with) | bound each wait, retry each failure, pace calls (alone, or sharing a [`RateLimiter`]) |
/// | errors | [`skip_errors`](Self::skip_errors), [`stop_on_error`](Self::stop_on_error), [`partition_errors`](Self::partition_errors) | on a stream of `Result`s: count and drop, stop at the first, or hand each to a closure |
/// | progress | [`inspect_progress`](Self::inspect_progress), [`inspect_progress_bytes`](Self::inspect_progress_bytes), `progress_bar` (feature `progress`) | report counts, rates and bytes as items pass |
/// | event time, joins, keyed parallelism | [`with_watermarks`](Self::with_watermarks), [`timed_filter_map`](Self::timed_filter_map), [`timed_window`](Self::timed_window), [`timed_window_by`](Self::timed_window_by), [`join`](Self::join), [`partition`](Self::partition), [`fan_out`](Self::fan_out) | a stream that carries its timestamps and watermarks; windows closed by them; window, interval and keyed joins of two such streams; one stream split by key over several tasks, or read once by several branches |
///
/// Every operator holds a bounded amount of state and pulls from upstream only as fast as
/// downstream consumes. Closures come last in every argument list, as in `futures`. An
/// operator whose arguments can be invalid (a zero size or duration) returns
/// `Result<_, ConfigError>`; [`TryDataflowExt`] gives the same operators on that `Result`,
/// so a pipeline needs one `?` for its configuration, after its last fallible stage. An
/// argument valid by construction makes its operator infallible: a count given as a
/// [`NonZeroUsize`](std::num::NonZeroUsize) ([`CountArg`]), a
/// shared [`RateLimiter`] ([`rate_limit_with`](Self::rate_limit_with)). The
/// names never clash with `futures::StreamExt`, `futures::TryStreamExt` or
/// `tokio_stream::StreamExt`, so all of them can be in scope at once.
pub trait DataflowExt: Stream {
    /// Groups items into chunks of exactly `size` items; the last chunk holds the rest.
    ///
    /// Every chunk has `size` items except possibly the last, which has between 1 and
    /// `size`; an empty chunk is never emitted, so an empty stream gives no chunk. `size`
    /// is a [`Count`] (`1000.rows()`) or a plain `usize`.
    ///
    /// The operator holds at most `size - 1` items between polls and pulls from upstream
    /// only while its consumer asks for a chunk. Each chunk is allocated with room for
    /// `size` items up front (at most 1 MiB worth; a larger chunk grows as it fills), so
    /// a huge `size` does not reserve memory before items arrive. Like `futures`'
    /// [`chunks`](futures::StreamExt::chunks), a partial chunk waits for more items; use
    /// [`chunked_timeout`](DataflowExt::chunked_timeout) to bound that wait, or `futures`'
    /// `ready_chunks` to emit whatever is ready.
    ///
    /// Named `chunked` rather than `chunks` so that it never clashes with `futures`'
    /// [`chunks`](futures::StreamExt::chunks) (which panics on zero) when both traits are
    /// in scope.
    ///
    /// # Cancel safety
    ///
    /// The partial chunk lives in the stream, not in the `next()` future: dropping a
    /// `next()` (in `select!`, on a timeout) loses nothing.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] (`"chunk size"`) when `size`
    /// is zero. A `size` of type [`NonZeroUsize`](std::num::NonZeroUsize) cannot be: the
    /// operator then returns the stream itself, with no `Result`
    /// ([`CountArg`]).
    ///
    /// # Examples
    ///
    /// Insert rows into a database 1000 at a time:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ConfigError> {
    /// let rows = stream::iter(0..2500u32);
    /// let batches: Vec<Vec<u32>> = rows.chunked(1000.rows())?.collect().await;
    /// let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
    /// assert_eq!(sizes, [1000, 1000, 500]);
    ///
    /// assert!(stream::iter(0..3).chunked(0).is_err());
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "batch")]
    #[doc(alias = "chunks")]
    #[doc(alias = "into_chunks")]
    fn chunked<N>(self, size: N) -> N::Built<Chunks<Self>>
    where
        Self: Sized,
        N: CountArg,
    {
        size.build("chunk size", |size| Chunks::new(self, size))
    }

    /// Groups items into chunks of up to `size` items, emitting a chunk early when its
    /// first item has waited `timeout`.
    ///
    /// A chunk is emitted when it holds `size` items, or when `timeout` has passed since
    /// its **first item** was pulled (on the tokio clock, so tests can pause time), or at
    /// the end of the stream. A chunk is never empty, and the clock of the next chunk
    /// starts with its own first item, so a quiet stream costs no wake-ups. Use it to
    /// bound the latency of batched writes: "1000 rows or 2 seconds, whichever first".
    ///
    /// The operator holds at most `size - 1` items between polls and keeps one timer
    /// for its whole life.
    ///
    /// Compared with `tokio-stream`'s
    /// [`chunks_timeout`](https://docs.rs/tokio-stream/0.1/tokio_stream/trait.StreamExt.html#method.chunks_timeout)
    /// (0.1.19): its clock also starts at the first item of each chunk, but it checks the
    /// deadline only once upstream has nothing ready, so an overdue chunk keeps filling
    /// (up to `size`) while upstream has items; this one emits an overdue chunk on the
    /// first poll that sees the deadline passed, before pulling anything more. It also
    /// makes a new `Sleep` per chunk where this one resets one, panics for a zero size
    /// where this one returns an error, and panics outside a tokio runtime.
    ///
    /// # Cancel safety
    ///
    /// The partial chunk lives in the stream, not in the `next()` future: dropping a
    /// `next()` (in `select!`, on a timeout) loses nothing.
    /// To recover it from a stream already polled (say, at shutdown), call
    /// [`ChunksTimeout::take_buffered`].
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] (`"chunk size"`) and
    /// [`ConfigError::ZeroDuration`]
    /// (`"chunk timeout"`).
    ///
    /// # Runtime
    ///
    /// Polled outside a tokio runtime with the time driver, it does not panic: it logs a
    /// `tracing` error and closes chunks on size and end of stream only.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), ConfigError> {
    /// // Three events at once, then a fourth after 5 s.
    /// let burst = stream::iter([1, 2, 3]);
    /// let late = stream::once(async {
    ///     tokio::time::sleep(Duration::from_secs(5)).await;
    ///     4
    /// });
    /// let mut batches = std::pin::pin!(burst.chain(late).chunked_timeout(2, 1.seconds())?);
    /// assert_eq!(batches.next().await, Some(vec![1, 2])); // full
    /// assert_eq!(batches.next().await, Some(vec![3]));    // 1 s after its first item
    /// assert_eq!(batches.next().await, Some(vec![4]));    // end of stream
    /// assert_eq!(batches.next().await, None);
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "chunks_timeout")]
    #[doc(alias = "batch_timeout")]
    fn chunked_timeout(
        self,
        size: impl Into<Count>,
        timeout: Duration,
    ) -> Result<ChunksTimeout<Self>, ConfigError>
    where
        Self: Sized,
    {
        let size = size.into().validate("chunk size")?;
        let timeout = ConfigError::check_duration("chunk timeout", timeout)?;
        Ok(ChunksTimeout::new(self, size, timeout))
    }

    /// Groups items into chunks whose total weight stays within `max_weight`, where
    /// `weigh(&item)` gives each item's weight (bytes, rows, cost).
    ///
    /// Items keep their order. A chunk is emitted as soon as its weight reaches
    /// `max_weight`, or when the next item would push it over (that item opens the next
    /// chunk), or at the end of the stream. An item heavier than `max_weight` on its own
    /// forms a chunk of one: it is never dropped and never an error, so check
    /// `chunk.len() == 1` if such items need special handling. A chunk is never empty.
    /// Weights add up with saturating arithmetic.
    ///
    /// The operator holds at most one chunk's worth of weight (or one heavy item)
    /// between polls.
    ///
    /// # Cancel safety
    ///
    /// The partial chunk lives in the stream, not in the `next()` future: dropping a
    /// `next()` (in `select!`, on a timeout) loses nothing.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] (`"chunk weight"`) when
    /// `max_weight` is zero; none for a [`NonZeroUsize`](std::num::NonZeroUsize), and then
    /// no `Result` ([`CountArg`]).
    ///
    /// # Panics
    ///
    /// A panic in `weigh` propagates to the code polling the stream, as in `futures`'
    /// combinators: chunks carry no error channel to turn it into.
    ///
    /// # Examples
    ///
    /// Upload lines in requests of at most 4 MB:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ConfigError> {
    /// let lines = stream::iter(["ab", "cde", "f", "0123456789", "gh"]);
    /// let bodies: Vec<Vec<&str>> = lines
    ///     .chunked_weighted(5, |line: &&str| line.len())? // 4.mb() in real life
    ///     .collect()
    ///     .await;
    /// assert_eq!(
    ///     bodies,
    ///     [vec!["ab", "cde"], vec!["f"], vec!["0123456789"], vec!["gh"]]
    /// );
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "chunks_weighted")]
    fn chunked_weighted<N, F>(self, max_weight: N, weigh: F) -> N::Built<ChunksWeighted<Self, F>>
    where
        Self: Sized,
        N: CountArg,
        F: FnMut(&Self::Item) -> usize,
    {
        max_weight.build("chunk weight", |max| ChunksWeighted::new(self, max, weigh))
    }

    /// Reports every wait longer than `timeout` for the next item, as an
    /// [`Elapsed`] error, and goes on waiting.
    ///
    /// Items come out as `Ok(item)`. The clock starts when the consumer asks for the next
    /// item (the first poll after the previous item), so the consumer's own work between
    /// items never counts. If no item has arrived `timeout` later, the stream yields
    /// `Err(Elapsed)` naming the awaited item's index and the timeout; asking again starts
    /// a new wait for the same item, so a stalled source gives one `Elapsed` per
    /// `timeout` until the consumer stops asking. Nothing is dropped: the stream ends when
    /// upstream ends. Time is the tokio clock, so tests can pause it.
    ///
    /// Unlike `tokio-stream`'s `timeout`, whose clock runs from the previous item's
    /// arrival and which reports at most one error between two items, this clock runs
    /// from each request and repeats (like `tokio-stream`'s `timeout_repeating`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroDuration`]
    /// (`"item timeout"`).
    ///
    /// # Runtime
    ///
    /// Polled outside a tokio runtime with the time driver, it does not panic: it logs a
    /// `tracing` error and passes items through without timing them.
    ///
    /// # Examples
    ///
    /// Notice a sensor that went quiet:
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), ConfigError> {
    /// let readings = stream::iter([(0, 20.5), (3, 21.0)]).then(|(delay, celsius)| async move {
    ///     tokio::time::sleep(Duration::from_secs(delay)).await;
    ///     celsius
    /// });
    /// let out: Vec<_> = readings
    ///     .timeout_each(2.seconds())?
    ///     .map(|r| r.map_err(|e| (e.item(), e.after())))
    ///     .collect()
    ///     .await;
    /// assert_eq!(
    ///     out,
    ///     [Ok(20.5), Err((1, Duration::from_secs(2))), Ok(21.0)]
    /// );
    /// # Ok(())
    /// # }
    /// ```
    fn timeout_each(self, timeout: Duration) -> Result<TimeoutEach<Self>, ConfigError>
    where
        Self: Sized,
    {
        let timeout = ConfigError::check_duration("item timeout", timeout)?;
        Ok(TimeoutEach::new(self, timeout))
    }

    /// Runs `call(&item)` for each item and retries its failures with `policy`, one item
    /// at a time, in order.
    ///
    /// For each item the call is made; an `Err` is retried after the delays of the
    /// policy's [`backoff`](crate::task::RetryPolicy::backoff) (slept on the tokio clock),
    /// at most [`max_retries`](crate::task::RetryPolicy::max_retries) times and, with a
    /// [`max_elapsed`](crate::task::RetryPolicy::max_elapsed) budget, only while the next
    /// delay still ends within the budget counted from the item's first attempt. The
    /// stream yields `Ok(value)` for a success, or a [`RetryError`] for an item given
    /// up: it holds the item itself (nothing is lost), its index, the number of attempts
    /// and the last error ([`TaskError::Failed`](crate::error::TaskError::Failed)).
    /// A panic in `call` or in its future becomes
    /// [`TaskError::Panicked`](crate::error::TaskError::Panicked) and is not retried;
    /// the stream goes on with the next item.
    ///
    /// Items are processed one at a time: the next item is pulled only after the current
    /// one succeeded or was given up, so the output keeps the input order and nothing is
    /// buffered. For concurrency, combine `par_map` with a per-call
    /// [`AsyncTask`](crate::task::AsyncTask) retry instead.
    ///
    /// # Cancel safety
    ///
    /// The item and its attempt live in the stream: dropping a `next()` future neither
    /// loses the item nor cancels the attempt, which goes on at the next poll. Dropping
    /// the stream drops the attempt; [`RetryEach::into_parts`] gives the item back.
    ///
    /// # Errors
    ///
    /// The errors of [`RetryPolicy::validate`].
    ///
    /// # Runtime
    ///
    /// Without a tokio runtime with the time driver it does not panic: an item that
    /// needs a non-zero backoff is given up with its last error, and a `tracing` error
    /// says why.
    ///
    /// # Examples
    ///
    /// Push records to a flaky API, retrying each twice:
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    /// use sweet_async::task::{RetryPolicy, RetryStrategy};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), ConfigError> {
    /// let policy = RetryPolicy::new(RetryStrategy::Fixed(Duration::from_millis(100)))
    ///     .with_max_retries(2);
    /// let results: Vec<_> = stream::iter([1u32, 2, 3])
    ///     .retry_each(policy, |&id| async move {
    ///         if id == 2 { Err("HTTP 503") } else { Ok(id * 10) }
    ///     })?
    ///     .collect()
    ///     .await;
    /// assert_eq!(results[0].as_ref().ok(), Some(&10));
    /// let failed = results[1].as_ref().unwrap_err();
    /// assert_eq!((failed.index(), failed.attempts(), *failed.item()), (1, 3, 2));
    /// assert_eq!(results[2].as_ref().ok(), Some(&30));
    /// # Ok(())
    /// # }
    /// ```
    fn retry_each<F, Fut>(
        self,
        policy: impl Into<RetryPolicy>,
        call: F,
    ) -> Result<RetryEach<Self, F, Fut>, ConfigError>
    where
        Self: Sized,
        F: FnMut(&Self::Item) -> Fut,
        Fut: TryFuture,
    {
        let policy = policy.into();
        policy.validate()?;
        Ok(RetryEach::new(self, policy, call))
    }

    /// Lets at most `limit` items through per `period`, in bursts of up to `limit`.
    ///
    /// A token bucket on the tokio clock (a [`RateLimiter`] of its own): it holds up to
    /// `limit` tokens, starts full at the first poll and refills continuously at `limit`
    /// tokens per `period`; each item takes one. Upstream is asked for an item only when
    /// a token is available, so the operator buffers nothing and a slow consumer simply
    /// lets tokens accumulate (up to `limit`). With `limit = 10` and `period = 1 s`, ten
    /// ready items pass at once and then one every 100 ms. The stream ends as soon as
    /// upstream's size hint says nothing is left (iterators, closed channels); an upstream
    /// whose end shows only when polled ends when the next token comes. For another burst size, or one
    /// limit shared by several streams and the calls inside a `par_map`, make a
    /// [`RateLimiter`] and use [`rate_limit_with`](DataflowExt::rate_limit_with).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] (`"rate limit"`) and
    /// [`ConfigError::ZeroDuration`]
    /// (`"rate limit period"`).
    ///
    /// # Runtime
    ///
    /// Polled outside a tokio runtime with the time driver, it cannot sleep until the
    /// next token: it re-polls until it is due (and logs a `tracing` error once). Items
    /// never pass unthrottled.
    ///
    /// # Examples
    ///
    /// Call an API that allows 2 requests per second:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    /// use tokio::time::Instant;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), ConfigError> {
    /// let start = Instant::now();
    /// let sent: Vec<u128> = stream::iter(0..5)
    ///     .rate_limit(2.messages(), 1.seconds())?
    ///     .map(|_| start.elapsed().as_millis())
    ///     .collect()
    ///     .await;
    /// assert_eq!(sent, [0, 0, 500, 1000, 1500]);
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "throttle")]
    #[doc(alias = "with_rate_limit")]
    fn rate_limit(
        self,
        limit: impl Into<Count>,
        period: Duration,
    ) -> Result<RateLimit<Self>, ConfigError>
    where
        Self: Sized,
    {
        Ok(RateLimit::new(self, RateLimiter::new(limit, period)?))
    }

    /// Paces the stream with `limiter`, which its clones share: several streams (and the
    /// calls that take permits with [`RateLimiter::acquire`]) stay together within one
    /// limit. Infallible: the limiter was checked when it was made.
    ///
    /// # Examples
    ///
    /// Two feeds to one API, 4 calls per second between them, evenly spaced:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::RateLimiter;
    /// use sweet_async::prelude::*;
    /// use tokio::time::Instant;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), ConfigError> {
    /// let api = RateLimiter::new(4.messages(), 1.seconds())?.with_burst(1)?;
    /// let start = Instant::now();
    /// let orders = stream::iter(["o1", "o2"]).rate_limit_with(&api);
    /// let refunds = stream::iter(["r1", "r2"]).rate_limit_with(&api);
    /// let mut sent: Vec<(u128, &str)> = stream::select(orders, refunds)
    ///     .map(|call| (start.elapsed().as_millis(), call))
    ///     .collect()
    ///     .await;
    /// sent.sort();
    /// let times: Vec<u128> = sent.iter().map(|s| s.0).collect();
    /// assert_eq!(times, [0, 250, 500, 750]);
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "throttle")]
    fn rate_limit_with(self, limiter: &RateLimiter) -> RateLimit<Self>
    where
        Self: Sized,
    {
        RateLimit::new(self, limiter.clone())
    }

    /// Keeps the `Ok` values of a stream of `Result`s and counts the errors it skips.
    ///
    /// The count is shared: take a handle with [`SkipErrors::counter`] before consuming
    /// the stream and read it afterwards, so "items in = items out + skipped" can be
    /// checked and reported. The errors themselves are dropped; to keep them, use
    /// [`partition_errors`](DataflowExt::partition_errors).
    ///
    /// # Examples
    ///
    /// Parse what parses, report how much did not:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let parsed = stream::iter(["1", "x", "3", ""]).map(|s| s.parse::<u32>());
    /// let numbers = parsed.skip_errors();
    /// let skipped = numbers.counter();
    /// assert_eq!(numbers.collect::<Vec<_>>().await, [1, 3]);
    /// assert_eq!(skipped.get(), 2);
    /// # }
    /// ```
    fn skip_errors<T, E>(self) -> SkipErrors<Self>
    where
        Self: Sized + Stream<Item = Result<T, E>>,
    {
        SkipErrors::new(self)
    }

    /// Passes a stream of `Result`s through until its first error, yields that error,
    /// then ends.
    ///
    /// Nothing after the error is pulled from upstream (it is still there:
    /// [`StopOnError::into_inner`] gives it back). The stream is fused: it keeps
    /// returning `None` after the error.
    ///
    /// # Examples
    ///
    /// A migration that must not go on past a failed step:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let steps = stream::iter([Ok(1), Ok(2), Err("step 3 failed"), Ok(4)]);
    /// let done: Vec<_> = steps.stop_on_error().collect().await;
    /// assert_eq!(done, [Ok(1), Ok(2), Err("step 3 failed")]);
    /// # }
    /// ```
    fn stop_on_error<T, E>(self) -> StopOnError<Self>
    where
        Self: Sized + Stream<Item = Result<T, E>>,
    {
        StopOnError::new(self)
    }

    /// Splits a stream of `Result`s: the `Ok` values flow on, and each error is handed
    /// to `on_err(index, error)` with its 0-based position in the input.
    ///
    /// The error side is a closure rather than a second stream: a pair of streams must
    /// either buffer without bound or stall one side until the other is read, which
    /// hangs a program that reads the values to the end first. Here the error is handed
    /// over (ownership and all) the moment it is pulled, before the next value is
    /// yielded: nothing is buffered and nothing is lost. Push it into a `Vec`, log it,
    /// or `try_send` it to a dead-letter channel. [`PartitionErrors::counter`] counts
    /// the errors.
    ///
    /// # Panics
    ///
    /// A panic in `on_err` propagates to the code polling the stream.
    ///
    /// # Examples
    ///
    /// Load the good rows, keep the bad ones with their line numbers:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let rows = stream::iter(["7", "seven", "8"]).map(|s| s.parse::<u8>());
    /// let mut rejected = Vec::new();
    /// let good: Vec<u8> = rows
    ///     .partition_errors(|index, err| rejected.push((index, err.to_string())))
    ///     .collect()
    ///     .await;
    /// assert_eq!(good, [7, 8]);
    /// assert_eq!(rejected, [(1, "invalid digit found in string".to_owned())]);
    /// # }
    /// ```
    fn partition_errors<T, E, F>(self, on_err: F) -> PartitionErrors<Self, F>
    where
        Self: Sized + Stream<Item = Result<T, E>>,
        F: FnMut(u64, E),
    {
        PartitionErrors::new(self, on_err)
    }

    /// Passes items through and calls `report` with a [`Progress`] every `every` items
    /// and once more at the end of the stream.
    ///
    /// A report holds the items so far, the time since the stream was first polled (on
    /// the tokio clock) and the rate in items per second; the last one has `finished`
    /// set (it comes even when the count is a multiple of `every`, and for an empty
    /// stream). The clock is read only when a report is made, so the cost per item is a
    /// counter. To count bytes too, use
    /// [`inspect_progress_bytes`](DataflowExt::inspect_progress_bytes).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] (`"progress interval"`) when
    /// `every` is zero; none for a [`NonZeroUsize`](std::num::NonZeroUsize), and then no
    /// `Result` ([`CountArg`]).
    ///
    /// # Panics
    ///
    /// A panic in `report` propagates to the code polling the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), ConfigError> {
    /// let mut seen = Vec::new();
    /// let rows = stream::iter(0..25)
    ///     .inspect_progress(10.rows(), |p| seen.push((p.items, p.finished)))?
    ///     .count()
    ///     .await;
    /// assert_eq!(rows, 25);
    /// assert_eq!(seen, [(10, false), (20, false), (25, true)]);
    /// # Ok(())
    /// # }
    /// ```
    fn inspect_progress<N, F>(self, every: N, report: F) -> N::Built<InspectProgress<Self, F>>
    where
        Self: Sized,
        N: CountArg,
        F: FnMut(&Progress),
    {
        every.build("progress interval", |every| {
            InspectProgress::new(self, every, None, report)
        })
    }

    /// Like [`inspect_progress`](DataflowExt::inspect_progress), also counting bytes:
    /// `bytes_of(&item)` gives each item's size, summed into [`Progress::bytes`].
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] (`"progress interval"`) when
    /// `every` is zero; none for a [`NonZeroUsize`](std::num::NonZeroUsize), and then no
    /// `Result` ([`CountArg`]).
    ///
    /// # Panics
    ///
    /// A panic in `bytes_of` or `report` propagates to the code polling the stream.
    ///
    /// # Examples
    ///
    /// Log throughput while copying lines:
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), ConfigError> {
    /// let lines = stream::iter(["alpha", "beta", "gamma"]).then(|line| async move {
    ///     tokio::time::sleep(Duration::from_millis(500)).await;
    ///     line
    /// });
    /// let mut last = None;
    /// lines
    ///     .inspect_progress_bytes(2, |line| line.len() as u64, |p| last = Some(*p))?
    ///     .for_each(|_| async {})
    ///     .await;
    /// let p = last.unwrap();
    /// assert_eq!((p.items, p.bytes, p.elapsed), (3, Some(14), 1500.millis()));
    /// assert_eq!(p.rate, 2.0);
    /// # Ok(())
    /// # }
    /// ```
    fn inspect_progress_bytes<N, B, F>(
        self,
        every: N,
        bytes_of: B,
        report: F,
    ) -> N::Built<InspectProgress<Self, F, B>>
    where
        Self: Sized,
        N: CountArg,
        B: FnMut(&Self::Item) -> u64,
        F: FnMut(&Progress),
    {
        every.build("progress interval", |every| {
            InspectProgress::new(self, every, Some(bytes_of), report)
        })
    }

    /// Draws a terminal progress bar (with `indicatif`) that advances with each item and
    /// finishes at the end of the stream.
    ///
    /// `total` gives the bar a length (a percentage and an ETA); `None` draws a counter.
    /// The bar goes to standard error and hides itself when that is not a terminal (in
    /// CI, in a pipe), so it is safe in any program. A stream dropped before its end
    /// leaves the bar abandoned where it stopped. Style it or set a message through
    /// [`ProgressBar::bar`].
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let files = stream::iter(["a.csv", "b.csv", "c.csv"]).progress_bar(Some(3));
    /// files.bar().set_message("importing");
    /// assert_eq!(files.count().await, 3);
    /// # }
    /// ```
    #[cfg(feature = "progress")]
    #[cfg_attr(docsrs, doc(cfg(feature = "progress")))]
    fn progress_bar(self, total: Option<u64>) -> ProgressBar<Self>
    where
        Self: Sized,
    {
        ProgressBar::new(self, total)
    }

    /// Groups elements into **event-time** windows: tumbling, sliding or session windows
    /// over a timestamp you read from each element, closed by a watermark.
    ///
    /// Follows Apache Flink's definitions exactly (`TumblingEventTimeWindows`,
    /// `SlidingEventTimeWindows`, `EventTimeSessionWindows`, `BoundedOutOfOrdernessWatermarks`,
    /// `EventTimeTrigger`, allowed lateness and a late side output):
    ///
    /// - `timestamp(&item)` gives the element's event time as an `i64` in your unit
    ///   (milliseconds, seconds...); sizes, slides, gaps, offsets, out-of-orderness and
    ///   lateness are in the same unit.
    /// - [`Tumbling::event_time(s)`](window::Tumbling::event_time): `t` belongs to
    ///   `[start, start + s)` with `start = t - (t - offset).rem_euclid(s)`.
    ///   [`Sliding::event_time(s, p)`](window::Sliding::event_time): `t` belongs to every
    ///   `[start, start + s)` with `start` a multiple of `p` (plus offset) and
    ///   `start <= t < start + s`. [`Session::event_time(g)`](window::Session::event_time):
    ///   `t` opens `[t, t + g)` and windows of the same key that overlap **or touch** merge
    ///   (events at 0 and 5 with gap 5 are one session `[0, 10)`).
    /// - The watermark is `W = max_timestamp_seen - out_of_orderness - 1` (no element with
    ///   a timestamp `<= W` is expected any more). Each element is processed under the
    ///   current watermark, then the watermark moves. A window fires once, when
    ///   `W >= end - 1` ([`FireReason::Watermark`](window::FireReason::Watermark)): with
    ///   size 5 and out-of-orderness 2, `[0, 5)` fires once an element with timestamp
    ///   `>= 7` has been seen, not at 6.
    /// - A fired window stays open for `allowed_lateness`: an element that arrives for it
    ///   while `end - 1 + allowed_lateness > W` is added and the window fires again at once
    ///   with its whole updated value ([`FireReason::LateUpdate`](window::FireReason::LateUpdate),
    ///   [`Window::update`](window::Window::update) set). A late element can bridge two
    ///   sessions: the merged session fires as an update.
    /// - An element whose windows are all closed (`end - 1 + allowed_lateness <= W`, which
    ///   implies `ts + allowed_lateness <= W`) comes out as
    ///   [`WindowEvent::Late`](window::WindowEvent::Late) in the same stream: never a silent
    ///   drop. (As in Flink, an element behind the watermark whose window is still open just
    ///   joins it.)
    /// - At the end of the input the watermark becomes `+inf` and every open window fires
    ///   ([`FireReason::EndOfStream`](window::FireReason::EndOfStream)).
    ///
    /// The stream yields [`WindowEvent`](window::WindowEvent)s: `Fired(Window)` with key
    /// (`()` here; see [`key_by`](DataflowExt::key_by)), `start`, `end`, the `value` (the
    /// elements in arrival order, or an aggregate), `count`, `reason` and `update`;
    /// `Late(item)`; or `Error` when a closure panicked. Instead of buffering the elements,
    /// aggregate each window with [`fold_windows`](window::EventTimeWindow::fold_windows),
    /// [`reduce_windows`](window::EventTimeWindow::reduce_windows),
    /// [`fold_windows_with_merge`](window::EventTimeWindow::fold_windows_with_merge) (sessions) or any
    /// [`WindowAggregate`](window::WindowAggregate). `stats()` counts windows fired,
    /// updates, late elements, evictions and open windows.
    ///
    /// # Memory and backpressure
    ///
    /// The operator holds the open windows only: windows not fired yet and fired windows
    /// kept for allowed lateness. Without aggregation each holds its elements (a sliding
    /// window element is cloned into each of its `size / slide` windows); with `fold` or
    /// `reduce` each holds one accumulator. The number of open windows is bounded by
    /// [`max_open_windows`](window::EventTimeSpec::max_open_windows) (default
    /// [`DEFAULT_MAX_OPEN_WINDOWS`](window::DEFAULT_MAX_OPEN_WINDOWS)): past it the window
    /// with the smallest end fires early as [`FireReason::Evicted`](window::FireReason::Evicted)
    /// (a fired window kept for lateness is just closed). The elements kept without
    /// aggregation are bounded by
    /// [`max_held_elements`](window::EventTimeSpec::max_held_elements) (default
    /// [`DEFAULT_MAX_HELD_ELEMENTS`](window::DEFAULT_MAX_HELD_ELEMENTS)): once all windows
    /// hold that many, the window with the smallest end fires early as
    /// [`FireReason::Full`](window::FireReason::Full), so a watermark that never advances
    /// cannot grow memory forever. Upstream is polled only when no output is waiting.
    /// Dropping the stream drops the open windows.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] before any work starts: a size, slide or
    /// gap `<= 0`, a negative out-of-orderness or lateness, a slide larger than the size
    /// (elements between windows would belong to no window), `|offset| >= size` (tumbling)
    /// or `>= slide` (sliding), or `max_open_windows` below the windows of one element.
    ///
    /// # Examples
    ///
    /// IoT temperature readings in 5-minute windows, averaged without keeping the readings,
    /// with readings up to 30 s out of order:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::window::{FireReason, Tumbling, WindowEvent};
    ///
    /// #[derive(Debug, Clone)]
    /// struct Reading { ts_ms: i64, celsius: f64 }
    ///
    /// const SECOND: i64 = 1_000;
    /// const MINUTE: i64 = 60 * SECOND;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// let readings = stream::iter(vec![
    ///     Reading { ts_ms: 10 * SECOND, celsius: 20.5 },
    ///     Reading { ts_ms: 4 * MINUTE, celsius: 21.5 },
    ///     Reading { ts_ms: 6 * MINUTE, celsius: 22.0 }, // W = 5:29.999: [0, 5 min) fires
    ///     Reading { ts_ms: 2 * MINUTE, celsius: 30.0 }, // its window is closed: late
    /// ]);
    /// let mut averages = readings
    ///     .event_time_window(
    ///         Tumbling::event_time(5 * MINUTE).out_of_orderness(30 * SECOND),
    ///         |r| r.ts_ms,
    ///     )?
    ///     .fold_windows((0.0, 0u32), |(sum, n), r| (sum + r.celsius, n + 1));
    ///
    /// let mut report = Vec::new();
    /// while let Some(event) = averages.next().await {
    ///     match event {
    ///         WindowEvent::Fired(w) => {
    ///             let (sum, n) = w.value;
    ///             report.push((w.start / MINUTE, w.end / MINUTE, sum / f64::from(n), w.reason));
    ///         }
    ///         WindowEvent::Late(r) => eprintln!("late reading at {} ms", r.ts_ms),
    ///         WindowEvent::Error(e) => eprintln!("window stream failed: {e}"),
    ///         _ => {} // the enum is `#[non_exhaustive]`
    ///     }
    /// }
    /// assert_eq!(report, vec![
    ///     (0, 5, 21.0, FireReason::Watermark),
    ///     (5, 10, 22.0, FireReason::EndOfStream),
    /// ]);
    /// assert_eq!(averages.stats().late, 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Allowed lateness re-fires an updated window; sessions merge:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::window::{Session, Tumbling};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// let windows = stream::iter([1i64, 2, 6, 3])
    ///     .event_time_window(Tumbling::event_time(5).allowed_lateness(3), |t| *t)?;
    /// let fired: Vec<(i64, i64, Vec<i64>, bool)> = windows
    ///     .filter_map(|e| async move { e.into_window() })
    ///     .map(|w| (w.start, w.end, w.value, w.update))
    ///     .collect()
    ///     .await;
    /// assert_eq!(fired, vec![
    ///     (0, 5, vec![1, 2], false),    // W = 5 >= 4
    ///     (0, 5, vec![1, 2, 3], true),  // 3 is within the lateness: an update
    ///     (5, 10, vec![6], false),      // end of input
    /// ]);
    ///
    /// // Gap 5: 0 and 5 touch and merge into [0, 10).
    /// let sessions: Vec<_> = stream::iter([0i64, 5, 20])
    ///     .event_time_window(Session::event_time(5), |t| *t)?
    ///     .filter_map(|e| async move { e.into_window() })
    ///     .map(|w| (w.start, w.end, w.value))
    ///     .collect()
    ///     .await;
    /// assert_eq!(sessions, vec![(0, 10, vec![0, 5]), (20, 25, vec![20])]);
    /// # Ok(())
    /// # }
    /// ```
    fn event_time_window<A, F>(
        self,
        spec: window::EventTimeSpec<A>,
        timestamp: F,
    ) -> Result<window::EventTimeWindow<Self, window::NoKey, F, A, window::Contents>, ConfigError>
    where
        Self: Sized,
        Self::Item: Clone,
        F: FnMut(&Self::Item) -> i64,
    {
        window::KeyBy::new(self, window::NoKey).event_time_window(spec, timestamp)
    }

    /// Groups elements into **processing-time** windows on the tokio clock: tumbling,
    /// sliding or session windows over the instant each element arrives.
    ///
    /// Flink's `TumblingProcessingTimeWindows`, `SlidingProcessingTimeWindows` and
    /// `ProcessingTimeSessionWindows`, on [`tokio::time::Instant`] so tests run on paused
    /// time. Windows are aligned to the instant the stream is first polled (plus the
    /// offset): with 1 s tumbling windows, `[t0, t0 + 1 s)`, `[t0 + 1 s, t0 + 2 s)`...
    /// A window fires ([`FireReason::Timer`](window::FireReason::Timer)) when the clock
    /// reaches its end, **even if no element arrives**: the stream arms a tokio timer for
    /// the earliest window end whenever it waits for input. A session closes `gap` after its
    /// last element. Empty windows never fire; at the end of the input every open window
    /// fires at once. Nothing is ever late in processing time.
    ///
    /// The stream yields [`WindowEvent`](window::WindowEvent)s whose bounds are tokio
    /// `Instant`s; aggregate with [`fold_windows`](window::ProcessingTimeWindow::fold_windows),
    /// [`reduce_windows`](window::ProcessingTimeWindow::reduce_windows),
    /// [`fold_windows_with_merge`](window::ProcessingTimeWindow::fold_windows_with_merge) or
    /// [`aggregate_windows`](window::ProcessingTimeWindow::aggregate_windows).
    ///
    /// Memory: the open windows (bounded by
    /// [`max_open_windows`](window::ProcessingTimeSpec::max_open_windows)) and their
    /// contents (bounded by
    /// [`max_held_elements`](window::ProcessingTimeSpec::max_held_elements)) or
    /// accumulators; upstream is polled only when no output is waiting.
    ///
    /// Polled outside a tokio runtime with timers, the stream yields
    /// [`WindowEvent::Error`](window::WindowEvent::Error) with
    /// [`TaskError::NoRuntime`](crate::error::TaskError::NoRuntime) and ends.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] before any work starts: a zero size,
    /// slide or gap ([`ConfigError::ZeroDuration`]),
    /// a slide larger than the size, an offset not smaller than the size (tumbling) or
    /// slide (sliding), or `max_open_windows` below the windows of one element.
    ///
    /// # Examples
    ///
    /// Requests per second from a source that stalls: the second window fires on its timer
    /// although nothing arrives after it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::window::Tumbling;
    /// use sweet_async::units::TimeExt;
    /// use tokio::time::{Instant, sleep};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// let start = Instant::now();
    /// // Requests at 400, 800 and 1200 ms, then a silent source.
    /// let requests = stream::iter(1..=3)
    ///     .then(|id| async move {
    ///         sleep(Duration::from_millis(400)).await;
    ///         id
    ///     })
    ///     .chain(stream::pending());
    /// let per_second = requests
    ///     .processing_time_window(Tumbling::processing_time(1.seconds()))?
    ///     .fold_windows(0u32, |n, _| n + 1);
    /// let mut per_second = std::pin::pin!(per_second);
    ///
    /// let first = per_second.next().await.and_then(|e| e.into_window()).unwrap();
    /// assert_eq!((first.start, first.end, first.value), (start, start + 1.seconds(), 2));
    /// let second = per_second.next().await.and_then(|e| e.into_window()).unwrap();
    /// assert_eq!(second.value, 1);
    /// assert_eq!(Instant::now(), start + 2.seconds()); // fired on the timer
    /// # Ok(())
    /// # }
    /// ```
    fn processing_time_window<A>(
        self,
        spec: window::ProcessingTimeSpec<A>,
    ) -> Result<window::ProcessingTimeWindow<Self, window::NoKey, A, window::Contents>, ConfigError>
    where
        Self: Sized,
        Self::Item: Clone,
    {
        window::KeyBy::new(self, window::NoKey).processing_time_window(spec)
    }

    /// Groups elements into **count** windows: tumbling ([`Tumbling::count(n)`](window::Tumbling::count),
    /// `n` elements each) or sliding ([`Sliding::count(n, s)`](window::Sliding::count):
    /// every `s` elements, a window over the last `n`).
    ///
    /// Flink's `countWindow(n)` and `countWindow(n, s)`: the first sliding windows are
    /// partial (`countWindow(3, 1)` over `1, 2, 3, 4` gives `[1]`, `[1, 2]`, `[1, 2, 3]`,
    /// `[2, 3, 4]`). A window fires as soon as its count is reached
    /// ([`FireReason::Count`](window::FireReason::Count)). Unlike Flink, nothing stays
    /// behind at the end of the input: if elements arrived since the last firing, the next
    /// window fires with what it has ([`FireReason::EndOfStream`](window::FireReason::EndOfStream)).
    /// `start..end` are input positions (0-based): the element index range for a stream
    /// without a key, the span of the key's elements otherwise.
    ///
    /// Memory: at most `ceil(n / s)` windows per key, each holding its elements or one
    /// accumulator, and at most [`max_open_windows`](window::CountSpec::max_open_windows)
    /// in all (past it the oldest window fires early as
    /// [`FireReason::Evicted`](window::FireReason::Evicted)); their contents are bounded by
    /// [`max_held_elements`](window::CountSpec::max_held_elements) (past it the oldest
    /// window fires early as [`FireReason::Full`](window::FireReason::Full)). Upstream is
    /// polled only when no output is waiting.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for a zero size or slide, a slide
    /// larger than the size, or `max_open_windows` below `ceil(n / s)`.
    ///
    /// # Examples
    ///
    /// A moving sum over the last three readings, every reading, and batches of two:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::window::{Sliding, Tumbling};
    /// use sweet_async::units::CountExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// let moving: Vec<(u64, u64, i32)> = stream::iter([1, 2, 3, 4, 5])
    ///     .count_window(Sliding::count(3, 1))?
    ///     .fold_windows(0, |sum, x| sum + x)
    ///     .filter_map(|e| async move { e.into_window() })
    ///     .map(|w| (w.start, w.end, w.value))
    ///     .collect()
    ///     .await;
    /// assert_eq!(moving, vec![(0, 1, 1), (0, 2, 3), (0, 3, 6), (1, 4, 9), (2, 5, 12)]);
    ///
    /// let batches: Vec<Vec<i32>> = stream::iter([1, 2, 3, 4, 5])
    ///     .count_window(Tumbling::count(2.rows()))?
    ///     .filter_map(|e| async move { e.into_window().map(|w| w.value) })
    ///     .collect()
    ///     .await;
    /// assert_eq!(batches, vec![vec![1, 2], vec![3, 4], vec![5]]);
    /// # Ok(())
    /// # }
    /// ```
    fn count_window(
        self,
        spec: window::CountSpec,
    ) -> Result<window::CountWindow<Self, window::NoKey, window::Contents>, ConfigError>
    where
        Self: Sized,
        Self::Item: Clone,
    {
        window::KeyBy::new(self, window::NoKey).count_window(spec)
    }

    /// Splits the stream by `key(&item)` so the next window call keeps one set of windows
    /// per key (Flink's `keyBy(..).window(..)`).
    ///
    /// Returns a [`KeyBy`](window::KeyBy): choose the windows with its
    /// [`event_time_window`](window::KeyBy::event_time_window),
    /// [`processing_time_window`](window::KeyBy::processing_time_window) or
    /// [`count_window`](window::KeyBy::count_window). Each fired
    /// [`Window`](window::Window) carries its key. Event-time windows of all keys share one
    /// watermark (as in Flink: any element moves time for every key); count windows count
    /// each key's elements. Sessions merge within a key only.
    ///
    /// Keys are `K: Hash + Eq + Clone`; the key function runs once per element, and a panic
    /// in it ends the stream with [`WindowEvent::Error`](window::WindowEvent::Error).
    /// With many keys, bound memory with `max_open_windows` on the spec: the open windows of
    /// all keys together never exceed it (the window with the smallest end fires early,
    /// marked [`FireReason::Evicted`](window::FireReason::Evicted), never dropped).
    ///
    /// # Examples
    ///
    /// Traded volume per symbol and minute, with at most 10 000 windows open:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::window::{FireReason, Tumbling};
    ///
    /// #[derive(Debug, Clone)]
    /// struct Trade { symbol: String, ts_ms: i64, qty: u64 }
    ///
    /// fn trade(symbol: &str, ts_ms: i64, qty: u64) -> Trade {
    ///     Trade { symbol: symbol.to_owned(), ts_ms, qty }
    /// }
    ///
    /// const MINUTE: i64 = 60_000;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// let trades = stream::iter(vec![
    ///     trade("ACME", 1_000, 100),
    ///     trade("INIT", 2_000, 5),
    ///     trade("ACME", 30_000, 50),
    ///     trade("INIT", 61_000, 7), // the watermark passes 1 min for every symbol
    /// ]);
    /// let volumes: Vec<(String, i64, u64, FireReason)> = trades
    ///     .key_by(|t| t.symbol.clone())
    ///     .event_time_window(Tumbling::event_time(MINUTE).max_open_windows(10_000), |t| t.ts_ms)?
    ///     .fold_windows(0, |qty, t| qty + t.qty)
    ///     .filter_map(|e| async move { e.into_window() })
    ///     .map(|w| (w.key, w.start / MINUTE, w.value, w.reason))
    ///     .collect()
    ///     .await;
    /// assert_eq!(volumes, vec![
    ///     ("ACME".to_owned(), 0, 150, FireReason::Watermark),
    ///     ("INIT".to_owned(), 0, 5, FireReason::Watermark),
    ///     ("INIT".to_owned(), 1, 7, FireReason::EndOfStream),
    /// ]);
    /// # Ok(())
    /// # }
    /// ```
    fn key_by<K, F>(self, key: F) -> window::KeyBy<Self, F>
    where
        Self: Sized,
        F: FnMut(&Self::Item) -> K,
        K: Hash + Eq + Clone,
    {
        window::KeyBy::new(self, key)
    }

    /// Emits elements in non-decreasing timestamp order, behind a bounded-out-of-orderness
    /// watermark; elements that come too late are handed over as [`Sequenced::Late`].
    ///
    /// `ts_of` reads an element's timestamp (an `i64` in your unit: ms, µs, ticks...).
    /// The watermark is Flink's `W = max_timestamp_seen - max_out_of_orderness - 1`: "no
    /// element with a timestamp at or below `W` is expected any more". A buffered element
    /// is emitted as [`Sequenced::Item`] once its timestamp is `<= W`, smallest first;
    /// equal timestamps keep their arrival order. An element whose timestamp is below the
    /// last emitted one cannot be put in order any more: it comes out at once as
    /// [`Sequenced::Late`], never dropped. At the end of the stream everything buffered is
    /// emitted in order.
    ///
    /// The buffer only holds elements not yet released by the watermark, and never more
    /// than [`max_buffered`](sequence::OrderByTimestamp::with_max_buffered) of them
    /// (default [`DEFAULT_MAX_BUFFERED`](sequence::DEFAULT_MAX_BUFFERED)): when an element
    /// arrives with the buffer full, the oldest one is emitted early and the watermark
    /// moves up to it. [`counts()`](sequence::OrderByTimestamp::counts) reports elements
    /// in, emitted, out of order (behind the largest timestamp seen), late and forced out
    /// early; [`watermark()`](sequence::OrderByTimestamp::watermark) the current watermark.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when
    /// `max_out_of_orderness` is negative. If `ts_of` panics, the stream yields one
    /// [`SequenceError`] (with [`TaskError::Panicked`](crate::error::TaskError::Panicked))
    /// that hands back the element and everything buffered, then ends.
    ///
    /// # Cancel safety
    ///
    /// Dropping a pending `next()` loses nothing: buffered elements stay in the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{TryStreamExt, stream};
    /// use sweet_async::operators::Sequenced::{Item, Late};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // (timestamp in ms, trade id), up to 2 ms out of order.
    /// let trades = stream::iter([(10, 'a'), (12, 'b'), (11, 'c'), (16, 'd'), (9, 'e'), (20, 'f')]);
    /// let mut ordered = trades.order_by_timestamp(2, |t| t.0)?;
    /// let mut out = Vec::new();
    /// while let Some(x) = ordered.try_next().await? {
    ///     out.push(x);
    /// }
    /// assert_eq!(
    ///     out,
    ///     [
    ///         Item((10, 'a')),
    ///         Item((11, 'c')),
    ///         Item((12, 'b')),
    ///         Late((9, 'e')), // 12 was already emitted
    ///         Item((16, 'd')),
    ///         Item((20, 'f')), // flushed at the end
    ///     ]
    /// );
    /// let counts = ordered.counts();
    /// assert_eq!((counts.out_of_order, counts.late, counts.emitted), (2, 1, 5));
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "TimestampSequence")]
    #[doc(alias = "handle_late_arrival")]
    fn order_by_timestamp<F>(
        self,
        max_out_of_orderness: i64,
        ts_of: F,
    ) -> Result<sequence::OrderByTimestamp<Self, F>, ConfigError>
    where
        Self: Sized,
        F: FnMut(&Self::Item) -> i64,
    {
        sequence::OrderByTimestamp::new(self, ts_of, max_out_of_orderness)
    }

    /// Passes every element through and, where two consecutive elements (in arrival
    /// order) have timestamps more than `threshold` apart, first emits a
    /// [`Sequenced::Gap`] `{ from, to }` with the two timestamps.
    ///
    /// For "the sensor went silent for more than 30 s". Only forward jumps are gaps: a
    /// timestamp smaller than the previous one is not reported (put the stream in order
    /// first with [`order_by_timestamp`](DataflowExt::order_by_timestamp)). Holds at most
    /// one element (the one after a gap marker). [`counts()`](sequence::DetectGaps::counts)
    /// reports elements in, emitted and gaps.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when `threshold` is not
    /// positive. If `ts_of` panics, the stream yields one [`SequenceError`] handing back
    /// the element, then ends.
    ///
    /// # Cancel safety
    ///
    /// Dropping a pending `next()` loses nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{TryStreamExt, stream};
    /// use sweet_async::operators::Sequenced::{Gap, Item};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let readings = stream::iter([0_i64, 10, 20, 60, 70]); // seconds
    /// let out: Vec<_> = readings.detect_gaps(30, |ts| *ts)?.try_collect().await?;
    /// assert_eq!(out, [Item(0), Item(10), Item(20), Gap { from: 20, to: 60 }, Item(60), Item(70)]);
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "TimestampSequence")]
    fn detect_gaps<F>(
        self,
        threshold: i64,
        ts_of: F,
    ) -> Result<sequence::DetectGaps<Self, F>, ConfigError>
    where
        Self: Sized,
        F: FnMut(&Self::Item) -> i64,
    {
        sequence::DetectGaps::new(self, ts_of, threshold)
    }

    /// Restores sequence-number order: emits elements strictly by id, reporting missing
    /// ids, duplicates and ids that come too late.
    ///
    /// `id_of` reads an element's `u64` sequence number. Ids start at
    /// [`ReorderConfig::first_id`] (default 0) or at the first id seen
    /// ([`ReorderConfig::first_seen`]). The element with the next expected id is emitted
    /// as [`Sequenced::Item`] at once; elements ahead of it wait in a buffer of at most
    /// `max_buffered` elements. When an element overflows the buffer, or the optional
    /// [`gap_timeout`](ReorderConfig::gap_timeout) passes while waiting for the next id
    /// (tokio clock), the missing ids are given up: a [`Sequenced::Gap`] `{ from, to }`
    /// reports them (`from..=to`) and processing goes on from the first buffered id. An
    /// element whose id is already buffered comes out as [`Sequenced::Duplicate`]; one
    /// whose id was emitted or given up as [`Sequenced::AlreadyPassed`]; neither is
    /// emitted twice. At the end of the stream the buffer is emitted in order, with gap
    /// markers for the holes.
    ///
    /// The buffer holds at most `max_buffered` elements whenever an element comes out;
    /// right after a gap marker caused by an overflow it holds one more, emitted next.
    /// [`counts()`](sequence::ReorderById::counts) reports elements in, emitted, out of
    /// order, gaps, missing ids, duplicates and already-passed elements.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `max_buffered` is zero,
    /// [`ConfigError::OutOfRange`] above
    /// [`MAX_BUFFERED`](sequence::MAX_BUFFERED) (a buffer without bound would grow forever
    /// behind a gap that never fills), [`ConfigError::ZeroDuration`] for a zero
    /// timeout. If `id_of` panics, or a timeout needs a timer outside a tokio runtime
    /// with timers enabled, the stream yields one [`SequenceError`] that hands back every
    /// held element in id order, then ends.
    ///
    /// # Cancel safety
    ///
    /// Dropping a pending `next()` loses nothing: buffered elements stay in the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{TryStreamExt, stream};
    /// use sweet_async::operators::Sequenced::{AlreadyPassed, Duplicate, Gap, Item};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let packets = stream::iter([0_u64, 2, 1, 1, 5, 5, 3, 4, 9]);
    /// let out: Vec<_> = packets.reorder_by_id(8, |id| *id)?.try_collect().await?;
    /// assert_eq!(
    ///     out,
    ///     [
    ///         Item(0), Item(1), Item(2), AlreadyPassed(1), Duplicate(5),
    ///         Item(3), Item(4), Item(5), Gap { from: 6, to: 8 }, Item(9),
    ///     ]
    /// );
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// With a timeout, a missing id is given up after a while even if the buffer is not
    /// full:
    ///
    /// ```
    /// use futures::{StreamExt, TryStreamExt, stream};
    /// use sweet_async::operators::ReorderConfig;
    /// use sweet_async::operators::Sequenced::{Gap, Item};
    /// use sweet_async::prelude::*;
    /// use tokio::time::Instant;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let start = Instant::now();
    /// // Id 1 never comes, and the source stays open.
    /// let ids = stream::iter([0_u64, 2]).chain(stream::pending());
    /// let config = ReorderConfig::new(1000).gap_timeout(5.seconds());
    /// let mut ordered = ids.reorder_by_id(config, |id| *id)?;
    /// assert_eq!(ordered.try_next().await?, Some(Item(0)));
    /// assert_eq!(ordered.try_next().await?, Some(Gap { from: 1, to: 1 }));
    /// assert_eq!(start.elapsed(), 5.seconds());
    /// assert_eq!(ordered.try_next().await?, Some(Item(2)));
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "IdSequence")]
    fn reorder_by_id<F>(
        self,
        config: impl Into<ReorderConfig>,
        id_of: F,
    ) -> Result<sequence::ReorderById<Self, F>, ConfigError>
    where
        Self: Sized,
        F: FnMut(&Self::Item) -> u64,
    {
        sequence::ReorderById::new(self, id_of, config.into())
    }

    /// Sorts by `cmp` within a sliding buffer of `buffer` elements: once the buffer is
    /// full, each new element pushes out the smallest one held.
    ///
    /// The output is fully sorted whenever no element is more than `buffer` places away
    /// from its sorted position (for "nearly sorted" input: log lines from a few servers,
    /// packets reordered by the network); otherwise it is as sorted as the buffer allows.
    /// Equal elements keep their arrival order. At the end of the stream the buffer is
    /// emitted in order. Holds at most `buffer` elements;
    /// [`counts()`](sequence::SortBounded::counts) reports elements in and emitted.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `buffer` is zero,
    /// [`ConfigError::OutOfRange`] above
    /// [`MAX_BUFFERED`](sequence::MAX_BUFFERED). If
    /// `cmp` panics, the stream yields one [`SequenceError`] that hands back every held
    /// element (in no particular order), then ends.
    ///
    /// # Cancel safety
    ///
    /// Dropping a pending `next()` loses nothing: buffered elements stay in the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{TryStreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // No element is more than 2 places away from where it belongs.
    /// let nearly_sorted = stream::iter([3, 1, 2, 5, 4, 6]);
    /// let out: Vec<i32> = nearly_sorted.sort_bounded(2, i32::cmp)?.try_collect().await?;
    /// assert_eq!(out, [1, 2, 3, 4, 5, 6]);
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "ComparatorSequence")]
    fn sort_bounded<C>(
        self,
        buffer: impl Into<Count>,
        cmp: C,
    ) -> Result<sequence::SortBounded<Self, C>, ConfigError>
    where
        Self: Sized,
        C: FnMut(&Self::Item, &Self::Item) -> Ordering,
    {
        sequence::SortBounded::new(self, buffer, cmp)
    }

    /// Groups elements into chunks of `size` (the last one partial, never empty) and
    /// emits each chunk sorted by `cmp` (stable).
    ///
    /// For batches that must be sorted before they are written. To sort the contents of
    /// windows, sort each window with
    /// [`slice::sort_by`](https://doc.rust-lang.org/std/primitive.slice.html#method.sort_by)
    /// in a `map`. Holds at most `size` elements; [`counts()`](sequence::SortChunks::counts)
    /// reports elements in and emitted.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `size` is zero,
    /// [`ConfigError::OutOfRange`] above
    /// [`MAX_BUFFERED`](sequence::MAX_BUFFERED). If `cmp`
    /// panics, the stream yields one [`SequenceError`] that hands back the chunk's
    /// elements (in no particular order), then ends.
    ///
    /// # Cancel safety
    ///
    /// Dropping a pending `next()` loses nothing: the chunk being filled stays in the
    /// stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{TryStreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rows = stream::iter([5, 3, 9, 1, 2]);
    /// let out: Vec<Vec<i32>> = rows.sort_chunks(2.rows(), |a, b| b.cmp(a))?.try_collect().await?;
    /// assert_eq!(out, [vec![5, 3], vec![9, 1], vec![2]]);
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "ComparatorSequence")]
    fn sort_chunks<C>(
        self,
        size: impl Into<Count>,
        cmp: C,
    ) -> Result<sequence::SortChunks<Self, C>, ConfigError>
    where
        Self: Sized,
        C: FnMut(&Self::Item, &Self::Item) -> Ordering,
    {
        sequence::SortChunks::new(self, size, cmp)
    }

    /// Runs the async function `f` on up to `n` items at once and yields the results in
    /// input order.
    ///
    /// Like `futures`' [`buffered`](futures::StreamExt::buffered) over `map(f)`, with three
    /// differences:
    ///
    /// - **The work keeps moving while you are busy.** With `buffered`, the calls in flight
    ///   are polled only from inside your `poll_next`, so they stall while you spend time
    ///   on a result (futures-rs issues #2387 and #2961). Here a small driver task, spawned
    ///   on the first poll, runs the calls in flight and pulls new items whenever you are
    ///   busy with an item this stream gave you; finished results wait in a bounded
    ///   output buffer. While you wait on the stream, your own task does the work, as
    ///   `buffered` does, with no hand-off between threads. The calls run in `n` slots
    ///   reused call after call, so a call costs no allocation of the stream's own: on
    ///   yield-heavy work it is faster than `buffered` (`benches/par_map.rs`).
    /// - **A panic is an error item.** A panic in `f` or in its future becomes
    ///   `Err(`[`ParMapError::Panicked`]`)` with the item's index and the message, in the
    ///   item's place, and the stream goes on with the other items: every input item comes
    ///   out exactly once, as a value or as an error.
    /// - **Zero concurrency is an error**, not a stream that hangs.
    ///
    /// # In order, or as they finish
    ///
    /// Results come out in input order, so a slow item holds back every result after it
    /// (head-of-line blocking): while it runs, finished results wait in the buffer and,
    /// once that is full, no new call starts. With calls that sometimes retry for seconds,
    /// that is the difference between 12 s and 1.2 s for 10 000 flaky calls. When the
    /// order does not matter, use [`par_map_unordered`](DataflowExt::par_map_unordered).
    /// When `f` returns a `Result`, [`try_par_map`](DataflowExt::try_par_map) yields
    /// `Result<T, TaskError<E>>` instead of `Result<Result<T, E>, ParMapError>`.
    ///
    /// # Bounds
    ///
    /// At most `n` calls are in flight, results that finished before their turn included
    /// (they wait, in input order, for the ones before them). A new item is pulled only
    /// while fewer than `n` calls are in flight *and* fewer than `n + b` items are held in
    /// all (in flight or finished but not yet yielded), where `b` is
    /// [`output_buffer_size`](ParMap::output_buffer_size) (default `n`, set with
    /// [`output_buffer`](ParMap::output_buffer)). So items pulled from upstream never
    /// exceed items yielded + `n` + `b`. The default lets the consumer fall `n` results
    /// behind before the work pauses, for at most `2 n` items in memory.
    ///
    /// # Requirements
    ///
    /// Upstream, its items, `f`, its futures and their outputs must be `Send + 'static`:
    /// the driver task may run them on another worker thread. For `!Send` work use
    /// `futures`' `buffered`, which needs no runtime but stalls while you are busy.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `n` is zero (for a
    /// [`NonZeroUsize`](std::num::NonZeroUsize) `n`, never: the operator then returns the
    /// stream itself, [`CountArg`]). When the
    /// stream is first polled outside a tokio runtime, its only item is
    /// `Err(`[`ParMapError::NoRuntime`]`)` and nothing is pulled. If upstream panics, the
    /// items pulled before are still mapped and yielded, then
    /// `Err(`[`ParMapError::UpstreamPanicked`]`)` ends the stream.
    ///
    /// # Cancel safety
    ///
    /// Dropping the stream cancels the work: the driver task is aborted and every call
    /// in flight is dropped (at once, or right after the driver's current poll if it is
    /// running on another thread at that instant); `f` is not called again and no task
    /// outlives the stream. Results not yet yielded are dropped with it. Dropping a
    /// `next()` future loses nothing: a result leaves the stream only when returned.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// async fn fetch_price(sku: u32) -> u32 {
    ///     // Later items answer sooner: the output order is still the input order.
    ///     tokio::time::sleep(Duration::from_millis(u64::from(10 - sku))).await;
    ///     sku * 100
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let prices: Vec<u32> = stream::iter(1..=5)
    ///     .par_map(3, fetch_price)?
    ///     .map(|r| r.expect("fetch_price does not panic"))
    ///     .collect()
    ///     .await;
    /// assert_eq!(prices, [100, 200, 300, 400, 500]);
    ///
    /// assert_eq!(
    ///     stream::iter(0..3).par_map(0, fetch_price).err(),
    ///     Some(ConfigError::Zero { setting: "par_map concurrency" })
    /// );
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "buffered")]
    #[doc(alias = "parallel")]
    fn par_map<N, Fut, F>(self, n: N, f: F) -> N::Built<ParMap<Self, Fut, F>>
    where
        N: CountArg,
        Self: Sized + Send + 'static,
        Self::Item: Send + 'static,
        F: FnMut(Self::Item) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        n.build("par_map concurrency", |n| {
            ParMap::new(self, par_map::Limits::new(n), f)
        })
    }

    /// Runs the async function `f` on up to `n` items at once and yields the results as
    /// they finish.
    ///
    /// The unordered sibling of [`par_map`](DataflowExt::par_map), with the same bounds
    /// (at most `n` calls in flight, items pulled never more than yielded + `n` + the
    /// output buffer), requirements, panic handling and cancellation. Like `futures`'
    /// [`buffer_unordered`](futures::StreamExt::buffer_unordered), except that the calls in
    /// flight keep running, and new ones start, while the consumer is busy; finished
    /// results wait in a bounded output buffer; and a panic is an
    /// `Err(`[`ParMapError::Panicked`]`)` item. A slow item never holds back the others.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `n` is zero (for a
    /// [`NonZeroUsize`](std::num::NonZeroUsize) `n`, never: the operator then returns the
    /// stream itself, [`CountArg`]); see
    /// [`par_map`](DataflowExt::par_map) for the error items (an upstream panic comes
    /// after every call pulled before it).
    ///
    /// # Cancel safety
    ///
    /// As for [`par_map`](DataflowExt::par_map): dropping the stream cancels every call in
    /// flight and its driver task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::ParMapError;
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // Crawl pages: a page that answers sooner comes out sooner, and a page that
    /// // breaks the parser is reported in its place.
    /// let pages: Vec<Result<usize, ParMapError>> = stream::iter([30u64, 10, 20])
    ///     .par_map_unordered(3, |ms| async move {
    ///         tokio::time::sleep(Duration::from_millis(ms)).await;
    ///         if ms == 20 {
    ///             panic!("malformed page");
    ///         }
    ///         ms as usize
    ///     })?
    ///     .collect()
    ///     .await;
    /// assert_eq!(pages[0], Ok(10));
    /// assert_eq!(
    ///     pages[1],
    ///     Err(ParMapError::Panicked { index: 2, message: "malformed page".into() })
    /// );
    /// assert_eq!(pages[2], Ok(30));
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "buffer_unordered")]
    fn par_map_unordered<N, Fut, F>(self, n: N, f: F) -> N::Built<ParMapUnordered<Self, Fut, F>>
    where
        N: CountArg,
        Self: Sized + Send + 'static,
        Self::Item: Send + 'static,
        F: FnMut(Self::Item) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        n.build("par_map_unordered concurrency", |n| {
            ParMapUnordered::new(self, par_map::Limits::new(n), f)
        })
    }

    /// [`par_map`](DataflowExt::par_map) for a fallible `f`, with flat results: each item
    /// is `Ok(value)` or `Err(`[`TaskError`](crate::error::TaskError)`)`:
    /// [`Failed`](crate::error::TaskError::Failed) with `f`'s error, or
    /// [`Panicked`](crate::error::TaskError::Panicked) (the item's index in the message),
    /// instead of `Result<Result<T, E>, ParMapError>`. Same order, bounds and
    /// cancellation as `par_map`; see there for when to prefer
    /// [`try_par_map_unordered`](DataflowExt::try_par_map_unordered).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `n` is zero (for a
    /// [`NonZeroUsize`](std::num::NonZeroUsize) `n`, never: the operator then returns the
    /// stream itself, [`CountArg`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{TryStreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// async fn fetch(id: u32) -> Result<String, std::io::Error> {
    ///     if id == 3 { Err(std::io::Error::other("HTTP 503")) } else { Ok(format!("user-{id}")) }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let users: Result<Vec<String>, TaskError<std::io::Error>> = stream::iter(1..=4)
    ///     .try_par_map(2, fetch)
    ///     .unwrap()
    ///     .try_collect()
    ///     .await;
    /// assert_eq!(users.unwrap_err().to_string(), "task failed: HTTP 503");
    /// # }
    /// ```
    #[doc(alias = "try_buffered")]
    fn try_par_map<N, T, E, Fut, F>(self, n: N, f: F) -> N::Built<TryParMap<ParMap<Self, Fut, F>>>
    where
        N: CountArg,
        Self: Sized + Send + 'static,
        Self::Item: Send + 'static,
        F: FnMut(Self::Item) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        n.build("par_map concurrency", |n| {
            TryParMap::new(ParMap::new(self, par_map::Limits::new(n), f))
        })
    }

    /// [`par_map_unordered`](DataflowExt::par_map_unordered) for a fallible `f`, with flat
    /// results, as [`try_par_map`](DataflowExt::try_par_map): results as they finish, a
    /// slow item never holds back the others.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `n` is zero (for a
    /// [`NonZeroUsize`](std::num::NonZeroUsize) `n`, never: the operator then returns the
    /// stream itself, [`CountArg`]).
    #[doc(alias = "try_buffer_unordered")]
    fn try_par_map_unordered<N, T, E, Fut, F>(
        self,
        n: N,
        f: F,
    ) -> N::Built<TryParMap<ParMapUnordered<Self, Fut, F>>>
    where
        N: CountArg,
        Self: Sized + Send + 'static,
        Self::Item: Send + 'static,
        F: FnMut(Self::Item) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        n.build("par_map_unordered concurrency", |n| {
            TryParMap::new(ParMapUnordered::new(self, par_map::Limits::new(n), f))
        })
    }

    /// Runs the synchronous, CPU-bound function `f` on up to `n` threads at once and
    /// yields the results in input order.
    ///
    /// For work that computes rather than waits (parsing, hashing, compressing): calling
    /// it inside an async `par_map` would hold up everything else on the worker thread it
    /// ran on. Here `f` runs in batches, each a task of its own. Items are handed over in
    /// batches, so the hand-over costs little even when `f` takes microseconds: the batch
    /// size adapts to about half
    /// a millisecond of work, up to [`max_batch`](ParMapBlocking::max_batch) items
    /// (default 256), and a batch is cut short when upstream has nothing ready, so a slow
    /// upstream never waits for a full batch. Like [`par_map`](DataflowExt::par_map), the
    /// work goes on while the consumer is busy, finished results wait in a bounded output
    /// buffer, and a panic in `f` becomes `Err(`[`ParMapError::Panicked`]`)` in the item's
    /// place while the other items go on.
    ///
    /// # Where `f` runs: spawned tasks or the blocking pool
    ///
    /// On a multi-thread runtime the batches run as spawned tasks on the runtime's worker
    /// threads, each yielding to the runtime after every 0.1 ms of work so the consumer and
    /// other tasks keep running. This is the measured choice: on CPU-bound work it runs at
    /// rayon's speed (`benches/par_map.rs`, group `par_map_blocking_cpu`), where handing
    /// the same batches to tokio's blocking pool ran at two thirds of it (the pool's
    /// threads compete with the idle workers for the cores, and every batch crosses
    /// threads twice). When `f` *waits* rather than computes (blocking I/O, a lock, a
    /// channel), call [`on_blocking_pool`](ParMapBlocking::on_blocking_pool) so the waiting
    /// holds a blocking-pool thread instead of a worker. On a current-thread runtime the
    /// batches always go to the blocking pool: the runtime's only thread must stay free for
    /// the consumer.
    ///
    /// # Bounds
    ///
    /// At most `n` batches are in flight, one per thread, and each thread calls `f` on one
    /// item at a time: at most `n` calls of `f` run at once. A batch is pulled only while
    /// fewer than `n` are in flight and the items held (in flight or finished but not yet
    /// yielded) leave room for it under `n × max batch + b`, where `b` is
    /// [`output_buffer_size`](ParMapBlocking::output_buffer_size) (default
    /// `n × max batch`). So items pulled from upstream never exceed items yielded +
    /// `n × max batch + b`.
    ///
    /// # Requirements
    ///
    /// Upstream, its items, `f` and its results must be `Send + 'static`, and `f` must be
    /// `Fn + Sync`: several threads call it at once.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `n` is zero (for a
    /// [`NonZeroUsize`](std::num::NonZeroUsize) `n`, never: the operator then returns the
    /// stream itself, [`CountArg`]); see
    /// [`par_map`](DataflowExt::par_map) for the error items. A batch the runtime drops
    /// unrun while shutting down yields one [`ParMapError::RuntimeShutdown`] per item.
    ///
    /// # Cancel safety
    ///
    /// Dropping the stream aborts its driver task and every batch that has not started.
    /// A call of `f` cannot be interrupted, so a batch already running finishes the call
    /// of `f` it is in, then skips the rest of the batch. Nothing new starts.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// #[derive(Debug, PartialEq)]
    /// enum Level { Info, Error }
    ///
    /// /// Parsing is CPU work: it runs in batches, four at once.
    /// fn parse_log_entry(line: String) -> (Level, String) {
    ///     match line.split_once(' ') {
    ///         Some(("ERROR", msg)) => (Level::Error, msg.to_owned()),
    ///         _ => (Level::Info, line),
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let lines = stream::iter((0..1000).map(|i| {
    ///     if i % 250 == 0 { format!("ERROR disk {i} full") } else { format!("INFO ok {i}") }
    /// }));
    /// let errors: Vec<String> = lines
    ///     .par_map_blocking(4, parse_log_entry)?
    ///     .filter_map(|parsed| async move {
    ///         match parsed.expect("the parser does not panic") {
    ///             (Level::Error, msg) => Some(msg),
    ///             (Level::Info, _) => None,
    ///         }
    ///     })
    ///     .collect()
    ///     .await;
    /// assert_eq!(errors, ["disk 0 full", "disk 250 full", "disk 500 full", "disk 750 full"]);
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "spawn_blocking")]
    #[doc(alias = "par_iter")]
    fn par_map_blocking<N, T, F>(self, n: N, f: F) -> N::Built<ParMapBlocking<Self, F, T>>
    where
        N: CountArg,
        Self: Sized + Send + 'static,
        Self::Item: Send + 'static,
        F: Fn(Self::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        n.build("par_map_blocking concurrency", |n| {
            ParMapBlocking::new(self, par_map::Limits::new(n), f)
        })
    }

    /// Makes a [`Timed`](timed::Timed) stream: each element with its timestamp, and after
    /// each element that raised it, the watermark `max_timestamp_seen - out_of_orderness - 1`
    /// (Flink's `assignTimestampsAndWatermarks(forBoundedOutOfOrderness(..))`).
    ///
    /// A timed stream carries event time explicitly, so it can be split (by key with
    /// [`partition`](DataflowExt::partition), into branches with
    /// [`fan_out`](DataflowExt::fan_out)) and joined ([`join`](DataflowExt::join)) while
    /// every part closes its windows exactly when the whole stream would. Windows over it:
    /// [`timed_window`](DataflowExt::timed_window). To drop or change elements without
    /// holding back event time, use [`Timed::filter_map`](timed::Timed::filter_map) and
    /// [`Timed::map`](timed::Timed::map). Holds one watermark; no buffering.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] for a negative
    /// `out_of_orderness`.
    ///
    /// # Panics
    ///
    /// A panic in `timestamp` propagates to the caller (the timed operators after it turn
    /// panics of their own closures into error items).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::timed::Timed;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// let timed: Vec<Timed<(i64, char)>> = stream::iter([(10, 'a'), (12, 'b'), (11, 'c'), (16, 'd')])
    ///     .with_watermarks(2, |e| e.0)?
    ///     .collect()
    ///     .await;
    /// assert_eq!(timed, [
    ///     Timed::item(10, (10, 'a')), Timed::Watermark(7),
    ///     Timed::item(12, (12, 'b')), Timed::Watermark(9),
    ///     Timed::item(11, (11, 'c')),
    ///     Timed::item(16, (16, 'd')), Timed::Watermark(13),
    /// ]);
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "assign_timestamps_and_watermarks")]
    fn with_watermarks<F>(
        self,
        out_of_orderness: i64,
        timestamp: F,
    ) -> Result<timed::WithWatermarks<Self, F>, ConfigError>
    where
        Self: Sized,
        F: FnMut(&Self::Item) -> i64,
    {
        if out_of_orderness < 0 {
            return Err(ConfigError::Invalid {
                setting: "out-of-orderness",
                reason: format!("must not be negative, got {out_of_orderness}"),
            });
        }
        Ok(timed::WithWatermarks::new(
            self,
            timestamp,
            out_of_orderness,
        ))
    }

    /// Maps and filters the elements of a [`Timed`](timed::Timed) stream, keeping event
    /// time: each element keeps its timestamp, and watermarks pass on, but the watermarks
    /// between two elements that survive are merged into the last one.
    ///
    /// A filter that drops most elements (Nexmark's queries keep one kind of event out of
    /// three) would otherwise pass on a watermark for every dropped element, and every
    /// operator after it would process them. Here each surviving element is still preceded
    /// by the watermark it followed, so the results after it do not change; a watermark is
    /// handed on before the next element, when upstream has nothing ready, or at the end.
    /// Holds one watermark and one element.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::timed::Timed;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// let odd: Vec<Timed<i64>> = stream::iter(1..=6i64)
    ///     .with_watermarks(0, |x| *x)? // 1, W0, 2, W1, 3, W2, ...
    ///     .timed_filter_map(|x| (x % 2 == 1).then_some(x * 10))
    ///     .collect()
    ///     .await;
    /// assert_eq!(odd, [
    ///     Timed::item(1, 10),
    ///     Timed::Watermark(1), Timed::item(3, 30), // W0 and W1 merged
    ///     Timed::Watermark(3), Timed::item(5, 50),
    ///     Timed::Watermark(5),                     // at the end
    /// ]);
    /// # Ok(())
    /// # }
    /// ```
    fn timed_filter_map<U, F>(self, f: F) -> timed::TimedFilterMap<Self, F, U>
    where
        Self: Sized + timed::TimedStream,
        F: FnMut(Self::Value) -> Option<U>,
    {
        timed::TimedFilterMap::new(self, f)
    }

    /// Event-time windows over a [`Timed`](timed::Timed) stream, closed by the stream's
    /// own watermarks (not by a watermark computed from the timestamps).
    ///
    /// The same windows as [`event_time_window`](DataflowExt::event_time_window) (Flink's
    /// assigners, firing at `W >= end - 1`, allowed lateness, late elements as
    /// [`WindowEvent::Late`](window::WindowEvent::Late), the `max_open_windows` bound, `fold`
    /// / `reduce` / `aggregate`), except that the spec's `out_of_orderness` is not used: a
    /// window fires when a [`Timed::Watermark`](timed::Timed::Watermark) reaches it. The
    /// output is timed too: each [`WindowEvent`](window::WindowEvent) at its window's
    /// `end - 1` (a late element at its own timestamp), and each watermark forwarded after
    /// the windows it fired, so windows, joins and partitions chain. This is the window to
    /// use inside a [`partition`](DataflowExt::partition): a partition that receives few
    /// elements still closes its windows on the broadcast watermarks.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for an invalid spec (see
    /// `event_time_window`).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::window::Tumbling;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// let mut windows = stream::iter([1i64, 3, 6, 2, 12])
    ///     .with_watermarks(0, |t| *t)?
    ///     .timed_window(Tumbling::event_time(5))?;
    /// let mut fired = Vec::new();
    /// let mut late = Vec::new();
    /// while let Some(item) = windows.next().await {
    ///     match item.into_value() {
    ///         Some(event) if event.is_late() => late.extend(event.into_late()),
    ///         Some(event) => fired.extend(event.into_window().map(|w| (w.start, w.end, w.value))),
    ///         None => {} // a watermark
    ///     }
    /// }
    /// assert_eq!(fired, [(0, 5, vec![1, 3]), (5, 10, vec![6]), (10, 15, vec![12])]);
    /// assert_eq!(late, [2]); // [0, 5) had fired at watermark 5
    /// # Ok(())
    /// # }
    /// ```
    fn timed_window<A>(
        self,
        spec: window::EventTimeSpec<A>,
    ) -> Result<timed::TimedWindow<Self, window::NoKey, A, window::Contents>, ConfigError>
    where
        Self: Sized + timed::TimedStream,
        Self::Value: Clone,
    {
        let config = spec.validate()?;
        Ok(timed::TimedWindow::new(self, window::NoKey, config))
    }

    /// Event-time windows per key over a [`Timed`](timed::Timed) stream: as
    /// [`timed_window`](DataflowExt::timed_window), one set of windows per `key(&value)`
    /// (Flink's `keyBy(..).window(..)`; all keys share the stream's watermark).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for an invalid spec.
    ///
    /// # Examples
    ///
    /// Bids per auction in 10 s windows:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::window::Tumbling;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// // (time in ms, auction)
    /// let bids = stream::iter([(1_000, 7), (2_000, 8), (3_000, 7), (11_000, 7)]);
    /// let counts: Vec<(u32, i64, u64)> = bids
    ///     .with_watermarks(0, |b| b.0)?
    ///     .timed_window_by(Tumbling::event_time(10_000), |b: &(i64, u32)| b.1)?
    ///     .fold(0u64, |n, _| n + 1)
    ///     .filter_map(|t| async move { t.into_value()?.into_window() })
    ///     .map(|w| (w.key, w.start, w.value))
    ///     .collect()
    ///     .await;
    /// assert_eq!(counts, [(7, 0, 2), (8, 0, 1), (7, 10_000, 1)]);
    /// # Ok(())
    /// # }
    /// ```
    fn timed_window_by<A, KF>(
        self,
        spec: window::EventTimeSpec<A>,
        key: KF,
    ) -> Result<timed::TimedWindow<Self, KF, A, window::Contents>, ConfigError>
    where
        Self: Sized + timed::TimedStream,
        Self::Value: Clone,
        KF: window::KeySelector<Self::Value>,
    {
        let config = spec.validate()?;
        Ok(timed::TimedWindow::new(self, key, config))
    }

    /// Joins this [`Timed`](timed::Timed) stream (the left input) with `right` by key:
    /// choose the keys with [`on`](join::Join::on), then the kind of join:
    ///
    /// - [`window`](join::KeyedJoin::window) /
    ///   [`window_cogroup`](join::KeyedJoin::window_cogroup): Flink's window join and
    ///   co-group: both sides' elements of one window and key, joined when the window fires
    ///   (tumbling, sliding or session windows).
    /// - [`interval`](join::KeyedJoin::interval): `b` joins `a` when
    ///   `a.ts + lower <= b.ts <= a.ts + upper`.
    /// - [`regular`](join::KeyedJoin::regular): every pair with equal keys, with the state
    ///   bounded by a time-to-live and a cap per side
    ///   ([`RegularJoinSpec`](join::RegularJoinSpec)).
    ///
    /// Common rules: the join's watermark is the minimum of its two inputs' watermarks (an
    /// input that ended counts as `+inf`; an input that never sends a watermark holds
    /// event time back, as in Flink); the output is a timed stream of
    /// [`JoinEvent`](join::JoinEvent)s (results, late elements, evicted elements, an error)
    /// with the join's watermarks forwarded, so windows and further joins chain. Late and
    /// evicted elements come out as values, never dropped silently; `stats()` counts
    /// elements in, results, late, evicted, expired and held. State is cleaned as the
    /// watermark passes. A panic in a key or join function ends the stream with
    /// [`JoinEvent::Error`](join::JoinEvent::Error). Both inputs are polled in turn in the
    /// consumer's task; nothing is pulled while results wait.
    ///
    /// # Examples
    ///
    /// A window join, an interval join and a regular join:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::join::RegularJoinSpec;
    /// use sweet_async::operators::window::Tumbling;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// // (time, user): clicks and views of the same user in the same 5-unit window.
    /// let clicks = stream::iter([(1, "u1"), (2, "u2"), (7, "u1")]).with_watermarks(0, |c| c.0)?;
    /// let views = stream::iter([(3, "u1"), (4, "u3"), (8, "u1")]).with_watermarks(0, |v| v.0)?;
    /// let pairs: Vec<(i64, i64)> = clicks
    ///     .join(views)
    ///     .on(|c| c.1, |v| v.1)
    ///     .window(Tumbling::event_time(5), |c, v| (c.0, v.0))?
    ///     .filter_map(|t| async move { t.into_value()?.into_joined() })
    ///     .collect()
    ///     .await;
    /// assert_eq!(pairs, [(1, 3), (7, 8)]);
    ///
    /// // (time, order id): payments within 0..=10 after their order.
    /// let orders = stream::iter([(1, 100), (5, 200)]).with_watermarks(0, |o| o.0)?;
    /// let payments = stream::iter([(4, 100), (30, 200)]).with_watermarks(0, |p| p.0)?;
    /// let paid: Vec<(u32, i64)> = orders
    ///     .join(payments)
    ///     .on(|o| o.1, |p| p.1)
    ///     .interval(0, 10, |o, p| (o.1, p.0 - o.0))?
    ///     .filter_map(|t| async move { t.into_value()?.into_joined() })
    ///     .collect()
    ///     .await;
    /// assert_eq!(paid, [(100, 3)]); // 200 was paid 25 after its order
    ///
    /// // (time, user id, name) with (time, user id, amount), state kept for 60 units.
    /// let users = stream::iter([(1, 1, "ann"), (2, 2, "bob")]).with_watermarks(0, |u| u.0)?;
    /// let spend = stream::iter([(3, 1, 10), (4, 2, 5), (9, 1, 7)]).with_watermarks(0, |s| s.0)?;
    /// let mut rows: Vec<(&str, i32)> = users
    ///     .join(spend)
    ///     .on(|u| u.1, |s| s.1)
    ///     .regular(RegularJoinSpec::new().ttl(60).max_state(10_000), |u, s| (u.2, s.2))?
    ///     .filter_map(|t| async move { t.into_value()?.into_joined() })
    ///     .collect()
    ///     .await;
    /// rows.sort();
    /// assert_eq!(rows, [("ann", 7), ("ann", 10), ("bob", 5)]);
    /// # Ok(())
    /// # }
    /// ```
    fn join<R>(self, right: R) -> join::Join<Self, R>
    where
        Self: Sized + timed::TimedStream,
        R: timed::TimedStream,
    {
        join::Join::new(self, right)
    }

    /// Runs an operator chain on each of `n` partitions of this [`Timed`](timed::Timed)
    /// stream, split by key, each partition on its own tokio task, and merges their
    /// outputs: keyed parallelism across the runtime's worker threads (Flink's
    /// `keyBy(..)` with parallelism `n`).
    ///
    /// `chain` is called once per partition, before anything runs, with that partition's
    /// [`PartitionInput`](partition::PartitionInput): a timed stream of the elements whose
    /// `key` hashes to the partition, **and every watermark of the whole stream**. It
    /// returns the partition's chain (windows, joins, maps over timed streams), or a
    /// [`ConfigError`] that `partition` returns. Because each
    /// element reaches its partition under the watermark it had in the whole stream, and a
    /// partition that receives no elements still receives the watermarks, event-time
    /// results (windows fired, late elements, joins) are the same with `n` partitions as
    /// with one; only the interleaving of the partitions' outputs differs.
    ///
    /// The output yields each partition's items in that partition's order and the
    /// **minimum** of the partitions' watermarks (a finished partition counts as `+inf`),
    /// so the merged stream chains into further timed operators, for example a global
    /// stage after a per-key one.
    ///
    /// # Bounds, tasks, failures
    ///
    /// On the first poll, a router task (pulls upstream, routes) and one task per
    /// partition are spawned on the current runtime. Items travel in batches of up to
    /// 512 through bounded channels (4 batches per partition in, `4 n` batches out), so a
    /// slow consumer or partition holds back upstream (backpressure); the router hands over
    /// a partial batch as soon as upstream is not ready. Dropping the stream aborts every
    /// task: none outlives it. A panic in a chain becomes
    /// `Err(`[`PartitionError::Panicked`](partition::PartitionError::Panicked)`)` with the
    /// partition and message, a panic in upstream or `key` becomes
    /// [`RouterPanicked`](partition::PartitionError::RouterPanicked); the stream ends
    /// after the error and the other tasks are stopped. Polled outside a tokio runtime, it
    /// yields [`PartitionError::NoRuntime`](partition::PartitionError::NoRuntime) and ends.
    ///
    /// Upstream, its elements, `key`, the chains and their outputs must be `Send + 'static`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] for zero partitions,
    /// [`ConfigError::OutOfRange`] above
    /// [`MAX_PARTITIONS`](partition::MAX_PARTITIONS), or the error `chain` returned.
    ///
    /// # Examples
    ///
    /// Readings per sensor and second, counted on four tasks:
    ///
    /// ```
    /// use futures::future::ready;
    /// use futures::{StreamExt, TryStreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::window::Tumbling;
    ///
    /// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // (time in ms, sensor)
    /// let readings = stream::iter((0..1_000i64).map(|i| (i * 7, (i % 10) as u32)));
    /// let mut counts: Vec<(u32, i64, u64)> = readings
    ///     .with_watermarks(0, |r| r.0)?
    ///     .partition(4, |r| r.1, |input| {
    ///         Ok(input
    ///             .timed_window_by(Tumbling::event_time(1_000), |r: &(i64, u32)| r.1)?
    ///             .fold(0u64, |n, _| n + 1)
    ///             .filter_map(|t| ready(t.filter_map(|event| event.into_window())))
    ///             .map(|t| t.map(|w| (w.key, w.start, w.value))))
    ///     })?
    ///     .try_filter_map(|t| ready(Ok(t.into_value())))
    ///     .try_collect()
    ///     .await?;
    /// counts.sort();
    /// assert_eq!(counts.len(), 7 * 10); // 7 seconds, 10 sensors
    /// assert_eq!(counts.iter().map(|c| c.2).sum::<u64>(), 1_000);
    /// assert_eq!(counts[0], (0, 0, 15)); // sensor 0 at 0, 70, .., 980 ms
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "key_by")]
    #[doc(alias = "parallelism")]
    fn partition<K, KF, C, O>(
        self,
        n: impl Into<Count>,
        key: KF,
        chain: C,
    ) -> Result<partition::Partitioned<O::Value>, ConfigError>
    where
        Self: Sized + Send + 'static + timed::TimedStream,
        Self::Value: Send + 'static,
        KF: FnMut(&Self::Value) -> K + Send + 'static,
        K: Hash + 'static,
        C: FnMut(partition::PartitionInput<Self::Value>) -> Result<O, ConfigError>,
        O: timed::TimedStream + Send + 'static,
        O::Value: Send + 'static,
    {
        partition::split(self, n.into(), key, chain)
    }

    /// Delivers one [`Timed`](timed::Timed) stream to `N` branches without reading it
    /// twice: each element goes to the branch `route(&element)` names, and every watermark
    /// goes to every branch (so each branch's event time is the whole stream's).
    ///
    /// For one source of several kinds of events feeding several operators (Nexmark's one
    /// stream of persons, auctions and bids). Destructure the array:
    /// `let [persons, auctions] = events.fan_out(1024, route)?;`. An element for which
    /// `route` returns `N` or more goes to no branch (a deliberate filter, counted in
    /// [`unrouted`](partition::FanOut::unrouted)); the elements for a dropped branch are
    /// discarded.
    ///
    /// # Bounds and polling
    ///
    /// Each branch has a queue of at most `capacity` items (a watermark counts as one).
    /// Whichever branch is polled pulls from upstream for all of them, up to 256 items at a
    /// time, and stops while any live branch's queue is full: the slowest branch sets the
    /// pace (backpressure). So **every live branch must be polled** (in one task, as a join
    /// polls its two inputs, or in several); a branch nobody polls stops the others once
    /// its queue is full. The branches share upstream behind a mutex, taken once per batch.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] for a zero capacity or `N = 0`.
    ///
    /// # Panics
    ///
    /// A panic in upstream or `route` propagates to the branch that was pulling, and the
    /// other branches end.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::future::ready;
    /// use futures::{Stream, StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::timed::Timed;
    ///
    /// async fn values(branch: impl Stream<Item = Timed<i64>>) -> Vec<i64> {
    ///     branch.filter_map(|t| ready(t.into_value())).collect().await
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// let [evens, odds] = stream::iter(0..10i64)
    ///     .with_watermarks(0, |x| *x)?
    ///     .fan_out(16, |x| (*x % 2) as usize)?;
    /// // Both branches are polled at once, in one task.
    /// let (evens, odds) = futures::join!(values(evens), values(odds));
    /// assert_eq!(evens, [0, 2, 4, 6, 8]);
    /// assert_eq!(odds, [1, 3, 5, 7, 9]);
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "split")]
    #[doc(alias = "broadcast")]
    fn fan_out<const N: usize, F>(
        self,
        capacity: impl Into<Count>,
        route: F,
    ) -> Result<[partition::FanOut<Self, F>; N], ConfigError>
    where
        Self: Sized + timed::TimedStream,
        F: FnMut(&Self::Value) -> usize,
    {
        let capacity = capacity.into().validate("fan-out capacity")?.get();
        if N == 0 {
            return Err(ConfigError::Zero {
                setting: "fan-out branches",
            });
        }
        Ok(partition::fan_out(self, capacity, route))
    }
}

impl<S: Stream + ?Sized> DataflowExt for S {}
