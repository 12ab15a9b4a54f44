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
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .init();

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
