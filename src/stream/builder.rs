//! [`EmittingTaskBuilder`]: the configuration of an emitting task.

use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::error::ConfigError;
use crate::stream::ErrorPolicy;
use crate::stream::emitting::{EmittingStream, StreamSettings};
use crate::stream::origin::Origin;
use crate::stream::source::{IntoSource, SourceContext};
use crate::stream::stats::SourceStats;
use crate::task::TaskId;
use crate::units::Count;

/// Default bound of the buffer between a producer and the consumer, in items.
pub const DEFAULT_BUFFER: usize = 1024;

/// Largest accepted buffer bound: what a tokio channel can count (`Semaphore::MAX_PERMITS`,
/// `usize::MAX >> 3`). Nothing is allocated up front, so a large bound costs nothing
/// until items wait in it.
pub const MAX_BUFFER: usize = tokio::sync::Semaphore::MAX_PERMITS;

/// The buffer bound, checked: at least 1, at most [`MAX_BUFFER`].
fn checked_buffer(buffer: Count) -> Result<NonZeroUsize, ConfigError> {
    let n = buffer.validate(BUFFER_SETTING)?;
    ConfigError::check_range(BUFFER_SETTING, n.get() as u64, 1, MAX_BUFFER as u64)?;
    Ok(n)
}

const BUFFER_SETTING: &str = "emitting task buffer";

/// Configures an emitting task; `.sender(source)` turns it into an [`EmittingStream`].
///
/// Create one with [`AsyncTask::emits`](crate::task::AsyncTask::emits). Settings:
///
/// - [`name`](Self::name) and [`id`](Self::id): how the task and its events are known;
/// - [`buffer`](Self::buffer): the bound on items buffered between a producer running
///   ahead (a [`Sender`](crate::stream::Sender) closure, a CSV reader thread) and the
///   consumer: the backpressure bound;
/// - [`on_error`](Self::on_error): what a per-item error does ([`ErrorPolicy`]);
/// - [`cancellation_token`](Self::cancellation_token): a graceful stop;
/// - [`tracing`](Self::tracing) and [`with_timestamps`](Self::with_timestamps).
///
/// Invalid settings never panic: [`validate`](Self::validate) reports them, and a stream
/// built anyway yields one [`SourceError::Config`](crate::stream::SourceError::Config)
/// error and ends without reading anything.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use sweet_async::prelude::*;
/// use sweet_async::stream::{ErrorPolicy, source::of};
///
/// # futures::executor::block_on(async {
/// let events = AsyncTask::emits::<&str>()
///     .name("words")
///     .buffer(256.items())
///     .on_error(ErrorPolicy::Stop)
///     .sender(of(["alpha", "beta"]));
/// let keys: Vec<u64> = events.map(|e| e.unwrap().sequence_number()).collect().await;
/// assert_eq!(keys, [0, 1]);
/// assert!(AsyncTask::emits::<u8>().buffer(0.items()).validate().is_err());
/// # });
/// ```
#[doc(alias = "SenderBuilder")]
#[must_use = "a builder does nothing until `.sender(..)` is called and the stream polled"]
#[derive(Debug, Clone)]
pub struct EmittingTaskBuilder<T> {
    name: Option<Arc<str>>,
    id: Option<TaskId>,
    buffer: Count,
    policy: ErrorPolicy,
    token: Option<CancellationToken>,
    tracing: bool,
    timestamps: bool,
    _item: PhantomData<fn() -> T>,
}

impl<T> Default for EmittingTaskBuilder<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> EmittingTaskBuilder<T> {
    /// A builder with the defaults: a buffer of [`DEFAULT_BUFFER`] items, the
    /// [`Collect`](ErrorPolicy::Collect) policy, no cancellation token, no tracing, no
    /// timestamps.
    pub fn new() -> Self {
        EmittingTaskBuilder {
            name: None,
            id: None,
            buffer: Count::new(DEFAULT_BUFFER, "items"),
            policy: ErrorPolicy::default(),
            token: None,
            tracing: false,
            timestamps: false,
            _item: PhantomData,
        }
    }

