//! [`QueryStream`]: the stream of a [`Query`](super::Query) source.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use futures::future::BoxFuture;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;
use tokio_postgres::RowStream;
use tokio_postgres::types::ToSql;

use super::db::{Conn, Db};
use super::error::PgError;
use super::query::Param;
use super::row::MapRow;
use crate::stream::source::{Located, SourceItem};
use crate::stream::{Position, SourceError};

pin_project! {
    /// The stream of a [`Query`](super::Query) source: rows as they arrive, one at a
    /// time.
    #[must_use = "streams do nothing unless polled"]
    pub struct QueryStream<M> {
        state: State,
        map: M,
        label: Arc<str>,
        // Rows taken from the driver so far.
        row: u64,
    }
}

enum State {
    Opening(BoxFuture<'static, Result<Running, PgError>>),
    Running(Running),
    Done,
}

/// A query whose rows are coming.
struct Running {
    // `None` once the rows are all read: the connection goes back to its pool.
    conn: Option<Conn>,
    rows: Pin<Box<RowStream>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        // Dropped before the last row: close a pooled connection so the server stops
        // sending, rather than hand the pool a connection still draining the result.
        if let Some(conn) = self.conn.take() {
            conn.close();
        }
    }
}

impl<M> QueryStream<M> {
    pub(crate) fn new(db: Db, sql: Arc<str>, params: Vec<Param>, map: M, label: Arc<str>) -> Self {
        let what = label.clone();
        let open = async move {
            let conn = Conn::open(db, &what).await?;
            let values = params.iter().map(|p| &**p as &(dyn ToSql + Sync));
            let rows = conn
                .client()
                .query_raw(sql.as_ref(), values)
                .await
                .map_err(|source| PgError::Query {
                    query: what.clone(),
                    source,
                })?;
            Ok(Running {
                conn: Some(conn),
                rows: Box::pin(rows),
            })
        };
        QueryStream {
            state: State::Opening(Box::pin(open)),
            map,
            label,
            row: 0,
        }
    }
}

/// A fatal error: the source ends after it.
fn fatal<T>(e: PgError) -> Poll<Option<SourceItem<T>>> {
    Poll::Ready(Some(Err(Located::bare(SourceError::SenderFailed(
        Box::new(e),
    )))))
}

impl<M: MapRow> Stream for QueryStream<M> {
    type Item = SourceItem<M::Output>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        loop {
            let running = match this.state {
                State::Running(running) => running,
                State::Opening(open) => match open.as_mut().poll(cx) {
                    Poll::Ready(Ok(running)) => {
                        *this.state = State::Running(running);
                        continue;
                    }
                    Poll::Ready(Err(e)) => {
                        *this.state = State::Done;
                        return fatal(e);
                    }
                    Poll::Pending => return Poll::Pending,
                },
                State::Done => return Poll::Ready(None),
            };
            return match running.rows.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(row))) => {
                    *this.row = this.row.saturating_add(1);
                    let at = Position::new(*this.row, 0);
                    Poll::Ready(Some(match this.map.map_row(row) {
                        Ok(value) => Ok(Located::at(value, at)),
                        Err(e) => Err(Located::at(
                            SourceError::Item(Box::new(PgError::Row {
                                query: this.label.clone(),
                                row: *this.row,
                                source: e.into(),
                            })),
                            at,
                        )),
                    }))
                }
                Poll::Ready(Some(Err(source))) => {
                    drop(running.conn.take());
                    *this.state = State::Done;
                    fatal(PgError::Query {
                        query: this.label.clone(),
                        source,
                    })
                }
                Poll::Ready(None) => {
                    drop(running.conn.take());
                    *this.state = State::Done;
                    Poll::Ready(None)
                }
                Poll::Pending => Poll::Pending,
            };
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.state {
            State::Done => (0, Some(0)),
            _ => (0, None),
        }
    }
}

impl<M: MapRow> FusedStream for QueryStream<M> {
    fn is_terminated(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

impl<M> fmt::Debug for QueryStream<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Opening(_) => "opening",
            State::Running(_) => "running",
            State::Done => "done",
        };
        f.debug_struct("QueryStream")
            .field("query", &self.label)
            .field("state", &state)
            .field("rows", &self.row)
            .finish()
    }
}
