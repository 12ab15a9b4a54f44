use std::time::{Duration, SystemTime};

use sweet_async::prelude::*;
use tokio::time::Instant;

use crate::Boom;

async fn forever() -> Result<u32, Boom> {
    std::future::pending::<()>().await;
    Ok(0)
}

#[tokio::test(start_paused = true)]
async fn timeout_fires_at_exactly_its_duration() {
    let start = Instant::now();
    let r = AsyncTask::to::<u32>()
        .timeout(250.millis())
        .run(forever)
        .await;
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    assert!(
        matches!(r.error(), Some(TaskError::Timeout { after }) if *after == Duration::from_millis(250))
    );
    assert_eq!(r.execution_time(), Duration::from_millis(250));
    assert_eq!(r.attempts(), 1);
}

#[tokio::test(start_paused = true)]
async fn work_finishing_before_the_timeout_wins() {
    let r = AsyncTask::to::<u32>()
        .timeout(100.millis())
        .run(|| async {
            tokio::time::sleep(Duration::from_millis(99)).await;
            Ok::<_, Boom>(9)
        })
        .await;
    assert_eq!(r.value(), Some(&9));
}

#[tokio::test(start_paused = true)]
async fn deadline_bounds_retries_and_backoff() {
    let start = Instant::now();
    let r = AsyncTask::to::<u32>()
        .deadline(start + Duration::from_millis(1000))
        .timeout(300.millis())
        .retry_strategy(sweet_async::task::RetryStrategy::Fixed(
            Duration::from_millis(100),
        ))
        .retry(10)
        .run(forever)
        .await;
    // Attempts time out at 300, 700; the third attempt starts at 800 and is cut at 1000.
    assert_eq!(start.elapsed(), Duration::from_millis(1000));
    assert!(matches!(r.error(), Some(TaskError::DeadlineExceeded)));
    assert_eq!(r.attempts(), 3);
}

#[tokio::test(start_paused = true)]
async fn wall_clock_deadline_in_the_past_fails_at_once() {
    let r = AsyncTask::to::<u32>()
        .deadline(SystemTime::now() - Duration::from_secs(1))
        .run(forever)
        .await;
    assert!(matches!(r.error(), Some(TaskError::DeadlineExceeded)));
}

#[tokio::test(start_paused = true)]
async fn wait_until_delays_the_first_attempt() {
    let start = Instant::now();
    let r = AsyncTask::to::<Duration>()
        .wait_until(start + Duration::from_secs(30))
        .run(move || async move { Ok::<_, Boom>(start.elapsed()) })
        .await;
    assert_eq!(r.value(), Some(&Duration::from_secs(30)));
    let r = AsyncTask::to::<Duration>()
        .schedule_at(std::time::Instant::now() + Duration::from_secs(5))
        .run(move || async move { Ok::<_, Boom>(Duration::ZERO) })
        .await;
    assert!(r.is_success());
}

#[tokio::test(start_paused = true)]
async fn deadline_before_scheduled_start_wins() {
    let start = Instant::now();
    let r = AsyncTask::to::<u32>()
        .wait_until(start + Duration::from_secs(10))
        .deadline(start + Duration::from_secs(2))
        .run(|| async { Ok::<_, Boom>(1) })
        .await;
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert!(matches!(r.error(), Some(TaskError::DeadlineExceeded)));
    assert_eq!(r.attempts(), 0);
}

#[tokio::test]
async fn plain_run_needs_no_timer() {
    // Without timers the task is a plain future: any executor can drive it.
    let r = futures::executor::block_on(AsyncTask::to::<u8>().run(|| async { Ok::<_, Boom>(3) }));
    assert_eq!(r.into_result().unwrap(), 3);
}

#[test]
fn timers_outside_a_runtime_are_a_typed_error() {
    let r = futures::executor::block_on(
        AsyncTask::to::<u8>()
            .timeout(1.seconds())
            .run(|| async { Ok::<_, Boom>(3) }),
    );
    assert!(matches!(r.error(), Some(TaskError::NoRuntime)));
}

#[tokio::test(start_paused = true)]
async fn timeout_after_a_delayed_start_counts_from_the_attempt() {
    let start = Instant::now();
    let r = AsyncTask::to::<u32>()
        .wait_until(start + Duration::from_secs(10))
        .timeout(Duration::from_secs(1))
        .run(forever)
        .await;
    assert_eq!(start.elapsed(), Duration::from_secs(11));
    assert!(r.error().unwrap().is_timeout());
    assert_eq!(r.execution_time(), Duration::from_secs(11));
}

#[tokio::test(start_paused = true)]
async fn started_at_follows_the_task_clock() {
    let before = SystemTime::now();
    let r = AsyncTask::to::<u32>()
        .run(|| async { Ok::<_, Boom>(1) })
        .await;
    let drift = match r.started_at().duration_since(before) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    assert!(drift < Duration::from_secs(1), "{drift:?}");
}
