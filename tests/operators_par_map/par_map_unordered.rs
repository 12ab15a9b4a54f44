use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use futures::stream::FusedStream;
use futures::{Stream, StreamExt, stream};
use proptest::prelude::*;
use sweet_async::operators::ParMapError;
use sweet_async::prelude::*;
use tokio::time::{Instant, sleep};

use crate::{Gauge, counted_naturals, delay_ms};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn yields_in_completion_order() {
    let delays = [50u64, 10, 30, 20, 40];
    let out: Vec<usize> = stream::iter(delays.into_iter().enumerate())
        .par_map_unordered(5, |(i, d)| async move {
            sleep(ms(d)).await;
            i
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out, [1, 3, 2, 4, 0]);
}

#[tokio::test(start_paused = true)]
async fn a_free_slot_takes_the_next_item_at_once() {
    // Concurrency 2: 0 (30 ms) and 1 (10 ms) start at 0; 2 (10 ms) starts when 1 ends at
    // 10 and ends at 20; 3 (40 ms) starts at 20 and ends at 60; 0 ends at 30.
    let start = Instant::now();
    let out: Vec<(usize, Duration)> = stream::iter([30u64, 10, 10, 40].into_iter().enumerate())
        .par_map_unordered(2, move |(i, d)| async move {
            sleep(ms(d)).await;
            (i, start.elapsed())
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out, [(1, ms(10)), (2, ms(20)), (0, ms(30)), (3, ms(60))]);
}

#[tokio::test(start_paused = true)]
async fn never_more_than_n_calls_in_flight() {
    let gauge = Gauge::new();
    let g = Arc::clone(&gauge);
    let mut out: Vec<u64> = stream::iter(0..100u64)
        .par_map_unordered(5, move |x| {
            let guard = g.enter();
            async move {
                sleep(ms(delay_ms(5, x, 30))).await;
                drop(guard);
                x
            }
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    out.sort_unstable();
    assert_eq!(out, (0..100).collect::<Vec<_>>());
    assert_eq!(gauge.max(), 5);
}

#[tokio::test(start_paused = true)]
async fn endless_producer_pulls_at_most_emitted_plus_n_plus_buffer() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let mut s = counted_naturals(Arc::clone(&pulled))
        .par_map_unordered(3, |x| async move {
            sleep(ms(1 + x % 4)).await;
            x
        })
        .unwrap()
        .output_buffer(5)
        .unwrap();
    for emitted in 1..=60usize {
        s.next().await.unwrap().unwrap();
        assert!(pulled.load(SeqCst) <= emitted + 3 + 5);
        sleep(ms(10)).await;
        assert_eq!(pulled.load(SeqCst), emitted + 3 + 5, "full while busy");
    }
}

/// A slow item never holds back the others, and the work goes on while the consumer is
/// busy: with 16 sequential 1 ms waits per item, 4 ms per result and concurrency 8, the
/// run is bound by the consumer.
#[tokio::test(start_paused = true)]
async fn work_progresses_while_the_consumer_is_busy() {
    async fn work(x: u64) -> u64 {
        for _ in 0..16 {
            sleep(ms(1)).await;
        }
        x
    }
    async fn consume(s: impl Stream<Item = u64>) -> Duration {
        let start = Instant::now();
        let mut s = std::pin::pin!(s);
        let mut n = 0;
        while s.next().await.is_some() {
            sleep(ms(4)).await;
            n += 1;
        }
        assert_eq!(n, 32);
        start.elapsed()
    }
    let ours = consume(
        stream::iter(0..32u64)
            .par_map_unordered(8, work)
            .unwrap()
            .map(Result::unwrap),
    )
    .await;
    let theirs = consume(stream::iter(0..32u64).map(work).buffer_unordered(8)).await;
    assert_eq!(ours, ms(16 + 4 * 32));
    assert!(ours < theirs, "{ours:?} vs buffer_unordered {theirs:?}");
}

#[tokio::test(start_paused = true)]
async fn a_panic_is_an_error_item_and_the_stream_goes_on() {
    let out: Vec<Result<u64, ParMapError>> = stream::iter(0..4u64)
        .par_map_unordered(4, |x| async move {
            sleep(ms(10 * (4 - x))).await;
            if x == 1 {
                panic!("no luck");
            }
            x
        })
        .unwrap()
        .collect()
        .await;
    assert_eq!(
        out,
        [
            Ok(3),
            Ok(2),
            Err(ParMapError::Panicked {
                index: 1,
                message: String::from("no luck")
            }),
            Ok(0)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_upstream_panic_comes_after_every_call_pulled_before_it() {
    let upstream = stream::iter(0..5u64).map(|x| {
        if x == 2 {
            panic!("source broke");
        }
        x
    });
    let out: Vec<Result<u64, ParMapError>> = upstream
        .par_map_unordered(4, |x| async move {
            sleep(ms(10)).await;
            x
        })
        .unwrap()
        .collect()
        .await;
    assert_eq!(out.len(), 3);
    assert_eq!(
        out[2],
        Err(ParMapError::UpstreamPanicked {
            message: String::from("source broke")
        })
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_cancels_every_call_in_flight() {
    let gauge = Gauge::new();
    let g = Arc::clone(&gauge);
    let mut s = stream::iter(0..100u64)
        .par_map_unordered(3, move |x| {
            let guard = g.enter();
            async move {
                let _guard = guard;
                sleep(ms(if x == 0 { 1 } else { 3_600_000 })).await;
                x
            }
        })
        .unwrap();
    assert_eq!(s.next().await, Some(Ok(0)));
    assert!(tokio::time::timeout(ms(5), s.next()).await.is_err());
    assert_eq!(gauge.now(), 3);
    drop(s);
    assert_eq!(gauge.now(), 0);
    sleep(ms(100)).await;
    assert_eq!(gauge.started(), 4);
}

#[tokio::test(start_paused = true)]
async fn is_fused() {
    let mut s = stream::iter([1u64])
        .par_map_unordered(2, |x| async move { x })
        .unwrap();
    assert_eq!(s.next().await, Some(Ok(1)));
    assert_eq!(s.next().await, None);
    assert!(s.is_terminated());
    assert_eq!(s.next().await, None);
}

#[tokio::test(start_paused = true)]
async fn size_hint_is_exact_for_an_exact_upstream() {
    let mut s = stream::iter(0..6u64)
        .par_map_unordered(2, |x| async move {
            sleep(ms(1)).await;
            x
        })
        .unwrap();
    assert_eq!(s.size_hint(), (6, Some(6)));
    s.next().await;
    assert_eq!(s.size_hint(), (5, Some(5)));
}

#[test]
fn zero_concurrency_is_a_config_error_and_no_runtime_an_error_item() {
    assert_eq!(
        stream::iter(0..1u64)
            .par_map_unordered(0, |x| async move { x })
            .err(),
        Some(ConfigError::Zero {
            setting: "par_map_unordered concurrency"
        })
    );
    let s = stream::iter(0..1u64)
        .par_map_unordered(1, |x| async move { x })
        .unwrap();
    let out: Vec<_> = futures::executor::block_on(s.collect());
    assert_eq!(out, [Err(ParMapError::NoRuntime)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_yields_every_item_once_within_the_bounds() {
    let gauge = Gauge::new();
    let g = Arc::clone(&gauge);
    let pulled = Arc::new(AtomicUsize::new(0));
    let mut s = counted_naturals(Arc::clone(&pulled))
        .take(3000)
        .par_map_unordered(48, move |x| {
            let guard = g.enter();
            async move {
                for _ in 0..x % 7 {
                    tokio::task::yield_now().await;
                }
                drop(guard);
                x
            }
        })
        .unwrap()
        .output_buffer(16)
        .unwrap();
    let mut seen = Vec::new();
    while let Some(x) = s.next().await {
        seen.push(x.unwrap());
        assert!(pulled.load(SeqCst) <= seen.len() + 48 + 16);
    }
    assert!(gauge.max() <= 48);
    seen.sort_unstable();
    assert_eq!(seen, (0..3000).collect::<Vec<_>>());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every input item comes out exactly once (as a value or an error), in completion
    /// order: the completion times of the outputs never go down.
    #[test]
    fn completion_order_and_every_item_once(
        delays in proptest::collection::vec(0u64..30, 0..60),
        panics in proptest::collection::vec(proptest::bool::weighted(0.1), 60),
        n in 1usize..10,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let d = delays.clone();
        let p = panics.clone();
        let out: Vec<Result<(usize, Duration), ParMapError>> = rt.block_on(async move {
            let start = Instant::now();
            stream::iter(0..d.len())
                .par_map_unordered(n, move |i| {
                    let (delay, panic) = (d[i], p[i]);
                    async move {
                        sleep(ms(delay)).await;
                        if panic {
                            panic!("item {i}");
                        }
                        (i, start.elapsed())
                    }
                })
                .unwrap()
                .collect()
                .await
        });
        prop_assert_eq!(out.len(), delays.len());
        let mut seen = BTreeMap::new();
        let mut last = Duration::ZERO;
        for r in &out {
            match r {
                Ok((i, at)) => {
                    prop_assert!(*at >= last, "out of completion order");
                    last = *at;
                    prop_assert!(!panics[*i]);
                    prop_assert!(seen.insert(*i, ()).is_none());
                }
                Err(ParMapError::Panicked { index, message }) => {
                    let i = *index as usize;
                    prop_assert!(panics[i]);
                    prop_assert_eq!(message, &format!("item {i}"));
                    prop_assert!(seen.insert(i, ()).is_none());
                }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
        prop_assert_eq!(seen.len(), delays.len());
    }
}
