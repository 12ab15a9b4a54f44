//! Sequence operators: restore order by timestamp, by sequence id or by a comparator, and
//! report what could not be put in order.
//!
//! Every operator of this family yields `Result<_, SequenceError<T>>`. The `Ok` side of
//! [`order_by_timestamp`](crate::operators::DataflowExt::order_by_timestamp),
//! [`detect_gaps`](crate::operators::DataflowExt::detect_gaps) and
//! [`reorder_by_id`](crate::operators::DataflowExt::reorder_by_id) is a [`Sequenced`]: an
//! element in order, or a report (late element, gap, duplicate, already-passed id) that
//! the caller can read instead of losing it. The `Err` side only appears when a user
//! closure panicked (or a timer could not be created); it is the last item of the stream
//! and hands back every element the operator still held.
//!
//! Each operator counts what it did in a [`SequenceCounts`], readable at any time through
//! its `counts()` method. For every operator, `items_in == emitted + late + duplicates +
//! already_passed + buffered + handed_back`.

use std::convert::Infallible;
use std::fmt;

use crate::error::panic_message;
use crate::error::{ConfigError, TaskError};
use crate::units::Count;

mod detect_gaps;
mod order_by_timestamp;
mod reorder_by_id;
mod sort_bounded;
mod sort_chunks;

pub use detect_gaps::DetectGaps;
pub use order_by_timestamp::{DEFAULT_MAX_BUFFERED, OrderByTimestamp};
pub use reorder_by_id::{ReorderById, ReorderConfig};
pub use sort_bounded::SortBounded;
pub use sort_chunks::SortChunks;

/// The largest buffer bound a sequence operator accepts (`max_buffered`, a sort buffer, a
/// sort chunk): 16 Mi elements. A bound is what keeps a permanent gap, or a stream that
/// never comes back in order, from growing the buffer forever; `usize::MAX` would be none.
pub const MAX_BUFFERED: usize = 1 << 24;

/// A buffer bound named `setting`: at least 1, at most [`MAX_BUFFERED`].
pub(crate) fn buffer_bound(count: Count, setting: &'static str) -> Result<usize, ConfigError> {
    let n = count.validate(setting)?.get();
    ConfigError::check_range(setting, n as u64, 1, MAX_BUFFERED as u64)?;
    Ok(n)
}

/// One output of a sequence operator: an element in order, or a report about the sequence.
///
/// `K` is the position type: `i64` timestamps for
/// [`order_by_timestamp`](crate::operators::DataflowExt::order_by_timestamp) and
/// [`detect_gaps`](crate::operators::DataflowExt::detect_gaps), `u64` ids for
/// [`reorder_by_id`](crate::operators::DataflowExt::reorder_by_id).
///
/// # Examples
///
/// ```
/// use sweet_async::operators::Sequenced;
///
/// let out: Vec<Sequenced<&str, u64>> = vec![
///     Sequenced::Item("a"),
///     Sequenced::Gap { from: 1, to: 2 },
///     Sequenced::Duplicate("a"),
/// ];
/// let items: Vec<_> = out.iter().filter_map(Sequenced::as_item).collect();
/// assert_eq!(items, [&"a"]);
/// assert_eq!(out[1].gap(), Some((1, 2)));
/// assert_eq!(out[2].clone().into_element(), Some("a"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Sequenced<T, K = i64> {
    /// An element, in sequence order.
    Item(T),
    /// An element that arrived behind the last emitted timestamp, so it cannot be emitted
    /// in order (`order_by_timestamp`). It is handed over here instead of being dropped.
    Late(T),
    /// A hole in the sequence.
    ///
    /// For `reorder_by_id`: the ids `from..=to` never arrived in time and were given up.
    /// For `detect_gaps`: two consecutive elements have timestamps `from` and `to`, more
    /// than the threshold apart, and nothing arrived in between.
    Gap {
        /// First missing id, or the timestamp of the element before the gap.
        from: K,
        /// Last missing id, or the timestamp of the element after the gap.
        to: K,
    },
    /// An element whose id is already waiting in the reorder buffer (`reorder_by_id`).
    Duplicate(T),
    /// An element whose id was already emitted or given up in a gap (`reorder_by_id`).
    AlreadyPassed(T),
}

