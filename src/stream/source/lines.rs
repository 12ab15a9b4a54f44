//! `of_file(path)`: a text file split by a delimiter, read with tokio and `bytes`.

use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;
use tokio::runtime::Handle;

use super::{Chunked, IntoSource, Located, SourceContext, SourceItem, marker};
use crate::stream::error::SourceError;
use crate::stream::event::Position;
use crate::stream::stats::SourceStats;
use crate::task::metrics::record_read;
use crate::units::Count;

/// Bytes asked for per read.
const READ_SIZE: usize = 64 * 1024;

/// The default longest item of a file source (a line, a CSV record): 64 MiB. A longer one
/// is a per-item [`SourceError::TooLong`], skipped without being held in memory, so one
/// huge line cannot take the process's memory; set another limit with
/// [`FileLines::max_line_length`] or `CsvFile::max_record_length`.
pub const DEFAULT_MAX_ITEM_LENGTH: usize = 64 * 1024 * 1024;

/// What separates the items of a text file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Delimiter {
    /// `\n`, with a `\r` before it removed too (CRLF files).
    #[default]
    NewLine,
    /// Any byte, e.g. `b'\0'` or `b';'`.
    Byte(u8),
}

impl From<u8> for Delimiter {
    fn from(b: u8) -> Self {
        if b == b'\n' {
            Delimiter::NewLine
        } else {
            Delimiter::Byte(b)
        }
    }
}

/// A source over the delimited items (lines by default) of a file, read a block at a time.
///
/// Items are `String`s, without their delimiter (and without the `\r` of a CRLF line
/// end). A line that is not valid UTF-8 is a per-item
/// [`SourceError::InvalidUtf8`] naming the file, line and byte offset, and reading goes
/// on; call [`bytes`](FileLines::bytes) to get raw [`Bytes`] instead (no check, no copy).
/// The last item needs no final delimiter; an empty file has no items; an empty line is
/// an empty item. An item longer than [`max_line_length`](FileLines::max_line_length)
/// (default [`DEFAULT_MAX_ITEM_LENGTH`]) is a per-item [`SourceError::TooLong`] and is
/// skipped while it is read, so memory stays bounded by the limit. A file that ends before the length it had when it was opened (it was
/// truncated while being read) ends with a fatal [`SourceError::Truncated`] at the item
/// that was cut, which is not emitted; a file that grows is read to its new end.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use sweet_async::prelude::*;
/// use sweet_async::stream::source::of_file;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let path = std::env::temp_dir().join("sweet_async_doc_of_file.log");
/// std::fs::write(&path, "INFO start\r\nERROR disk full\r\nINFO stop")?;
/// let lines: Vec<String> = AsyncTask::emits::<String>()
///     .sender(of_file(&path))
///     .map(|event| event.unwrap().into_data())
///     .collect()
///     .await;
/// assert_eq!(lines, ["INFO start", "ERROR disk full", "INFO stop"]);
/// # std::fs::remove_file(&path)
/// # }
/// ```
pub fn of_file(path: impl AsRef<Path>) -> FileLines<String> {
    let path = path.as_ref().to_path_buf();
    FileLines {
        name: Arc::from(path.to_string_lossy().as_ref()),
        path,
        delimiter: Delimiter::NewLine,
        max_len: Count::new(DEFAULT_MAX_ITEM_LENGTH, "bytes"),
        _data: PhantomData,
    }
}

/// The source made by [`of_file`]; `D` is `String` or [`Bytes`].
#[must_use = "a source does nothing until given to `sender(..)`"]
pub struct FileLines<D = String> {
    path: PathBuf,
    name: Arc<str>,
    delimiter: Delimiter,
    max_len: Count,
    _data: PhantomData<fn() -> D>,
}

impl<D> FileLines<D> {
    /// The longest item, in bytes without its delimiter (default
    /// [`DEFAULT_MAX_ITEM_LENGTH`]): a longer one is a per-item [`SourceError::TooLong`],
    /// skipped as it is read. Zero is a [`ConfigError`](crate::error::ConfigError).
    pub fn max_line_length(mut self, bytes: impl Into<Count>) -> Self {
        self.max_len = bytes.into();
        self
    }

    /// Splits on `delimiter` instead of newlines.
    pub fn with_delimiter(mut self, delimiter: impl Into<Delimiter>) -> Self {
        self.delimiter = delimiter.into();
        self
    }

    /// Items as raw [`Bytes`]: no UTF-8 check, no copy.
    pub fn bytes(self) -> FileLines<Bytes> {
        FileLines {
            path: self.path,
            name: self.name,
            delimiter: self.delimiter,
            max_len: self.max_len,
            _data: PhantomData,
        }
    }

    /// Emits chunks of `size` items ([`Chunk<D>`](super::Chunk) events, each line with its position) instead of single items.
    pub fn into_chunks(self, size: impl Into<Count>) -> Chunked<Self> {
        Chunked::new(self, size.into())
    }
}

impl<D> Clone for FileLines<D> {
    fn clone(&self) -> Self {
        FileLines {
            path: self.path.clone(),
            name: self.name.clone(),
            delimiter: self.delimiter,
            max_len: self.max_len,
            _data: PhantomData,
        }
    }
}

