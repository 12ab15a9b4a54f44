//! A long-running job with graceful cancellation: its `on_cancel` cleanup flushes partial
//! work, children started inside it are cancelled with it, and the cancel call reports
//! what happened.
//!
//! Run: `cargo run --release --example long_job`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sweet_async::prelude::*;

#[tokio::main]
async fn main() {
    let processed = Arc::new(AtomicU64::new(0));
    let flushed = Arc::new(AtomicU64::new(0));

    let (p, f) = (Arc::clone(&processed), Arc::clone(&flushed));
    let mut job = AsyncTask::to::<u64>()
        .name("nightly-reindex")
        .description("Rebuilds the search index batch by batch")
        .grace_period(2.seconds())
        .on_cancel(move || {
            let (p, f) = (Arc::clone(&p), Arc::clone(&f));
            async move {
                // Flush what was processed so the next run resumes from there.
                tokio::time::sleep(Duration::from_millis(50)).await;
                f.store(p.load(Ordering::SeqCst), Ordering::SeqCst);
            }
        })
        .run({
            let processed = Arc::clone(&processed);
            move || {
                let processed = Arc::clone(&processed);
                async move {
                    // A helper task started inside the job: cancelled with it.
                    let heartbeat = AsyncTask::<BoxError>::to::<()>()
                        .name("heartbeat")
                        .run(|| async {
                            loop {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        })
                        .spawn();
                    for _batch in 0..1_000 {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        processed.fetch_add(500, Ordering::SeqCst);
                    }
                    drop(heartbeat);
                    Ok::<_, BoxError>(processed.load(Ordering::SeqCst))
                }
            }
        })
        .spawn()
        .unwrap_or_else(|e| {
            eprintln!("cannot start job: {e}");
            std::process::exit(1);
        });

    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("{job} is {} after 300 ms", job.status());
    let report = job.cancel(CancellationLevel::Graceful).await;
    println!(
        "cancelled ({}) in {:?}: cleanup ran = {}, children cancelled = {}",
        report.level, report.took, report.cleanup_ran, report.children_cancelled
    );
    println!(
        "processed {} records, flushed {} before stopping; status {}",
        processed.load(Ordering::SeqCst),
        flushed.load(Ordering::SeqCst),
        job.status()
    );
    let result = job.await;
    println!(
        "result: {}",
        result.error().map_or("ok".to_owned(), ToString::to_string)
    );
}
