//! Every operator and extension method called with method syntax while the `futures`
//! and `tokio-stream` extension traits are in scope: it compiles only if no name clashes
//! (error E0034) and no inherent method hides a trait method the user meant.

use std::time::Duration;

#[allow(unused_imports)]
use futures::StreamExt;
#[allow(unused_imports)]
use futures::TryStreamExt;
use futures::prelude::*;
use futures::stream;
use sweet_async::operators::window::{Fold, Session, Sliding, Tumbling};
use sweet_async::prelude::*;
use sweet_async::stream::source::of;
use sweet_async::task::RetryPolicy;
// In scope to prove that no method called below clashes with it.
#[allow(unused_imports)]
use tokio_stream::StreamExt as _;

type Error = Box<dyn std::error::Error + Send + Sync>;

// `futures::StreamExt` and `tokio_stream::StreamExt` clash with each other (`collect`,
// `count`, `filter_map`...); these helpers call theirs by path, so that every method
// called below with method syntax is one of this crate's.
async fn count<S: Stream>(s: S) -> usize {
    futures::StreamExt::count(s).await
}

async fn all<S: Stream>(s: S) -> Vec<S::Item> {
    futures::StreamExt::collect(s).await
}

/// The values of the fired windows.
async fn values<S, K, A, T, P>(s: S) -> Vec<A>
where
    S: Stream<Item = sweet_async::operators::window::WindowEvent<K, A, T, P>>,
{
    let events = all(s).await;
    events
        .into_iter()
        .filter_map(|e| e.into_window().map(|w| w.value))
        .collect()
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn stream_operators_with_every_prelude_in_scope() -> Result<(), Error> {
    let n = |k: u64| stream::iter(0..k);

    // Batching.
    let chunks = all(n(5).chunked(2.rows())?).await;
    assert_eq!(chunks, [vec![0, 1], vec![2, 3], vec![4]]);
    // A non-zero count: the same operator with no `Result` to unwrap.
    let one = std::num::NonZeroUsize::MIN;
    assert_eq!(count(n(5).chunked(one)).await, 5);
    assert_eq!(count(n(5).par_map(one, |x| async move { x })).await, 5);
    assert_eq!(count(n(3).chunked_timeout(2, 1.seconds())?).await, 2);
    assert_eq!(count(n(4).chunked_weighted(2, |_| 1)?).await, 2);
    // futures' and tokio-stream's own, by path.
    assert_eq!(count(futures::StreamExt::chunks(n(5), 2)).await, 3);
    let timed = tokio_stream::StreamExt::chunks_timeout(n(5), 2, Duration::from_secs(1));
    assert_eq!(count(timed).await, 3);

    // Per item.
    assert_eq!(count(n(3).timeout_each(1.seconds())?).await, 3);
    let retried = n(3).retry_each(
        RetryPolicy::default(),
        |&x| async move { Ok::<_, String>(x) },
    )?;
    assert_eq!(count(retried).await, 3);
    assert_eq!(count(n(3).rate_limit(10.messages(), 1.seconds())?).await, 3);
    let limiter = sweet_async::operators::RateLimiter::new(10, 1.seconds())?;
    assert_eq!(count(n(3).rate_limit_with(&limiter)).await, 3);

    // Errors.
    let results = || stream::iter([Ok(1), Err("x"), Ok(2)]);
    assert_eq!(count(results().skip_errors()).await, 2);
    assert_eq!(count(results().stop_on_error()).await, 2);
    let mut bad = 0;
    assert_eq!(count(results().partition_errors(|_, _| bad += 1)).await, 2);
    assert_eq!(bad, 1);

    // Progress (the bar needs the `progress` feature).
    #[cfg(feature = "progress")]
    assert_eq!(count(n(3).progress_bar(Some(3))).await, 3);
    assert_eq!(count(n(3).inspect_progress(2, |_| {})?).await, 3);
    assert_eq!(
        count(n(3).inspect_progress_bytes(2, |_| 8, |_| {})?).await,
        3
    );

    // Windows.
    let sums = n(10)
        .event_time_window(Tumbling::event_time(5), |t| *t as i64)?
        .fold_windows(0, |s, t| s + t);
    assert_eq!(values(sums).await, [10, 35]);
    let maxima = n(10)
        .event_time_window(Sliding::event_time(4, 2), |t| *t as i64)?
        .reduce_windows(|a, b| a.max(b));
    assert_eq!(values(maxima).await, [1, 3, 5, 7, 9, 9]);
    let sessions = n(3)
        .event_time_window(Session::event_time(5), |t| *t as i64)?
        .fold_windows_with_merge(0, |s, t| s + t, |a, b| a + b);
    assert_eq!(values(sessions).await, [3]);
    let sizes = n(6)
        .count_window(Tumbling::count(3))?
        .aggregate_windows(Fold::new(0, |s, _| s + 1));
    assert_eq!(values(sizes).await, [3, 3]);
    let keyed = n(6).key_by(|t| t % 2).count_window(Tumbling::count(3))?;
    assert_eq!(count(keyed).await, 2);
    let per_tick = n(3)
        .processing_time_window(Tumbling::processing_time(1.seconds()))?
        .fold_windows(0, |s, _| s + 1);
    assert_eq!(count(per_tick).await, 1);

    // Ordering: closures last.
    assert_eq!(count(n(4).order_by_timestamp(2, |t| *t as i64)?).await, 4);
    assert_eq!(count(n(4).detect_gaps(10, |t| *t as i64)?).await, 4);
    assert_eq!(count(n(4).reorder_by_id(8, |t| *t)?).await, 4);
    assert_eq!(count(n(4).sort_bounded(2, u64::cmp)?).await, 4);
    assert_eq!(count(n(4).sort_chunks(2, u64::cmp)?).await, 2);

    // Parallel.
    assert_eq!(count(n(4).par_map(2, |x| async move { x })?).await, 4);
    assert_eq!(
        count(n(4).par_map_unordered(2, |x| async move { x })?).await,
        4
    );
    assert_eq!(count(n(4).par_map_blocking(2, |x| x)?).await, 4);
    let flat = all(n(4).try_par_map(
        2,
        |x| async move { if x == 2 { Err("two") } else { Ok(x) } },
    )?)
    .await;
    assert_eq!(flat.iter().filter(|r| r.is_ok()).count(), 3);
    assert_eq!(
        flat[2].as_ref().unwrap_err().to_string(),
        "task failed: two"
    );
    let flat = n(4).try_par_map_unordered(2, |x| async move { Ok::<_, String>(x) })?;
    assert_eq!(count(flat).await, 4);
    Ok(())
}

/// With only `futures`' prelude next to this crate's, `fold` on a window stream is
/// `StreamExt::fold` (folding the stream of window events), not a window aggregation.
mod futures_only {
    use futures::prelude::*;
    use futures::stream;
    use sweet_async::operators::window::Tumbling;
    use sweet_async::prelude::*;

    #[tokio::test(flavor = "current_thread")]
    async fn window_streams_do_not_hide_stream_fold() -> Result<(), ConfigError> {
        let events = stream::iter(0..10_i64)
            .event_time_window(Tumbling::event_time(5), |t| *t)?
            .fold(0, |n, _| async move { n + 1 })
            .await;
        assert_eq!(events, 2);
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn terminals_and_sources_with_every_prelude_in_scope() -> Result<(), Error> {
    let (items, summary) = stream::iter(1..=3).collect_vec().await;
    assert_eq!((items.len(), summary.items_in), (3, 3));
    let (map, _) = stream::iter([(1, 'a')]).collect_map(|p| p).await;
    assert_eq!(map.len(), 1);
    let (sum, _) = stream::iter(1..=3).fold_items(0, |a, x| a + x).await;
    assert_eq!(sum, 6);
    let (ok, errors, _) = stream::iter([Ok(1), Err("x")]).collect_partitioned().await;
    assert_eq!((ok.len(), errors.len()), (1, 1));

    let summary = AsyncTask::emits::<u32>()
        .sender(of([1, 2, 3]).into_chunks(2.rows()))
        .receiver(
            ReceiverStrategy::Serial,
            |e, _: Collector<(), ()>| async move { Ok::<_, BoxError>(e.data.len()) },
        )
        .await_final_event(|summary, _| summary)
        .await;
    assert_eq!(summary.items_out, 2);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn future_extensions_with_every_prelude_in_scope() -> Result<(), Error> {
    let ok = || async { Ok::<u32, String>(20) };
    assert_eq!(ok().map_value(|n| n * 2).await, Ok(40));
    assert_eq!(ok().map_error(|e| e.len()).await, Ok(20));
    assert_eq!(ok().then_ok(|n| async move { Ok(n + 1) }).await, Ok(21));
    assert_eq!(ok().then_err(|_| async { Ok::<u32, ()>(0) }).await, Ok(20));
    assert_eq!(ok().recover(|_| 0).await, 20);
    assert_eq!(ok().inspect_result(|_| {}).await, Ok(20));
    assert!(ok().await_result(|r| r.is_ok()).await);
    assert_eq!(Some(3).into_async_result().await, Ok(3));
    // futures' own, by their names.
    assert_eq!(ok().map_ok(|n| n + 1).await, Ok(21));
    assert!(ok().map(|r| r.is_ok()).await);

    // Messages between tasks.
    let bus = MessageBus::<String>::new(4)?;
    let sender = bus.mailbox(TaskId::new())?;
    let monitor = bus.mailbox(TaskId::new())?;
    monitor.subscribe_to(sender.id());
    let report = sender
        .message()
        .status(TaskStatus::Running)
        .broadcast()
        .await?;
    assert_eq!(report.delivered, 1);

    // The catalogue's chain on a task.
    let n = AsyncTask::to::<u32>()
        .run(|| async { Ok::<_, BoxError>(20) })
        .map(|n| n + 1)
        .and_then(|n| async move { Ok(n * 2) })
        .or_else(|_| async { Ok::<_, TaskError>(0) })
        .inspect(|r| assert!(r.is_ok()))
        .map_err(|e| e.to_string())
        .await?;
    assert_eq!(n, 42);
    let v = AsyncTask::to::<u32>()
        .run(|| async { Ok::<_, BoxError>(7) })
        .into_result()
        .await?;
    assert_eq!(v, 7);
    let r = AsyncTask::to::<u32>()
        .run(|| async { Err::<u32, _>(BoxError::from("down")) })
        .recover(|_| 1)
        .await;
    assert_eq!(r, 1);
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_pipeline_of_operators_needs_one_question_mark() -> Result<(), Error> {
    let n = |k: u64| stream::iter(0..k);
    let ordered = n(20)
        .rate_limit(10.messages(), 1.seconds())
        .par_map(4, |x| async move { x * 2 })
        .timeout_each(5.seconds())
        .chunked(5.rows())
        .inspect_progress(2, |_| {})?;
    assert_eq!(count(ordered).await, 4);
    // The first invalid setting wins and nothing is built.
    let err = n(3).chunked(0).par_map(0, |x| async move { x }).err();
    assert_eq!(
        err,
        Some(ConfigError::Zero {
            setting: "chunk size"
        })
    );
    Ok(())
}
