//! [`MapOnce`]: the core of the one-step combinators (poll a future, then apply a
//! one-shot function to its output).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

pin_project! {
    /// A future whose output is handed, once, to the function stored next to it.
    #[project = MapOnceProj]
    #[project_replace = MapOnceReplace]
    pub(crate) enum MapOnce<Fut, F> {
        Incomplete {
            #[pin]
            future: Fut,
            f: F,
        },
        Complete,
    }
}

impl<Fut, F> MapOnce<Fut, F> {
    /// Stores `future` and the function that will receive its output.
    pub(crate) fn new(future: Fut, f: F) -> Self {
        MapOnce::Incomplete { future, f }
    }

    /// `true` once the output has been handed over.
    pub(crate) fn is_terminated(&self) -> bool {
        matches!(self, MapOnce::Complete)
    }
}

impl<Fut: Future, F> MapOnce<Fut, F> {
    /// Polls the future; when it is ready, drops it and returns `apply(f, output)`.
    ///
    /// Polled again after that, it stays pending (like `Fuse`) instead of panicking.
    pub(crate) fn poll_with<T>(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        apply: impl FnOnce(F, Fut::Output) -> T,
    ) -> Poll<T> {
        let output = match self.as_mut().project() {
            MapOnceProj::Incomplete { future, .. } => ready!(future.poll(cx)),
            MapOnceProj::Complete => return Poll::Pending,
        };
        // Move `f` out and drop the finished future before running user code.
        match self.project_replace(MapOnce::Complete) {
            MapOnceReplace::Incomplete { f, .. } => Poll::Ready(apply(f, output)),
            MapOnceReplace::Complete => Poll::Pending,
        }
    }
}

impl<Fut: fmt::Debug, F> fmt::Debug for MapOnce<Fut, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapOnce::Incomplete { future, .. } => f
                .debug_struct("Incomplete")
                .field("future", future)
                .finish_non_exhaustive(),
            MapOnce::Complete => f.write_str("Complete"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::task::Waker;

    #[test]
    fn applies_once_then_stays_pending() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut fut = pin!(MapOnce::new(std::future::ready(20), |n: i32| n + 1));
        assert!(!fut.is_terminated());
        assert_eq!(
            fut.as_mut().poll_with(&mut cx, |f, n| f(n)),
            Poll::Ready(21)
        );
        assert!(fut.is_terminated());
        assert_eq!(fut.as_mut().poll_with(&mut cx, |f, n| f(n)), Poll::Pending);
    }

    #[test]
    fn debug_skips_the_closure() {
        let fut = MapOnce::new(std::future::ready(1), |n: i32| n);
        assert_eq!(
            format!("{fut:?}"),
            "Incomplete { future: Ready(Some(1)), .. }"
        );
    }
}
