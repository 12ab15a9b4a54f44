//! CSV sources: the `csv` crate's synchronous reader on tokio's blocking pool, sending
//! batches of records through a bounded channel.

use std::fmt;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use csv::ByteRecord;
use futures::Stream;
use futures::stream::FusedStream;
use serde::de::DeserializeOwned;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::{Chunked, IntoSource, Located, SourceContext, SourceItem, marker};
use crate::error::ConfigError;
use crate::stream::error::SourceError;
use crate::stream::event::Position;
use crate::stream::stats::SourceStats;
use crate::task::metrics::record_read;
use crate::units::Count;

/// Records per batch sent by the reader thread when the source is not chunked.
const DEFAULT_BATCH: usize = 512;

type Convert<R> = fn(&ByteRecord, Option<&ByteRecord>) -> Result<R, csv::Error>;

/// A source of typed CSV records: each row is deserialized into `R` with `serde`, by
/// header name when the file has a header row (the default), by position otherwise.
///
/// The file is parsed by the [`csv`] crate's synchronous reader on tokio's blocking pool,
/// a batch of records at a time, through a channel bounded by the task's
/// [`buffer`](crate::stream::EmittingTaskBuilder::buffer) (rounded up to whole batches).
/// A row with the wrong number of fields, or one that does not fit `R`, is a per-item
/// [`SourceError::Csv`] naming the file, line, byte offset and record, and reading goes
/// on. Dropping the stream closes the channel and the reader stops at its next batch.
/// Needs a tokio runtime: without one the stream yields [`SourceError::NoRuntime`].
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
    CsvFile::new(path.as_ref(), |record, headers| record.deserialize(headers))
}

/// A source of raw CSV records ([`ByteRecord`]): no deserialization, no UTF-8 check.
///
/// Same reading, batching and error reporting as [`csv_file`].
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
/// let records: Vec<csv::ByteRecord> = AsyncTask::emits::<csv::ByteRecord>()
///     .sender(csv_records(&path).delimiter(b';'))
///     .map(|event| event.unwrap().into_data())
///     .collect()
///     .await;
/// assert_eq!(records[0].get(1), Some(&b"x;y"[..]));
/// # std::fs::remove_file(&path)
/// # }
/// ```
pub fn csv_records(path: impl AsRef<Path>) -> CsvFile<ByteRecord> {
    CsvFile::new(path.as_ref(), |record, _| Ok(record.clone()))
}

/// The source made by [`csv_file`] and [`csv_records`].
#[must_use = "a source does nothing until given to `sender(..)`"]
pub struct CsvFile<R> {
    path: PathBuf,
    name: Arc<str>,
    delimiter: u8,
    quote: u8,
    has_headers: bool,
    flexible: bool,
    convert: Convert<R>,
}

impl<R> CsvFile<R> {
    fn new(path: &Path, convert: Convert<R>) -> Self {
        CsvFile {
            path: path.to_path_buf(),
            name: Arc::from(path.to_string_lossy().as_ref()),
            delimiter: b',',
            quote: b'"',
            has_headers: true,
            flexible: false,
            convert,
        }
    }

    /// The field delimiter (default `b','`).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// The quote character (default `b'"'`).
    pub fn quote(mut self, quote: u8) -> Self {
        self.quote = quote;
        self
    }

    /// Whether the first row is a header row (default `true`): it is not emitted, and
    /// typed records are matched to it by name.
    pub fn has_headers(mut self, yes: bool) -> Self {
        self.has_headers = yes;
        self
    }

    /// Accept rows with a different number of fields (default `false`: such a row is a
    /// per-item error).
    pub fn flexible(mut self, yes: bool) -> Self {
        self.flexible = yes;
        self
    }

    /// Emits chunks of `size` records (`Vec<R>` events) instead of single records; the
    /// reader thread then sends batches of exactly that size.
    pub fn into_chunks(self, size: impl Into<Count>) -> Chunked<Self> {
        Chunked::new(self, size.into())
    }
}

