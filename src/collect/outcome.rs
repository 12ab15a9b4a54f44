//! [`Outcome`]: how a terminal stage reads the items of a stream, and [`Collected`], what
//! it gathers.

use std::collections::HashMap;
use std::hash::Hash;

use crate::collect::collector::{Batch, KeyedError};
use crate::collect::receiver::Received;
use crate::stream::{EventError, SenderEvent};

mod sealed {
    pub trait Sealed {}
    impl<K, V, R> Sealed for crate::collect::Received<K, V, R> {}
    impl<T> Sealed for Result<T, crate::stream::EventError> {}
    impl<T> Sealed for crate::stream::SenderEvent<T> {}
}

/// Items [`await_final_event`](crate::collect::FinalEvent::await_final_event) can read:
/// a receiver's [`Received`] items, an emitting stream's `Result<SenderEvent<T>,
/// EventError>`, any `Result<T, EventError>`, and plain events.
pub trait Outcome: sealed::Sealed {
    /// Keys of collected values.
    type Key;
    /// Collected values.
    type Value;
    /// Outputs (the receiver's `Ok` values, or the items themselves).
    type Output;

    /// The item as a receiver item.
    fn into_received(self) -> Received<Self::Key, Self::Value, Self::Output>;
}

impl<K, V, R> Outcome for Received<K, V, R> {
    type Key = K;
    type Value = V;
    type Output = R;
    #[inline]
    fn into_received(self) -> Self {
        self
    }
}

impl<T> Outcome for Result<T, EventError> {
    type Key = ();
    type Value = ();
    type Output = T;
    #[inline]
    fn into_received(self) -> Received<(), (), T> {
        match self {
            Ok(t) => Received::Output(t),
            Err(e) => Received::Failed(e),
        }
    }
}

impl<T> Outcome for SenderEvent<T> {
    type Key = ();
    type Value = ();
    type Output = SenderEvent<T>;
    #[inline]
    fn into_received(self) -> Received<(), (), SenderEvent<T>> {
        Received::Output(self)
    }
}

/// The parts of a [`Collected`]: `(outputs, items, keyed, errors)`.
pub type CollectedParts<K, V, R> = (Vec<R>, Vec<V>, Vec<(K, V)>, Vec<KeyedError<K>>);

/// Everything a stream produced, as handed to the closure of
/// [`await_final_event`](crate::collect::FinalEvent::await_final_event).
#[derive(Debug)]
pub struct Collected<K, V, R> {
    outputs: Vec<R>,
    items: Vec<V>,
    keyed: Vec<(K, V)>,
    errors: Vec<KeyedError<K>>,
}

impl<K, V, R> Default for Collected<K, V, R> {
    fn default() -> Self {
        Collected {
            outputs: Vec::new(),
            items: Vec::new(),
            keyed: Vec::new(),
            errors: Vec::new(),
        }
    }
}

impl<K, V, R> Collected<K, V, R> {
    /// The outputs: each processed event's `Ok` value, in the order they finished.
    pub fn outputs(&self) -> &[R] {
        &self.outputs
    }

    /// Values kept with `collect_item`, in order.
    pub fn items(&self) -> &[V] {
        &self.items
    }

    /// Values kept with `collect(key, value)`, in order.
    pub fn keyed(&self) -> &[(K, V)] {
        &self.keyed
    }

    /// Every error with its key: failed events (keyed by their event id and position
    /// inside the error) and errors kept with `collect_error(key, ..)`.
    pub fn errors(&self) -> &[KeyedError<K>] {
        &self.errors
    }

    /// The keyed values as a map; later values replace earlier ones with the same key.
    pub fn keyed_map(self) -> HashMap<K, V>
    where
        K: Hash + Eq,
    {
        self.keyed.into_iter().collect()
    }

    /// Consumes the collection: `(outputs, items, keyed, errors)`.
    pub fn into_parts(self) -> CollectedParts<K, V, R> {
        (self.outputs, self.items, self.keyed, self.errors)
    }

    /// The outputs, dropping the rest.
    pub fn into_outputs(self) -> Vec<R> {
        self.outputs
    }

    #[inline]
    pub(crate) fn push_output(&mut self, r: R) {
        self.outputs.push(r);
    }

    pub(crate) fn push_error(&mut self, e: EventError) {
        self.errors.push(KeyedError {
            key: None,
            error: e,
        });
    }

    pub(crate) fn absorb(&mut self, batch: Batch<K, V>) {
        self.items.extend(batch.items);
        self.keyed.extend(batch.keyed);
        self.errors.extend(batch.errors);
    }
}
