//! [`AsyncParMap`]: the stream behind [`ParMap`](super::ParMap) and
//! [`ParMapUnordered`](super::ParMapUnordered), which differ only in the order `O` their
//! results come out in.

use std::fmt;
use std::future::Future;
use std::task::{Context, Poll};

use futures::Stream;

use super::async_core::AsyncCore;
use super::error::ParMapError;
use super::limits::Limits;
use super::order::Order;
use super::state::State;
use crate::error::ConfigError;
use crate::units::Count;

/// What an async parallel map yields.
pub(crate) type Output<Fut> = Result<<Fut as Future>::Output, ParMapError>;

/// The consumer side of an async parallel map, with its settings.
pub(crate) struct AsyncParMap<St, Fut: Future, F, O> {
    state: State<St, F, AsyncCore<St, F, Fut, O>, Output<Fut>>,
    limits: Limits,
}

impl<St, Fut: Future, F, O> AsyncParMap<St, Fut, F, O> {
    pub(crate) fn new(upstream: St, limits: Limits, f: F) -> Self {
        AsyncParMap {
            state: State::new(upstream, f),
            limits,
        }
    }

    /// Sets the output buffer, before the first poll.
    pub(crate) fn set_output_buffer(&mut self, size: Count) -> Result<(), ConfigError> {
        self.limits.buffer = self.state.check_setting("output buffer", size)?;
        Ok(())
    }

    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state.is_done()
    }
}

impl<St, Fut, F, O> AsyncParMap<St, Fut, F, O>
where
    St: Stream + Send + 'static,
    F: FnMut(St::Item) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
    O: Order<Output<Fut>>,
{
    /// The next result; the first poll builds the core and spawns its driver.
    #[inline]
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Output<Fut>>> {
        let limits = self.limits;
        self.state
            .poll_next(cx, |upstream, f, _, _| AsyncCore::new(upstream, f, limits))
    }

    pub(crate) fn size_hint(&self) -> (usize, Option<usize>) {
        self.state.size_hint()
    }
}

impl<St: fmt::Debug, Fut: Future, F, O> fmt::Debug for AsyncParMap<St, Fut, F, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncParMap")
            .field("state", &self.state)
            .field("limits", &self.limits)
            .finish()
    }
}
