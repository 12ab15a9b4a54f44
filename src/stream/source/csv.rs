//! CSV sources: the `csv` crate's synchronous reader on tokio's blocking pool, sending
//! batches of parsed rows through a bounded channel; values are built on the consuming
//! thread.

use std::fmt;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use csv::{ByteRecord, StringRecord};
use futures::Stream;
use futures::stream::FusedStream;
use serde::de::DeserializeOwned;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::{Chunked, IntoSource, Located, SourceContext, SourceItem, marker};
use crate::ack::Acks;
use crate::error::ConfigError;
use crate::stream::error::SourceError;
use crate::stream::event::Position;
use crate::stream::stats::SourceStats;
use crate::task::metrics::record_read;
use crate::units::Count;

/// Records parsed per batch when the source is not chunked.
const DEFAULT_BATCH: usize = 512;

/// The most rows a reader batch holds, whatever the chunk size.
const MAX_BATCH: usize = 1 << 16;

/// How long the consuming task keeps re-polling (yielding to the runtime between polls)
/// for the reader's next batch before it registers its waker and sleeps.
///
/// When the reader is the slower side, the consumer drains each batch before the next
/// one is ready; if it slept, every batch would cost the reader a cross-thread wake-up
/// (a system call and an inter-processor interrupt, several microseconds on a virtual
/// machine: about 15% of the raw reading time). A reader that is not that close behind
/// (slow disk, end of file) costs at most this much busy time per batch. Each re-poll
/// first yields the thread to the OS, so a reader sharing the consumer's core (a busy
/// machine) runs instead of waiting for the spin to end.
const SPIN: Duration = Duration::from_micros(100);

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
    path: PathBuf,
    name: Arc<str>,
    delimiter: u8,
    quote: u8,
    has_headers: bool,
    flexible: bool,
    convert: Mode<R>,
}

impl<R> CsvFile<R> {
    fn new(path: &Path, convert: Mode<R>) -> Self {
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

    /// Emits chunks of `size` records ([`Chunk<R>`](super::Chunk) events, each row with its position) instead of single records; the
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
        // Batches never hold more rows than the task's buffer allows (unless chunked), and
        // never more than MAX_BATCH: a chunk size of `1 << 40` is read in batches that
        // size, not reserved up front.
        let batch_rows = ctx
            .batch_hint
            .map_or(DEFAULT_BATCH.min(ctx.capacity.get()), NonZeroUsize::get)
            .min(MAX_BATCH);
        CsvSource {
            name: self.name.clone(),
            mode: self.convert,
            input: Input::NotStarted(Box::new(self)),
            batch_rows,
            batches: ctx.capacity.get().div_ceil(batch_rows).clamp(2, 64),
            current: None,
            next_record: 0,
            next_failure: 0,
            headers: None,
            last_received: false,
            spare: None,
            shared: None,
            spin_until: None,
            stats: ctx.stats.clone(),
        }
    }
}

/// A raw CSV record: its fields' bytes, shared with the other records parsed in the same
/// batch (one reference-count increment per record, no allocation and no copy).
///
/// Made by [`csv_records`]. Holding a record keeps its batch (a few hundred records)
/// alive; call [`to_byte_record`](RawRecord::to_byte_record) for an owned
/// [`ByteRecord`].
#[derive(Clone)]
pub struct RawRecord {
    batch: Arc<Vec<ByteRecord>>,
    index: usize,
}

impl RawRecord {
    /// The record as the `csv` crate parsed it (empty if it is somehow missing).
    fn record(&self) -> &ByteRecord {
        static EMPTY: std::sync::OnceLock<ByteRecord> = std::sync::OnceLock::new();
        self.batch
            .get(self.index)
            .unwrap_or_else(|| EMPTY.get_or_init(ByteRecord::new))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.record().len()
    }

    /// `true` when the record has no field.
    pub fn is_empty(&self) -> bool {
        self.record().is_empty()
    }

