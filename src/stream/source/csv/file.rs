//! The public face of the CSV sources: [`csv_file`] and [`csv_records`] make a
//! [`CsvFile`], the settings of one file's reading.

use std::fmt;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::reader::ReaderSettings;
use super::record::{Mode, RawRecord, deserialize_record};
use super::source::CsvSource;
use crate::error::ConfigError;
use crate::stream::source::{Chunked, DEFAULT_MAX_ITEM_LENGTH, IntoSource, SourceContext, marker};
use crate::units::Count;

/// Records parsed per batch when the source is not chunked.
const DEFAULT_BATCH: usize = 512;

/// The most rows a reader batch holds, whatever the chunk size.
const MAX_BATCH: usize = 1 << 16;

/// A source of typed CSV records: each row is deserialized into `R` with `serde`, by
/// header name when the file has a header row (the default), by position otherwise.
///
/// The [`csv`] crate's synchronous reader parses the file on tokio's blocking pool and
/// sends batches of 512 rows (fewer if the buffer is smaller; the chunk size when
/// chunked) through a channel bounded by the task's
/// [`buffer`](crate::stream::EmittingTaskBuilder::buffer) (rounded up to whole batches,
/// at least 2). Values are built from the parsed rows on the thread polling the stream,
/// where they are also dropped, and drained batches go back to the reader for reuse.
/// A row with the wrong number of fields, or one that does not fit `R`, is a per-item
/// [`SourceError::Csv`] naming the file, line, byte offset and record, and a row longer
/// than [`max_record_length`](CsvFile::max_record_length) a per-item
/// [`SourceError::TooLong`]; reading goes on after both. A file that shrinks while it is
/// read ends the stream with [`SourceError::Truncated`] at the row that was cut (never
/// emitted as a short last row), and a reader thread that dies (a panic, a runtime shut
/// down under it) with [`SourceError::ReaderLost`], never as if the file had ended.
/// Dropping the stream closes the channel and the reader stops at its next batch.
/// Needs a tokio runtime: without one the stream yields [`SourceError::NoRuntime`].
///
/// [`SourceError::Csv`]: crate::stream::SourceError::Csv
/// [`SourceError::TooLong`]: crate::stream::SourceError::TooLong
/// [`SourceError::Truncated`]: crate::stream::SourceError::Truncated
/// [`SourceError::ReaderLost`]: crate::stream::SourceError::ReaderLost
/// [`SourceError::NoRuntime`]: crate::stream::SourceError::NoRuntime
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use serde::Deserialize;
/// use sweet_async::prelude::*;
/// use sweet_async::stream::source::csv_file;
///
/// #[derive(Debug, Deserialize, PartialEq)]
/// struct Trade { symbol: String, price: f64, qty: u32 }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let path = std::env::temp_dir().join("sweet_async_doc_trades.csv");
/// std::fs::write(&path, "symbol,price,qty\nACME,10.5,3\nINIT,oops,1\nBETA,2.25,10\n")?;
/// let rows: Vec<_> = AsyncTask::emits::<Trade>()
///     .sender(csv_file::<Trade>(&path))
///     .collect()
///     .await;
/// assert_eq!(rows.len(), 3);
/// assert_eq!(rows[0].as_ref().unwrap().data().symbol, "ACME");
/// let bad = rows[1].as_ref().unwrap_err();
/// assert_eq!(bad.position().map(|p| p.line()), Some(3)); // the malformed row, named
/// assert_eq!(rows[2].as_ref().unwrap().data().qty, 10); // and the rest goes on
/// # std::fs::remove_file(&path)
/// # }
/// ```
pub fn csv_file<R: DeserializeOwned>(path: impl AsRef<Path>) -> CsvFile<R> {
    CsvFile::new(path.as_ref(), Mode::Typed(deserialize_record::<R>))
}

/// A source of raw CSV records ([`RawRecord`]): fields as bytes, no deserialization, no
/// UTF-8 check, and no allocation per record (records share their batch's buffer).
///
/// Same reading, batching and error reporting as [`csv_file`]; a raw record shares its
/// batch's parsed records, so the consuming thread only hands out records (a
/// reference-count increment each) and never copies their bytes.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use sweet_async::prelude::*;
/// use sweet_async::stream::source::csv_records;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let path = std::env::temp_dir().join("sweet_async_doc_raw.csv");
/// std::fs::write(&path, "a;b\n1;\"x;y\"\n")?;
/// use sweet_async::stream::source::RawRecord;
/// let records: Vec<RawRecord> = AsyncTask::emits::<RawRecord>()
///     .sender(csv_records(&path).delimiter(b';'))
///     .map(|event| event.unwrap().into_data())
///     .collect()
///     .await;
/// assert_eq!(records[0].get(1), Some(&b"x;y"[..]));
/// # std::fs::remove_file(&path)
/// # }
/// ```
pub fn csv_records(path: impl AsRef<Path>) -> CsvFile<RawRecord> {
    CsvFile::new(path.as_ref(), Mode::Raw(std::convert::identity))
}

