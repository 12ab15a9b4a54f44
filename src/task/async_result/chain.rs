//! [`Chain`]: the core of the two-step combinators (poll a first future, then maybe a
//! second one built from its output).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

pin_project! {
    /// A first future, then (if its output asks for it) a second one built by `f`.
    #[project = ChainProj]
    #[project_replace = ChainReplace]
    pub(crate) enum Chain<Fut1, Fut2, F> {
        First {
            #[pin]
            first: Fut1,
            f: F,
        },
        Second {
            #[pin]
            second: Fut2,
        },
        Complete,
    }
}

/// What to do with the first future's output.
pub(crate) enum Next<Fut2, T> {
    /// Run this second future; its output is the chain's output.
    Then(Fut2),
    /// Finish now with this output.
    Done(T),
}

impl<Fut1, Fut2, F> Chain<Fut1, Fut2, F> {
    /// Stores the first future and the function that may build the second.
    pub(crate) fn new(first: Fut1, f: F) -> Self {
        Chain::First { first, f }
    }

    /// `true` once the chain has produced its output.
    pub(crate) fn is_terminated(&self) -> bool {
        matches!(self, Chain::Complete)
    }
}

impl<Fut1: Future, Fut2: Future, F> Chain<Fut1, Fut2, F> {
    /// Polls the first future, hands its output and `f` to `decide`, then polls the
    /// second future if `decide` started one.
    ///
    /// Polled again after completion, it stays pending instead of panicking.
    pub(crate) fn poll_with(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        decide: impl FnOnce(F, Fut1::Output) -> Next<Fut2, Fut2::Output>,
    ) -> Poll<Fut2::Output> {
        if let ChainProj::First { first, .. } = self.as_mut().project() {
            let output = ready!(first.poll(cx));
            // Move `f` out and drop the finished first future before running user code.
            match self.as_mut().project_replace(Chain::Complete) {
                ChainReplace::First { f, .. } => match decide(f, output) {
                    Next::Then(second) => self.set(Chain::Second { second }),
                    Next::Done(done) => return Poll::Ready(done),
                },
                ChainReplace::Second { .. } | ChainReplace::Complete => return Poll::Pending,
            }
        }
        match self.as_mut().project() {
            ChainProj::Second { second } => {
                let output = ready!(second.poll(cx));
                self.set(Chain::Complete);
                Poll::Ready(output)
            }
            ChainProj::First { .. } | ChainProj::Complete => Poll::Pending,
        }
    }
}

impl<Fut1: fmt::Debug, Fut2: fmt::Debug, F> fmt::Debug for Chain<Fut1, Fut2, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Chain::First { first, .. } => f
                .debug_struct("First")
                .field("first", first)
                .finish_non_exhaustive(),
            Chain::Second { second } => f.debug_struct("Second").field("second", second).finish(),
            Chain::Complete => f.write_str("Complete"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::{Ready, ready};
    use std::pin::pin;
    use std::task::Waker;

    type TestChain = Chain<Ready<i32>, Ready<i32>, fn(i32) -> Ready<i32>>;

    fn times_ten(n: i32) -> Ready<i32> {
        ready(n * 10)
    }

    fn decide(f: fn(i32) -> Ready<i32>, n: i32) -> Next<Ready<i32>, i32> {
        if n > 0 {
            Next::Then(f(n))
        } else {
            Next::Done(n)
        }
    }

    #[test]
    fn runs_the_second_future_when_asked() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut chain = pin!(TestChain::new(ready(2), times_ten));
        assert_eq!(chain.as_mut().poll_with(&mut cx, decide), Poll::Ready(20));
        assert!(chain.is_terminated());
        assert_eq!(chain.as_mut().poll_with(&mut cx, decide), Poll::Pending);
    }

    #[test]
    fn finishes_early_when_told() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut chain = pin!(TestChain::new(ready(-1), times_ten));
        assert_eq!(chain.as_mut().poll_with(&mut cx, decide), Poll::Ready(-1));
        assert!(chain.is_terminated());
    }

    #[test]
    fn waits_on_a_pending_second_future() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut polls = 0;
        let second = std::future::poll_fn(move |_| {
            polls += 1;
            if polls < 3 {
                Poll::Pending
            } else {
                Poll::Ready(polls)
            }
        });
        let mut chain = pin!(Chain::new(ready(()), move |()| second));
        assert_eq!(
            chain.as_mut().poll_with(&mut cx, |f, ()| Next::Then(f(()))),
            Poll::Pending
        );
        assert_eq!(
            chain.as_mut().poll_with(&mut cx, |f, ()| Next::Then(f(()))),
            Poll::Pending
        );
        assert_eq!(
            chain.as_mut().poll_with(&mut cx, |f, ()| Next::Then(f(()))),
            Poll::Ready(3)
        );
    }
}