    /// Field `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.record().get(i)
    }

    /// The fields, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.record().iter()
    }

    /// All field bytes back to back (without delimiters or quotes).
    pub fn as_slice(&self) -> &[u8] {
        self.record().as_slice()
    }

    /// An owned copy as a [`ByteRecord`].
    pub fn to_byte_record(&self) -> ByteRecord {
        self.record().clone()
    }

    /// Deserializes the record into `T`, by header name when `headers` are given.
    ///
    /// # Errors
    ///
    /// The `csv` crate's error when the record does not fit `T`.
    pub fn deserialize<T: DeserializeOwned>(
        &self,
        headers: Option<&ByteRecord>,
    ) -> Result<T, csv::Error> {
        self.record().deserialize(headers)
    }
}

impl fmt::Debug for RawRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|b| String::from_utf8_lossy(b)))
            .finish()
    }
}

impl PartialEq for RawRecord {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for RawRecord {}

/// How records become output values.
enum Mode<R> {
    /// Deserialized as soon as the record is parsed (from a UTF-8 checked record, as
    /// `csv::Reader::deserialize` does).
    Typed(fn(&StringRecord, Option<&StringRecord>) -> Result<R, csv::Error>),
    /// Raw records sharing their batch's parsed records (the function turns a record
    /// into an `R`: the identity).
    Raw(fn(RawRecord) -> R),
}

impl<R> Clone for Mode<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for Mode<R> {}

fn deserialize_record<R: DeserializeOwned>(
    record: &StringRecord,
    headers: Option<&StringRecord>,
) -> Result<R, csv::Error> {
    record.deserialize(headers)
}

/// A failed row of a batch: it comes after the batch's first `after` records.
struct Failure {
    after: usize,
    /// Taken (`None`) once yielded.
    error: Option<Box<Located<SourceError>>>,
}

/// One message of the reader thread: up to `rows` parsed rows.
///
/// The reader notes each record's position while the record is hot in its cache: the
/// consuming thread then reads the positions front to back (16 bytes a row, prefetched)
/// and, for raw records, never touches a record's heap parts, which live in the reader
/// core's cache. Failed rows (rare) are kept apart, so the positions stay plain data.
///
/// Batches travel back to the reader once drained, with their records, so the record
/// buffers are allocated once by the reader thread and reused: values are built (and
/// dropped) on the consuming thread, and no memory is freed on a thread other than the
/// one that allocated it on the hot path.
struct Batch {
    records: Vec<ByteRecord>,
    /// Where each record of `records` starts.
    positions: Vec<Position>,
    /// The failed rows, in order.
    failures: Vec<Failure>,
    headers: Option<ByteRecord>,
    bytes_read: u64,
    read_time: Duration,
    last: bool,
}

impl Batch {
    /// Rows in the batch: records and failed rows.
    fn rows(&self) -> usize {
        self.positions.len() + self.failures.len()
    }

    fn fail(&mut self, error: Located<SourceError>) {
        self.failures.push(Failure {
            after: self.positions.len(),
            error: Some(Box::new(error)),
        });
    }

    fn new(rows: usize) -> Self {
        Batch {
            records: Vec::with_capacity(rows),
            positions: Vec::with_capacity(rows),
            failures: Vec::new(),
            headers: None,
            bytes_read: 0,
            read_time: Duration::ZERO,
            last: false,
        }
    }
}

enum Input<R> {
    NotStarted(Box<CsvFile<R>>),
    Reading {
        rx: mpsc::Receiver<Batch>,
        recycle: std::sync::mpsc::Sender<Batch>,
    },
    Done,
}

/// The stream of a [`CsvFile`] source.
///
/// A thread of tokio's blocking pool runs the `csv` crate's reader over the file and
/// sends batches of parsed rows through a bounded channel; the values are built from
/// them on the thread that polls the stream, and the drained batches go back to the
/// reader for reuse.
#[must_use = "streams do nothing unless polled"]
pub struct CsvSource<R> {
    input: Input<R>,
    name: Arc<str>,
    mode: Mode<R>,
    batch_rows: usize,
    batches: usize,
    current: Option<Batch>,
    // The next record and the next failed row of the batch in hand.
    next_record: usize,
    next_failure: usize,
    headers: Option<StringRecord>,
    last_received: bool,
    // A record swapped in while a parsed one is being converted.
    spare: Option<ByteRecord>,
    // Raw mode: the records of the current batch, shared by its raw records.
    shared: Option<Arc<Vec<ByteRecord>>>,
    // While the channel is empty: until when to yield and re-poll rather than sleep.
    spin_until: Option<Instant>,
    stats: SourceStats,
}

impl<R> Unpin for CsvSource<R> {}

impl<R> CsvSource<R> {
    /// Rows of the batch in hand not yet yielded.
    fn in_hand(&self) -> usize {
        self.current.as_ref().map_or(0, |b| {
            b.rows()
                .saturating_sub(self.next_record + self.next_failure)
        })
    }

