//! [`AwaitFinalEvent`]: drives a stream to its end and hands the user the result.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use pin_project_lite::pin_project;

use crate::collect::outcome::{Collected, Outcome};
use crate::collect::receiver::Received;
use crate::collect::summary::{Summary, Tally};

type CollectedOf<I> = Collected<
    <I as Outcome>::Key,
    <I as Outcome>::Value,
    <I as Outcome>::Output,
    <I as Outcome>::Late,
>;

pin_project! {
    /// The future returned by
    /// [`await_final_event`](crate::collect::FinalEvent::await_final_event).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct AwaitFinalEvent<S, F>
    where
        S: Stream,
        S::Item: Outcome,
    {
        #[pin]
        stream: S,
        f: Option<F>,
        collected: CollectedOf<S::Item>,
        tally: Tally,
    }
}

impl<S, F> AwaitFinalEvent<S, F>
where
    S: Stream,
    S::Item: Outcome,
{
    pub(crate) fn new(stream: S, f: F) -> Self {
        AwaitFinalEvent {
            stream,
            f: Some(f),
            collected: Collected::default(),
            tally: Tally::default(),
        }
    }
}

impl<S, F, U> Future for AwaitFinalEvent<S, F>
where
    S: Stream,
    S::Item: Outcome,
    F: FnOnce(Summary, CollectedOf<S::Item>) -> U,
{
    type Output = U;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<U> {
        let mut this = self.project();
        if this.f.is_none() {
            // Polled after completion: nothing more will ever come.
            return Poll::Pending;
        }
        let collected = &mut *this.collected;
        let mut stream = this.stream.as_mut();
        let ended = this.tally.drain(stream.as_mut(), cx, |tally, item| {
            match item.into_received() {
                Ok(Received::Output(r)) => {
                    tally.out = tally.out.saturating_add(1);
                    collected.push_output(r);
                }
                Ok(Received::Failed(e)) => {
                    tally.errors = tally.errors.saturating_add(1);
                    collected.push_error(e);
                }
                Ok(Received::Collected(batch)) => {
                    tally.values = tally
                        .values
                        .saturating_add(batch.items.len().saturating_add(batch.keyed.len()) as u64);
                    tally.collected_errors = tally
                        .collected_errors
                        .saturating_add(batch.errors.len() as u64);
                    collected.absorb(*batch);
                }
                Err(late) => {
                    tally.late = tally.late.saturating_add(1);
                    collected.push_late(late);
                }
            }
        });
        if ended.is_pending() {
            return Poll::Pending;
        }
        let summary = this.tally.finish();
        let collected = std::mem::take(this.collected);
        match this.f.take() {
            Some(f) => Poll::Ready(f(summary, collected)),
            None => Poll::Pending,
        }
    }
}

impl<S, F> fmt::Debug for AwaitFinalEvent<S, F>
where
    S: Stream + fmt::Debug,
    S::Item: Outcome,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwaitFinalEvent")
            .field("stream", &self.stream)
            .field("tally", &self.tally)
            .finish_non_exhaustive()
    }
}
