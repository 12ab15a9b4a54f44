//! The serial path of a [`Receiver`]: one event at a time, its future created and polled
//! inline, no task spawned.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

use super::blame::Blame;
use super::received::{IntoEvent, Key, Received, end, idle, settle};
use super::stage::{DRAIN_AT, Receiver};
use crate::ack::TakeAcks;
use crate::collect::collector::Collector;
use crate::error::BoxError;
use crate::stream::{EventError, EventErrorKind, SenderEvent};

impl<S, F, Fut, K, V, R, E> Receiver<S, F, Fut, K, V, R>
where
    S: Stream,
    S::Item: IntoEvent,
    F: FnMut(SenderEvent<<S::Item as IntoEvent>::Data>, Collector<K, V>) -> Fut,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    E: Into<BoxError>,
    R: Send + 'static,
{
    /// The next item of a serial stage: one event at a time, its future created and
    /// polled in one go.
    #[inline(always)]
    pub(super) fn poll_serial(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Received<K, V, R>>> {
        let mut this = self.project();
        // Checked once per poll: collectors fill up only while an event's work runs,
        // and every poll returns after one event's work.
        if this.shared.pending() >= DRAIN_AT {
            return Poll::Ready(Some(Received::Collected(Box::new(this.shared.take()))));
        }
        loop {
            if let Some(fut) = this.current.as_mut().as_pin_mut() {
                // Left pending by an earlier poll: its key and acknowledgement were stored
                // then.
                let blame = Blame {
                    slot: this.blame,
                    key: *this.key,
                };
                let polled = fut.poll(cx);
                blame.clear();
                return match finished(polled, *this.key) {
                    Some(item) => {
                        this.current.set(None);
                        settle(this.owed.take(), &item, *this.on_failure);
                        Poll::Ready(Some(item))
                    }
                    None => idle(this.shared),
                };
            }
            if *this.upstream_done {
                return end(this.shared, this.done);
            }
            let event = match this.upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => match item.into_event() {
                    Ok(event) => event,
                    Err(e) => return Poll::Ready(Some(Received::Failed(e))),
                },
                Poll::Ready(None) => {
                    *this.upstream_done = true;
                    continue;
                }
                Poll::Pending => return idle(this.shared),
            };
            let mut event = event;
            event.link_source();
            let key = (event.id(), event.position());
            // An event that owes its source an acknowledgement parks it in the stage
            // while its work runs (settled when it is done, or by `panicked`); events of
            // sources without acknowledgements pay one check.
            let acks = event.take_acks();
            let owing = !acks.is_empty();
            if owing {
                *this.owed = acks;
            }
            let collector = Collector::new(this.shared.key(), key.0, key.1);
            let blame = Blame {
                slot: this.blame,
                key,
            };
            let fut = (this.f)(event, collector);
            this.current.set(Some(fut));
            if let Some(fut) = this.current.as_mut().as_pin_mut() {
                let polled = fut.poll(cx);
                blame.clear();
                match finished(polled, key) {
                    Some(item) => {
                        this.current.set(None);
                        if owing {
                            settle(this.owed.take(), &item, *this.on_failure);
                        }
                        return Poll::Ready(Some(item));
                    }
                    None => {
                        *this.key = key;
                        return idle(this.shared);
                    }
                }
            }
        }
    }
}

/// What a serial event's poll ended with, as a stage item (`None`: still pending).
#[inline(always)]
fn finished<K, V, R, E: Into<BoxError>>(
    polled: Poll<Result<R, E>>,
    key: Key,
) -> Option<Received<K, V, R>> {
    match polled {
        Poll::Pending => None,
        Poll::Ready(Ok(r)) => Some(Received::Output(r)),
        Poll::Ready(Err(e)) => Some(Received::Failed(EventError::new(
            key.0,
            key.1,
            EventErrorKind::Receiver(e.into()),
        ))),
    }
}
