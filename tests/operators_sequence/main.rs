//! Integration tests of the sequence operators: one binary, one module per operator.

// Test helpers unwrap and panic: a failed expectation is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod detect_gaps;
mod order_by_timestamp;
mod reorder_by_id;
mod sort_bounded;
mod sort_chunks;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{Stream, StreamExt, stream};
use sweet_async::operators::sequence::{
    DetectGaps, OrderByTimestamp, ReorderById, SortBounded, SortChunks,
};
use sweet_async::operators::{
    DataflowExt, ReorderConfig, SequenceCounts, SequenceError, Sequenced,
};

/// Runs a stream to its end without a runtime (none of these streams needs one unless a
/// timeout is configured).
pub fn run<S: Stream>(s: S) -> Vec<S::Item> {
    futures::executor::block_on(s.collect())
}

/// An endless (or finite) source that counts how many items were pulled from it.
pub fn counted<I>(iter: I) -> (impl Stream<Item = I::Item> + Unpin, Arc<AtomicU64>)
where
    I: Iterator,
{
    let pulled = Arc::new(AtomicU64::new(0));
    let p = Arc::clone(&pulled);
    let s = stream::iter(iter).inspect(move |_| {
        p.fetch_add(1, Ordering::Relaxed);
    });
    (s, pulled)
}

/// The `Ok` outputs, panicking on an error item.
pub fn oks<T: std::fmt::Debug, E: std::fmt::Debug>(out: Vec<Result<T, E>>) -> Vec<T> {
    out.into_iter().map(|r| r.unwrap()).collect()
}

/// The balance every operator keeps.
pub fn assert_balanced(c: SequenceCounts) {
    assert_eq!(
        c.items_in,
        c.emitted + c.late + c.duplicates + c.already_passed + c.buffered + c.handed_back,
        "{c:?}"
    );
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    type Src = stream::Iter<std::vec::IntoIter<u64>>;
    type Key = fn(&u64) -> i64;
    type Id = fn(&u64) -> u64;
    type Cmp = fn(&u64, &u64) -> std::cmp::Ordering;
    check::<OrderByTimestamp<Src, Key>>();
    check::<DetectGaps<Src, Key>>();
    check::<ReorderById<Src, Id>>();
    check::<SortBounded<Src, Cmp>>();
    check::<SortChunks<Src, Cmp>>();
    check::<Sequenced<String, u64>>();
    check::<SequenceError<String>>();
    check::<SequenceCounts>();
    check::<ReorderConfig>();
}

#[test]
fn sequence_error_reports_operator_and_items() {
    let out = run(stream::iter([0_u64, 2])
        .reorder_by_id(4, |id| if *id == 2 { panic!("bad id") } else { *id })
        .unwrap());
    let err = out.into_iter().nth(1).unwrap().unwrap_err();
    assert_eq!(err.operator(), "reorder_by_id");
    assert!(err.error().is_panic());
    assert_eq!(
        err.to_string(),
        "reorder_by_id stopped: task panicked: bad id (1 held items handed back)"
    );
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(err.into_items(), [2]);
}
