//! [`Summary`]: the counts every terminal stage reports, and the tally that makes them.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Stream;

use crate::ack::AckCounts;
use crate::ledger::Ledger;
use crate::stream::Report;

/// What a stream did, as counted by the stage that drove it to its end.
///
/// `items_in == items_out + errors + skipped + late` always holds: every item that entered
/// is an output, an error (collected with its key), a skip counted by its source, or a
/// late element of a window stream (collected too, see
/// [`Collected::late`](crate::collect::Collected::late)).
///
/// An item is what the stream yields: an event, or a chunk of rows when the source was
/// chunked with `into_chunks(n)`. Then [`chunks`](Self::chunks) counts the chunks and
/// [`rows_in`](Self::rows_in) the rows, and the `Display` form and
/// [`rows_per_second`](Self::rows_per_second) speak of rows.
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
/// assert_eq!((summary.chunks, summary.rows_in), (0, 4));
/// assert!(!summary.cancelled);
/// # });
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Summary {
    /// Items that entered: outputs, errors, skipped and late items.
    pub items_in: u64,
    /// Items processed successfully.
    pub items_out: u64,
    /// Items that failed and were kept with their keys.
    pub errors: u64,
    /// Failed items dropped by a source's [`Skip`](crate::stream::ErrorPolicy::Skip)
    /// policy (counted by sources polled by this stage).
    pub skipped: u64,
    /// Elements that came too late for every window they belong to (window streams
    /// only), kept in [`Collected::late`](crate::collect::Collected::late).
    pub late: u64,
    /// Items that were chunks of rows (made by a source's `into_chunks`): 0 without
    /// chunking.
    pub chunks: u64,
    /// Rows that entered: the rows inside the chunks plus every item that was not a
    /// chunk (a failed or skipped row counts one). Equal to `items_in` without chunking.
    pub rows_in: u64,
    /// What a row is called: the unit of the chunk size (`"rows"` for
    /// `into_chunks(1000.rows())`), `"items"` otherwise.
    pub row_unit: &'static str,
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
    /// Items in per second over [`duration`](Self::duration) (0 for an instant run):
    /// chunks per second when the source was chunked, see
    /// [`rows_per_second`](Self::rows_per_second).
    pub fn throughput(&self) -> f64 {
        per_second(self.items_in, self.duration)
    }

    /// Rows in per second over [`duration`](Self::duration): the rows inside chunks,
    /// or the items when nothing was chunked (0 for an instant run).
    pub fn rows_per_second(&self) -> f64 {
        per_second(self.rows_in, self.duration)
    }

    /// `true` when every item went through without error, skip, lateness or
    /// cancellation.
    pub fn is_clean(&self) -> bool {
        self.errors == 0 && self.skipped == 0 && self.late == 0 && !self.cancelled
    }
}

fn per_second(n: u64, d: Duration) -> f64 {
    let secs = d.as_secs_f64();
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

/// A rate for people: `950`, `12.5 k`, `1.11 M`.
struct Rate(f64);

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        if r >= 1e9 {
            write!(f, "{:.2} G", r / 1e9)
        } else if r >= 1e6 {
            write!(f, "{:.2} M", r / 1e6)
        } else if r >= 1e4 {
            write!(f, "{:.1} k", r / 1e3)
        } else if r >= 100.0 {
            write!(f, "{r:.0}")
        } else {
            write!(f, "{r:.1}")
        }
    }
}

