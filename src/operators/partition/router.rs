//! The tasks of a partitioned stream: the router (pulls upstream, routes elements by key,
//! broadcasts watermarks) and one driver per partition (runs the chain, sends its output).

use std::collections::hash_map::RandomState;
use std::future::poll_fn;
use std::hash::{BuildHasher, Hash};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use futures::{FutureExt, Stream};
use tokio::sync::mpsc;

use super::{BATCH, BROADCAST_EVERY, Msg, PartitionError, SLOW_PARTITION};
use crate::error::panic_message;
use crate::operators::timed::{Timed, TimedStream};

/// The process's key of [`partition_of`]'s hash. One per process, not per stream, so that
/// `partition_of` can tell where a key goes; random, so that keys from outside cannot be
/// chosen to land in one partition (under FxHash, keys crafted to collide all did).
static KEYS: OnceLock<RandomState> = OnceLock::new();

/// The partition (`0..n`) that [`DataflowExt::partition`](crate::operators::DataflowExt::partition)
/// sends an element with this key to: its hash modulo `n`, with std's SipHash under a
/// random key drawn once per process. Stable within a process, different between
/// processes. SipHash instead of FxHash costs about 135 instructions per element (Nexmark
/// q0 on 1 partition, 200 000 events: 50.6 -> 77.6 M, callgrind).
#[inline]
pub fn partition_of<K: Hash>(key: &K, n: usize) -> usize {
    let h = KEYS.get_or_init(RandomState::new).hash_one(key);
    // `n.max(1)` is never zero, and the remainder is below `n`, so it fits a `usize`.
    #[allow(clippy::arithmetic_side_effects)]
    let p = h % n.max(1) as u64;
    p as usize
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

    /// Nothing buffered and every partition has the current watermark.
    fn is_idle(&self) -> bool {
        self.bufs.iter().all(Vec::is_empty) && self.sent.iter().all(|s| *s >= self.watermark)
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

/// Why [`pull`] stopped routing.
enum Pulled {
    /// Partition `p`'s buffer is full.
    Full(usize),
    /// [`BROADCAST_EVERY`] elements were routed since the last broadcast.
    Broadcast,
    /// Upstream is not ready and something is buffered (or a watermark is unsent).
    Idle,
    /// Upstream ended.
    End,
}

/// Routes upstream's items into the buffers until one of them must be sent. Polls upstream
/// with the task's own context in a loop: a `now_or_never` per item (a no-op waker and a
/// `Next` future each) here and in [`drive`] cost q0 on 1 partition 18 M of its 74 M
/// instructions (200 000 events, callgrind).
fn pull<S, KF, K>(
    mut upstream: Pin<&mut S>,
    boxes: &mut Outboxes<S::Value>,
    key: &mut KF,
    routed: &mut u32,
    cx: &mut Context<'_>,
) -> Poll<Pulled>
where
    S: TimedStream,
    KF: FnMut(&S::Value) -> K,
    K: Hash,
{
    let n = boxes.bufs.len();
    loop {
        match upstream.as_mut().poll_next(cx) {
            Poll::Pending => {
                return if boxes.is_idle() {
                    Poll::Pending
                } else {
                    Poll::Ready(Pulled::Idle)
                };
            }
            Poll::Ready(None) => return Poll::Ready(Pulled::End),
            Poll::Ready(Some(Timed::Watermark(w))) => boxes.watermark = boxes.watermark.max(w),
            Poll::Ready(Some(Timed::Item { ts, value })) => {
                let p = partition_of(&key(&value), n);
                let w = boxes.watermark;
                if let (Some(sent), Some(buf)) = (boxes.sent.get_mut(p), boxes.bufs.get_mut(p)) {
                    // The element is processed under the watermark it had in the whole
                    // stream: one partition gives the same results as many.
                    if w > *sent {
                        *sent = w;
                        buf.push(Timed::Watermark(w));
                    }
                    buf.push(Timed::Item { ts, value });
                    *routed = routed.saturating_add(1);
                    if buf.len() >= BATCH {
                        return Poll::Ready(Pulled::Full(p));
                    }
                }
                if *routed >= BROADCAST_EVERY {
                    *routed = 0;
                    return Poll::Ready(Pulled::Broadcast);
                }
            }
        }
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
            let step =
                poll_fn(|cx| pull(upstream.as_mut(), &mut boxes, &mut key, &mut routed, cx)).await;
            let sent = match step {
                Pulled::Full(p) => boxes.send(p).await,
                Pulled::Broadcast => boxes.broadcast(false).await,
                // Upstream is not ready: hand over what is buffered, watermark included.
                Pulled::Idle => boxes.broadcast(true).await,
                Pulled::End => {
                    boxes.broadcast(true).await;
                    return;
                }
            };
            if !sent {
                return;
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
            // Collects the chain's output until the batch is full, the chain waits or ends.
            let ended = poll_fn(|cx| {
                loop {
                    match chain.as_mut().poll_next(cx) {
                        Poll::Ready(Some(item)) => {
                            buf.push(item);
                            if buf.len() >= BATCH {
                                return Poll::Ready(false);
                            }
                        }
                        Poll::Ready(None) => return Poll::Ready(true),
                        Poll::Pending if buf.is_empty() => return Poll::Pending,
                        Poll::Pending => return Poll::Ready(false),
                    }
                }
            })
            .await;
            if !buf.is_empty() {
                let batch = std::mem::replace(&mut buf, Vec::with_capacity(BATCH));
                if out.send(Msg::Batch(index, batch)).await.is_err() {
                    return false;
                }
            }
            if ended {
                return true;
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
