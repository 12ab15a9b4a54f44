//! [`Partitioned`]: the merged output of the partitions, with the minimum of their
//! watermarks.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{Msg, PartitionError};
use crate::operators::timed::Timed;

/// Spawns the router and the partitions on a runtime; returns the tasks and the output.
pub(crate) type Start<U> = Box<dyn FnOnce(&Handle) -> (JoinSet<()>, mpsc::Receiver<Msg<U>>) + Send>;

enum State<U> {
    Unstarted(Start<U>),
    Running {
        rx: mpsc::Receiver<Msg<U>>,
        /// Dropping the stream drops the set, which aborts every task.
        tasks: JoinSet<()>,
    },
    Done,
}

/// Stream for [`DataflowExt::partition`](crate::operators::DataflowExt::partition): the
/// outputs of all partitions, each partition's in its order, with the minimum of the
/// partitions' watermarks.
#[must_use = "streams do nothing unless polled"]
pub struct Partitioned<U> {
    state: State<U>,
    current: std::vec::IntoIter<Timed<U>>,
    from: usize,
    /// Each partition's watermark; `i64::MAX` once it finished.
    watermarks: Vec<i64>,
    emitted: i64,
}

// The buffered items are never pinned.
impl<U> Unpin for Partitioned<U> {}

impl<U> Partitioned<U> {
    pub(crate) fn new(n: usize, start: Start<U>) -> Self {
        Partitioned {
            state: State::Unstarted(start),
            current: Vec::new().into_iter(),
            from: 0,
            watermarks: vec![i64::MIN; n],
            emitted: i64::MIN,
        }
    }

    /// The number of partitions.
    pub fn partitions(&self) -> usize {
        self.watermarks.len()
    }

    /// The merged watermark last emitted (`None` before the first).
    pub fn watermark(&self) -> Option<i64> {
        Some(self.emitted).filter(|w| *w != i64::MIN)
    }

    /// The merged watermark, if partition `from` moving to `w` raised it.
    fn raise(&mut self, from: usize, w: i64) -> Option<i64> {
        if let Some(slot) = self.watermarks.get_mut(from) {
            *slot = (*slot).max(w);
        }
        let min = self.watermarks.iter().copied().min().unwrap_or(i64::MAX);
        if min > self.emitted && min != i64::MAX {
            self.emitted = min;
            Some(min)
        } else {
            None
        }
    }
}

impl<U> Stream for Partitioned<U> {
    type Item = Result<Timed<U>, PartitionError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.current.next() {
                match item {
                    Timed::Watermark(w) => {
                        if let Some(w) = this.raise(this.from, w) {
                            return Poll::Ready(Some(Ok(Timed::Watermark(w))));
                        }
                    }
                    item => return Poll::Ready(Some(Ok(item))),
                }
                continue;
            }
            let rx = match &mut this.state {
                State::Done => return Poll::Ready(None),
                State::Running { rx, .. } => rx,
                State::Unstarted(_) => {
                    let State::Unstarted(start) = std::mem::replace(&mut this.state, State::Done)
                    else {
                        continue;
                    };
                    let Ok(handle) = Handle::try_current() else {
                        return Poll::Ready(Some(Err(PartitionError::NoRuntime)));
                    };
                    let (tasks, rx) = start(&handle);
                    this.state = State::Running { rx, tasks };
                    continue;
                }
            };
            match rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Msg::Batch(from, batch))) => {
                    this.from = from;
                    this.current = batch.into_iter();
                }
                Poll::Ready(Some(Msg::Done(from))) => {
                    if let Some(w) = this.raise(from, i64::MAX) {
                        return Poll::Ready(Some(Ok(Timed::Watermark(w))));
                    }
                }
                Poll::Ready(Some(Msg::Failed(error))) => {
                    // Aborts the router and the other partitions.
                    this.state = State::Done;
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(None) => {
                    this.state = State::Done;
                    let unfinished = this.watermarks.iter().position(|w| *w != i64::MAX);
                    if let Some(partition) = unfinished {
                        return Poll::Ready(Some(Err(PartitionError::Stopped { partition })));
                    }
                    return Poll::Ready(None);
                }
            }
        }
    }
}

impl<U> FusedStream for Partitioned<U> {
    fn is_terminated(&self) -> bool {
        matches!(self.state, State::Done) && self.current.len() == 0
    }
}

impl<U> fmt::Debug for Partitioned<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Unstarted(_) => "unstarted",
            State::Running { tasks, .. } if tasks.is_empty() => "finishing",
            State::Running { .. } => "running",
            State::Done => "done",
        };
        f.debug_struct("Partitioned")
            .field("partitions", &self.partitions())
            .field("state", &state)
            .field("watermark", &self.watermark())
            .finish_non_exhaustive()
    }
}
