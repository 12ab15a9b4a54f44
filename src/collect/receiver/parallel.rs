//! The parallel path of a [`Receiver`]: up to `workers` events in flight, each on its own
//! tokio task (or as a local future without a runtime), outputs in completion order.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::FuturesUnordered;
use futures::{FutureExt, Stream};
use tokio::runtime::Handle;
use tokio::task::JoinSet;

use super::blame::Blame;
use super::pool::{Pool, Work, lost};
use super::received::{IntoEvent, Received, end, idle, received};
use super::stage::{DRAIN_AT, Receiver};
use crate::ack::TakeAcks;
use crate::collect::collector::Collector;
use crate::error::BoxError;
use crate::stream::SenderEvent;

impl<S, F, Fut, K, V, R, E> Receiver<S, F, Fut, K, V, R>
where
    S: Stream,
    S::Item: IntoEvent,
    F: FnMut(SenderEvent<<S::Item as IntoEvent>::Data>, Collector<K, V>) -> Fut,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    E: Into<BoxError>,
    R: Send + 'static,
{
    /// The next item of a parallel stage: up to `workers` events in flight.
    pub(super) fn poll_parallel(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        workers: usize,
    ) -> Poll<Option<Received<K, V, R>>> {
        let mut this = self.project();
        loop {
            if this.shared.pending() >= DRAIN_AT {
                return Poll::Ready(Some(Received::Collected(Box::new(this.shared.take()))));
            }
            // Finished work first: it frees a slot.
            match this.pool {
                Pool::Idle => {}
                Pool::Spawned(set, _, keys) => {
                    if let Poll::Ready(Some(joined)) = set.poll_join_next_with_id(cx) {
                        return Poll::Ready(Some(match joined {
                            Ok((task, done)) => {
                                keys.remove(&task);
                                received(done, *this.on_failure)
                            }
                            Err(e) => {
                                let key = keys.remove(&e.id());
                                lost(e, key)
                            }
                        }));
                    }
                }
                Pool::Local(set) => {
                    if let Poll::Ready(Some(done)) = futures::StreamExt::poll_next_unpin(set, cx) {
                        return Poll::Ready(Some(received(done, *this.on_failure)));
                    }
                }
            }
            // Pull only while a slot is free.
            let in_flight = this.pool.len();
            if !*this.upstream_done && in_flight < workers {
                match this.upstream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => match item.into_event() {
                        Ok(mut event) => {
                            event.link_source();
                            let (id, position) = (event.id(), event.position());
                            // Parked in the stage while the closure is called, so that a
                            // panicking call is rejected by `panicked`.
                            *this.owed = event.take_acks();
                            let collector = Collector::new(this.shared.key(), id, position);
                            let blame = Blame {
                                slot: this.blame,
                                key: (id, position),
                            };
                            let fut = (this.f)(event, collector);
                            blame.clear();
                            let acks = this.owed.take();
                            let work = Work {
                                id,
                                position,
                                acks,
                                fut: AssertUnwindSafe(fut).catch_unwind(),
                            };
                            match this.pool {
                                Pool::Spawned(set, h, keys) => {
                                    let task = set.spawn_on(work, h).id();
                                    keys.insert(task, (id, position));
                                }
                                Pool::Local(set) => set.push(work),
                                Pool::Idle => {
                                    *this.pool = match Handle::try_current() {
                                        Ok(h) => {
                                            let mut set = JoinSet::new();
                                            let task = set.spawn_on(work, &h).id();
                                            let keys = HashMap::from([(task, (id, position))]);
                                            Pool::Spawned(set, h, keys)
                                        }
                                        Err(_) => {
                                            let set = FuturesUnordered::new();
                                            set.push(work);
                                            Pool::Local(set)
                                        }
                                    };
                                }
                            }
                            continue;
                        }
                        Err(e) => return Poll::Ready(Some(Received::Failed(e))),
                    },
                    Poll::Ready(None) => {
                        *this.upstream_done = true;
                        continue;
                    }
                    Poll::Pending => {}
                }
            }
            // Nothing ready now.
            if *this.upstream_done && in_flight == 0 {
                return end(this.shared, this.done);
            }
            return idle(this.shared);
        }
    }
}
