use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use std::time::Duration;

use sweet_async::prelude::*;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Boom;

/// A spawned task sleeping an hour with a cleanup taking `cleanup` and setting a flag.
fn long_job(cleanup: Duration, flag: Arc<AtomicBool>) -> TaskHandle<(), Boom> {
    AsyncTask::to::<()>()
        .name("long-job")
        .grace_period(Duration::from_secs(5))
        .on_cancel(move || {
            let flag = Arc::clone(&flag);
            async move {
                tokio::time::sleep(cleanup).await;
                flag.store(true, Ordering::SeqCst);
            }
        })
        .run(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        })
        .spawn()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn graceful_runs_the_cleanup() {
    let flag = Arc::new(AtomicBool::new(false));
    let mut job = long_job(Duration::from_millis(200), Arc::clone(&flag));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(job.status(), TaskStatus::Running);
    let report = job.cancel(CancellationLevel::Graceful).await;
    assert!(report.cleanup_ran);
    assert!(flag.load(Ordering::SeqCst));
    assert_eq!(report.level, CancellationLevel::Graceful);
    assert_eq!(report.took, Duration::from_millis(200));
    assert!(!report.already_finished);
    assert_eq!(job.status(), TaskStatus::Cancelled);
    let r = job.await;
    assert!(matches!(
        r.error(),
        Some(TaskError::Cancelled {
            level: CancellationLevel::Graceful
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn graceful_cleanup_is_bounded_by_the_grace_period() {
    let flag = Arc::new(AtomicBool::new(false));
    let mut job = long_job(Duration::from_secs(60), Arc::clone(&flag));
    tokio::task::yield_now().await;
    let report = job.cancel(CancellationLevel::Graceful).await;
    assert!(!report.cleanup_ran);
    assert!(!flag.load(Ordering::SeqCst));
    assert_eq!(report.took, Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn kill_skips_the_cleanup() {
    let flag = Arc::new(AtomicBool::new(false));
    let mut job = long_job(Duration::from_millis(1), Arc::clone(&flag));
    tokio::task::yield_now().await;
    let report = job.cancel(CancellationLevel::Kill).await;
    assert!(!report.cleanup_ran);
    assert!(!flag.load(Ordering::SeqCst));
    assert_eq!(report.took, Duration::ZERO);
    assert_eq!(job.status(), TaskStatus::Cancelled);
    assert!(matches!(
        job.await.error(),
        Some(TaskError::Cancelled {
            level: CancellationLevel::Kill
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn kill_hard_aborts_the_tokio_task() {
    let flag = Arc::new(AtomicBool::new(false));
    let mut job = long_job(Duration::from_millis(1), Arc::clone(&flag));
    tokio::task::yield_now().await;
    let report = job.cancel(CancellationLevel::KillHard).await;
    assert!(!report.cleanup_ran);
    assert!(!flag.load(Ordering::SeqCst));
    assert_eq!(job.status(), TaskStatus::Cancelled);
    assert!(job.is_finished());
    assert!(matches!(
        job.await.error(),
        Some(TaskError::Cancelled {
            level: CancellationLevel::KillHard
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_finished_task_reports_it() {
    let mut job = AsyncTask::to::<u8>()
        .run(|| async { Ok::<_, Boom>(1) })
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    let report = job.cancel(CancellationLevel::Graceful).await;
    assert!(report.already_finished);
    assert_eq!(job.await.value(), Some(&1));
}

type Handles = tokio::sync::mpsc::UnboundedSender<TaskHandle<(), Boom>>;

fn sleeper() -> AsyncTaskBuilder<(), Boom> {
    AsyncTask::to::<()>()
}

/// Spawns a task that sleeps an hour; when `depth > 0` it first spawns a child of its own.
fn spawn_tree(depth: u32, out: Handles) {
    let tx = out.clone();
    let handle = sleeper()
        .run(move || {
            if depth > 0 {
                spawn_tree(depth - 1, tx.clone());
            }
            async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            }
        })
        .spawn()
        .unwrap();
    out.send(handle).unwrap();
}

#[tokio::test(start_paused = true)]
async fn parent_cancel_reaches_children_and_grandchildren() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut parent = sleeper()
        .name("parent")
        .run(move || {
            // Two children, each with one grandchild.
            spawn_tree(1, tx.clone());
            spawn_tree(1, tx.clone());
            async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            }
        })
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let report = parent.cancel(CancellationLevel::Kill).await;
    assert_eq!(report.children_cancelled, 4);
    let mut descendants = 0;
    while let Ok(handle) = rx.try_recv() {
        let r = handle.await;
        assert!(
            matches!(
                r.error(),
                Some(TaskError::Cancelled {
                    level: CancellationLevel::Kill
                })
            ),
            "{r:?}"
        );
        descendants += 1;
    }
    assert_eq!(descendants, 4);
}

#[tokio::test(start_paused = true)]
async fn child_cancel_does_not_reach_the_parent() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let parent = sleeper()
        .run(move || {
            spawn_tree(0, tx.clone());
            async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                Ok(())
            }
        })
        .spawn()
        .unwrap();
    tokio::task::yield_now().await;
    let mut child = rx.recv().await.unwrap();
    let report = child.cancel(CancellationLevel::Graceful).await;
    assert_eq!(report.children_cancelled, 0);
    assert!(parent.await.is_success());
}

#[tokio::test(start_paused = true)]
async fn dropping_a_task_future_cancels_its_spawned_children() {
    let child_done = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&child_done);
    let parent = AsyncTask::to::<()>()
        .cancellation_token(CancellationToken::new())
        .run(move || {
            let flag = Arc::clone(&flag);
            async move {
                let child = AsyncTask::to::<()>()
                    .run(|| async {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        Ok::<_, Boom>(())
                    })
                    .spawn()
                    .unwrap();
                let r = child.await;
                flag.store(r.is_success(), Ordering::SeqCst);
                Ok::<_, Boom>(())
            }
        });
    let spawned_child = tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(1), parent).await;
    });
    spawned_child.await.unwrap();
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(!child_done.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn external_token_cancels_gracefully() {
    let token = CancellationToken::new();
    let cleaned = Arc::new(AtomicBool::new(false));
    let c = Arc::clone(&cleaned);
    let t = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        t.cancel();
    });
    let start = Instant::now();
    let r = AsyncTask::to::<()>()
        .cancellation_token(token)
        .on_cancel(move || {
            let c = Arc::clone(&c);
            async move { c.store(true, Ordering::SeqCst) }
        })
        .run(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, Boom>(())
        })
        .await;
    assert_eq!(start.elapsed(), Duration::from_millis(50));
    assert!(matches!(
        r.error(),
        Some(TaskError::Cancelled {
            level: CancellationLevel::Graceful
        })
    ));
    assert!(cleaned.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn cancel_during_backoff_stops_retrying() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let a = Arc::clone(&attempts);
    let mut job = AsyncTask::to::<()>()
        .retry_strategy(sweet_async::task::RetryStrategy::Fixed(
            Duration::from_secs(10),
        ))
        .retry(5)
        .run(move || {
            a.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(Boom("fail")) }
        })
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(15)).await;
    let report = job.cancel(CancellationLevel::Kill).await;
    assert_eq!(report.took, Duration::ZERO);
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(job.attempts(), 2);
}
