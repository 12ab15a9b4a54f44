//! [`PgError`]: what went wrong talking to PostgreSQL, and where.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use crate::error::{BoxError, ConfigError};

/// A PostgreSQL source or sink failure, naming the query or table and the row or batch.
///
/// Sources hand per-row failures ([`Row`](PgError::Row)) to the pipeline as per-item
/// [`SourceError::Item`](crate::stream::SourceError::Item)s and the others as fatal
/// [`SourceError::SenderFailed`](crate::stream::SourceError::SenderFailed)s, boxing this
/// error; `downcast_ref::<PgError>()` gets it back.
#[derive(Debug)]
#[non_exhaustive]
pub enum PgError {
    /// No connection could be taken from the pool.
    Pool {
        /// The query or table the connection was for.
        what: Arc<str>,
        /// What the pool said.
        source: deadpool_postgres::PoolError,
    },
    /// A statement failed on the server or on the connection.
    Query {
        /// The query (or the source's name, or the table).
        query: Arc<str>,
        /// The driver's error.
        source: tokio_postgres::Error,
    },
    /// A row could not be turned into the source's item type.
    Row {
        /// The query (or the source's name, or the work queue's table).
        query: Arc<str>,
        /// 1-based number of the row among the rows the source delivered.
        row: u64,
        /// Why.
        source: BoxError,
    },
    /// A batch written by a sink failed and was rolled back; its items were rejected.
    Batch {
        /// The table written to.
        table: Arc<str>,
        /// 0-based number of the batch among the sink's batches.
        batch: u64,
        /// Rows in the batch.
        rows: usize,
        /// The driver's error.
        source: tokio_postgres::Error,
    },
    /// A sink's row has another number of values than the sink has columns.
    Arity {
        /// The table written to.
        table: Arc<str>,
        /// 0-based number of the batch.
        batch: u64,
        /// 1-based number of the row in the batch.
        row: usize,
        /// Columns of the sink.
        expected: usize,
        /// Values the row gave.
        got: usize,
    },
    /// The work queue's rows lack its key column (add it to the selected columns).
    MissingKey {
        /// The work queue's table.
        table: Arc<str>,
        /// The key column.
        key: Arc<str>,
    },
    /// A work-queue batch could not be committed; its rows are back in the queue.
    Commit {
        /// The work queue's table.
        table: Arc<str>,
        /// Rows in the batch.
        rows: usize,
        /// The driver's error.
        source: tokio_postgres::Error,
    },
    /// The source or sink needs a tokio runtime and none is running on this thread.
    NoRuntime,
    /// An invalid setting; nothing was read or written.
    Config(ConfigError),
}

impl PgError {
    /// The 1-based row number the error is about, for [`Row`](PgError::Row) and
    /// [`Arity`](PgError::Arity).
    pub fn row(&self) -> Option<u64> {
        match self {
            PgError::Row { row, .. } => Some(*row),
            PgError::Arity { row, .. } => u64::try_from(*row).ok(),
            _ => None,
        }
    }

    /// The server's SQLSTATE code, when the server reported the error.
    pub fn code(&self) -> Option<&tokio_postgres::error::SqlState> {
        match self {
            PgError::Query { source, .. }
            | PgError::Batch { source, .. }
            | PgError::Commit { source, .. } => source.code(),
            _ => None,
        }
    }
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::Pool { what, source } => {
                write!(f, "`{what}`: no connection from the pool: {source}")
            }
            PgError::Query { query, source } => write!(f, "`{query}`: {}", db_message(source)),
            PgError::Row { query, row, source } => write!(f, "`{query}`: row {row}: {source}"),
            PgError::Batch {
                table,
                batch,
                rows,
                source,
            } => write!(
                f,
                "writing batch {batch} ({rows} rows) into `{table}` failed and was rolled back: {}",
                db_message(source)
            ),
            PgError::Arity {
                table,
                batch,
                row,
                expected,
                got,
            } => write!(
                f,
                "`{table}`: batch {batch}, row {row}: {got} values for {expected} columns"
            ),
            PgError::MissingKey { table, key } => write!(
                f,
                "work queue `{table}`: the selected columns do not include the key column `{key}`"
            ),
            PgError::Commit {
                table,
                rows,
                source,
            } => write!(
                f,
                "work queue `{table}`: settling a batch of {rows} rows failed, the rows are back in the queue: {}",
                db_message(source)
            ),
            PgError::NoRuntime => f.write_str("no tokio runtime is running on this thread"),
            PgError::Config(c) => write!(f, "invalid PostgreSQL connector setting: {c}"),
        }
    }
}

/// The server's message when there is one (the driver's `Display` says only "db error").
fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.to_string(),
        None => e.to_string(),
    }
}

impl StdError for PgError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            PgError::Pool { source, .. } => Some(source),
            PgError::Query { source, .. }
            | PgError::Batch { source, .. }
            | PgError::Commit { source, .. } => Some(source),
            PgError::Row { source, .. } => Some(source.as_ref()),
            PgError::Config(c) => Some(c),
            _ => None,
        }
    }
}

impl From<ConfigError> for PgError {
    fn from(e: ConfigError) -> Self {
        PgError::Config(e)
    }
}