impl<T, K> Sequenced<T, K> {
    /// `true` for [`Sequenced::Item`].
    pub fn is_item(&self) -> bool {
        matches!(self, Sequenced::Item(_))
    }

    /// `true` for [`Sequenced::Late`].
    pub fn is_late(&self) -> bool {
        matches!(self, Sequenced::Late(_))
    }

    /// `true` for [`Sequenced::Gap`].
    pub fn is_gap(&self) -> bool {
        matches!(self, Sequenced::Gap { .. })
    }

    /// `true` for [`Sequenced::Duplicate`].
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Sequenced::Duplicate(_))
    }

    /// `true` for [`Sequenced::AlreadyPassed`].
    pub fn is_already_passed(&self) -> bool {
        matches!(self, Sequenced::AlreadyPassed(_))
    }

    /// The element of an [`Item`](Sequenced::Item), if this is one.
    pub fn as_item(&self) -> Option<&T> {
        match self {
            Sequenced::Item(x) => Some(x),
            _ => None,
        }
    }

    /// The element of an [`Item`](Sequenced::Item), if this is one.
    pub fn into_item(self) -> Option<T> {
        match self {
            Sequenced::Item(x) => Some(x),
            _ => None,
        }
    }

    /// The element of any variant that carries one (item, late, duplicate, already
    /// passed); `None` for a gap.
    pub fn into_element(self) -> Option<T> {
        match self {
            Sequenced::Item(x)
            | Sequenced::Late(x)
            | Sequenced::Duplicate(x)
            | Sequenced::AlreadyPassed(x) => Some(x),
            Sequenced::Gap { .. } => None,
        }
    }

    /// The `(from, to)` range of a [`Gap`](Sequenced::Gap).
    pub fn gap(&self) -> Option<(K, K)>
    where
        K: Copy,
    {
        match self {
            Sequenced::Gap { from, to } => Some((*from, *to)),
            _ => None,
        }
    }

    /// Maps the element of every element-carrying variant, keeping the variant.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Sequenced<U, K> {
        match self {
            Sequenced::Item(x) => Sequenced::Item(f(x)),
            Sequenced::Late(x) => Sequenced::Late(f(x)),
            Sequenced::Duplicate(x) => Sequenced::Duplicate(f(x)),
            Sequenced::AlreadyPassed(x) => Sequenced::AlreadyPassed(f(x)),
            Sequenced::Gap { from, to } => Sequenced::Gap { from, to },
        }
    }
}

/// A sequence operator stopped: a user closure panicked, or a timer had no runtime.
///
/// It is always the last item of its stream, and it hands back every element the
/// operator still held ([`items`](SequenceError::items)), so nothing is lost.
pub struct SequenceError<T> {
    // Boxed: errors are rare, and a small error keeps every `Ok` item small.
    inner: Box<ErrorInner<T>>,
}

struct ErrorInner<T> {
    operator: &'static str,
    error: TaskError<Infallible>,
    items: Vec<T>,
}

impl<T> SequenceError<T> {
    pub(crate) fn new(operator: &'static str, error: TaskError<Infallible>, items: Vec<T>) -> Self {
        SequenceError {
            inner: Box::new(ErrorInner {
                operator,
                error,
                items,
            }),
        }
    }

    /// The operator that stopped, e.g. `"reorder_by_id"`.
    pub fn operator(&self) -> &'static str {
        self.inner.operator
    }

    /// Why it stopped: [`TaskError::Panicked`] with the panic message, or
    /// [`TaskError::NoRuntime`] when a timeout needed a tokio timer and none was available.
    /// (The user-error type is [`Infallible`]: these operators run no fallible user work;
    /// [`TaskError::map_user_error`] converts it to any other.)
    pub fn error(&self) -> &TaskError<Infallible> {
        &self.inner.error
    }

    /// The elements the operator held when it stopped: the element being processed first,
    /// then the buffered ones (in the operator's order where it does not need the user's
    /// closure to know it, otherwise in no particular order).
    pub fn items(&self) -> &[T] {
        &self.inner.items
    }

    /// Consumes the error, returning the elements it hands back.
    pub fn into_items(self) -> Vec<T> {
        self.inner.items
    }

    /// Consumes the error, returning the task error and the elements handed back.
    pub fn into_parts(self) -> (TaskError<Infallible>, Vec<T>) {
        let inner = *self.inner;
        (inner.error, inner.items)
    }
}

