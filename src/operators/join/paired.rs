//! The engine of the interval and regular joins: both sides' elements in keyed buffers,
//! each arriving element joined with the other side's buffer, then stored; the watermark
//! (the minimum of the inputs') cleans the buffers.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::buffer::KeyedBuffer;
use super::inputs::{Inputs, Next};
use super::{JoinEvent, JoinFn, JoinStats, Side};
use crate::error::{TaskError, panic_message};
use crate::operators::timed::{Timed, TimedStream, TwoClocks};
use crate::operators::window::{KeySelector, YIELD_EVERY};

/// What tells the two joins apart: lateness, matching, how long an element stays.
pub(crate) trait Rule {
    /// The element arrives too late to be joined.
    fn is_late(&self, ts: i64, watermark: i64) -> bool;
    /// Incoming `ts` (from the left when `from_left`) matches a stored element at `stored`.
    fn matches(&self, ts: i64, from_left: bool, stored: i64) -> bool;
    /// The time after which the element can match nothing more (or its eviction order).
    fn until(&self, ts: i64, from_left: bool) -> i64;
    /// Elements with `until < bound(watermark)` leave the state; `None`: none ever does.
    fn expiry_bound(&self, watermark: i64) -> Option<i64>;
    /// The most elements one side holds.
    fn cap(&self) -> usize;
    /// Elements of this side are stored (not only probing the other side).
    fn keeps(&self, from_left: bool) -> bool {
        let _ = from_left;
        true
    }
    /// This side holds each key at most once (a primary key): an element of the other
    /// side that found its key here has met its only match and need not be stored.
    fn unique(&self, from_left: bool) -> bool {
        let _ = from_left;
        false
    }
}

type Out<O, A, B> = Timed<JoinEvent<O, A, B>>;

/// A side declared unique holds a key twice: elements of the other side that met the
/// first one were not stored, so the second would miss them.
fn duplicate_key(side: &str) -> TaskError {
    let message = format!(
        "regular join: a {side} key arrived twice while held, but its {side} side was \
         declared unique (unique_{side}_keys); results for that key may be missing"
    );
    TaskError::Failed(message.into())
}

/// The state and counters of a buffered join.
#[derive(Debug)]
pub(crate) struct Paired<K, A, B, O, P> {
    rule: P,
    left: KeyedBuffer<K, A>,
    right: KeyedBuffer<K, B>,
    pending: VecDeque<Out<O, A, B>>,
    inputs: Inputs,
    clocks: TwoClocks,
    stats: JoinStats,
    done: bool,
}

