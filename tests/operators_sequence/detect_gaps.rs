//! `detect_gaps`: exact outputs, the threshold boundary, panics, fusing, the bound, and a
//! model.

use std::sync::atomic::Ordering as AtomicOrdering;

use futures::Stream;
use futures::stream::FusedStream;
use futures::{StreamExt, stream};
use proptest::prelude::*;
use sweet_async::error::ConfigError;
use sweet_async::operators::DataflowExt;
use sweet_async::operators::Sequenced::{self, Gap, Item};

use crate::{assert_balanced, counted, oks, run};

fn gaps(input: &[i64], threshold: i64) -> Vec<Sequenced<i64>> {
    oks(run(stream::iter(input.to_vec())
        .detect_gaps(threshold, |ts| *ts)
        .unwrap()))
}

#[test]
fn marks_gaps_longer_than_the_threshold() {
    assert_eq!(
        gaps(&[0, 10, 20, 60, 70, 200], 30),
        [
            Item(0),
            Item(10),
            Item(20),
            Gap { from: 20, to: 60 },
            Item(60),
            Item(70),
            Gap { from: 70, to: 200 },
            Item(200),
        ]
    );
}

#[test]
fn a_step_of_exactly_the_threshold_is_not_a_gap() {
    assert_eq!(
        gaps(&[0, 30, 61], 30),
        [Item(0), Item(30), Gap { from: 30, to: 61 }, Item(61)]
    );
}

#[test]
fn backward_steps_are_not_gaps_and_the_next_step_counts_from_them() {
    assert_eq!(
        gaps(&[100, 0, 50], 30),
        [Item(100), Item(0), Gap { from: 0, to: 50 }, Item(50)]
    );
}

#[test]
fn extreme_timestamps_do_not_overflow() {
    assert_eq!(
        gaps(&[i64::MIN, i64::MAX], 1),
        [
            Item(i64::MIN),
            Gap {
                from: i64::MIN,
                to: i64::MAX
            },
            Item(i64::MAX)
        ]
    );
}

#[test]
fn threshold_must_be_positive() {
    for t in [0, -5] {
        let err = stream::iter([1_i64]).detect_gaps(t, |ts| *ts).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                setting: "gap threshold",
                ..
            }
        ));
    }
}

#[test]
fn a_panicking_key_hands_the_element_back() {
    let mut s = stream::iter([1_i64, 2, -7, 3])
        .detect_gaps(5, |ts| {
            assert!(*ts >= 0, "negative");
            *ts
        })
        .unwrap();
    let out = futures::executor::block_on((&mut s).collect::<Vec<_>>());
    assert_eq!(out.len(), 3);
    let err = out.into_iter().nth(2).unwrap().unwrap_err();
    assert_eq!(err.into_items(), [-7]);
    assert!(s.is_terminated());
    assert_balanced(s.counts());
}

#[tokio::test]
async fn is_fused() {
    let mut s = stream::iter([0_i64, 100])
        .detect_gaps(10, |ts| *ts)
        .unwrap();
    assert_eq!(s.size_hint(), (1, Some(4)));
    assert_eq!(s.next().await.unwrap().unwrap(), Item(0));
    assert_eq!(s.next().await.unwrap().unwrap(), Gap { from: 0, to: 100 });
    assert_eq!(s.size_hint(), (1, Some(2)));
    assert_eq!(s.next().await.unwrap().unwrap(), Item(100));
    assert!(s.next().await.is_none());
    assert!(s.is_terminated());
    assert!(s.next().await.is_none());
}

#[tokio::test]
async fn endless_producer_never_exceeds_the_bound() {
    let (src, pulled) = counted((0_i64..).map(|i| i * i));
    let mut s = src.detect_gaps(100, |ts| *ts).unwrap();
    for _ in 0..10_000 {
        s.next().await.unwrap().unwrap();
        let c = s.counts();
        assert!(pulled.load(AtomicOrdering::Relaxed) - c.emitted <= 1);
    }
    assert_eq!(s.counts().peak_buffered, 1);
}

proptest! {
    #[test]
    fn matches_the_model(
        input in prop::collection::vec(-50_i64..50, 0..60),
        threshold in 1_i64..20,
    ) {
        let mut want = Vec::new();
        for (i, &ts) in input.iter().enumerate() {
            if i > 0 && ts - input[i - 1] > threshold {
                want.push(Gap { from: input[i - 1], to: ts });
            }
            want.push(Item(ts));
        }
        let mut s = stream::iter(input.clone()).detect_gaps(threshold, |ts| *ts).unwrap();
        let out = oks(futures::executor::block_on((&mut s).collect::<Vec<_>>()));
        prop_assert_eq!(out, want);
        let c = s.counts();
        prop_assert_eq!((c.items_in, c.emitted), (input.len() as u64, input.len() as u64));
        assert_balanced(c);
    }
}
