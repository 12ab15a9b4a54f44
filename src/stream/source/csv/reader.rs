//! The reader thread: the `csv` crate's parser over the file, a batch of rows at a time,
//! on tokio's blocking pool.

use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use csv::ByteRecord;
use tokio::sync::mpsc;

use super::batch::Batch;
use super::row_error::{RowAt, csv_error, io_error, too_long};
use super::tap::{self, READ_AHEAD, Tap};
use crate::stream::event::Position;
use crate::units::Count;

/// The most bytes a new record reserves up front, and the largest record whose buffer is
/// reused for later rows: one huge row does not make later rows reserve its size.
const PREALLOC: usize = READ_AHEAD;

/// What the reader thread needs to know: the file and how to parse it.
#[derive(Debug, Clone)]
pub(super) struct ReaderSettings {
    pub(super) path: PathBuf,
    pub(super) name: Arc<str>,
    pub(super) delimiter: u8,
    pub(super) quote: u8,
    pub(super) has_headers: bool,
    pub(super) flexible: bool,
    /// The longest record, in bytes of its fields.
    pub(super) max_record: Count,
}

/// Parses the whole file, a batch of `rows` rows at a time, until the end, a fatal error,
/// or the stream is gone (`tx` closed). Drained batches come back through `reuse`.
pub(super) fn read_all(
    file: ReaderSettings,
    rows: usize,
    tx: &mpsc::Sender<Batch>,
    reuse: &std::sync::mpsc::Receiver<Batch>,
) {
    let name = file.name.clone();
    let limit = file.max_record.get();
    let started = Instant::now();
    let mut batch = Batch::new(rows);
    let reader = match std::fs::File::open(&file.path) {
        Ok(f) => Tap::new(f, limit),
        Err(error) => {
            batch.fail(io_error(&name, error, None));
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
        .buffer_capacity(READ_AHEAD)
        .from_reader(reader);
    if file.has_headers {
        match rdr.byte_headers() {
            Ok(h) => batch.headers = Some(h.clone()),
            Err(e) => {
                // Rows cannot be matched to a header row that could not be read whole.
                let stop = e.is_io_error();
                let at = Some((Position::new(1, 0), 0));
                batch.fail(if tap::is_too_long(&e) {
                    too_long(&name, Position::new(1, 0), limit)
                } else {
                    csv_error(&name, e, at)
                });
                if stop {
                    batch.bytes_read = rdr.position().byte();
                    batch.read_time = started.elapsed();
                    batch.last = true;
                    let _ = tx.blocking_send(batch);
                    return;
                }
            }
        }
        let next = rdr.position().byte();
        rdr.get_mut().record_ends(next);
    }
    let mut used = 0; // records of `batch.records` in use
    let mut width: (usize, usize) = (64, 8); // bytes and fields of the last record read
    let mut sent_bytes = 0u64;
    let mut batch_started = Instant::now();
    loop {
        if used == batch.records.len() {
            // Sized like the last row read, so new records do not grow field by field,
            // but never more than PREALLOC.
            let record = ByteRecord::with_capacity(
                width.0.saturating_mul(2).min(PREALLOC),
                width.1.saturating_add(1).min(PREALLOC / 8),
            );
            batch.records.push(record);
        }
        let Some(record) = batch.records.get_mut(used) else {
            return;
        };
        let (last, fatal) = match rdr.read_byte_record(record) {
            Ok(true) => {
                let start = row_at(&rdr, record.position());
                let next = rdr.position().byte();
                rdr.get_mut().record_ends(next);
                if record.as_slice().len() > limit {
                    *record = ByteRecord::new(); // its buffer is not reused
                    batch.fail(too_long(&name, start.0, limit));
                } else {
                    width = (record.as_slice().len(), record.len());
                    batch.positions.push(start.0);
                    used = used.saturating_add(1);
                }
                (false, false)
            }
            Ok(false) => (true, false),
            Err(e) if tap::is_too_long(&e) => {
                let at = record
                    .position()
                    .cloned()
                    .unwrap_or_else(csv::Position::new);
                let start = row_at(&rdr, Some(&at));
                *record = ByteRecord::new(); // its buffer is not reused
                match skip_record(&mut rdr, &at) {
                    Ok(()) => {
                        batch.fail(too_long(&name, start.0, limit));
                        (false, false)
                    }
                    Err(error) => {
                        batch.fail(io_error(&name, error, Some(start)));
                        (true, true)
                    }
                }
            }
            Err(e) => {
                let fatal = e.is_io_error();
                // An I/O error has no position of its own: the row being read.
                let at = row_at(&rdr, e.position().or(record.position()));
                batch.fail(csv_error(&name, e, Some(at)));
                // A malformed row was read through: the next one starts here.
                let next = rdr.position().byte();
                rdr.get_mut().record_ends(next);
                (fatal, fatal)
            }
        };
        if last || batch.rows() >= rows {
            let bytes = rdr.position().byte();
            batch.records.truncate(used);
            batch.bytes_read = bytes.saturating_sub(sent_bytes);
            batch.read_time = batch_started.elapsed();
            batch.last = last;
            sent_bytes = bytes;
            let next = match reuse.try_recv() {
                Ok(old) => old.reuse(PREALLOC),
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

/// The true start and record number of the row `csv` placed at `p`.
#[inline]
fn row_at(rdr: &csv::Reader<Tap>, p: Option<&csv::Position>) -> RowAt {
    p.map_or((Position::new(0, 0), 0), |p| {
        (rdr.get_ref().start(p), p.record())
    })
}

/// After the tap stopped the record `csv` placed at `at`: moves the parser to the line
/// after the one it stopped in, with csv's line and record numbers right.
fn skip_record(rdr: &mut csv::Reader<Tap>, at: &csv::Position) -> std::io::Result<()> {
    let (next, lines) = rdr.get_mut().next_line()?;
    let mut pos = csv::Position::new();
    pos.set_byte(next)
        .set_line(at.line().saturating_add(lines))
        .set_record(at.record().saturating_add(1));
    rdr.seek_raw(SeekFrom::Start(next), pos)
        .map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(error) => error,
            other => std::io::Error::other(format!("{other:?}")),
        })
}
