use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sweet_async::prelude::*;

use crate::Boom;

#[tokio::test]
async fn fallback_runs_only_on_failure() {
    let fallbacks = Arc::new(AtomicUsize::new(0));
    let f = Arc::clone(&fallbacks);
    let task = AsyncTask::to::<&'static str>().recover_with(move |_err: TaskError<Boom>| {
        f.fetch_add(1, Ordering::SeqCst);
        async { Ok("cached") }
    });
    let ok = task.clone().run(|| async { Ok("fresh") }).await;
    assert_eq!(ok.value(), Some(&"fresh"));
    assert!(!ok.was_recovered());
    assert_eq!(fallbacks.load(Ordering::SeqCst), 0);

    let failed = task.run(|| async { Err(Boom("api down")) }).await;
    assert_eq!(failed.value(), Some(&"cached"));
    assert!(failed.was_recovered());
    assert_eq!(fallbacks.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn fallback_runs_once_after_all_retries() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let a = Arc::clone(&attempts);
    let r = AsyncTask::to::<u32>()
        .retry(2)
        .recover_with(|err| async move {
            match err {
                TaskError::RetriesExhausted { attempts, .. } => Ok(attempts * 100),
                other => Err(other),
            }
        })
        .run(move || {
            a.fetch_add(1, Ordering::SeqCst);
            async { Err::<u32, _>(Boom("flaky")) }
        })
        .await;
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert_eq!(r.value(), Some(&300));
}

#[tokio::test]
async fn fallback_can_pass_the_error_on() {
    let r = AsyncTask::to::<u32>()
        .recover_with(|err| async move {
            match err {
                TaskError::Timeout { .. } => Ok(0),
                other => Err(other),
            }
        })
        .run(|| async { Err::<u32, _>(Boom("permanent")) })
        .await;
    assert!(matches!(
        r.error(),
        Some(TaskError::Failed(Boom("permanent")))
    ));
    assert!(!r.was_recovered());
}

#[tokio::test]
async fn fallback_recovers_from_a_panic() {
    let r = AsyncTask::to::<u32>()
        .recover_with(|err: TaskError<Boom>| async move {
            assert!(err.is_panic());
            Ok(7)
        })
        .run(|| async { panic!("bug") })
        .await;
    assert_eq!(r.value(), Some(&7));
}

#[tokio::test]
async fn task_future_works_with_async_result_combinators() {
    let r = AsyncTask::to::<u32>()
        .run(|| async { Ok::<_, Boom>(20) })
        .into_result()
        .map_value(|v| v + 1)
        .then_ok(|v| async move { Ok(v * 2) })
        .await;
    assert_eq!(r.unwrap(), 42);
    // The catalogue's spelling, straight on the task's future.
    let r = AsyncTask::to::<u32>()
        .run(|| async { Ok::<_, Boom>(20) })
        .map(|v| v + 1)
        .and_then(|v| async move { Ok(v * 2) })
        .or_else(|_| async { Ok::<_, TaskError<Boom>>(0) })
        .inspect(|r| assert!(r.is_ok()))
        .await;
    assert_eq!(r.unwrap(), 42);
    let failed = AsyncTask::to::<u32>()
        .run(|| async { Err::<u32, _>(Boom("down")) })
        .map_err(|e| e.to_string())
        .await;
    assert_eq!(failed, Err("task failed: down".to_owned()));
    let recovered = AsyncTask::to::<u32>()
        .run(|| async { Err::<u32, _>(Boom("down")) })
        .recover(|_| 5)
        .await;
    assert_eq!(recovered, 5);
    let handled = AsyncTask::to::<u32>()
        .run(|| async { Err::<u32, _>(Boom("x")) })
        .await_result(|r| r.into_result().unwrap_or(0))
        .await;
    assert_eq!(handled, 0);
}
