//! The receiving end of a pipeline: the receiver stage, collectors, and the final event.
//!
//! - [`ReceiverExt::receiver`] processes events with at most `workers` in flight,
//!   handing each call a [`Collector`] to keep values and errors;
//! - [`FinalEvent::await_final_event`] drives any stream of events, results, receiver
//!   items or window events to its end and hands over the [`Collected`] values, errors
//!   and late elements with a [`Summary`] (items in, out, errors, skipped, late, chunks
//!   and rows, cancelled, duration, throughput);
//! - [`CollectExt`] collects any stream into a `Vec`, a keyed map, a fold, or values and
//!   errors partitioned, each with its [`Summary`].
//!
//! All are extension traits over every `Stream`; none spawns a task that outlives it:
//! dropping the stream or the future stops everything it started.

mod await_final_event;
mod collect_map;
mod collect_partitioned;
mod collect_vec;
mod collector;
mod fold_items;
mod outcome;
mod receiver;
mod summary;

use std::future::Future;
use std::hash::Hash;

use futures::Stream;

use crate::error::BoxError;
use crate::stream::SenderEvent;

pub use await_final_event::AwaitFinalEvent;
pub use collect_map::CollectMap;
pub use collect_partitioned::{CollectPartitioned, Partitioned};
pub use collect_vec::CollectVec;
pub use collector::{Batch, Collector, KeyedError};
pub use fold_items::FoldItems;
pub use outcome::{Collected, CollectedParts, Outcome};
pub use receiver::{IntoEvent, OnFailure, Received, Receiver, ReceiverStrategy};
pub use summary::Summary;
#[cfg_attr(
    not(any(feature = "nats", feature = "postgres", feature = "kafka")),
    allow(unused_imports)
)]
pub(crate) use summary::Tally;

/// The receiver stage, on every stream of events (or results of events).
pub trait ReceiverExt: Stream {
    /// Processes each event with `f(event, collector)`, at most
    /// [`strategy.workers()`](ReceiverStrategy::workers) at once, pulling from upstream
    /// only when a slot is free: nothing is buffered beyond the events in flight.
    ///
    /// The stage yields a [`Received`] item per event (`Output` with the closure's `Ok`
    /// value, or `Failed` with the event's key), plus `Collected` batches of what the
    /// collectors kept. Upstream errors pass through as `Failed`. A closure that returns
    /// `Err` or panics fails only its event: the panic becomes
    /// [`EventErrorKind::Panicked`](crate::stream::EventErrorKind::Panicked) and the
    /// stage goes on. With [`ReceiverStrategy::Parallel`] each event runs on its own
    /// tokio task, aborted if the stage is dropped.
    ///
    /// Events from an acknowledging source ([NATS, PostgreSQL, Kafka](crate::connectors),
    /// or any [`Acks`](crate::ack::Acks) a source attached) are acknowledged when their
    /// call returns `Ok` and rejected when it returns `Err` or panics (or acknowledged,
    /// with [`on_failure`](Receiver::on_failure)); never before the call has returned. The
    /// final summary counts both in [`Summary::acks`]. Take the obligation in the closure
    /// with [`take_acks`](crate::ack::TakeAcks::take_acks) to settle it yourself later.
    ///
    /// An `async move` block that reads only [`event.data`](SenderEvent::data) captures
    /// just the payload, so each event's future stays as small as the payload; calling a
    /// method on the event (`into_data()`, `id()`) moves the whole event into it.
    ///
    /// `K` and `V` are the collector's key and value types (`Send + 'static`: values may
    /// be collected on worker tasks); when the closure does not collect, name them in the
    /// closure's signature (`_: Collector<(), ()>`).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    /// use sweet_async::collect::{Collector, ReceiverStrategy};
    /// use sweet_async::stream::source::of;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ConfigError> {
    /// let total = AsyncTask::emits::<u64>()
    ///     .sender(of(1..=100))
    ///     .receiver(ReceiverStrategy::parallel(4)?, |event, collector: Collector<u64, u64>| async move {
    ///         let n = event.into_data();
    ///         if n % 10 == 0 {
    ///             collector.collect(n, n * n);
    ///         }
    ///         Ok::<_, std::io::Error>(n)
    ///     })
    ///     .await_final_event(|summary, collected| {
    ///         assert_eq!(summary.items_in, 100);
    ///         assert_eq!(collected.keyed().len(), 10);
    ///         collected.outputs().iter().sum::<u64>()
    ///     })
    ///     .await;
    /// assert_eq!(total, 5050);
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "process_events")]
    fn receiver<K, V, R, E, F, Fut>(
        self,
        strategy: ReceiverStrategy,
        f: F,
    ) -> Receiver<Self, F, Fut, K, V, R>
    where
        Self: Sized,
        Self::Item: IntoEvent,
        F: FnMut(SenderEvent<<Self::Item as IntoEvent>::Data>, Collector<K, V>) -> Fut,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
        E: Into<BoxError>,
        R: Send + 'static,
        K: Send + 'static,
        V: Send + 'static,
    {
        Receiver::new(self, strategy, f)
    }
}

