//! `of(iter)`: a source over an iterator.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::{Chunked, IntoSource, Located, SourceContext, SourceItem, marker};
use crate::units::Count;

/// A source over the items of an iterator, read lazily as the consumer pulls.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use sweet_async::prelude::*;
/// use sweet_async::stream::source::of;
///
/// # futures::executor::block_on(async {
/// let chunks: Vec<Vec<u32>> = AsyncTask::emits::<u32>()
///     .sender(of(1..=5).into_chunks(2.items()))
///     .map(|event| event.unwrap().into_data().into_vec())
///     .collect()
///     .await;
/// assert_eq!(chunks, vec![vec![1, 2], vec![3, 4], vec![5]]);
/// # });
/// ```
pub fn of<I: IntoIterator>(iter: I) -> Of<I::IntoIter> {
    Of {
        iter: iter.into_iter(),
    }
}

/// The source made by [`of`].
#[must_use = "a source does nothing until given to `sender(..)`"]
#[derive(Debug, Clone)]
pub struct Of<I> {
    iter: I,
}

impl<I> Of<I> {
    /// Emits chunks of `size` items ([`Chunk<T>`](super::Chunk) events) instead of single items.
    pub fn into_chunks(self, size: impl Into<Count>) -> Chunked<Self> {
        Chunked::new(self, size.into())
    }
}

impl<I: Iterator> IntoSource<I::Item, marker::Native> for Of<I> {
    type Data = I::Item;
    type Source = OfSource<I>;

    fn into_source(self, _ctx: &SourceContext) -> Self::Source {
        OfSource {
            iter: self.iter,
            done: false,
        }
    }
}

pin_project! {
    /// The stream of an [`Of`] source.
    #[must_use = "streams do nothing unless polled"]
    #[derive(Debug)]
    pub struct OfSource<I> {
        iter: I,
        done: bool,
    }
}

impl<I: Iterator> Stream for OfSource<I> {
    type Item = SourceItem<I::Item>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        match this.iter.next() {
            Some(v) => Poll::Ready(Some(Ok(Located::bare(v)))),
            None => {
                *this.done = true;
                Poll::Ready(None)
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            self.iter.size_hint()
        }
    }
}

impl<I: Iterator> FusedStream for OfSource<I> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}
