//! Emitting tasks: sources as native, backpressure-aware `Stream`s of events.
//!
//! [`AsyncTask::emits`](crate::task::AsyncTask::emits) starts an
//! [`EmittingTaskBuilder`]; `.sender(source)` returns an [`EmittingStream`], a `Stream`
//! of `Result<SenderEvent<T>, EventError>` that any `futures`/`tokio-stream` code can
//! consume. Each [`SenderEvent`] carries its payload and a key ([`EventId`]: the task id
//! plus a per-task sequence number), the source's name and the item's [`Position`] for
//! file sources. Sources are in [`source`]: [`of`](source::of) an iterator,
//! [`of_file`](source::of_file) delimited text, [`csv_file`](source::csv_file) typed CSV
//! records, [`csv_records`](source::csv_records) raw ones, any stream, or a closure
//! handed a [`Sender`].
//!
//! Per-item errors follow the task's [`ErrorPolicy`]. The
//! [`collect`](crate::collect) module adds the receiver stage and the final event.
//!
//! # Performance
//!
//! An event costs a few tens of nanoseconds on its way through a pipeline (its key and
//! provenance are moved with it, a receiver call gets its own collector handle and panic
//! isolation): negligible for rows that take microseconds to process, dominant for
//! trivially small items. For those, emit batches with `.into_chunks(n)`: an
//! `emits -> receiver -> collect` pipeline over chunks of 1000 small items runs at the
//! speed of a plain `futures` `then().collect()` loop. Event timestamps are opt-in
//! ([`with_timestamps`](EmittingTaskBuilder::with_timestamps)) because a clock read per
//! event costs about as much as the rest of the event.

mod builder;
mod emitting;
mod error;
mod event;
mod origin;
pub mod source;
mod stats;

pub use builder::{DEFAULT_BUFFER, EmittingTaskBuilder, MAX_BUFFER};
pub use emitting::{EmittingStream, IntoData};
pub use error::{EventError, EventErrorKind, SourceError};
pub use event::{
    EventId, Metadata, Position, ReceiverEvent, SenderEvent, SenderEventBuilder, StreamingEvent,
};
pub use source::{Located, SendError, Sender, SourceItem};
pub use stats::SourceStats;

use crate::task::AsyncTask;

pub(crate) use stats::{Report, scope};

/// What an emitting task does with a per-item error (a malformed row, an invalid line, an
/// `Err` from the sender).
///
/// Fatal errors (the file cannot be read any more, the sender panicked) always end the
/// stream after being yielded, whatever the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ErrorPolicy {
    /// Yield the error, then end the stream.
    Stop,
    /// Drop the item and go on; it is counted in [`SourceStats::skipped`] and in the
    /// `skipped` count of the final summary.
    Skip,
    /// Yield the error as an `Err` item with its key and go on; it ends in the collected
    /// errors of the final event.
    #[default]
    Collect,
}

// `emits` lives in its own `impl` of `AsyncTask<BoxError>`: an emitting task has no work
// error type, so in `impl<E>` nothing would fix `E` and every call would need annotations.
impl AsyncTask {
    /// A builder for an emitting task: a source of `T` items as a native `Stream` of
    /// events. See [`EmittingTaskBuilder`].
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use sweet_async::prelude::*;
    /// use sweet_async::stream::source::of;
    ///
    /// # futures::executor::block_on(async {
    /// let doubled: Vec<u32> = AsyncTask::emits::<u32>()
    ///     .sender(of([1, 2, 3]))
    ///     .map(|event| event.unwrap().into_data() * 2)
    ///     .collect()
    ///     .await;
    /// assert_eq!(doubled, [2, 4, 6]);
    /// # });
    /// ```
    pub fn emits<T>() -> EmittingTaskBuilder<T> {
        EmittingTaskBuilder::new()
    }
}
