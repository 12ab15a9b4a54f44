//! Timed streams: elements with their event time, and watermarks travelling between them.
//!
//! A window over a plain stream computes its watermark from the timestamps it sees. When a
//! stream is split (by key into partitions, or into branches), each part sees only some of
//! the elements, and a watermark computed from them would lag or jump differently from the
//! whole stream's. A [`Timed`] stream carries the watermark explicitly, as Flink's
//! `StreamRecord`s and `Watermark`s do: [`with_watermarks`](crate::operators::DataflowExt::with_watermarks)
//! makes one from any stream, the joins, [`timed_window`](crate::operators::DataflowExt::timed_window),
//! [`partition`](crate::operators::DataflowExt::partition) and
//! [`fan_out`](crate::operators::DataflowExt::fan_out) read and forward the watermarks, so
//! every part of a split stream closes its windows exactly when the whole stream would.

mod clock;
mod filter_map;
mod window;
mod with_watermarks;

pub(crate) use clock::TwoClocks;
pub use filter_map::TimedFilterMap;
pub use window::TimedWindow;
pub use with_watermarks::WithWatermarks;

/// One item of a timed stream: an element with its event time, or a watermark.
///
/// `Watermark(w)` promises that no element with a timestamp `<= w` follows (Flink's
/// `Watermark`); watermarks only grow. The end of the stream is the watermark `+inf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timed<T> {
    /// An element and its event time (in the unit of your timestamps).
    Item {
        /// The element's event time.
        ts: i64,
        /// The element.
        value: T,
    },
    /// Event time has passed `w`.
    Watermark(i64),
}

impl<T> Timed<T> {
    /// An element at event time `ts`.
    pub fn item(ts: i64, value: T) -> Self {
        Timed::Item { ts, value }
    }

    /// The element, if this is one.
    pub fn value(&self) -> Option<&T> {
        match self {
            Timed::Item { value, .. } => Some(value),
            Timed::Watermark(_) => None,
        }
    }

    /// Consumes the item and returns the element, if this is one.
    pub fn into_value(self) -> Option<T> {
        match self {
            Timed::Item { value, .. } => Some(value),
            Timed::Watermark(_) => None,
        }
    }

    /// The element's timestamp, or the watermark's time.
    pub fn time(&self) -> i64 {
        match self {
            Timed::Item { ts, .. } => *ts,
            Timed::Watermark(w) => *w,
        }
    }

    /// `true` for a watermark.
    pub fn is_watermark(&self) -> bool {
        matches!(self, Timed::Watermark(_))
    }

    /// Maps the element, keeping its timestamp; watermarks pass unchanged.
    #[inline]
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Timed<U> {
        match self {
            Timed::Item { ts, value } => Timed::Item {
                ts,
                value: f(value),
            },
            Timed::Watermark(w) => Timed::Watermark(w),
        }
    }

    /// Maps the element, dropping it where `f` returns `None`; watermarks always pass
    /// (a filter must never hold back event time).
    ///
    /// For `futures`' `filter_map`:
    /// `stream.filter_map(|t| futures::future::ready(t.filter_map(f)))`.
    #[inline]
    pub fn filter_map<U>(self, f: impl FnOnce(T) -> Option<U>) -> Option<Timed<U>> {
        match self {
            Timed::Item { ts, value } => f(value).map(|value| Timed::Item { ts, value }),
            Timed::Watermark(w) => Some(Timed::Watermark(w)),
        }
    }
}

/// A stream of [`Timed`] items; names the element type `Value` so operators can bound it.
///
/// Implemented for every `Stream<Item = Timed<T>>`.
pub trait TimedStream: futures::Stream<Item = Timed<Self::Value>> {
    /// The element type.
    type Value;
}

impl<S, T> TimedStream for S
where
    S: futures::Stream<Item = Timed<T>> + ?Sized,
{
    type Value = T;
}

impl<T: crate::ack::TakeAcks> crate::ack::TakeAcks for Timed<T> {
    /// The element's acknowledgements; a watermark owes none.
    fn take_acks(&mut self) -> crate::ack::Acks {
        match self {
            Timed::Item { value, .. } => value.take_acks(),
            Timed::Watermark(_) => crate::ack::Acks::none(),
        }
    }
}
