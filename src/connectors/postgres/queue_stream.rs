//! [`QueueStream`]: the stream of a [`WorkQueue`](super::WorkQueue) source.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;
use tokio::sync::oneshot;
use tokio::time::Sleep;
use tokio_postgres::Row;

use super::error::PgError;
use super::queue::QueueConfig;
use super::queue_batch::{self, Fetched};
use super::row::MapRow;
use super::tracker::{Batch, Settled, Tracker};
use crate::ack::{AckSink, Acks};
use crate::stream::source::{Located, SourceItem};
use crate::stream::{Position, SourceError};

pin_project! {
    /// The stream of a [`WorkQueue`](super::WorkQueue) source: the rows of one batch
    /// after another, each owing the batch its acknowledgement.
    #[must_use = "streams do nothing unless polled"]
    pub struct QueueStream<M> {
        config: Arc<QueueConfig>,
        tracker: Arc<Tracker>,
        sink: Arc<dyn AckSink>,
        map: M,
        // The batch whose rows are being emitted.
        current: Option<Current>,
        // The next batch, being fetched by its task.
        fetching: Option<Fetching>,
        // Waiting before looking at an empty queue again.
        sleep: Option<Pin<Box<Sleep>>>,
        // The delivery number of the next batch's first row.
        next_id: u64,
        // No more batches will be fetched.
        ended: bool,
    }
}

/// A batch being emitted; dropping it releases the rows not emitted yet.
struct Current {
    rows: std::vec::IntoIter<Row>,
    batch: Arc<Batch>,
    first: u64,
    taken: usize,
}

impl Drop for Current {
    fn drop(&mut self) {
        if self.taken < self.batch.len() {
            self.batch
                .settle(self.taken..self.batch.len(), &Settled::Released);
        }
    }
}

/// A batch being fetched; dropping it releases the rows if they had arrived.
struct Fetching(oneshot::Receiver<Fetched>);

impl Drop for Fetching {
    fn drop(&mut self) {
        self.0.close();
        if let Ok(Ok((_, batch))) = self.0.try_recv() {
            batch.settle(0..batch.len(), &Settled::Released);
        }
    }
}

impl<M> QueueStream<M> {
    pub(crate) fn new(config: Arc<QueueConfig>, tracker: Arc<Tracker>, map: M) -> Self {
        let sink: Arc<dyn AckSink> = tracker.clone();
        QueueStream {
            config,
            tracker,
            sink,
            map,
            current: None,
            fetching: None,
            sleep: None,
            next_id: 0,
            ended: false,
        }
    }
}

/// A fatal error: the source ends after it.
fn fatal<T>(e: PgError) -> Poll<Option<SourceItem<T>>> {
    Poll::Ready(Some(Err(Located::bare(SourceError::SenderFailed(
        Box::new(e),
    )))))
}

impl<M: MapRow> Stream for QueueStream<M> {
    type Item = SourceItem<M::Output>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        loop {
            // Fetch the next batch while this one is emitted, if a batch slot is free.
            if this.fetching.is_none()
                && !*this.ended
                && this.sleep.is_none()
                && this.tracker.open() < this.config.open_batches
            {
                match queue_batch::spawn(this.config, this.tracker) {
                    Ok(rx) => *this.fetching = Some(Fetching(rx)),
                    Err(e) => {
                        *this.ended = true;
                        return fatal(e);
                    }
                }
            }
            if let Some(current) = this.current {
                if let Some(row) = current.rows.next() {
                    let id = current.first.saturating_add(current.taken as u64);
                    current.taken = current.taken.saturating_add(1);
                    let acks = Acks::new(this.sink.clone(), 0, id..id.saturating_add(1));
                    let at = Position::new(id.saturating_add(1), 0);
                    return Poll::Ready(Some(match this.map.map_row(row) {
                        Ok(value) => Ok(Located::at(value, at).with_acks(acks)),
                        Err(e) => Err(Located::at(
                            SourceError::Item(Box::new(PgError::Row {
                                query: this.config.table.clone(),
                                row: id.saturating_add(1),
                                source: e.into(),
                            })),
                            at,
                        )
                        .with_acks(acks)),
                    }));
                }
                *this.current = None;
            }
            if let Some(fetching) = this.fetching {
                let fetched = match Pin::new(&mut fetching.0).poll(cx) {
                    Poll::Ready(fetched) => fetched,
                    Poll::Pending => return Poll::Pending,
                };
                *this.fetching = None;
                match fetched {
                    Ok(Ok((rows, batch))) if rows.is_empty() => {
                        if this.config.stop_when_empty {
                            *this.ended = true;
                        } else {
                            let wait = tokio::time::sleep(this.config.poll_interval);
                            *this.sleep = Some(Box::pin(wait));
                        }
                        drop(batch);
                    }
                    Ok(Ok((rows, batch))) => {
                        let first = *this.next_id;
                        *this.next_id = first.saturating_add(rows.len() as u64);
                        this.tracker.register(first, &batch);
                        *this.current = Some(Current {
                            rows: rows.into_iter(),
                            batch,
                            first,
                            taken: 0,
                        });
                    }
                    Ok(Err(e)) => {
                        *this.ended = true;
                        return fatal(e);
                    }
                    // The batch task was dropped without an answer: the runtime is
                    // shutting down.
                    Err(_) => {
                        *this.ended = true;
                        return fatal(PgError::NoRuntime);
                    }
                }
                continue;
            }
            if let Some(sleep) = this.sleep {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                *this.sleep = None;
                continue;
            }
            if *this.ended {
                return Poll::Ready(None);
            }
            // Every batch slot is taken: wait until a batch commits.
            this.tracker.wait_for_slot(cx.waker());
            if this.tracker.open() < this.config.open_batches {
                continue;
            }
            return Poll::Pending;
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.current.as_ref().map_or(0, |c| c.rows.len());
        if self.ended && self.fetching.is_none() {
            (left, Some(left))
        } else {
            (left, None)
        }
    }
}

impl<M: MapRow> FusedStream for QueueStream<M> {
    fn is_terminated(&self) -> bool {
        self.ended && self.fetching.is_none() && self.current.is_none()
    }
}

impl<M> fmt::Debug for QueueStream<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueStream")
            .field("table", &self.config.table)
            .field("next_delivery", &self.next_id)
            .field("fetching", &self.fetching.is_some())
            .field("ended", &self.ended)
            .field("stats", &self.tracker.stats())
            .finish()
    }
}
