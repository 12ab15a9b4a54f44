//! [`LazySleep`]: one reusable tokio timer for the timed operators, made on first use
//! without ever panicking.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::task::timing::arm_in;

pin_project! {
    /// A tokio [`Sleep`] created by the first [`arm`](LazySleep::arm) and moved to the
    /// armed deadline only when it is polled, so an operator registers one timer for its
    /// whole life and a deadline that is never waited on costs no timer work.
    ///
    /// `tokio::time::sleep_until` panics outside a runtime with the time driver; here that
    /// case makes `arm` return `false` (and log one `tracing` error), and the operator
    /// falls back to its documented timer-less behaviour.
    #[derive(Debug)]
    pub(crate) struct LazySleep {
        #[pin]
        sleep: Option<Sleep>,
        target: Option<Instant>,
        unavailable: bool,
        operator: &'static str,
    }
}

impl LazySleep {
    /// An unarmed timer for `operator` (named in the error log).
    pub(crate) fn new(operator: &'static str) -> Self {
        LazySleep {
            sleep: None,
            target: None,
            unavailable: false,
            operator,
        }
    }

    /// Arms the timer for `at`. `false` when no tokio timer can be made here.
    pub(crate) fn arm(self: Pin<&mut Self>, at: Instant) -> bool {
        let mut this = self.project();
        if *this.unavailable {
            return false;
        }
        if this.sleep.is_none() && !arm_in(this.sleep.as_mut(), at) {
            *this.unavailable = true;
            tracing::error!(
                operator = *this.operator,
                "no tokio runtime with the time driver is running: \
                 the operator goes on without its timer"
            );
            return false;
        }
        *this.target = Some(at);
        true
    }

    /// Forgets the deadline: `poll_elapsed` stays pending until the next `arm`.
    pub(crate) fn disarm(self: Pin<&mut Self>) {
        *self.project().target = None;
    }

    /// Whether a deadline is set and has not been reported yet.
    pub(crate) fn is_armed(&self) -> bool {
        self.target.is_some()
    }

    /// Ready once (then disarmed) when the armed deadline has passed. Pending, without
    /// registering a waker, when the timer is not armed.
    pub(crate) fn poll_elapsed(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let (Some(target), Some(mut sleep)) = (*this.target, this.sleep.as_pin_mut()) else {
            return Poll::Pending;
        };
        if sleep.deadline() != target {
            sleep.as_mut().reset(target);
        }
        ready!(sleep.poll(cx));
        *this.target = None;
        Poll::Ready(())
    }
}
