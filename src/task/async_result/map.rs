//! [`Map`]: the future of [`AsyncResultExt::map_value`](super::AsyncResultExt::map_value).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::{FusedFuture, IntoFuture as TryIntoFuture, TryFuture, TryFutureExt};
use pin_project_lite::pin_project;

use super::map_once::MapOnce;

pin_project! {
    /// Future for [`AsyncResultExt::map_value`](super::AsyncResultExt::map_value).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Map<Fut, F> {
        #[pin]
        inner: MapOnce<TryIntoFuture<Fut>, F>,
    }
}

impl<Fut: TryFuture, F> Map<Fut, F> {
    pub(crate) fn new(future: Fut, f: F) -> Self {
        Map {
            inner: MapOnce::new(TryFutureExt::into_future(future), f),
        }
    }
}

impl<Fut, F, U> Future for Map<Fut, F>
where
    Fut: TryFuture,
    F: FnOnce(Fut::Ok) -> U,
{
    type Output = Result<U, Fut::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll_with(cx, |f, output| output.map(f))
    }
}

impl<Fut, F, U> FusedFuture for Map<Fut, F>
where
    Fut: TryFuture,
    F: FnOnce(Fut::Ok) -> U,
{
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<Fut: fmt::Debug, F> fmt::Debug for Map<Fut, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map").field("inner", &self.inner).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::AsyncResultExt;

    #[tokio::test]
    async fn maps_the_success_value() {
        let out = async { Ok::<_, String>(20) }.map_value(|n| n * 2 + 2).await;
        assert_eq!(out, Ok(42));
    }

    #[tokio::test]
    async fn never_calls_the_closure_on_error() {
        let mut called = false;
        let out = async { Err::<u32, _>("offline") }
            .map_value(|n| {
                called = true;
                n + 1
            })
            .await;
        assert_eq!(out, Err("offline"));
        assert!(!called);
    }

    #[tokio::test]
    async fn changes_the_success_type() {
        let out = async { Ok::<_, ()>("hello") }.map_value(str::len).await;
        assert_eq!(out, Ok(5));
    }
}
