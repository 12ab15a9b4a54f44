use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::{FusedStream, FuturesOrdered};

use super::par_driver::{AsyncCore, Call, Limits, ParMapError, State};
use crate::error::ConfigError;
use crate::units::Count;

/// The core of `par_map`: calls finish in any order and are yielded in input order.
type Core<St, F, Fut> = AsyncCore<St, F, Fut, FuturesOrdered<Call<Fut>>>;

pin_project_lite::pin_project! {
    /// Stream for the [`par_map`](super::DataflowExt::par_map) method.
    #[must_use = "streams do nothing unless polled"]
    pub struct ParMap<St, Fut: Future, F> {
        state: State<St, F, Core<St, F, Fut>, Result<Fut::Output, ParMapError>>,
        limits: Limits,
    }
}

impl<St, Fut, F> ParMap<St, Fut, F>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    pub(crate) fn new(upstream: St, limits: Limits, f: F) -> Self {
        ParMap {
            state: State::new(upstream, f),
            limits,
        }
    }

    /// Sets the output buffer `b` (default: the concurrency `n`), before the first poll:
    /// items are pulled only while fewer than `n + b` are held (in flight or finished but
    /// not yet yielded), so the consumer may fall `b` results behind before the work
    /// pauses. See [`par_map`](super::DataflowExt::par_map).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] for a zero size; [`ConfigError::Invalid`] once the stream has
    /// been polled (its work already runs with the old size).
    pub fn output_buffer(mut self, size: impl Into<Count>) -> Result<Self, ConfigError> {
        self.limits.buffer = self.state.check_setting("output buffer", size.into())?;
        Ok(self)
    }

    /// The most calls of `f` in flight at once.
    pub fn concurrency(&self) -> usize {
        self.limits.concurrency.get()
    }

    /// The output buffer `b`: at most `n + b` items are held at once.
    pub fn output_buffer_size(&self) -> usize {
        self.limits.buffer.get()
    }
}

impl<St, Fut, F> Stream for ParMap<St, Fut, F>
where
    St: Stream + Send + 'static,
    F: FnMut(St::Item) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    type Item = Result<Fut::Output, ParMapError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let limits = *this.limits;
        this.state
            .poll_next(cx, |upstream, f, _, _| Core::new(upstream, f, limits))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.state.size_hint()
    }
}

impl<St, Fut, F> FusedStream for ParMap<St, Fut, F>
where
    St: Stream + Send + 'static,
    F: FnMut(St::Item) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    fn is_terminated(&self) -> bool {
        self.state.is_done()
    }
}

impl<St: fmt::Debug, Fut: Future, F> fmt::Debug for ParMap<St, Fut, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParMap")
            .field("state", &self.state)
            .field("limits", &self.limits)
            .finish()
    }
}