impl<D> fmt::Debug for FileLines<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileLines")
            .field("path", &self.path)
            .field("delimiter", &self.delimiter)
            .field("max_line_length", &self.max_len.get())
            .finish()
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for String {}
    impl Sealed for bytes::Bytes {}
}

/// The item types of [`FileLines`]: `String` and [`Bytes`].
pub trait LineData: sealed::Sealed + Sized {
    /// Converts one item (delimiter removed); `Err(valid_up_to)` when it must be UTF-8
    /// and is not.
    #[doc(hidden)]
    fn from_line(line: BytesMut) -> Result<Self, usize>;
}

impl LineData for String {
    fn from_line(line: BytesMut) -> Result<Self, usize> {
        match std::str::from_utf8(&line) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(e.valid_up_to()),
        }
    }
}

impl LineData for Bytes {
    fn from_line(line: BytesMut) -> Result<Self, usize> {
        Ok(line.freeze())
    }
}

impl<D: LineData> IntoSource<D, marker::Native> for FileLines<D> {
    type Data = D;
    type Source = LinesSource<D>;

    fn name(&self) -> Option<Arc<str>> {
        Some(self.name.clone())
    }

    fn validate(&self) -> Result<(), crate::error::ConfigError> {
        self.max_len.validate("max line length").map(|_| ())
    }

    fn into_source(self, ctx: &SourceContext) -> Self::Source {
        let (delim, strip_cr) = match self.delimiter {
            Delimiter::NewLine => (b'\n', true),
            Delimiter::Byte(b) => (b, false),
        };
        LinesSource {
            state: State::NotOpened(self.path),
            name: self.name,
            buf: BytesMut::new(),
            scanned: 0,
            line: 1,
            offset: 0,
            delim,
            strip_cr,
            max_len: self.max_len.get().max(1),
            skipping: false,
            read_started: None,
            read: 0,
            len_at_open: None,
            stats: ctx.stats.clone(),
            _data: PhantomData,
        }
    }
}

/// Opens the file and reads its length (for a regular file: pipes and devices have none).
type OpenFuture = Pin<Box<dyn Future<Output = io::Result<(tokio::fs::File, Option<u64>)>> + Send>>;

async fn open(path: PathBuf) -> io::Result<(tokio::fs::File, Option<u64>)> {
    let file = tokio::fs::File::open(path).await?;
    let len = file
        .metadata()
        .await
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len());
    Ok((file, len))
}

enum State {
    NotOpened(PathBuf),
    Opening(OpenFuture),
    Reading(tokio::fs::File),
    Eof,
    Done,
}

pin_project! {
    /// The stream of a [`FileLines`] source.
    #[must_use = "streams do nothing unless polled"]
    pub struct LinesSource<D> {
        state: State,
        name: Arc<str>,
        buf: BytesMut,
        // Bytes at the start of `buf` already searched for the delimiter.
        scanned: usize,
        line: u64,
        offset: u64,
        delim: u8,
        strip_cr: bool,
        // The longest item; past it the item is reported and its bytes dropped as they
        // arrive (`skipping`) until its delimiter.
        max_len: usize,
        skipping: bool,
        read_started: Option<Instant>,
        // Bytes read so far, and the file's length when it was opened: a file that ends
        // before that length shrank while it was read.
        read: u64,
        len_at_open: Option<u64>,
        stats: SourceStats,
        _data: PhantomData<fn() -> D>,
    }
}

impl<D: LineData> LinesSource<D> {
    /// Converts the first `len` bytes of `buf` (plus `consumed - len` delimiter bytes).
    fn take_item(
        buf: &mut BytesMut,
        len: usize,
        consumed: usize,
        strip_cr: bool,
        name: &Arc<str>,
        line: &mut u64,
        offset: &mut u64,
    ) -> SourceItem<D> {
        let mut item = buf.split_to(consumed);
        item.truncate(len);
        if strip_cr && item.last() == Some(&b'\r') {
            item.truncate(len.saturating_sub(1));
        }
        let position = Position::new(*line, *offset);
        *line = line.saturating_add(1);
        *offset = offset.saturating_add(consumed as u64);
        match D::from_line(item) {
            Ok(value) => Ok(Located::at(value, position)),
            Err(valid_up_to) => Err(Located::at(
                SourceError::InvalidUtf8 {
                    file: name.clone(),
                    line: position.line(),
                    byte: position.byte(),
                    valid_up_to,
                },
                position,
            )),
        }
    }
}

/// The error for an item longer than `limit`, starting at `line` and `offset`.
#[cold]
fn too_long(name: &Arc<str>, line: u64, offset: u64, limit: usize) -> Located<SourceError> {
    let position = Position::new(line, offset);
    let err = SourceError::TooLong {
        file: name.clone(),
        line,
        byte: offset,
        limit,
    };
    Located::at(err, position)
}

/// Drops the first `n` bytes of the buffer (part of an item too long to keep), moving the
/// offset of the item being read past them.
fn drop_bytes(buf: &mut BytesMut, n: usize, offset: &mut u64) {
    let n = n.min(buf.len());
    bytes::Buf::advance(buf, n);
    *offset = offset.saturating_add(n as u64);
}

