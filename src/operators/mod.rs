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
    // endregion: window (methods)

    // region: sequence (methods)
    // endregion: sequence (methods)

    // region: par_map (methods)
    // endregion: par_map (methods)
}

impl<S: Stream + ?Sized> DataflowExt for S {}
