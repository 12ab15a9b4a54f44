//! Arguments that used to panic, hang or wrap: each is now a `ConfigError` before any
//! work starts, or a value the library bounds (saturating deadlines, preallocations
//! capped by what actually arrives).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::StreamExt;
use sweet_async::message::MessageBus;
use sweet_async::operators::sequence::Sequenced;
use sweet_async::operators::window::{Sliding, Tumbling};
use sweet_async::operators::{DataflowExt, ReorderConfig};
use sweet_async::orchestra::{Orchestra, Runtime, RuntimeBuilder};
use sweet_async::prelude::*;
use sweet_async::stream::source::{of, of_file};
use sweet_async::stream::{Sender, SourceError};
use sweet_async::task::RetryStrategy;

/// The data of every event, or the first error's source error as a string.
async fn events<T, S>(stream: S) -> Vec<T>
where
    S: futures::Stream<
            Item = Result<sweet_async::stream::SenderEvent<T>, sweet_async::stream::EventError>,
        >,
{
    stream.map(|e| e.unwrap().into_data()).collect().await
}

#[tokio::test]
async fn emits_buffer_above_the_channel_limit_is_a_config_error() {
    let builder = AsyncTask::emits::<u32>().buffer(usize::MAX);
    assert!(matches!(
        builder.validate(),
        Err(ConfigError::OutOfRange {
            setting: "emitting task buffer",
            ..
        })
    ));
    // Built anyway: one typed error, no panic in `mpsc::channel`.
    let items: Vec<_> = builder
        .sender(|tx: Sender<u32>| async move {
            let _ = tx.send(1).await;
        })
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    let err = items.into_iter().next().unwrap().unwrap_err();
    assert!(matches!(
        err.source_error(),
        Some(SourceError::Config(ConfigError::OutOfRange { .. }))
    ));
}

#[tokio::test]
async fn message_bus_capacity_above_the_channel_limit_is_a_config_error() {
    assert!(matches!(
        MessageBus::<u32>::new(usize::MAX),
        Err(ConfigError::OutOfRange {
            setting: "mailbox capacity",
            ..
        })
    ));
    let bus = MessageBus::<u32>::new(1 << 20).unwrap();
    assert!(bus.mailbox(TaskId::new()).is_ok());
}

#[tokio::test]
async fn into_chunks_of_usize_max_does_not_preallocate() {
    let chunks = events(AsyncTask::emits::<u32>().sender(of(0..3).into_chunks(usize::MAX))).await;
    assert_eq!(chunks, vec![vec![0, 1, 2]]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("three.txt");
    std::fs::write(&path, "a\nb\nc\n").unwrap();
    let lines =
        events(AsyncTask::emits::<String>().sender(of_file(&path).into_chunks(usize::MAX))).await;
    assert_eq!(
        lines,
        vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]
    );
}

