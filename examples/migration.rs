//! A schema migration: no retries (a half-applied migration must not run twice), a hard
//! deadline, full tracing to stderr, and the outcome inspected in one `await_result`.
//!
//! Run: `cargo run --release --example migration`

use std::time::{Duration, SystemTime};

use sweet_async::prelude::*;

#[derive(Debug)]
struct MigrationResult {
    statements: u32,
}

async fn execute_migration_script(name: &str) -> Result<MigrationResult, std::io::Error> {
    let statements = 12;
    for i in 0..statements {
        tracing::info!(script = name, statement = i, "applying");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(MigrationResult { statements })
}

#[tokio::main]
async fn main() {
    // Print the task's spans and events to stderr.
    let _ = tracing::subscriber::set_global_default(Stderr);

    let summary = AsyncTask::to::<MigrationResult>()
        .name("schema-migration-v2")
        .timeout(300.seconds())
        .deadline(SystemTime::now() + 10.minutes())
        .no_retry()
        .tracing(true)
        .with_field("script", "v2.sql")
        .run(|| execute_migration_script("v2.sql"))
        .await_result(|result| match result.as_result() {
            Ok(m) => format!(
                "applied {} statements in {:?}",
                m.statements,
                result.execution_time()
            ),
            Err(e) => format!("migration failed, database untouched by retries: {e}"),
        })
        .await;
    println!("{summary}");
}

/// A tiny subscriber printing span names and event fields, so the example needs no
/// extra dependency.
struct Stderr;

impl tracing::Subscriber for Stderr {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        eprintln!("span {} {:?}", span.metadata().name(), span.values());
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        eprintln!("  record {values:?}");
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        eprintln!("  event {event:?}");
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
