//! [`EmittingStream`]: a source turned into a native `Stream` of events.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::error::ConfigError;
use crate::stream::ErrorPolicy;
use crate::stream::error::{EventError, SourceError};
use crate::stream::event::{EventId, SenderEvent, Stamp};
use crate::stream::origin::Origin;
use crate::stream::source::{Located, SourceItem};
use crate::stream::stats::SourceStats;
use crate::task::TaskId;

/// The cancellation token and, once needed, the future that wakes the stream on cancel.
struct Cancel {
    token: CancellationToken,
    wait: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
}

impl Cancel {
    /// `true` when cancelled; otherwise registers the waker.
    #[cold]
    #[inline(never)]
    fn poll_cancelled(&mut self, cx: &mut Context<'_>) -> bool {
        if self.token.is_cancelled() {
            return true;
        }
        let token = &self.token;
        let wait = self
            .wait
            .get_or_insert_with(|| Box::pin(token.clone().cancelled_owned()));
        wait.as_mut().poll(cx).is_ready()
    }
}

use std::future::Future;

pin_project! {
    /// An emitting task: a source as a native `Stream` of
    /// `Result<SenderEvent<D>, EventError>`.
    ///
    /// Made by [`EmittingTaskBuilder::sender`](crate::stream::EmittingTaskBuilder::sender).
    /// Any `futures`/`tokio-stream` code can consume it; the
    /// [`receiver`](crate::collect::ReceiverExt::receiver) stage and
    /// [`await_final_event`](crate::collect::FinalEvent::await_final_event) finish the
    /// pipeline.
    #[doc(alias = "EmittingTask")]
    #[doc(alias = "SenderTask")]
    #[must_use = "streams do nothing unless polled"]
    pub struct EmittingStream<S> {
        #[pin]
        source: Option<S>,
        // Set while a configuration error waits to be reported, until the stream knows
        // how its counts reach a terminal (see `Link`), or when a span, a cancellation
        // token or rare event parts (timestamps, a name not interned) are set: the one
        // check of the cold settings per poll.
        cold: bool,
        link: Link,
        stamp: Stamp,
        counts: Counts,
        policy: ErrorPolicy,
        stats: SourceStats,
        cancel: Option<Cancel>,
        config_error: Option<ConfigError>,
        span: Option<tracing::Span>,
    }
}

/// How the stream's counts reach the terminal stage that drives it (see
/// [`stats`](crate::stream::stats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Not polled yet: the first poll links to the terminal polling it, if any.
    Unchecked,
    /// Linked to a terminal, or carried by an event already (and not skipping since).
    Settled,
    /// Polled outside any terminal and not linked: the next event carries the link.
    Carry,
}

/// What the cold settings of a stream call for before it is polled.
enum Cold {
    /// Report this configuration error (once).
    Failed(EventError),
    /// Poll, inside this span if there is one, checking the cancellation token.
    Poll(Option<tracing::Span>),
}

/// The stream returned by [`EmittingStream::into_data`]: plain payloads.
pub type IntoData<S, D> =
    futures::stream::Map<S, fn(Result<SenderEvent<D>, EventError>) -> Result<D, EventError>>;

/// Settings the builder hands to the stream.
pub(crate) struct StreamSettings {
    pub(crate) task: TaskId,
    pub(crate) origin: Option<Origin>,
    pub(crate) policy: ErrorPolicy,
    pub(crate) timestamps: bool,
    pub(crate) stats: SourceStats,
    pub(crate) token: Option<CancellationToken>,
    pub(crate) span: Option<tracing::Span>,
}

impl<S> EmittingStream<S> {
    pub(crate) fn new(source: Result<S, ConfigError>, settings: StreamSettings) -> Self {
        let stamp = Stamp::new(settings.task, settings.origin, settings.timestamps);
        let (source, config_error) = match source {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e)),
        };
        EmittingStream {
            source,
            // The first poll is always cold: it links the stream's counts (`Link`).
            cold: true,
            link: Link::Unchecked,
            stamp,
            counts: Counts::default(),
            policy: settings.policy,
            stats: settings.stats,
            cancel: settings.token.map(|token| Cancel { token, wait: None }),
            config_error,
            span: settings.span,
        }
    }

    /// A handle on the live counters: emitted, errors, skipped, bytes read, cancelled.
    pub fn stats(&self) -> SourceStats {
        self.stats.clone()
    }

    /// The id of this emitting task, shared by the keys of all its events.
    pub fn task_id(&self) -> TaskId {
        self.stamp.task()
    }

    /// The error policy in force.
    pub fn error_policy(&self) -> ErrorPolicy {
        self.policy
    }

    /// Plain payloads instead of events: `Result<D, EventError>` items.
    pub fn into_data<D>(self) -> IntoData<Self, D>
    where
        S: Stream<Item = SourceItem<D>>,
    {
        futures::StreamExt::map(self, |r| r.map(SenderEvent::into_data))
    }
}

