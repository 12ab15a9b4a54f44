//! Joins of two timed streams by key: a window join, an interval join and a regular join
//! with bounded state, with Apache Flink's semantics.
//!
//! The prose and examples live on [`DataflowExt::join`](crate::operators::DataflowExt::join)
//! and the methods of [`KeyedJoin`].

use std::fmt;
use std::hash::Hash;

use crate::error::{ConfigError, TaskError};
use crate::operators::timed::TimedStream;
use crate::operators::window::EventTimeSpec;

mod buffer;
mod inputs;
mod interval;
mod paired;
mod regular;
mod window_join;

pub use interval::IntervalJoin;
pub use regular::{DEFAULT_MAX_JOIN_STATE, RegularJoin, RegularJoinSpec};
pub use window_join::{CoGroup, Pairs, WindowJoin, WindowJoinFn};

/// The function of an interval or regular join: `|left: &L, right: &R| -> O`; any such
/// closure is one (the trait names the output type).
pub trait JoinFn<L, R> {
    /// The result of one pair.
    type Output;

    /// Joins one pair.
    fn join(&mut self, left: &L, right: &R) -> Self::Output;
}

impl<L, R, O, F: FnMut(&L, &R) -> O> JoinFn<L, R> for F {
    type Output = O;

    #[inline]
    fn join(&mut self, left: &L, right: &R) -> O {
        self(left, right)
    }
}

/// An element of the left or the right input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side<L, R> {
    /// From the left input (the stream `join` was called on).
    Left(L),
    /// From the right input (the argument of `join`).
    Right(R),
}

/// What a join stream yields (inside [`Timed::Item`](crate::operators::timed::Timed::Item)):
/// a joined result, an input element that came too late or left a full state, or the error
/// that ended the stream.
///
/// Late and evicted elements come out of the same stream as the results, so none is lost
/// in an unread side channel.
#[derive(Debug)]
#[non_exhaustive]
pub enum JoinEvent<O, L, R> {
    /// A result of the join function.
    Joined(O),
    /// An element that arrived behind the watermark (the join rules of each operator say
    /// when); it was not joined.
    Late(Side<L, R>),
    /// Regular join: an element that left its side's state early because the state reached
    /// its bound ([`RegularJoinSpec::max_state`]); it was joined with everything that
    /// arrived before it left.
    Evicted(Side<L, R>),
    /// A user closure panicked, or a regular join's side declared unique
    /// ([`RegularJoinSpec::unique_left_keys`]) received a key it held: the stream ends
    /// after this item and the state is dropped (counted in [`JoinStats::discarded`]).
    Error(TaskError),
}

impl<O, L, R> JoinEvent<O, L, R> {
    /// The joined result, if this is one.
    pub fn joined(&self) -> Option<&O> {
        match self {
            JoinEvent::Joined(o) => Some(o),
            _ => None,
        }
    }

    /// Consumes the event and returns the joined result, if this is one.
    pub fn into_joined(self) -> Option<O> {
        match self {
            JoinEvent::Joined(o) => Some(o),
            _ => None,
        }
    }

    /// `true` for [`JoinEvent::Late`].
    pub fn is_late(&self) -> bool {
        matches!(self, JoinEvent::Late(_))
    }

    /// `true` for [`JoinEvent::Error`].
    pub fn is_error(&self) -> bool {
        matches!(self, JoinEvent::Error(_))
    }
}

/// Counters of a join, read with `stats()` on the stream.
///
/// Accounting: every element pulled (`left + right`) is held in the state, was late, was
/// evicted, expired (left the state when the watermark passed its last possible match), or
/// was discarded after an error. Window joins count their elements in
/// [`WindowJoin::window_stats`] instead of `held`/`expired`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JoinStats {
    /// Elements pulled from the left input.
    pub left: u64,
    /// Elements pulled from the right input.
    pub right: u64,
    /// Results emitted.
    pub joined: u64,
    /// Elements sent out as [`JoinEvent::Late`].
    pub late: u64,
    /// Elements sent out as [`JoinEvent::Evicted`].
    pub evicted: u64,
    /// Elements that left the state when the watermark passed their last possible match
    /// (and, in a regular join, elements of a side that is not kept, once they probed, or
    /// that met their only match on a side declared unique).
    pub expired: u64,
    /// Elements held in the state now (both sides).
    pub held: u64,
    /// Elements dropped with the state when the stream ended on an error.
    pub discarded: u64,
}

