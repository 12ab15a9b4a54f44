//! [`PartitionInput`]: the timed stream a partition's operator chain reads.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;

use crate::operators::timed::Timed;

/// The input of one partition of
/// [`DataflowExt::partition`](crate::operators::DataflowExt::partition): the elements whose
/// key hashes to it, and every watermark of the whole stream.
#[must_use = "streams do nothing unless polled"]
pub struct PartitionInput<T> {
    index: usize,
    rx: mpsc::Receiver<Vec<Timed<T>>>,
    current: std::vec::IntoIter<Timed<T>>,
}

// The buffered items are never pinned.
impl<T> Unpin for PartitionInput<T> {}

impl<T> PartitionInput<T> {
    pub(crate) fn new(index: usize, rx: mpsc::Receiver<Vec<Timed<T>>>) -> Self {
        PartitionInput {
            index,
            rx,
            current: Vec::new().into_iter(),
        }
    }

    /// This partition's index, `0..n`.
    pub fn index(&self) -> usize {
        self.index
    }
}

impl<T> Stream for PartitionInput<T> {
    type Item = Timed<T>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Timed<T>>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.current.next() {
                return Poll::Ready(Some(item));
            }
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(batch)) => this.current = batch.into_iter(),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.current.len(), None)
    }
}

impl<T> fmt::Debug for PartitionInput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartitionInput")
            .field("index", &self.index)
            .field("buffered", &self.current.len())
            .finish_non_exhaustive()
    }
}
