//! `chunked_timeout(n, d)`: size or first-item deadline, on paused tokio time.

use std::sync::atomic::Ordering;
use std::task::Poll;

use futures::{StreamExt, stream};
use proptest::prelude::*;
use sweet_async::prelude::*;
use tokio::sync::mpsc::unbounded_channel;
use tokio::time::{Instant, advance, sleep_until};
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::{Counted, Producer, assert_bounded, assert_fused, ms, poll_once};

/// Items arriving at the given offsets (ms) from `start`.
fn timed(start: Instant, at: &[u64]) -> impl futures::Stream<Item = u64> + use<> {
    stream::iter(at.to_vec()).then(move |t| async move {
        sleep_until(start + ms(t)).await;
        t
    })
}

#[tokio::test(start_paused = true)]
async fn emits_on_size_on_first_item_deadline_and_at_the_end() {
    let start = Instant::now();
    let source = timed(start, &[0, 10, 20, 150, 160, 400, 420, 430, 440]);
    let out: Vec<(u128, Vec<u64>)> = source
        .chunked_timeout(3, ms(100))
        .unwrap()
        .map(|chunk| (start.elapsed().as_millis(), chunk))
        .collect()
        .await;
    assert_eq!(
        out,
        vec![
            (20, vec![0, 10, 20]),      // full
            (250, vec![150, 160]),      // 100 ms after its first item (150)
            (430, vec![400, 420, 430]), // full again: the timer was reset
            (440, vec![440]),           // end of stream flushes at once
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_clock_starts_with_the_first_item_not_at_construction() {
    let (tx, rx) = unbounded_channel::<u32>();
    let mut s = Box::pin(
        UnboundedReceiverStream::new(rx)
            .chunked_timeout(3, ms(100))
            .unwrap(),
    );
    assert!(poll_once(&mut s).is_pending());
    advance(ms(500)).await;
    assert!(poll_once(&mut s).is_pending(), "no empty chunk, ever");
    tx.send(1).unwrap();
    assert!(poll_once(&mut s).is_pending());
    advance(ms(99)).await;
    tx.send(2).unwrap();
    assert!(poll_once(&mut s).is_pending());
    advance(ms(1)).await;
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(vec![1, 2])));
    // The next chunk's clock starts with its own first item.
    advance(ms(1000)).await;
    assert!(poll_once(&mut s).is_pending());
    tx.send(3).unwrap();
    assert!(poll_once(&mut s).is_pending());
    advance(ms(99)).await;
    assert!(poll_once(&mut s).is_pending());
    advance(ms(1)).await;
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(vec![3])));
    drop(tx);
    assert_eq!(poll_once(&mut s), Poll::Ready(None));
}

#[tokio::test(start_paused = true)]
async fn a_full_chunk_resets_the_clock() {
    let (tx, rx) = unbounded_channel::<u32>();
    let mut s = Box::pin(
        UnboundedReceiverStream::new(rx)
            .chunked_timeout(2, ms(100))
            .unwrap(),
    );
    tx.send(1).unwrap();
    assert!(poll_once(&mut s).is_pending());
    advance(ms(60)).await;
    tx.send(2).unwrap();
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(vec![1, 2])));
    advance(ms(30)).await; // t = 90
    tx.send(3).unwrap();
    assert!(poll_once(&mut s).is_pending());
    advance(ms(20)).await; // t = 110: the old deadline (100) must not fire
    assert!(poll_once(&mut s).is_pending());
    advance(ms(80)).await; // t = 190 = 90 + 100
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(vec![3])));
}

#[tokio::test(start_paused = true)]
async fn an_overdue_chunk_leaves_before_more_items_are_pulled() {
    let (tx, rx) = unbounded_channel::<u32>();
    let upstream = Counted::new(UnboundedReceiverStream::new(rx));
    let pulled = upstream.pulled.clone();
    let mut s = Box::pin(upstream.chunked_timeout(3, ms(100)).unwrap());
    tx.send(1).unwrap();
    assert!(poll_once(&mut s).is_pending());
    // The deadline passes while nobody polls; meanwhile more items arrive.
    advance(ms(150)).await;
    tx.send(2).unwrap();
    tx.send(3).unwrap();
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(vec![1])));
    assert_eq!(pulled.load(Ordering::SeqCst), 1);
    // Then the next chunk fills up as usual.
    tx.send(4).unwrap();
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(vec![2, 3, 4])));
}

