//! `rate_limit(n, per)`: a token bucket with exact emission instants on paused time.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::{StreamExt, stream};
use sweet_async::prelude::*;
use tokio::time::{Instant, advance, sleep};

use crate::{Counted, Producer, assert_fused, ms, poll_once};

/// Offsets (ms) at which `items` ready items pass a `rate_limit(n, per)`.
async fn instants(items: u32, n: usize, per: Duration) -> Vec<u128> {
    let start = Instant::now();
    stream::iter(0..items)
        .rate_limit(n, per)
        .unwrap()
        .map(|_| start.elapsed().as_millis())
        .collect()
        .await
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_n_then_one_every_period_over_n() {
    assert_eq!(instants(5, 2, ms(1000)).await, vec![0, 0, 500, 1000, 1500]);
    assert_eq!(instants(6, 3, ms(300)).await, vec![0, 0, 0, 100, 200, 300]);
    assert_eq!(instants(3, 1, ms(250)).await, vec![0, 250, 500]);
}

#[tokio::test(start_paused = true)]
async fn uneven_intervals_do_not_drift() {
    // 1000 / 3 ms is not a whole number of milliseconds; tokio timers fire on whole
    // milliseconds, and the credit is exact, so the schedule stays on 333.3 ms steps.
    let got = instants(9, 3, ms(1000)).await;
    assert_eq!(got, vec![0, 0, 0, 334, 667, 1000, 1334, 1667, 2000]);
}

#[tokio::test(start_paused = true)]
async fn tokens_accumulate_up_to_n_while_the_consumer_is_away() {
    let start = Instant::now();
    let mut s = Box::pin(stream::iter(0..10).rate_limit(2, ms(1000)).unwrap());
    let mut at = Vec::new();
    for _ in 0..2 {
        s.next().await.unwrap();
        at.push(start.elapsed().as_millis());
    }
    sleep(ms(10_000)).await; // 10 s idle: the bucket refills, but only to 2
    for _ in 0..4 {
        s.next().await.unwrap();
        at.push(start.elapsed().as_millis());
    }
    assert_eq!(at, vec![0, 0, 10_000, 10_000, 10_500, 11_000]);
}

#[tokio::test(start_paused = true)]
async fn upstream_is_pulled_only_when_a_token_is_available() {
    let (producer, pulled) = Producer::new(0);
    let mut s = Box::pin(producer.rate_limit(2, ms(100)).unwrap());
    assert_eq!(poll_once(&mut s), std::task::Poll::Ready(Some(0)));
    assert_eq!(poll_once(&mut s), std::task::Poll::Ready(Some(1)));
    for _ in 0..5 {
        assert!(poll_once(&mut s).is_pending());
    }
    assert_eq!(pulled.load(Ordering::SeqCst), 2, "nothing read ahead");
    advance(ms(50)).await;
    assert_eq!(poll_once(&mut s), std::task::Poll::Ready(Some(2)));
    assert!(poll_once(&mut s).is_pending());
    assert_eq!(pulled.load(Ordering::SeqCst), 3);
}

#[test]
fn zero_limit_or_period_is_a_config_error() {
    assert_eq!(
        stream::iter([1]).rate_limit(0, ms(10)).unwrap_err(),
        ConfigError::Zero {
            setting: "rate limit"
        }
    );
    assert_eq!(
        stream::iter([1])
            .rate_limit(5.messages(), Duration::ZERO)
            .unwrap_err(),
        ConfigError::ZeroDuration {
            setting: "rate limit period"
        }
    );
    let ok = stream::iter([1])
        .rate_limit(5.messages(), 1.seconds())
        .unwrap();
    assert_eq!((ok.limit().get(), ok.period()), (5, 1.seconds()));
}

#[tokio::test(start_paused = true)]
async fn fused_after_the_end() {
    let upstream = Counted::new(stream::iter(0..3));
    let polled_after_end = upstream.polled_after_end.clone();
    let mut s = Box::pin(upstream.rate_limit(1, ms(10)).unwrap());
    assert_eq!(s.by_ref().collect::<Vec<_>>().await, vec![0, 1, 2]);
    assert_fused(&mut s);
    assert_eq!(polled_after_end.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn huge_periods_do_not_overflow() {
    let mut s = Box::pin(stream::iter(0..3).rate_limit(1, Duration::MAX).unwrap());
    assert_eq!(s.next().await, Some(0));
    assert!(poll_once(&mut s).is_pending());
}

#[test]
fn without_a_runtime_the_rate_still_holds() {
    // No tokio timer to sleep on: the stream re-polls until each token is due, never
    // letting items through unthrottled.
    let start = std::time::Instant::now();
    let out: Vec<i32> =
        futures::executor::block_on(stream::iter(0..4).rate_limit(1, ms(50)).unwrap().collect());
    assert_eq!(out, vec![0, 1, 2, 3]);
    assert!(start.elapsed() >= ms(150), "{:?}", start.elapsed());
}

#[tokio::test(start_paused = true)]
async fn one_limiter_paces_several_streams_and_calls() {
    use sweet_async::operators::RateLimiter;
    let api = RateLimiter::new(10, 1.seconds())
        .unwrap()
        .with_burst(1)
        .unwrap();
    assert_eq!((api.limit().get(), api.burst().get()), (10, 1));
    let start = Instant::now();
    let a = stream::iter(0..3).rate_limit_with(&api);
    let b = stream::iter(10..13).rate_limit_with(&api);
    let times: Vec<Duration> = stream::select(a, b)
        .map(|_| start.elapsed())
        .collect()
        .await;
    // Six items, one every 100 ms between both streams.
    assert_eq!(times, (0..6).map(|i| ms(100 * i)).collect::<Vec<_>>());
    // A call taking a permit shares the same bucket.
    api.acquire().await;
    assert_eq!(start.elapsed(), ms(600));
    assert_eq!(api.try_acquire(), Err(ms(100)));
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_announces_its_end_ends_without_waiting_for_a_permit() {
    let start = Instant::now();
    let mut s = Box::pin(stream::iter(0..4).rate_limit(2, ms(1000)).unwrap());
    let mut at = Vec::new();
    while s.next().await.is_some() {
        at.push(start.elapsed().as_millis());
    }
    assert_eq!(at, vec![0, 0, 500, 1000]);
    // The end comes with the last item's instant, not one interval (500 ms) later.
    assert_eq!(start.elapsed().as_millis(), 1000);
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_does_not_announce_its_end_ends_with_the_next_permit() {
    // `unfold` has no upper bound in its size hint: its end shows only when polled.
    let upstream = stream::unfold(0, |i| async move { (i < 4).then_some((i, i + 1)) });
    let start = Instant::now();
    let got: Vec<i32> = upstream.rate_limit(2, ms(1000)).unwrap().collect().await;
    assert_eq!(got, vec![0, 1, 2, 3]);
    // Upstream is pulled only with a permit, so its unannounced end waits for one.
    assert_eq!(start.elapsed().as_millis(), 1500);
}
