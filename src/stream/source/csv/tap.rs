//! The file as the CSV reader thread's parser reads it ([`Tap`]): it keeps the bytes of
//! the record being parsed so that the record's true start can be found, stops a record
//! that grows past the length limit before the parser holds all of it, and turns an end
//! of file before the length the file had when it was opened into an error, so the
//! fragment of a record cut by a truncation is never taken for the last record.

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};

use crate::stream::event::Position;

/// Bytes a [`Tap`] keeps before the record being parsed before it drops them: only a short
/// tail (the parser's read-ahead) is moved, rarely.
const FORGET_AT: usize = 1 << 20;

/// The parser's read-ahead (its buffer capacity). It asks for more bytes only once it has
/// parsed all it holds, so a record is known to span more than `limit + READ_AHEAD` bytes
/// when it asks for bytes that far past the record's start.
pub(super) const READ_AHEAD: usize = 64 * 1024;

/// The file as the `csv` reader reads it.
///
/// The `csv` crate places a record where the previous one's terminator ended: on the
/// `\n` of a CRLF, or on the first of the blank lines it skips, so its line and byte
/// are off for CRLF files and after blank lines (and after a quoted field spanning lines
/// in a CRLF file). Its line and byte agree with each other, though: the true start is
/// past the `\r` and `\n` bytes that follow, one line further per `\n`. The tap keeps the
/// bytes from the record being parsed on ([`record_ends`](Tap::record_ends) moves it).
#[derive(Debug)]
pub(super) struct Tap {
    file: File,
    /// The bytes read from `base` on.
    kept: Vec<u8>,
    base: u64,
    /// Bytes handed to the parser: the file offset of the next read.
    read: u64,
    /// The file's length when it was opened (regular files only: pipes have none).
    len_at_open: Option<u64>,
    /// Where the record being parsed starts, as `csv` places it.
    record_start: u64,
    /// How far past `record_start` the parser may ask for bytes: the length limit plus
    /// [`READ_AHEAD`].
    span: u64,
}

impl Tap {
    /// Taps `file` for records of at most `limit` bytes.
    pub(super) fn new(file: File, limit: usize) -> Self {
        let len_at_open = file
            .metadata()
            .ok()
            .filter(Metadata::is_file)
            .map(|m| m.len());
        let limit = u64::try_from(limit).unwrap_or(u64::MAX);
        Tap {
            file,
            kept: Vec::new(),
            base: 0,
            read: 0,
            len_at_open,
            record_start: 0,
            span: limit.saturating_add(READ_AHEAD as u64),
        }
    }

    /// The parser is done with a record (or a failed row): the next one starts at `byte`.
    #[inline]
    pub(super) fn record_ends(&mut self, byte: u64) {
        self.record_start = byte;
    }

    /// Where the record `csv` placed at `p` really starts.
    #[inline]
    pub(super) fn start(&self, p: &csv::Position) -> Position {
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
            // At most the bytes kept: far from u64::MAX.
            byte = byte.saturating_add(1);
            if *b == b'\n' {
                line = line.saturating_add(1);
            }
        }
        Position::new(line, byte)
    }

    /// After the tap stopped a record too long: the byte after the next line break from
    /// where the parser stopped (or the end of the file), and the line breaks from the
    /// record's start to there. Quotes are not followed: a quoted field with line breaks
    /// goes on at the first line break past the stop.
    ///
    /// # Errors
    ///
    /// An I/O error of the file.
    pub(super) fn next_line(&mut self) -> io::Result<(u64, u64)> {
        let from =
            usize::try_from(self.record_start.saturating_sub(self.base)).unwrap_or(usize::MAX);
        let seen = self.kept.get(from..).unwrap_or_default();
        let mut lines = memchr::memchr_iter(b'\n', seen).count() as u64;
        let mut at = self.read;
        let mut buf = vec![0u8; READ_AHEAD];
        loop {
            let n = self.file.read(&mut buf)?;
            let chunk = buf.get(..n).unwrap_or_default();
            if chunk.is_empty() {
                return Ok((at, lines));
            }
            if let Some(i) = memchr::memchr(b'\n', chunk) {
                lines = lines.saturating_add(1);
                return Ok((at.saturating_add(i as u64).saturating_add(1), lines));
            }
            at = at.saturating_add(n as u64);
        }
    }

    /// Drops the kept bytes before the record being parsed once they add up to
    /// [`FORGET_AT`].
    fn forget(&mut self) {
        let n = usize::try_from(self.record_start.saturating_sub(self.base))
            .unwrap_or(usize::MAX)
            .min(self.kept.len());
        if n >= FORGET_AT {
            self.kept.drain(..n);
            self.base = self.base.saturating_add(n as u64);
        }
    }
}

impl Read for Tap {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read.saturating_sub(self.record_start) > self.span {
            // The parser consumed all it had and the record still goes on.
            return Err(io::Error::other(TooLong));
        }
        let n = self.file.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if let Some(len_at_open) = self.len_at_open.filter(|len| self.read < *len) {
                let shrunk = Shrunk {
                    read: self.read,
                    len_at_open,
                };
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, shrunk));
            }
        }
        self.forget();
        self.kept
            .extend_from_slice(buf.get(..n).unwrap_or_default());
        self.read = self.read.saturating_add(n as u64);
        Ok(n)
    }
}

impl Seek for Tap {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let at = self.file.seek(pos)?;
        self.kept.clear();
        self.base = at;
        self.read = at;
        self.record_start = at;
        Ok(at)
    }
}

/// The error a [`Tap`] reads when a record grows past the limit.
#[derive(Debug)]
struct TooLong;

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("record longer than the limit")
    }
}

impl std::error::Error for TooLong {}

/// `true` for the error of a record that grew past the limit.
pub(super) fn is_too_long(error: &csv::Error) -> bool {
    match error.kind() {
        csv::ErrorKind::Io(e) => e.get_ref().is_some_and(|e| e.is::<TooLong>()),
        _ => false,
    }
}

/// The error a [`Tap`] reads at an early end of file.
#[derive(Debug)]
pub(super) struct Shrunk {
    /// Bytes read when the file ended.
    pub(super) read: u64,
    /// The file's length when it was opened.
    pub(super) len_at_open: u64,
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

/// The truncation an I/O error of a [`Tap`] reports, if it is one.
pub(super) fn shrunk(error: &io::Error) -> Option<&Shrunk> {
    error.get_ref()?.downcast_ref::<Shrunk>()
}
