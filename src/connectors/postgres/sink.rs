//! [`PgSink`]: batched writes into a table, one transaction per batch, acknowledging
//! the source only after the commit.

use std::fmt;
use std::sync::Arc;

use deadpool_postgres::Pool;
use futures::Stream;

use super::db::ident;
use super::error::PgError;
use super::sink_write::PgWrite;
use super::to_row::ToRow;
use crate::ack::TakeAcks;
use crate::error::{BoxError, ConfigError};
use crate::units::Count;

/// Writes a stream's items as rows of a table: binary `COPY` (the fast path) or
/// multi-row `INSERT` with parameters (with an `ON CONFLICT` clause for upserts), in
/// batches of up to [`batch_rows`](PgSink::batch_rows) rows, each in its own
/// transaction.
///
/// [`write`](PgSink::write) drives a stream to its end and resolves to a
/// [`Summary`](crate::collect::Summary). Each item's acknowledgement obligations
/// ([`TakeAcks`]) are taken when it arrives and settled when its batch is settled:
/// acknowledged after the commit, rejected if the batch failed. So a source row (a work
/// queue row, a broker message) is never acknowledged before the rows made from it are
/// committed. A batch is written as soon as it is full, or as soon as the stream has
/// nothing ready (so a slow source is not held back waiting for a full batch); while one
/// batch is written the next one fills, so at most two batches are held.
///
/// # Examples
///
/// ```no_run
/// use sweet_async::connectors::postgres::{PgSink, work_queue};
/// use sweet_async::prelude::*;
///
/// # async fn run(pool: deadpool_postgres::Pool) -> Result<(), Box<dyn std::error::Error>> {
/// let jobs = work_queue(pool.clone(), "raw_events").stop_when_empty(true).rows_as::<(i64, String)>();
/// let queue = jobs.handle();
/// let events = AsyncTask::emits::<(i64, String)>().sender(jobs.into_chunks(500.rows()));
/// let summary = PgSink::copy(pool, "events_upper", ["id", "body"])
///     .write(events, |chunk| chunk.map(|e| e.data.into_iter().map(|(id, body)| (id, body.to_uppercase()))))
///     .await?;
/// queue.settled().await?; // the queue rows behind committed batches are deleted
/// println!("{summary}");
/// # Ok(())
/// # }
/// ```
#[must_use = "a sink does nothing until `write` is awaited"]
#[derive(Clone)]
pub struct PgSink {
    pub(crate) pool: Pool,
    pub(crate) table: String,
    pub(crate) columns: Vec<String>,
    pub(crate) mode: Mode,
    pub(crate) batch_rows: Count,
    pub(crate) on_error: OnBatchError,
}

/// How a sink writes a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    Copy,
    Insert { on_conflict: Option<String> },
}

/// What a sink does when a batch fails (its items are rejected either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OnBatchError {
    /// Stop: the sink resolves to the batch's [`PgError`] (the default).
    #[default]
    Stop,
    /// Go on with the next batch; the failed batch's items count as errors in the
    /// summary.
    Continue,
}

impl PgSink {
    fn new(pool: Pool, table: String, columns: Vec<String>, mode: Mode) -> Self {
        PgSink {
            pool,
            table,
            columns,
            mode,
            batch_rows: Count::new(1000, "rows"),
            on_error: OnBatchError::Stop,
        }
    }

    /// Writes with binary `COPY table (columns) FROM STDIN`: the fastest way in, for
    /// rows that do not conflict with rows already there.
    pub fn copy<C: Into<String>>(
        pool: Pool,
        table: impl Into<String>,
        columns: impl IntoIterator<Item = C>,
    ) -> Self {
        let columns = columns.into_iter().map(Into::into).collect();
        PgSink::new(pool, table.into(), columns, Mode::Copy)
    }

    /// Writes with multi-row `INSERT INTO table (columns) VALUES (..), (..)` and
    /// parameters.
    pub fn insert<C: Into<String>>(
        pool: Pool,
        table: impl Into<String>,
        columns: impl IntoIterator<Item = C>,
    ) -> Self {
        let columns = columns.into_iter().map(Into::into).collect();
        PgSink::new(
            pool,
            table.into(),
            columns,
            Mode::Insert { on_conflict: None },
        )
    }

    /// Adds `ON CONFLICT <sql>` to each `INSERT` (e.g.
    /// `(id) DO UPDATE SET n = EXCLUDED.n`), switching a `COPY` sink to `INSERT`. Trusted
    /// SQL: never build it from untrusted input. Two rows of one batch may not update the
    /// same row (the server refuses it).
    pub fn on_conflict(mut self, sql: impl Into<String>) -> Self {
        self.mode = Mode::Insert {
            on_conflict: Some(sql.into()),
        };
        self
    }

    /// The largest batch, in rows (default 1000).
    pub fn batch_rows(mut self, rows: impl Into<Count>) -> Self {
        self.batch_rows = rows.into();
        self
    }

    /// What to do when a batch fails (default: [`OnBatchError::Stop`]).
    pub fn on_batch_error(mut self, policy: OnBatchError) -> Self {
        self.on_error = policy;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// A table or column that is not an identifier, no columns, or a zero batch size.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ident("sink table", &self.table)?;
        if self.columns.is_empty() {
            return Err(ConfigError::Zero {
                setting: "sink columns",
            });
        }
        for column in &self.columns {
            ident("sink column", column)?;
        }
        self.batch_rows.validate("sink batch rows")?;
        Ok(())
    }

