//! [`TryParMap`]: the stream of [`try_par_map`](crate::operators::DataflowExt::try_par_map) and
//! [`try_par_map_unordered`](crate::operators::DataflowExt::try_par_map_unordered).

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::error::ParMapError;
use crate::error::TaskError;

pin_project! {
    /// Stream for [`DataflowExt::try_par_map`](crate::operators::DataflowExt::try_par_map) and
    /// [`DataflowExt::try_par_map_unordered`](crate::operators::DataflowExt::try_par_map_unordered):
    /// a parallel map of a fallible function whose results come out flat, as
    /// `Result<T, TaskError<E>>`.
    #[must_use = "streams do nothing unless polled"]
    #[derive(Debug)]
    pub struct TryParMap<S> {
        #[pin]
        inner: S,
    }
}

impl<S> TryParMap<S> {
    pub(crate) fn new(inner: S) -> Self {
        TryParMap { inner }
    }

    /// The parallel map inside (its buffer settings, its upstream).
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The parallel map inside, mutably (to set its output buffer before polling).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The parallel map inside.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, T, E> Stream for TryParMap<S>
where
    S: Stream<Item = Result<Result<T, E>, ParMapError>>,
{
    type Item = Result<T, TaskError<E>>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.project().inner.poll_next(cx).map(|item| {
            item.map(|r| match r {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(TaskError::Failed(e)),
                Err(e) => Err(TaskError::from(e)),
            })
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<S, T, E> FusedStream for TryParMap<S>
where
    S: FusedStream<Item = Result<Result<T, E>, ParMapError>>,
{
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}