/// The source made by [`csv_file`] and [`csv_records`].
#[must_use = "a source does nothing until given to `sender(..)`"]
pub struct CsvFile<R> {
    settings: ReaderSettings,
    convert: Mode<R>,
}

impl<R> CsvFile<R> {
    fn new(path: &Path, convert: Mode<R>) -> Self {
        let settings = ReaderSettings {
            path: path.to_path_buf(),
            name: Arc::from(path.to_string_lossy().as_ref()),
            delimiter: b',',
            quote: b'"',
            has_headers: true,
            flexible: false,
            max_record: Count::new(DEFAULT_MAX_ITEM_LENGTH, "bytes"),
        };
        CsvFile { settings, convert }
    }

    /// The longest record, in bytes of its fields (default [`DEFAULT_MAX_ITEM_LENGTH`],
    /// 64 MiB): a longer one is a per-item [`SourceError::TooLong`] at the row's line
    /// and byte, and reading goes on. The reader stops parsing a record once it spans
    /// more than the limit plus 64 KiB of the file, so memory stays bounded, and goes on
    /// at the next line break (quotes are not followed while skipping). A header row
    /// longer than the limit ends the reading after its error: no row could be matched
    /// to it. Zero is a [`ConfigError`].
    ///
    /// [`SourceError::TooLong`]: crate::stream::SourceError::TooLong
    pub fn max_record_length(mut self, bytes: impl Into<Count>) -> Self {
        self.settings.max_record = bytes.into();
        self
    }

    /// The field delimiter (default `b','`).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.settings.delimiter = delimiter;
        self
    }

    /// The quote character (default `b'"'`).
    pub fn quote(mut self, quote: u8) -> Self {
        self.settings.quote = quote;
        self
    }

    /// Whether the first row is a header row (default `true`): it is not emitted, and
    /// typed records are matched to it by name.
    pub fn has_headers(mut self, yes: bool) -> Self {
        self.settings.has_headers = yes;
        self
    }

    /// Accept rows with a different number of fields (default `false`: such a row is a
    /// per-item error).
    pub fn flexible(mut self, yes: bool) -> Self {
        self.settings.flexible = yes;
        self
    }

    /// Emits chunks of `size` records ([`Chunk<R>`](crate::stream::source::Chunk) events,
    /// each row with its position) instead of single records; the reader thread then
    /// sends batches of that size (at most 65 536 rows).
    pub fn into_chunks(self, size: impl Into<Count>) -> Chunked<Self> {
        Chunked::new(self, size.into())
    }
}

impl<R> Clone for CsvFile<R> {
    fn clone(&self) -> Self {
        CsvFile {
            settings: self.settings.clone(),
            convert: self.convert,
        }
    }
}

impl<R> fmt::Debug for CsvFile<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        f.debug_struct("CsvFile")
            .field("path", &s.path)
            .field("delimiter", &(s.delimiter as char))
            .field("quote", &(s.quote as char))
            .field("has_headers", &s.has_headers)
            .field("flexible", &s.flexible)
            .field("max_record_length", &s.max_record.get())
            .finish()
    }
}

impl<R: Send + 'static> IntoSource<R, marker::Native> for CsvFile<R> {
    type Data = R;
    type Source = CsvSource<R>;

    fn name(&self) -> Option<Arc<str>> {
        Some(self.settings.name.clone())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.settings.max_record.validate("max record length")?;
        if self.settings.delimiter == self.settings.quote {
            return Err(ConfigError::Conflict {
                reason: format!(
                    "the CSV delimiter and quote are both {:?}",
                    self.settings.delimiter as char
                ),
            });
        }
        Ok(())
    }

    fn into_source(self, ctx: &SourceContext) -> Self::Source {
        // Batches never hold more rows than the task's buffer allows (unless chunked), and
        // never more than MAX_BATCH: a chunk size of `1 << 40` is read in batches that
        // size, not reserved up front.
        let batch_rows = ctx
            .batch_hint
            .map_or(DEFAULT_BATCH.min(ctx.capacity.get()), NonZeroUsize::get)
            .min(MAX_BATCH);
        let batches = ctx.capacity.get().div_ceil(batch_rows).clamp(2, 64);
        CsvSource::new(
            self.settings,
            self.convert,
            batch_rows,
            batches,
            ctx.stats.clone(),
        )
    }
}
