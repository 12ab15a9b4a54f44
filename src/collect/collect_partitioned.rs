//! [`CollectPartitioned`]: the `Ok` items of a stream into a `Vec`, its errors, keyed by
//! their index in the stream, into another.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use pin_project_lite::pin_project;

use crate::collect::summary::{Summary, Tally};

/// What [`collect_partitioned`](crate::collect::CollectExt::collect_partitioned)
/// resolves to: the values, the errors keyed by their index in the stream, and the
/// summary.
pub type Partitioned<T, E> = (Vec<T>, Vec<(u64, E)>, Summary);

pin_project! {
    /// The future returned by
    /// [`collect_partitioned`](crate::collect::CollectExt::collect_partitioned).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct CollectPartitioned<S, T, E> {
        #[pin]
        stream: S,
        oks: Vec<T>,
        errs: Vec<(u64, E)>,
        index: u64,
        tally: Tally,
        done: bool,
    }
}

impl<S, T, E> CollectPartitioned<S, T, E> {
    pub(crate) fn new(stream: S) -> Self {
        CollectPartitioned {
            stream,
            oks: Vec::new(),
            errs: Vec::new(),
            index: 0,
            tally: Tally::default(),
            done: false,
        }
    }
}

impl<S, T, E> Future for CollectPartitioned<S, T, E>
where
    S: Stream<Item = Result<T, E>>,
{
    type Output = Partitioned<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.done {
            return Poll::Pending;
        }
        let mut stream = this.stream;
        let (oks, errs, index) = (this.oks, this.errs, this.index);
        let ended = this.tally.drain(stream.as_mut(), cx, |tally, item| {
            match item {
                Ok(v) => {
                    tally.out = tally.out.saturating_add(1);
                    oks.push(v);
                }
                Err(e) => {
                    tally.errors = tally.errors.saturating_add(1);
                    errs.push((*index, e));
                }
            }
            *index = index.saturating_add(1);
        });
        if ended.is_pending() {
            return Poll::Pending;
        }
        *this.done = true;
        Poll::Ready((
            std::mem::take(oks),
            std::mem::take(errs),
            this.tally.finish(),
        ))
    }
}

impl<S: fmt::Debug, T, E> fmt::Debug for CollectPartitioned<S, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectPartitioned")
            .field("stream", &self.stream)
            .field("ok", &self.oks.len())
            .field("errors", &self.errs.len())
            .finish()
    }
}
