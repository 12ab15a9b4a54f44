//! `sort_chunks`: exact outputs, stability, panics, fusing, the bound, and a model.

use std::sync::atomic::Ordering as AtomicOrdering;

use futures::Stream;
use futures::stream::FusedStream;
use futures::{StreamExt, stream};
use proptest::prelude::*;
use sweet_async::error::ConfigError;
use sweet_async::operators::DataflowExt;
use sweet_async::prelude::CountExt;

use crate::{assert_balanced, counted, oks, run};

#[test]
fn sorts_each_chunk_and_never_emits_an_empty_one() {
    let out = oks(run(stream::iter([5, 3, 9, 1, 2])
        .sort_chunks(2.rows(), i32::cmp)
        .unwrap()));
    assert_eq!(out, [vec![3, 5], vec![1, 9], vec![2]]);
    let out = oks(run(stream::iter([4, 3]).sort_chunks(2, i32::cmp).unwrap()));
    assert_eq!(out, [vec![3, 4]]);
    let out = oks(run(stream::iter(Vec::<i32>::new())
        .sort_chunks(2, i32::cmp)
        .unwrap()));
    assert!(out.is_empty());
}

#[test]
fn the_sort_is_stable() {
    let input = [(1, 'a'), (0, 'b'), (1, 'c'), (0, 'd')];
    let out = oks(run(stream::iter(input)
        .sort_chunks(4, |a: &(i32, char), b: &(i32, char)| a.0.cmp(&b.0))
        .unwrap()));
    assert_eq!(out, [vec![(0, 'b'), (0, 'd'), (1, 'a'), (1, 'c')]]);
}

#[test]
fn zero_size_is_a_config_error() {
    let err = stream::iter([1])
        .sort_chunks(0.rows(), i32::cmp)
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::Zero {
            setting: "chunk size"
        }
    );
}

#[test]
fn a_panicking_comparator_hands_the_chunk_back() {
    let mut s = stream::iter([2, 1, 4, -3, 5])
        .sort_chunks(2, |a: &i32, b: &i32| {
            assert!(*a >= 0 && *b >= 0, "cannot compare negatives");
            a.cmp(b)
        })
        .unwrap();
    let out = futures::executor::block_on((&mut s).collect::<Vec<_>>());
    assert_eq!(out.len(), 2);
    let mut out = out.into_iter();
    assert_eq!(out.next().unwrap().unwrap(), [1, 2]);
    let err = out.next().unwrap().unwrap_err();
    let mut items = err.into_items();
    items.sort_unstable();
    assert_eq!(items, [-3, 4]);
    assert!(s.is_terminated());
    assert_balanced(s.counts());
}

#[tokio::test]
async fn is_fused() {
    let mut s = stream::iter([2, 1, 3]).sort_chunks(2, i32::cmp).unwrap();
    assert_eq!(s.size_hint(), (1, Some(2)));
    assert_eq!(s.next().await.unwrap().unwrap(), [1, 2]);
    assert_eq!(s.next().await.unwrap().unwrap(), [3]);
    assert!(s.next().await.is_none());
    assert!(s.is_terminated());
    assert!(s.next().await.is_none());
}

#[tokio::test]
async fn endless_producer_never_exceeds_the_bound() {
    let (src, pulled) = counted((0_u64..).rev_bits());
    let mut s = src.sort_chunks(50, u64::cmp).unwrap();
    let mut out = 0;
    for _ in 0..1_000 {
        out += s.next().await.unwrap().unwrap().len() as u64;
        assert!(pulled.load(AtomicOrdering::Relaxed) - out <= 50);
    }
    assert_eq!(s.counts().peak_buffered, 50);
    assert_balanced(s.counts());
}

trait RevBits: Iterator<Item = u64> + Sized {
    fn rev_bits(self) -> std::iter::Map<Self, fn(u64) -> u64> {
        self.map(u64::reverse_bits)
    }
}
impl<I: Iterator<Item = u64>> RevBits for I {}

proptest! {
    #[test]
    fn matches_chunk_then_stable_sort(
        input in prop::collection::vec((0_u8..5, any::<u8>()), 0..60),
        n in 1_usize..10,
    ) {
        let by_key = |a: &(u8, u8), b: &(u8, u8)| a.0.cmp(&b.0);
        let out = oks(run(stream::iter(input.clone()).sort_chunks(n, by_key).unwrap()));
        let want: Vec<Vec<(u8, u8)>> = input
            .chunks(n)
            .map(|c| {
                let mut c = c.to_vec();
                c.sort_by(by_key);
                c
            })
            .collect();
        prop_assert_eq!(out, want);
    }
}
