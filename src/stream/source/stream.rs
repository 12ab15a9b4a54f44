//! Foreign streams as sources: `Stream<Item = T>` and `Stream<Item = Result<T, E>>`.

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::{IntoSource, Located, SourceContext, SourceItem, marker};
use crate::error::BoxError;
use crate::stream::error::SourceError;

impl<T, S> IntoSource<T, marker::Plain> for S
where
    S: Stream<Item = T>,
{
    type Data = T;
    type Source = PlainSource<S>;

    fn into_source(self, _ctx: &SourceContext) -> Self::Source {
        PlainSource { inner: self }
    }
}

impl<T, E, S> IntoSource<T, marker::Fallible> for S
where
    S: Stream<Item = Result<T, E>>,
    E: Into<BoxError>,
{
    type Data = T;
    type Source = FallibleSource<S, E>;

    fn into_source(self, _ctx: &SourceContext) -> Self::Source {
        FallibleSource {
            inner: self,
            _error: PhantomData,
        }
    }
}

pin_project! {
    /// A `Stream<Item = T>` as a source.
    #[must_use = "streams do nothing unless polled"]
    #[derive(Debug)]
    pub struct PlainSource<S> {
        #[pin]
        inner: S,
    }
}

impl<S: Stream> Stream for PlainSource<S> {
    type Item = SourceItem<S::Item>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.project()
            .inner
            .poll_next(cx)
            .map(|o| o.map(|v| Ok(Located::bare(v))))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<S: FusedStream> FusedStream for PlainSource<S> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

pin_project! {
    /// A `Stream<Item = Result<T, E>>` as a source: each `Err` is a per-item
    /// [`SourceError::Item`].
    #[must_use = "streams do nothing unless polled"]
    #[derive(Debug)]
    pub struct FallibleSource<S, E> {
        #[pin]
        inner: S,
        _error: PhantomData<fn() -> E>,
    }
}

impl<T, E, S> Stream for FallibleSource<S, E>
where
    S: Stream<Item = Result<T, E>>,
    E: Into<BoxError>,
{
    type Item = SourceItem<T>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.project().inner.poll_next(cx).map(|o| {
            o.map(|r| match r {
                Ok(v) => Ok(Located::bare(v)),
                Err(e) => Err(Located::bare(SourceError::Item(e.into()))),
            })
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<T, E, S> FusedStream for FallibleSource<S, E>
where
    S: FusedStream<Item = Result<T, E>>,
    E: Into<BoxError>,
{
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}
