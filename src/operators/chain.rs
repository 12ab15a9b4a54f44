//! [`TryDataflowExt`]: the operators on a `Result<Stream, ConfigError>`, so a pipeline of
//! operators needs one `?` for its configuration, not one per stage.

use std::cmp::Ordering;
use std::future::Future;
use std::time::Duration;

use futures::{Stream, TryFuture};

use super::{
    Chunks, ChunksTimeout, ChunksWeighted, DataflowExt, InspectProgress, ParMap, ParMapBlocking,
    ParMapUnordered, PartitionErrors, Progress, RateLimit, ReorderConfig, RetryEach, SkipErrors,
    StopOnError, TimeoutEach, sequence, window,
};
use crate::error::ConfigError;
use crate::task::RetryPolicy;
use crate::units::Count;

mod sealed {
    pub trait Sealed {}
    impl<S: futures::Stream> Sealed for Result<S, crate::error::ConfigError> {}
}

/// The operators of [`DataflowExt`] on the `Result` an operator returns, so that
/// operators chain and the pipeline needs a single `?` at the end for its configuration.
///
/// Each method is [`DataflowExt`]'s of the same name (see there for what it does): on
/// `Ok(stream)` it applies the operator; on `Err(e)` it passes the first configuration
/// error on and builds nothing. Only the operators whose arguments can be invalid return
/// a `Result` at all; a stream from the others chains with plain method calls.
///
/// # Examples
///
/// A five-stage pipeline with one `?` for its configuration:
///
/// ```
/// use std::time::Duration;
/// use futures::{StreamExt, stream};
/// use sweet_async::prelude::*;
///
/// async fn enrich(id: u32) -> Result<(u32, String), std::io::Error> {
///     Ok((id, format!("user-{id}")))
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), ConfigError> {
/// let mut rejected = Vec::new();
/// let batches: Vec<Vec<(u32, String)>> = stream::iter(1..=10)
///     .rate_limit(5.messages(), 1.seconds())        // 1: at most 5 per second
///     .par_map_unordered(4, enrich)                 // 2: four calls at once
///     .timeout_each(30.seconds())                   // 3: report a stalled call
///     .chunked_timeout(4.rows(), 2.seconds())?      // 4: batches of 4, or 2 s
///     .map(|batch| {                                // 5: keep what succeeded
///         batch
///             .into_iter()
///             .filter_map(|r| match r {
///                 Ok(Ok(Ok(row))) => Some(row),
///                 other => { rejected.push(format!("{other:?}")); None }
///             })
///             .collect()
///     })
///     .collect()
///     .await;
/// assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 10);
/// assert!(rejected.is_empty());
/// # Ok(())
/// # }
/// ```
///
/// The first invalid setting is the error, and no stage is built:
///
/// ```
/// use futures::stream;
/// use sweet_async::prelude::*;
///
/// let pipeline = stream::iter(0..10u32)
///     .chunked(0)                     // invalid
///     .timeout_each(0.seconds());     // invalid too, never checked
/// assert_eq!(pipeline.err(), Some(ConfigError::Zero { setting: "chunk size" }));
/// ```
pub trait TryDataflowExt: sealed::Sealed + Sized {
    /// The stream inside.
    type Stream: Stream;

    /// The stream, or the configuration error of an earlier stage.
    ///
    /// # Errors
    ///
    /// The earlier stage's [`ConfigError`].
    fn into_stream(self) -> Result<Self::Stream, ConfigError>;

    /// [`DataflowExt::chunked`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn chunked(self, size: impl Into<Count>) -> Result<Chunks<Self::Stream>, ConfigError> {
        self.into_stream()?.chunked(size.into())
    }

    /// [`DataflowExt::chunked_timeout`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn chunked_timeout(
        self,
        size: impl Into<Count>,
        timeout: Duration,
    ) -> Result<ChunksTimeout<Self::Stream>, ConfigError> {
        self.into_stream()?.chunked_timeout(size, timeout)
    }

    /// [`DataflowExt::chunked_weighted`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn chunked_weighted<F>(
        self,
        max_weight: usize,
        weigh: F,
    ) -> Result<ChunksWeighted<Self::Stream, F>, ConfigError>
    where
        F: FnMut(&<Self::Stream as Stream>::Item) -> usize,
    {
        self.into_stream()?.chunked_weighted(max_weight, weigh)
    }

    /// [`DataflowExt::timeout_each`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn timeout_each(self, timeout: Duration) -> Result<TimeoutEach<Self::Stream>, ConfigError> {
        self.into_stream()?.timeout_each(timeout)
    }

    /// [`DataflowExt::retry_each`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn retry_each<F, Fut>(
        self,
        policy: impl Into<RetryPolicy>,
        call: F,
    ) -> Result<RetryEach<Self::Stream, F, Fut>, ConfigError>
    where
        F: FnMut(&<Self::Stream as Stream>::Item) -> Fut,
        Fut: TryFuture,
    {
        self.into_stream()?.retry_each(policy, call)
    }

    /// [`DataflowExt::rate_limit`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn rate_limit(
        self,
        limit: impl Into<Count>,
        period: Duration,
    ) -> Result<RateLimit<Self::Stream>, ConfigError> {
        self.into_stream()?.rate_limit(limit, period)
    }

    /// [`DataflowExt::skip_errors`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error.
    fn skip_errors<T, E>(self) -> Result<SkipErrors<Self::Stream>, ConfigError>
    where
        Self::Stream: Stream<Item = Result<T, E>>,
    {
        Ok(self.into_stream()?.skip_errors())
    }

    /// [`DataflowExt::stop_on_error`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error.
    fn stop_on_error<T, E>(self) -> Result<StopOnError<Self::Stream>, ConfigError>
    where
        Self::Stream: Stream<Item = Result<T, E>>,
    {
        Ok(self.into_stream()?.stop_on_error())
    }

    /// [`DataflowExt::partition_errors`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error.
    fn partition_errors<T, E, F>(
        self,
        on_err: F,
    ) -> Result<PartitionErrors<Self::Stream, F>, ConfigError>
    where
        Self::Stream: Stream<Item = Result<T, E>>,
        F: FnMut(u64, E),
    {
        Ok(self.into_stream()?.partition_errors(on_err))
    }

    /// [`DataflowExt::inspect_progress`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn inspect_progress<F>(
        self,
        every: impl Into<Count>,
        report: F,
    ) -> Result<InspectProgress<Self::Stream, F>, ConfigError>
    where
        F: FnMut(&Progress),
    {
        self.into_stream()?.inspect_progress(every.into(), report)
    }

    /// [`DataflowExt::inspect_progress_bytes`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn inspect_progress_bytes<B, F>(
        self,
        every: impl Into<Count>,
        bytes_of: B,
        report: F,
    ) -> Result<InspectProgress<Self::Stream, F, B>, ConfigError>
    where
        B: FnMut(&<Self::Stream as Stream>::Item) -> u64,
        F: FnMut(&Progress),
    {
        self.into_stream()?
            .inspect_progress_bytes(every.into(), bytes_of, report)
    }

    /// [`DataflowExt::event_time_window`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    #[allow(clippy::type_complexity)] // the window stream's type, spelled out once
    fn event_time_window<A, F>(
        self,
        spec: window::EventTimeSpec<A>,
        timestamp: F,
    ) -> Result<
        window::EventTimeWindow<Self::Stream, window::NoKey, F, A, window::Contents>,
        ConfigError,
    >
    where
        <Self::Stream as Stream>::Item: Clone,
        F: FnMut(&<Self::Stream as Stream>::Item) -> i64,
    {
        self.into_stream()?.event_time_window(spec, timestamp)
    }

    /// [`DataflowExt::processing_time_window`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    #[allow(clippy::type_complexity)] // the window stream's type, spelled out once
    fn processing_time_window<A>(
        self,
        spec: window::ProcessingTimeSpec<A>,
    ) -> Result<
        window::ProcessingTimeWindow<Self::Stream, window::NoKey, A, window::Contents>,
        ConfigError,
    >
    where
        <Self::Stream as Stream>::Item: Clone,
    {
        self.into_stream()?.processing_time_window(spec)
    }

    /// [`DataflowExt::count_window`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn count_window(
        self,
        spec: window::CountSpec,
    ) -> Result<window::CountWindow<Self::Stream, window::NoKey, window::Contents>, ConfigError>
    where
        <Self::Stream as Stream>::Item: Clone,
    {
        self.into_stream()?.count_window(spec)
    }

    /// [`DataflowExt::order_by_timestamp`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn order_by_timestamp<F>(
        self,
        max_out_of_orderness: i64,
        ts_of: F,
    ) -> Result<sequence::OrderByTimestamp<Self::Stream, F>, ConfigError>
    where
        F: FnMut(&<Self::Stream as Stream>::Item) -> i64,
    {
        self.into_stream()?
            .order_by_timestamp(max_out_of_orderness, ts_of)
    }

    /// [`DataflowExt::detect_gaps`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn detect_gaps<F>(
        self,
        threshold: i64,
        ts_of: F,
    ) -> Result<sequence::DetectGaps<Self::Stream, F>, ConfigError>
    where
        F: FnMut(&<Self::Stream as Stream>::Item) -> i64,
    {
        self.into_stream()?.detect_gaps(threshold, ts_of)
    }

    /// [`DataflowExt::reorder_by_id`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn reorder_by_id<F>(
        self,
        config: impl Into<ReorderConfig>,
        id_of: F,
    ) -> Result<sequence::ReorderById<Self::Stream, F>, ConfigError>
    where
        F: FnMut(&<Self::Stream as Stream>::Item) -> u64,
    {
        self.into_stream()?.reorder_by_id(config, id_of)
    }

    /// [`DataflowExt::sort_bounded`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn sort_bounded<C>(
        self,
        buffer: impl Into<Count>,
        cmp: C,
    ) -> Result<sequence::SortBounded<Self::Stream, C>, ConfigError>
    where
        C: FnMut(&<Self::Stream as Stream>::Item, &<Self::Stream as Stream>::Item) -> Ordering,
    {
        self.into_stream()?.sort_bounded(buffer, cmp)
    }

    /// [`DataflowExt::sort_chunks`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn sort_chunks<C>(
        self,
        size: impl Into<Count>,
        cmp: C,
    ) -> Result<sequence::SortChunks<Self::Stream, C>, ConfigError>
    where
        C: FnMut(&<Self::Stream as Stream>::Item, &<Self::Stream as Stream>::Item) -> Ordering,
    {
        self.into_stream()?.sort_chunks(size, cmp)
    }

    /// [`DataflowExt::par_map`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn par_map<Fut, F>(
        self,
        n: impl Into<Count>,
        f: F,
    ) -> Result<ParMap<Self::Stream, Fut, F>, ConfigError>
    where
        Self::Stream: Send + 'static,
        <Self::Stream as Stream>::Item: Send + 'static,
        F: FnMut(<Self::Stream as Stream>::Item) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        self.into_stream()?.par_map(n.into(), f)
    }

    /// [`DataflowExt::par_map_unordered`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn par_map_unordered<Fut, F>(
        self,
        n: impl Into<Count>,
        f: F,
    ) -> Result<ParMapUnordered<Self::Stream, Fut, F>, ConfigError>
    where
        Self::Stream: Send + 'static,
        <Self::Stream as Stream>::Item: Send + 'static,
        F: FnMut(<Self::Stream as Stream>::Item) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        self.into_stream()?.par_map_unordered(n.into(), f)
    }

    /// [`DataflowExt::par_map_blocking`] after an operator that may have failed.
    ///
    /// # Errors
    ///
    /// The earlier stage's error, or this operator's.
    fn par_map_blocking<T, F>(
        self,
        n: impl Into<Count>,
        f: F,
    ) -> Result<ParMapBlocking<Self::Stream, F, T>, ConfigError>
    where
        Self::Stream: Send + 'static,
        <Self::Stream as Stream>::Item: Send + 'static,
        F: Fn(<Self::Stream as Stream>::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        self.into_stream()?.par_map_blocking(n.into(), f)
    }
}

impl<S: Stream> TryDataflowExt for Result<S, ConfigError> {
    type Stream = S;

    #[inline]
    fn into_stream(self) -> Result<S, ConfigError> {
        self
    }
}