impl<S: Stream + ?Sized> ReceiverExt for S {}

/// The final event, on every stream whose items are events, results of events, or
/// receiver items.
pub trait FinalEvent: Stream {
    /// Drives the stream to its end, then calls `f(summary, collected)` and resolves to
    /// what it returns.
    ///
    /// `collected` holds the outputs (receiver `Ok` values, or the stream's `Ok` items),
    /// the values collectors kept (in order and keyed) and every error with its key.
    /// `summary` counts items in, out, errors, skipped and late (`items_in == items_out +
    /// errors + skipped + late`), chunks and the rows in them, values and errors
    /// collected, whether a source was cancelled (the result is then partial), the
    /// duration and the throughput.
    ///
    /// A window stream ends here too: its fired windows are the outputs, its late
    /// elements are counted in [`Summary::late`] and kept in
    /// [`Collected::late`], and a failure is an error.
    ///
    /// # Panics
    ///
    /// A panic of the stream or of `f` is not caught: it resumes at the `.await`
    /// with its own payload, as with `futures`' `StreamExt::collect` (the output has no
    /// place for an error). Run the pipeline inside a task
    /// ([`AsyncTask::to`](crate::task::AsyncTask::to)`().run(..)`) to get it as
    /// [`TaskError::Panicked`](crate::error::TaskError::Panicked), or catch it upstream
    /// with a [`receiver`](ReceiverExt::receiver) (which fails only the event).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the stream: sources stop, receiver tasks are aborted,
    /// and what was collected so far is dropped with it. For a partial result, cancel
    /// the source's token instead and await the future.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    /// use sweet_async::stream::ErrorPolicy;
    ///
    /// # futures::executor::block_on(async {
    /// let readings = futures::stream::iter(vec![Ok(20.5), Err("sensor offline"), Ok(21.0)]);
    /// let (mean, summary) = AsyncTask::emits::<f64>()
    ///     .on_error(ErrorPolicy::Collect)
    ///     .sender(readings)
    ///     .await_final_event(|summary, collected| {
    ///         let values: Vec<f64> = collected.outputs().iter().map(|e| *e.data()).collect();
    ///         (values.iter().sum::<f64>() / values.len() as f64, summary)
    ///     })
    ///     .await;
    /// assert_eq!(mean, 20.75);
    /// assert_eq!((summary.items_in, summary.items_out, summary.errors), (3, 2, 1));
    /// # });
    /// ```
    ///
    /// A window pipeline, late elements counted:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::window::Tumbling;
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ConfigError> {
    /// // (timestamp, value); the reading at 1 comes after [0, 5) has fired.
    /// let readings = stream::iter([(0, 1.0), (2, 3.0), (6, 2.0), (1, 9.0), (7, 4.0)]);
    /// let (sums, late, summary) = readings
    ///     .event_time_window(Tumbling::event_time(5), |r| r.0)?
    ///     .fold_windows(0.0, |sum, r| sum + r.1)
    ///     .await_final_event(|summary, mut collected| {
    ///         let late = collected.take_late();
    ///         let sums: Vec<f64> = collected.outputs().iter().map(|w| w.value).collect();
    ///         (sums, late, summary)
    ///     })
    ///     .await;
    /// assert_eq!(sums, [4.0, 6.0]);
    /// assert_eq!(late, [(1, 9.0)]);
    /// assert_eq!((summary.items_in, summary.items_out, summary.late), (3, 2, 1));
    /// # Ok(())
    /// # }
    /// ```
    fn await_final_event<F, U>(self, f: F) -> AwaitFinalEvent<Self, F>
    where
        Self: Sized,
        Self::Item: Outcome,
        F: FnOnce(
            Summary,
            Collected<
                <Self::Item as Outcome>::Key,
                <Self::Item as Outcome>::Value,
                <Self::Item as Outcome>::Output,
                <Self::Item as Outcome>::Late,
            >,
        ) -> U,
    {
        AwaitFinalEvent::new(self, f)
    }
}

impl<S: Stream + ?Sized> FinalEvent for S {}

/// Standalone collectors on every stream, each with a [`Summary`].
pub trait CollectExt: Stream {
    /// Collects every item into a `Vec`.
    ///
    /// # Panics
    ///
    /// A panic of the stream is not caught: it resumes at the `.await`
    /// with its own payload, as with `futures`' `StreamExt::collect` (the output has no
    /// place for an error). Run the pipeline inside a task
    /// ([`AsyncTask::to`](crate::task::AsyncTask::to)`().run(..)`) to get it as
    /// [`TaskError::Panicked`](crate::error::TaskError::Panicked), or catch it upstream
    /// with a [`receiver`](ReceiverExt::receiver) (which fails only the event).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// # futures::executor::block_on(async {
    /// let (words, summary) = futures::stream::iter(["a", "b"]).collect_vec().await;
    /// assert_eq!(words, ["a", "b"]);
    /// assert_eq!(summary.items_in, 2);
    /// # });
    /// ```
    fn collect_vec(self) -> CollectVec<Self>
    where
        Self: Sized,
    {
        CollectVec::new(self)
    }

