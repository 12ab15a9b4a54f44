//! Windows over any stream: tumbling, sliding and session windows by count, by processing
//! time and by event time, with Apache Flink's definitions.
//!
//! The prose and examples live on the methods that build them:
//! [`DataflowExt::event_time_window`](crate::operators::DataflowExt::event_time_window),
//! [`processing_time_window`](crate::operators::DataflowExt::processing_time_window),
//! [`count_window`](crate::operators::DataflowExt::count_window) and
//! [`key_by`](crate::operators::DataflowExt::key_by).

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::ack::{Acks, TakeAcks};
use crate::error::TaskError;
use crate::error::panic_message;

mod aggregate;
mod assigner;
mod count;
mod event_time;
mod keep_acks;
mod keyed;
mod processing_time;
mod session;
mod spec;
mod store;
mod watermark;

pub use aggregate::{Contents, Fold, FoldWithMerge, Reduce, WindowAggregate};
pub use assigner::{Sliding, Tumbling};
pub use count::CountWindow;
pub use event_time::EventTimeWindow;
pub use keep_acks::KeepAcks;
pub use keyed::{KeyBy, KeySelector, NoKey};
pub use processing_time::ProcessingTimeWindow;
pub use session::Session;
pub use spec::{
    CountSpec, DEFAULT_MAX_HELD_ELEMENTS, DEFAULT_MAX_OPEN_WINDOWS, EventTimeSpec,
    MAX_WINDOWS_PER_ELEMENT, NonMerging, ProcessingTimeSpec,
};
// The event-time machinery, reused by the windows over timed streams and the window join.
pub(crate) use spec::TimeConfig;
pub(crate) use store::TimeCore;

/// Elements an operator pulls in one poll without producing output before it yields to the
/// executor, so an endless ready upstream cannot starve other tasks.
pub(crate) const YIELD_EVERY: u32 = 1024;

/// Why a window was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FireReason {
    /// Event time: the watermark reached the window's last timestamp (`W >= end - 1`).
    Watermark,
    /// Processing time: the clock reached the window's end.
    Timer,
    /// Count windows: the window's element count (or slide) was reached.
    Count,
    /// The input ended; every open window fires.
    EndOfStream,
    /// The `max_open_windows` bound was hit: the window with the smallest end fired early.
    Evicted,
    /// The open windows held `max_held_elements` elements (an aggregate that keeps its
    /// elements, like the default contents): the window with the smallest end fired
    /// early, so that a watermark that stops advancing cannot grow memory without bound.
    /// Later elements of that window go to a new firing of the same bounds.
    Full,
    /// An element within the allowed lateness arrived for a window the watermark has
    /// already passed: the window fires again at once with its updated value.
    LateUpdate,
}

impl fmt::Display for FireReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FireReason::Watermark => "watermark",
            FireReason::Timer => "timer",
            FireReason::Count => "count",
            FireReason::EndOfStream => "end of stream",
            FireReason::Evicted => "evicted",
            FireReason::Full => "full",
            FireReason::LateUpdate => "late update",
        })
    }
}

/// One fired window: its key, bounds, value and why it fired.
///
/// `P` is the type of the bounds: `i64` event time (the user's unit), a tokio
/// [`Instant`](tokio::time::Instant) for processing time, and `u64` input positions for
/// count windows. The window covers `start..end` (end exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Window<K, A, P = i64> {
    /// The key (`()` for a stream without `key_by`).
    pub key: K,
    /// First instant (or position) the window covers.
    pub start: P,
    /// First instant (or position) after the window.
    pub end: P,
    /// The contents (`Vec<T>`, in arrival order) or the aggregate.
    pub value: A,
    /// Elements that went into `value`.
    pub count: u64,
    /// Why the window fired now.
    pub reason: FireReason,
    /// `true` when this firing repeats elements an earlier firing already emitted: a late
    /// update of the same window, or a session that absorbed a session already emitted.
    /// The newer firing replaces the older ones.
    pub update: bool,
}

impl<K, A, P> Window<K, A, P> {
    /// `true` when this firing replaces an earlier one (see [`Window::update`]).
    pub fn is_update(&self) -> bool {
        self.update
    }

    /// Maps the value, keeping key, bounds and reason.
    pub fn map<B>(self, f: impl FnOnce(A) -> B) -> Window<K, B, P> {
        Window {
            key: self.key,
            start: self.start,
            end: self.end,
            value: f(self.value),
            count: self.count,
            reason: self.reason,
            update: self.update,
        }
    }

    pub(crate) fn map_bounds<Q>(self, mut f: impl FnMut(P) -> Q) -> Window<K, A, Q> {
        Window {
            key: self.key,
            start: f(self.start),
            end: f(self.end),
            value: self.value,
            count: self.count,
            reason: self.reason,
            update: self.update,
        }
    }
}

impl<K, A: TakeAcks, P> TakeAcks for Window<K, A, P> {
    fn take_acks(&mut self) -> Acks {
        self.value.take_acks()
    }
}

impl<K, A: TakeAcks, T: TakeAcks, P> TakeAcks for WindowEvent<K, A, T, P> {
    fn take_acks(&mut self) -> Acks {
        match self {
            WindowEvent::Fired(w) => w.take_acks(),
            WindowEvent::Late(t) => t.take_acks(),
            WindowEvent::Error(_) => Acks::none(),
        }
    }
}

