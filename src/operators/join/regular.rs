//! [`RegularJoin`]: a keyed join whose state is bounded by a time-to-live and a cap.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::paired::{Paired, Rule};
use super::{JoinEvent, JoinFn, JoinStats};
use crate::error::ConfigError;
use crate::operators::timed::{Timed, TimedStream};
use crate::operators::window::KeySelector;

/// The default bound on the elements one side of a regular join holds.
pub const DEFAULT_MAX_JOIN_STATE: usize = 1 << 20;

/// How a regular join bounds its state, for
/// [`KeyedJoin::regular`](super::KeyedJoin::regular): a time-to-live in event time and a
/// cap per side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a join spec does nothing until passed to `regular`"]
pub struct RegularJoinSpec {
    ttl: Option<i64>,
    max_state: usize,
    keep: (bool, bool),
    unique: (bool, bool),
}

impl Default for RegularJoinSpec {
    fn default() -> Self {
        RegularJoinSpec::new()
    }
}

impl RegularJoinSpec {
    /// No time-to-live, at most [`DEFAULT_MAX_JOIN_STATE`] elements per side.
    pub fn new() -> Self {
        RegularJoinSpec {
            ttl: None,
            max_state: DEFAULT_MAX_JOIN_STATE,
            keep: (true, true),
            unique: (false, false),
        }
    }

    /// An element stays in the state while `ts + ttl > watermark` (in the unit of your
    /// timestamps); one that arrives with `ts + ttl <= watermark` is late.
    pub fn ttl(mut self, ttl: i64) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The most elements each side holds; past it the element with the earliest expiry
    /// (the oldest, without a time-to-live) leaves as
    /// [`JoinEvent::Evicted`](super::JoinEvent::Evicted).
    pub fn max_state(mut self, max: usize) -> Self {
        self.max_state = max;
        self
    }

    /// Whether left elements are stored (default `true`). A side that is not stored only
    /// probes the other side's state when it arrives: each of its elements joins the
    /// elements of the other side that the join has already read (a lookup join), and
    /// costs no state. The two inputs are read in runs of up to 32 items each, not in any global order, so use
    /// it only where a match of the other side is sure to be read first (a dimension table
    /// loaded before the facts start, for example).
    pub fn keep_left(mut self, keep: bool) -> Self {
        self.keep.0 = keep;
        self
    }

    /// Whether right elements are stored (default `true`); see
    /// [`keep_left`](Self::keep_left).
    pub fn keep_right(mut self, keep: bool) -> Self {
        self.keep.1 = keep;
        self
    }

    /// Declares that the left side holds each key at most once (a primary key, such as
    /// Nexmark's auction id; default `false`). A right element that finds its key on the
    /// left has then met its only match and is not stored (counted in
    /// [`JoinStats::expired`](super::JoinStats::expired)); only right elements read before
    /// their left match stay in the state. The results are those of the join without the
    /// declaration as long as it holds. A left key that arrives again while its first
    /// element is held ends the stream with [`JoinEvent::Error`](super::JoinEvent::Error);
    /// one that arrives again after the first left the state is not detected, and misses
    /// the right elements that met the first.
    ///
    /// In Nexmark q4 (auctions joined with their bids, 200 000 events) the state keeps the
    /// auctions and the few bids read before theirs, instead of every bid for its
    /// time-to-live plus the watermark delay: 202 M instructions became 144 M (callgrind,
    /// with the FxHash key index of the time).
    ///
    /// ```
    /// use sweet_async::operators::join::RegularJoinSpec;
    /// let auctions_with_bids = RegularJoinSpec::new().ttl(2_000).unique_left_keys(true);
    /// # let _ = auctions_with_bids;
    /// ```
    pub fn unique_left_keys(mut self, unique: bool) -> Self {
        self.unique.0 = unique;
        self
    }

    /// Declares that the right side holds each key at most once (default `false`); see
    /// [`unique_left_keys`](Self::unique_left_keys).
    pub fn unique_right_keys(mut self, unique: bool) -> Self {
        self.unique.1 = unique;
        self
    }

    pub(crate) fn validate(self) -> Result<Retention, ConfigError> {
        if let Some(ttl) = self.ttl {
            if ttl < 0 {
                return Err(ConfigError::Invalid {
                    setting: "join time-to-live",
                    reason: format!("must not be negative, got {ttl}"),
                });
            }
        }
        if self.max_state == 0 {
            return Err(ConfigError::Zero {
                setting: "join max state",
            });
        }
        if !self.keep.0 && !self.keep.1 {
            return Err(ConfigError::Conflict {
                reason: String::from(
                    "a regular join that keeps neither side can join nothing \
                     (keep_left(false) and keep_right(false))",
                ),
            });
        }
        Ok(Retention {
            ttl: self.ttl,
            cap: self.max_state,
            keep: self.keep,
            unique: self.unique,
        })
    }
}

