//! [`AndThen`]: the future of [`AsyncResultExt::then_ok`](super::AsyncResultExt::then_ok).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::{FusedFuture, IntoFuture as TryIntoFuture, TryFuture, TryFutureExt};
use pin_project_lite::pin_project;

use super::chain::{Chain, Next};

pin_project! {
    /// Future for [`AsyncResultExt::then_ok`](super::AsyncResultExt::then_ok).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct AndThen<Fut1, Fut2, F> {
        #[pin]
        inner: Chain<TryIntoFuture<Fut1>, TryIntoFuture<Fut2>, F>,
    }
}

impl<Fut1: TryFuture, Fut2: TryFuture, F> AndThen<Fut1, Fut2, F> {
    pub(crate) fn new(future: Fut1, f: F) -> Self {
        AndThen {
            inner: Chain::new(TryFutureExt::into_future(future), f),
        }
    }
}

impl<Fut1, Fut2, F> Future for AndThen<Fut1, Fut2, F>
where
    Fut1: TryFuture,
    Fut2: TryFuture<Error = Fut1::Error>,
    F: FnOnce(Fut1::Ok) -> Fut2,
{
    type Output = Result<Fut2::Ok, Fut2::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll_with(cx, |f, output| match output {
                Ok(ok) => Next::Then(TryFutureExt::into_future(f(ok))),
                Err(e) => Next::Done(Err(e)),
            })
    }
}

impl<Fut1, Fut2, F> FusedFuture for AndThen<Fut1, Fut2, F>
where
    Fut1: TryFuture,
    Fut2: TryFuture<Error = Fut1::Error>,
    F: FnOnce(Fut1::Ok) -> Fut2,
{
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<Fut1: fmt::Debug, Fut2: fmt::Debug, F> fmt::Debug for AndThen<Fut1, Fut2, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AndThen")
            .field("inner", &self.inner)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::AsyncResultExt;
    use std::time::Duration;

    async fn double_later(n: u32) -> Result<u32, String> {
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok(n * 2)
    }

    async fn reject_odd(n: u32) -> Result<u32, String> {
        if n % 2 == 1 {
            Err(format!("{n} is odd"))
        } else {
            Ok(n)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn chains_two_async_steps() {
        let start = tokio::time::Instant::now();
        let out = async { Ok::<u32, String>(5) }
            .then_ok(double_later)
            .then_ok(double_later)
            .await;
        assert_eq!(out, Ok(20));
        assert_eq!(start.elapsed(), Duration::from_millis(20));
    }

    #[tokio::test]
    async fn an_error_in_the_second_step_comes_out() {
        let out = async { Ok::<u32, String>(3) }.then_ok(reject_odd).await;
        assert_eq!(out, Err("3 is odd".to_string()));
    }

    #[tokio::test]
    async fn never_calls_the_closure_on_error() {
        let mut called = false;
        let out = async { Err::<u32, _>("no input".to_string()) }
            .then_ok(|n| {
                called = true;
                double_later(n)
            })
            .await;
        assert_eq!(out, Err("no input".to_string()));
        assert!(!called);
    }
}
