//! [`from_database`]: a query's rows as a source, streamed with bounded memory.

use std::fmt;
use std::sync::Arc;

use tokio_postgres::types::ToSql;

use super::db::Db;
use super::query_stream::QueryStream;
use super::row::{FromRow, MapRow, RawRows, RowsAs};
use crate::error::BoxError;
use crate::stream::source::{Chunked, IntoSource, SourceContext, marker};
use crate::units::Count;

/// A query parameter, owned by the source until the query is sent.
pub type Param = Box<dyn ToSql + Send + Sync>;

/// The rows of `sql` as a source: `AsyncTask::emits::<T>().sender(from_database(pool, sql))`.
///
/// The query is sent when the stream is first polled, on a connection taken from the
/// pool (or on the client given), and its rows are streamed as they arrive
/// (`query_raw`): the source holds one row at a time and the driver stops reading the
/// socket while the pipeline is busy, so the server waits and memory stays flat however
/// many rows the query returns. Each event's [`Position`](crate::stream::Position)
/// carries the row's 1-based number as its line.
///
/// Items are [`Row`](tokio_postgres::Row)s until you choose a type:
/// [`map_row`](Query::map_row) takes a closure `Fn(&Row) -> Result<T, E>`,
/// [`rows_as`](Query::rows_as) a [`FromRow`] type such as `(i64, String)`. A row that
/// fails to convert is a per-item error ([`PgError::Row`](super::PgError::Row), naming
/// the query and the row number) and the rows after it still come; a failure of the
/// query or the connection ends the stream with a fatal error
/// ([`PgError::Query`](super::PgError::Query)).
///
/// A query source takes no acknowledgements: its events carry none, and nothing is
/// redelivered. For at-least-once processing of rows use a [`work_queue`](super::work_queue).
///
/// # Examples
///
/// ```no_run
/// use sweet_async::connectors::postgres::from_database;
/// use sweet_async::prelude::*;
///
/// # async fn run(pool: deadpool_postgres::Pool) {
/// let summary = AsyncTask::emits::<(i64, String)>()
///     .sender(
///         from_database(pool, "SELECT id, name FROM users WHERE active = $1")
///             .bind(true)
///             .rows_as::<(i64, String)>()
///             .into_chunks(1000.rows()),
///     )
///     .receiver(ReceiverStrategy::Serial, |chunk, _: Collector<(), ()>| async move {
///         println!("{} users", chunk.data.len());
///         Ok::<_, std::io::Error>(())
///     })
///     .await_final_event(|summary, _| summary)
///     .await;
/// # }
/// ```
#[doc(alias = "query")]
#[doc(alias = "postgres")]
pub fn from_database(db: impl Into<Db>, sql: impl Into<Arc<str>>) -> Query<RawRows> {
    Query {
        db: db.into(),
        sql: sql.into(),
        params: Vec::new(),
        map: RawRows,
        name: None,
    }
}

/// The source made by [`from_database`].
#[must_use = "a source does nothing until given to `sender(..)`"]
pub struct Query<M> {
    pub(crate) db: Db,
    pub(crate) sql: Arc<str>,
    pub(crate) params: Vec<Param>,
    pub(crate) map: M,
    pub(crate) name: Option<Arc<str>>,
}

impl<M> Query<M> {
    /// Adds the value of the next parameter (`$1`, then `$2`, ...).
    pub fn bind(mut self, value: impl ToSql + Send + Sync + 'static) -> Self {
        self.params.push(Box::new(value));
        self
    }

    /// Sets all parameter values at once.
    pub fn params(mut self, values: Vec<Param>) -> Self {
        self.params = values;
        self
    }

    /// Names the source (its events carry the name); the default name is the query.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Turns each row into an item with `f`; an `Err` is a per-item error naming the
    /// query and the row number.
    pub fn map_row<F, T, E>(self, f: F) -> Query<F>
    where
        F: Fn(&tokio_postgres::Row) -> Result<T, E>,
        E: Into<BoxError>,
    {
        self.with_map(f)
    }

    /// Reads each row as a [`FromRow`] type (a tuple of column types, in order).
    pub fn rows_as<T: FromRow>(self) -> Query<RowsAs<T>> {
        self.with_map(RowsAs::new())
    }

    fn with_map<N>(self, map: N) -> Query<N> {
        Query {
            db: self.db,
            sql: self.sql,
            params: self.params,
            map,
            name: self.name,
        }
    }

    /// Emits chunks of `size` rows (`Vec<T>` events) instead of single rows.
    pub fn into_chunks(self, size: impl Into<Count>) -> Chunked<Self> {
        Chunked::new(self, size.into())
    }

    fn label(&self) -> Arc<str> {
        self.name.clone().unwrap_or_else(|| self.sql.clone())
    }
}

impl<M: MapRow> IntoSource<M::Output, marker::Native> for Query<M> {
    type Data = M::Output;
    type Source = QueryStream<M>;

    fn name(&self) -> Option<Arc<str>> {
        Some(self.label())
    }

    fn into_source(self, _ctx: &SourceContext) -> QueryStream<M> {
        let label = self.label();
        QueryStream::new(self.db, self.sql, self.params, self.map, label)
    }
}

impl<M> fmt::Debug for Query<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("db", &self.db)
            .field("sql", &self.sql)
            .field("params", &self.params.len())
            .field("map", &std::any::type_name::<M>())
            .field("name", &self.name)
            .finish()
    }
}
