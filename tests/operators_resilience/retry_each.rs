//! `retry_each(policy, f)`: per-item retries with exact backoff on paused time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, stream};
use sweet_async::operators::RetryError;
use sweet_async::prelude::*;
use sweet_async::task::{RetryPolicy, RetryStrategy};
use tokio::time::Instant;

use crate::{Boom, Counted, assert_fused, ms};

type Calls = Arc<Mutex<Vec<(u32, Duration)>>>;

/// Runs `retry_each` over `items` where item `i` fails its first `fails[i]` calls;
/// returns the results and each call's (item, offset from start).
async fn run(
    policy: RetryPolicy,
    items: Vec<u32>,
    fails: Vec<u32>,
) -> (
    Vec<Result<u32, RetryError<u32, Boom>>>,
    Vec<(u32, Duration)>,
) {
    let start = Instant::now();
    let calls: Calls = Arc::default();
    let seen = Arc::clone(&calls);
    let mut counts = vec![0u32; items.len()];
    let out = stream::iter(items)
        .retry_each(policy, move |&item| {
            seen.lock().unwrap().push((item, start.elapsed()));
            let i = item as usize;
            counts[i] += 1;
            let fail = counts[i] <= fails[i];
            async move {
                if fail {
                    Err(Boom("unavailable"))
                } else {
                    Ok(item * 10)
                }
            }
        })
        .unwrap()
        .collect()
        .await;
    let calls = calls.lock().unwrap().clone();
    (out, calls)
}

#[tokio::test(start_paused = true)]
async fn fixed_backoff_sleeps_exactly_then_gives_up() {
    let policy = RetryPolicy::new(RetryStrategy::Fixed(ms(100))).with_max_retries(2);
    let (out, calls) = run(policy, vec![0, 1], vec![u32::MAX, 0]).await;
    assert_eq!(
        calls,
        vec![(0, ms(0)), (0, ms(100)), (0, ms(200)), (1, ms(200))]
    );
    let err = out[0].as_ref().unwrap_err();
    assert_eq!((err.index(), err.attempts(), *err.item()), (0, 3, 0));
    assert_eq!(err.last_error().user_error(), Some(&Boom("unavailable")));
    assert_eq!(
        err.to_string(),
        "item 0 failed after 3 attempts: task failed: unavailable"
    );
    assert_eq!(out[1].as_ref().ok(), Some(&10));
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_until_success() {
    let policy = RetryPolicy::new(RetryStrategy::Exponential {
        base: ms(100),
        factor: 2.0,
        max: ms(1000),
    })
    .with_max_retries(5);
    let (out, calls) = run(policy, vec![0], vec![3]).await;
    let times: Vec<Duration> = calls.iter().map(|c| c.1).collect();
    // Sleeps 100, 200, 400.
    assert_eq!(times, vec![ms(0), ms(100), ms(300), ms(700)]);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].as_ref().ok(), Some(&0));
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_caps_and_gives_up_after_max_retries() {
    let policy = RetryPolicy::new(RetryStrategy::Exponential {
        base: ms(100),
        factor: 2.0,
        max: ms(300),
    })
    .with_max_retries(4);
    let (out, calls) = run(policy, vec![0], vec![u32::MAX]).await;
    let times: Vec<Duration> = calls.iter().map(|c| c.1).collect();
    // Sleeps 100, 200, 300 (capped), 300.
    assert_eq!(times, vec![ms(0), ms(100), ms(300), ms(600), ms(900)]);
    assert_eq!(out[0].as_ref().unwrap_err().attempts(), 5);
}

#[tokio::test(start_paused = true)]
async fn the_time_budget_stops_retries_whose_delay_would_overrun_it() {
    let policy = RetryPolicy::new(RetryStrategy::Fixed(ms(1000)))
        .with_max_retries(10)
        .with_max_elapsed(ms(2500));
    let (out, calls) = run(policy.clone(), vec![0, 1], vec![u32::MAX, 1]).await;
    // Item 0: 0, 1000, 2000; a retry at 3000 would end past 2500.
    // Item 1 gets its own budget, counted from its first attempt.
    assert_eq!(
        calls,
        vec![
            (0, ms(0)),
            (0, ms(1000)),
            (0, ms(2000)),
            (1, ms(2000)),
            (1, ms(3000))
        ]
    );
    assert_eq!(out[0].as_ref().unwrap_err().attempts(), 3);
    assert_eq!(out[1].as_ref().ok(), Some(&10));
}

