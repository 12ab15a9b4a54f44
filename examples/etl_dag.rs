//! An ETL DAG with an orchestra: three extracts run side by side, a transform waits for
//! all three, two loads wait for the transform. One extract is flaky and succeeds on its
//! second attempt; its backoff holds no concurrency slot. Progress goes over a message
//! bus to a monitor task.
//!
//! Shows: `register_task`, `add_dependency`, a concurrency limit, retries run by the
//! orchestra, typed results per id, `ExecutionStats`, and task messages.
//!
//! Run: `cargo run --example etl_dag`

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sweet_async::message::{MessageBuilderExt, MessageBus, MessageKind, Outbox};
use sweet_async::orchestra::{FailureStrategy, Orchestra};
use sweet_async::prelude::*;
use sweet_async::task::RetryStrategy;

/// Rows moved by a step.
type Rows = u64;

#[derive(Debug)]
struct EtlError(String);

impl std::fmt::Display for EtlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EtlError {}

async fn extract(
    table: &'static str,
    rows: Rows,
    progress: Outbox<String>,
) -> Result<Rows, EtlError> {
    tokio::time::sleep(Duration::from_millis(rows / 10)).await;
    let _ = progress
        .message()
        .correlation_id("etl-run-1")
        .data(format!("extracted {rows} rows from {table}"))
        .broadcast()
        .await;
    Ok(rows)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bus = MessageBus::<String>::new(32)?;
    let pipeline = bus.mailbox(TaskId::new())?;
    let mut monitor = bus.mailbox(TaskId::new())?;
    monitor.subscribe_to(pipeline.id());
    let monitor_task = tokio::spawn(async move {
        // The monitor's own inbox stays open while the bus lives: stop on `Completed`.
        while let Some(env) = monitor.recv().await {
            match env.kind {
                MessageKind::Data(line) => {
                    println!("[monitor] {line} (corr {:?})", env.correlation_id)
                }
                MessageKind::Completed => break,
                _ => {}
            }
        }
    });

    let mut etl: Orchestra<Rows, EtlError> = Orchestra::builder()
        .max_concurrent_tasks(2)
        .timeout(30.seconds())
        .failure_strategy(FailureStrategy::ContinueSkipDependents)
        .build()?;

    for (table, rows) in [("users", 1_200), ("products", 300)] {
        let out = pipeline.outbox();
        etl.register_task(
            table,
            AsyncTask::to()
                .name(table)
                .run(move || extract(table, rows, out.clone())),
        )?;
    }
    // The orders source fails once, then answers: retried after 200 ms by the orchestra.
    let calls = Arc::new(AtomicU32::new(0));
    let out = pipeline.outbox();
    etl.register_task(
        "orders",
        AsyncTask::to()
            .name("orders")
            .retry_strategy(RetryStrategy::Fixed(Duration::from_millis(200)))
            .retry(3)
            .run(move || {
                let (calls, out) = (Arc::clone(&calls), out.clone());
                async move {
                    if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                        return Err(EtlError("orders database: connection reset".into()));
                    }
                    extract("orders", 800, out).await
                }
            }),
    )?;
    etl.register_task(
        "transform",
        AsyncTask::to().name("transform").run(|| async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(2_300)
        }),
    )?;
    for sink in ["load-warehouse", "load-analytics"] {
        etl.register_task(sink, AsyncTask::to().name(sink).run(|| async { Ok(2_300) }))?;
    }
    for extract in ["users", "orders", "products"] {
        etl.add_dependency("transform", extract)?;
    }
    etl.add_dependency("load-warehouse", "transform")?;
    etl.add_dependency("load-analytics", "transform")?;

    etl.start_all()?;
    let report = etl.join_all().await?;
    println!("order of completion: {:?}", report.order());
    for id in report.order() {
        let outcome = report.get(id).ok_or("missing outcome")?;
        match outcome.result() {
            Some(r) => println!(
                "{id:>15}: {:?} after {} attempt(s) in {:?}",
                r.as_result().map_err(|e| e.to_string()),
                r.attempts(),
                r.execution_time()
            ),
            None => println!("{id:>15}: {:?}", outcome.kind()),
        }
    }
    let stats = etl.stats().snapshot();
    println!(
        "stats: {} completed, {} failed, {} retried; p50 {:?}, p99 {:?}, max {:?}",
        stats.completed, stats.failed, stats.retried, stats.p50, stats.p99, stats.max
    );
    pipeline.message().completed().broadcast().await?;
    let _ = monitor_task.await;
    let rows = report.into_values()?;
    println!("warehouse rows: {:?}", rows.get("load-warehouse"));
    Ok(())
}
