//! The tasks of a partitioned stream: the router (pulls upstream, routes elements by key,
//! broadcasts watermarks) and one driver per partition (runs the chain, sends its output).

use std::hash::{Hash, Hasher};
use std::panic::AssertUnwindSafe;

use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::mpsc;

use super::{BATCH, BROADCAST_EVERY, Msg, PartitionError, SLOW_PARTITION};
use crate::error::panic_message;
use crate::operators::timed::{Timed, TimedStream};

/// The partition (`0..n`) that [`DataflowExt::partition`](crate::operators::DataflowExt::partition)
/// sends an element with this key to: its hash (FxHash) modulo `n`. Stable within a
/// build of this crate.
#[inline]
pub fn partition_of<K: Hash>(key: &K, n: usize) -> usize {
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    (h.finish() % n.max(1) as u64) as usize
}

/// Per-partition buffers and the watermark each partition was last sent.
struct Outboxes<T> {
    txs: Vec<mpsc::Sender<Vec<Timed<T>>>>,
    bufs: Vec<Vec<Timed<T>>>,
    sent: Vec<i64>,
    watermark: i64,
}

impl<T> Outboxes<T> {
    /// Sends partition `p`'s buffer; `false` when that partition is gone.
    async fn send(&mut self, p: usize) -> bool {
        let (Some(tx), Some(buf)) = (self.txs.get(p), self.bufs.get_mut(p)) else {
            return false;
        };
        if buf.is_empty() {
            return true;
        }
        let batch = std::mem::replace(buf, Vec::with_capacity(BATCH));
        tx.send(batch).await.is_ok()
    }

    /// Appends the current watermark to every partition that has not had it, then sends
    /// every buffer that holds anything (`all`), or those below [`SLOW_PARTITION`] items:
    /// the others fill, and go, soon.
    async fn broadcast(&mut self, all: bool) -> bool {
        for p in 0..self.bufs.len() {
            let mut send = all;
            if let (Some(sent), Some(buf)) = (self.sent.get_mut(p), self.bufs.get_mut(p)) {
                if self.watermark > *sent {
                    *sent = self.watermark;
                    buf.push(Timed::Watermark(self.watermark));
                }
                send |= buf.len() < SLOW_PARTITION;
            }
            if send && !self.send(p).await {
                return false;
            }
        }
        true
    }
}

/// Pulls upstream and routes it; ends (dropping the partitions' inputs) at its end.
pub(crate) async fn route<S, KF, K, U>(
    upstream: S,
    mut key: KF,
    txs: Vec<mpsc::Sender<Vec<Timed<S::Value>>>>,
    out: mpsc::Sender<Msg<U>>,
) where
    S: TimedStream,
    KF: FnMut(&S::Value) -> K,
    K: Hash,
{
    let n = txs.len();
    let mut boxes = Outboxes {
        bufs: (0..n).map(|_| Vec::with_capacity(BATCH)).collect(),
        sent: vec![i64::MIN; n],
        txs,
        watermark: i64::MIN,
    };
    let run = AssertUnwindSafe(async {
        let mut upstream = std::pin::pin!(upstream);
        let mut routed = 0u32;
        loop {
            let next = match upstream.next().now_or_never() {
                Some(next) => next,
                None => {
                    // Upstream is not ready: hand over what is buffered, watermark included.
                    if !boxes.broadcast(true).await {
                        return;
                    }
                    upstream.next().await
                }
            };
            match next {
                None => {
                    boxes.broadcast(true).await;
                    return;
                }
                Some(Timed::Watermark(w)) => boxes.watermark = boxes.watermark.max(w),
                Some(Timed::Item { ts, value }) => {
                    let p = partition_of(&key(&value), n);
                    let w = boxes.watermark;
                    if let (Some(sent), Some(buf)) = (boxes.sent.get_mut(p), boxes.bufs.get_mut(p))
                    {
                        // The element is processed under the watermark it had in the whole
                        // stream: one partition gives the same results as many.
                        if w > *sent {
                            *sent = w;
                            buf.push(Timed::Watermark(w));
                        }
                        buf.push(Timed::Item { ts, value });
                        if buf.len() >= BATCH && !boxes.send(p).await {
                            return;
                        }
                    }
                    routed += 1;
                    if routed >= BROADCAST_EVERY {
                        routed = 0;
                        if !boxes.broadcast(false).await {
                            return;
                        }
                    }
                }
            }
        }
    });
    if let Err(payload) = run.catch_unwind().await {
        let message = panic_message(&*payload);
        let _ = out
            .send(Msg::Failed(PartitionError::RouterPanicked { message }))
            .await;
    }
}

/// Runs one partition's chain and sends its output in batches.
pub(crate) async fn drive<O>(index: usize, chain: O, out: mpsc::Sender<Msg<O::Value>>)
where
    O: Stream + TimedStream,
{
    let run = AssertUnwindSafe(async {
        let mut chain = std::pin::pin!(chain);
        let mut buf = Vec::with_capacity(BATCH);
        loop {
            let next = match chain.next().now_or_never() {
                Some(next) => next,
                None => {
                    if !buf.is_empty() {
                        let batch = std::mem::replace(&mut buf, Vec::with_capacity(BATCH));
                        if out.send(Msg::Batch(index, batch)).await.is_err() {
                            return false;
                        }
                    }
                    chain.next().await
                }
            };
            match next {
                Some(item) => {
                    buf.push(item);
                    if buf.len() >= BATCH {
                        let batch = std::mem::replace(&mut buf, Vec::with_capacity(BATCH));
                        if out.send(Msg::Batch(index, batch)).await.is_err() {
                            return false;
                        }
                    }
                }
                None => {
                    if !buf.is_empty() && out.send(Msg::Batch(index, buf)).await.is_err() {
                        return false;
                    }
                    return true;
                }
            }
        }
    });
    match run.catch_unwind().await {
        Ok(true) => {
            let _ = out.send(Msg::Done(index)).await;
        }
        Ok(false) => {}
        Err(payload) => {
            let message = panic_message(&*payload);
            let error = PartitionError::Panicked {
                partition: index,
                message,
            };
            let _ = out.send(Msg::Failed(error)).await;
        }
    }
}