    /// Collects every item into a map by `f(item) -> (key, value)`; a later value
    /// replaces an earlier one with the same key, counted in
    /// [`Summary::duplicate_keys`].
    ///
    /// # Panics
    ///
    /// A panic of the stream or of `f` is not caught: it resumes at the `.await`
    /// with its own payload, as with `futures`' `StreamExt::collect` (the output has no
    /// place for an error). Run the pipeline inside a task
    /// ([`AsyncTask::to`](crate::task::AsyncTask::to)`().run(..)`) to get it as
    /// [`TaskError::Panicked`](crate::error::TaskError::Panicked), or catch it upstream
    /// with a [`receiver`](ReceiverExt::receiver) (which fails only the event).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// # futures::executor::block_on(async {
    /// let prices = futures::stream::iter([("ACME", 10.0), ("BETA", 2.5), ("ACME", 10.5)]);
    /// let (last, summary) = prices.collect_map(|(symbol, price)| (symbol, price)).await;
    /// assert_eq!(last["ACME"], 10.5);
    /// assert_eq!((last.len(), summary.duplicate_keys), (2, 1));
    /// # });
    /// ```
    fn collect_map<K, V, F>(self, f: F) -> CollectMap<Self, F, K, V>
    where
        Self: Sized,
        F: FnMut(Self::Item) -> (K, V),
        K: Hash + Eq,
    {
        CollectMap::new(self, f)
    }

    /// Folds every item into one value.
    ///
    /// # Panics
    ///
    /// A panic of the stream or of `f` is not caught: it resumes at the `.await`
    /// with its own payload, as with `futures`' `StreamExt::collect` (the output has no
    /// place for an error). Run the pipeline inside a task
    /// ([`AsyncTask::to`](crate::task::AsyncTask::to)`().run(..)`) to get it as
    /// [`TaskError::Panicked`](crate::error::TaskError::Panicked), or catch it upstream
    /// with a [`receiver`](ReceiverExt::receiver) (which fails only the event).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// # futures::executor::block_on(async {
    /// let (total, summary) = futures::stream::iter(1..=10).fold_items(0, |acc, x| acc + x).await;
    /// assert_eq!((total, summary.items_out), (55, 10));
    /// # });
    /// ```
    fn fold_items<A, F>(self, init: A, f: F) -> FoldItems<Self, A, F>
    where
        Self: Sized,
        F: FnMut(A, Self::Item) -> A,
    {
        FoldItems::new(self, init, f)
    }

    /// Collects the `Ok` values into one `Vec` and the errors, keyed by their index in
    /// the stream, into another.
    ///
    /// # Panics
    ///
    /// A panic of the stream is not caught: it resumes at the `.await`
    /// with its own payload, as with `futures`' `StreamExt::collect` (the output has no
    /// place for an error). Run the pipeline inside a task
    /// ([`AsyncTask::to`](crate::task::AsyncTask::to)`().run(..)`) to get it as
    /// [`TaskError::Panicked`](crate::error::TaskError::Panicked), or catch it upstream
    /// with a [`receiver`](ReceiverExt::receiver) (which fails only the event).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// # futures::executor::block_on(async {
    /// let parsed = futures::stream::iter(["1", "x", "3"]).map(str::parse::<i32>);
    /// let (values, errors, summary) = parsed.collect_partitioned().await;
    /// assert_eq!(values, [1, 3]);
    /// assert_eq!(errors[0].0, 1); // the second item failed
    /// assert_eq!(summary.errors, 1);
    /// # });
    /// # use futures::StreamExt;
    /// ```
    fn collect_partitioned<T, E>(self) -> CollectPartitioned<Self, T, E>
    where
        Self: Sized + Stream<Item = Result<T, E>>,
    {
        CollectPartitioned::new(self)
    }
}

impl<S: Stream + ?Sized> CollectExt for S {}
