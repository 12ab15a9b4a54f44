//! `into_chunks(n)`: a source that emits [`Chunk`](super::Chunk)s of its items.

use std::fmt;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::{Chunk, IntoSource, Located, SourceContext, SourceItem, chunk_size, marker};
use crate::ack::Acks;
use crate::error::ConfigError;
use crate::stream::error::SourceError;
use crate::stream::event::Position;
use crate::stream::stats::report_chunk;
use crate::units::Count;

/// The most memory a chunk reserves up front: a chunk size of `1 << 40` items (or
/// `usize::MAX`) grows as items arrive instead of failing to allocate.
const MAX_PREALLOC_BYTES: usize = 1 << 20;

/// The capacity to reserve for a chunk of `size` items of type `T`: at most
/// [`MAX_PREALLOC_BYTES`] worth of them, at least one.
fn prealloc<T>(size: usize) -> usize {
    let per_item = std::mem::size_of::<T>().max(1);
    size.min(MAX_PREALLOC_BYTES.checked_div(per_item).unwrap_or(1).max(1))
}

/// A source whose events carry chunks of `n` items (the last one may be shorter).
///
/// Made by `into_chunks(n)` on [`of`](super::of), [`of_file`](super::of_file),
/// [`csv_file`](super::csv_file) and [`csv_records`](super::csv_records). A chunk never
/// is empty. A failed item is not put in a chunk: the chunk collected so far is emitted
/// first, then the error, so order is kept. The event's position is the first item's;
/// the [`Chunk`] it carries has each row's.
#[must_use = "a source does nothing until given to `sender(..)`"]
#[derive(Debug, Clone)]
pub struct Chunked<P> {
    inner: P,
    size: Count,
}

impl<P> Chunked<P> {
    pub(crate) fn new(inner: P, size: Count) -> Self {
        Chunked { inner, size }
    }
}

impl<T, P> IntoSource<T, marker::Native> for Chunked<P>
where
    P: IntoSource<T, marker::Native>,
{
    type Data = Chunk<P::Data>;
    type Source = ChunkedSource<P::Source, P::Data>;

    fn name(&self) -> Option<Arc<str>> {
        self.inner.name()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        chunk_size(self.size)?;
        self.inner.validate()
    }

    fn into_source(self, ctx: &SourceContext) -> Self::Source {
        let size = chunk_size(self.size).unwrap_or(NonZeroUsize::MIN);
        let mut ctx = ctx.clone();
        ctx.batch_hint = Some(size);
        ChunkedSource {
            inner: self.inner.into_source(&ctx),
            size,
            unit: self.size.unit(),
            buf: Vec::new(),
            positions: Vec::new(),
            first: None,
            acks: Acks::none(),
            pending: None,
            next_batch: 0,
            done: false,
        }
    }
}

pin_project! {
    /// The stream of a [`Chunked`] source.
    #[must_use = "streams do nothing unless polled"]
    pub struct ChunkedSource<S, T> {
        #[pin]
        inner: S,
        size: NonZeroUsize,
        // What the rows are called, for the final summary.
        unit: &'static str,
        buf: Vec<T>,
        // One per item of `buf` when its first item had a position, else empty.
        positions: Vec<Position>,
        first: Option<Position>,
        // The obligations of the items in `buf`, carried by the chunk.
        acks: Acks,
        pending: Option<Located<SourceError>>,
        next_batch: u64,
        done: bool,
    }
}

impl<S, T> ChunkedSource<S, T> {
    /// The chunk so far, as an item; `buf` and `positions` start over with room for
    /// `size` (none at the end of the stream).
    fn flush(
        buf: &mut Vec<T>,
        positions: &mut Vec<Position>,
        size: usize,
        unit: &'static str,
        first: Option<Position>,
        acks: &mut Acks,
        next: &mut u64,
    ) -> Located<Chunk<T>> {
        let rows = std::mem::replace(buf, Vec::with_capacity(prealloc::<T>(size)));
        let located = if positions.is_empty() {
            Vec::new()
        } else {
            std::mem::replace(positions, Vec::with_capacity(prealloc::<Position>(size)))
        };
        report_chunk(rows.len(), unit);
        let batch = *next;
        *next = next.saturating_add(1);
        Located {
            value: Chunk::new(rows, located),
            position: first,
            batch: Some(batch),
            acks: acks.take(),
        }
    }
}

impl<S, T> Stream for ChunkedSource<S, T>
where
    S: Stream<Item = SourceItem<T>>,
{
    type Item = SourceItem<Chunk<T>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if let Some(err) = this.pending.take() {
            return Poll::Ready(Some(Err(err)));
        }
        if *this.done {
            return Poll::Ready(None);
        }
        let size = this.size.get();
        loop {
            match this.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(item))) => {
                    if this.buf.is_empty() {
                        *this.first = item.position;
                        if this.buf.capacity() == 0 {
                            this.buf.reserve_exact(prealloc::<T>(size));
                        }
                        if item.position.is_some() && this.positions.capacity() == 0 {
                            this.positions.reserve_exact(prealloc::<Position>(size));
                        }
                    }
                    let Located {
                        value,
                        acks,
                        position,
                        ..
                    } = item;
                    // Rows of a source with positions keep theirs (line 0 for a row
                    // without one, so the list stays aligned with the rows).
                    if this.first.is_some() {
                        this.positions.push(position.unwrap_or(Position::new(0, 0)));
                    }
                    this.buf.push(value);
                    if !acks.is_empty() {
                        this.acks.merge(acks);
                    } else {
                        std::mem::forget(acks);
                    }
                    if this.buf.len() >= size {
                        let chunk = Self::flush(
                            this.buf,
                            this.positions,
                            size,
                            this.unit,
                            *this.first,
                            this.acks,
                            this.next_batch,
                        );
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                }
                Poll::Ready(Some(Err(err))) => {
                    if this.buf.is_empty() {
                        return Poll::Ready(Some(Err(err)));
                    }
                    *this.pending = Some(err);
                    let chunk = Self::flush(
                        this.buf,
                        this.positions,
                        size,
                        this.unit,
                        *this.first,
                        this.acks,
                        this.next_batch,
                    );
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Poll::Ready(None) => {
                    *this.done = true;
                    if this.buf.is_empty() {
                        return Poll::Ready(None);
                    }
                    report_chunk(this.buf.len(), this.unit);
                    let chunk = Located {
                        value: Chunk::new(std::mem::take(this.buf), std::mem::take(this.positions)),
                        position: *this.first,
                        batch: Some(*this.next_batch),
                        acks: this.acks.take(),
                    };
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let pending = usize::from(self.pending.is_some());
        if self.done {
            return (pending, Some(pending));
        }
        let (lo, hi) = self.inner.size_hint();
        let buffered = !self.buf.is_empty();
        let lower = usize::from(lo > 0 || buffered).saturating_add(pending);
        // Every remaining item may end up alone in a chunk (errors split chunks).
        let upper = hi.map(|h| {
            h.saturating_add(usize::from(buffered))
                .saturating_add(pending)
        });
        (lower, upper)
    }
}

impl<S, T> FusedStream for ChunkedSource<S, T>
where
    S: Stream<Item = SourceItem<T>>,
{
    fn is_terminated(&self) -> bool {
        self.done && self.pending.is_none()
    }
}

impl<S: fmt::Debug, T> fmt::Debug for ChunkedSource<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkedSource")
            .field("inner", &self.inner)
            .field("size", &self.size)
            .field("buffered", &self.buf.len())
            .field("done", &self.done)
            .finish()
    }
}
