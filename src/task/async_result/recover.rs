//! [`Recover`]: the future of [`AsyncResultExt::recover`](super::AsyncResultExt::recover).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::{FusedFuture, IntoFuture as TryIntoFuture, TryFuture, TryFutureExt};
use pin_project_lite::pin_project;

use super::map_once::MapOnce;

pin_project! {
    /// Future for [`AsyncResultExt::recover`](super::AsyncResultExt::recover).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Recover<Fut, F> {
        #[pin]
        inner: MapOnce<TryIntoFuture<Fut>, F>,
    }
}

impl<Fut: TryFuture, F> Recover<Fut, F> {
    pub(crate) fn new(future: Fut, f: F) -> Self {
        Recover {
            inner: MapOnce::new(TryFutureExt::into_future(future), f),
        }
    }
}

impl<Fut, F> Future for Recover<Fut, F>
where
    Fut: TryFuture,
    F: FnOnce(Fut::Error) -> Fut::Ok,
{
    type Output = Fut::Ok;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll_with(cx, |f, output| output.unwrap_or_else(f))
    }
}

impl<Fut, F> FusedFuture for Recover<Fut, F>
where
    Fut: TryFuture,
    F: FnOnce(Fut::Error) -> Fut::Ok,
{
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<Fut: fmt::Debug, F> fmt::Debug for Recover<Fut, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recover")
            .field("inner", &self.inner)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::AsyncResultExt;

    #[tokio::test]
    async fn returns_the_closure_value_on_error() {
        let out = async { Err::<u32, _>("cache miss") }
            .recover(|e| e.len() as u32)
            .await;
        assert_eq!(out, 10);
    }

    #[tokio::test]
    async fn keeps_the_success_value_without_calling_the_closure() {
        let mut called = false;
        let out = async { Ok::<u32, &str>(3) }
            .recover(|_| {
                called = true;
                0
            })
            .await;
        assert_eq!(out, 3);
        assert!(!called);
    }
}
