//! [`Inspect`]: the future of [`AsyncResultExt::inspect_result`](super::AsyncResultExt::inspect_result).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::{FusedFuture, IntoFuture as TryIntoFuture, TryFuture, TryFutureExt};
use pin_project_lite::pin_project;

use super::map_once::MapOnce;

pin_project! {
    /// Future for [`AsyncResultExt::inspect_result`](super::AsyncResultExt::inspect_result).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Inspect<Fut, F> {
        #[pin]
        inner: MapOnce<TryIntoFuture<Fut>, F>,
    }
}

impl<Fut: TryFuture, F> Inspect<Fut, F> {
    pub(crate) fn new(future: Fut, f: F) -> Self {
        Inspect {
            inner: MapOnce::new(TryFutureExt::into_future(future), f),
        }
    }
}

impl<Fut, F> Future for Inspect<Fut, F>
where
    Fut: TryFuture,
    F: FnOnce(&Result<Fut::Ok, Fut::Error>),
{
    type Output = Result<Fut::Ok, Fut::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll_with(cx, |f, output| {
            f(&output);
            output
        })
    }
}

impl<Fut, F> FusedFuture for Inspect<Fut, F>
where
    Fut: TryFuture,
    F: FnOnce(&Result<Fut::Ok, Fut::Error>),
{
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<Fut: fmt::Debug, F> fmt::Debug for Inspect<Fut, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inspect")
            .field("inner", &self.inner)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::AsyncResultExt;

    #[tokio::test]
    async fn sees_success_and_passes_it_on() {
        let mut seen = None;
        let out = async { Ok::<u32, String>(5) }
            .inspect_result(|r| seen = Some(format!("{r:?}")))
            .await;
        assert_eq!(out, Ok(5));
        assert_eq!(seen.as_deref(), Some("Ok(5)"));
    }

    #[tokio::test]
    async fn sees_error_and_passes_it_on() {
        let mut seen = None;
        let out = async { Err::<u32, _>("boom".to_string()) }
            .inspect_result(|r| seen = Some(format!("{r:?}")))
            .await;
        assert_eq!(out, Err("boom".to_string()));
        assert_eq!(seen.as_deref(), Some("Err(\"boom\")"));
    }
}
