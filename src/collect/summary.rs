//! [`Summary`]: the counts every terminal stage reports, and the tally that makes them.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Stream;

use crate::ack::AckCounts;
use crate::ledger::Ledger;

/// What a stream did, as counted by the stage that drove it to its end.
///
/// `items_in == items_out + errors + skipped` always holds: every item that entered is
/// an output, an error (collected with its key), or a skip counted by its source.
///
/// # Examples
///
/// ```
/// use sweet_async::prelude::*;
///
/// # futures::executor::block_on(async {
/// let (items, summary) = futures::stream::iter(1..=4).collect_vec().await;
/// assert_eq!(items, [1, 2, 3, 4]);
/// assert_eq!((summary.items_in, summary.items_out, summary.errors), (4, 4, 0));
/// assert!(!summary.cancelled);
/// # });
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Summary {
    /// Items that entered: outputs, errors and skipped items.
    pub items_in: u64,
    /// Items processed successfully.
    pub items_out: u64,
    /// Items that failed and were kept with their keys.
    pub errors: u64,
    /// Failed items dropped by a source's [`Skip`](crate::stream::ErrorPolicy::Skip)
    /// policy (counted by sources polled by this stage).
    pub skipped: u64,
    /// Values handed to a [`Collector`](crate::collect::Collector).
    pub values_collected: u64,
    /// Errors handed to a [`Collector`](crate::collect::Collector) with
    /// `collect_error`.
    pub errors_collected: u64,
    /// Keyed values that replaced an earlier value with the same key (keyed maps).
    pub duplicate_keys: u64,
    /// `true` when a source stopped early because its cancellation token fired: the
    /// result is partial.
    pub cancelled: bool,
    /// What the acknowledgements settled while this stage ran came to: deliveries
    /// acknowledged to their source, rejected, and released unacknowledged (the source
    /// redelivers those). All zero for sources without acknowledgements.
    pub acks: AckCounts,
    /// From the first poll to the end of the stream.
    pub duration: Duration,
}

impl Summary {
    /// Items in per second over [`duration`](Self::duration) (0 for an instant run).
    pub fn throughput(&self) -> f64 {
        let secs = self.duration.as_secs_f64();
        if secs > 0.0 {
            self.items_in as f64 / secs
        } else {
            0.0
        }
    }

    /// `true` when every item went through without error, skip or cancellation.
    pub fn is_clean(&self) -> bool {
        self.errors == 0 && self.skipped == 0 && !self.cancelled
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} in, {} out, {} errors, {} skipped, {} values collected in {:.3?} ({:.0} items/s){}",
            self.items_in,
            self.items_out,
            self.errors,
            self.skipped,
            self.values_collected,
            self.duration,
            self.throughput(),
            if self.cancelled { ", cancelled" } else { "" }
        )?;
        if !self.acks.is_empty() {
            write!(f, "; {}", self.acks)?;
        }
        Ok(())
    }
}

/// Counting state of a terminal stage.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) out: u64,
    pub(crate) errors: u64,
    pub(crate) skipped: u64,
    pub(crate) values: u64,
    pub(crate) collected_errors: u64,
    pub(crate) duplicates: u64,
    pub(crate) cancelled: bool,
    pub(crate) acks: AckCounts,
    /// Where the sources upstream report their skips and cancellation.
    ledger: Ledger,
    started: Option<Instant>,
}

impl Tally {
    /// Runs one poll of the stage, counting what its sources report.
    #[inline]
    pub(crate) fn poll<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        if self.started.is_none() {
            self.started = Some(Instant::now());
        }
        let ledger = self.ledger.clone();
        let (out, acks) = crate::ack::scope(|| ledger.scope(|| f(self)));
        self.acks.add(acks);
        out
    }

    /// One poll of a terminal stage: hands up to [`POLL_BUDGET`] items of `stream` to
    /// `each`, then yields to the executor. `Ready` when the stream has ended.
    #[inline]
    pub(crate) fn drain<S: Stream + ?Sized>(
        &mut self,
        mut stream: Pin<&mut S>,
        cx: &mut Context<'_>,
        mut each: impl FnMut(&mut Self, S::Item),
    ) -> Poll<()> {
        self.poll(|tally| {
            for _ in 0..POLL_BUDGET {
                match stream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => each(tally, item),
                    Poll::Ready(None) => return Poll::Ready(()),
                    Poll::Pending => return Poll::Pending,
                }
            }
            // Budget spent: let other tasks run, then go on.
            cx.waker().wake_by_ref();
            Poll::Pending
        })
    }

    pub(crate) fn finish(&self) -> Summary {
        let skipped = self.skipped.saturating_add(self.ledger.skipped());
        let cancelled = self.cancelled || self.ledger.cancelled();
        Summary {
            items_in: self.out.saturating_add(self.errors).saturating_add(skipped),
            items_out: self.out,
            errors: self.errors,
            skipped,
            values_collected: self.values,
            errors_collected: self.collected_errors,
            duplicate_keys: self.duplicates,
            cancelled,
            acks: self.acks,
            duration: self.started.map(|s| s.elapsed()).unwrap_or_default(),
        }
    }
}

/// Items handled in one poll before a terminal stage yields to the executor.
const POLL_BUDGET: usize = 1024;
