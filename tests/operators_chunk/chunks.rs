//! `chunks(n)`: exact chunks, the last one partial, never empty.

use std::sync::atomic::Ordering;
use std::task::Poll;

use futures::{Stream, StreamExt, stream};
use proptest::prelude::*;
use sweet_async::prelude::*;

use crate::{Counted, Producer, assert_bounded, assert_fused, poll_once};

async fn chunked(input: Vec<u32>, size: usize) -> Vec<Vec<u32>> {
    DataflowExt::chunked(stream::iter(input), size)
        .unwrap()
        .collect()
        .await
}

#[tokio::test]
async fn exact_chunks_and_a_partial_last_one() {
    assert_eq!(
        chunked((0..7).collect(), 3).await,
        vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]
    );
    assert_eq!(
        chunked((0..6).collect(), 3).await,
        vec![vec![0, 1, 2], vec![3, 4, 5]]
    );
    assert_eq!(chunked((0..3).collect(), 10).await, vec![vec![0, 1, 2]]);
    assert_eq!(chunked(vec![5, 6], 1).await, vec![vec![5], vec![6]]);
}

#[tokio::test]
async fn empty_stream_gives_no_chunk() {
    assert!(chunked(vec![], 4).await.is_empty());
}

#[test]
fn zero_size_is_a_config_error() {
    let err = DataflowExt::chunked(stream::iter([1]), 0).unwrap_err();
    assert_eq!(
        err,
        ConfigError::Zero {
            setting: "chunk size"
        }
    );
    assert!(DataflowExt::chunked(stream::iter([1]), 0.rows()).is_err());
    let ok = DataflowExt::chunked(stream::iter([1]), 1000.rows()).unwrap();
    assert_eq!(ok.size().get(), 1000);
}

#[tokio::test]
async fn chunks_are_preallocated_within_a_bound() {
    let mut s = DataflowExt::chunked(stream::iter(0u64..10), 4).unwrap();
    let first = s.next().await.unwrap();
    assert!(first.capacity() >= 4);
    // A huge size neither aborts nor reserves it: it grows as items come.
    let mut huge = DataflowExt::chunked(stream::iter(0u64..3), usize::MAX).unwrap();
    assert_eq!(huge.next().await, Some(vec![0, 1, 2]));
    assert_eq!(huge.next().await, None);
}

#[test]
fn a_partial_chunk_waits_for_more_items() {
    let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
    let mut s = DataflowExt::chunked(rx, 3).unwrap();
    tx.unbounded_send(1).unwrap();
    tx.unbounded_send(2).unwrap();
    assert!(poll_once(&mut s).is_pending());
    assert_eq!(s.buffered_items(), 2);
    tx.unbounded_send(3).unwrap();
    tx.unbounded_send(4).unwrap();
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(vec![1, 2, 3])));
    assert!(poll_once(&mut s).is_pending());
    drop(tx);
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(vec![4])));
    assert_eq!(poll_once(&mut s), Poll::Ready(None));
}

#[test]
fn size_hint_counts_chunks() {
    let mut s = DataflowExt::chunked(stream::iter(0..7), 3).unwrap();
    assert_eq!(s.size_hint(), (3, Some(3)));
    let _ = poll_once(&mut s);
    assert_eq!(s.size_hint(), (2, Some(2)));
    let _ = poll_once(&mut s);
    let _ = poll_once(&mut s);
    assert_eq!(s.size_hint(), (0, Some(0)));
}

#[test]
fn fused_after_the_end() {
    let upstream = Counted::new(stream::iter(0..5));
    let polled_after_end = upstream.polled_after_end.clone();
    let mut s = DataflowExt::chunked(upstream, 2).unwrap();
    assert!(!futures::stream::FusedStream::is_terminated(&s));
    let all: Vec<_> = futures::executor::block_on_stream(&mut s).collect();
    assert_eq!(all, vec![vec![0, 1], vec![2, 3], vec![4]]);
    assert_fused(&mut s);
    assert_eq!(polled_after_end.load(Ordering::SeqCst), 0);
}

#[test]
fn into_parts_returns_the_partial_chunk() {
    let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
    let mut s = DataflowExt::chunked(rx, 3).unwrap();
    tx.unbounded_send(9).unwrap();
    assert!(poll_once(&mut s).is_pending());
    let (_rx, held) = s.into_parts();
    assert_eq!(held, vec![9]);
}

#[test]
fn holds_fewer_than_size_items_from_an_endless_producer() {
    for (size, pending_every) in [(7, 0), (7, 5), (16, 3), (1, 2)] {
        let (producer, pulled) = Producer::new(pending_every);
        let op = DataflowExt::chunked(producer, size).unwrap();
        assert_bounded(op, &pulled, 500, size - 1, |c: &Vec<usize>| {
            assert_eq!(c.len(), size);
            c.len()
        });
    }
}

proptest! {
    #[test]
    fn concatenation_is_the_input_and_only_the_last_chunk_is_short(
        input in proptest::collection::vec(any::<u32>(), 0..200),
        size in 1usize..20,
    ) {
        let out = futures::executor::block_on(chunked(input.clone(), size));
        // Reference model: slice::chunks.
        let expected: Vec<Vec<u32>> = input.chunks(size).map(<[u32]>::to_vec).collect();
        prop_assert_eq!(&out, &expected);
        prop_assert_eq!(out.concat(), input);
        if let Some((last, full)) = out.split_last() {
            prop_assert!(full.iter().all(|c| c.len() == size));
            prop_assert!(!last.is_empty() && last.len() <= size);
        }
    }
}