/// Two timed streams to join, from [`DataflowExt::join`](crate::operators::DataflowExt::join):
/// choose the keys with [`on`](Join::on).
#[must_use = "a join does nothing until its keys and kind are chosen"]
pub struct Join<L, R> {
    left: L,
    right: R,
}

impl<L, R> Join<L, R> {
    pub(crate) fn new(left: L, right: R) -> Self {
        Join { left, right }
    }

    /// Joins elements whose keys are equal: `left_key(&l) == right_key(&r)`.
    pub fn on<K, KL, KR>(self, left_key: KL, right_key: KR) -> KeyedJoin<L, R, KL, KR>
    where
        L: TimedStream,
        R: TimedStream,
        KL: FnMut(&L::Value) -> K,
        KR: FnMut(&R::Value) -> K,
        K: Hash + Eq + Clone,
    {
        KeyedJoin {
            left: self.left,
            right: self.right,
            left_key,
            right_key,
        }
    }
}

impl<L: fmt::Debug, R: fmt::Debug> fmt::Debug for Join<L, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join")
            .field("left", &self.left)
            .field("right", &self.right)
            .finish()
    }
}

/// Two timed streams and their keys: choose the kind of join with
/// [`window`](KeyedJoin::window), [`window_cogroup`](KeyedJoin::window_cogroup),
/// [`interval`](KeyedJoin::interval) or [`regular`](KeyedJoin::regular).
#[must_use = "a join does nothing until its kind is chosen"]
pub struct KeyedJoin<L, R, KL, KR> {
    left: L,
    right: R,
    left_key: KL,
    right_key: KR,
}

