//! [`work_queue`]: a table as an at-least-once work queue, `FOR UPDATE SKIP LOCKED`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;

use super::db::ident;
use super::queue_stream::QueueStream;
use super::row::{FromRow, MapRow, RawRows, RowsAs};
use super::tracker::{QueueHandle, Tracker};
use crate::error::{BoxError, ConfigError};
use crate::stream::source::{Chunked, IntoSource, SourceContext, marker};
use crate::units::Count;

/// What acknowledging a row does to it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnAck {
    /// `DELETE` the row (the default).
    #[default]
    Delete,
    /// `UPDATE .. SET <column> = now()`; rows with the column set are not taken again.
    MarkDone(String),
}

impl OnAck {
    /// Marks acknowledged rows done in `column` (a timestamp column, `NULL` while the row
    /// is waiting).
    pub fn mark_done(column: impl Into<String>) -> Self {
        OnAck::MarkDone(column.into())
    }
}

/// The rows of a table as an at-least-once source: each batch of rows is taken with
/// `SELECT .. FOR UPDATE SKIP LOCKED LIMIT n` in its own transaction, and the transaction
/// settles and commits once every row of the batch was settled downstream.
///
/// - An acknowledged row is deleted, or marked done ([`OnAck`]).
/// - A rejected row stays in the queue; with [`count_attempts`](WorkQueue::count_attempts)
///   its attempts column is incremented, with [`record_error`](WorkQueue::record_error)
///   the reason is written, and with [`max_attempts`](WorkQueue::max_attempts) a row
///   whose attempts reach the maximum is parked (its park column set to `now()`) and not
///   taken again.
///   With [`retry_after`](WorkQueue::retry_after) it is not taken again before a delay.
/// - A released row (its obligation dropped unsettled) and a row not settled within the
///   [`ack_wait`](WorkQueue::ack_wait) stay as they were.
///
/// Other consumers (tasks or processes) on the same table skip the locked rows, so they
/// share the queue without taking the same row. If the process dies, the server rolls
/// back its open transactions and their rows are taken again: at least once. Duplicates
/// are the rows that were handled (written by a sink) but whose batch had not committed
/// yet: at most [`open_batches`](WorkQueue::open_batches) ×
/// [`batch_size`](WorkQueue::batch_size) rows per crashed consumer.
///
/// The source never holds more than `open_batches × batch_size` unsettled rows (and as
/// many connections from the pool as open batches): an operator that holds more rows
/// before emitting (a larger count window) waits for the acknowledgement wait to expire.
/// `into_chunks(n)` raises the batch size to `n` if it is smaller.
///
/// The row type comes from [`map_row`](WorkQueue::map_row) or
/// [`rows_as`](WorkQueue::rows_as); the selected columns must include the key column. A
/// row that fails to convert is a per-item error, rejected at once.
///
/// # Examples
///
/// ```no_run
/// use sweet_async::connectors::postgres::{OnAck, work_queue};
/// use sweet_async::prelude::*;
///
/// # async fn run(pool: deadpool_postgres::Pool) -> Result<(), Box<dyn std::error::Error>> {
/// // CREATE TABLE jobs (id bigserial PRIMARY KEY, payload text NOT NULL,
/// //                    attempts int NOT NULL DEFAULT 0, last_error text,
/// //                    run_at timestamptz, failed_at timestamptz)
/// let jobs = work_queue(pool, "jobs")
///     .columns("id, payload")
///     .count_attempts("attempts")
///     .record_error("last_error")
///     .retry_after("run_at", 30.seconds())
///     .max_attempts(5, "failed_at")
///     .rows_as::<(i64, String)>();
/// let queue = jobs.handle();
/// let summary = AsyncTask::emits::<(i64, String)>()
///     .sender(jobs)
///     .receiver(ReceiverStrategy::parallel(8)?, |job, _: Collector<(), ()>| async move {
///         println!("job {}: {}", job.data.0, job.data.1); // Ok: deleted; Err: retried
///         Ok::<_, std::io::Error>(())
///     })
///     .await_final_event(|summary, _| summary)
///     .await;
/// let stats = queue.settled().await?; // the last batches are committed
/// println!("{summary}; {stats}");
/// # Ok(())
/// # }
/// ```
pub fn work_queue(pool: Pool, table: impl Into<String>) -> WorkQueue<RawRows> {
    let table: String = table.into();
    WorkQueue {
        tracker: Arc::new(Tracker::new(table.as_str().into())),
        settings: Settings {
            pool,
            table,
            key: "id".to_owned(),
            columns: "*".to_owned(),
            filter: None,
            order_by: None,
            batch_size: Count::new(100, "rows"),
            open_batches: 2,
            on_ack: OnAck::Delete,
            attempts: None,
            error: None,
            park: None,
            retry: None,
            ack_wait: Duration::from_secs(300),
            poll_interval: Duration::from_millis(500),
            stop_when_empty: false,
        },
        map: RawRows,
    }
}

