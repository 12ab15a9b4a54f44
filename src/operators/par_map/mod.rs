//! The parallel maps: [`ParMap`], [`ParMapUnordered`], [`ParMapBlocking`] and
//! [`TryParMap`], and the machinery they share: [`ParMapError`], the work core (upstream,
//! `f`, the calls in flight and the bounded output buffer), and the driver task that keeps
//! the core moving while the consumer is busy.
//!
//! `futures`' `buffered`/`buffer_unordered` poll their futures only from inside the
//! consumer's `poll_next`, so in-flight work stalls whenever the consumer is busy with an
//! earlier result (futures-rs issues #2387, #2961). Here the core sits behind a mutex that
//! two parties take with `try_lock`, never blocking:
//!
//! - the **consumer** runs the core itself when it polls (no hand-off, no cross-thread
//!   wake-up: as cheap as `buffered` while the consumer keeps up), and
//! - a **driver** task spawned on the first poll runs it when the consumer is busy.
//!   When the consumer takes a result from the core while work is in flight, it yields
//!   once first: on a multi-thread runtime a task woken by a busy worker waits in that
//!   worker's LIFO slot, out of other workers' reach, and timers fire only on a worker
//!   that parks; the yield wakes an idle worker, which then drives the work while the
//!   consumer computes (a consumer that blocks its thread for 4 ms per result: 1.9x
//!   `buffered`).
//!
//! Upstream is polled with one *work waker* that routes a wake-up to the consumer while
//! it waits for an item, and to the driver while the consumer is busy. Each async call
//! runs in one of `n` reusable slots whose waker queues the slot in a ready list and
//! then wakes the work waker; only the woken slots are polled, and a slot's box and
//! waker are made once, so a call costs no allocation of the operator's own. Whoever
//! fails to take the lock leaves a flag that the holder checks after unlocking, so no
//! wake-up is lost.
//!
//! Finished results wait in the core's buffer, and the consumer takes them all at once
//! into a local queue it yields from without locking (publishing how many it has yielded
//! with a plain store). The calls in flight are always polled when woken; the bound is
//! kept on the pulling side: an item is pulled only while fewer than `n` calls are in
//! flight and fewer than `n + b` items are held (in flight, finished, or with the
//! consumer), so memory stays bounded whatever the consumer does.
//!
//! Files: `error.rs` ([`ParMapError`]), `limits.rs` (the validated settings),
//! `upstream.rs` (polling upstream with panics caught, the size hint), `driver.rs`
//! (the `Core` trait, the flags both parties share, with a table of who sets and who
//! clears each, and the driver task), `state.rs` (the consumer's side, from the first
//! poll to the end), `async_core.rs` and `order.rs` (the core of the async maps and how
//! their results are ordered), `async_par_map.rs` (the stream both async maps are), and
//! one file per public stream.

// Each stream lives in the file named after it, `par_map.rs` included.
#![allow(clippy::module_inception)]

mod async_core;
mod async_par_map;
mod driver;
mod error;
mod limits;
mod order;
mod par_map;
mod par_map_blocking;
mod par_map_unordered;
mod state;
mod try_par_map;
mod upstream;

pub use error::ParMapError;
pub(crate) use limits::Limits;
pub use par_map::ParMap;
pub use par_map_blocking::ParMapBlocking;
pub use par_map_unordered::ParMapUnordered;
pub use try_par_map::TryParMap;
