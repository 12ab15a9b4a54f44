use std::time::Duration;

use sweet_async::prelude::*;

use crate::Boom;

#[test]
fn spawning_without_a_runtime_is_a_typed_error() {
    let r = AsyncTask::to::<u8>()
        .run(|| async { Ok::<_, Boom>(1) })
        .spawn();
    assert!(matches!(r, Err(TaskError::NoRuntime)));
    let r = AsyncTask::to::<u8>().spawn(|| async { Ok::<_, Boom>(1) });
    assert!(matches!(r, Err(TaskError::NoRuntime)));
}

#[test]
fn spawn_on_a_given_runtime_handle() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let handle = AsyncTask::to::<u8>()
        .runtime(rt.handle().clone())
        .run(|| async { Ok::<_, Boom>(5) })
        .spawn()
        .unwrap();
    assert_eq!(rt.block_on(handle).value(), Some(&5));
    let handle = AsyncTask::to::<u8>()
        .run(|| async { Ok::<_, Boom>(6) })
        .spawn_on(rt.handle())
        .unwrap();
    assert_eq!(rt.block_on(handle).into_result().unwrap(), 6);
}

#[tokio::test(start_paused = true)]
async fn status_is_readable_while_running() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let rx = std::sync::Mutex::new(Some(rx));
    let handle = AsyncTask::to::<u8>()
        .run(move || {
            let rx = rx.lock().unwrap().take();
            async move {
                if let Some(rx) = rx {
                    let _ = rx.await;
                }
                Ok::<_, Boom>(1)
            }
        })
        .spawn()
        .unwrap();
    assert_eq!(handle.status(), TaskStatus::Pending);
    tokio::task::yield_now().await;
    assert_eq!(handle.status(), TaskStatus::Running);
    assert!(!handle.is_finished());
    tx.send(()).unwrap();
    let r = handle.await;
    assert!(r.is_success());
}

#[tokio::test(start_paused = true)]
async fn failed_status_and_result_after_error() {
    let handle = AsyncTask::to::<u8>()
        .spawn(|| async { Err::<u8, _>(Boom("bad")) })
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(handle.status(), TaskStatus::Failed);
    assert!(handle.is_finished());
    assert!(matches!(
        handle.await.error(),
        Some(TaskError::Failed(Boom("bad")))
    ));
}

#[tokio::test]
async fn panic_in_work_becomes_panicked_with_its_message() {
    let r = AsyncTask::to::<u8>()
        .run(|| async {
            let v: Vec<u8> = Vec::new();
            if v.is_empty() {
                panic!("index {} out of range", 3);
            }
            Ok::<_, Boom>(1)
        })
        .await;
    assert!(
        matches!(r.error(), Some(TaskError::Panicked { message }) if message == "index 3 out of range")
    );

    // Spawned, and panicking while building the future.
    let handle = AsyncTask::to::<u8>()
        .run(|| -> std::future::Ready<Result<u8, Boom>> { panic!("before the future") })
        .spawn()
        .unwrap();
    let status_r = handle.await;
    assert!(
        matches!(status_r.error(), Some(TaskError::Panicked { message }) if message == "before the future")
    );
}

#[tokio::test]
async fn run_blocking_uses_the_blocking_pool_and_catches_panics() {
    let r = AsyncTask::to::<String>()
        .run_blocking(|| Ok::<_, Boom>(std::thread::current().name().unwrap_or("").to_owned()))
        .await;
    assert!(r.is_success());
    let r = AsyncTask::to::<u8>()
        .run_blocking(|| -> Result<u8, Boom> { panic!("sync boom") })
        .await;
    assert!(matches!(r.error(), Some(TaskError::Panicked { message }) if message == "sync boom"));
}

#[test]
fn run_blocking_without_a_runtime_is_a_typed_error() {
    let r = futures::executor::block_on(AsyncTask::to::<u8>().run_blocking(|| Ok::<_, Boom>(1)));
    assert!(matches!(r.error(), Some(TaskError::NoRuntime)));
}

#[tokio::test]
async fn handle_and_future_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let fut = AsyncTask::to::<u8>()
        .timeout(1.seconds())
        .retry(1)
        .run(|| async { Ok::<_, Boom>(1) });
    assert_send(&fut);
    let handle = fut.spawn().unwrap();
    assert_send(&handle);
    assert_eq!(handle.await.value(), Some(&1));
}

#[tokio::test]
async fn display_shows_name_and_tags() {
    let b = AsyncTask::to::<u8>()
        .name("user-profile-fetch")
        .tags(["database", "caching"])
        .tag("user-service");
    assert_eq!(
        b.to_string(),
        "user-profile-fetch [database, caching, user-service]"
    );
    assert!(b.label().has_tag("caching"));
    let h = b.run(|| async { Ok::<_, Boom>(1) }).spawn().unwrap();
    assert_eq!(
        h.to_string(),
        "user-profile-fetch [database, caching, user-service]"
    );
    let r = h.await;
    assert_eq!(r.label().name(), Some("user-profile-fetch"));
    assert_eq!(AsyncTask::<Boom>::to::<u8>().to_string(), "unnamed_task");
}
