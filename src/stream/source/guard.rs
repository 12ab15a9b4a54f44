//! The CSV reader thread's guard on its file: [`Guarded`] turns an end of file before the
//! length the file had when it was opened into an I/O error (a reader must never take the
//! fragment of a record cut by a truncation for the last record), and stops a record that
//! grows past the length limit before the parser has buffered all of it; [`skip_record`]
//! then moves the parser past that record so reading goes on.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use csv::ByteRecord;

use super::Located;
use crate::stream::error::SourceError;
use crate::stream::event::Position;

/// What the parser may have buffered beyond what it parsed (its buffer capacity): a
/// record is over the limit once the parser asks for more than `limit + SLACK` bytes
/// after its start.
pub(crate) const SLACK: u64 = 64 * 1024;

/// A file reader that knows how long its file was when it was opened, and where the
/// record being parsed started.
#[derive(Debug)]
pub(crate) struct Guarded<R> {
    inner: R,
    read: u64,
    len_at_open: Option<u64>,
    limit: u64,
    /// Where the record being parsed starts (byte, line, record number).
    record_start: csv::Position,
}

impl Guarded<std::fs::File> {
    /// Guards `file` (its length is checked if it is a regular file: pipes and devices
    /// have none), with records of at most `limit` bytes.
    pub(crate) fn file(file: std::fs::File, limit: usize) -> Self {
        let len_at_open = file
            .metadata()
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len());
        Guarded {
            inner: file,
            read: 0,
            len_at_open,
            limit: limit as u64,
            record_start: csv::Position::new(),
        }
    }
}

impl<R> Guarded<R> {
    /// The parser finished a record: the next one starts at `at`.
    #[inline]
    pub(crate) fn record_started(&mut self, at: &csv::Position) {
        self.record_start.clone_from(at);
    }
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let in_record = self.read.saturating_sub(self.record_start.byte());
        if in_record > self.limit.saturating_add(SLACK) {
            // The parser consumed all it had and the record still goes on.
            return Err(io::Error::other(TooLong));
        }
        let n = self.inner.read(buf)?;
        self.read = self.read.saturating_add(n as u64);
        if n == 0 && !buf.is_empty() {
            if let Some(len_at_open) = self.len_at_open.filter(|len| self.read < *len) {
                let shrunk = Shrunk {
                    read: self.read,
                    len_at_open,
                };
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, shrunk));
            }
        }
        Ok(n)
    }
}

impl<R: Seek> Seek for Guarded<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let at = self.inner.seek(pos)?;
        self.read = at;
        Ok(at)
    }
}

/// The error [`Guarded`] reads when a record grows past the limit.
#[derive(Debug)]
struct TooLong;

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("record longer than the limit")
    }
}

impl std::error::Error for TooLong {}

/// `true` for the error of a record that grew past the limit.
pub(crate) fn is_too_long(error: &csv::Error) -> bool {
    match error.kind() {
        csv::ErrorKind::Io(e) => e.get_ref().is_some_and(|e| e.is::<TooLong>()),
        _ => false,
    }
}

/// The error for a record longer than `limit` bytes starting at `at`.
pub(crate) fn too_long(file: &Arc<str>, at: &csv::Position, limit: usize) -> Located<SourceError> {
    let position = Position::new(at.line(), at.byte());
    let err = SourceError::TooLong {
        file: Arc::clone(file),
        line: at.line(),
        byte: at.byte(),
        limit,
    };
    Located::at(err, position)
}

/// A record just parsed that is longer than `limit` (between the limit and what the
/// guard lets through): its error.
#[inline]
pub(crate) fn check_len(
    record: &ByteRecord,
    file: &Arc<str>,
    limit: usize,
) -> Option<Located<SourceError>> {
    if record.as_slice().len() <= limit {
        return None;
    }
    let at = record
        .position()
        .cloned()
        .unwrap_or_else(csv::Position::new);
    Some(too_long(file, &at, limit))
}

/// After the guard stopped a record too long: moves the parser to
/// the line after the one the guard stopped in, with the line and record numbers right,
/// and returns the record's error. Quotes are not followed while skipping: a quoted field
/// with line breaks past the limit resumes at the first line break after it.
///
/// # Errors
///
/// An I/O error of the file (fatal).
pub(crate) fn skip_record(
    rdr: &mut csv::Reader<Guarded<std::fs::File>>,
    file: &Arc<str>,
    limit: usize,
) -> Result<Located<SourceError>, Located<SourceError>> {
    let start = rdr.get_ref().record_start.clone();
    let io_error = |error: io::Error| {
        Located::at(
            SourceError::Io {
                file: Arc::clone(file),
                error,
            },
            Position::new(start.line(), start.byte()),
        )
    };
    let guard = rdr.get_mut();
    let next = guard.next_line().map_err(io_error)?;
    let lines = guard.lines_between(start.byte(), next).map_err(io_error)?;
    let mut at = csv::Position::new();
    at.set_byte(next)
        .set_line(start.line().saturating_add(lines))
        .set_record(start.record().saturating_add(1));
    guard.record_started(&at);
    rdr.seek_raw(SeekFrom::Start(next), at)
        .map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(error) => io_error(error),
            other => io_error(io::Error::other(format!("{other:?}"))),
        })?;
    Ok(too_long(file, &start, limit))
}

impl<R: Read + Seek> Guarded<R> {
    /// The byte after the next line break from where the file was read to (or the end
    /// of the file).
    fn next_line(&mut self) -> io::Result<u64> {
        let mut buf = vec![0u8; SLACK as usize];
        loop {
            let n = self.inner.read(&mut buf)?;
            let Some(chunk) = buf.get(..n) else {
                return Ok(self.read);
            };
            if n == 0 {
                return Ok(self.read);
            }
            if let Some(i) = memchr::memchr(b'\n', chunk) {
                return Ok(self.read.saturating_add(i as u64).saturating_add(1));
            }
            self.read = self.read.saturating_add(n as u64);
        }
    }

    /// Line breaks in `from..to` (read again: the parser has dropped them).
    fn lines_between(&mut self, from: u64, to: u64) -> io::Result<u64> {
        self.inner.seek(SeekFrom::Start(from))?;
        let mut left = to.saturating_sub(from);
        let mut lines = 0u64;
        let mut buf = vec![0u8; SLACK as usize];
        while left > 0 {
            let want = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
            let Some(slot) = buf.get_mut(..want) else {
                break;
            };
            let n = self.inner.read(slot)?;
            if n == 0 {
                break;
            }
            let chunk = slot.get(..n).unwrap_or_default();
            lines = lines.saturating_add(memchr::memchr_iter(b'\n', chunk).count() as u64);
            left = left.saturating_sub(n as u64);
        }
        Ok(lines)
    }
}

/// The error [`Guarded`] reads at an early end of file.
#[derive(Debug)]
pub(crate) struct Shrunk {
    /// Bytes read when the file ended.
    pub(crate) read: u64,
    /// The file's length when it was opened.
    pub(crate) len_at_open: u64,
}

impl fmt::Display for Shrunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the file ended after {} bytes, it had {} when opened",
            self.read, self.len_at_open
        )
    }
}

impl std::error::Error for Shrunk {}

/// The truncation an I/O error of a [`Guarded`] reader reports, if it is one.
pub(crate) fn shrunk(error: &io::Error) -> Option<&Shrunk> {
    error.get_ref()?.downcast_ref::<Shrunk>()
}