impl<S, D> Stream for EmittingStream<S>
where
    S: Stream<Item = SourceItem<D>>,
{
    type Item = Result<SenderEvent<D>, EventError>;

    // Always inlined: this is the per-event path of every pipeline; out of line, saving
    // and restoring registers and returning the event through memory cost more than
    // the work itself. For the same reason the cold settings never return an event
    // from a call: a shared return slot would keep the event in memory.
    #[inline(always)]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Cold settings are checked once here, not per event in the loop below.
        if self.cold {
            return match self.as_mut().cold() {
                Cold::Failed(e) => Poll::Ready(Some(Err(e))),
                Cold::Poll(span) => {
                    let _entered = span.as_ref().map(tracing::Span::enter);
                    self.poll_events::<true>(cx)
                }
            };
        }
        self.poll_events::<false>(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.config_error.is_some() {
            return (1, Some(1));
        }
        match &self.source {
            // Errors may be skipped, or stop the stream: no lower bound.
            Some(s) => (0, s.size_hint().1),
            None => (0, Some(0)),
        }
    }
}

impl<S, D> EmittingStream<S>
where
    S: Stream<Item = SourceItem<D>>,
{
    /// The configuration error to report, or the span to poll in.
    #[cold]
    #[inline(never)]
    fn cold(self: Pin<&mut Self>) -> Cold {
        let this = self.project();
        if *this.link == Link::Unchecked {
            *this.link = if this.stats.link_current() {
                Link::Settled
            } else {
                Link::Carry
            };
        }
        *this.cold = this.span.is_some()
            || this.cancel.is_some()
            || this.stamp.is_rare()
            || *this.link == Link::Carry;
        if let Some(config) = this.config_error.take() {
            // The error takes the place of item 0.
            this.counts.seq = this.counts.seq.saturating_add(1);
            this.counts.errors = this.counts.errors.saturating_add(1);
            this.counts.publish(this.stats);
            this.stats.set_finished();
            let id = EventId::new(this.stamp.task(), 0);
            return Cold::Failed(EventError::from_source(
                id,
                None,
                SourceError::Config(config),
            ));
        }
        Cold::Poll(this.span.clone())
    }

    /// The next event. `COLD` when the stream has cold settings: a cancellation token to
    /// check, or rare parts to give its events.
    #[inline(always)]
    fn poll_events<const COLD: bool>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<SenderEvent<D>, EventError>>> {
        let mut this = self.project();
        loop {
            let Some(mut source) = this.source.as_mut().as_pin_mut() else {
                return Poll::Ready(None);
            };
            if let Some(cancel) = this.cancel.as_ref().filter(|_| COLD) {
                if cancel.token.is_cancelled() {
                    this.source.set(None);
                    cancelled(this.stats, this.counts, this.span);
                    return Poll::Ready(None);
                }
            }
            // The hot path is a straight line; everything else is handled out of line
            // and never returns an event, so the event stays in registers.
            match source.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(item))) => {
                    let is_final = source.size_hint().1 == Some(0);
                    let seq = this.counts.seq;
                    this.counts.seq = this.counts.seq.saturating_add(1);
                    this.stats.publish_emitted(this.counts.emitted());
                    if COLD && *this.link == Link::Carry {
                        let mut event = SenderEvent::emitted(item, seq, is_final, this.stamp, COLD);
                        carry_link(&mut event, this.stats, this.link);
                        return Poll::Ready(Some(Ok(event)));
                    }
                    return Poll::Ready(Some(Ok(SenderEvent::emitted(
                        item, seq, is_final, this.stamp, COLD,
                    ))));
                }
                Poll::Ready(Some(Err(failed))) => {
                    let policy = *this.policy;
                    match this
                        .counts
                        .failed(failed, policy, this.stats, this.stamp, this.span)
                    {
                        Failure::Skipped => {
                            skipped(this.stats, this.link, this.cold);
                            continue;
                        }
                        Failure::Yield(error) => return Poll::Ready(Some(Err(error))),
                        Failure::Stop(error) => {
                            this.source.set(None);
                            finish(this.stats, this.counts, this.span);
                            return Poll::Ready(Some(Err(error)));
                        }
                    }
                }
                Poll::Ready(None) => {
                    this.source.set(None);
                    finish(this.stats, this.counts, this.span);
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    if let Some(cancel) = this.cancel.as_mut().filter(|_| COLD) {
                        if cancel.poll_cancelled(cx) {
                            continue; // handled at the top of the loop
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

/// What an emitting stream counted so far.
#[derive(Debug, Default)]
struct Counts {
    /// Items taken from the source: events emitted plus errors.
    seq: u64,
    /// Failed items, skipped or not.
    errors: u64,
    skipped: u64,
}

/// What a failed item comes to, under the error policy.
enum Failure {
    /// Dropped and counted ([`ErrorPolicy::Skip`]).
    Skipped,
    /// Handed downstream; the stream goes on ([`ErrorPolicy::Collect`]).
    Yield(EventError),
    /// Handed downstream; the stream ends ([`ErrorPolicy::Stop`], or a fatal error).
    Stop(EventError),
}

impl Counts {
    #[inline(always)]
    // Cannot underflow: every error also counts in `seq` (`errors <= seq`), and this is
    // the per-event path, where a saturating form would cost an instruction per event.
    #[allow(clippy::arithmetic_side_effects)]
    fn emitted(&self) -> u64 {
        self.seq - self.errors
    }

    fn publish(&self, stats: &SourceStats) {
        stats.publish(self.emitted(), self.errors, self.skipped);
    }

    /// Counts a failed item and applies the policy to it.
    #[cold]
    #[inline(never)]
    fn failed(
        &mut self,
        mut failed: Located<SourceError>,
        policy: ErrorPolicy,
        stats: &SourceStats,
        stamp: &Stamp,
        span: &Option<tracing::Span>,
    ) -> Failure {
        let id = EventId::new(stamp.task(), self.seq);
        self.seq = self.seq.saturating_add(1);
        self.errors = self.errors.saturating_add(1);
        let fatal = failed.value.is_fatal();
        if span.is_some() {
            tracing::warn!(event = %id, error = %failed.value, fatal, "item failed");
        }
        // A failed item is settled here, whatever the policy: its source redelivers it or
        // parks it after its delivery limit.
        failed.acks.take().reject(&failed.value);
        if !fatal && policy == ErrorPolicy::Skip {
            self.skipped = self.skipped.saturating_add(1);
            // Linked first, so that this skip is counted once: pushed to the ledger.
            stats.link_current();
            stats.skip(self.emitted(), self.errors, self.skipped);
            return Failure::Skipped;
        }
        self.publish(stats);
        let error = EventError::from_source(id, failed.position, failed.value);
        if fatal || policy == ErrorPolicy::Stop {
            Failure::Stop(error)
        } else {
            Failure::Yield(error)
        }
    }
}

/// The first event of a stream polled outside any terminal carries the link to its
/// counts, for the terminal that takes it (see [`stats`](crate::stream::stats)).
#[cold]
#[inline(never)]
fn carry_link<D>(event: &mut SenderEvent<D>, stats: &SourceStats, link: &mut Link) {
    // Polled inside a terminal's poll after all (a channel drained in the same task):
    // the link is made here and the event need not carry it.
    if !stats.link_current() {
        event.carry_link(stats.clone());
    }
    // The next poll recomputes the cold flag for the other settings.
    *link = Link::Settled;
}

/// An item was skipped: if the stream is not linked to a terminal yet, its next event
/// carries the link (the count itself is in the stats, pushed or read when linked).
#[cold]
#[inline(never)]
fn skipped(stats: &SourceStats, link: &mut Link, cold: &mut bool) {
    if !stats.is_linked() {
        *link = Link::Carry;
        *cold = true;
    }
}

/// The stream was cancelled: counts it and ends.
#[cold]
#[inline(never)]
fn cancelled(stats: &SourceStats, counts: &Counts, span: &Option<tracing::Span>) {
    stats.link_current();
    stats.set_cancelled();
    finish(stats, counts, span);
}

/// The stream ended: publishes the final counts.
#[cold]
#[inline(never)]
fn finish(stats: &SourceStats, counts: &Counts, span: &Option<tracing::Span>) {
    // Ending inside a terminal's poll links the stream even if it was polled elsewhere
    // before: its skips so far are added at once.
    stats.link_current();
    counts.publish(stats);
    stats.set_finished();
    if span.is_some() {
        tracing::debug!(
            emitted = counts.emitted(),
            errors = counts.errors,
            skipped = counts.skipped,
            cancelled = stats.is_cancelled(),
            "emitting task finished"
        );
    }
}

impl<S, D> FusedStream for EmittingStream<S>
where
    S: Stream<Item = SourceItem<D>>,
{
    fn is_terminated(&self) -> bool {
        self.source.is_none() && self.config_error.is_none()
    }
}

impl<S: fmt::Debug> fmt::Debug for EmittingStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmittingStream")
            .field("task", &self.stamp.task())
            .field("source", &self.source)
            .field("policy", &self.policy)
            .field("next_sequence", &self.counts.seq)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}
