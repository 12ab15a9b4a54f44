//! Every window stream is fused: after `None` it keeps returning `None`, reports
//! `is_terminated`, and never polls its upstream again.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::FusedStream;
use futures::{Stream, StreamExt};
use sweet_async::operators::DataflowExt;
use sweet_async::operators::window::{Session, Tumbling};

/// Yields its items, then `None` once, then panics if polled again.
struct Strict {
    items: std::vec::IntoIter<i64>,
    ended: bool,
}

fn strict(items: Vec<i64>) -> Strict {
    Strict {
        items: items.into_iter(),
        ended: false,
    }
}

impl Stream for Strict {
    type Item = i64;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<i64>> {
        assert!(!self.ended, "polled after it returned None");
        let next = self.items.next();
        self.ended = next.is_none();
        Poll::Ready(next)
    }
}

async fn drain_twice<S: Stream + FusedStream + Unpin>(mut s: S) -> usize {
    assert!(!s.is_terminated());
    let mut n = 0;
    while s.next().await.is_some() {
        n += 1;
    }
    assert!(s.is_terminated());
    assert!(s.next().await.is_none());
    assert!(s.next().await.is_none());
    n
}

#[tokio::test]
async fn event_time_windows_are_fused() {
    let s = strict(vec![1, 7, 2])
        .event_time_window(Tumbling::event_time(5), |t| *t)
        .unwrap();
    assert_eq!(drain_twice(s).await, 3);
    let s = strict(vec![1, 2])
        .key_by(|t| t % 2)
        .event_time_window(Session::event_time(5), |t| *t)
        .unwrap()
        .reduce_windows(|a, b| a + b);
    assert_eq!(drain_twice(s).await, 2);
}

#[tokio::test(start_paused = true)]
async fn processing_time_windows_are_fused() {
    let s = strict(vec![1, 2])
        .processing_time_window(Tumbling::processing_time(Duration::from_secs(1)))
        .unwrap();
    assert_eq!(drain_twice(s).await, 1);
}

#[tokio::test]
async fn count_windows_are_fused() {
    let s = strict(vec![1, 2, 3])
        .count_window(Tumbling::count(2))
        .unwrap()
        .fold_windows(0, |a, b| a + b);
    assert_eq!(drain_twice(s).await, 2);
}

#[tokio::test]
async fn a_stream_ended_by_an_error_is_fused() {
    let s = strict(vec![1, 2])
        .event_time_window(Tumbling::event_time(5), |t| {
            assert!(*t < 2, "boom");
            *t
        })
        .unwrap();
    assert_eq!(drain_twice(s).await, 1);
}

#[test]
fn window_streams_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let s = futures::stream::iter(vec![1i64])
        .key_by(|t| *t)
        .event_time_window(Tumbling::event_time(5), |t| *t)
        .unwrap()
        .fold_windows(0, |a, b| a + b);
    assert_send(&s);
    let p = futures::stream::iter(vec![1i64])
        .processing_time_window(Tumbling::processing_time(Duration::from_secs(1)))
        .unwrap();
    assert_send(&p);
}
