//! [`ProgressBar`]: a terminal progress bar (indicatif) that advances with each item.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

pin_project! {
    /// Stream for [`DataflowExt::progress_bar`](super::DataflowExt::progress_bar).
    #[must_use = "streams do nothing unless polled"]
    #[derive(Debug)]
    pub struct ProgressBar<S> {
        #[pin]
        stream: S,
        bar: indicatif::ProgressBar,
        done: bool,
    }

    impl<S> PinnedDrop for ProgressBar<S> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before the end: leave the bar where it stopped.
            if !this.done && !this.bar.is_finished() {
                this.bar.abandon();
            }
        }
    }
}

impl<S: Stream> ProgressBar<S> {
    pub(crate) fn new(stream: S, total: Option<u64>) -> Self {
        let bar = match total {
            Some(total) => indicatif::ProgressBar::new(total),
            None => indicatif::ProgressBar::no_length(),
        };
        ProgressBar {
            stream,
            bar,
            done: false,
        }
    }

    /// The bar, to style it or set a message (`bar().set_message("loading")`).
    pub fn bar(&self) -> &indicatif::ProgressBar {
        &self.bar
    }

    super::accessors::stream_accessors!(stream: S);
}

impl<S: Stream> Stream for ProgressBar<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        match ready!(this.stream.poll_next(cx)) {
            Some(item) => {
                this.bar.inc(1);
                Poll::Ready(Some(item))
            }
            None => {
                *this.done = true;
                this.bar.finish();
                Poll::Ready(None)
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            self.stream.size_hint()
        }
    }
}

impl<S: Stream> FusedStream for ProgressBar<S> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}
