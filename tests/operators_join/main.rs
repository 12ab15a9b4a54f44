//! Integration tests of the joins, the timed windows, keyed partitions and the fan-out:
//! exact outputs on hand-made inputs (Flink's semantics) and property tests against
//! brute-force reference models.

// Test helpers unwrap and panic: a failed expectation is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod fan_out;
mod interval;
mod partition;
mod props;
mod regular;
mod timed;
mod window;

use futures::{Stream, StreamExt, stream};
use sweet_async::operators::join::{JoinEvent, Side};
use sweet_async::operators::timed::Timed;

/// One output of a join, flattened for `assert_eq!`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Out<O, L, R> {
    /// `ts, result`.
    Joined(i64, O),
    /// A late element.
    Late(Side<L, R>),
    /// An evicted element.
    Evicted(Side<L, R>),
    /// A forwarded watermark.
    Watermark(i64),
    /// The error message that ended the stream.
    Error(String),
}

impl<O, L, R> From<Timed<JoinEvent<O, L, R>>> for Out<O, L, R> {
    fn from(t: Timed<JoinEvent<O, L, R>>) -> Self {
        match t {
            Timed::Watermark(w) => Out::Watermark(w),
            Timed::Item { ts, value } => match value {
                JoinEvent::Joined(o) => Out::Joined(ts, o),
                JoinEvent::Late(s) => Out::Late(s),
                JoinEvent::Evicted(s) => Out::Evicted(s),
                JoinEvent::Error(e) => Out::Error(e.to_string()),
                _ => Out::Error(String::from("a join event this test does not know")),
            },
        }
    }
}

/// Runs a join stream (no timers needed) to completion.
pub fn run<S, O, L, R>(s: S) -> Vec<Out<O, L, R>>
where
    S: Stream<Item = Timed<JoinEvent<O, L, R>>>,
{
    futures::executor::block_on(s.map(Out::from).collect())
}

/// Runs a join stream to completion, leaving it for its stats.
pub fn drain<S, O, L, R>(s: &mut S) -> Vec<Out<O, L, R>>
where
    S: Stream<Item = Timed<JoinEvent<O, L, R>>> + Unpin,
{
    futures::executor::block_on(s.by_ref().map(Out::from).collect())
}

/// The results only, without watermarks.
pub fn joined<O: Clone, L, R>(outs: &[Out<O, L, R>]) -> Vec<O> {
    outs.iter()
        .filter_map(|o| match o {
            Out::Joined(_, x) => Some(x.clone()),
            _ => None,
        })
        .collect()
}

/// A timed stream from explicit items.
pub fn timed<T>(items: Vec<Timed<T>>) -> impl Stream<Item = Timed<T>> {
    stream::iter(items)
}

/// A timed stream that is not ready after each item (it wakes itself at once): a join
/// reading two of them takes one item from each in turn, right first, so a test can
/// spell out the order in which the join sees its inputs.
pub fn alternating<T>(items: Vec<Timed<T>>) -> Gated<T> {
    Gated {
        items: items.into_iter().flat_map(|t| [Some(t), None]).collect(),
    }
}

/// See [`alternating`].
#[derive(Debug)]
pub struct Gated<T> {
    items: std::collections::VecDeque<Option<Timed<T>>>,
}

impl<T> Unpin for Gated<T> {}

impl<T> Stream for Gated<T> {
    type Item = Timed<T>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Timed<T>>> {
        match self.items.pop_front() {
            Some(Some(t)) => std::task::Poll::Ready(Some(t)),
            Some(None) => {
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
            None => std::task::Poll::Ready(None),
        }
    }
}

/// `Timed::item(ts, (key, ts))`.
pub fn at(key: u8, ts: i64) -> Timed<(u8, i64)> {
    Timed::item(ts, (key, ts))
}
