//! What the reader thread sends: a batch of parsed rows with their positions and the
//! rows that failed, reused once drained.

use std::time::Duration;

use csv::ByteRecord;

use crate::stream::error::SourceError;
use crate::stream::event::Position;
use crate::stream::source::Located;

/// A failed row of a batch: it comes after the batch's first `after` records.
pub(super) struct Failure {
    pub(super) after: usize,
    /// Taken (`None`) once yielded.
    pub(super) error: Option<Box<Located<SourceError>>>,
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
pub(super) struct Batch {
    pub(super) records: Vec<ByteRecord>,
    /// Where each record of `records` starts.
    pub(super) positions: Vec<Position>,
    /// The failed rows, in order.
    pub(super) failures: Vec<Failure>,
    pub(super) headers: Option<ByteRecord>,
    pub(super) bytes_read: u64,
    pub(super) read_time: Duration,
    pub(super) last: bool,
}

impl Batch {
    /// Rows in the batch: records and failed rows.
    pub(super) fn rows(&self) -> usize {
        self.positions.len().saturating_add(self.failures.len())
    }

    pub(super) fn fail(&mut self, error: Located<SourceError>) {
        self.failures.push(Failure {
            after: self.positions.len(),
            error: Some(Box::new(error)),
        });
    }

    pub(super) fn new(rows: usize) -> Self {
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

    /// A drained batch made ready for new rows; records that held a row longer than
    /// `keep` bytes are dropped, so one huge row does not pin its memory.
    pub(super) fn reuse(mut self, keep: usize) -> Self {
        self.records.retain(|r| r.as_slice().len() <= keep);
        self.positions.clear();
        self.failures.clear();
        self.headers = None;
        self
    }
}