/// The source made by [`work_queue`].
#[must_use = "a source does nothing until given to `sender(..)`"]
pub struct WorkQueue<M> {
    pub(crate) tracker: Arc<Tracker>,
    pub(crate) settings: Settings,
    pub(crate) map: M,
}

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pool: Pool,
    table: String,
    key: String,
    columns: String,
    filter: Option<String>,
    order_by: Option<String>,
    batch_size: Count,
    open_batches: usize,
    on_ack: OnAck,
    attempts: Option<String>,
    error: Option<String>,
    park: Option<(u32, String)>,
    retry: Option<(String, Duration)>,
    ack_wait: Duration,
    poll_interval: Duration,
    stop_when_empty: bool,
}

impl<M> WorkQueue<M> {
    /// The key column (default `id`): unique, indexed, any type. Acknowledged and
    /// rejected rows are found by it.
    pub fn key(mut self, column: impl Into<String>) -> Self {
        self.settings.key = column.into();
        self
    }

    /// The selected columns, as SQL (default `*`); they must include the key column.
    /// Trusted SQL: never build it from untrusted input.
    pub fn columns(mut self, sql: impl Into<String>) -> Self {
        self.settings.columns = sql.into();
        self
    }

    /// A condition rows must meet to be taken, as SQL (e.g. `kind = 'email'`). Trusted
    /// SQL: never build it from untrusted input.
    pub fn filter(mut self, sql: impl Into<String>) -> Self {
        self.settings.filter = Some(sql.into());
        self
    }

    /// The order rows are taken in, as SQL (default: the key column, ascending).
    pub fn order_by(mut self, sql: impl Into<String>) -> Self {
        self.settings.order_by = Some(sql.into());
        self
    }

    /// Rows per batch (default 100): one transaction, one `SELECT`, one settlement.
    pub fn batch_size(mut self, rows: impl Into<Count>) -> Self {
        self.settings.batch_size = rows.into();
        self
    }

    /// Batches open at once (default 2): while one is being processed the next is
    /// fetched. Bounds the unsettled rows (`open_batches × batch_size`) and the
    /// connections the source holds: each open batch holds one until it commits, so the
    /// pool needs more than that (a sink on the same pool takes one more).
    pub fn open_batches(mut self, n: usize) -> Self {
        self.settings.open_batches = n;
        self
    }

    /// What acknowledging a row does (default: delete it).
    pub fn on_ack(mut self, action: OnAck) -> Self {
        self.settings.on_ack = action;
        self
    }

    /// Increments the integer `column` of a rejected row.
    pub fn count_attempts(mut self, column: impl Into<String>) -> Self {
        self.settings.attempts = Some(column.into());
        self
    }

    /// Writes the reason of a rejection into the text `column`.
    pub fn record_error(mut self, column: impl Into<String>) -> Self {
        self.settings.error = Some(column.into());
        self
    }

    /// Parks a row whose attempts reach `max` when it is rejected: sets the timestamp
    /// `park_column` to `now()`; rows with it set are not taken. Needs
    /// [`count_attempts`](WorkQueue::count_attempts).
    pub fn max_attempts(mut self, max: u32, park_column: impl Into<String>) -> Self {
        self.settings.park = Some((max, park_column.into()));
        self
    }

    /// Delays the next attempt of a rejected row: sets the timestamp `column` to
    /// `now() + delay`; rows whose column is in the future are not taken. Without it a
    /// rejected row can be taken again at once (by the next batch).
    pub fn retry_after(mut self, column: impl Into<String>, delay: Duration) -> Self {
        self.settings.retry = Some((column.into(), delay));
        self
    }

    /// How long a batch waits for its rows to be settled (default 5 minutes); then it
    /// commits what was settled and the other rows go back to the queue as they were.
    pub fn ack_wait(mut self, wait: Duration) -> Self {
        self.settings.ack_wait = wait;
        self
    }

