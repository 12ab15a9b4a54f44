//! `chunked_weighted(max, weigh)`: chunks within a total weight; heavy items alone.

use std::sync::atomic::Ordering;
use std::task::Poll;

use futures::{StreamExt, stream};
use proptest::prelude::*;
use sweet_async::prelude::*;

use crate::{Counted, Producer, assert_bounded, assert_fused, poll_once};

async fn weighted(weights: Vec<usize>, max: usize) -> Vec<Vec<usize>> {
    stream::iter(weights)
        .chunked_weighted(max, |w| *w)
        .unwrap()
        .collect()
        .await
}

/// Reference model: greedy packing in order; a chunk closes when it reaches `max` or the
/// next item does not fit.
fn model(weights: &[usize], max: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut total = 0usize;
    for &w in weights {
        if !cur.is_empty() && total + w > max {
            out.push(std::mem::take(&mut cur));
            total = 0;
        }
        cur.push(w);
        total += w;
        if total >= max {
            out.push(std::mem::take(&mut cur));
            total = 0;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[tokio::test]
async fn packs_in_order_within_the_bound() {
    assert_eq!(
        weighted(vec![2, 3, 1, 4, 2], 5).await,
        vec![vec![2, 3], vec![1, 4], vec![2]]
    );
    assert_eq!(
        weighted(vec![1, 1, 1, 1, 1, 1, 1], 3).await,
        vec![vec![1, 1, 1], vec![1, 1, 1], vec![1]]
    );
    assert!(weighted(vec![], 3).await.is_empty());
}

#[tokio::test]
async fn a_heavy_item_forms_a_chunk_of_one() {
    assert_eq!(
        weighted(vec![1, 9, 2], 5).await,
        vec![vec![1], vec![9], vec![2]]
    );
    assert_eq!(weighted(vec![9], 5).await, vec![vec![9]]);
    assert_eq!(weighted(vec![9, 9], 5).await, vec![vec![9], vec![9]]);
    assert_eq!(weighted(vec![2, 2, 9], 5).await, vec![vec![2, 2], vec![9]]);
}

#[tokio::test]
async fn zero_weight_items_join_the_open_chunk() {
    assert_eq!(
        weighted(vec![0, 2, 0, 3, 0], 5).await,
        vec![vec![0, 2, 0, 3], vec![0]]
    );
    assert_eq!(weighted(vec![0, 0, 0], 1).await, vec![vec![0, 0, 0]]);
}

#[tokio::test]
async fn weighs_bytes_for_4mb_requests() {
    let blobs =
        stream::iter([3usize.mb(), 1usize.mb(), 2usize.mb(), 5usize.mb()].map(|n| vec![0u8; n]));
    let sizes: Vec<Vec<usize>> = blobs
        .chunked_weighted(4usize.mb(), Vec::len)
        .unwrap()
        .map(|c| c.iter().map(|b| b.len() / 1usize.mb()).collect())
        .collect()
        .await;
    assert_eq!(sizes, vec![vec![3, 1], vec![2], vec![5]]);
}

#[test]
fn a_chunk_that_reaches_the_bound_leaves_without_waiting() {
    let (tx, rx) = futures::channel::mpsc::unbounded::<usize>();
    let mut s = rx.chunked_weighted(5, |w| *w).unwrap();
    tx.unbounded_send(2).unwrap();
    assert!(poll_once(&mut s).is_pending());
    assert_eq!((s.buffered_items(), s.buffered_weight()), (1, 2));
    tx.unbounded_send(3).unwrap();
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(vec![2, 3])));
    // An item that does not fit closes the chunk and opens the next one.
    tx.unbounded_send(4).unwrap();
    tx.unbounded_send(4).unwrap();
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(vec![4])));
    assert_eq!((s.buffered_items(), s.buffered_weight()), (1, 4));
    drop(tx);
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(vec![4])));
    assert_eq!(poll_once(&mut s), Poll::Ready(None));
}

#[test]
fn zero_max_is_a_config_error() {
    assert_eq!(
        stream::iter([1usize])
            .chunked_weighted(0, |w| *w)
            .unwrap_err(),
        ConfigError::Zero {
            setting: "chunk weight"
        }
    );
}

#[test]
fn fused_after_the_end() {
    let upstream = Counted::new(stream::iter([3usize, 3, 3]));
    let polled_after_end = upstream.polled_after_end.clone();
    let mut s = upstream.chunked_weighted(5, |w| *w).unwrap();
    let all: Vec<_> = futures::executor::block_on_stream(&mut s).collect();
    assert_eq!(all, vec![vec![3], vec![3], vec![3]]);
    assert_fused(&mut s);
    assert_eq!(polled_after_end.load(Ordering::SeqCst), 0);
}

#[test]
fn holds_at_most_one_chunk_of_weight_from_an_endless_producer() {
    // Weight 1 each: the bound in items is the bound in weight.
    for (max, pending_every) in [(10, 0), (10, 4), (3, 7)] {
        let (producer, pulled) = Producer::new(pending_every);
        let op = producer.chunked_weighted(max, |_| 1).unwrap();
        assert_bounded(op, &pulled, 500, max, |c: &Vec<usize>| c.len());
    }
}

proptest! {
    #[test]
    fn matches_the_greedy_model_and_respects_the_bound(
        weights in proptest::collection::vec(0usize..12, 0..120),
        max in 1usize..10,
    ) {
        let out = futures::executor::block_on(weighted(weights.clone(), max));
        prop_assert_eq!(&out, &model(&weights, max));
        prop_assert_eq!(out.concat(), weights);
        for chunk in &out {
            prop_assert!(!chunk.is_empty());
            let total: usize = chunk.iter().sum();
            prop_assert!(total <= max || chunk.len() == 1, "chunk {:?} over {}", chunk, max);
        }
    }
}
