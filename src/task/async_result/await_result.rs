//! [`AwaitResultFuture`]: the future of
//! [`AwaitResult::await_result`](super::AwaitResult::await_result).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::FusedFuture;
use pin_project_lite::pin_project;

use super::map_once::MapOnce;

pin_project! {
    /// Future for [`AwaitResult::await_result`](super::AwaitResult::await_result).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct AwaitResultFuture<Fut, F> {
        #[pin]
        inner: MapOnce<Fut, F>,
    }
}

impl<Fut: Future, F> AwaitResultFuture<Fut, F> {
    pub(crate) fn new(future: Fut, handler: F) -> Self {
        AwaitResultFuture {
            inner: MapOnce::new(future, handler),
        }
    }
}

impl<Fut, F, R> Future for AwaitResultFuture<Fut, F>
where
    Fut: Future,
    F: FnOnce(Fut::Output) -> R,
{
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        self.project()
            .inner
            .poll_with(cx, |handler, output| handler(output))
    }
}

impl<Fut, F, R> FusedFuture for AwaitResultFuture<Fut, F>
where
    Fut: Future,
    F: FnOnce(Fut::Output) -> R,
{
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<Fut: fmt::Debug, F> fmt::Debug for AwaitResultFuture<Fut, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwaitResultFuture")
            .field("inner", &self.inner)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::AwaitResult;

    #[tokio::test]
    async fn hands_the_output_to_the_handler() {
        let out = async { Ok::<u32, String>(2) }
            .await_result(|result| match result {
                Ok(n) => n * 10,
                Err(_) => 0,
            })
            .await;
        assert_eq!(out, 20);
        let out = async { Err::<u32, _>("down".to_string()) }
            .await_result(|result| match result {
                Ok(n) => format!("got {n}"),
                Err(e) => format!("failed: {e}"),
            })
            .await;
        assert_eq!(out, "failed: down");
    }

    #[tokio::test]
    async fn works_on_any_future() {
        let out = async { 21 }.await_result(|n| n * 2).await;
        assert_eq!(out, 42);
    }
}
