//! `partition_errors(on_err)`: values flow on, errors go to the closure with their index.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use futures::{StreamExt, stream};
use proptest::prelude::*;
use sweet_async::prelude::*;

use crate::{Counted, assert_fused};

#[tokio::test]
async fn values_out_errors_to_the_closure_with_their_index() {
    let mut errors = Vec::new();
    let s = stream::iter([Ok(10), Err("a"), Ok(20), Err("b"), Err("c")])
        .partition_errors(|i, e| errors.push((i, e)));
    let counter = s.counter();
    let values: Vec<u8> = s.collect().await;
    assert_eq!(values, vec![10, 20]);
    assert_eq!(errors, vec![(1, "a"), (3, "b"), (4, "c")]);
    assert_eq!(counter.get(), 3);
}

#[tokio::test]
async fn an_error_is_handed_over_before_the_next_value() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = Arc::clone(&log);
    let mut s = stream::iter([Err("first"), Ok(1), Ok(2)])
        .partition_errors(move |i, e| l.lock().unwrap().push(format!("err {i} {e}")));
    let v = s.next().await.unwrap();
    log.lock().unwrap().push(format!("value {v}"));
    assert_eq!(s.pulled(), 2);
    assert_eq!(*log.lock().unwrap(), vec!["err 0 first", "value 1"]);
}

#[test]
fn fused_after_the_end() {
    let upstream = Counted::new(stream::iter([Ok::<u8, u8>(1), Err(2)]));
    let polled_after_end = upstream.polled_after_end.clone();
    let mut s = upstream.partition_errors(|_, _| {});
    assert_eq!(futures::executor::block_on_stream(&mut s).count(), 1);
    assert_fused(&mut s);
    assert_eq!(polled_after_end.load(Ordering::SeqCst), 0);
}

proptest! {
    #[test]
    fn every_item_ends_in_the_values_or_the_errors(
        input in proptest::collection::vec(any::<Result<u8, i8>>(), 0..100),
    ) {
        let mut errors = Vec::new();
        let values: Vec<u8> = futures::executor::block_on(
            stream::iter(input.clone()).partition_errors(|i, e| errors.push((i, e))).collect(),
        );
        prop_assert_eq!(values.len() + errors.len(), input.len());
        let expected_values: Vec<u8> = input.iter().filter_map(|r| r.ok()).collect();
        let expected_errors: Vec<(u64, i8)> = input
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.err().map(|e| (i as u64, e)))
            .collect();
        prop_assert_eq!(values, expected_values);
        prop_assert_eq!(errors, expected_errors);
    }
}
