//! Standalone collectors and `await_final_event` on plain `futures` streams.

use futures::{Stream, StreamExt};
use sweet_async::prelude::*;
use sweet_async::stream::source::of;

#[tokio::test]
async fn collect_vec_map_fold_and_partition_on_plain_streams() {
    let (v, s) = futures::stream::iter(vec![3, 1, 2]).collect_vec().await;
    assert_eq!(v, [3, 1, 2]);
    assert_eq!((s.items_in, s.items_out, s.errors, s.skipped), (3, 3, 0, 0));
    assert!(s.is_clean());

    let (m, s) = futures::stream::iter(["a=1", "b=2", "a=3"])
        .collect_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.parse::<u32>().unwrap())
        })
        .await;
    assert_eq!(m.len(), 2);
    assert_eq!(m["a"], 3);
    assert_eq!((s.duplicate_keys, s.values_collected), (1, 3));

    let (longest, s) = futures::stream::iter(["aa", "bbbb", "c"])
        .fold_items("", |best, w| if w.len() > best.len() { w } else { best })
        .await;
    assert_eq!((longest, s.items_in), ("bbbb", 3));

    let (ok, errs, s) = futures::stream::iter(vec![Ok(1), Err("x"), Err("y"), Ok(4)])
        .collect_partitioned()
        .await;
    assert_eq!(ok, [1, 4]);
    assert_eq!(errs, [(1, "x"), (2, "y")]);
    assert_eq!((s.items_in, s.items_out, s.errors), (4, 2, 2));
}

#[tokio::test]
async fn collectors_on_emitting_streams_count_skips() {
    let (values, s) = AsyncTask::emits::<i32>()
        .on_error(ErrorPolicy::Skip)
        .sender(futures::stream::iter(vec![Ok(1), Err("bad"), Ok(3)]))
        .collect_vec()
        .await;
    assert_eq!(values.len(), 2);
    assert_eq!((s.items_in, s.items_out, s.skipped), (3, 2, 1));
}

#[test]
fn collectors_need_no_runtime() {
    let (sum, s) = futures::executor::block_on(
        AsyncTask::emits::<u64>()
            .sender(of(1..=1000))
            .map(|r| r.unwrap().into_data())
            .fold_items(0u64, |a, x| a + x),
    );
    assert_eq!((sum, s.items_in), (500_500, 1000));
}

#[tokio::test]
async fn await_final_event_on_an_emitting_stream_without_receiver() {
    let out = AsyncTask::emits::<u8>()
        .sender(futures::stream::iter(vec![Ok(1u8), Err("e"), Ok(2)]))
        .await_final_event(|summary, collected| {
            let data: Vec<u8> = collected.outputs().iter().map(|e| *e.data()).collect();
            let err_seq = collected.errors()[0].error.id().sequence_number();
            (data, err_seq, summary.items_in, summary.errors)
        })
        .await;
    assert_eq!(out, (vec![1, 2], 1, 3, 1));
}

#[tokio::test]
async fn await_final_event_on_plain_event_streams() {
    let events = futures::stream::iter((0..5).map(SenderEvent::new));
    let n = events
        .await_final_event(|summary, collected| {
            assert_eq!(summary.items_out, 5);
            collected.into_outputs().len()
        })
        .await;
    assert_eq!(n, 5);
}

#[tokio::test]
async fn receiver_collects_in_order_keyed_and_errors_with_keys() {
    let collected = AsyncTask::emits::<u32>()
        .sender(of(1..=6))
        .receiver(
            ReceiverStrategy::Serial,
            |event, c: Collector<String, u32>| async move {
                let n = event.into_data();
                match n % 3 {
                    0 => c.collect_error(format!("n{n}"), "divisible by three"),
                    1 => c.collect(format!("n{n}"), n * 10),
                    _ => c.collect_items([n, n]),
                }
                if n == 5 {
                    return Err("five is unlucky");
                }
                Ok(n)
            },
        )
        .await_final_event(|summary, collected| (summary, collected))
        .await;
    let (summary, collected) = collected;
    assert_eq!(collected.outputs(), [1, 2, 3, 4, 6]);
    assert_eq!(collected.items(), [2, 2, 5, 5]);
    assert_eq!(
        collected.keyed(),
        [("n1".to_owned(), 10), ("n4".to_owned(), 40)]
    );
    let errors = collected.errors();
    assert_eq!(errors.len(), 3);
    let keyed: Vec<Option<&str>> = errors.iter().map(|e| e.key.as_deref()).collect();
    // Event failures carry no user key; their key is the event id inside the error.
    assert!(keyed.contains(&Some("n3")) && keyed.contains(&Some("n6")) && keyed.contains(&None));
    let failed = errors.iter().find(|e| e.key.is_none()).unwrap();
    assert_eq!(failed.error.id().sequence_number(), 4);
    assert!(failed.error.to_string().contains("five is unlucky"));
    assert_eq!(
        (
            summary.items_in,
            summary.items_out,
            summary.errors,
            summary.skipped
        ),
        (6, 5, 1, 0)
    );
    assert_eq!((summary.values_collected, summary.errors_collected), (6, 2));
    let map = collected.keyed_map();
    assert_eq!(map["n4"], 40);
}