impl<T> fmt::Debug for SequenceError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SequenceError")
            .field("operator", &self.inner.operator)
            .field("error", &self.inner.error)
            .field("items", &self.inner.items.len())
            .finish()
    }
}

impl<T> fmt::Display for SequenceError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} stopped: {} ({} held items handed back)",
            self.inner.operator,
            self.inner.error,
            self.inner.items.len()
        )
    }
}

impl<T> std::error::Error for SequenceError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.inner.error)
    }
}

/// What a sequence operator did so far, from its `counts()` method.
///
/// Fields an operator does not use stay zero. For every operator
/// `items_in == emitted + late + duplicates + already_passed + buffered + handed_back`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SequenceCounts {
    /// Elements pulled from upstream.
    pub items_in: u64,
    /// Elements emitted in order ([`Sequenced::Item`], or sorted items).
    pub emitted: u64,
    /// Elements that arrived out of order: behind the largest timestamp seen
    /// (`order_by_timestamp`), or ahead of the next expected id (`reorder_by_id`).
    pub out_of_order: u64,
    /// Elements emitted as [`Sequenced::Late`].
    pub late: u64,
    /// Elements emitted ahead of the watermark because the buffer was full
    /// (`order_by_timestamp`).
    pub forced: u64,
    /// Gap markers emitted.
    pub gaps: u64,
    /// Ids covered by the gap markers (`reorder_by_id`).
    pub missing: u64,
    /// Elements emitted as [`Sequenced::Duplicate`].
    pub duplicates: u64,
    /// Elements emitted as [`Sequenced::AlreadyPassed`].
    pub already_passed: u64,
    /// Elements held right now.
    pub buffered: u64,
    /// The most elements held at once, between two polls.
    pub peak_buffered: u64,
    /// Elements handed back in a [`SequenceError`].
    pub handed_back: u64,
}

impl SequenceCounts {
    #[inline]
    pub(crate) fn set_buffered(&mut self, n: usize) {
        self.buffered = n as u64;
        self.peak_buffered = self.peak_buffered.max(self.buffered);
    }
}

/// Runs a user closure, turning a panic into a [`TaskError::Panicked`].
fn guard<R>(f: impl FnOnce() -> R) -> Result<R, TaskError<Infallible>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        TaskError::Panicked {
            message: panic_message(payload.as_ref()),
        }
    })
}

/// Whether a sequence operator still pulls from upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Pulling from upstream.
    Running,
    /// Upstream ended: flushing what is buffered.
    Draining,
    /// Finished (or stopped after an error): only `None` from now on.
    Done,
}

/// `size_hint` of an operator that turns every input into exactly one output (plus at most
/// `extra_per_item` reports per input) and holds `held` elements; `drain_lower` is what is
/// sure to come out once upstream has ended.
///
/// While upstream may still be pulled, the lower bound is at most 1: a panicking user
/// closure ends the stream with a single error item.
fn hint(
    phase: Phase,
    held: usize,
    drain_lower: usize,
    inner: (usize, Option<usize>),
    extra_per_item: usize,
) -> (usize, Option<usize>) {
    let factor = extra_per_item.saturating_add(1);
    match phase {
        Phase::Done => (0, Some(0)),
        Phase::Draining => (drain_lower, held.checked_mul(factor)),
        Phase::Running => {
            let lower = held.saturating_add(inner.0).min(1);
            let upper = inner
                .1
                .and_then(|u| u.checked_add(held))
                .and_then(|u| u.checked_mul(factor));
            (lower, upper)
        }
    }
}