#[tokio::test(start_paused = true)]
async fn end_of_stream_flushes_before_the_deadline() {
    let start = Instant::now();
    let out: Vec<(u128, Vec<u64>)> = timed(start, &[5, 7])
        .chunked_timeout(10, 60.seconds())
        .unwrap()
        .map(|c| (start.elapsed().as_millis(), c))
        .collect()
        .await;
    assert_eq!(out, vec![(7, vec![5, 7])]);
    let empty: Vec<Vec<u8>> = stream::empty()
        .chunked_timeout(3, ms(10))
        .unwrap()
        .collect()
        .await;
    assert!(empty.is_empty());
}

#[test]
fn zero_size_or_timeout_is_a_config_error() {
    assert_eq!(
        stream::iter([1]).chunked_timeout(0, ms(5)).unwrap_err(),
        ConfigError::Zero {
            setting: "chunk size"
        }
    );
    assert_eq!(
        stream::iter([1])
            .chunked_timeout(3, std::time::Duration::ZERO)
            .unwrap_err(),
        ConfigError::ZeroDuration {
            setting: "chunk timeout"
        }
    );
    let ok = stream::iter([1]).chunked_timeout(3.rows(), ms(5)).unwrap();
    assert_eq!((ok.size().get(), ok.timeout()), (3, ms(5)));
}

#[tokio::test(start_paused = true)]
async fn fused_after_the_end() {
    let upstream = Counted::new(stream::iter(0..3));
    let polled_after_end = upstream.polled_after_end.clone();
    let mut s = Box::pin(upstream.chunked_timeout(2, ms(10)).unwrap());
    assert_eq!(s.next().await, Some(vec![0, 1]));
    assert_eq!(s.next().await, Some(vec![2]));
    assert_eq!(s.next().await, None);
    assert_fused(&mut s);
    assert_eq!(polled_after_end.load(Ordering::SeqCst), 0);
}

#[test]
fn without_a_runtime_it_chunks_by_size_and_never_panics() {
    let out: Vec<Vec<u32>> = futures::executor::block_on(
        stream::iter(0..5)
            .chunked_timeout(2, ms(10))
            .unwrap()
            .collect(),
    );
    assert_eq!(out, vec![vec![0, 1], vec![2, 3], vec![4]]);
    // A runtime without the time driver: tokio would panic making the timer.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let out: Vec<Vec<u32>> = rt.block_on(
        stream::iter(0..3)
            .chunked_timeout(2, ms(10))
            .unwrap()
            .collect(),
    );
    assert_eq!(out, vec![vec![0, 1], vec![2]]);
}

#[tokio::test(start_paused = true)]
async fn holds_fewer_than_size_items_from_an_endless_producer() {
    for (size, pending_every) in [(7, 0), (7, 5), (16, 3)] {
        let (producer, pulled) = Producer::new(pending_every);
        let op = Box::pin(producer.chunked_timeout(size, ms(50)).unwrap());
        assert_bounded(op, &pulled, 500, size - 1, |c: &Vec<usize>| c.len());
    }
}

proptest! {
    #[test]
    fn without_waits_it_equals_chunks(
        input in proptest::collection::vec(any::<u16>(), 0..100),
        size in 1usize..12,
    ) {
        let out: Vec<Vec<u16>> = futures::executor::block_on(
            stream::iter(input.clone()).chunked_timeout(size, ms(1)).unwrap().collect(),
        );
        let expected: Vec<Vec<u16>> = input.chunks(size).map(<[u16]>::to_vec).collect();
        prop_assert_eq!(out, expected);
    }
}

#[tokio::test(start_paused = true)]
async fn the_partial_chunk_of_a_polled_stream_can_be_taken_out() {
    let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
    let mut s = Box::pin(rx.chunked_timeout(10, ms(100)).unwrap());
    tx.unbounded_send(1).unwrap();
    tx.unbounded_send(2).unwrap();
    assert!(futures::poll!(s.next()).is_pending());
    assert_eq!(s.as_mut().take_buffered(), [1, 2]);
    assert_eq!(s.buffered_items(), 0);
    // The stream goes on: the next chunk has its own clock and never repeats 1 and 2.
    tx.unbounded_send(3).unwrap();
    drop(tx);
    assert_eq!(s.next().await, Some(vec![3]));
    assert_eq!(s.next().await, None);
}