impl<K, A, B, O, P> Paired<K, A, B, O, P>
where
    K: std::hash::Hash + Eq + Clone,
    P: Rule,
{
    pub(crate) fn new(rule: P) -> Self {
        Paired {
            rule,
            left: KeyedBuffer::new(),
            right: KeyedBuffer::new(),
            pending: VecDeque::new(),
            inputs: Inputs::default(),
            clocks: TwoClocks::new(),
            stats: JoinStats::default(),
            done: false,
        }
    }

    pub(crate) fn stats(&self) -> JoinStats {
        JoinStats {
            held: self.left.len().saturating_add(self.right.len()) as u64,
            ..self.stats
        }
    }

    pub(crate) fn watermark(&self) -> Option<i64> {
        Some(self.clocks.current()).filter(|w| *w != i64::MIN)
    }

    pub(crate) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.done && self.pending.is_empty()
    }

    fn fail(&mut self, error: TaskError) {
        let held = self.left.len().saturating_add(self.right.len()) as u64;
        self.stats.discarded = self.stats.discarded.saturating_add(held);
        self.left = KeyedBuffer::new();
        self.right = KeyedBuffer::new();
        let ts = self.clocks.current();
        self.pending
            .push_back(Timed::item(ts, JoinEvent::Error(error)));
        self.done = true;
    }

    fn on_watermark(&mut self) {
        let Some(w) = self.clocks.advanced() else {
            return;
        };
        if let Some(bound) = self.rule.expiry_bound(w) {
            let expired = self
                .left
                .expire(bound)
                .saturating_add(self.right.expire(bound));
            self.stats.expired = self.stats.expired.saturating_add(expired);
        }
        if w != i64::MAX {
            self.pending.push_back(Timed::Watermark(w));
        }
    }

    fn left_element<F>(&mut self, key: K, ts: i64, value: A, f: &mut F)
    where
        F: JoinFn<A, B, Output = O>,
    {
        self.stats.left = self.stats.left.saturating_add(1);
        if self.rule.is_late(ts, self.clocks.current()) {
            self.stats.late = self.stats.late.saturating_add(1);
            self.pending
                .push_back(Timed::item(ts, JoinEvent::Late(Side::Left(value))));
            return;
        }
        let found = self.right.get(&key);
        let met_only_match = found.is_some() && self.rule.unique(false);
        if let Some((older, newer)) = found {
            for e in older.iter().chain(newer) {
                if self.rule.matches(ts, true, e.ts) {
                    let out = f.join(&value, &e.value);
                    self.stats.joined = self.stats.joined.saturating_add(1);
                    self.pending
                        .push_back(Timed::item(ts.max(e.ts), JoinEvent::Joined(out)));
                }
            }
        }
        if met_only_match || !self.rule.keeps(true) {
            self.stats.expired = self.stats.expired.saturating_add(1);
            return;
        }
        if self.left.len() >= self.rule.cap() {
            if let Some(old) = self.left.evict_oldest() {
                self.stats.evicted = self.stats.evicted.saturating_add(1);
                let event = JoinEvent::Evicted(Side::Left(old.value));
                self.pending.push_back(Timed::item(old.ts, event));
            }
        }
        let until = self.rule.until(ts, true);
        if self.left.insert(key, ts, until, value) && self.rule.unique(true) {
            self.fail(duplicate_key("left"));
        }
    }

    fn right_element<F>(&mut self, key: K, ts: i64, value: B, f: &mut F)
    where
        F: JoinFn<A, B, Output = O>,
    {
        self.stats.right = self.stats.right.saturating_add(1);
        if self.rule.is_late(ts, self.clocks.current()) {
            self.stats.late = self.stats.late.saturating_add(1);
            self.pending
                .push_back(Timed::item(ts, JoinEvent::Late(Side::Right(value))));
            return;
        }
        let found = self.left.get(&key);
        let met_only_match = found.is_some() && self.rule.unique(true);
        if let Some((older, newer)) = found {
            for e in older.iter().chain(newer) {
                if self.rule.matches(ts, false, e.ts) {
                    let out = f.join(&e.value, &value);
                    self.stats.joined = self.stats.joined.saturating_add(1);
                    self.pending
                        .push_back(Timed::item(ts.max(e.ts), JoinEvent::Joined(out)));
                }
            }
        }
        if met_only_match || !self.rule.keeps(false) {
            self.stats.expired = self.stats.expired.saturating_add(1);
            return;
        }
        if self.right.len() >= self.rule.cap() {
            if let Some(old) = self.right.evict_oldest() {
                self.stats.evicted = self.stats.evicted.saturating_add(1);
                let event = JoinEvent::Evicted(Side::Right(old.value));
                self.pending.push_back(Timed::item(old.ts, event));
            }
        }
        let until = self.rule.until(ts, false);
        if self.right.insert(key, ts, until, value) && self.rule.unique(false) {
            self.fail(duplicate_key("right"));
        }
    }

    /// One `poll_next` of the join stream.
    pub(crate) fn poll<L, R, KL, KR, F>(
        &mut self,
        mut left: Pin<&mut L>,
        mut right: Pin<&mut R>,
        left_key: &mut KL,
        right_key: &mut KR,
        f: &mut F,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Out<O, A, B>>>
    where
        L: TimedStream<Value = A>,
        R: TimedStream<Value = B>,
        KL: KeySelector<A, Key = K>,
        KR: KeySelector<B, Key = K>,
        F: JoinFn<A, B, Output = O>,
    {
        let mut budget = YIELD_EVERY;
        loop {
            if let Some(out) = self.pending.pop_front() {
                return Poll::Ready(Some(out));
            }
            if self.done {
                return Poll::Ready(None);
            }
            let next = self.inputs.poll(left.as_mut(), right.as_mut(), cx);
            let step = catch_unwind(AssertUnwindSafe(|| match next {
                Next::Pending => false,
                Next::Ended => {
                    self.done = true;
                    true
                }
                Next::Left(Timed::Item { ts, value }) => {
                    let key = left_key.key(&value);
                    self.left_element(key, ts, value, f);
                    true
                }
                Next::Right(Timed::Item { ts, value }) => {
                    let key = right_key.key(&value);
                    self.right_element(key, ts, value, f);
                    true
                }
                Next::Left(Timed::Watermark(w)) => {
                    self.clocks.left(w);
                    self.on_watermark();
                    true
                }
                Next::Right(Timed::Watermark(w)) => {
                    self.clocks.right(w);
                    self.on_watermark();
                    true
                }
                Next::LeftEnded => {
                    self.clocks.left(i64::MAX);
                    self.on_watermark();
                    true
                }
                Next::RightEnded => {
                    self.clocks.right(i64::MAX);
                    self.on_watermark();
                    true
                }
            }));
            match step {
                Ok(false) => return Poll::Pending,
                Ok(true) => {}
                Err(payload) => {
                    let message = panic_message(&*payload);
                    self.fail(TaskError::Panicked { message });
                }
            }
            budget = budget.saturating_sub(1);
            if budget == 0 && self.pending.is_empty() {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }
}
