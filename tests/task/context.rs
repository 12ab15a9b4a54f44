use std::sync::Arc;

use sweet_async::prelude::*;

use crate::Boom;

struct Db {
    rows: Vec<u32>,
}

#[tokio::test]
async fn dependencies_reach_the_work_on_every_attempt() {
    let db = Arc::new(Db {
        rows: vec![1, 2, 3],
    });
    let attempts = std::sync::atomic::AtomicUsize::new(0);
    let r = AsyncTask::to::<u32>()
        .with(Arc::clone(&db))
        .with("tenant-7")
        .retry_strategy(sweet_async::task::RetryStrategy::Immediate)
        .retry(1)
        .run_with(|ctx| {
            let first = attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            async move {
                let db = ctx.get::<Arc<Db>>().map_err(|_| Boom("no db"))?;
                assert_eq!(*ctx.get::<&str>().unwrap(), "tenant-7");
                assert!(ctx.task_id().is_some());
                if first {
                    Err(Boom("transient"))
                } else {
                    Ok(db.rows.iter().sum())
                }
            }
        })
        .await;
    assert_eq!(r.value(), Some(&6));
    assert_eq!(r.attempts(), 2);
}

#[tokio::test]
async fn context_task_id_is_the_result_task_id() {
    let id = TaskId::new();
    let r = AsyncTask::to::<TaskId>()
        .id(id)
        .run_with(|ctx| async move { ctx.task_id().ok_or(Boom("no id")) })
        .await;
    assert_eq!(r.value(), Some(&id));
    assert_eq!(r.task_id(), id);
}

#[tokio::test]
async fn missing_dependency_names_the_type() {
    let r = AsyncTask::to::<u8>()
        .run_with(|ctx| async move { ctx.get::<Db>().map(|_| 1) })
        .await;
    let msg = r.error().unwrap().to_string();
    assert!(msg.contains("context::Db"), "{msg}");
}

#[tokio::test]
async fn working_dir_errors_surface() {
    let r = AsyncTask::to::<std::path::PathBuf>()
        .working_dir("/no/such/dir")
        .run_with(|ctx| async move { ctx.working_dir() })
        .await;
    assert_eq!(
        r.error().unwrap().user_error().unwrap().kind(),
        std::io::ErrorKind::NotFound
    );
}