    /// The next item of the batch in hand, if any.
    #[inline]
    fn next_in_batch(&mut self) -> Option<SourceItem<R>> {
        let batch = self.current.as_mut()?;
        if let Some(failure) = batch.failures.get_mut(self.next_failure) {
            if failure.after == self.next_record {
                self.next_failure += 1;
                return failure.error.take().map(|e| Err(*e));
            }
        }
        let index = self.next_record;
        let position = *batch.positions.get(index)?;
        self.next_record += 1;
        let convert = match self.mode {
            Mode::Typed(convert) => convert,
            Mode::Raw(make) => {
                let shared = self.shared.as_ref()?;
                return Some(Ok(Located {
                    value: make(RawRecord {
                        batch: shared.clone(),
                        index,
                    }),
                    position: Some(position),
                    batch: None,
                    acks: Acks::none(),
                }));
            }
        };
        let slot = batch.records.get_mut(index)?;
        // Swap the record out with a spare one (allocated once), so no record is
        // allocated or freed here.
        let spare = self.spare.take().unwrap_or_default();
        let record = std::mem::replace(slot, spare);
        // The record's index among all rows read: csv's own (its line and byte are not
        // used: `position` is the record's true start, see `Tap`).
        let at = (position, record.position().map_or(0, csv::Position::record));
        // One UTF-8 check per record, then fields are `&str`s: as `csv::Reader::deserialize`.
        let item = match StringRecord::from_byte_record(record) {
            Ok(text) => {
                let value = convert(&text, self.headers.as_ref());
                self.spare = Some(std::mem::replace(slot, text.into_byte_record()));
                match value {
                    Ok(v) => Ok(Located {
                        value: v,
                        position: Some(position),
                        batch: None,
                        acks: Acks::none(),
                    }),
                    Err(e) => Err(csv_error(&self.name, e, Some(at))),
                }
            }
            Err(e) => {
                let message = format!("invalid UTF-8: {}", e.utf8_error());
                self.spare = Some(std::mem::replace(slot, e.into_byte_record()));
                Err(row_error(&self.name, at, message))
            }
        };
        Some(item)
    }

    /// Takes a new batch from the reader.
    fn take_batch(&mut self, mut batch: Batch) {
        if let Some(h) = batch.headers.take() {
            self.headers = StringRecord::from_byte_record(h).ok();
        }
        self.last_received = batch.last;
        self.next_record = 0;
        self.next_failure = 0;
        let mut old = self.current.take();
        if let Mode::Raw(_) = self.mode {
            // Raw records share the parsed records: no copy of their bytes.
            let records = std::mem::take(&mut batch.records);
            let previous = self.shared.replace(Arc::new(records));
            // The previous records go back too when no raw record holds them any more.
            if let (Some(previous), Some(old)) = (previous, old.as_mut()) {
                if let Ok(records) = Arc::try_unwrap(previous) {
                    old.records = records;
                }
            }
        }
        // The drained batch goes back to the reader with its record buffers.
        if let (Some(old), Input::Reading { recycle, .. }) = (old, &self.input) {
            let _ = recycle.send(old);
        }
        self.current = Some(batch);
    }
}

impl<R: Send + 'static> Stream for CsvSource<R> {
    type Item = SourceItem<R>;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // The batch in hand first (every item but one per batch), inline.
        if let Some(item) = self.next_in_batch() {
            return Poll::Ready(Some(item));
        }
        self.poll_batch(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.in_hand();
        if self.last_received || matches!(self.input, Input::Done) {
            (n, Some(n))
        } else {
            (n, None)
        }
    }
}