#[tokio::test]
async fn into_chunks_of_a_terabyte_does_not_abort() {
    // Used to reserve `1 << 40` items up front: the allocation failed and aborted.
    let chunks =
        events(AsyncTask::emits::<u64>().sender(of(0..3u64).into_chunks(1usize << 40))).await;
    assert_eq!(chunks, vec![vec![0, 1, 2]]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.csv");
    std::fs::write(&path, "a,b\n1,2\n3,4\n").unwrap();
    let rows = events(AsyncTask::emits::<(u32, u32)>().sender(
        sweet_async::stream::source::csv_file::<(u32, u32)>(&path).into_chunks(1usize << 40),
    ))
    .await;
    assert_eq!(rows, vec![vec![(1, 2), (3, 4)]]);
}

#[tokio::test(start_paused = true)]
async fn gap_timeout_of_duration_max_saturates() {
    let ids = futures::stream::iter([0u64, 2]).chain(futures::stream::pending());
    let config = ReorderConfig::new(8).gap_timeout(Duration::MAX);
    let mut ordered = ids.reorder_by_id(config, |id| *id).unwrap();
    assert!(matches!(ordered.next().await, Some(Ok(Sequenced::Item(0)))));
    // Waiting for id 1 "forever": the deadline saturates instead of overflowing.
    let next = tokio::time::timeout(Duration::from_secs(3600), ordered.next()).await;
    assert!(next.is_err(), "nothing is due within an hour");
}

#[tokio::test(start_paused = true)]
async fn runtime_shutdown_with_duration_max_saturates() {
    let runtime = Runtime::current().unwrap();
    let report = runtime.shutdown(Duration::MAX).await;
    assert!(report.is_clean());
    assert!(!runtime.is_running());
}

#[tokio::test(start_paused = true)]
async fn orchestra_retry_after_duration_max_saturates() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = Arc::clone(&calls);
    let mut o: Orchestra<&str, std::io::Error> = Orchestra::builder().build().unwrap();
    let flaky = AsyncTask::to()
        .retry_strategy(RetryStrategy::Fixed(Duration::MAX))
        .retry(1)
        .run(move || {
            let c = Arc::clone(&c);
            async move {
                if c.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(std::io::Error::other("first"))
                } else {
                    Ok("second")
                }
            }
        });
    o.register_task("flaky", flaky).unwrap();
    o.start_all().unwrap();
    let report = o.join_all().await.unwrap();
    let result = report.get("flaky").unwrap().result().unwrap();
    assert_eq!(result.value(), Some(&"second"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn thread_name_with_a_nul_byte_is_a_config_error() {
    let built = RuntimeBuilder::new()
        .worker_threads(1)
        .thread_name("worker\0x")
        .build();
    assert!(matches!(
        built,
        Err(ConfigError::Invalid {
            setting: "thread name",
            ..
        })
    ));
}

/// A stream that claims far more items than it has.
struct Boastful(u32);

impl futures::Stream for Boastful {
    type Item = u32;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<u32>> {
        let n = self.0;
        self.0 = n.saturating_sub(1);
        std::task::Poll::Ready((n > 0).then_some(n))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (1 << 40, None)
    }
}

#[tokio::test]
async fn collect_vec_does_not_trust_size_hint() {
    // `repeat(x)` claims `usize::MAX` items; `take_until` keeps the claim.
    let stop = futures::future::ready(());
    let (items, _) = futures::stream::repeat(7u8)
        .take_until(stop)
        .collect_vec()
        .await;
    assert!(items.is_empty());
    let (items, summary) = Boastful(3).collect_vec().await;
    assert_eq!(items, [3, 2, 1]);
    assert_eq!(summary.items_out, 3);
}

#[test]
fn count_windows_near_the_integer_limit_fire_or_are_rejected() {
    futures::executor::block_on(async {
        // Sizes whose `fire_at += slide` used to wrap and loop forever.
        let big = usize::MAX / 2 + 1;
        let w: Vec<Vec<i32>> = futures::stream::iter([1, 2, 3])
            .count_window(Tumbling::count(big))
            .unwrap()
            .filter_map(|e| async move { e.into_window().map(|w| w.value) })
            .collect()
            .await;
        assert_eq!(w, vec![vec![1, 2, 3]]);
        let w: Vec<Vec<i32>> = futures::stream::iter([1, 2, 3])
            .count_window(Sliding::count(usize::MAX, big))
            .unwrap()
            .filter_map(|e| async move { e.into_window().map(|w| w.value) })
            .collect()
            .await;
        assert_eq!(w, vec![vec![1, 2, 3]]);
    });
    // 2^63 windows per element: rejected even with no cap on open windows.
    let huge = futures::stream::iter([1])
        .count_window(Sliding::count(1usize << 63, 1).max_open_windows(usize::MAX));
    assert!(matches!(
        huge.map(|_| ()),
        Err(ConfigError::OutOfRange {
            setting: "windows per element",
            ..
        })
    ));
}

#[test]
fn sliding_time_windows_with_too_many_windows_per_element_are_rejected() {
    let spec = Sliding::event_time(i64::MAX, 1).max_open_windows(usize::MAX);
    let built = futures::stream::iter([1i64]).event_time_window(spec, |t| *t);
    assert!(matches!(
        built.map(|_| ()),
        Err(ConfigError::OutOfRange {
            setting: "windows per element",
            ..
        })
    ));
}

#[test]
fn a_fixed_retry_delay_of_zero_is_a_config_error_like_every_other_zero() {
    assert_eq!(
        RetryStrategy::Fixed(Duration::ZERO).validate(),
        Err(ConfigError::ZeroDuration {
            setting: "fixed retry delay"
        })
    );
    assert_eq!(RetryStrategy::Immediate.validate(), Ok(()));
}