/// What a window stream yields: a fired window, a late element, or the error that ended it.
///
/// Late elements come out of the same stream as the windows, so none can be lost in an
/// unread side channel.
#[derive(Debug)]
#[non_exhaustive]
pub enum WindowEvent<K, A, T, P = i64> {
    /// A window fired.
    Fired(Window<K, A, P>),
    /// An element that arrived after every window it belongs to was closed
    /// (`window end - 1 + allowed_lateness <= watermark`). Event time only.
    Late(T),
    /// A user closure panicked (or a session aggregate could not merge): the stream ends
    /// after this item and the windows still open are discarded (counted in
    /// [`WindowStats::discarded`]).
    Error(TaskError),
}

impl<K, A, T, P> WindowEvent<K, A, T, P> {
    /// `true` for [`WindowEvent::Fired`].
    pub fn is_fired(&self) -> bool {
        matches!(self, WindowEvent::Fired(_))
    }

    /// `true` for [`WindowEvent::Late`].
    pub fn is_late(&self) -> bool {
        matches!(self, WindowEvent::Late(_))
    }

    /// `true` for [`WindowEvent::Error`].
    pub fn is_error(&self) -> bool {
        matches!(self, WindowEvent::Error(_))
    }

    /// The fired window, if this is one.
    pub fn window(&self) -> Option<&Window<K, A, P>> {
        match self {
            WindowEvent::Fired(w) => Some(w),
            _ => None,
        }
    }

    /// Consumes the event and returns the fired window, if this is one.
    pub fn into_window(self) -> Option<Window<K, A, P>> {
        match self {
            WindowEvent::Fired(w) => Some(w),
            _ => None,
        }
    }

    /// The late element, if this is one.
    pub fn late(&self) -> Option<&T> {
        match self {
            WindowEvent::Late(t) => Some(t),
            _ => None,
        }
    }

    /// Consumes the event and returns the late element, if this is one.
    pub fn into_late(self) -> Option<T> {
        match self {
            WindowEvent::Late(t) => Some(t),
            _ => None,
        }
    }

    /// Consumes the event and returns the error, if this is one.
    pub fn into_error(self) -> Option<TaskError> {
        match self {
            WindowEvent::Error(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn map_bounds<Q>(self, f: impl FnMut(P) -> Q) -> WindowEvent<K, A, T, Q> {
        match self {
            WindowEvent::Fired(w) => WindowEvent::Fired(w.map_bounds(f)),
            WindowEvent::Late(t) => WindowEvent::Late(t),
            WindowEvent::Error(e) => WindowEvent::Error(e),
        }
    }
}

/// Counters of a window operator, read with `stats()` on the stream.
///
/// Accounting: every element pulled (`elements`) is either in the open windows
/// (`held_elements` counts element-window pairs), in fired windows, in the late output
/// (`late`), or in `discarded` after an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WindowStats {
    /// Elements pulled from upstream.
    pub elements: u64,
    /// Windows emitted (updates and evictions included).
    pub fired: u64,
    /// Emitted windows that replace an earlier firing ([`Window::update`]).
    pub updates: u64,
    /// Elements sent to the late output.
    pub late: u64,
    /// Windows closed early by the `max_open_windows` bound.
    pub evicted: u64,
    /// Windows fired early by the `max_held_elements` bound ([`FireReason::Full`]).
    pub full: u64,
    /// Sliding windows only: element-window pairs not formed because that one window was
    /// already closed while another window of the element was still open (Flink adds the
    /// element to the open windows only; it is not late).
    pub skipped: u64,
    /// Windows currently open (fired windows kept for allowed lateness included).
    pub open_windows: usize,
    /// Element-window pairs held by the open windows (for a fold, folded into them).
    pub held_elements: u64,
    /// Element-window pairs dropped when the stream ended on an error.
    pub discarded: u64,
}

/// Why a window operator stopped, before it becomes a [`TaskError`]; small, because it
/// travels on the per-element path.
pub(crate) enum Fault {
    /// User code panicked.
    Panicked(Box<dyn Any + Send>),
    /// A session merge needed [`WindowAggregate::merge`], which returned `None`.
    Unmergeable,
    /// The operator lost track of an open window (a bug).
    Lost,
}

impl From<Fault> for TaskError {
    #[cold]
    fn from(fault: Fault) -> TaskError {
        match fault {
            Fault::Panicked(payload) => TaskError::Panicked {
                message: panic_message(&*payload),
            },
            Fault::Unmergeable => TaskError::Config(crate::error::ConfigError::Conflict {
                reason: String::from(
                    "session windows need an aggregate that can merge \
                     (WindowAggregate::merge returned None)",
                ),
            }),
            Fault::Lost => TaskError::Panicked {
                message: String::from("window operator lost track of an open window (a bug)"),
            },
        }
    }
}

/// Runs the user code of one step (a closure returning a `Fault` of its own), turning a
/// panic into [`Fault::Panicked`].
#[inline]
pub(crate) fn catch<R>(f: impl FnOnce() -> Result<R, Fault>) -> Result<R, Fault> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(Fault::Panicked(payload)),
    }
}

/// The error of choosing an aggregate after the stream was polled.
pub(crate) fn polled_before_aggregate() -> TaskError {
    TaskError::Config(crate::error::ConfigError::Conflict {
        reason: String::from(
            "fold/reduce/aggregate must be chosen before the window stream is polled",
        ),
    })
}
