//! `timeout_each(d)`: a report per wait longer than `d`, clock from each request.

use std::sync::atomic::Ordering;
use std::task::Poll;

use futures::{StreamExt, stream};
use sweet_async::operators::Elapsed;
use sweet_async::prelude::*;
use tokio::sync::mpsc::unbounded_channel;
use tokio::time::{Instant, advance, sleep, sleep_until};
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::{Counted, assert_fused, ms, poll_once};

/// Items arriving at the given offsets (ms) from `start`.
fn timed(start: Instant, at: &[u64]) -> impl futures::Stream<Item = u64> + use<> {
    stream::iter(at.to_vec()).then(move |t| async move {
        sleep_until(start + ms(t)).await;
        t
    })
}

#[tokio::test(start_paused = true)]
async fn reports_each_wait_longer_than_the_timeout_and_goes_on() {
    let start = Instant::now();
    type Report = (u64, u128); // (awaited item, timeout in ms)
    let out: Vec<(u128, Result<u64, Report>)> = timed(start, &[0, 100, 550, 600])
        .timeout_each(ms(200))
        .unwrap()
        .map(|r| {
            (
                start.elapsed().as_millis(),
                r.map_err(|e| (e.item(), e.after().as_millis())),
            )
        })
        .collect()
        .await;
    assert_eq!(
        out,
        vec![
            (0, Ok(0)),
            (100, Ok(100)),
            (300, Err((2, 200))), // item 2 asked for at 100
            (500, Err((2, 200))), // asked again at 300: one report per timeout
            (550, Ok(550)),
            (600, Ok(600)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_clock_runs_from_the_request_not_from_the_previous_item() {
    let (tx, rx) = unbounded_channel::<u32>();
    let mut s = Box::pin(
        UnboundedReceiverStream::new(rx)
            .timeout_each(ms(200))
            .unwrap(),
    );
    tx.send(1).unwrap();
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(Ok(1))));
    // The consumer works 150 ms on item 1, then asks for item 2, which comes 150 ms
    // later: 300 ms after item 1, but only 150 ms after the request.
    advance(ms(150)).await;
    assert!(poll_once(&mut s).is_pending());
    advance(ms(150)).await;
    tx.send(2).unwrap();
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(Ok(2))));
}

#[tokio::test(start_paused = true)]
async fn a_slow_consumer_never_sees_a_timeout() {
    // A source with an item every 100 ms; the consumer spends 1 s on each.
    let start = Instant::now();
    let mut s = Box::pin(
        timed(start, &[100, 200, 300])
            .timeout_each(ms(150))
            .unwrap(),
    );
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        out.push(item.unwrap());
        sleep(ms(1000)).await;
    }
    assert_eq!(out, vec![100, 200, 300]);
}

#[tokio::test(start_paused = true)]
async fn exact_timer_boundary() {
    let (tx, rx) = unbounded_channel::<u32>();
    let mut s = Box::pin(
        UnboundedReceiverStream::new(rx)
            .timeout_each(ms(100))
            .unwrap(),
    );
    assert!(poll_once(&mut s).is_pending());
    advance(ms(99)).await;
    assert!(poll_once(&mut s).is_pending());
    advance(ms(1)).await;
    let Poll::Ready(Some(Err(e))) = poll_once(&mut s) else {
        panic!("expected a timeout report");
    };
    assert_eq!((e.item(), e.after()), (0, ms(100)));
    assert_eq!(e.to_string(), "item 0 did not arrive within 100ms");
    tx.send(7).unwrap();
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(Ok(7))));
    drop(tx);
    assert_eq!(poll_once(&mut s), Poll::Ready(None));
}

#[test]
fn zero_timeout_is_a_config_error() {
    assert_eq!(
        stream::iter([1])
            .timeout_each(std::time::Duration::ZERO)
            .unwrap_err(),
        ConfigError::ZeroDuration {
            setting: "item timeout"
        }
    );
}

#[tokio::test(start_paused = true)]
async fn fused_after_the_end() {
    let upstream = Counted::new(stream::iter(0..2));
    let polled_after_end = upstream.polled_after_end.clone();
    let mut s = Box::pin(upstream.timeout_each(ms(10)).unwrap());
    let out: Vec<Result<i32, Elapsed>> = s.by_ref().collect().await;
    assert_eq!(out, vec![Ok(0), Ok(1)]);
    assert_fused(&mut s);
    assert_eq!(polled_after_end.load(Ordering::SeqCst), 0);
}

#[test]
fn without_a_runtime_items_pass_untimed() {
    let out: Vec<Result<i32, Elapsed>> =
        futures::executor::block_on(stream::iter(0..3).timeout_each(ms(10)).unwrap().collect());
    assert_eq!(out, vec![Ok(0), Ok(1), Ok(2)]);
    // A source that makes it wait: no timer can be made, so it just waits.
    let (tx, rx) = futures::channel::mpsc::unbounded::<u8>();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(ms(20));
        tx.unbounded_send(5).unwrap();
    });
    let out: Vec<Result<u8, Elapsed>> =
        futures::executor::block_on(rx.timeout_each(ms(1)).unwrap().collect());
    assert_eq!(out, vec![Ok(5)]);
    sender.join().unwrap();
}
