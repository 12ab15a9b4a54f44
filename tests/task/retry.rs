use std::sync::{Arc, Mutex};
use std::time::Duration;

use sweet_async::prelude::*;
use sweet_async::task::{Jitter, RetryPolicy, RetryStrategy};
use tokio::time::Instant;

use crate::Boom;

/// Runs a task that always fails and returns the offsets (from start) of each attempt.
async fn attempt_times(
    builder: AsyncTaskBuilder<u32, Boom>,
) -> (Vec<Duration>, TaskResult<u32, Boom>) {
    let start = Instant::now();
    let times = Arc::new(Mutex::new(Vec::new()));
    let t = Arc::clone(&times);
    let result = builder
        .run(move || {
            t.lock().unwrap().push(start.elapsed());
            async { Err(Boom("nope")) }
        })
        .await;
    let times = times.lock().unwrap().clone();
    (times, result)
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_sleeps_exactly_and_stops_at_the_limit() {
    let builder = AsyncTask::to::<u32>()
        .retry_strategy(RetryStrategy::Exponential {
            base: ms(100),
            factor: 2.0,
            max: ms(1000),
        })
        .retry(5);
    let (times, result) = attempt_times(builder).await;
    // Sleeps 100, 200, 400, 800, 1000 (capped).
    assert_eq!(
        times,
        vec![ms(0), ms(100), ms(300), ms(700), ms(1500), ms(2500)]
    );
    assert_eq!(result.attempts(), 6);
    match result.error().unwrap() {
        TaskError::RetriesExhausted { attempts, last } => {
            assert_eq!(*attempts, 6);
            assert_eq!(last.user_error(), Some(&Boom("nope")));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(result.execution_time(), ms(2500));
}

#[tokio::test(start_paused = true)]
async fn fixed_linear_and_immediate_backoff() {
    let (times, _) = attempt_times(
        AsyncTask::to()
            .retry_strategy(RetryStrategy::Fixed(ms(50)))
            .retry(2),
    )
    .await;
    assert_eq!(times, vec![ms(0), ms(50), ms(100)]);
    let (times, _) = attempt_times(
        AsyncTask::to()
            .retry_strategy(RetryStrategy::Linear {
                base: ms(10),
                max: ms(25),
            })
            .retry(3),
    )
    .await;
    assert_eq!(times, vec![ms(0), ms(10), ms(30), ms(55)]);
    let (times, r) = attempt_times(
        AsyncTask::to()
            .retry_strategy(RetryStrategy::Immediate)
            .retry(3),
    )
    .await;
    assert_eq!(times, vec![ms(0); 4]);
    assert_eq!(r.attempts(), 4);
}

#[tokio::test(start_paused = true)]
async fn retry_strategy_alone_allows_three_retries() {
    let (times, r) =
        attempt_times(AsyncTask::to().retry_strategy(RetryStrategy::Fixed(ms(1)))).await;
    assert_eq!(times.len(), 4);
    assert_eq!(r.attempts(), 4);
}

#[tokio::test(start_paused = true)]
async fn no_retry_returns_the_bare_error() {
    let (times, r) = attempt_times(AsyncTask::to().retry(0)).await;
    assert_eq!(times.len(), 1);
    assert!(matches!(r.error(), Some(TaskError::Failed(Boom("nope")))));
}

#[tokio::test(start_paused = true)]
async fn success_after_failures_counts_attempts() {
    let calls = Arc::new(Mutex::new(0));
    let c = Arc::clone(&calls);
    let r = AsyncTask::to::<u32>()
        .retry_strategy(RetryStrategy::Fixed(ms(10)))
        .retry(5)
        .run(move || {
            let n = {
                let mut g = c.lock().unwrap();
                *g += 1;
                *g
            };
            async move { if n < 3 { Err(Boom("flaky")) } else { Ok(n) } }
        })
        .await;
    assert_eq!(r.value(), Some(&3));
    assert_eq!(r.attempts(), 3);
    assert_eq!(r.execution_time(), ms(20));
}

#[tokio::test(start_paused = true)]
async fn retry_if_stops_on_permanent_errors() {
    let builder = AsyncTask::to::<u32>()
        .retry_strategy(RetryStrategy::Immediate)
        .retry(5)
        .retry_if(|e: &TaskError<Boom>| e.user_error() != Some(&Boom("nope")));
    let (times, r) = attempt_times(builder).await;
    assert_eq!(times.len(), 1);
    assert!(matches!(r.error(), Some(TaskError::Failed(_))));
}

#[tokio::test(start_paused = true)]
async fn elapsed_budget_ends_retries() {
    let policy = RetryPolicy::new(RetryStrategy::Fixed(ms(100)))
        .with_max_retries(50)
        .with_max_elapsed(ms(350));
    let (times, r) = attempt_times(AsyncTask::to().retry_policy(policy)).await;
    // Attempts at 0, 100, 200, 300; the next would start at 400 > 350.
    assert_eq!(times, vec![ms(0), ms(100), ms(200), ms(300)]);
    assert!(matches!(
        r.error(),
        Some(TaskError::RetriesExhausted { attempts: 4, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn full_jitter_stays_within_the_backoff() {
    let policy = RetryPolicy::new(RetryStrategy::Fixed(ms(100)))
        .with_jitter(Jitter::Full)
        .with_max_retries(20);
    let (times, _) = attempt_times(AsyncTask::to().retry_policy(policy)).await;
    assert_eq!(times.len(), 21);
    for w in times.windows(2) {
        assert!(w[1] - w[0] <= ms(100));
    }
}

#[tokio::test(start_paused = true)]
async fn timeouts_are_retried_and_each_attempt_gets_the_full_timeout() {
    let start = Instant::now();
    let r = AsyncTask::to::<u32>()
        .timeout(ms(30))
        .retry_strategy(RetryStrategy::Fixed(ms(5)))
        .retry(2)
        .run(|| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok::<_, Boom>(1)
        })
        .await;
    assert_eq!(start.elapsed(), ms(30 + 5 + 30 + 5 + 30));
    match r.error().unwrap() {
        TaskError::RetriesExhausted { attempts: 3, last } => assert!(last.is_timeout()),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn panics_are_not_retried_by_default() {
    let calls = Arc::new(Mutex::new(0));
    let c = Arc::clone(&calls);
    let r = AsyncTask::to::<u32>()
        .retry(3)
        .run(move || {
            *c.lock().unwrap() += 1;
            async { panic!("kaboom") as Result<u32, Boom> }
        })
        .await;
    assert_eq!(*calls.lock().unwrap(), 1);
    assert!(matches!(r.error(), Some(TaskError::Panicked { message }) if message == "kaboom"));
}
