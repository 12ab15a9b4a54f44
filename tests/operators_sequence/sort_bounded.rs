//! `sort_bounded`: exact outputs, stability, panics, fusing, the bound, and a model.

use std::cmp::Ordering;
use std::sync::atomic::Ordering as AtomicOrdering;

use futures::Stream;
use futures::stream::FusedStream;
use futures::{StreamExt, stream};
use proptest::prelude::*;
use sweet_async::error::ConfigError;
use sweet_async::operators::DataflowExt;

use crate::{assert_balanced, counted, oks, run};

fn sort(input: &[i32], k: usize) -> Vec<i32> {
    oks(run(stream::iter(input.to_vec())
        .sort_bounded(k, i32::cmp)
        .unwrap()))
}

#[test]
fn sorts_input_displaced_at_most_the_buffer() {
    assert_eq!(sort(&[3, 1, 2, 5, 4, 6], 2), [1, 2, 3, 4, 5, 6]);
    assert_eq!(sort(&[], 2), Vec::<i32>::new());
    assert_eq!(sort(&[1], 1), [1]);
}

#[test]
fn too_much_disorder_is_sorted_as_far_as_the_buffer_allows() {
    // Buffer 2: each new element pushes out the smallest of three.
    assert_eq!(sort(&[5, 4, 3, 2, 1], 2), [3, 2, 1, 4, 5]);
}

#[test]
fn equal_elements_keep_arrival_order() {
    let input = [(2, 'a'), (1, 'b'), (2, 'c'), (1, 'd'), (0, 'e')];
    let out = oks(run(stream::iter(input)
        .sort_bounded(3, |a: &(i32, char), b: &(i32, char)| a.0.cmp(&b.0))
        .unwrap()));
    assert_eq!(out, [(1, 'b'), (0, 'e'), (1, 'd'), (2, 'a'), (2, 'c')]);
    let out = oks(run(stream::iter(input)
        .sort_bounded(10, |a: &(i32, char), b: &(i32, char)| b.0.cmp(&a.0))
        .unwrap()));
    assert_eq!(out, [(2, 'a'), (2, 'c'), (1, 'b'), (1, 'd'), (0, 'e')]);
}

#[test]
fn zero_buffer_is_a_config_error() {
    let err = stream::iter([1]).sort_bounded(0, i32::cmp).unwrap_err();
    assert_eq!(
        err,
        ConfigError::Zero {
            setting: "sort buffer"
        }
    );
}

#[test]
fn a_panicking_comparator_hands_everything_back() {
    let mut s = stream::iter([4, 2, 8, -1, 6])
        .sort_bounded(8, |a: &i32, b: &i32| {
            assert!(*a >= 0 && *b >= 0, "cannot compare negatives");
            a.cmp(b)
        })
        .unwrap();
    let out = futures::executor::block_on((&mut s).collect::<Vec<_>>());
    assert_eq!(out.len(), 1);
    let err = out.into_iter().next().unwrap().unwrap_err();
    assert_eq!(err.operator(), "sort_bounded");
    assert!(
        err.to_string().contains("cannot compare negatives"),
        "{err}"
    );
    let mut items = err.into_items();
    items.sort_unstable();
    assert_eq!(items, [-1, 2, 4, 8]);
    assert!(s.is_terminated());
    assert_balanced(s.counts());
}

#[tokio::test]
async fn is_fused() {
    let mut s = stream::iter([2, 1]).sort_bounded(4, i32::cmp).unwrap();
    assert_eq!(s.size_hint(), (1, Some(2)));
    assert_eq!(s.next().await.unwrap().unwrap(), 1);
    assert_eq!(s.next().await.unwrap().unwrap(), 2);
    assert!(s.next().await.is_none());
    assert!(s.is_terminated());
    assert!(s.next().await.is_none());
}

#[tokio::test]
async fn endless_producer_never_exceeds_the_bound() {
    let (src, pulled) = counted((0_u64..).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    let mut s = src.sort_bounded(100, u64::cmp).unwrap();
    for out in 1..=10_000_u64 {
        s.next().await.unwrap().unwrap();
        assert!(pulled.load(AtomicOrdering::Relaxed) - out <= 100);
    }
    assert_eq!(s.counts().peak_buffered, 100);
    assert_balanced(s.counts());
}

/// Brute-force model: a plain list; when it holds more than `k`, the first minimum goes.
fn model<T: Clone>(input: &[T], k: usize, mut cmp: impl FnMut(&T, &T) -> Ordering) -> Vec<T> {
    let mut buf: Vec<T> = Vec::new();
    let mut out = Vec::new();
    let mut take_min = |buf: &mut Vec<T>| {
        let mut m = 0;
        for i in 1..buf.len() {
            if cmp(&buf[i], &buf[m]) == Ordering::Less {
                m = i;
            }
        }
        buf.remove(m)
    };
    for x in input {
        buf.push(x.clone());
        if buf.len() > k {
            out.push(take_min(&mut buf));
        }
    }
    while !buf.is_empty() {
        out.push(take_min(&mut buf));
    }
    out
}

/// A sorted vector, shuffled within blocks of `k + 1`: no element moves more than `k`.
fn displaced(max_len: usize, k: usize) -> impl Strategy<Value = Vec<(u8, usize)>> {
    prop::collection::vec(0_u8..20, 0..max_len).prop_flat_map(move |mut keys| {
        keys.sort_unstable();
        let tagged: Vec<(u8, usize)> = keys.into_iter().enumerate().map(|(i, k)| (k, i)).collect();
        let n = tagged.len();
        let blocks: Vec<_> = tagged
            .chunks(k + 1)
            .map(|c| Just(c.to_vec()).prop_shuffle())
            .collect();
        blocks.prop_map(move |bs| {
            let v: Vec<(u8, usize)> = bs.into_iter().flatten().collect();
            debug_assert_eq!(v.len(), n);
            v
        })
    })
}

proptest! {
    #[test]
    fn output_is_sorted_when_displacement_is_within_the_buffer(
        (k, input) in (1_usize..8).prop_flat_map(|k| (Just(k), displaced(60, k))),
    ) {
        let out = oks(run(stream::iter(input.clone())
            .sort_bounded(k, |a: &(u8, usize), b: &(u8, usize)| a.0.cmp(&b.0))
            .unwrap()));
        let mut sorted = input.clone();
        sorted.sort_by_key(|e| e.0);
        // Compare keys: ties may legitimately come out in arrival order, which the
        // shuffle changed.
        let keys: Vec<u8> = out.iter().map(|e| e.0).collect();
        let want: Vec<u8> = sorted.iter().map(|e| e.0).collect();
        prop_assert_eq!(keys, want);
        let mut tags: Vec<usize> = out.iter().map(|e| e.1).collect();
        tags.sort_unstable();
        prop_assert_eq!(tags, (0..input.len()).collect::<Vec<_>>());
    }

    #[test]
    fn matches_the_model_on_any_input(
        input in prop::collection::vec((0_u8..10, any::<u8>()), 0..60),
        k in 1_usize..10,
    ) {
        let by_key = |a: &(u8, u8), b: &(u8, u8)| a.0.cmp(&b.0);
        let mut s = stream::iter(input.clone()).sort_bounded(k, by_key).unwrap();
        let out = oks(futures::executor::block_on((&mut s).collect::<Vec<_>>()));
        prop_assert_eq!(&out, &model(&input, k, by_key));
        let c = s.counts();
        prop_assert_eq!((c.items_in, c.emitted), (input.len() as u64, input.len() as u64));
        prop_assert!(c.peak_buffered as usize <= k);
        assert_balanced(c);
    }
}
