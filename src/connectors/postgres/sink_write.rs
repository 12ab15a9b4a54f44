//! [`PgWrite`]: the future of [`PgSink::write`](super::PgSink::write).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use deadpool_postgres::Object;
use futures::Stream;
use futures::future::BoxFuture;
use pin_project_lite::pin_project;
use tokio_postgres::types::Type;

use super::error::PgError;
use super::sink::{OnBatchError, PgSink, SinkConfig};
use super::sink_batch::{self, Written};
use super::to_row::ToRow;
use crate::ack::{Acks, TakeAcks};
use crate::collect::Summary;
use crate::collect::Tally;
use crate::error::BoxError;

/// Items taken from the stream in one poll before the future yields to the executor.
const POLL_BUDGET: usize = 1024;

pin_project! {
    /// The future of [`PgSink::write`](super::PgSink::write): resolves to the
    /// [`Summary`] once the stream has ended and every batch is committed.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct PgWrite<S, F, R> {
        #[pin]
        stream: S,
        to_rows: F,
        config: Option<Arc<SinkConfig>>,
        // An invalid setting, reported by the first poll.
        error: Option<PgError>,
        batch_rows: usize,
        on_error: OnBatchError,
        // The batch being filled: its rows, the obligations of its items, their count.
        rows: Vec<R>,
        acks: Acks,
        items: u64,
        // The batch being written.
        writing: Option<InFlight<R>>,
        // Between batches: the connection, the column types, the emptied row buffer.
        conn: Option<Object>,
        types: Option<Arc<[Type]>>,
        spare: Vec<R>,
        batches: u64,
        tally: Tally,
        ended: bool,
        finished: bool,
    }
}

struct InFlight<R> {
    write: BoxFuture<'static, Written<R>>,
    acks: Acks,
    items: u64,
}

impl<S, F, R> PgWrite<S, F, R> {
    pub(crate) fn new(sink: PgSink, stream: S, to_rows: F) -> Self {
        let (config, error) = match SinkConfig::new(&sink) {
            Ok(config) => (Some(Arc::new(config)), None),
            Err(e) => (None, Some(e)),
        };
        PgWrite {
            stream,
            to_rows,
            config,
            error,
            batch_rows: sink.batch_rows.get(),
            on_error: sink.on_error,
            rows: Vec::new(),
            acks: Acks::none(),
            items: 0,
            writing: None,
            conn: None,
            types: None,
            spare: Vec::new(),
            batches: 0,
            tally: Tally::default(),
            ended: false,
            finished: false,
        }
    }
}

/// A user's error as a rejection reason.
struct Reason(BoxError);

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<S, F, I, E, R> Future for PgWrite<S, F, R>
where
    S: Stream,
    S::Item: TakeAcks,
    F: FnMut(S::Item) -> Result<I, E>,
    I: IntoIterator<Item = R>,
    E: Into<BoxError>,
    R: ToRow + Send + Sync + 'static,
{
    type Output = Result<Summary, PgError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if *this.finished {
            return Poll::Pending;
        }
        if let Some(e) = this.error.take() {
            *this.finished = true;
            return Poll::Ready(Err(e));
        }
        let Some(config) = this.config.clone() else {
            return Poll::Pending;
        };
        let out = this.tally.poll(|tally| {
            let mut budget = POLL_BUDGET;
            loop {
                // 1. The batch being written.
                if let Some(flight) = this.writing.as_mut() {
                    if let Poll::Ready(written) = flight.write.as_mut().poll(cx) {
                        let Some(flight) = this.writing.take() else {
                            continue;
                        };
                        *this.conn = written.conn;
                        if written.types.is_some() {
                            *this.types = written.types;
                        }
                        *this.spare = written.rows;
                        match written.result {
                            Ok(_) => {
                                // Committed: now the sources may forget these items.
                                flight.acks.ack();
                                tally.out = tally.out.saturating_add(flight.items);
                            }
                            Err(e) => {
                                flight.acks.reject(&e);
                                tally.errors = tally.errors.saturating_add(flight.items);
                                if *this.on_error == OnBatchError::Stop {
                                    // Read but not written: released, they come again.
                                    drop(this.acks.take());
                                    this.rows.clear();
                                    return Poll::Ready(Err(e));
                                }
                            }
                        }
                    }
                }
                // 2. The next item, while the batch being filled has room.
                let mut idle = false;
                if !*this.ended && this.rows.len() < *this.batch_rows {
                    if budget == 0 {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    match this.stream.as_mut().poll_next(cx) {
                        Poll::Ready(Some(mut item)) => {
                            budget = budget.saturating_sub(1); // > 0: checked above
                            let acks = item.take_acks();
                            match (this.to_rows)(item) {
                                Ok(rows) => {
                                    this.rows.extend(rows);
                                    this.acks.merge(acks);
                                    *this.items = this.items.saturating_add(1);
                                }
                                Err(e) => {
                                    acks.reject(&Reason(e.into()));
                                    tally.errors = tally.errors.saturating_add(1);
                                }
                            }
                            continue;
                        }
                        Poll::Ready(None) => *this.ended = true,
                        Poll::Pending => idle = true,
                    }
                }
                // 3. Write the batch when it is full, or when nothing more is ready.
                let full = this.rows.len() >= *this.batch_rows;
                if this.writing.is_none() && *this.items > 0 && (full || idle || *this.ended) {
                    let items = std::mem::take(this.items);
                    let acks = this.acks.take();
                    if this.rows.is_empty() {
                        // Items that made no rows: nothing to wait for.
                        acks.ack();
                        tally.out = tally.out.saturating_add(items);
                        continue;
                    }
                    let rows = std::mem::replace(this.rows, std::mem::take(this.spare));
                    let write = sink_batch::write(
                        config.clone(),
                        this.conn.take(),
                        rows,
                        this.types.clone(),
                        *this.batches,
                    );
                    *this.batches = this.batches.saturating_add(1);
                    *this.writing = Some(InFlight {
                        write: Box::pin(write),
                        acks,
                        items,
                    });
                    continue;
                }
                if *this.ended && this.writing.is_none() && *this.items == 0 {
                    return Poll::Ready(Ok(()));
                }
                return Poll::Pending;
            }
        });
        match out {
            Poll::Ready(result) => {
                *this.finished = true;
                Poll::Ready(result.map(|()| this.tally.finish()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S, F, R> fmt::Debug for PgWrite<S, F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgWrite")
            .field("table", &self.config.as_ref().map(|c| c.table.clone()))
            .field("buffered_rows", &self.rows.len())
            .field("writing", &self.writing.is_some())
            .field("batches", &self.batches)
            .field("ended", &self.ended)
            .finish()
    }
}
