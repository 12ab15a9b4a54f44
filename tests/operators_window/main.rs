//! Integration tests of the window operators: one binary, one module per operator family,
//! expected outputs written from Apache Flink's definitions.

// Test helpers unwrap and panic: a failed expectation is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod bound;
mod count;
mod event_time;
mod fused;
mod keyed;
mod processing_time;
mod props;
mod session;

use futures::{Stream, StreamExt};
use sweet_async::operators::window::{FireReason, WindowEvent};

/// One output, flattened for `assert_eq!`.
#[derive(Debug, Clone, PartialEq)]
pub enum Out<K, A, T, P = i64> {
    /// `key, start, end, value, reason, update`.
    Fired(K, P, P, A, FireReason, bool),
    /// A late element.
    Late(T),
    /// The error message that ended the stream.
    Error(String),
}

impl<K, A, T, P> From<WindowEvent<K, A, T, P>> for Out<K, A, T, P> {
    fn from(event: WindowEvent<K, A, T, P>) -> Self {
        match event {
            WindowEvent::Fired(w) => Out::Fired(w.key, w.start, w.end, w.value, w.reason, w.update),
            WindowEvent::Late(t) => Out::Late(t),
            WindowEvent::Error(e) => Out::Error(e.to_string()),
            _ => panic!("a window event this test does not know"),
        }
    }
}

/// A first firing of a non-keyed window.
pub fn fired<A, T>(start: i64, end: i64, value: A, reason: FireReason) -> Out<(), A, T> {
    Out::Fired((), start, end, value, reason, false)
}

/// A late update of a non-keyed window.
pub fn update<A, T>(start: i64, end: i64, value: A) -> Out<(), A, T> {
    Out::Fired((), start, end, value, FireReason::LateUpdate, true)
}

/// Runs a stream that needs no timers to completion and flattens its outputs.
pub fn run<S, K, A, T, P>(stream: S) -> Vec<Out<K, A, T, P>>
where
    S: Stream<Item = WindowEvent<K, A, T, P>>,
{
    futures::executor::block_on(stream.map(Out::from).collect())
}
