//! The stream of a CSV source ([`CsvSource`]): starts the reader thread on its first
//! poll, then builds values from the batches it sends, on the polling thread.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use csv::{ByteRecord, StringRecord};
use futures::Stream;
use futures::stream::FusedStream;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinHandle};

use super::batch::Batch;
use super::reader::{ReaderSettings, read_all};
use super::record::{Mode, RawRecord};
use super::row_error::{csv_error, row_error};
use crate::ack::Acks;
use crate::error::panic_message;
use crate::stream::error::SourceError;
use crate::stream::source::{Located, SourceItem};
use crate::stream::stats::SourceStats;
use crate::task::metrics::record_read;

/// Where the stream is with its reader thread.
enum Input {
    NotStarted(Box<ReaderSettings>),
    Reading {
        rx: mpsc::Receiver<Batch>,
        recycle: std::sync::mpsc::Sender<Batch>,
        reader: JoinHandle<()>,
    },
    /// The channel closed before the last batch: waiting for the reader's fate.
    Lost(JoinHandle<()>),
    Done,
}

/// The stream of a [`CsvFile`](super::CsvFile) source.
///
/// A thread of tokio's blocking pool runs the `csv` crate's reader over the file and
/// sends batches of parsed rows through a bounded channel; the values are built from
/// them on the thread that polls the stream, and the drained batches go back to the
/// reader for reuse.
#[must_use = "streams do nothing unless polled"]
pub struct CsvSource<R> {
    input: Input,
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
    stats: SourceStats,
}

impl<R> Unpin for CsvSource<R> {}

impl<R> CsvSource<R> {
    /// A source that reads `file` with `rows` rows a batch, at most `batches` batches
    /// ahead of the consumer.
    pub(super) fn new(
        file: ReaderSettings,
        mode: Mode<R>,
        rows: usize,
        batches: usize,
        stats: SourceStats,
    ) -> Self {
        CsvSource {
            name: file.name.clone(),
            mode,
            input: Input::NotStarted(Box::new(file)),
            batch_rows: rows,
            batches,
            current: None,
            next_record: 0,
            next_failure: 0,
            headers: None,
            last_received: false,
            spare: None,
            shared: None,
            stats,
        }
    }

    /// Rows of the batch in hand not yet yielded.
    fn in_hand(&self) -> usize {
        self.current.as_ref().map_or(0, |b| {
            b.rows()
                .saturating_sub(self.next_record.saturating_add(self.next_failure))
        })
    }

    /// The next item of the batch in hand, if any.
    #[inline]
    fn next_in_batch(&mut self) -> Option<SourceItem<R>> {
        let batch = self.current.as_mut()?;
        if let Some(failure) = batch.failures.get_mut(self.next_failure) {
            if failure.after == self.next_record {
                self.next_failure = self.next_failure.saturating_add(1);
                return failure.error.take().map(|e| Err(*e));
            }
        }
        let index = self.next_record;
        let position = *batch.positions.get(index)?;
        self.next_record = index.saturating_add(1);
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
                    // The reader stops at its next send once `rx` (owned by this stream)
                    // is dropped; its handle tells a panic from the end of the file.
                    let reader = handle.spawn_blocking(move || read_all(*file, rows, &tx, &reuse));
                    this.input = Input::Reading {
                        rx,
                        recycle,
                        reader,
                    };
                }
                Input::Lost(reader) => {
                    let Poll::Ready(joined) = Pin::new(reader).poll(cx) else {
                        return Poll::Pending;
                    };
                    this.input = Input::Done;
                    let reason = lost_reason(joined);
                    let file = Arc::clone(&this.name);
                    let err = SourceError::ReaderLost { file, reason };
                    return Poll::Ready(Some(Err(Located::bare(err))));
                }
                Input::Reading { rx, .. } => match rx.poll_recv(cx) {
                    Poll::Ready(Some(batch)) => {
                        record_read(batch.bytes_read, batch.read_time);
                        this.stats.add_bytes(batch.bytes_read);
                        this.take_batch(batch);
                    }
                    Poll::Ready(None) => {
                        let done = std::mem::replace(&mut this.input, Input::Done);
                        if let (false, Input::Reading { reader, .. }) = (this.last_received, done) {
                            // The reader always ends with a last batch: it died.
                            this.input = Input::Lost(reader);
                        }
                    }
                    // The reader wakes this task when it sends the next batch.
                    Poll::Pending => return Poll::Pending,
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
            Input::Lost(_) => "reader lost",
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

/// Why the reader thread ended without its last batch, from its join result.
fn lost_reason(joined: Result<(), JoinError>) -> String {
    match joined.map_err(JoinError::try_into_panic) {
        Err(Ok(payload)) => format!("it panicked: {}", panic_message(&*payload)),
        Err(Err(_)) => "the runtime stopped it".to_owned(),
        Ok(()) => "it stopped without a last batch".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use futures::StreamExt;

    use super::*;
    use crate::units::Count;

    /// A source whose reader thread is `reader` (sending on `tx`), as if started.
    fn reading(reader: impl FnOnce(mpsc::Sender<Batch>) + Send + 'static) -> CsvSource<RawRecord> {
        let settings = ReaderSettings {
            path: PathBuf::from("rows.csv"),
            name: Arc::from("rows.csv"),
            delimiter: b',',
            quote: b'"',
            has_headers: false,
            flexible: false,
            max_record: Count::new(1 << 20, "bytes"),
        };
        let mut source = CsvSource::new(
            settings,
            Mode::Raw(std::convert::identity),
            4,
            2,
            SourceStats::default(),
        );
        let (tx, rx) = mpsc::channel(2);
        let (recycle, _) = std::sync::mpsc::channel();
        let reader = tokio::task::spawn_blocking(move || reader(tx));
        source.input = Input::Reading {
            rx,
            recycle,
            reader,
        };
        source
    }

    #[tokio::test]
    async fn a_reader_thread_that_panics_ends_the_stream_with_a_typed_error() {
        let items: Vec<_> = reading(|tx| {
            let mut batch = Batch::new(1);
            batch.records.push(ByteRecord::from(vec!["a"]));
            batch
                .positions
                .push(crate::stream::event::Position::new(1, 0));
            let _ = tx.blocking_send(batch); // one row, not the last batch
            panic!("injected reader panic");
        })
        .collect()
        .await;
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0].as_ref().unwrap().value.get(0),
            Some(&b"a"[..]),
            "the rows read before are intact"
        );
        let err = items[1].as_ref().unwrap_err();
        assert!(err.value.is_fatal());
        match &err.value {
            SourceError::ReaderLost { file, reason } => {
                assert_eq!(&**file, "rows.csv");
                assert_eq!(reason, "it panicked: injected reader panic");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_reader_thread_that_stops_without_its_last_batch_is_named() {
        let items: Vec<_> = reading(drop).collect().await;
        assert_eq!(items.len(), 1);
        assert!(matches!(
            &items[0].as_ref().unwrap_err().value,
            SourceError::ReaderLost { reason, .. } if reason == "it stopped without a last batch"
        ));
    }
}
