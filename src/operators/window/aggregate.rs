//! How a window turns its elements into the value it fires with: the contents, a fold, a
//! reduce, or any [`WindowAggregate`] (Flink's `AggregateFunction`).

use std::fmt;

/// Incremental aggregation of a window: the window keeps only the accumulator.
///
/// Flink's `AggregateFunction`: `create` starts an accumulator from a window's first
/// element, `add` folds in the next ones, `output` reads the value a firing emits (a window
/// kept open for allowed lateness fires again later, so it must not consume the
/// accumulator), `finish` consumes it on the last firing, and `merge` combines the
/// accumulators of two sessions that merge.
///
/// Panics in these methods are caught: the stream ends with
/// [`WindowEvent::Error`](super::WindowEvent::Error).
pub trait WindowAggregate<T> {
    /// The per-window state.
    type Acc;
    /// What a fired window carries.
    type Output;

    /// `true` when the accumulator grows with its elements (it keeps them, like
    /// [`Contents`]): the window operator then bounds the elements held by all open
    /// windows together with `max_held_elements` on the spec, firing the window with the
    /// smallest end early ([`FireReason::Full`](super::FireReason::Full)) past it. A fold
    /// into a fixed-size accumulator leaves it `false` and is bounded by
    /// `max_open_windows` alone.
    const KEEPS_ELEMENTS: bool = false;

    /// An accumulator holding the window's first element.
    fn create(&mut self, first: T) -> Self::Acc;

    /// Folds one more element in.
    fn add(&mut self, acc: Self::Acc, item: T) -> Self::Acc;

    /// The value of a firing; the window stays open.
    fn output(&mut self, acc: &Self::Acc) -> Self::Output;

    /// The value of the last firing; the window closes.
    fn finish(&mut self, acc: Self::Acc) -> Self::Output {
        self.output(&acc)
    }

    /// Merges the accumulators of two sessions (`earlier` starts first), or `None` when
    /// this aggregate cannot merge; session windows then end the stream with an error.
    fn merge(&mut self, earlier: Self::Acc, later: Self::Acc) -> Option<Self::Acc> {
        let _ = (earlier, later);
        None
    }
}

/// The default aggregate: the window's elements in arrival order (after a session merge,
/// the merged sessions' elements by start, then the new ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Contents;

impl<T: Clone> WindowAggregate<T> for Contents {
    type Acc = Vec<T>;
    type Output = Vec<T>;
    const KEEPS_ELEMENTS: bool = true;

    fn create(&mut self, first: T) -> Vec<T> {
        vec![first]
    }

    fn add(&mut self, mut acc: Vec<T>, item: T) -> Vec<T> {
        acc.push(item);
        acc
    }

    fn output(&mut self, acc: &Vec<T>) -> Vec<T> {
        acc.clone()
    }

    fn finish(&mut self, acc: Vec<T>) -> Vec<T> {
        acc
    }

    fn merge(&mut self, mut earlier: Vec<T>, later: Vec<T>) -> Option<Vec<T>> {
        earlier.extend(later);
        Some(earlier)
    }
}

/// `fold(init, f)` per window: each window starts from a clone of `init`.
pub struct Fold<B, F> {
    init: B,
    f: F,
}

impl<B, F> Fold<B, F> {
    /// Folds each window's elements into a clone of `init` with `f`.
    pub fn new(init: B, f: F) -> Self {
        Fold { init, f }
    }
}

impl<B, F> fmt::Debug for Fold<B, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fold").finish_non_exhaustive()
    }
}

impl<T, B: Clone, F: FnMut(B, T) -> B> WindowAggregate<T> for Fold<B, F> {
    type Acc = B;
    type Output = B;

    fn create(&mut self, first: T) -> B {
        (self.f)(self.init.clone(), first)
    }

    fn add(&mut self, acc: B, item: T) -> B {
        (self.f)(acc, item)
    }

    fn output(&mut self, acc: &B) -> B {
        acc.clone()
    }

    fn finish(&mut self, acc: B) -> B {
        acc
    }
}

/// `fold(init, f)` per window with `merge(earlier, later)` for session windows.
pub struct FoldWithMerge<B, F, M> {
    fold: Fold<B, F>,
    merge: M,
}

impl<B, F, M> FoldWithMerge<B, F, M> {
    /// Folds like [`Fold::new`]; `merge(earlier, later)` combines two sessions'
    /// accumulators.
    pub fn new(init: B, f: F, merge: M) -> Self {
        FoldWithMerge {
            fold: Fold::new(init, f),
            merge,
        }
    }
}

impl<B, F, M> fmt::Debug for FoldWithMerge<B, F, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FoldWithMerge").finish_non_exhaustive()
    }
}

impl<T, B, F, M> WindowAggregate<T> for FoldWithMerge<B, F, M>
where
    B: Clone,
    F: FnMut(B, T) -> B,
    M: FnMut(B, B) -> B,
{
    type Acc = B;
    type Output = B;

    fn create(&mut self, first: T) -> B {
        self.fold.create(first)
    }

    fn add(&mut self, acc: B, item: T) -> B {
        self.fold.add(acc, item)
    }

    fn output(&mut self, acc: &B) -> B {
        acc.clone()
    }

    fn finish(&mut self, acc: B) -> B {
        acc
    }

    fn merge(&mut self, earlier: B, later: B) -> Option<B> {
        Some((self.merge)(earlier, later))
    }
}

/// `reduce(f)` per window: the first element is the accumulator; sessions merge with `f`.
pub struct Reduce<F> {
    f: F,
}

impl<F> Reduce<F> {
    /// Reduces each window's elements with `f`, the first element as the start.
    pub fn new(f: F) -> Self {
        Reduce { f }
    }
}

impl<F> fmt::Debug for Reduce<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reduce").finish_non_exhaustive()
    }
}

impl<T: Clone, F: FnMut(T, T) -> T> WindowAggregate<T> for Reduce<F> {
    type Acc = T;
    type Output = T;

    fn create(&mut self, first: T) -> T {
        first
    }

    fn add(&mut self, acc: T, item: T) -> T {
        (self.f)(acc, item)
    }

    fn output(&mut self, acc: &T) -> T {
        acc.clone()
    }

    fn finish(&mut self, acc: T) -> T {
        acc
    }

    fn merge(&mut self, earlier: T, later: T) -> Option<T> {
        Some((self.f)(earlier, later))
    }
}
