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
async fn keeps_input_order_with_random_delays() {
    let out: Vec<u64> = stream::iter(0..200u64)
        .par_map(16, |x| async move {
            sleep(ms(delay_ms(7, x, 50))).await;
            x * 10
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out, (0..200).map(|x| x * 10).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn hand_made_input_exact_output() {
    // Item 0 is the slowest: everything waits for it, then comes out in order.
    let delays = [30u64, 10, 20, 5, 1];
    let start = Instant::now();
    let out: Vec<(usize, u64)> = stream::iter(delays.into_iter().enumerate())
        .par_map(5, move |(i, d)| async move {
            sleep(ms(d)).await;
            (i, d)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out, [(0, 30), (1, 10), (2, 20), (3, 5), (4, 1)]);
    // All five ran at once: the whole stream took as long as the slowest item.
    assert_eq!(start.elapsed(), ms(30));
}

#[tokio::test(start_paused = true)]
async fn never_more_than_n_calls_in_flight_and_n_is_reached() {
    let gauge = Gauge::new();
    let g = Arc::clone(&gauge);
    let out: Vec<u64> = stream::iter(0..100u64)
        .par_map(6, move |x| {
            let guard = g.enter();
            async move {
                sleep(ms(delay_ms(3, x, 20))).await;
                drop(guard);
                x
            }
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out, (0..100).collect::<Vec<_>>());
    assert_eq!(gauge.max(), 6);
    assert_eq!(gauge.started(), 100);
    assert_eq!(gauge.now(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_bound_holds_on_a_multi_thread_runtime() {
    let gauge = Gauge::new();
    let g = Arc::clone(&gauge);
    let sum: u64 = stream::iter(0..2000u64)
        .par_map(8, move |x| {
            let guard = g.enter();
            async move {
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                drop(guard);
                x
            }
        })
        .unwrap()
        .map(Result::unwrap)
        .fold(0, |a, b| async move { a + b })
        .await;
    assert_eq!(sum, (0..2000).sum::<u64>());
    assert!(gauge.max() <= 8, "max in flight {}", gauge.max());
}

/// The bound test: an endless fast producer and a slow consumer. The operator never
/// pulls more than emitted + concurrency + output buffer, and (because the work keeps
/// going while the consumer sleeps) it does fill both.
#[tokio::test(start_paused = true)]
async fn endless_producer_pulls_at_most_emitted_plus_n_plus_buffer() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let mut s = counted_naturals(Arc::clone(&pulled))
        .par_map(4, |x| async move {
            sleep(ms(1)).await;
            x
        })
        .unwrap()
        .output_buffer(3)
        .unwrap();
    assert_eq!(s.concurrency(), 4);
    assert_eq!(s.output_buffer_size(), 3);
    for emitted in 1..=40usize {
        assert_eq!(s.next().await.unwrap().unwrap(), emitted as u64 - 1);
        let now = pulled.load(SeqCst);
        assert!(now <= emitted + 4 + 3, "pulled {now} after {emitted}");
        sleep(ms(10)).await; // a busy consumer
        let now = pulled.load(SeqCst);
        assert_eq!(now, emitted + 4 + 3, "in flight and buffer are full");
    }
}

/// Work of 16 sequential 1 ms waits, a consumer that spends 4 ms on each result,
/// concurrency 8: the driver keeps the work going while the consumer sleeps, so the run
/// is bound by the consumer alone (16 ms for the first result, then 4 ms per result);
/// `buffered` stalls its in-flight work during each 4 ms.
#[tokio::test(start_paused = true)]
async fn work_progresses_while_the_consumer_is_busy() {
    async fn work(x: u64) -> u64 {
        for _ in 0..16 {
            sleep(ms(1)).await;
        }
        x
    }
    async fn consume(s: impl Stream<Item = u64>) -> (Duration, Vec<u64>) {
        let start = Instant::now();
        let mut seen = Vec::new();
        let mut s = std::pin::pin!(s);
        while let Some(x) = s.next().await {
            sleep(ms(4)).await;
            seen.push(x);
        }
        (start.elapsed(), seen)
    }
    const N: u64 = 32;
    let (ours, seen) = consume(
        stream::iter(0..N)
            .par_map(8, work)
            .unwrap()
            .map(Result::unwrap),
    )
    .await;
    assert_eq!(seen, (0..N).collect::<Vec<_>>());
    let (theirs, seen) = consume(stream::iter(0..N).map(work).buffered(8)).await;
    assert_eq!(seen, (0..N).collect::<Vec<_>>());
    assert_eq!(ours, ms(16 + 4 * N), "consumer-bound");
    // `buffered` stalls: 192 ms on this schedule, a third more.
    assert!(ours < theirs, "par_map {ours:?} vs buffered {theirs:?}");
    assert_eq!(theirs, ms(192));
}

/// A consumer that keeps its worker thread busy (computing, not awaiting) with one
/// result: the calls in flight still finish on the other worker. Here the consumer
/// blocks its thread until a later call reports that it ran; `buffered` would never let
/// that call run (the guard timeout then fails the test instead of hanging it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_progresses_while_the_consumer_blocks_its_thread() {
    // The consumer runs as a task on a worker, as a server's code does.
    let consumer = tokio::spawn(async {
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        let s = stream::iter(0..4u64)
            .par_map(2, move |x| {
                let tx = tx.clone();
                async move {
                    if x > 0 {
                        sleep(ms(1)).await; // a timer: it fires only on a worker that parks
                        let _ = tx.send(x);
                    }
                    x
                }
            })
            .unwrap();
        let mut s = std::pin::pin!(s);
        assert_eq!(s.next().await, Some(Ok(0)));
        // Busy with item 0: this worker thread is not given back until item 1 has run.
        let ran = rx.recv_timeout(Duration::from_secs(30));
        assert_eq!(
            ran,
            Ok(1),
            "the call in flight did not run while the consumer was busy"
        );
        s.map(Result::unwrap).collect::<Vec<u64>>().await
    });
    assert_eq!(consumer.await.unwrap(), vec![1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn a_panic_is_an_error_item_in_place_and_the_stream_goes_on() {
    let out: Vec<Result<u64, ParMapError>> = stream::iter(0..6u64)
        .par_map(3, |x| async move {
            sleep(ms(6 - x)).await;
            if x == 2 {
                panic!("bad record {x}");
            }
            x
        })
        .unwrap()
        .collect()
        .await;
    assert_eq!(
        out,
        [
            Ok(0),
            Ok(1),
            Err(ParMapError::Panicked {
                index: 2,
                message: String::from("bad record 2")
            }),
            Ok(3),
            Ok(4),
            Ok(5),
        ]
    );
    let err = out[2].clone().unwrap_err();
    assert!(err.is_panic());
    assert_eq!(
        err.to_string(),
        "parallel map function panicked on item 2: bad record 2"
    );
    let task: TaskError = err.into();
    assert!(matches!(task, TaskError::Panicked { message } if message == "item 2: bad record 2"));
}

#[tokio::test(start_paused = true)]
async fn a_panic_while_calling_f_is_an_error_item_too() {
    let out: Vec<Result<u64, ParMapError>> = stream::iter(0..3u64)
        .par_map(2, |x| {
            if x == 1 {
                panic!("cannot even start");
            }
            async move { x }
        })
        .unwrap()
        .collect()
        .await;
    assert_eq!(out.len(), 3);
    assert_eq!(out[0], Ok(0));
    assert!(
        matches!(&out[1], Err(ParMapError::Panicked { index: 1, message }) if message == "cannot even start")
    );
    assert_eq!(out[2], Ok(2));
}

#[tokio::test(start_paused = true)]
async fn an_upstream_panic_ends_the_stream_after_the_items_pulled() {
    let upstream = stream::iter(0..10u64).map(|x| {
        if x == 3 {
            panic!("source broke");
        }
        x
    });
    let out: Vec<Result<u64, ParMapError>> = upstream
        .par_map(2, |x| async move { x })
        .unwrap()
        .collect()
        .await;
    assert_eq!(
        out,
        [
            Ok(0),
            Ok(1),
            Ok(2),
            Err(ParMapError::UpstreamPanicked {
                message: String::from("source broke")
            })
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_cancels_every_call_in_flight() {
    let gauge = Gauge::new();
    let g = Arc::clone(&gauge);
    let alive = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let mut s = stream::iter(0..100u64)
        .par_map(4, move |x| {
            let guard = g.enter();
            async move {
                let _guard = guard;
                sleep(Duration::from_secs(3600)).await;
                x
            }
        })
        .unwrap();
    assert!(tokio::time::timeout(ms(5), s.next()).await.is_err());
    assert_eq!(gauge.now(), 4);
    assert_eq!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        alive + 1,
        "one driver task"
    );
    drop(s);
    // Dropped at once: the driver was not running at that instant.
    assert_eq!(gauge.now(), 0);
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    sleep(ms(100)).await;
    assert_eq!(gauge.started(), 4, "f is never called again");
    assert_eq!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        alive,
        "the driver is gone"
    );
}

#[tokio::test(start_paused = true)]
async fn the_driver_ends_with_the_stream() {
    let alive = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let s = stream::iter(0..10u64)
        .par_map(3, |x| async move { x })
        .unwrap();
    let out: Vec<_> = s.map(Result::unwrap).collect().await;
    assert_eq!(out, (0..10).collect::<Vec<_>>());
    tokio::task::yield_now().await;
    assert_eq!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        alive
    );
}

#[tokio::test(start_paused = true)]
async fn is_fused() {
    let mut s = stream::iter(0..2u64)
        .par_map(2, |x| async move { x })
        .unwrap();
    assert!(!s.is_terminated());
    assert_eq!(s.next().await, Some(Ok(0)));
    assert_eq!(s.next().await, Some(Ok(1)));
    assert_eq!(s.next().await, None);
    assert!(s.is_terminated());
    assert_eq!(s.next().await, None);
    assert_eq!(s.next().await, None);
}

#[tokio::test(start_paused = true)]
async fn size_hint_counts_buffered_in_flight_and_upstream() {
    let mut s = stream::iter(0..10u64)
        .par_map(3, |x| async move {
            sleep(ms(1)).await;
            x
        })
        .unwrap();
    assert_eq!(s.size_hint(), (10, Some(10)));
    assert_eq!(s.next().await, Some(Ok(0)));
    assert_eq!(s.size_hint(), (9, Some(9)));
    let rest: Vec<_> = s.by_ref().collect().await;
    assert_eq!(rest.len(), 9);
    assert_eq!(s.size_hint(), (0, Some(0)));
}

#[test]
fn zero_concurrency_is_a_config_error() {
    let r = stream::iter(0..3u64).par_map(0, |x| async move { x });
    assert_eq!(
        r.err(),
        Some(ConfigError::Zero {
            setting: "par_map concurrency"
        })
    );
    let r = stream::iter(0..3u64)
        .par_map(2.items(), |x| async move { x })
        .unwrap()
        .output_buffer(0);
    assert_eq!(
        r.err(),
        Some(ConfigError::Zero {
            setting: "output buffer"
        })
    );
}

#[tokio::test]
async fn output_buffer_cannot_change_once_polled() {
    let mut s = stream::iter(0..3u64)
        .par_map(2, |x| async move { x })
        .unwrap();
    assert_eq!(s.next().await, Some(Ok(0)));
    assert!(matches!(
        s.output_buffer(5),
        Err(ConfigError::Invalid {
            setting: "output buffer",
            ..
        })
    ));
}

#[test]
fn outside_a_runtime_the_first_item_is_an_error() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let s = counted_naturals(Arc::clone(&pulled))
        .par_map(2, |x| async move { x })
        .unwrap();
    let out: Vec<_> = futures::executor::block_on(s.collect());
    assert_eq!(out, [Err(ParMapError::NoRuntime)]);
    assert_eq!(pulled.load(SeqCst), 0);
}

#[test]
fn public_types_are_send_and_sync() {
    fn send<T: Send>(_: &T) {}
    fn sync<T: Sync>(_: &T) {}
    let s = stream::iter(0..3u64)
        .par_map(2, |x| async move { x })
        .unwrap();
    send(&s);
    sync(&s);
    let s = stream::iter(0..3u64)
        .par_map_unordered(2, |x| async move { x })
        .unwrap();
    send(&s);
    let s = stream::iter(0..3u64).par_map_blocking(2, |x| x).unwrap();
    send(&s);
    let e = ParMapError::NoRuntime;
    send(&e);
    sync(&e);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `par_map` equals the sequential map whatever the delays and concurrency, and every
    /// input item comes out as exactly one value or error.
    #[test]
    fn equals_the_sequential_map(
        input in proptest::collection::vec(any::<u32>(), 0..80),
        delays in proptest::collection::vec(0u64..20, 80),
        panics in proptest::collection::vec(proptest::bool::weighted(0.1), 80),
        n in 1usize..12,
        buffer in 1usize..12,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let items: Vec<(usize, u32)> = input.iter().copied().enumerate().collect();
        let d = delays.clone();
        let p = panics.clone();
        let out: Vec<Result<u64, ParMapError>> = rt.block_on(async move {
            stream::iter(items)
                .par_map(n, move |(i, x)| {
                    let (delay, panic) = (d[i], p[i]);
                    async move {
                        sleep(ms(delay)).await;
                        if panic {
                            panic!("item {i}");
                        }
                        u64::from(x) * 3
                    }
                })
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
                    Ok(u64::from(x) * 3)
                }
            })
            .collect();
        let errors = out.iter().filter(|r| r.is_err()).count();
        let values = out.len() - errors;
        prop_assert_eq!(values + errors, input.len());
        prop_assert_eq!(out, expected);
    }
}

/// A call's slot is reused by later calls: a waker the finished call left behind (here in
/// a list woken at the end) only causes a harmless extra poll of whatever call holds the
/// slot now, and every output stays in place.
#[tokio::test]
async fn late_wakeups_of_finished_calls_are_harmless() {
    let left_behind = Arc::new(std::sync::Mutex::new(Vec::<std::task::Waker>::new()));
    let wakers = Arc::clone(&left_behind);
    let mut s = stream::iter(0..200u64)
        .par_map(3, move |x| {
            let wakers = Arc::clone(&wakers);
            let mut polled = false;
            futures::future::poll_fn(move |cx| {
                wakers.lock().unwrap().push(cx.waker().clone());
                if polled || x % 3 == 0 {
                    std::task::Poll::Ready(x * 2)
                } else {
                    polled = true;
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                }
            })
        })
        .unwrap();
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        out.push(item.unwrap());
        for waker in left_behind.lock().unwrap().drain(..) {
            waker.wake();
        }
    }
    assert_eq!(out, (0..200).map(|x| x * 2).collect::<Vec<_>>());
}

/// Calls that wake themselves at once never finish on their own: they wait for another
/// task. A run polls a bounded number of times, then yields, so that task gets to run
/// even on a current-thread runtime.
#[tokio::test]
async fn self_waking_calls_do_not_monopolise_the_thread() {
    let go = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let setter = Arc::clone(&go);
    tokio::spawn(async move { setter.store(true, SeqCst) });
    let out: Vec<u64> = stream::iter(0..8u64)
        .par_map(4, move |x| {
            let go = Arc::clone(&go);
            futures::future::poll_fn(move |cx| {
                if go.load(SeqCst) {
                    std::task::Poll::Ready(x)
                } else {
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                }
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out, (0..8).collect::<Vec<_>>());
}

// The same guarantees on a multi-thread runtime, where the driver and the consumer run on
// different threads. These run on real time but assert nothing about it.

async fn yields(n: u64) {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_keeps_input_order_and_the_in_flight_bound() {
    let gauge = Gauge::new();
    let g = Arc::clone(&gauge);
    let out: Vec<u64> = stream::iter(0..5000u64)
        .par_map(40, move |x| {
            let guard = g.enter();
            async move {
                yields(delay_ms(11, x, 6) - 1).await;
                drop(guard);
                x * 7
            }
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out, (0..5000).map(|x| x * 7).collect::<Vec<_>>());
    assert!(gauge.max() <= 40, "max in flight {}", gauge.max());
    assert_eq!(gauge.started(), 5000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_pulls_at_most_emitted_plus_n_plus_buffer() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let mut s = counted_naturals(Arc::clone(&pulled))
        .par_map(32, |x| async move {
            yields(2).await;
            x
        })
        .unwrap()
        .output_buffer(8)
        .unwrap();
    for emitted in 1..=300usize {
        assert_eq!(s.next().await.unwrap().unwrap(), emitted as u64 - 1);
        if emitted % 50 == 0 {
            // A busy consumer: let the driver fill everything it may.
            sleep(ms(20)).await;
        }
        let now = pulled.load(SeqCst);
        assert!(now <= emitted + 32 + 8, "pulled {now} after {emitted}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_reports_panics_in_place() {
    let out: Vec<Result<u64, ParMapError>> = stream::iter(0..400u64)
        .par_map(32, |x| async move {
            yields(x % 3).await;
            if x % 97 == 5 {
                panic!("bad {x}");
            }
            x
        })
        .unwrap()
        .collect()
        .await;
    assert_eq!(out.len(), 400);
    for (i, r) in out.iter().enumerate() {
        let i = i as u64;
        if i % 97 == 5 {
            assert_eq!(
                r,
                &Err(ParMapError::Panicked {
                    index: i,
                    message: format!("bad {i}")
                })
            );
        } else {
            assert_eq!(r, &Ok(i));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_reports_an_upstream_panic_last() {
    let upstream = stream::iter(0..1000u64).map(|x| {
        if x == 300 {
            panic!("source broke");
        }
        x
    });
    let out: Vec<Result<u64, ParMapError>> = upstream
        .par_map(32, |x| async move {
            yields(x % 4).await;
            x
        })
        .unwrap()
        .collect()
        .await;
    assert_eq!(out.len(), 301);
    assert_eq!(
        out[..300]
            .iter()
            .map(|r| *r.as_ref().unwrap())
            .collect::<Vec<_>>(),
        (0..300).collect::<Vec<_>>()
    );
    assert_eq!(
        out[300],
        Err(ParMapError::UpstreamPanicked {
            message: String::from("source broke")
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_on_a_multi_thread_runtime_cancels_every_call() {
    let gauge = Gauge::new();
    let g = Arc::clone(&gauge);
    let mut s = stream::iter(0..10_000u64)
        .par_map(32, move |x| {
            let guard = g.enter();
            async move {
                let _guard = guard;
                if x >= 10 {
                    sleep(Duration::from_secs(3600)).await;
                }
                x
            }
        })
        .unwrap();
    for i in 0..10 {
        assert_eq!(s.next().await, Some(Ok(i)));
    }
    // Wait (without assuming any speed) until the work has filled the concurrency.
    while gauge.now() < 32 {
        tokio::task::yield_now().await;
    }
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(10);
    while gauge.now() > 0 && Instant::now() < deadline {
        sleep(ms(1)).await;
    }
    assert_eq!(gauge.now(), 0, "every call in flight was dropped");
    let started = gauge.started();
    sleep(ms(20)).await;
    assert_eq!(gauge.started(), started, "f is never called again");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The same model check on a multi-thread runtime.
    #[test]
    fn multi_thread_equals_the_sequential_map(
        input in proptest::collection::vec(any::<u16>(), 0..400),
        panics in proptest::collection::vec(proptest::bool::weighted(0.05), 400),
        n in 32usize..80,
        buffer in 1usize..40,
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let p = panics.clone();
        let items: Vec<(usize, u16)> = input.iter().copied().enumerate().collect();
        let out: Vec<Result<u64, ParMapError>> = rt.block_on(async move {
            stream::iter(items)
                .par_map(n, move |(i, x)| {
                    let panic = p[i];
                    async move {
                        yields(u64::from(x % 5)).await;
                        if panic {
                            panic!("item {i}");
                        }
                        u64::from(x) + 1
                    }
                })
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
                    Ok(u64::from(x) + 1)
                }
            })
            .collect();
        prop_assert_eq!(out, expected);
    }
}