    /// How long to wait before looking again when the queue is empty (default 500 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.settings.poll_interval = interval;
        self
    }

    /// Ends the stream at the first empty batch instead of waiting for new rows (batch
    /// jobs, tests). Rows that come back afterwards (rejected, released) wait for the
    /// next run. A rejected row taken again at once (no
    /// [`retry_after`](WorkQueue::retry_after)) keeps the run going until it succeeds or is
    /// parked.
    pub fn stop_when_empty(mut self, stop: bool) -> Self {
        self.settings.stop_when_empty = stop;
        self
    }

    /// A handle on the source's counts, and to wait until its batches are committed.
    pub fn handle(&self) -> QueueHandle {
        QueueHandle {
            tracker: self.tracker.clone(),
        }
    }

    /// Turns each row into an item with `f`; an `Err` is a per-item error (the row is
    /// rejected) naming the table and the delivery number.
    pub fn map_row<F, T, E>(self, f: F) -> WorkQueue<F>
    where
        F: Fn(&tokio_postgres::Row) -> Result<T, E>,
        E: Into<BoxError>,
    {
        self.with_map(f)
    }

    /// Reads each row as a [`FromRow`] type (a tuple of column types, in order).
    pub fn rows_as<T: FromRow>(self) -> WorkQueue<RowsAs<T>> {
        self.with_map(RowsAs::new())
    }

    fn with_map<N>(self, map: N) -> WorkQueue<N> {
        WorkQueue {
            tracker: self.tracker,
            settings: self.settings,
            map,
        }
    }

    /// Emits chunks of `size` rows (`Vec<T>` events); a chunk owes the queue its rows'
    /// acknowledgements, merged into ranges.
    pub fn into_chunks(self, size: impl Into<Count>) -> Chunked<Self> {
        Chunked::new(self, size.into())
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// A table or column that is not an identifier, a zero batch size or open batches, a
    /// zero wait, or a maximum of attempts without an attempts column.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.settings;
        ident("work queue table", &s.table)?;
        ident("work queue key column", &s.key)?;
        if let OnAck::MarkDone(column) = &s.on_ack {
            ident("work queue done column", column)?;
        }
        if let Some(column) = &s.attempts {
            ident("work queue attempts column", column)?;
        }
        if let Some(column) = &s.error {
            ident("work queue error column", column)?;
        }
        if let Some((column, _)) = &s.retry {
            ident("work queue retry column", column)?;
        }
        if let Some((max, column)) = &s.park {
            ident("work queue park column", column)?;
            ConfigError::check_range("work queue max attempts", u64::from(*max), 1, 1 << 30)?;
            if s.attempts.is_none() {
                return Err(ConfigError::Conflict {
                    reason: "max_attempts needs count_attempts (the column counting them)"
                        .to_owned(),
                });
            }
        }
        s.batch_size.validate("work queue batch size")?;
        ConfigError::check_range(
            "work queue batch size",
            s.batch_size.get() as u64,
            1,
            i64::MAX as u64,
        )?;
        if s.open_batches == 0 {
            return Err(ConfigError::Zero {
                setting: "work queue open batches",
            });
        }
        ConfigError::check_duration("work queue ack wait", s.ack_wait)?;
        ConfigError::check_duration("work queue poll interval", s.poll_interval)?;
        Ok(())
    }
}

/// A work queue's settings, checked, with its statements.
#[derive(Debug)]
pub(crate) struct QueueConfig {
    pub(crate) pool: Pool,
    pub(crate) table: Arc<str>,
    pub(crate) key: Arc<str>,
    /// `$1`: the batch size.
    pub(crate) select: String,
    /// `$1`: the keys.
    pub(crate) ack: String,
    /// `$1`: the keys, `$2`: the reason when an error column is set; returns whether each
    /// row was parked.
    pub(crate) reject: Option<String>,
    pub(crate) records_error: bool,
    pub(crate) batch_size: usize,
    pub(crate) open_batches: usize,
    pub(crate) ack_wait: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) stop_when_empty: bool,
}

