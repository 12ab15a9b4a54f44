//! `key_by`: one set of windows per key.

use std::fmt;
use std::hash::Hash;

use futures::Stream;

use super::spec::{CountSpec, EventTimeSpec, ProcessingTimeSpec};
use super::{Contents, CountWindow, EventTimeWindow, ProcessingTimeWindow};
use crate::error::ConfigError;

/// Picks the key of an element: a closure `|item: &T| -> K`, or [`NoKey`] for one window
/// set over the whole stream.
pub trait KeySelector<T> {
    /// The key type.
    type Key: Hash + Eq + Clone;

    /// The key of `item`.
    fn key(&mut self, item: &T) -> Self::Key;
}

/// The key selector of a stream without `key_by`: every element has the key `()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoKey;

impl<T> KeySelector<T> for NoKey {
    type Key = ();

    #[inline]
    fn key(&mut self, _item: &T) {}
}

impl<T, K, F> KeySelector<T> for F
where
    F: FnMut(&T) -> K,
    K: Hash + Eq + Clone,
{
    type Key = K;

    #[inline]
    fn key(&mut self, item: &T) -> K {
        self(item)
    }
}

/// A stream split by key, for [`DataflowExt::key_by`](crate::operators::DataflowExt::key_by):
/// choose the windows with one of its methods.
#[must_use = "key_by does nothing until a window is chosen"]
pub struct KeyBy<S, F> {
    stream: S,
    key: F,
}

impl<S, F> KeyBy<S, F> {
    pub(crate) fn new(stream: S, key: F) -> Self {
        KeyBy { stream, key }
    }
}

impl<S: fmt::Debug, F> fmt::Debug for KeyBy<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyBy")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl<S, F> KeyBy<S, F>
where
    S: Stream,
    S::Item: Clone,
    F: KeySelector<S::Item>,
{
    /// Event-time windows per key, with one watermark for the whole stream (as in Flink);
    /// see [`DataflowExt::event_time_window`](crate::operators::DataflowExt::event_time_window).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for an invalid spec (see the `DataflowExt` method).
    pub fn event_time_window<A, TF>(
        self,
        spec: EventTimeSpec<A>,
        timestamp: TF,
    ) -> Result<EventTimeWindow<S, F, TF, A, Contents>, ConfigError>
    where
        TF: FnMut(&S::Item) -> i64,
    {
        let config = spec.validate()?;
        Ok(EventTimeWindow::new(
            self.stream,
            self.key,
            timestamp,
            config,
        ))
    }

    /// Processing-time windows per key; see
    /// [`DataflowExt::processing_time_window`](crate::operators::DataflowExt::processing_time_window).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for an invalid spec (see the `DataflowExt` method).
    pub fn processing_time_window<A>(
        self,
        spec: ProcessingTimeSpec<A>,
    ) -> Result<ProcessingTimeWindow<S, F, A, Contents>, ConfigError> {
        let config = spec.validate()?;
        Ok(ProcessingTimeWindow::new(self.stream, self.key, config))
    }

    /// Count windows per key (each key counts its own elements); see
    /// [`DataflowExt::count_window`](crate::operators::DataflowExt::count_window).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for an invalid spec (see the `DataflowExt` method).
    pub fn count_window(self, spec: CountSpec) -> Result<CountWindow<S, F, Contents>, ConfigError> {
        let config = spec.validate()?;
        Ok(CountWindow::new(self.stream, self.key, config))
    }
}
