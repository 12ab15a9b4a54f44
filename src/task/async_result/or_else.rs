//! [`OrElse`]: the future of [`AsyncResultExt::then_err`](super::AsyncResultExt::then_err).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::{FusedFuture, IntoFuture as TryIntoFuture, TryFuture, TryFutureExt};
use pin_project_lite::pin_project;

use super::chain::{Chain, Next};

pin_project! {
    /// Future for [`AsyncResultExt::then_err`](super::AsyncResultExt::then_err).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct OrElse<Fut1, Fut2, F> {
        #[pin]
        inner: Chain<TryIntoFuture<Fut1>, TryIntoFuture<Fut2>, F>,
    }
}

impl<Fut1: TryFuture, Fut2: TryFuture, F> OrElse<Fut1, Fut2, F> {
    pub(crate) fn new(future: Fut1, f: F) -> Self {
        OrElse {
            inner: Chain::new(TryFutureExt::into_future(future), f),
        }
    }
}

impl<Fut1, Fut2, F> Future for OrElse<Fut1, Fut2, F>
where
    Fut1: TryFuture,
    Fut2: TryFuture<Ok = Fut1::Ok>,
    F: FnOnce(Fut1::Error) -> Fut2,
{
    type Output = Result<Fut2::Ok, Fut2::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll_with(cx, |f, output| match output {
                Ok(ok) => Next::Done(Ok(ok)),
                Err(e) => Next::Then(TryFutureExt::into_future(f(e))),
            })
    }
}

impl<Fut1, Fut2, F> FusedFuture for OrElse<Fut1, Fut2, F>
where
    Fut1: TryFuture,
    Fut2: TryFuture<Ok = Fut1::Ok>,
    F: FnOnce(Fut1::Error) -> Fut2,
{
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<Fut1: fmt::Debug, Fut2: fmt::Debug, F> fmt::Debug for OrElse<Fut1, Fut2, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrElse")
            .field("inner", &self.inner)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::AsyncResultExt;

    async fn from_replica(primary_error: &str) -> Result<String, u8> {
        Ok(format!("replica (primary: {primary_error})"))
    }

    #[tokio::test]
    async fn recovers_from_an_error_asynchronously() {
        let out = async { Err::<String, _>("primary down") }
            .then_err(|e| async move { from_replica(e).await.map_err(|_| "replica down") })
            .await;
        assert_eq!(out, Ok("replica (primary: primary down)".to_string()));
    }

    #[tokio::test]
    async fn can_change_the_error_type() {
        let out = async { Err::<u32, _>("timeout") }
            .then_err(|_| async { Err::<u32, u16>(503) })
            .await;
        assert_eq!(out, Err(503));
    }

    #[tokio::test]
    async fn never_calls_the_closure_on_success() {
        let mut called = false;
        let out = async { Ok::<_, &str>(1) }
            .then_err(|_| {
                called = true;
                async { Ok::<_, &str>(2) }
            })
            .await;
        assert_eq!(out, Ok(1));
        assert!(!called);
    }
}