impl<R> Clone for CsvFile<R> {
    fn clone(&self) -> Self {
        CsvFile {
            path: self.path.clone(),
            name: self.name.clone(),
            delimiter: self.delimiter,
            quote: self.quote,
            has_headers: self.has_headers,
            flexible: self.flexible,
            convert: self.convert,
        }
    }
}

impl<R> fmt::Debug for CsvFile<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsvFile")
            .field("path", &self.path)
            .field("delimiter", &(self.delimiter as char))
            .field("quote", &(self.quote as char))
            .field("has_headers", &self.has_headers)
            .field("flexible", &self.flexible)
            .finish()
    }
}

impl<R: Send + 'static> IntoSource<R, marker::Native> for CsvFile<R> {
    type Data = R;
    type Source = CsvSource<R>;

    fn name(&self) -> Option<Arc<str>> {
        Some(self.name.clone())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.delimiter == self.quote {
            return Err(ConfigError::Conflict {
                reason: format!(
                    "the CSV delimiter and quote are both {:?}",
                    self.delimiter as char
                ),
            });
        }
        Ok(())
    }

    fn into_source(self, ctx: &SourceContext) -> Self::Source {
        let batch = ctx.batch_hint.map_or(DEFAULT_BATCH, NonZeroUsize::get);
        let batches = ctx.capacity.get().div_ceil(batch).max(1);
        CsvSource {
            name: self.name.clone(),
            convert: self.convert,
            state: CsvState::NotStarted(Box::new(self)),
            batch,
            batches,
            current: None,
            next_entry: 0,
            next_field: 0,
            headers: None,
            scratch: ByteRecord::new(),
            last_received: false,
            stats: ctx.stats.clone(),
        }
    }
}

/// One entry of a batch: a record's fields (an end index into the batch's field ends)
/// and position, or a failed row.
enum Entry {
    Record {
        fields_end: usize,
        position: Position,
        record: u64,
    },
    /// Taken (`None`) once yielded.
    Failed(Option<Box<Located<SourceError>>>),
}

/// One message of the reader thread: the raw bytes of up to `batch` rows.
///
/// The reader thread only parses; turning fields into owned values (which allocates)
/// happens on the consuming thread, where they are also dropped: allocation and free on
/// one thread keep the allocator's fast path.
struct Batch {
    /// Field bytes of every record, back to back.
    bytes: Vec<u8>,
    /// End offset in `bytes` of each field.
    ends: Vec<usize>,
    entries: Vec<Entry>,
    headers: Option<ByteRecord>,
    bytes_read: u64,
    read_time: Duration,
    last: bool,
}

impl Batch {
    fn with_capacity(rows: usize) -> Self {
        Batch {
            bytes: Vec::with_capacity(rows * 64),
            ends: Vec::with_capacity(rows * 8),
            entries: Vec::with_capacity(rows),
            headers: None,
            bytes_read: 0,
            read_time: Duration::ZERO,
            last: false,
        }
    }
}

enum CsvState<R> {
    NotStarted(Box<CsvFile<R>>),
    Running(mpsc::Receiver<Batch>),
    Done,
}

/// The stream of a [`CsvFile`] source.
#[must_use = "streams do nothing unless polled"]
pub struct CsvSource<R> {
    state: CsvState<R>,
    name: Arc<str>,
    convert: Convert<R>,
    batch: usize,
    batches: usize,
    current: Option<Batch>,
    // Next entry of `current`, and the first field of that entry.
    next_entry: usize,
    next_field: usize,
    headers: Option<ByteRecord>,
    scratch: ByteRecord,
    last_received: bool,
    stats: SourceStats,
}

impl<R> Unpin for CsvSource<R> {}