impl<R: Send + 'static> CsvSource<R> {
    /// `poll_next` once the batch in hand is spent: starts the reader or takes the next
    /// batch.
    #[inline(never)]
    fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<Option<SourceItem<R>>> {
        let this = self;
        loop {
            if let Some(item) = this.next_in_batch() {
                return Poll::Ready(Some(item));
            }
            match &mut this.input {
                Input::Done => {
                    this.current = None;
                    return Poll::Ready(None);
                }
                Input::NotStarted(_) => {
                    let Ok(handle) = Handle::try_current() else {
                        this.input = Input::Done;
                        return Poll::Ready(Some(Err(Located::bare(SourceError::NoRuntime))));
                    };
                    let Input::NotStarted(file) = std::mem::replace(&mut this.input, Input::Done)
                    else {
                        continue;
                    };
                    let (tx, rx) = mpsc::channel(this.batches);
                    let (recycle, reuse) = std::sync::mpsc::channel();
                    let rows = this.batch_rows;
                    // Detached on purpose: the reader stops at its next send once `rx`
                    // (owned by this stream) is dropped.
                    drop(handle.spawn_blocking(move || read_all(*file, rows, &tx, &reuse)));
                    this.input = Input::Reading { rx, recycle };
                }
                Input::Reading { rx, .. } => match rx.poll_recv(cx) {
                    Poll::Ready(Some(batch)) => {
                        this.spin_until = None;
                        record_read(batch.bytes_read, batch.read_time);
                        this.stats.add_bytes(batch.bytes_read);
                        this.take_batch(batch);
                    }
                    Poll::Ready(None) => this.input = Input::Done,
                    Poll::Pending => {
                        // Yield and poll again for a while before sleeping (see `SPIN`).
                        let now = Instant::now();
                        if now < *this.spin_until.get_or_insert(now + SPIN) {
                            std::thread::yield_now();
                            cx.waker().wake_by_ref();
                        } else {
                            this.spin_until = None;
                        }
                        return Poll::Pending;
                    }
                },
            }
        }
    }
}

impl<R: Send + 'static> FusedStream for CsvSource<R> {
    fn is_terminated(&self) -> bool {
        matches!(self.input, Input::Done) && self.in_hand() == 0
    }
}

impl<R> fmt::Debug for CsvSource<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let input = match self.input {
            Input::NotStarted(_) => "not started",
            Input::Reading { .. } => "reading",
            Input::Done => "done",
        };
        f.debug_struct("CsvSource")
            .field("file", &self.name)
            .field("input", &input)
            .field("batch_rows", &self.batch_rows)
            .field("batches_ahead", &self.batches)
            .field("in_hand", &self.in_hand())
            .finish()
    }
}

