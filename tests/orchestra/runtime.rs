//! Runtime: spawn with priority, active count, shutdown(timeout) that aborts what ignores
//! the graceful cancel, safe drop of an owned runtime in async code.

use std::time::Duration;

use sweet_async::orchestra::{Orchestra, Runtime, RuntimeBuilder};
use sweet_async::prelude::*;

use crate::Boom;

#[tokio::test(start_paused = true)]
async fn shutdown_aborts_a_task_that_ignores_graceful_cancel() {
    let runtime = Runtime::current().unwrap();
    // Its cleanup takes an hour and it allows itself two: the graceful cancel is, in
    // effect, ignored.
    let stubborn = runtime
        .spawn(
            AsyncTask::to::<()>()
                .name("stubborn")
                .grace_period(Duration::from_secs(7200))
                .on_cancel(|| async { tokio::time::sleep(Duration::from_secs(3600)).await })
                .run(|| async {
                    tokio::time::sleep(Duration::from_secs(86_400)).await;
                    Ok::<_, Boom>(())
                }),
            TaskPriority::Low,
        )
        .unwrap();
    let polite = runtime
        .spawn(
            AsyncTask::to::<()>().name("polite").run(|| async {
                tokio::time::sleep(Duration::from_secs(86_400)).await;
                Ok::<_, Boom>(())
            }),
            TaskPriority::High,
        )
        .unwrap();
    assert_eq!(polite.priority(), TaskPriority::High);
    let done = runtime
        .spawn(
            AsyncTask::to::<u8>().run(|| async { Ok::<_, Boom>(1) }),
            TaskPriority::Normal,
        )
        .unwrap();
    assert_eq!(done.await.value(), Some(&1));
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(runtime.active_task_count(), 2);

    let report = runtime.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.cancelled_gracefully, 1);
    assert_eq!(report.aborted.len(), 1);
    assert_eq!(report.aborted[0].label.name(), Some("stubborn"));
    assert_eq!(report.aborted[0].id, stubborn.task_id());
    assert_eq!(report.took, Duration::from_secs(5));
    assert!(!report.is_clean());
    assert!(!runtime.is_running());

    let r = polite.await;
    assert!(r.error().unwrap().is_cancelled());
    assert_eq!(r.priority(), TaskPriority::High);
    let r = stubborn.await;
    assert!(matches!(
        r.error(),
        Some(TaskError::Cancelled {
            level: CancellationLevel::KillHard
        })
    ));
    tokio::task::yield_now().await;
    assert_eq!(runtime.active_task_count(), 0);
    let refused = runtime.spawn(
        AsyncTask::to::<u8>().run(|| async { Ok::<_, Boom>(1) }),
        TaskPriority::Normal,
    );
    assert!(matches!(refused, Err(TaskError::NoRuntime)));
}

#[tokio::test]
async fn an_owned_runtime_can_be_dropped_in_async_code() {
    let owned = RuntimeBuilder::new().worker_threads(1).build().unwrap();
    let handle = owned
        .spawn(
            AsyncTask::to::<u8>().run(|| async { Ok::<_, Boom>(7) }),
            TaskPriority::Normal,
        )
        .unwrap();
    assert_eq!(handle.await.value(), Some(&7));
    // A plain tokio runtime dropped here would panic ("Cannot drop a runtime in a context
    // where blocking is not allowed"); ours shuts down in the background.
    drop(owned);

    // Also when the last clone goes away inside a task running on the owned runtime.
    let owned = RuntimeBuilder::new().worker_threads(1).build().unwrap();
    let inside = owned.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    owned.handle().spawn(async move {
        drop(inside);
        let _ = tx.send(());
    });
    drop(owned);
    let _ = rx.await;
}

#[tokio::test]
async fn an_orchestra_runs_on_an_owned_runtime() {
    let runtime = RuntimeBuilder::new()
        .worker_threads(2)
        .thread_name("orchestra-worker")
        .build()
        .unwrap();
    let mut o: Orchestra<String, Boom> =
        Orchestra::builder().with_runtime(&runtime).build().unwrap();
    o.register_fn("where", || async {
        Ok(std::thread::current().name().unwrap_or("").to_owned())
    })
    .unwrap();
    o.start_all().unwrap();
    let report = o.join_all().await.unwrap();
    assert!(
        report
            .value("where")
            .unwrap()
            .starts_with("orchestra-worker")
    );
    drop(o);
    drop(runtime);
}
