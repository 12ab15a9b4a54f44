//! [`ParMap`]: the stream of [`par_map`](crate::operators::DataflowExt::par_map).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::async_par_map::{AsyncParMap, Output};
use super::error::ParMapError;
use super::limits::Limits;
use super::order::InOrder;
use crate::error::ConfigError;
use crate::units::Count;

pin_project! {
    /// Stream for the [`par_map`](crate::operators::DataflowExt::par_map) method.
    #[must_use = "streams do nothing unless polled"]
    pub struct ParMap<St, Fut: Future, F> {
        // Calls finish in any order and are yielded in input order.
        inner: AsyncParMap<St, Fut, F, InOrder<Output<Fut>>>,
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
            inner: AsyncParMap::new(upstream, limits, f),
        }
    }

    /// Sets the output buffer `b` (default: the concurrency `n`), before the first poll:
    /// items are pulled only while fewer than `n + b` are held (in flight or finished but
    /// not yet yielded), so the consumer may fall `b` results behind before the work
    /// pauses. See [`par_map`](crate::operators::DataflowExt::par_map).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] for a zero size; [`ConfigError::Invalid`] once the stream has
    /// been polled (its work already runs with the old size).
    pub fn output_buffer(mut self, size: impl Into<Count>) -> Result<Self, ConfigError> {
        self.inner.set_output_buffer(size.into())?;
        Ok(self)
    }

    /// The most calls of `f` in flight at once.
    pub fn concurrency(&self) -> usize {
        self.inner.limits().concurrency.get()
    }

    /// The output buffer `b`: at most `n + b` items are held at once.
    pub fn output_buffer_size(&self) -> usize {
        self.inner.limits().buffer.get()
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
        self.project().inner.poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
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
        self.inner.is_done()
    }
}

impl<St: fmt::Debug, Fut: Future, F> fmt::Debug for ParMap<St, Fut, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ParMap").field(&self.inner).finish()
    }
}