#[tokio::test(start_paused = true)]
async fn immediate_retries_take_no_time() {
    let policy = RetryPolicy::new(RetryStrategy::Immediate).with_max_retries(3);
    let (out, calls) = run(policy, vec![0], vec![2]).await;
    assert_eq!(calls, vec![(0, ms(0)), (0, ms(0)), (0, ms(0))]);
    assert_eq!(out[0].as_ref().ok(), Some(&0));
    // No retries at all: one attempt, and the error as it is.
    let (out, _) = run(RetryPolicy::none(), vec![0], vec![1]).await;
    let err = out[0].as_ref().unwrap_err();
    assert_eq!(err.attempts(), 1);
    assert!(matches!(
        err.last_error(),
        TaskError::Failed(Boom("unavailable"))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_panic_becomes_an_error_item_and_is_not_retried() {
    let policy = RetryPolicy::new(RetryStrategy::Fixed(ms(10))).with_max_retries(3);
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let out: Vec<Result<u32, RetryError<u32, Boom>>> = stream::iter([1u32, 2, 3])
        .retry_each(policy.clone(), move |&x| {
            seen.fetch_add(1, Ordering::SeqCst);
            if x == 1 {
                panic!("bad record {x}");
            }
            async move {
                if x == 2 {
                    panic!("async failure");
                }
                Ok(x)
            }
        })
        .unwrap()
        .collect()
        .await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let first = out[0].as_ref().unwrap_err();
    assert_eq!((first.index(), first.attempts()), (0, 1));
    assert!(
        matches!(first.last_error(), TaskError::Panicked { message } if message == "bad record 1")
    );
    let second = out[1].as_ref().unwrap_err();
    assert!(
        matches!(second.last_error(), TaskError::Panicked { message } if message == "async failure")
    );
    assert_eq!(out[2].as_ref().ok(), Some(&3));
}

#[tokio::test(start_paused = true)]
async fn one_item_at_a_time_in_order() {
    let upstream = Counted::new(stream::iter(0u32..4));
    let pulled = upstream.pulled.clone();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let (f, m) = (Arc::clone(&in_flight), Arc::clone(&max_in_flight));
    let p = Arc::clone(&pulled);
    let policy = RetryPolicy::new(RetryStrategy::Fixed(ms(5))).with_max_retries(1);
    let out: Vec<u32> = upstream
        .retry_each(policy, move |&x| {
            // The item being called is the last one pulled: nothing is read ahead.
            assert_eq!(p.load(Ordering::SeqCst), x as usize + 1);
            let (f, m) = (Arc::clone(&f), Arc::clone(&m));
            async move {
                let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(ms(10 * u64::from(4 - x))).await;
                f.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, Boom>(x)
            }
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out, vec![0, 1, 2, 3]);
    assert_eq!(max_in_flight.load(Ordering::SeqCst), 1);
    assert_eq!(pulled.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn the_failed_item_comes_back_whole() {
    let policy = RetryPolicy::none();
    let out: Vec<Result<(), RetryError<String, Boom>>> =
        stream::iter(["a".to_owned(), "b".to_owned()])
            .retry_each(policy, |s: &String| {
                let fail = s == "b";
                async move { if fail { Err(Boom("rejected")) } else { Ok(()) } }
            })
            .unwrap()
            .collect()
            .await;
    let dead_letters: Vec<(u64, String)> = out
        .into_iter()
        .filter_map(Result::err)
        .map(|e| (e.index(), e.into_item()))
        .collect();
    assert_eq!(dead_letters, vec![(1, "b".to_owned())]);
}

#[test]
fn an_invalid_policy_is_a_config_error() {
    let policy = RetryPolicy::new(RetryStrategy::Immediate).with_max_retries(101);
    let err = stream::iter([1u32])
        .retry_each(policy, |&x| async move { Ok::<_, Boom>(x) })
        .unwrap_err();
    assert!(matches!(
        err,
        ConfigError::OutOfRange {
            setting: "retry count",
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn fused_after_the_end() {
    let upstream = Counted::new(stream::iter(0u32..2));
    let polled_after_end = upstream.polled_after_end.clone();
    let mut s = Box::pin(
        upstream
            .retry_each(RetryPolicy::none(), |&x| async move { Ok::<_, Boom>(x) })
            .unwrap(),
    );
    assert_eq!(s.by_ref().count().await, 2);
    assert_fused(&mut s);
    assert_eq!(polled_after_end.load(Ordering::SeqCst), 0);
}

#[test]
fn without_a_runtime_a_backoff_gives_the_item_up() {
    let policy = RetryPolicy::new(RetryStrategy::Fixed(ms(10))).with_max_retries(3);
    let out: Vec<Result<u32, RetryError<u32, Boom>>> = futures::executor::block_on(
        stream::iter([1u32])
            .retry_each(policy, |_| async { Err(Boom("down")) })
            .unwrap()
            .collect(),
    );
    let err = out[0].as_ref().unwrap_err();
    assert_eq!(err.attempts(), 1);
    assert_eq!(err.last_error().user_error(), Some(&Boom("down")));
}
