//! [`Outcome`]: how a terminal stage reads the items of a stream, and [`Collected`], what
//! it gathers.

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::Hash;

use crate::collect::collector::{Batch, KeyedError};
use crate::collect::receiver::Received;
use crate::error::TaskError;
use crate::operators::window::WindowEvent;
use crate::stream::{EventError, EventErrorKind, EventId, SenderEvent};

mod sealed {
    pub trait Sealed {}
    impl<K, V, R> Sealed for crate::collect::Received<K, V, R> {}
    impl<T> Sealed for Result<T, crate::stream::EventError> {}
    impl<T> Sealed for crate::stream::SenderEvent<T> {}
    impl<K, A, T, P> Sealed for crate::operators::window::WindowEvent<K, A, T, P> {}
}

/// Items [`await_final_event`](crate::collect::FinalEvent::await_final_event) can read:
/// a receiver's [`Received`] items, an emitting stream's `Result<SenderEvent<T>,
/// EventError>`, any `Result<T, EventError>`, plain events, and the
/// [`WindowEvent`]s of a window stream (fired windows are outputs, late elements are
/// counted and kept, a failure is an error).
pub trait Outcome: sealed::Sealed {
    /// Keys of collected values.
    type Key;
    /// Collected values.
    type Value;
    /// Outputs (the receiver's `Ok` values, or the items themselves).
    type Output;
    /// Late elements (window streams); [`Infallible`] for every other item.
    type Late;

    /// The item as a receiver item, or the late element it carries.
    ///
    /// # Errors
    ///
    /// The late element, when the item is one.
    // The trait's own associated types, spelled out: an alias would hide what it is.
    #[allow(clippy::type_complexity)]
    fn into_received(self) -> Result<Received<Self::Key, Self::Value, Self::Output>, Self::Late>;
}

impl<K, V, R> Outcome for Received<K, V, R> {
    type Key = K;
    type Value = V;
    type Output = R;
    type Late = Infallible;
    #[inline]
    fn into_received(self) -> Result<Self, Infallible> {
        Ok(self)
    }
}

impl<T> Outcome for Result<T, EventError> {
    type Key = ();
    type Value = ();
    type Output = T;
    type Late = Infallible;
    #[inline]
    fn into_received(self) -> Result<Received<(), (), T>, Infallible> {
        Ok(match self {
            Ok(t) => Received::Output(t),
            Err(e) => Received::Failed(e),
        })
    }
}

impl<T> Outcome for SenderEvent<T> {
    type Key = ();
    type Value = ();
    type Output = SenderEvent<T>;
    type Late = Infallible;
    #[inline]
    fn into_received(self) -> Result<Received<(), (), SenderEvent<T>>, Infallible> {
        Ok(Received::Output(self))
    }
}

impl<K, A, T, P> Outcome for WindowEvent<K, A, T, P> {
    type Key = ();
    type Value = ();
    type Output = crate::operators::window::Window<K, A, P>;
    type Late = T;
    #[inline]
    fn into_received(self) -> Result<Received<(), (), Self::Output>, T> {
        match self {
            WindowEvent::Fired(w) => Ok(Received::Output(w)),
            WindowEvent::Late(t) => Err(t),
            WindowEvent::Error(e) => Ok(Received::Failed(window_failure(e))),
        }
    }
}

/// A window stream's failure as an event error (a panic keeps its message).
#[cold]
fn window_failure(e: TaskError) -> EventError {
    let kind = match e {
        TaskError::Panicked { message } => EventErrorKind::Panicked { message },
        other => EventErrorKind::Receiver(Box::new(other)),
    };
    EventError::new(EventId::default(), None, kind)
}

/// The parts of a [`Collected`]: `(outputs, items, keyed, errors)`.
pub type CollectedParts<K, V, R> = (Vec<R>, Vec<V>, Vec<(K, V)>, Vec<KeyedError<K>>);

/// Everything a stream produced, as handed to the closure of
/// [`await_final_event`](crate::collect::FinalEvent::await_final_event).
///
/// `L` is the type of late elements: the elements of a window stream that came after
/// every window they belong to had closed ([`late`](Self::late)); [`Infallible`] (none
/// can exist) for every other stream.
#[derive(Debug)]
pub struct Collected<K, V, R, L = Infallible> {
    outputs: Vec<R>,
    items: Vec<V>,
    keyed: Vec<(K, V)>,
    errors: Vec<KeyedError<K>>,
    late: Vec<L>,
}

impl<K, V, R, L> Default for Collected<K, V, R, L> {
    fn default() -> Self {
        Collected {
            outputs: Vec::new(),
            items: Vec::new(),
            keyed: Vec::new(),
            errors: Vec::new(),
            late: Vec::new(),
        }
    }
}

impl<K, V, R, L> Collected<K, V, R, L> {
    /// The late elements of a window stream, in arrival order (counted in
    /// [`Summary::late`](crate::collect::Summary::late)).
    pub fn late(&self) -> &[L] {
        &self.late
    }

    /// Takes the late elements out, leaving none (for example before
    /// [`into_parts`](Self::into_parts), which does not hand them over).
    pub fn take_late(&mut self) -> Vec<L> {
        std::mem::take(&mut self.late)
    }

    #[inline]
    pub(crate) fn push_late(&mut self, late: L) {
        self.late.push(late);
    }
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

    /// Consumes the collection: `(outputs, items, keyed, errors)`. Late elements are not
    /// among them: take them first with [`take_late`](Self::take_late).
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