impl<R> CsvSource<R> {
    /// Entries of the batch in hand not yet yielded.
    fn in_hand(&self) -> usize {
        self.current
            .as_ref()
            .map_or(0, |b| b.entries.len().saturating_sub(self.next_entry))
    }

    /// The next item of the batch in hand, if any.
    fn next_in_batch(&mut self) -> Option<SourceItem<R>> {
        let batch = self.current.as_mut()?;
        let entry = batch.entries.get_mut(self.next_entry)?;
        self.next_entry += 1;
        match entry {
            Entry::Failed(err) => err.take().map(|e| Err(*e)),
            Entry::Record {
                fields_end,
                position,
                record,
            } => {
                let first = self.next_field;
                let mut start = match first.checked_sub(1) {
                    Some(prev) => batch.ends.get(prev).copied().unwrap_or(0),
                    None => 0,
                };
                let ends = batch.ends.get(first..*fields_end).unwrap_or_default();
                self.next_field = *fields_end;
                self.scratch.clear();
                for &end in ends {
                    self.scratch
                        .push_field(batch.bytes.get(start..end).unwrap_or_default());
                    start = end;
                }
                let position = *position;
                Some(match (self.convert)(&self.scratch, self.headers.as_ref()) {
                    Ok(value) => Ok(Located::at(value, position)),
                    Err(e) => Err(csv_error(
                        &self.name,
                        e,
                        Some(&csv_position(position, *record)),
                    )),
                })
            }
        }
    }
}

impl<R: Send + 'static> Stream for CsvSource<R> {
    type Item = SourceItem<R>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.next_in_batch() {
                return Poll::Ready(Some(item));
            }
            match &mut this.state {
                CsvState::Done => {
                    this.current = None;
                    return Poll::Ready(None);
                }
                CsvState::NotStarted(_) => {
                    let handle = match Handle::try_current() {
                        Ok(h) => h,
                        Err(_) => {
                            this.state = CsvState::Done;
                            return Poll::Ready(Some(Err(Located::bare(SourceError::NoRuntime))));
                        }
                    };
                    let CsvState::NotStarted(file) =
                        std::mem::replace(&mut this.state, CsvState::Done)
                    else {
                        continue;
                    };
                    let (tx, rx) = mpsc::channel(this.batches);
                    let batch = this.batch;
                    // Detached on purpose: the reader stops at its next send once `rx`
                    // (owned by this stream) is dropped.
                    drop(handle.spawn_blocking(move || read_all(*file, batch, &tx)));
                    this.state = CsvState::Running(rx);
                }
                CsvState::Running(rx) => match rx.poll_recv(cx) {
                    Poll::Ready(Some(mut batch)) => {
                        record_read(batch.bytes_read, batch.read_time);
                        this.stats.add_bytes(batch.bytes_read);
                        this.last_received = batch.last;
                        if let Some(h) = batch.headers.take() {
                            this.headers = Some(h);
                        }
                        this.current = Some(batch);
                        this.next_entry = 0;
                        this.next_field = 0;
                    }
                    Poll::Ready(None) => this.state = CsvState::Done,
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.in_hand();
        if self.last_received || matches!(self.state, CsvState::Done) {
            (n, Some(n))
        } else {
            (n, None)
        }
    }
}

impl<R: Send + 'static> FusedStream for CsvSource<R> {
    fn is_terminated(&self) -> bool {
        matches!(self.state, CsvState::Done) && self.in_hand() == 0
    }
}

impl<R> fmt::Debug for CsvSource<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            CsvState::NotStarted(_) => "not started",
            CsvState::Running(_) => "running",
            CsvState::Done => "done",
        };
        f.debug_struct("CsvSource")
            .field("file", &self.name)
            .field("state", &state)
            .field("batch", &self.batch)
            .field("batches_buffered", &self.batches)
            .field("in_hand", &self.in_hand())
            .finish()
    }
}

/// A csv position for errors raised on the consuming side.
fn csv_position(p: Position, record: u64) -> csv::Position {
    let mut pos = csv::Position::new();
    pos.set_line(p.line()).set_byte(p.byte()).set_record(record);
    pos
}

