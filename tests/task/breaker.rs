use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sweet_async::prelude::*;
use sweet_async::task::{CircuitBreaker, CircuitState};

use crate::Boom;

/// Runs one task through `breaker`; the work fails when `fail` is true.
async fn call(
    breaker: &CircuitBreaker,
    calls: &Arc<AtomicUsize>,
    fail: bool,
) -> TaskResult<u8, Boom> {
    let calls = Arc::clone(calls);
    AsyncTask::to::<u8>()
        .circuit_breaker(breaker.clone())
        .run(move || {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { if fail { Err(Boom("down")) } else { Ok(1) } }
        })
        .await
}

#[tokio::test(start_paused = true)]
async fn breaker_opens_fails_fast_half_opens_and_closes() {
    let breaker = CircuitBreaker::builder("payments")
        .failure_threshold(3)
        .success_threshold(2)
        .open_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        assert!(matches!(
            call(&breaker, &calls, true).await.error(),
            Some(TaskError::Failed(_))
        ));
    }
    assert_eq!(breaker.state(), CircuitState::Open);

    // Open: fails fast without calling the work.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let r = call(&breaker, &calls, false).await;
    match r.error() {
        Some(TaskError::CircuitOpen {
            breaker: name,
            retry_after,
        }) => {
            assert_eq!(&**name, "payments");
            assert_eq!(*retry_after, Duration::from_secs(20));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(r.attempts(), 0);

    // After the open timeout: half-open, two successes close it.
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    assert!(call(&breaker, &calls, false).await.is_success());
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    assert!(call(&breaker, &calls, false).await.is_success());
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}

#[tokio::test(start_paused = true)]
async fn open_circuit_is_not_retried_but_can_be_recovered() {
    let breaker = CircuitBreaker::builder("search")
        .failure_threshold(1)
        .open_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let _ = call(&breaker, &calls, true).await;
    let r = AsyncTask::to::<u8>()
        .circuit_breaker(breaker.clone())
        .retry(5)
        .recover_with(|err| async move {
            match err {
                TaskError::CircuitOpen { .. } => Ok(0), // cached answer
                other => Err(other),
            }
        })
        .run(|| async { Ok::<_, Boom>(1) })
        .await;
    assert_eq!(r.value(), Some(&0));
    assert!(r.was_recovered());
    assert_eq!(r.attempts(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_shared_breaker_counts_failures_of_many_tasks() {
    let breaker = CircuitBreaker::builder("db")
        .failure_threshold(4)
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..4 {
        let b = breaker.clone();
        let c = Arc::clone(&calls);
        handles.push(tokio::spawn(async move { call(&b, &c, true).await }));
    }
    for h in handles {
        let _ = h.await.unwrap();
    }
    assert_eq!(breaker.state(), CircuitState::Open);
    assert!(matches!(
        call(&breaker, &calls, false).await.error(),
        Some(TaskError::CircuitOpen { .. })
    ));
}
