//! [`ParMapUnordered`]: the stream of [`par_map_unordered`](crate::operators::DataflowExt::par_map_unordered).

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
use super::order::AnyOrder;
use crate::error::ConfigError;
use crate::units::Count;

pin_project! {
    /// Stream for the [`par_map_unordered`](crate::operators::DataflowExt::par_map_unordered) method.
    #[must_use = "streams do nothing unless polled"]
    pub struct ParMapUnordered<St, Fut: Future, F> {
        // Results are yielded as the calls finish.
        inner: AsyncParMap<St, Fut, F, AnyOrder<Output<Fut>>>,
    }
}

impl<St, Fut, F> ParMapUnordered<St, Fut, F>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    pub(crate) fn new(upstream: St, limits: Limits, f: F) -> Self {
        ParMapUnordered {
            inner: AsyncParMap::new(upstream, limits, f),
        }
    }

    /// Sets the output buffer `b` (default: the concurrency `n`), before the first poll:
    /// items are pulled only while fewer than `n + b` are held (in flight or finished but
    /// not yet yielded), so the consumer may fall `b` results behind before the work
    /// pauses. See [`par_map_unordered`](crate::operators::DataflowExt::par_map_unordered).
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

impl<St, Fut, F> Stream for ParMapUnordered<St, Fut, F>
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

impl<St, Fut, F> FusedStream for ParMapUnordered<St, Fut, F>
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

impl<St: fmt::Debug, Fut: Future, F> fmt::Debug for ParMapUnordered<St, Fut, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ParMapUnordered").field(&self.inner).finish()
    }
}
