//! Sources: what [`sender(..)`](crate::stream::EmittingTaskBuilder::sender) accepts.
//!
//! - any `Stream<Item = T>` or `Stream<Item = Result<T, E>>`;
//! - an async closure handed a [`Sender`] (`send(x).await` waits
//!   while the buffer is full);
//! - [`of`] an iterator, [`of_file`] a text file split by a delimiter, [`csv_file`] typed
//!   CSV records and [`csv_records`] raw CSV records, each with `.into_chunks(n)` to emit
//!   [`Chunk`]s (rows with their positions) instead of single items.
//!
//! File sources read a block at a time, never the whole file, count the bytes they read
//! into the polling task's I/O metrics
//! ([`record_read`](crate::task::metrics::record_read)) and into the stream's
//! [`SourceStats`], and report a bad item (invalid UTF-8, a
//! malformed CSV row) as a [`SourceError`] naming the file, line and byte offset while
//! the rest goes on.

mod chunk;
mod chunks;
#[cfg(feature = "csv")]
mod csv;
mod iter;
mod lines;
mod located;
mod producer;
mod stream;

use std::num::NonZeroUsize;
use std::sync::Arc;

use crate::ack::Acks;
use crate::error::ConfigError;
use crate::stream::error::SourceError;
use crate::stream::event::Position;
use crate::stream::stats::SourceStats;
use crate::units::Count;

pub use self::chunk::Chunk;
pub use self::chunks::{Chunked, ChunkedSource};
#[cfg(feature = "csv")]
#[cfg_attr(docsrs, doc(cfg(feature = "csv")))]
pub use self::csv::{CsvFile, CsvSource, RawRecord, csv_file, csv_records};
pub use self::iter::{Of, OfSource, of};
pub use self::lines::{
    DEFAULT_MAX_ITEM_LENGTH, Delimiter, FileLines, LineData, LinesSource, of_file,
};
pub use self::located::{LocatedSource, located};
pub use self::producer::{ProducerOutput, ProducerSource, SendError, Sender};
pub use self::stream::{FallibleSource, PlainSource};
/// The byte-line type of [`FileLines::bytes`]: re-exported so that
/// `AsyncTask::emits::<Bytes>()` needs no dependency on `bytes`.
pub use bytes::Bytes;

/// An item as a source produces it: the value, where it was, and what its source must be
/// told once it was handled.
#[derive(Debug)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was in the source, when the source has positions.
    pub position: Option<Position>,
    /// The chunk number, for chunked sources.
    pub batch: Option<u64>,
    /// The acknowledgement owed to the source ([`Acks::none`] for sources without
    /// acknowledgements); the emitting stream moves it into the event.
    pub acks: Acks,
}

impl<T> Located<T> {
    /// A value without position.
    pub fn bare(value: T) -> Self {
        Located {
            value,
            position: None,
            batch: None,
            acks: Acks::none(),
        }
    }

    /// A value at `position`.
    pub fn at(value: T, position: Position) -> Self {
        Located {
            value,
            position: Some(position),
            batch: None,
            acks: Acks::none(),
        }
    }

    /// The value, owing `acks` to its source.
    pub fn with_acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self
    }
}

/// What a source stream yields: an item or a per-item error, both located.
pub type SourceItem<T> = Result<Located<T>, Located<SourceError>>;

/// Settings of the emitting task a source may need.
#[derive(Debug, Clone)]
pub struct SourceContext {
    pub(crate) capacity: NonZeroUsize,
    pub(crate) stats: SourceStats,
    /// Items per batch a reader thread should send: the chunk size of a chunked source.
    pub(crate) batch_hint: Option<NonZeroUsize>,
}

impl SourceContext {
    /// The buffer capacity between producer and consumer, in items.
    pub fn capacity(&self) -> NonZeroUsize {
        self.capacity
    }

    /// The stream's statistics (sources add the bytes they read).
    pub fn stats(&self) -> &SourceStats {
        &self.stats
    }
}

/// Converts what `sender(..)` is given into a source stream of `T` items.
///
/// `M` is a marker that tells the conversions apart (a plain stream, a fallible stream,
/// a producer closure, a native source); it is always inferred.
pub trait IntoSource<T, M> {
    /// The payload of the emitted events: `T`, or `Vec<T>` for chunked sources.
    type Data;
    /// The source stream.
    type Source: futures::Stream<Item = SourceItem<Self::Data>>;

    /// The source's name (the file path), carried by its events.
    fn name(&self) -> Option<Arc<str>> {
        None
    }

    /// Checks the source's own settings (chunk sizes, delimiters) before any work starts.
    ///
    /// # Errors
    ///
    /// The first invalid setting.
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }

    /// Builds the source stream. Nothing is read until it is polled.
    fn into_source(self, ctx: &SourceContext) -> Self::Source;
}

/// Markers for [`IntoSource`]; you never name them.
pub mod marker {
    /// A `Stream<Item = T>`.
    #[derive(Debug)]
    pub enum Plain {}
    /// A `Stream<Item = Result<T, E>>`.
    #[derive(Debug)]
    pub enum Fallible {}
    /// An async closure handed a [`Sender`](crate::stream::Sender).
    #[derive(Debug)]
    pub enum Producer {}
    /// A source of this crate ([`of`](super::of), [`of_file`](super::of_file), ...).
    #[derive(Debug)]
    pub enum Native {}
}

/// Validates a chunk size.
pub(crate) fn chunk_size(n: Count) -> Result<NonZeroUsize, ConfigError> {
    n.validate("chunk size")
}
