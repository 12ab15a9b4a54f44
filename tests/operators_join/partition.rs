//! Keyed partitions: the same event-time results with 1 and N partitions, watermarks that
//! reach partitions without elements, typed errors, no task outliving the stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::ready;
use futures::{Stream, StreamExt, TryStreamExt, stream};
use proptest::prelude::*;
use sweet_async::error::ConfigError;
use sweet_async::operators::DataflowExt;
use sweet_async::operators::partition::{PartitionError, partition_of};
use sweet_async::operators::timed::Timed;
use sweet_async::operators::window::{Tumbling, WindowEvent};

type Row = (u8, i64);

/// Fired windows `(key, start, count)` and late elements of a keyed tumbling count over
/// `n` partitions, sorted.
async fn keyed_counts(rows: Vec<Row>, n: usize, ooo: i64) -> (Vec<(u8, i64, u64)>, Vec<Row>) {
    let out: Vec<Timed<WindowEvent<u8, u64, Row>>> = stream::iter(rows)
        .with_watermarks(ooo, |r| r.1)
        .unwrap()
        .partition(
            n,
            |r| r.0,
            |input| {
                Ok(input
                    .timed_window_by(Tumbling::event_time(5), |r: &Row| r.0)?
                    .fold(0u64, |c, _| c + 1))
            },
        )
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let (mut fired, mut late) = (Vec::new(), Vec::new());
    for t in out {
        match t.into_value() {
            Some(WindowEvent::Fired(w)) => fired.push((w.key, w.start, w.value)),
            Some(WindowEvent::Late(r)) => late.push(r),
            Some(WindowEvent::Error(e)) => panic!("{e}"),
            Some(other) => panic!("unexpected {other:?}"),
            None => {}
        }
    }
    fired.sort();
    late.sort();
    (fired, late)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn n_partitions_give_the_results_of_one(
        rows in prop::collection::vec((0u8..6, 0i64..80), 0..120),
        n in 2usize..5,
        ooo in 0i64..6,
    ) {
        let rt = runtime();
        let one = rt.block_on(keyed_counts(rows.clone(), 1, ooo));
        let many = rt.block_on(keyed_counts(rows.clone(), n, ooo));
        prop_assert_eq!(&one, &many);
        // And the same as the window over the whole, unsplit stream.
        let whole: Vec<_> = rt.block_on(
            stream::iter(rows)
                .key_by(|r: &Row| r.0)
                .event_time_window(Tumbling::event_time(5).out_of_orderness(ooo), |r| r.1)
                .unwrap()
                .fold_windows(0u64, |c, _| c + 1)
                .collect::<Vec<_>>(),
        );
        let mut fired: Vec<_> = whole.iter().filter_map(|e| e.window()).map(|w| (w.key, w.start, w.value)).collect();
        fired.sort();
        let mut late: Vec<Row> = whole.into_iter().filter_map(|e| e.into_late()).collect();
        late.sort();
        prop_assert_eq!(one, (fired, late));
    }
}

#[test]
fn a_partition_without_elements_still_closes_its_windows() {
    let rt = runtime();
    rt.block_on(async {
        let a = 0u8;
        let b = (1u8..)
            .find(|b| partition_of(b, 2) != partition_of(&a, 2))
            .unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel::<Row>(8);
        let source = tokio_stream::wrappers::ReceiverStream::new(rx);
        let mut windows = source
            .with_watermarks(0, |r| r.1)
            .unwrap()
            .partition(
                2,
                |r| r.0,
                |input| {
                    Ok(input
                        .timed_window_by(Tumbling::event_time(10), |r: &Row| r.0)?
                        .fold(0u64, |c, _| c + 1))
                },
            )
            .unwrap()
            .try_filter_map(|t| ready(Ok(t.into_value().and_then(|e| e.into_window()))));
        tx.send((a, 1)).await.unwrap();
        tx.send((b, 100)).await.unwrap(); // only b's partition gets an element after a's
        let first = tokio::time::timeout(Duration::from_secs(10), windows.next())
            .await
            .expect("a's window fires while the source is still open")
            .unwrap()
            .unwrap();
        assert_eq!((first.key, first.start, first.value), (a, 0, 1));
        drop(tx);
        let rest: Vec<_> = windows.try_collect().await.unwrap();
        assert_eq!(rest.len(), 1);
    });
}

#[test]
fn a_panicking_partition_is_a_typed_error_not_a_hang() {
    let rt = runtime();
    rt.block_on(async {
        let out: Vec<Result<Timed<i64>, PartitionError>> = stream::iter(0..10_000i64)
            .with_watermarks(0, |x| *x)
            .unwrap()
            .partition(
                3,
                |x| *x,
                |input| {
                    Ok(input.map(|t| {
                        t.map(|x| {
                            if x == 5_000 {
                                panic!("bad element {x}");
                            }
                            x
                        })
                    }))
                },
            )
            .unwrap()
            .collect()
            .await;
        let err = out.last().unwrap().as_ref().unwrap_err();
        assert!(matches!(
            err,
            PartitionError::Panicked { partition, message }
                if *partition == partition_of(&5_000i64, 3) && message == "bad element 5000"
        ));
        assert_eq!(out.iter().filter(|r| r.is_err()).count(), 1);
    });
}

#[test]
fn config_and_runtime_errors() {
    let zero = stream::iter(0..3i64)
        .with_watermarks(0, |x| *x)
        .unwrap()
        .partition(0, |x| *x, Ok);
    assert_eq!(
        zero.err(),
        Some(ConfigError::Zero {
            setting: "partitions"
        })
    );
    let chain_err = stream::iter(0..3i64)
        .with_watermarks(0, |x| *x)
        .unwrap()
        .partition(
            2,
            |x| *x,
            |input| input.timed_window(Tumbling::event_time(0)),
        );
    assert!(chain_err.is_err());
    let outside: Vec<_> = futures::executor::block_on(
        stream::iter(0..3i64)
            .with_watermarks(0, |x| *x)
            .unwrap()
            .partition(2, |x| *x, Ok)
            .unwrap()
            .collect(),
    );
    assert_eq!(outside, vec![Err(PartitionError::NoRuntime)]);
}

/// A stream that records when it is dropped.
struct Guarded<S> {
    inner: S,
    dropped: Arc<AtomicBool>,
}

impl<S> Drop for Guarded<S> {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

impl<S: Stream + Unpin> Stream for Guarded<S> {
    type Item = S::Item;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<S::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

#[test]
fn dropping_the_stream_stops_every_task() {
    let rt = runtime();
    rt.block_on(async {
        let dropped = Arc::new(AtomicBool::new(false));
        let source = Guarded {
            inner: stream::iter(0..100i64).chain(stream::pending()),
            dropped: Arc::clone(&dropped),
        };
        let mut out = source
            .with_watermarks(0, |x| *x)
            .unwrap()
            .partition(2, |x| *x, Ok)
            .unwrap();
        let first = out.next().await;
        assert!(matches!(first, Some(Ok(_))));
        drop(out);
        tokio::time::timeout(Duration::from_secs(10), async {
            while !dropped.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("the router task was aborted and dropped upstream");
    });
}
