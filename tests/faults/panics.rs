//! Panics of user code the library calls: caught where a typed error has a place (tasks,
//! cleanups), documented under `# Panics` where the output has none (the collect
//! terminals, which resume the panic at the `.await`, as `futures`' `collect` does).

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use sweet_async::orchestra::Orchestra;
use sweet_async::prelude::*;

#[derive(Debug)]
struct Boom;

impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("boom")
    }
}

impl std::error::Error for Boom {}

fn panic_message(err: &TaskError<Boom>) -> &str {
    match err {
        TaskError::Panicked { message } => message,
        other => panic!("expected Panicked, got {other:?}"),
    }
}

#[tokio::test]
async fn a_panicking_retry_predicate_is_a_panicked_error() {
    let result = AsyncTask::to::<u32>()
        .retry(3)
        .retry_if(|_: &TaskError<Boom>| panic!("predicate exploded"))
        .run(|| async { Err(Boom) })
        .await;
    let err = result.error().unwrap();
    assert_eq!(
        panic_message(err),
        "retry_if predicate panicked: predicate exploded"
    );
    assert_eq!(result.attempts(), 1);
}

#[tokio::test]
async fn a_panicking_retry_predicate_in_an_orchestra_is_a_panicked_error() {
    let mut o: Orchestra<&str, Boom> = Orchestra::builder().build().unwrap();
    let task = AsyncTask::to()
        .retry(3)
        .retry_if(|_: &TaskError<Boom>| panic!("predicate exploded"))
        .run(|| async { Err(Boom) });
    o.register_task("t", task).unwrap();
    o.start_all().unwrap();
    let report = tokio::time::timeout(Duration::from_secs(10), o.join_all())
        .await
        .unwrap()
        .unwrap();
    let err = report.get("t").unwrap().error().unwrap();
    assert_eq!(
        panic_message(err),
        "retry_if predicate panicked: predicate exploded"
    );
}

#[tokio::test]
async fn a_panicking_recovery_call_is_a_panicked_error() {
    let result = AsyncTask::to::<u32>()
        .recover_with(
            |_: TaskError<Boom>| -> futures::future::Ready<Result<u32, TaskError<Boom>>> {
                panic!("fallback call exploded")
            },
        )
        .run(|| async { Err(Boom) })
        .await;
    assert_eq!(
        panic_message(result.error().unwrap()),
        "fallback call exploded"
    );
    assert!(!result.was_recovered());
}

#[tokio::test]
async fn a_panicking_recovery_future_is_a_panicked_error() {
    let result = AsyncTask::to::<u32>()
        .recover_with(|_: TaskError<Boom>| async { panic!("fallback future exploded") })
        .run(|| async { Err(Boom) })
        .await;
    assert_eq!(
        panic_message(result.error().unwrap()),
        "fallback future exploded"
    );
    assert!(!result.was_recovered());
}

#[tokio::test(start_paused = true)]
async fn a_panicking_cleanup_is_reported_as_such() {
    for in_call in [false, true] {
        let mut job = AsyncTask::to::<()>()
            .on_cancel(move || {
                if in_call {
                    panic!("cleanup call exploded");
                }
                async { panic!("cleanup future exploded") }
            })
            .run(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<_, Boom>(())
            })
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let report = job.cancel(CancellationLevel::Graceful).await;
        assert!(!report.cleanup_ran, "in_call: {in_call}");
        assert!(report.cleanup_panicked, "in_call: {in_call}");
        assert!(!report.already_finished, "in_call: {in_call}");
        assert!(job.await.error().unwrap().is_cancelled());
    }
}

/// The documented `# Panics` contract of the collect terminals: the panic resumes at the
/// `.await` with its own payload, and inside a task it is a `TaskError::Panicked`.
async fn resumes<F: std::future::Future>(fut: F, message: &str) {
    let caught = AssertUnwindSafe(fut).catch_unwind().await;
    let payload = caught.err().expect("the panic reaches the awaiter");
    let got = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap();
    assert_eq!(got, message);
}

#[tokio::test]
async fn collect_terminals_resume_a_panic_at_the_await() {
    resumes(
        futures::stream::iter(1..=3).collect_map(|x: i32| -> (i32, i32) {
            if x == 2 {
                panic!("key exploded");
            }
            (x, x)
        }),
        "key exploded",
    )
    .await;
    resumes(
        futures::stream::iter(1..=3).fold_items(0, |a, x: i32| {
            if x == 2 {
                panic!("fold exploded");
            }
            a + x
        }),
        "fold exploded",
    )
    .await;
    resumes(
        futures::stream::iter(1..=3)
            .map(|x: i32| {
                if x == 2 {
                    panic!("upstream exploded")
                } else {
                    x
                }
            })
            .collect_vec(),
        "upstream exploded",
    )
    .await;
    resumes(
        futures::stream::iter(vec![Ok::<u32, sweet_async::stream::EventError>(1)])
            .await_final_event(|_, _| -> u32 { panic!("final callback exploded") }),
        "final callback exploded",
    )
    .await;
    // The same code as a task: a typed error.
    let result = AsyncTask::to::<Vec<i32>>()
        .run(|| async {
            let (v, _) = futures::stream::iter(1..=3)
                .map(|x: i32| {
                    if x == 2 {
                        panic!("upstream exploded")
                    } else {
                        x
                    }
                })
                .collect_vec()
                .await;
            Ok::<_, Boom>(v)
        })
        .await;
    assert_eq!(panic_message(result.error().unwrap()), "upstream exploded");
}

#[tokio::test]
async fn a_terminal_that_panicked_leaves_the_next_terminal_its_own_counts() {
    // A panic unwinding out of one terminal's poll must not leave its counting scope
    // installed: the next terminal on this thread counts only its own source.
    let bad = AssertUnwindSafe(
        AsyncTask::emits::<u32>()
            .on_error(sweet_async::stream::ErrorPolicy::Skip)
            .sender(futures::stream::iter(vec![Err("x"), Ok(1), Err("y")]))
            .map(|e| {
                if e.as_ref().is_ok_and(|e| *e.data() == 1) {
                    panic!("stop");
                }
                e
            })
            .collect_vec(),
    )
    .catch_unwind()
    .await;
    assert!(bad.is_err());
    let (_, summary) = AsyncTask::emits::<u32>()
        .on_error(sweet_async::stream::ErrorPolicy::Skip)
        .sender(futures::stream::iter(vec![Ok(1), Err("z")]))
        .collect_vec()
        .await;
    assert_eq!((summary.items_out, summary.skipped), (1, 1));
}