impl QueueConfig {
    /// The statements for checked settings; `min_batch` is the chunk size of an
    /// `into_chunks` around the source.
    fn new(s: Settings, min_batch: usize) -> QueueConfig {
        let Settings {
            pool,
            table,
            key,
            columns,
            filter,
            order_by,
            batch_size,
            open_batches,
            on_ack,
            attempts,
            error,
            park,
            retry,
            ack_wait,
            poll_interval,
            stop_when_empty,
        } = s;
        let mut taken = Vec::new();
        if let OnAck::MarkDone(done) = &on_ack {
            taken.push(format!("{done} IS NULL"));
        }
        if let Some((_, parked)) = &park {
            taken.push(format!("{parked} IS NULL"));
        }
        if let Some((column, _)) = &retry {
            taken.push(format!("({column} IS NULL OR {column} <= now())"));
        }
        if let Some(filter) = &filter {
            taken.push(format!("({filter})"));
        }
        let condition = if taken.is_empty() {
            "TRUE".to_owned()
        } else {
            taken.join(" AND ")
        };
        let order = order_by.as_deref().unwrap_or(&key);
        let select = format!(
            "SELECT {columns} FROM {table} WHERE {condition} ORDER BY {order} LIMIT $1 FOR UPDATE SKIP LOCKED"
        );
        let ack = match &on_ack {
            OnAck::MarkDone(done) => {
                format!("UPDATE {table} SET {done} = now() WHERE {key} = ANY($1)")
            }
            OnAck::Delete => format!("DELETE FROM {table} WHERE {key} = ANY($1)"),
        };
        let mut sets = Vec::new();
        if let Some(attempts) = &attempts {
            sets.push(format!("{attempts} = {attempts} + 1"));
        }
        if let Some(error) = &error {
            sets.push(format!("{error} = $2"));
        }
        if let Some((column, delay)) = &retry {
            let ms = delay.as_millis();
            sets.push(format!("{column} = now() + interval '{ms} milliseconds'"));
        }
        let (parked, returning) = match (&park, &attempts) {
            (Some((max, parked)), Some(attempts)) => (
                Some(format!(
                    "{parked} = CASE WHEN {attempts} + 1 >= {max} THEN now() ELSE {parked} END"
                )),
                format!("{parked} IS NOT NULL"),
            ),
            _ => (None, "FALSE".to_owned()),
        };
        sets.extend(parked);
        let reject = (!sets.is_empty()).then(|| {
            format!(
                "UPDATE {table} SET {} WHERE {key} = ANY($1) RETURNING {returning}",
                sets.join(", ")
            )
        });
        QueueConfig {
            pool,
            table: table.as_str().into(),
            key: key.as_str().into(),
            select,
            ack,
            reject,
            records_error: error.is_some(),
            batch_size: batch_size.get().max(min_batch),
            open_batches,
            ack_wait,
            poll_interval,
            stop_when_empty,
        }
    }
}

impl<M: MapRow> IntoSource<M::Output, marker::Native> for WorkQueue<M> {
    type Data = M::Output;
    type Source = QueueStream<M>;

    fn name(&self) -> Option<Arc<str>> {
        Some(self.tracker.table.clone())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        WorkQueue::validate(self)
    }

    fn into_source(self, ctx: &SourceContext) -> QueueStream<M> {
        let min_batch = ctx.batch_hint.map_or(1, |n| n.get());
        let config = Arc::new(QueueConfig::new(self.settings, min_batch));
        QueueStream::new(config, self.tracker, self.map)
    }
}

impl<M> fmt::Debug for WorkQueue<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkQueue")
            .field("settings", &self.settings)
            .field("map", &std::any::type_name::<M>())
            .field("stats", &self.tracker.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::postgres::test_pool as pool;
    use crate::units::CountExt;

    #[test]
    fn statements_follow_the_settings() {
        let q = work_queue(pool(), "jobs")
            .columns("id, body")
            .filter("kind = 'mail'")
            .on_ack(OnAck::mark_done("done_at"))
            .count_attempts("attempts")
            .record_error("last_error")
            .retry_after("run_at", Duration::from_secs(30))
            .max_attempts(3, "failed_at");
        assert_eq!(q.validate(), Ok(()));
        let c = QueueConfig::new(q.settings, 1);
        assert_eq!(
            c.select,
            "SELECT id, body FROM jobs WHERE done_at IS NULL AND failed_at IS NULL AND \
             (run_at IS NULL OR run_at <= now()) AND (kind = 'mail') \
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"
        );
        assert_eq!(c.ack, "UPDATE jobs SET done_at = now() WHERE id = ANY($1)");
        assert_eq!(
            c.reject.as_deref(),
            Some(
                "UPDATE jobs SET attempts = attempts + 1, last_error = $2, run_at = now() + \
                 interval '30000 milliseconds', failed_at = CASE WHEN attempts + 1 >= 3 THEN now() \
                 ELSE failed_at END WHERE id = ANY($1) RETURNING failed_at IS NOT NULL"
            )
        );
        let plain = QueueConfig::new(work_queue(pool(), "q").settings, 500);
        assert_eq!(
            plain.select,
            "SELECT * FROM q WHERE TRUE ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"
        );
        assert_eq!(plain.ack, "DELETE FROM q WHERE id = ANY($1)");
        assert_eq!(plain.reject, None);
        assert_eq!(plain.batch_size, 500);
    }

    #[test]
    fn invalid_settings_are_config_errors() {
        assert!(matches!(
            work_queue(pool(), "jobs; drop table x").validate(),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            work_queue(pool(), "jobs")
                .max_attempts(3, "failed_at")
                .validate(),
            Err(ConfigError::Conflict { .. })
        ));
        assert_eq!(
            work_queue(pool(), "jobs").batch_size(0.rows()).validate(),
            Err(ConfigError::Zero {
                setting: "work queue batch size"
            })
        );
        assert_eq!(
            work_queue(pool(), "jobs").open_batches(0).validate(),
            Err(ConfigError::Zero {
                setting: "work queue open batches"
            })
        );
    }
}