    /// Names the task (shown in tracing spans, and the source name of events from
    /// sources without one).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the task id instead of drawing one: the task part of every event key.
    pub fn id(mut self, id: TaskId) -> Self {
        self.id = Some(id);
        self
    }

    /// Bounds the buffer between producer and consumer (default [`DEFAULT_BUFFER`]
    /// items). Zero, or more than [`MAX_BUFFER`], is a [`ConfigError`].
    pub fn buffer(mut self, capacity: impl Into<Count>) -> Self {
        self.buffer = capacity.into();
        self
    }

    /// What a per-item error does (default [`ErrorPolicy::Collect`]).
    pub fn on_error(mut self, policy: ErrorPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Stops the sender when `token` is cancelled: the stream ends at its next poll,
    /// items already handed downstream finish, and
    /// [`await_final_event`](crate::collect::FinalEvent::await_final_event) reports the
    /// partial result as cancelled.
    pub fn cancellation_token(mut self, token: CancellationToken) -> Self {
        self.token = Some(token);
        self
    }

    /// Emits an `emits` span around each poll, a warning per failed item and a summary
    /// when the stream ends.
    pub fn tracing(mut self, enabled: bool) -> Self {
        self.tracing = enabled;
        self
    }

    /// Stamps every event with `SystemTime::now()` when it is emitted.
    ///
    /// Off by default: a clock read per event costs about as much as the rest of the
    /// event's overhead together, and most pipelines never look at it. When on, the
    /// timestamp lives in the event's side allocation (with its metadata), so each event
    /// costs one small allocation more: events without one stay small to move.
    pub fn with_timestamps(mut self) -> Self {
        self.timestamps = true;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] for a zero buffer, [`ConfigError::OutOfRange`] for one above
    /// [`MAX_BUFFER`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        checked_buffer(self.buffer).map(|_| ())
    }

    /// Starts emitting from `source`: any `Stream<Item = T>`, any
    /// `Stream<Item = Result<T, E>>`, an async closure handed a
    /// [`Sender`](crate::stream::Sender), or one of the [`source`](crate::stream::source)
    /// constructors. Nothing runs until the stream is polled.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use sweet_async::prelude::*;
    ///
    /// # futures::executor::block_on(async {
    /// // A fallible stream: each `Err` is a per-item error with its key.
    /// let input = futures::stream::iter(vec![Ok(1), Err("bad reading"), Ok(3)]);
    /// let items: Vec<_> = AsyncTask::emits::<i32>().sender(input).collect().await;
    /// assert_eq!(items.len(), 3);
    /// let err = items[1].as_ref().unwrap_err();
    /// assert_eq!(err.id().sequence_number(), 1);
    /// assert!(err.to_string().contains("bad reading"));
    /// # });
    /// ```
    pub fn sender<M, P>(self, source: P) -> EmittingStream<P::Source>
    where
        P: IntoSource<T, M>,
    {
        let stats = SourceStats::default();
        let task = self.id.unwrap_or_default();
        let origin = source
            .name()
            .or_else(|| self.name.clone())
            .map(Origin::interned);
        let checked =
            checked_buffer(self.buffer).and_then(|capacity| source.validate().map(|()| capacity));
        let built = checked.map(|capacity: NonZeroUsize| {
            let ctx = SourceContext {
                capacity,
                stats: stats.clone(),
                batch_hint: None,
            };
            source.into_source(&ctx)
        });
        let span = self.tracing.then(|| {
            let name = self.name.as_deref().unwrap_or("unnamed");
            tracing::info_span!("emits", name, task_id = %task)
        });
        EmittingStream::new(
            built,
            StreamSettings {
                task,
                origin,
                policy: self.policy,
                timestamps: self.timestamps,
                stats,
                token: self.token,
                span,
            },
        )
    }
}