    /// Writes `stream` to the table: each item becomes the rows `to_rows` makes of it.
    ///
    /// `to_rows` gets the item after its acknowledgement obligations were taken out; an
    /// `Err` (for an item the stream yielded as an error, say) rejects that item's
    /// obligations at once and counts it as an error.
    ///
    /// # Errors
    ///
    /// The future resolves to [`PgError::Config`] for invalid settings (nothing is
    /// written), and under [`OnBatchError::Stop`] to the first failed batch's error
    /// ([`PgError::Batch`], [`PgError::Arity`], [`PgError::Pool`]); the items of the
    /// failed batch are rejected, and those read after it are released.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future rolls back the batch being written (its items are released,
    /// not acknowledged); batches already committed stay.
    pub fn write<S, F, I, E, R>(self, stream: S, to_rows: F) -> PgWrite<S, F, R>
    where
        S: Stream,
        S::Item: TakeAcks,
        F: FnMut(S::Item) -> Result<I, E>,
        I: IntoIterator<Item = R>,
        E: Into<BoxError>,
        R: ToRow + Send + Sync + 'static,
    {
        PgWrite::new(self, stream, to_rows)
    }
}

impl fmt::Debug for PgSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSink")
            .field("table", &self.table)
            .field("columns", &self.columns)
            .field("mode", &self.mode)
            .field("batch_rows", &self.batch_rows)
            .field("on_error", &self.on_error)
            .finish()
    }
}

/// A sink's checked settings and statements, shared with its batch writes.
#[derive(Debug)]
pub(crate) struct SinkConfig {
    pub(crate) pool: Pool,
    pub(crate) table: Arc<str>,
    pub(crate) columns: usize,
    /// `SELECT columns FROM table`: prepared once for the column types `COPY` needs.
    pub(crate) describe: String,
    /// `COPY .. FROM STDIN BINARY`, or `None` for `INSERT`.
    pub(crate) copy: Option<String>,
    /// `INSERT INTO table (columns) VALUES`, completed per batch.
    pub(crate) insert: String,
    pub(crate) on_conflict: Option<String>,
}

impl SinkConfig {
    pub(crate) fn new(sink: &PgSink) -> Result<SinkConfig, PgError> {
        sink.validate()?;
        let table = &sink.table;
        let columns = sink.columns.join(", ");
        let (copy, on_conflict) = match &sink.mode {
            Mode::Copy => (
                Some(format!("COPY {table} ({columns}) FROM STDIN BINARY")),
                None,
            ),
            Mode::Insert { on_conflict } => (None, on_conflict.clone()),
        };
        Ok(SinkConfig {
            pool: sink.pool.clone(),
            table: table.as_str().into(),
            columns: sink.columns.len(),
            describe: format!("SELECT {columns} FROM {table}"),
            copy,
            insert: format!("INSERT INTO {table} ({columns}) VALUES "),
            on_conflict,
        })
    }

    /// The `INSERT` statement for `rows` rows.
    pub(crate) fn insert_sql(&self, rows: usize) -> String {
        let per_row = self.columns.saturating_mul(6).saturating_add(4);
        let mut sql = String::with_capacity(
            self.insert
                .len()
                .saturating_add(rows.saturating_mul(per_row)),
        );
        sql.push_str(&self.insert);
        let mut n = 0usize;
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..self.columns {
                if c > 0 {
                    sql.push_str(", ");
                }
                n = n.saturating_add(1);
                sql.push('$');
                sql.push_str(&n.to_string());
            }
            sql.push(')');
        }
        if let Some(conflict) = &self.on_conflict {
            sql.push_str(" ON CONFLICT ");
            sql.push_str(conflict);
        }
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::postgres::test_pool as pool;

    #[test]
    fn statements_follow_the_mode() {
        let copy = SinkConfig::new(&PgSink::copy(pool(), "s.out", ["a", "b"])).unwrap();
        assert_eq!(
            copy.copy.as_deref(),
            Some("COPY s.out (a, b) FROM STDIN BINARY")
        );
        let upsert = PgSink::copy(pool(), "out", ["a", "b"]).on_conflict("(a) DO NOTHING");
        let upsert = SinkConfig::new(&upsert).unwrap();
        assert_eq!(upsert.copy, None);
        assert_eq!(
            upsert.insert_sql(2),
            "INSERT INTO out (a, b) VALUES ($1, $2), ($3, $4) ON CONFLICT (a) DO NOTHING"
        );
    }

    #[test]
    fn invalid_settings_are_config_errors() {
        let no_columns = PgSink::insert(pool(), "out", Vec::<String>::new());
        assert_eq!(
            no_columns.validate(),
            Err(ConfigError::Zero {
                setting: "sink columns"
            })
        );
        let bad = PgSink::copy(pool(), "out", ["a", "b); DROP TABLE x; --"]);
        assert!(matches!(
            SinkConfig::new(&bad),
            Err(PgError::Config(ConfigError::Invalid { .. }))
        ));
        let zero = PgSink::copy(pool(), "out", ["a"]).batch_rows(0);
        assert!(zero.validate().is_err());
    }
}
