//! [`lift`] and its future [`Lift`]: any future as an AsyncResult that cannot fail.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::FusedFuture;
use pin_project_lite::pin_project;

pin_project! {
    /// Future for [`lift`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Lift<Fut> {
        #[pin]
        future: Fut,
    }
}

impl<Fut: Future> Lift<Fut> {
    pub(crate) fn new(future: Fut) -> Self {
        Lift { future }
    }
}

/// Lifts any future into an AsyncResult: its output `T` becomes `Ok(T)`, with the
/// error type [`Infallible`], so the [`AsyncResultExt`](super::AsyncResultExt)
/// combinators apply to it.
///
/// Use [`AsyncResultExt::map_error`](super::AsyncResultExt::map_error) with
/// `|never| match never {}` to give it the error type of the chain it joins.
///
/// # Examples
///
/// ```
/// use sweet_async::prelude::*;
/// use sweet_async::task::async_result::lift;
///
/// async fn count_rows() -> usize {
///     1_000
/// }
///
/// async fn upload(rows: usize) -> Result<String, String> {
///     Ok(format!("uploaded {rows} rows"))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let report = lift(count_rows())
///     .map_error(|never| match never {})
///     .then_ok(upload)
///     .await;
/// assert_eq!(report, Ok("uploaded 1000 rows".to_string()));
/// # }
/// ```
pub fn lift<Fut: Future>(future: Fut) -> Lift<Fut> {
    Lift::new(future)
}

impl<Fut: Future> Future for Lift<Fut> {
    type Output = Result<Fut::Output, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().future.poll(cx).map(Ok)
    }
}

impl<Fut: FusedFuture> FusedFuture for Lift<Fut> {
    fn is_terminated(&self) -> bool {
        self.future.is_terminated()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::async_result::AsyncResultExt;

    #[tokio::test]
    async fn wraps_the_output_in_ok() {
        assert_eq!(lift(async { 7 }).await, Ok(7));
        let out = lift(async { "ready" }).map_value(str::len).await;
        assert_eq!(out, Ok(5));
    }

    #[test]
    fn fused_when_the_inner_future_is() {
        use futures::FutureExt;
        let lifted = lift(async { 1 }.fuse());
        assert!(!lifted.is_terminated());
    }
}