impl<D: LineData> Stream for LinesSource<D> {
    type Item = SourceItem<D>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        loop {
            // An item already in the buffer?
            let unscanned = this.buf.get(*this.scanned..).unwrap_or_default();
            if let Some(i) = memchr::memchr(*this.delim, unscanned) {
                let len = this.scanned.saturating_add(i);
                *this.scanned = 0;
                if *this.skipping || len > *this.max_len {
                    // The end of an item too long to keep: drop it with its delimiter.
                    let report = !*this.skipping;
                    let err = too_long(this.name, *this.line, *this.offset, *this.max_len);
                    drop_bytes(this.buf, len.saturating_add(1), this.offset);
                    *this.line = this.line.saturating_add(1);
                    *this.skipping = false;
                    if report {
                        return Poll::Ready(Some(Err(err)));
                    }
                    continue;
                }
                return Poll::Ready(Some(Self::take_item(
                    this.buf,
                    len,
                    len.saturating_add(1),
                    *this.strip_cr,
                    this.name,
                    this.line,
                    this.offset,
                )));
            }
            *this.scanned = this.buf.len();
            if *this.skipping || this.buf.len() > *this.max_len {
                // Too long, and no delimiter yet: report it (once) and drop its bytes as
                // they come, so memory stays bounded by the limit.
                let report = !*this.skipping;
                let err = too_long(this.name, *this.line, *this.offset, *this.max_len);
                let len = this.buf.len();
                drop_bytes(this.buf, len, this.offset);
                *this.scanned = 0;
                *this.skipping = true;
                if report {
                    return Poll::Ready(Some(Err(err)));
                }
            }
            match this.state {
                State::Done => return Poll::Ready(None),
                State::Eof => {
                    *this.state = State::Done;
                    if this.len_at_open.is_some_and(|len| *this.read < len) {
                        // The last bytes are a fragment of an item cut by the truncation,
                        // or the items lost are after them: either way, not a clean end.
                        let position = Position::new(*this.line, *this.offset);
                        let err = SourceError::Truncated {
                            file: this.name.clone(),
                            line: position.line(),
                            byte: position.byte(),
                            read: *this.read,
                            len_at_open: this.len_at_open.unwrap_or_default(),
                        };
                        this.buf.clear();
                        return Poll::Ready(Some(Err(Located::at(err, position))));
                    }
                    if this.buf.is_empty() {
                        return Poll::Ready(None);
                    }
                    let len = this.buf.len();
                    *this.scanned = 0;
                    return Poll::Ready(Some(Self::take_item(
                        this.buf,
                        len,
                        len,
                        *this.strip_cr,
                        this.name,
                        this.line,
                        this.offset,
                    )));
                }
                _ if Handle::try_current().is_err() => {
                    *this.state = State::Done;
                    return Poll::Ready(Some(Err(Located::bare(SourceError::NoRuntime))));
                }
                State::NotOpened(path) => {
                    let path = std::mem::take(path);
                    *this.state = State::Opening(Box::pin(open(path)));
                }
                State::Opening(open) => match open.as_mut().poll(cx) {
                    Poll::Ready(Ok((file, len))) => {
                        *this.len_at_open = len;
                        *this.state = State::Reading(file);
                    }
                    Poll::Ready(Err(error)) => {
                        *this.state = State::Done;
                        let err = SourceError::Io {
                            file: this.name.clone(),
                            error,
                        };
                        return Poll::Ready(Some(Err(Located::bare(err))));
                    }
                    Poll::Pending => return Poll::Pending,
                },
                State::Reading(file) => {
                    let started = *this.read_started.get_or_insert_with(Instant::now);
                    this.buf.reserve(READ_SIZE);
                    match tokio_util::io::poll_read_buf(Pin::new(file), cx, this.buf) {
                        Poll::Ready(Ok(0)) => {
                            *this.read_started = None;
                            *this.state = State::Eof;
                        }
                        Poll::Ready(Ok(n)) => {
                            *this.read_started = None;
                            *this.read = this.read.saturating_add(n as u64);
                            record_read(n as u64, started.elapsed());
                            this.stats.add_bytes(n as u64);
                        }
                        Poll::Ready(Err(error)) => {
                            *this.state = State::Done;
                            let err = SourceError::Io {
                                file: this.name.clone(),
                                error,
                            };
                            let position = Position::new(*this.line, *this.offset);
                            return Poll::Ready(Some(Err(Located::at(err, position))));
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.state {
            State::Done => (0, Some(0)),
            // Each item left takes at least one byte of the buffer.
            State::Eof if self.buf.is_empty() => (0, Some(0)),
            State::Eof => (1, Some(self.buf.len())),
            _ => (0, None),
        }
    }
}

impl<D: LineData> FusedStream for LinesSource<D> {
    fn is_terminated(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

impl<D> fmt::Debug for LinesSource<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinesSource")
            .field("file", &self.name)
            .field("line", &self.line)
            .field("offset", &self.offset)
            .field("buffered", &self.buf.len())
            .finish()
    }
}