#[tokio::test]
async fn the_receiver_stream_is_a_plain_stream_too() {
    use sweet_async::collect::Received;
    let items: Vec<Received<(), u8, u8>> = AsyncTask::emits::<u8>()
        .sender(of([1, 2]))
        .receiver(
            ReceiverStrategy::Serial,
            |e, c: Collector<(), u8>| async move {
                c.collect_item(*e.data());
                Ok::<_, std::io::Error>(e.into_data() * 2)
            },
        )
        .collect()
        .await;
    let outputs: Vec<u8> = items
        .iter()
        .filter_map(|r| match r {
            Received::Output(x) => Some(*x),
            _ => None,
        })
        .collect();
    assert_eq!(outputs, [2, 4]);
    let collected: usize = items
        .iter()
        .map(|r| match r {
            Received::Collected(b) => b.items.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(collected, 2);
}

#[tokio::test]
async fn the_receiver_is_fused() {
    use futures::stream::FusedStream;
    for strategy in [
        ReceiverStrategy::Serial,
        ReceiverStrategy::parallel(2).unwrap(),
    ] {
        let mut stage = Box::pin(
            AsyncTask::emits::<u8>()
                .sender(of([1]))
                .receiver(strategy, |e, _: Collector<(), ()>| async move {
                    Ok::<_, std::io::Error>(e.into_data())
                }),
        );
        assert!(stage.next().await.is_some());
        assert!(stage.next().await.is_none());
        assert!(stage.is_terminated());
        assert!(stage.next().await.is_none());
        assert!(stage.next().await.is_none());
        assert_eq!(stage.size_hint(), (0, Some(0)));
    }
}

#[tokio::test]
async fn an_upstream_error_passes_the_receiver_with_its_key() {
    let (summary, collected) = AsyncTask::emits::<u8>()
        .sender(futures::stream::iter(vec![
            Ok(1u8),
            Err("corrupt frame"),
            Ok(3),
        ]))
        .receiver(
            ReceiverStrategy::Serial,
            |e, _: Collector<(), ()>| async move { Ok::<_, std::io::Error>(e.into_data()) },
        )
        .await_final_event(|summary, collected| (summary, collected))
        .await;
    assert_eq!(collected.outputs(), [1, 3]);
    let err = &collected.errors()[0];
    assert!(err.key.is_none());
    assert_eq!(err.error.id().sequence_number(), 1);
    assert!(err.error.to_string().contains("corrupt frame"));
    assert_eq!((summary.items_in, summary.errors), (3, 1));
}

/// Collectors are keys into their receiver's state: two receivers polled in turn on one
/// thread (and parallel workers on others) each get exactly their own values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_receivers_keep_their_own_collected_values() {
    use sweet_async::collect::{Collector, ReceiverStrategy};

    let evens = AsyncTask::emits::<u32>().sender(of(0..500)).receiver(
        ReceiverStrategy::Serial,
        |event, c: Collector<(), u32>| async move {
            c.collect_item(event.into_data() * 2);
            Ok::<_, std::io::Error>(())
        },
    );
    let odds = AsyncTask::emits::<u32>().sender(of(0..500)).receiver(
        ReceiverStrategy::parallel(3).unwrap(),
        |event, c: Collector<u32, u32>| async move {
            let n = event.into_data();
            // A clone moved elsewhere still reaches the receiver while it lives.
            let other = c.clone();
            tokio::task::yield_now().await;
            other.collect(n, n * 2 + 1);
            Ok::<_, std::io::Error>(())
        },
    );
    let (evens, odds) = tokio::join!(
        evens.await_final_event(|s, c| (s, c.into_parts().1)),
        odds.await_final_event(|s, c| (s, c.into_parts().2)),
    );
    assert_eq!(evens.0.values_collected, 500);
    assert_eq!(evens.1, (0..500).map(|n| n * 2).collect::<Vec<_>>());
    assert_eq!(odds.0.values_collected, 500);
    let mut odd: Vec<(u32, u32)> = odds.1;
    odd.sort_unstable();
    assert_eq!(odd, (0..500).map(|n| (n, n * 2 + 1)).collect::<Vec<_>>());
}

/// More receivers than a thread remembers (eight), interleaved item by item on one
/// thread, same key and value types: each still gets exactly its own values.
#[tokio::test]
async fn many_interleaved_receivers_on_one_thread_keep_their_own_values() {
    use futures::StreamExt;
    use sweet_async::collect::{Collector, Received, ReceiverStrategy};

    const RECEIVERS: u32 = 12;
    let mut stages: Vec<_> = (0..RECEIVERS)
        .map(|r| {
            Box::pin(AsyncTask::emits::<u32>().sender(of(0..50)).receiver(
                ReceiverStrategy::Serial,
                move |event, c: Collector<(), u32>| async move {
                    c.collect_item(r * 1000 + event.into_data());
                    Ok::<_, std::io::Error>(())
                },
            ))
        })
        .collect();
    let mut kept: Vec<Vec<u32>> = vec![Vec::new(); RECEIVERS as usize];
    let mut open = RECEIVERS;
    while open > 0 {
        open = 0;
        for (r, stage) in stages.iter_mut().enumerate() {
            // One step of each receiver in turn.
            match stage.next().await {
                Some(Received::Collected(batch)) => {
                    kept[r].extend(batch.items);
                    open += 1;
                }
                Some(_) => open += 1,
                None => {} // this one is done (a receiver stage is fused)
            }
        }
    }
    for (r, values) in kept.iter().enumerate() {
        let r = r as u32;
        assert_eq!(values, &(0..50).map(|x| r * 1000 + x).collect::<Vec<_>>());
    }
}
