//! [`MapErr`]: the future of [`AsyncResultExt::map_error`](super::AsyncResultExt::map_error).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::{FusedFuture, IntoFuture as TryIntoFuture, TryFuture, TryFutureExt};
use pin_project_lite::pin_project;

use super::map_once::MapOnce;

pin_project! {
    /// Future for [`AsyncResultExt::map_error`](super::AsyncResultExt::map_error).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct MapErr<Fut, F> {
        #[pin]
        inner: MapOnce<TryIntoFuture<Fut>, F>,
    }
}

impl<Fut: TryFuture, F> MapErr<Fut, F> {
    pub(crate) fn new(future: Fut, f: F) -> Self {
        MapErr {
            inner: MapOnce::new(TryFutureExt::into_future(future), f),
        }
    }
}

impl<Fut, F, E2> Future for MapErr<Fut, F>
where
    Fut: TryFuture,
    F: FnOnce(Fut::Error) -> E2,
{
    type Output = Result<Fut::Ok, E2>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll_with(cx, |f, output| output.map_err(f))
    }
}

impl<Fut, F, E2> FusedFuture for MapErr<Fut, F>
where
    Fut: TryFuture,
    F: FnOnce(Fut::Error) -> E2,
{
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<Fut: fmt::Debug, F> fmt::Debug for MapErr<Fut, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapErr")
            .field("inner", &self.inner)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::AsyncResultExt;

    #[tokio::test]
    async fn maps_the_error() {
        let out = async { Err::<u32, _>(404) }
            .map_error(|code| format!("HTTP {code}"))
            .await;
        assert_eq!(out, Err("HTTP 404".to_string()));
    }

    #[tokio::test]
    async fn never_calls_the_closure_on_success() {
        let mut called = false;
        let out = async { Ok::<_, u16>(7) }
            .map_error(|code| {
                called = true;
                code.to_string()
            })
            .await;
        assert_eq!(out, Ok(7));
        assert!(!called);
    }
}
