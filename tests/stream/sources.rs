//! Iterator, stream, fallible stream and producer sources: exact outputs.

use futures::StreamExt;
use sweet_async::prelude::*;
use sweet_async::stream::source::of;
use sweet_async::stream::{EventErrorKind, Located, SourceError};

fn data_of<T>(items: Vec<Result<SenderEvent<T>, EventError>>) -> Vec<Result<T, String>> {
    items
        .into_iter()
        .map(|r| r.map(SenderEvent::into_data).map_err(|e| e.to_string()))
        .collect()
}

#[tokio::test]
async fn of_iter_yields_every_item_with_sequence_numbers() {
    let stream = AsyncTask::emits::<char>().sender(of(['a', 'b', 'c']));
    let task = stream.task_id();
    let events: Vec<_> = stream.map(Result::unwrap).collect().await;
    let seqs: Vec<u64> = events.iter().map(SenderEvent::sequence_number).collect();
    assert_eq!(seqs, [0, 1, 2]);
    assert!(events.iter().all(|e| e.task_id() == task));
    assert_eq!(events.iter().map(|e| *e.data()).collect::<String>(), "abc");
    // Iterator sources know their last item.
    assert_eq!(
        events.iter().map(SenderEvent::is_final).collect::<Vec<_>>(),
        [false, false, true]
    );
    assert!(
        events
            .iter()
            .all(|e| e.position().is_none() && e.timestamp().is_none())
    );
}

#[tokio::test]
async fn of_iter_into_chunks_emits_batches_with_batch_ids() {
    let events: Vec<_> = AsyncTask::emits::<u32>()
        .sender(of(0..7).into_chunks(3.rows()))
        .map(Result::unwrap)
        .collect()
        .await;
    let chunks: Vec<Vec<u32>> = events.iter().map(|e| e.data().to_vec()).collect();
    assert_eq!(chunks, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
    let batches: Vec<Option<u64>> = events.iter().map(SenderEvent::batch_id).collect();
    assert_eq!(batches, [Some(0), Some(1), Some(2)]);
    assert!(events[2].is_final());
}

#[tokio::test]
async fn zero_chunk_or_buffer_is_a_config_error_before_any_work() {
    let items: Vec<_> = AsyncTask::emits::<u32>()
        .sender(of(0..7).into_chunks(0.rows()))
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    let err = items.into_iter().next().unwrap().unwrap_err();
    assert!(matches!(
        err.source_error(),
        Some(SourceError::Config(ConfigError::Zero {
            setting: "chunk size"
        }))
    ));
    assert!(err.is_fatal());

    let pulled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let p = pulled.clone();
    let items: Vec<_> = AsyncTask::emits::<u32>()
        .buffer(0.items())
        .sender(futures::stream::iter(0..5).inspect(move |_| {
            p.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }))
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    assert!(items[0].is_err());
    assert_eq!(pulled.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn plain_and_fallible_streams_are_sources() {
    let plain = AsyncTask::emits::<i32>().sender(futures::stream::iter([5, 6]));
    assert_eq!(data_of(plain.collect().await), [Ok(5), Ok(6)]);

    let fallible = AsyncTask::emits::<i32>().sender(futures::stream::iter(vec![
        Ok(1),
        Err("two is broken"),
        Ok(3),
    ]));
    let items: Vec<_> = fallible.collect().await;
    assert_eq!(items.len(), 3);
    let err = items[1].as_ref().unwrap_err();
    assert_eq!(err.id().sequence_number(), 1);
    assert!(matches!(
        err.kind(),
        EventErrorKind::Source(SourceError::Item(_))
    ));
    assert!(!err.is_fatal());
    assert_eq!(*items[2].as_ref().unwrap().data(), 3);
}

#[tokio::test]
async fn error_policies_on_a_fallible_stream() {
    let input = || futures::stream::iter(vec![Ok(1), Err("bad"), Ok(3), Err("worse"), Ok(5)]);

    let stop: Vec<_> = AsyncTask::emits::<i32>()
        .on_error(ErrorPolicy::Stop)
        .sender(input())
        .collect()
        .await;
    let stop: Vec<Result<i32, String>> = data_of(stop);
    assert_eq!(stop.len(), 2);
    assert_eq!(stop[0], Ok(1));
    assert!(stop[1].as_ref().unwrap_err().contains("bad"));

    let skip = AsyncTask::emits::<i32>()
        .on_error(ErrorPolicy::Skip)
        .sender(input());
    let stats = skip.stats();
    assert_eq!(data_of(skip.collect().await), [Ok(1), Ok(3), Ok(5)]);
    assert_eq!(
        (stats.emitted(), stats.errors(), stats.skipped()),
        (3, 2, 2)
    );

    let collect: Vec<_> = AsyncTask::emits::<i32>()
        .on_error(ErrorPolicy::Collect)
        .sender(input())
        .collect()
        .await;
    let keys: Vec<(u64, bool)> = collect
        .iter()
        .map(|r| match r {
            Ok(e) => (e.sequence_number(), true),
            Err(e) => (e.id().sequence_number(), false),
        })
        .collect();
    assert_eq!(
        keys,
        [(0, true), (1, false), (2, true), (3, false), (4, true)]
    );
}

#[tokio::test]
async fn producer_closure_sends_items_and_errors_then_ends() {
    let items: Vec<_> = AsyncTask::emits::<String>()
        .buffer(2.items())
        .sender(|tx: sweet_async::stream::Sender<String>| async move {
            tx.send("one".to_owned()).await.unwrap();
            tx.send_error("two failed").await.unwrap();
            tx.send("three".to_owned()).await.unwrap();
        })
        .collect()
        .await;
    let items = data_of(items);
    assert_eq!(items[0], Ok("one".to_owned()));
    assert!(items[1].as_ref().unwrap_err().contains("two failed"));
    assert_eq!(items[2], Ok("three".to_owned()));
    assert_eq!(items.len(), 3);
}

#[tokio::test]
async fn producer_returning_err_is_a_fatal_error_after_its_items() {
    let items: Vec<_> = AsyncTask::emits::<u8>()
        .sender(|tx: sweet_async::stream::Sender<u8>| async move {
            tx.send(1).await.map_err(|_| "gone")?;
            Err::<(), _>("upstream API returned 503")
        })
        .collect()
        .await;
    assert_eq!(items.len(), 2);
    assert_eq!(*items[0].as_ref().unwrap().data(), 1);
    let err = items[1].as_ref().unwrap_err();
    assert!(matches!(
        err.source_error(),
        Some(SourceError::SenderFailed(_))
    ));
    assert!(err.is_fatal());
}

#[tokio::test]
async fn send_fails_once_the_stream_is_dropped() {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let mut stream = Box::pin(AsyncTask::emits::<u32>().buffer(1.items()).sender(
        |tx: sweet_async::stream::Sender<u32>| async move {
            let spare = tx.clone();
            tokio::spawn(async move {
                // Keeps sending after the stream is gone: must get an error, not hang.
                let mut sent = 0;
                while spare.send(sent).await.is_ok() {
                    sent += 1;
                }
                let _ = done_tx.send(sent);
            });
            std::future::pending::<()>().await;
        },
    ));
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(*first.data(), 0);
    drop(stream);
    let sent = tokio::time::timeout(std::time::Duration::from_secs(10), done_rx)
        .await
        .unwrap()
        .unwrap();
    assert!(sent >= 1);
}

#[test]
fn located_helpers() {
    let l = Located::bare(3);
    assert_eq!((l.value, l.position, l.batch), (3, None, None));
}