/// The reader thread: parses the whole file, a batch at a time, until the end, a fatal
/// error, or the stream is gone.
fn read_all<R>(file: CsvFile<R>, batch_rows: usize, tx: &mpsc::Sender<Batch>) {
    let name = file.name.clone();
    let started = Instant::now();
    let mut batch = Batch::with_capacity(batch_rows);
    let reader = match std::fs::File::open(&file.path) {
        Ok(f) => f,
        Err(error) => {
            let err = Located::bare(SourceError::Io { file: name, error });
            batch.entries.push(Entry::Failed(Some(Box::new(err))));
            batch.read_time = started.elapsed();
            batch.last = true;
            let _ = tx.blocking_send(batch);
            return;
        }
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(file.delimiter)
        .quote(file.quote)
        .has_headers(file.has_headers)
        .flexible(file.flexible)
        .buffer_capacity(64 * 1024)
        .from_reader(reader);
    if file.has_headers {
        match rdr.byte_headers() {
            Ok(h) => batch.headers = Some(h.clone()),
            Err(e) => {
                let fatal = e.is_io_error();
                batch
                    .entries
                    .push(Entry::Failed(Some(Box::new(csv_error(&name, e, None)))));
                if fatal {
                    batch.bytes_read = rdr.position().byte();
                    batch.read_time = started.elapsed();
                    batch.last = true;
                    let _ = tx.blocking_send(batch);
                    return;
                }
            }
        }
    }
    let mut record = ByteRecord::new();
    let mut sent_bytes = 0u64;
    let mut batch_started = Instant::now();
    loop {
        let (last, fatal) = match rdr.read_byte_record(&mut record) {
            Ok(true) => {
                for field in &record {
                    batch.bytes.extend_from_slice(field);
                    batch.ends.push(batch.bytes.len());
                }
                let pos = record.position();
                batch.entries.push(Entry::Record {
                    fields_end: batch.ends.len(),
                    position: pos.map_or(Position::new(0, 0), to_position),
                    record: pos.map_or(0, csv::Position::record),
                });
                (false, false)
            }
            Ok(false) => (true, false),
            Err(e) => {
                let fatal = e.is_io_error();
                batch
                    .entries
                    .push(Entry::Failed(Some(Box::new(csv_error(&name, e, None)))));
                (fatal, fatal)
            }
        };
        if last || batch.entries.len() >= batch_rows {
            let bytes = rdr.position().byte();
            let mut full = std::mem::replace(&mut batch, Batch::with_capacity(batch_rows));
            full.bytes_read = bytes.saturating_sub(sent_bytes);
            full.read_time = batch_started.elapsed();
            full.last = last;
            sent_bytes = bytes;
            if tx.blocking_send(full).is_err() || last || fatal {
                return;
            }
            batch_started = Instant::now();
        }
    }
}

fn to_position(p: &csv::Position) -> Position {
    Position::new(p.line(), p.byte())
}

/// A `csv::Error` as a located per-row (or, for I/O, fatal) error naming the file.
fn csv_error(
    name: &Arc<str>,
    e: csv::Error,
    fallback: Option<&csv::Position>,
) -> Located<SourceError> {
    let pos = e.position().or(fallback).cloned();
    let position = pos.as_ref().map(to_position);
    let message = e.to_string();
    let err = match e.into_kind() {
        csv::ErrorKind::Io(error) => SourceError::Io {
            file: name.clone(),
            error,
        },
        _ => SourceError::Csv {
            file: name.clone(),
            line: pos.as_ref().map_or(0, csv::Position::line),
            byte: pos.as_ref().map_or(0, csv::Position::byte),
            record: pos.as_ref().map_or(0, csv::Position::record),
            message,
        },
    };
    Located {
        value: err,
        position,
        batch: None,
    }
}