/// The reader thread: parses the whole file, a batch at a time, until the end, a fatal
/// error, or the stream is gone.
fn read_all<R>(
    file: CsvFile<R>,
    rows: usize,
    tx: &mpsc::Sender<Batch>,
    reuse: &std::sync::mpsc::Receiver<Batch>,
) {
    let name = file.name.clone();
    let started = Instant::now();
    let mut batch = Batch::new(rows);
    let reader = match std::fs::File::open(&file.path) {
        Ok(f) => f,
        Err(error) => {
            let err = Located::bare(SourceError::Io { file: name, error });
            batch.fail(err);
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
        .from_reader(Tap::new(reader));
    if file.has_headers {
        match rdr.byte_headers() {
            Ok(h) => batch.headers = Some(h.clone()),
            Err(e) => {
                let fatal = e.is_io_error();
                batch.fail(csv_error(&name, e, None));
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
    let mut used = 0; // records of `batch.records` in use
    let mut width = (64, 8); // bytes and fields of the last record read
    let mut sent_bytes = 0u64;
    let mut batch_started = Instant::now();
    loop {
        if used == batch.records.len() {
            // Sized like the last row read, so new records do not grow field by field.
            let record = ByteRecord::with_capacity(2 * width.0, width.1 + 1);
            batch.records.push(record);
        }
        let Some(record) = batch.records.get_mut(used) else {
            return;
        };
        let (last, fatal) = match rdr.read_byte_record(record) {
            Ok(true) => {
                width = (record.as_slice().len(), record.len());
                let position = record
                    .position()
                    .map_or(Position::new(0, 0), |p| rdr.get_ref().start(p));
                batch.positions.push(position);
                used += 1;
                (false, false)
            }
            Ok(false) => (true, false),
            Err(e) => {
                let fatal = e.is_io_error();
                let at = e.position().map(|p| (rdr.get_ref().start(p), p.record()));
                batch.fail(csv_error(&name, e, at));
                (fatal, fatal)
            }
        };
        if last || batch.rows() >= rows {
            let bytes = rdr.position().byte();
            // The next record starts at or after `bytes`: what came before is not needed.
            rdr.get_mut().forget_before(bytes);
            batch.records.truncate(used);
            batch.bytes_read = bytes.saturating_sub(sent_bytes);
            batch.read_time = batch_started.elapsed();
            batch.last = last;
            sent_bytes = bytes;
            let next = match reuse.try_recv() {
                Ok(mut old) => {
                    old.positions.clear();
                    old.failures.clear();
                    old.headers = None;
                    old
                }
                Err(_) => Batch::new(rows),
            };
            let full = std::mem::replace(&mut batch, next);
            used = 0;
            if tx.blocking_send(full).is_err() || last || fatal {
                return;
            }
            batch_started = Instant::now();
        }
    }
}

/// Bytes a [`Tap`] keeps before it drops those no record needs any more: at most this
/// plus the reader's read-ahead and the current batch are held.
const FORGET_AT: usize = 1 << 20;

/// The file as the `csv` reader reads it, with the bytes since the last batch kept, so
/// that a record's true start can be found.
///
/// The `csv` crate places a record where the previous one's terminator ended: on the
/// `\n` of a CRLF, or on the first of the blank lines it skips, so its line and byte
/// are off for CRLF files and after blank lines (and after a quoted field spanning lines
/// in a CRLF file). Its line and byte agree with each other, though: the true start is
/// past the `\r` and `\n` bytes that follow, one line further per `\n`.
struct Tap {
    file: std::fs::File,
    /// The bytes read from `base` on.
    kept: Vec<u8>,
    base: u64,
}

impl Tap {
    fn new(file: std::fs::File) -> Self {
        Tap {
            file,
            kept: Vec::new(),
            base: 0,
        }
    }

    /// Where the record `csv` placed at `p` really starts.
    #[inline]
    fn start(&self, p: &csv::Position) -> Position {
        let rest = usize::try_from(p.byte().saturating_sub(self.base))
            .ok()
            .and_then(|at| self.kept.get(at..))
            .unwrap_or_default();
        match rest.first() {
            Some(b'\r' | b'\n') => {}
            _ => return Position::new(p.line(), p.byte()),
        }
        let skipped = rest.iter().take_while(|b| matches!(b, b'\r' | b'\n'));
        let (mut line, mut byte) = (p.line(), p.byte());
        for b in skipped {
            byte += 1;
            if *b == b'\n' {
                line += 1;
            }
        }
        Position::new(line, byte)
    }

    /// Drops the bytes before `byte` once they add up to [`FORGET_AT`], so that only a
    /// short tail (the reader's read-ahead) is moved, rarely.
    fn forget_before(&mut self, byte: u64) {
        let n = usize::try_from(byte.saturating_sub(self.base))
            .unwrap_or(usize::MAX)
            .min(self.kept.len());
        if n >= FORGET_AT {
            self.kept.drain(..n);
            self.base += n as u64;
        }
    }
}

impl std::io::Read for Tap {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.kept
            .extend_from_slice(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// A per-row CSV error at `at` (the row's true start and its record index).
fn row_error(name: &Arc<str>, at: (Position, u64), message: String) -> Located<SourceError> {
    let (position, record) = at;
    Located {
        value: SourceError::Csv {
            file: name.clone(),
            line: position.line(),
            byte: position.byte(),
            record,
            message,
        },
        position: Some(position),
        batch: None,
        acks: Acks::none(),
    }
}

/// A `csv::Error` as a located per-row (or, for I/O, fatal) error naming the file. The
/// message leaves out the reader's own position: the error states the true one, once.
fn csv_error(name: &Arc<str>, e: csv::Error, at: Option<(Position, u64)>) -> Located<SourceError> {
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("found a record with {len} fields, but the previous record has {expected_len}")
        }
        csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
        csv::ErrorKind::Utf8 { err, .. } => format!("invalid UTF-8: {err}"),
        _ => e.to_string(),
    };
    match e.into_kind() {
        csv::ErrorKind::Io(error) => Located::bare(SourceError::Io {
            file: name.clone(),
            error,
        }),
        _ => row_error(name, at.unwrap_or((Position::new(0, 0), 0)), message),
    }
}