impl<L, R, KL, KR, K> KeyedJoin<L, R, KL, KR>
where
    L: TimedStream,
    R: TimedStream,
    KL: FnMut(&L::Value) -> K,
    KR: FnMut(&R::Value) -> K,
    K: Hash + Eq + Clone,
{
    /// A **window join** (Flink's `join(..).where(..).equalTo(..).window(..)`): the elements
    /// of both inputs with the same key that fall in the same window are paired when the
    /// window fires, and `f(&left, &right)` runs on every pair (left elements in arrival
    /// order, each with every right element in arrival order).
    ///
    /// The window assigner, allowed lateness and `max_open_windows` come from `spec`
    /// (tumbling, sliding or session, as for
    /// [`event_time_window`](crate::operators::DataflowExt::event_time_window)); its
    /// `out_of_orderness` is not used: the watermark is the minimum of the two inputs'
    /// watermarks. A window fires when that watermark reaches `end - 1`; each result comes
    /// out at time `end - 1`. An element whose windows are all closed comes out as
    /// [`JoinEvent::Late`]. A window with elements on one side only gives nothing. With
    /// allowed lateness, an element that arrives for a fired window re-fires it: all its
    /// pairs come out again (as in Flink).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for an invalid spec (see `event_time_window`).
    // The stream type names its six parts; an alias would hide them in the docs.
    #[allow(clippy::type_complexity)]
    pub fn window<A, F, O>(
        self,
        spec: EventTimeSpec<A>,
        f: F,
    ) -> Result<WindowJoin<L, R, KL, KR, A, Pairs<F>>, ConfigError>
    where
        L::Value: Clone,
        R::Value: Clone,
        F: FnMut(&L::Value, &R::Value) -> O,
    {
        let config = spec.validate()?;
        Ok(WindowJoin::new(
            self.left,
            self.right,
            self.left_key,
            self.right_key,
            config,
            Pairs::new(f),
        ))
    }

    /// A **window co-group** (Flink's `coGroup(..).window(..)`): like
    /// [`window`](KeyedJoin::window), but `f(&key, &left_elements, &right_elements)` runs
    /// once per fired window and key that has elements on either side, and its `Some`
    /// result comes out. For "the persons who opened an auction in the same window" (one
    /// row per person, however many auctions) or outer joins.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for an invalid spec.
    // The stream type names its six parts; an alias would hide them in the docs.
    #[allow(clippy::type_complexity)]
    pub fn window_cogroup<A, F, O>(
        self,
        spec: EventTimeSpec<A>,
        f: F,
    ) -> Result<WindowJoin<L, R, KL, KR, A, CoGroup<F>>, ConfigError>
    where
        L::Value: Clone,
        R::Value: Clone,
        F: FnMut(&K, &[L::Value], &[R::Value]) -> Option<O>,
    {
        let config = spec.validate()?;
        Ok(WindowJoin::new(
            self.left,
            self.right,
            self.left_key,
            self.right_key,
            config,
            CoGroup::new(f),
        ))
    }

    /// An **interval join** (Flink's `intervalJoin(..).between(lower, upper)`): a right
    /// element `b` joins a left element `a` with the same key when
    /// `a.ts + lower <= b.ts <= a.ts + upper` (both bounds inclusive), whichever arrives
    /// first. Each result comes out at `max(a.ts, b.ts)` as soon as the second element
    /// arrives.
    ///
    /// An element with a timestamp below the watermark (the minimum of the two inputs')
    /// comes out as [`JoinEvent::Late`] and is not joined (Flink drops it). A left element
    /// is kept until the watermark passes `a.ts + upper`, a right element until it passes
    /// `b.ts - lower`: the last times a match could still arrive. So among elements that are
    /// not late, the results are exactly the pairs that satisfy the condition.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Conflict`] when `lower > upper`.
    pub fn interval<F, O>(
        self,
        lower: i64,
        upper: i64,
        f: F,
    ) -> Result<IntervalJoin<L, R, KL, KR, F>, ConfigError>
    where
        F: FnMut(&L::Value, &R::Value) -> O,
    {
        if lower > upper {
            return Err(ConfigError::Conflict {
                reason: format!(
                    "interval join lower bound ({lower}) is above its upper bound ({upper})"
                ),
            });
        }
        Ok(IntervalJoin::new(
            self.left,
            self.right,
            self.left_key,
            self.right_key,
            (lower, upper),
            f,
        ))
    }

    /// A **regular join** (Flink SQL's `JOIN .. ON a.k = b.k` with state time-to-live): each
    /// element joins every element of the other side with the same key that is in the
    /// state when it arrives, then is stored. Each result comes out at `max(a.ts, b.ts)`.
    ///
    /// The state is bounded by `spec`: with a [`ttl`](RegularJoinSpec::ttl), an element
    /// leaves the state once the watermark passes `ts + ttl`, and an element that arrives
    /// with `ts + ttl <= watermark` comes out as [`JoinEvent::Late`]; each side holds at
    /// most [`max_state`](RegularJoinSpec::max_state) elements, past which the one with the
    /// earliest expiry leaves early as [`JoinEvent::Evicted`] (the typed overflow: never a
    /// silent drop). A side can be made a probe-only lookup side with
    /// [`keep_left`](RegularJoinSpec::keep_left) / [`keep_right`](RegularJoinSpec::keep_right).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for a negative time-to-live, a zero state bound, or a spec that
    /// keeps neither side.
    pub fn regular<F, O>(
        self,
        spec: RegularJoinSpec,
        f: F,
    ) -> Result<RegularJoin<L, R, KL, KR, F>, ConfigError>
    where
        F: FnMut(&L::Value, &R::Value) -> O,
    {
        let spec = spec.validate()?;
        Ok(RegularJoin::new(
            self.left,
            self.right,
            self.left_key,
            self.right_key,
            spec,
            f,
        ))
    }
}

impl<L: fmt::Debug, R: fmt::Debug, KL, KR> fmt::Debug for KeyedJoin<L, R, KL, KR> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedJoin")
            .field("left", &self.left)
            .field("right", &self.right)
            .finish_non_exhaustive()
    }
}

impl<L: crate::ack::TakeAcks, R: crate::ack::TakeAcks> crate::ack::TakeAcks for Side<L, R> {
    fn take_acks(&mut self) -> crate::ack::Acks {
        match self {
            Side::Left(l) => l.take_acks(),
            Side::Right(r) => r.take_acks(),
        }
    }
}

impl<O, L, R> crate::ack::TakeAcks for JoinEvent<O, L, R>
where
    O: crate::ack::TakeAcks,
    L: crate::ack::TakeAcks,
    R: crate::ack::TakeAcks,
{
    /// A result's own acknowledgements (what the join function put in it), or those of a
    /// late or evicted element. Elements held in the join state keep theirs until the state
    /// drops them (released, so an acknowledging source delivers them again).
    fn take_acks(&mut self) -> crate::ack::Acks {
        match self {
            JoinEvent::Joined(o) => o.take_acks(),
            JoinEvent::Late(s) | JoinEvent::Evicted(s) => s.take_acks(),
            JoinEvent::Error(_) => crate::ack::Acks::none(),
        }
    }
}
