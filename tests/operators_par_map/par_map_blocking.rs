use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use futures::stream::FusedStream;
use futures::{Stream, StreamExt, stream};
use proptest::prelude::*;
use sweet_async::operators::ParMapError;
use sweet_async::prelude::*;

use crate::{Gauge, counted_naturals};

/// Some CPU work, so batches take measurable time.
fn checksum(x: u64) -> u64 {
    let mut h = x ^ 0x9E37_79B9_7F4A_7C15;
    for _ in 0..200 {
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    }
    h
}

#[tokio::test]
async fn keeps_input_order() {
    let out: Vec<u64> = stream::iter(0..5000u64)
        .par_map_blocking(4, checksum)
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out, (0..5000).map(checksum).collect::<Vec<_>>());
}

#[tokio::test]
async fn hand_made_input_exact_output() {
    let out: Vec<Result<String, ParMapError>> = stream::iter(["a", "bb", "ccc"])
        .par_map_blocking(2, |s: &str| s.to_uppercase())
        .unwrap()
        .collect()
        .await;
    assert_eq!(
        out,
        [
            Ok(String::from("A")),
            Ok(String::from("BB")),
            Ok(String::from("CCC"))
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_than_n_calls_at_once() {
    let gauge = Gauge::new();
    let g = Arc::clone(&gauge);
    let out: Vec<u64> = stream::iter(0..400u64)
        .par_map_blocking(3, move |x| {
            let _guard = g.enter();
            std::thread::sleep(Duration::from_micros(200));
            checksum(x)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out.len(), 400);
    assert!(gauge.max() <= 3, "max at once {}", gauge.max());
    assert_eq!(gauge.started(), 400);
}

/// The bound test: with `n` threads, batches of at most `b` and an output buffer of `c`
/// items, an endless producer is never pulled more than emitted + n * b + c.
#[tokio::test]
async fn endless_producer_pulls_at_most_emitted_plus_batches_plus_buffer() {
    endless_producer_bound().await;
}

/// The bound test with the batches as tasks on a multi-thread runtime's workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_workers_an_endless_producer_is_bounded_too() {
    endless_producer_bound().await;
}

async fn endless_producer_bound() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let mut s = counted_naturals(Arc::clone(&pulled))
        .par_map_blocking(2, checksum)
        .unwrap()
        .max_batch(4)
        .unwrap()
        .output_buffer(6)
        .unwrap();
    assert_eq!(
        (s.concurrency(), s.max_batch_size(), s.output_buffer_size()),
        (2, 4, 6)
    );
    for emitted in 1..=500usize {
        assert_eq!(
            s.next().await.unwrap().unwrap(),
            checksum(emitted as u64 - 1)
        );
        if emitted % 100 == 0 {
            // A busy consumer: give the threads every chance to overfill.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let now = pulled.load(SeqCst);
        assert!(now <= emitted + 2 * 4 + 6, "pulled {now} after {emitted}");
    }
}

/// A panic on every 50th item, from 7 on: the error items stand in place of those items.
async fn panics_in_place(blocking_pool: bool) {
    let s = stream::iter(0..300u64)
        .par_map_blocking(3, |x| {
            if x % 50 == 7 {
                panic!("bad input {x}");
            }
            x
        })
        .unwrap();
    let s = if blocking_pool {
        s.on_blocking_pool().unwrap()
    } else {
        s
    };
    let out: Vec<Result<u64, ParMapError>> = s.collect().await;
    assert_eq!(out.len(), 300);
    for (i, r) in out.into_iter().enumerate() {
        let i = i as u64;
        if i % 50 == 7 {
            assert_eq!(
                r,
                Err(ParMapError::Panicked {
                    index: i,
                    message: format!("bad input {i}")
                })
            );
        } else {
            assert_eq!(r, Ok(i));
        }
    }
}

/// Current-thread runtime: the batches fall back to the blocking pool.
#[tokio::test]
async fn a_panic_is_an_error_item_in_place_and_the_stream_goes_on() {
    panics_in_place(false).await;
}

/// Multi-thread runtime: the batches run as tasks on the workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_workers_a_panic_is_an_error_item_in_place() {
    panics_in_place(false).await;
}

/// Multi-thread runtime, blocking pool chosen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_blocking_pool_a_panic_is_an_error_item_in_place() {
    panics_in_place(true).await;
}

/// With the blocking pool chosen, the output is the same as on the workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blocking_pool_keeps_input_order() {
    let out: Vec<u64> = stream::iter(0..2000u64)
        .par_map_blocking(4, checksum)
        .unwrap()
        .on_blocking_pool()
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out, (0..2000).map(checksum).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_upstream_panic_ends_the_stream_after_the_items_pulled() {
    let upstream = stream::iter(0..10u64).map(|x| {
        if x == 4 {
            panic!("source broke");
        }
        x
    });
    let out: Vec<Result<u64, ParMapError>> =
        upstream.par_map_blocking(2, |x| x).unwrap().collect().await;
    assert_eq!(
        out,
        [
            Ok(0),
            Ok(1),
            Ok(2),
            Ok(3),
            Err(ParMapError::UpstreamPanicked {
                message: String::from("source broke")
            })
        ]
    );
}

/// Dropping the stream aborts every batch that has not started; a batch already running
/// on a thread finishes the call it is in (a thread cannot be interrupted) and skips the
/// rest of its batch, so each thread makes at most one more call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_stops_the_batches() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let mut s = stream::iter(0..100_000u64)
        .par_map_blocking(2, move |x| {
            c.fetch_add(1, SeqCst);
            // About 30 us a call: the batches grow to a dozen items or so.
            std::thread::sleep(Duration::from_micros(30));
            x
        })
        .unwrap();
    for i in 0..200 {
        assert_eq!(s.next().await, Some(Ok(i)));
    }
    drop(s);
    let at_drop = calls.load(SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let later = calls.load(SeqCst);
    assert!(
        later <= at_drop + 2,
        "{at_drop} calls at drop, {later} later"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(calls.load(SeqCst), later, "nothing new starts");
}

#[tokio::test]
async fn is_fused() {
    let mut s = stream::iter(0..3u64).par_map_blocking(2, |x| x).unwrap();
    assert!(!s.is_terminated());
    for i in 0..3 {
        assert_eq!(s.next().await, Some(Ok(i)));
    }
    assert_eq!(s.next().await, None);
    assert!(s.is_terminated());
    assert_eq!(s.next().await, None);
}

#[tokio::test]
async fn size_hint_counts_everything_still_to_come() {
    let mut s = stream::iter(0..100u64)
        .par_map_blocking(2, checksum)
        .unwrap();
    assert_eq!(s.size_hint(), (100, Some(100)));
    s.next().await;
    let (lo, hi) = s.size_hint();
    assert!(lo <= 99 && hi.is_none_or(|h| h >= 99), "{lo} {hi:?}");
    let rest: Vec<_> = s.by_ref().collect().await;
    assert_eq!(rest.len(), 99);
    assert_eq!(s.size_hint(), (0, Some(0)));
}

#[test]
fn invalid_settings_are_config_errors() {
    assert_eq!(
        stream::iter(0..1u64).par_map_blocking(0, |x| x).err(),
        Some(ConfigError::Zero {
            setting: "par_map_blocking concurrency"
        })
    );
    let s = stream::iter(0..1u64).par_map_blocking(1, |x| x).unwrap();
    assert_eq!(
        s.max_batch(0).err(),
        Some(ConfigError::Zero {
            setting: "max batch"
        })
    );
    let s = stream::iter(0..1u64).par_map_blocking(1, |x| x).unwrap();
    assert_eq!(
        s.output_buffer(0.items()).err(),
        Some(ConfigError::Zero {
            setting: "output buffer"
        })
    );
}

#[tokio::test]
async fn settings_cannot_change_once_polled() {
    let mut s = stream::iter(0..3u64).par_map_blocking(1, |x| x).unwrap();
    assert_eq!(s.next().await, Some(Ok(0)));
    assert!(matches!(
        s.max_batch(8),
        Err(ConfigError::Invalid {
            setting: "max batch",
            ..
        })
    ));
    let mut s = stream::iter(0..3u64).par_map_blocking(1, |x| x).unwrap();
    assert_eq!(s.next().await, Some(Ok(0)));
    assert!(matches!(
        s.on_blocking_pool(),
        Err(ConfigError::Invalid {
            setting: "blocking pool",
            ..
        })
    ));
}

#[test]
fn outside_a_runtime_the_first_item_is_an_error() {
    let s = stream::iter(0..3u64).par_map_blocking(2, |x| x).unwrap();
    let out: Vec<_> = futures::executor::block_on(s.collect());
    assert_eq!(out, [Err(ParMapError::NoRuntime)]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// `par_map_blocking` equals the sequential map, every item once as a value or an
    /// error, whatever the threads, batch size and buffer.
    #[test]
    fn equals_the_sequential_map(
        input in proptest::collection::vec(any::<u32>(), 0..300),
        panics in proptest::collection::vec(proptest::bool::weighted(0.05), 300),
        n in 1usize..5,
        batch in 1usize..20,
        buffer in 1usize..30,
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let p = Arc::new(panics.clone());
        let items: Vec<(usize, u32)> = input.iter().copied().enumerate().collect();
        let out: Vec<Result<u64, ParMapError>> = rt.block_on(async move {
            stream::iter(items)
                .par_map_blocking(n, move |(i, x)| {
                    if p[i] {
                        panic!("item {i}");
                    }
                    checksum(u64::from(x))
                })
                .unwrap()
                .max_batch(batch)
                .unwrap()
                .output_buffer(buffer)
                .unwrap()
                .collect()
                .await
        });
        let expected: Vec<Result<u64, ParMapError>> = input
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                if panics[i] {
                    Err(ParMapError::Panicked { index: i as u64, message: format!("item {i}") })
                } else {
                    Ok(checksum(u64::from(x)))
                }
            })
            .collect();
        prop_assert_eq!(out, expected);
    }
}
