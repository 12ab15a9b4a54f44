//! Backpressure-aware dataflow operators for every `Stream`, ours and anyone else's.
//!
//! [`DataflowExt`] adds the operators as methods. Each operator lives in its own file,
//! holds a bounded amount of state that the caller can see and set, and pulls from
//! upstream only as fast as downstream consumes. Invalid arguments (zero sizes, zero
//! durations, zero concurrency) are a [`ConfigError`](crate::error::ConfigError), never a
//! panic.

use futures::Stream;

// region: chunk (modules)
// endregion: chunk (modules)

// region: window (modules)
pub mod window;
// endregion: window (modules)

// region: sequence (modules)
// endregion: sequence (modules)

// region: par_map (modules)
// endregion: par_map (modules)

/// Dataflow operators on every [`Stream`].
pub trait DataflowExt: Stream {
    // region: chunk (methods)
    // endregion: chunk (methods)

    // region: window (methods)
    /// EVENT
    fn event_time_window<A, F>(
        self,
        spec: window::EventTimeSpec<A>,
        timestamp: F,
    ) -> Result<
        window::EventTimeWindow<Self, window::NoKey, F, A, window::Contents>,
        crate::error::ConfigError,
    >
    where
        Self: Sized,
        Self::Item: Clone,
        F: FnMut(&Self::Item) -> i64,
    {
        window::KeyBy::new(self, window::NoKey).event_time_window(spec, timestamp)
    }

    /// PROC
    fn processing_time_window<A>(
        self,
        spec: window::ProcessingTimeSpec<A>,
    ) -> Result<
        window::ProcessingTimeWindow<Self, window::NoKey, A, window::Contents>,
        crate::error::ConfigError,
    >
    where
        Self: Sized,
        Self::Item: Clone,
    {
        window::KeyBy::new(self, window::NoKey).processing_time_window(spec)
    }

    /// COUNT
    fn count_window(
        self,
        spec: window::CountSpec,
    ) -> Result<window::CountWindow<Self, window::NoKey, window::Contents>, crate::error::ConfigError>
    where
        Self: Sized,
        Self::Item: Clone,
    {
        window::KeyBy::new(self, window::NoKey).count_window(spec)
    }

    /// KEY
    fn key_by<K, F>(self, key: F) -> window::KeyBy<Self, F>
    where
        Self: Sized,
        F: FnMut(&Self::Item) -> K,
        K: std::hash::Hash + Eq + Clone,
    {
        window::KeyBy::new(self, key)
    }
    // endregion: window (methods)

    // region: sequence (methods)
    // endregion: sequence (methods)

    // region: par_map (methods)
    // endregion: par_map (methods)
}

impl<S: Stream + ?Sized> DataflowExt for S {}
