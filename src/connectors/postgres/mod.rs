//! PostgreSQL (feature `postgres`): a query source, a work-queue source and a batched
//! sink, on `tokio-postgres` with the `deadpool-postgres` pool.
//!
//! # What each part guarantees
//!
//! - [`from_database`] streams a query's rows with bounded memory: the rows are read as
//!   they arrive, one at a time, and the server waits while the pipeline is busy. It
//!   takes no acknowledgements: a query has nothing to redeliver, so a failed run is run
//!   again from the start.
//! - [`work_queue`] makes a table an at-least-once queue. Batches of rows are locked with
//!   `SELECT .. FOR UPDATE SKIP LOCKED` in one transaction each, and each row's event owes
//!   the batch its acknowledgement; once every row of a batch is settled, acknowledged
//!   rows are deleted (or marked done), rejected rows stay with their attempts counted
//!   and their error recorded (and are parked after a maximum of attempts), and the
//!   transaction commits. Consumers in other tasks or processes skip locked rows, so they
//!   share the queue without taking a row twice. If a consumer dies, the server rolls
//!   back its open transactions and those rows are taken again: nothing is lost, and the
//!   duplicates are the rows it had handled but not yet committed (at most its open
//!   batches).
//! - [`PgSink`] writes a stream in batches, each in one transaction (binary `COPY`, or
//!   multi-row `INSERT` for `ON CONFLICT` upserts), and acknowledges the items of a batch
//!   only after its commit; a failed batch rejects them.
//!
//! Put together, `work_queue → operators → PgSink` is at-least-once end to end: a work
//! queue row is deleted only after the rows derived from it were committed.
//!
//! # Example
//!
//! ```no_run
//! use sweet_async::connectors::postgres::{PgSink, work_queue};
//! use sweet_async::prelude::*;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = deadpool_postgres::Config::new();
//! config.url = std::env::var("SWEET_ASYNC_PG_URL").ok();
//! let pool = config.create_pool(Some(deadpool_postgres::Runtime::Tokio1), tokio_postgres::NoTls)?;
//!
//! // CREATE TABLE inbox (id bigint PRIMARY KEY, body text NOT NULL);
//! // CREATE TABLE outbox (id bigint, body text);
//! let inbox = work_queue(pool.clone(), "inbox")
//!     .stop_when_empty(true)
//!     .rows_as::<(i64, String)>();
//! let queue = inbox.handle();
//! let events = AsyncTask::emits::<(i64, String)>().sender(inbox.into_chunks(500.rows()));
//! let summary = PgSink::copy(pool, "outbox", ["id", "body"])
//!     .write(events, |chunk| {
//!         chunk.map(|e| e.data.into_iter().map(|(id, body)| (id, body.trim().to_owned())))
//!     })
//!     .await?;
//! let stats = queue.settled().await?; // inbox rows deleted after outbox commits
//! println!("{summary}\n{stats}");
//! # Ok(())
//! # }
//! ```

mod db;
mod error;
mod query;
mod query_stream;
mod queue;
mod queue_batch;
mod queue_stream;
mod row;
mod sink;
mod sink_batch;
mod sink_write;
mod to_row;
mod tracker;

/// A pool whose connections would fail (nothing listens on port 1): for unit tests of
/// what is built before any connection is made.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
fn test_pool() -> deadpool_postgres::Pool {
    let mut cfg = deadpool_postgres::Config::new();
    cfg.url = Some("postgres://nobody@127.0.0.1:1/none".to_owned());
    cfg.create_pool(None, tokio_postgres::NoTls).unwrap()
}

pub use db::Db;
pub use error::PgError;
pub use query::{Param, Query, from_database};
pub use query_stream::QueryStream;
pub use queue::{OnAck, WorkQueue, work_queue};
pub use queue_stream::QueueStream;
pub use row::{FromRow, MapRow, RawRows, RowsAs};
pub use sink::{OnBatchError, PgSink};
pub use sink_write::PgWrite;
pub use to_row::ToRow;
pub use tracker::{QueueHandle, QueueStats};
