//! `skip_errors()`: values out, errors counted.

use std::sync::atomic::Ordering;

use futures::{StreamExt, stream};
use proptest::prelude::*;
use sweet_async::prelude::*;

use crate::{Counted, assert_fused};

#[tokio::test]
async fn keeps_values_and_counts_errors() {
    let s = stream::iter([Ok(1), Err("a"), Err("b"), Ok(2), Err("c")]).skip_errors();
    let counter = s.counter();
    assert_eq!(s.skipped(), 0);
    assert_eq!(s.collect::<Vec<_>>().await, vec![1, 2]);
    assert_eq!(counter.get(), 3);
}

#[tokio::test]
async fn the_count_is_readable_while_the_stream_runs() {
    let mut s = stream::iter([Err("x"), Ok(1), Err("y"), Ok(2)]).skip_errors();
    assert_eq!(s.next().await, Some(1));
    assert_eq!(s.skipped(), 1);
    assert_eq!(s.next().await, Some(2));
    assert_eq!(s.skipped(), 2);
    assert_eq!(s.next().await, None);
}

#[test]
fn fused_after_the_end() {
    let upstream = Counted::new(stream::iter([Ok::<u8, u8>(1), Err(2)]));
    let polled_after_end = upstream.polled_after_end.clone();
    let mut s = upstream.skip_errors();
    let all: Vec<u8> = futures::executor::block_on_stream(&mut s).collect();
    assert_eq!(all, vec![1]);
    assert_fused(&mut s);
    assert_eq!(polled_after_end.load(Ordering::SeqCst), 0);
    assert_eq!(s.skipped(), 1);
}

proptest! {
    #[test]
    fn items_in_equal_items_out_plus_skipped(
        input in proptest::collection::vec(any::<Result<u8, i8>>(), 0..100),
    ) {
        let s = stream::iter(input.clone()).skip_errors();
        let counter = s.counter();
        let out: Vec<u8> = futures::executor::block_on(s.collect());
        let expected: Vec<u8> = input.iter().filter_map(|r| r.ok()).collect();
        prop_assert_eq!(&out, &expected);
        prop_assert_eq!(input.len() as u64, out.len() as u64 + counter.get());
    }
}
