//! [`InspectProgress`]: passes items through and reports progress (items, bytes, elapsed
//! time, rate) every `n` items and at the end.

use std::fmt;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;
use tokio::time::Instant;

/// A progress report of [`inspect_progress`](super::DataflowExt::inspect_progress).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// Items passed through so far.
    pub items: u64,
    /// Bytes passed through so far, when a byte counter was given
    /// ([`inspect_progress_bytes`](super::DataflowExt::inspect_progress_bytes)).
    pub bytes: Option<u64>,
    /// Time since the stream was first polled, on the tokio clock.
    pub elapsed: Duration,
    /// Items per second over `elapsed` (0.0 while no time has passed).
    pub rate: f64,
    /// `true` for the last report, made when the stream ends.
    pub finished: bool,
}

impl Progress {
    fn new(items: u64, bytes: Option<u64>, elapsed: Duration, finished: bool) -> Self {
        Progress {
            items,
            bytes,
            elapsed,
            rate: per_second(items, elapsed),
            finished,
        }
    }

    /// Bytes per second over `elapsed`, when bytes are counted.
    pub fn bytes_per_second(&self) -> Option<f64> {
        self.bytes.map(|b| per_second(b, self.elapsed))
    }
}

#[allow(clippy::cast_precision_loss)] // a rate for humans: f64 precision is plenty
fn per_second(n: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

/// The byte counter of [`inspect_progress`](super::DataflowExt::inspect_progress), which
/// counts none.
pub type NoBytes<T> = fn(&T) -> u64;

pin_project! {
    /// Stream for [`DataflowExt::inspect_progress`](super::DataflowExt::inspect_progress)
    /// and [`DataflowExt::inspect_progress_bytes`](super::DataflowExt::inspect_progress_bytes).
    #[must_use = "streams do nothing unless polled"]
    pub struct InspectProgress<S: Stream, F, B = NoBytes<<S as Stream>::Item>> {
        #[pin]
        stream: S,
        report: F,
        bytes_of: Option<B>,
        every: NonZeroUsize,
        countdown: usize,
        items: u64,
        bytes: u64,
        started: Option<Instant>,
        done: bool,
    }
}

impl<S, F, B> InspectProgress<S, F, B>
where
    S: Stream,
    F: FnMut(&Progress),
    B: FnMut(&S::Item) -> u64,
{
    pub(crate) fn new(stream: S, every: NonZeroUsize, bytes_of: Option<B>, report: F) -> Self {
        InspectProgress {
            stream,
            report,
            bytes_of,
            every,
            countdown: every.get(),
            items: 0,
            bytes: 0,
            started: None,
            done: false,
        }
    }
}

impl<S: Stream, F, B> InspectProgress<S, F, B> {
    /// Progress so far (not `finished` until the stream has ended).
    pub fn progress(&self) -> Progress {
        let elapsed = self.started.map_or(Duration::ZERO, |s| s.elapsed());
        let bytes = self.bytes_of.as_ref().map(|_| self.bytes);
        Progress::new(self.items, bytes, elapsed, self.done)
    }

    /// How many items pass between two reports.
    pub fn every(&self) -> NonZeroUsize {
        self.every
    }

    super::accessors::stream_accessors!(stream: S);

    /// The upstream stream.
    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S, F, B> fmt::Debug for InspectProgress<S, F, B>
where
    S: Stream + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InspectProgress")
            .field("stream", &self.stream)
            .field("every", &self.every)
            .field("items", &self.items)
            .field("bytes", &self.bytes_of.as_ref().map(|_| self.bytes))
            .field("started", &self.started)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<S, F, B> Stream for InspectProgress<S, F, B>
where
    S: Stream,
    F: FnMut(&Progress),
    B: FnMut(&S::Item) -> u64,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        let started = *this.started.get_or_insert_with(Instant::now);
        let item = ready!(this.stream.poll_next(cx));
        let bytes = this.bytes_of.as_ref().map(|_| *this.bytes);
        match item {
            Some(item) => {
                *this.items = this.items.saturating_add(1);
                let bytes = match this.bytes_of.as_mut() {
                    Some(bytes_of) => {
                        *this.bytes = this.bytes.saturating_add(bytes_of(&item));
                        Some(*this.bytes)
                    }
                    None => bytes,
                };
                *this.countdown = this.countdown.saturating_sub(1);
                if *this.countdown == 0 {
                    *this.countdown = this.every.get();
                    (this.report)(&Progress::new(*this.items, bytes, started.elapsed(), false));
                }
                Poll::Ready(Some(item))
            }
            None => {
                *this.done = true;
                (this.report)(&Progress::new(*this.items, bytes, started.elapsed(), true));
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

impl<S, F, B> FusedStream for InspectProgress<S, F, B>
where
    S: Stream,
    F: FnMut(&Progress),
    B: FnMut(&S::Item) -> u64,
{
    fn is_terminated(&self) -> bool {
        self.done
    }
}
