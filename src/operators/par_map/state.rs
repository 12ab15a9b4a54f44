//! [`State`]: the consumer side of every parallel map, from the first poll (which builds
//! the core and spawns the driver) to the end.

use std::collections::VecDeque;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::runtime::Handle;

use super::driver::{AbortOnDrop, Core, Driver, Local, Shared};
use super::error::ParMapError;
use crate::error::ConfigError;
use crate::units::Count;

/// The consumer's handle on a running operator. Dropping it cancels the work: the
/// driver is aborted and the calls in flight are dropped at once (or, if the driver is
/// running them at that instant, as soon as its poll ends).
pub(crate) struct Running<C, T> {
    shared: Arc<Shared<C>>,
    local: Local<T>,
    driver: AbortOnDrop<()>,
    /// `Shared::cancel`, captured where `C: Core` is known, so the public stream types
    /// need no `Core` bounds.
    cancel: fn(&Shared<C>),
}

impl<C, T> Drop for Running<C, T> {
    fn drop(&mut self) {
        self.driver.0.abort();
        (self.cancel)(&self.shared);
    }
}

/// The consumer side of every parallel-map operator. Before the first poll it holds
/// upstream and `f`; the first poll builds the core and spawns the driver, so nothing is
/// pulled before the stream is polled, and the runtime is looked up where it is polled.
/// `T` is the item type (the core's `Item`).
pub(crate) enum State<St, F, C, T> {
    Idle {
        upstream: St,
        f: F,
    },
    Running(Running<C, T>),
    /// The driver could not be spawned: yield `NoRuntime` once, then end.
    NoRuntime,
    Done,
}

impl<St, F, C, T> State<St, F, C, T> {
    pub(crate) fn new(upstream: St, f: F) -> Self {
        State::Idle { upstream, f }
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self, State::Done)
    }

    /// `Ok` before the first poll; a setting named `setting` cannot change after it.
    pub(crate) fn check_unpolled(&self, setting: &'static str) -> Result<(), ConfigError> {
        if matches!(self, State::Idle { .. }) {
            Ok(())
        } else {
            Err(ConfigError::Invalid {
                setting,
                reason: String::from("the stream has already been polled"),
            })
        }
    }

    /// Checks a new setting that only makes sense before the first poll.
    pub(crate) fn check_setting(
        &self,
        setting: &'static str,
        value: Count,
    ) -> Result<NonZeroUsize, ConfigError> {
        let value = value.validate(setting)?;
        self.check_unpolled(setting)?;
        Ok(value)
    }
}

impl<St, F, C: Core<Item = T>, T> State<St, F, C, T> {
    /// The next item: on the first poll, builds the core with `make` (given the runtime
    /// and the flag that is set when the stream is dropped) and spawns the driver on the
    /// current runtime.
    #[inline]
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        make: impl FnOnce(St, F, &Handle, Arc<AtomicBool>) -> C,
    ) -> Poll<Option<T>> {
        if let State::Running(running) = self {
            let polled = running.shared.poll_next(&mut running.local, cx);
            if let Poll::Ready(None) = polled {
                *self = State::Done;
            }
            return polled;
        }
        self.poll_next_cold(cx, make)
    }

    /// The first poll (which starts the work) and the polls after the end.
    #[inline(never)]
    fn poll_next_cold(
        &mut self,
        cx: &mut Context<'_>,
        make: impl FnOnce(St, F, &Handle, Arc<AtomicBool>) -> C,
    ) -> Poll<Option<T>> {
        if matches!(self, State::Idle { .. }) {
            let State::Idle { upstream, f } = std::mem::replace(self, State::Done) else {
                return Poll::Ready(None);
            };
            *self = match Handle::try_current() {
                Ok(handle) => {
                    let stop = Arc::new(AtomicBool::new(false));
                    let core = make(upstream, f, &handle, Arc::clone(&stop));
                    let shared = Shared::new(core, stop);
                    let driver = handle.spawn(Driver {
                        shared: Arc::clone(&shared),
                    });
                    State::Running(Running {
                        shared,
                        local: Local {
                            items: VecDeque::new(),
                            consumed: 0,
                            yielded: false,
                        },
                        driver: AbortOnDrop(driver),
                        cancel: Shared::cancel,
                    })
                }
                Err(_) => State::NoRuntime,
            };
        }
        match self {
            State::Running(running) => {
                let polled = running.shared.poll_next(&mut running.local, cx);
                if let Poll::Ready(None) = polled {
                    *self = State::Done;
                }
                polled
            }
            State::NoRuntime => {
                *self = State::Done;
                Poll::Ready(Some(C::error_item(ParMapError::NoRuntime)))
            }
            State::Idle { .. } | State::Done => Poll::Ready(None),
        }
    }

    pub(crate) fn size_hint(&self) -> (usize, Option<usize>)
    where
        St: Stream,
    {
        match self {
            State::Idle { upstream, .. } => upstream.size_hint(),
            State::Running(running) => running.shared.size_hint(&running.local),
            State::NoRuntime => (1, Some(1)),
            State::Done => (0, Some(0)),
        }
    }
}

impl<St: fmt::Debug, F, C, T> fmt::Debug for State<St, F, C, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Idle { upstream, .. } => f
                .debug_struct("Idle")
                .field("upstream", upstream)
                .finish_non_exhaustive(),
            State::Running(running) => f
                .debug_struct("Running")
                .field("shared", &running.shared)
                .field("held", &running.local.items.len())
                .finish(),
            State::NoRuntime => f.write_str("NoRuntime"),
            State::Done => f.write_str("Done"),
        }
    }
}
