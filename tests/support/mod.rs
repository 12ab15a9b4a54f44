//! Helpers shared by the integration test families, included by each family's `main.rs`
//! (`#[path = "../support/mod.rs"] mod support;`) and re-exported there.

// Each family uses a part of these helpers, and re-exports only that part.
#![allow(dead_code, unreachable_pub)]

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use futures::stream::FusedStream;
use futures::task::noop_waker_ref;

/// A user error for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boom(pub &'static str);

impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Boom {}

/// Milliseconds.
pub fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// An endless producer of `0, 1, 2, ...` that counts what it hands out and, every
/// `pending_every` items (0: never), returns `Pending` once (waking itself), like a source
/// that is sometimes not ready.
#[derive(Debug)]
pub struct Producer {
    pulled: Arc<AtomicUsize>,
    pending_every: usize,
    pending_now: bool,
}

impl Producer {
    /// The producer and its count of items handed out.
    pub fn new(pending_every: usize) -> (Self, Arc<AtomicUsize>) {
        let pulled = Arc::new(AtomicUsize::new(0));
        let p = Producer {
            pulled: Arc::clone(&pulled),
            pending_every,
            pending_now: false,
        };
        (p, pulled)
    }
}

impl Stream for Producer {
    type Item = usize;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        let n = self.pulled.load(Ordering::SeqCst);
        if self.pending_every > 0 && n > 0 && n % self.pending_every == 0 && !self.pending_now {
            self.pending_now = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.pending_now = false;
        self.pulled.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Some(n))
    }
}

/// Counts how many items a finite stream handed out, and how often it was polled after
/// it ended (a fused operator never does that).
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    /// Items handed out.
    pub pulled: Arc<AtomicUsize>,
    /// Polls after the end.
    pub polled_after_end: Arc<AtomicUsize>,
    ended: bool,
}

impl<S> Counted<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Counted {
            inner,
            pulled: Arc::default(),
            polled_after_end: Arc::default(),
            ended: false,
        }
    }
}

impl<S: Stream + Unpin> Stream for Counted<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.ended {
            self.polled_after_end.fetch_add(1, Ordering::SeqCst);
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        match &polled {
            Poll::Ready(Some(_)) => {
                self.pulled.fetch_add(1, Ordering::SeqCst);
            }
            Poll::Ready(None) => self.ended = true,
            Poll::Pending => {}
        }
        polled
    }
}

/// Polls `stream` once with a no-op waker.
pub fn poll_once<S: Stream + Unpin>(stream: &mut S) -> Poll<Option<S::Item>> {
    Pin::new(stream).poll_next(&mut Context::from_waker(noop_waker_ref()))
}

/// Drains a finished stream a few more times: it must keep saying `None` and report
/// itself terminated, without polling upstream again (checked by the caller's
/// [`Counted`]).
pub fn assert_fused<S: FusedStream + Unpin>(stream: &mut S) {
    assert!(stream.is_terminated());
    for _ in 0..3 {
        assert!(matches!(poll_once(stream), Poll::Ready(None)));
    }
    assert!(stream.is_terminated());
}

/// Polls `op` (fed by a [`Producer`]) `polls` times; after every poll checks that the
/// items pulled from upstream minus the items emitted never exceed `bound`. `items_in`
/// counts the items of one output element (the chunk length, or 1).
pub fn assert_bounded<S, F>(
    mut op: S,
    pulled: &AtomicUsize,
    polls: usize,
    bound: usize,
    items_in: F,
) where
    S: Stream + Unpin,
    F: Fn(&S::Item) -> usize,
{
    let mut emitted = 0usize;
    let mut outputs = 0usize;
    for _ in 0..polls {
        if let Poll::Ready(Some(out)) = poll_once(&mut op) {
            emitted += items_in(&out);
            outputs += 1;
        }
        let held = pulled.load(Ordering::SeqCst) - emitted;
        assert!(held <= bound, "holds {held} items, bound {bound}");
    }
    assert!(outputs > 0, "the operator emitted nothing");
}