/// `"1 error"`, `"2 errors"`.
fn plural(n: u64, one: &'static str, many: &'static str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl fmt::Display for Summary {
    /// One line: what came in (chunks and rows when chunked), what came out, failed, was
    /// skipped or came late, what the receiver passed to its [`Collector`](crate::collect::Collector)
    /// (the failed items are kept apart, with their keys, in
    /// [`Collected::errors`](crate::collect::Collected::errors) too), how long it took and
    /// how fast.
    ///
    /// ```text
    /// 3 in, 2 out, 1 failed, 0 skipped, 2 values and 0 errors passed to the collector in 1.500s (2.0 items/s)
    /// 1116 in (1114 chunks, 1113444 rows), 1114 out, 2 failed, 0 skipped, 0 values and 5 errors passed to the collector in 1.000s (1.11 M rows/s, 1114 chunks/s)
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.row_unit.is_empty() {
            "items"
        } else {
            self.row_unit
        };
        if self.chunks > 0 {
            write!(
                f,
                "{} in ({}, {} {unit}), ",
                self.items_in,
                plural(self.chunks, "chunk", "chunks"),
                self.rows_in
            )?;
        } else {
            write!(f, "{} in, ", self.items_in)?;
        }
        write!(
            f,
            "{} out, {} failed, {} skipped",
            self.items_out, self.errors, self.skipped
        )?;
        if self.late > 0 {
            write!(f, ", {} late", self.late)?;
        }
        write!(
            f,
            ", {} and {} passed to the collector",
            plural(self.values_collected, "value", "values"),
            plural(self.errors_collected, "error", "errors"),
        )?;
        if self.duplicate_keys > 0 {
            write!(
                f,
                " ({} replaced by a later value)",
                plural(self.duplicate_keys, "key", "keys")
            )?;
        }
        write!(f, " in {:.3?} (", self.duration)?;
        if self.chunks > 0 {
            write!(
                f,
                "{} {unit}/s, {} chunks/s)",
                Rate(self.rows_per_second()),
                Rate(per_second(self.chunks, self.duration))
            )?;
        } else {
            write!(f, "{} {unit}/s)", Rate(self.throughput()))?;
        }
        if self.cancelled {
            f.write_str(", cancelled")?;
        }
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
    pub(crate) late: u64,
    pub(crate) values: u64,
    pub(crate) collected_errors: u64,
    pub(crate) duplicates: u64,
    pub(crate) cancelled: bool,
    pub(crate) acks: AckCounts,
    chunks: u64,
    chunk_rows: u64,
    unit: &'static str,
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
        let ((out, report), acks) =
            crate::ack::scope(|| ledger.scope(|| crate::stream::scope(|| f(self))));
        self.absorb(report);
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

    fn absorb(&mut self, report: Report) {
        if report.chunks > 0 {
            self.chunks = self.chunks.saturating_add(report.chunks);
            self.chunk_rows = self.chunk_rows.saturating_add(report.chunk_rows);
            self.unit = report.unit;
        }
    }

    pub(crate) fn finish(&self) -> Summary {
        let skipped = self.skipped.saturating_add(self.ledger.skipped());
        let cancelled = self.cancelled || self.ledger.cancelled();
        let items_in = self
            .out
            .saturating_add(self.errors)
            .saturating_add(skipped)
            .saturating_add(self.late);
        Summary {
            items_in,
            items_out: self.out,
            errors: self.errors,
            skipped,
            late: self.late,
            chunks: self.chunks,
            // Each chunk is one item in; its rows replace it in the row count.
            rows_in: items_in
                .saturating_sub(self.chunks)
                .saturating_add(self.chunk_rows),
            row_unit: if self.chunks > 0 { self.unit } else { "items" },
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

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary {
            items_in: 3,
            items_out: 2,
            errors: 1,
            skipped: 0,
            late: 0,
            chunks: 0,
            rows_in: 3,
            row_unit: "items",
            values_collected: 2,
            errors_collected: 0,
            duplicate_keys: 0,
            cancelled: false,
            acks: AckCounts::default(),
            duration: Duration::from_millis(1500),
        }
    }

    #[test]
    fn display_of_a_plain_stream() {
        assert_eq!(
            summary().to_string(),
            "3 in, 2 out, 1 failed, 0 skipped, 2 values and 0 errors passed to the collector \
             in 1.500s (2.0 items/s)"
        );
    }

    #[test]
    fn display_counts_rows_and_chunks_apart() {
        let s = Summary {
            items_in: 1114,
            items_out: 1114,
            errors: 0,
            chunks: 1114,
            rows_in: 1_113_442,
            row_unit: "rows",
            values_collected: 0,
            duration: Duration::from_secs(1),
            ..summary()
        };
        assert_eq!(
            s.to_string(),
            "1114 in (1114 chunks, 1113442 rows), 1114 out, 0 failed, 0 skipped, 0 values and \
             0 errors passed to the collector in 1.000s (1.11 M rows/s, 1114 chunks/s)"
        );
        assert_eq!(s.throughput(), 1114.0);
        assert_eq!(s.rows_per_second(), 1_113_442.0);
    }

    #[test]
    fn display_shows_collected_errors_late_items_duplicates_and_cancellation() {
        let s = Summary {
            items_in: 9,
            items_out: 2,
            errors: 0,
            late: 7,
            values_collected: 1,
            errors_collected: 5,
            duplicate_keys: 1,
            cancelled: true,
            acks: AckCounts {
                acked: 2,
                rejected: 0,
                released: 7,
            },
            ..summary()
        };
        assert_eq!(
            s.to_string(),
            "9 in, 2 out, 0 failed, 0 skipped, 7 late, 1 value and 5 errors passed to the \
             collector (1 key replaced by a later value) in 1.500s (6.0 items/s), cancelled; \
             2 acknowledged, 0 rejected, 7 not acknowledged"
        );
        assert!(!s.is_clean());
    }

    #[test]
    fn rates_read_like_numbers() {
        let r = |v: f64| Rate(v).to_string();
        assert_eq!(
            [
                r(0.0),
                r(2.5),
                r(950.4),
                r(12_500.0),
                r(2_250_000.0),
                r(3.2e9)
            ],
            ["0.0", "2.5", "950", "12.5 k", "2.25 M", "3.20 G"]
        );
    }

    #[test]
    fn tally_counts_rows_inside_chunks() {
        let mut tally = Tally {
            out: 3,
            errors: 1,
            ..Tally::default()
        };
        tally.absorb(Report {
            chunks: 3,
            chunk_rows: 2500,
            unit: "rows",
        });
        let s = tally.finish();
        assert_eq!(
            (s.items_in, s.chunks, s.rows_in, s.row_unit),
            (4, 3, 2501, "rows")
        );
    }
}