/// Same key joins; the state is bounded by a time-to-live and a cap.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retention {
    ttl: Option<i64>,
    cap: usize,
    keep: (bool, bool),
    unique: (bool, bool),
}

impl Rule for Retention {
    #[inline]
    fn is_late(&self, ts: i64, watermark: i64) -> bool {
        self.ttl
            .is_some_and(|ttl| ts.saturating_add(ttl) <= watermark)
    }

    #[inline]
    fn matches(&self, _ts: i64, _from_left: bool, _stored: i64) -> bool {
        true
    }

    #[inline]
    fn until(&self, ts: i64, _from_left: bool) -> i64 {
        ts.saturating_add(self.ttl.unwrap_or(0))
    }

    fn expiry_bound(&self, watermark: i64) -> Option<i64> {
        // Alive while `until > watermark`: gone once `until < watermark + 1`.
        self.ttl.map(|_| watermark.saturating_add(1))
    }

    fn cap(&self) -> usize {
        self.cap
    }

    fn keeps(&self, from_left: bool) -> bool {
        if from_left { self.keep.0 } else { self.keep.1 }
    }

    fn unique(&self, from_left: bool) -> bool {
        if from_left {
            self.unique.0
        } else {
            self.unique.1
        }
    }
}

pin_project! {
    /// Stream for [`KeyedJoin::regular`](super::KeyedJoin::interval).
    #[must_use = "streams do nothing unless polled"]
    pub struct RegularJoin<L, R, KL, KR, F>
    where
        L: TimedStream,
        R: TimedStream,
        KL: KeySelector<L::Value>,
        F: JoinFn<L::Value, R::Value>,
    {
        #[pin]
        left: L,
        #[pin]
        right: R,
        left_key: KL,
        right_key: KR,
        f: F,
        core: Paired<KL::Key, L::Value, R::Value, F::Output, Retention>,
    }
}

impl<L, R, KL, KR, F> RegularJoin<L, R, KL, KR, F>
where
    L: TimedStream,
    R: TimedStream,
    KL: KeySelector<L::Value>,
    F: JoinFn<L::Value, R::Value>,
{
    pub(crate) fn new(
        left: L,
        right: R,
        left_key: KL,
        right_key: KR,
        rule: Retention,
        f: F,
    ) -> Self {
        RegularJoin {
            left,
            right,
            left_key,
            right_key,
            f,
            core: Paired::new(rule),
        }
    }

    /// Counters: elements of each side, results, late, evicted and expired elements, state
    /// held.
    pub fn stats(&self) -> JoinStats {
        self.core.stats()
    }

    /// The join's watermark, the minimum of its inputs' (`None` before both have one).
    pub fn watermark(&self) -> Option<i64> {
        self.core.watermark()
    }
}

impl<L, R, KL, KR, F> Stream for RegularJoin<L, R, KL, KR, F>
where
    L: TimedStream,
    R: TimedStream,
    KL: KeySelector<L::Value>,
    KR: KeySelector<R::Value, Key = KL::Key>,
    F: JoinFn<L::Value, R::Value>,
{
    type Item = Timed<JoinEvent<F::Output, L::Value, R::Value>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        this.core.poll(
            this.left,
            this.right,
            this.left_key,
            this.right_key,
            this.f,
            cx,
        )
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let pending = self.core.pending_len();
        if self.core.is_terminated() {
            (0, Some(0))
        } else {
            (pending, None)
        }
    }
}

impl<L, R, KL, KR, F> FusedStream for RegularJoin<L, R, KL, KR, F>
where
    L: TimedStream,
    R: TimedStream,
    KL: KeySelector<L::Value>,
    KR: KeySelector<R::Value, Key = KL::Key>,
    F: JoinFn<L::Value, R::Value>,
{
    fn is_terminated(&self) -> bool {
        self.core.is_terminated()
    }
}

impl<L, R, KL, KR, F> fmt::Debug for RegularJoin<L, R, KL, KR, F>
where
    L: TimedStream + fmt::Debug,
    R: TimedStream + fmt::Debug,
    KL: KeySelector<L::Value>,
    F: JoinFn<L::Value, R::Value>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegularJoin")
            .field("left", &self.left)
            .field("right", &self.right)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
