//! The source: exact acks, rejects, poison, progress acks, bounded pulls, shared durables.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sweet_async::collect::Collector;
use sweet_async::connectors::nats::{Delivery, JetStreamSource, NatsError};
use sweet_async::prelude::*;

use crate::{IDLE, TestStream, url, within};

/// (payload, delivered count) of every event a receiver saw.
type Seen = Arc<Mutex<Vec<(String, u64)>>>;

fn text(d: &Delivery) -> String {
    String::from_utf8(d.payload.to_vec()).unwrap()
}

/// Runs `source` through a serial receiver that fails an event with the error `fail`
/// gives for its (payload, delivered count), or handles it; returns the summary and
/// (payload, delivered count) of every event the receiver saw, in order.
async fn receive_logged(
    source: JetStreamSource<Delivery>,
    fail: impl Fn(&str, u64) -> Option<&'static str> + Send + 'static,
) -> (Summary, Vec<(String, u64)>) {
    let seen = Seen::default();
    let log = seen.clone();
    let summary = within(
        30,
        AsyncTask::emits::<Delivery>()
            .sender(source)
            .receiver(ReceiverStrategy::Serial, move |e, _: Collector<(), ()>| {
                let (payload, delivered) = (text(&e.data), e.data.delivered);
                let verdict = fail(&payload, delivered).map_or(Ok(()), Err);
                log.lock().unwrap().push((payload, delivered));
                async move { verdict }
            })
            .await_final_event(|summary, _| summary),
    )
    .await;
    let seen = seen.lock().unwrap().clone();
    (summary, seen)
}

#[tokio::test]
async fn an_ok_receiver_acks_every_delivery_and_nothing_comes_again() {
    let Some(url) = url() else { return };
    let s = TestStream::new(&url, "acks").await;
    s.fill((0..50).map(|i| i.to_string())).await;
    let source = s.source("worker").batch(8).build().await.unwrap();
    let handle = source.handle();
    let summary = within(
        30,
        AsyncTask::emits::<Delivery>()
            .sender(source)
            .receiver(
                ReceiverStrategy::Serial,
                |e, _: Collector<(), ()>| async move {
                    assert_eq!(e.data.delivered, 1);
                    Ok::<_, std::io::Error>(e.data.stream_sequence)
                },
            )
            .await_final_event(|summary, _| summary),
    )
    .await;
    handle.flush().await.unwrap();
    assert_eq!((summary.items_out, summary.acks.acked), (50, 50));
    assert_eq!((summary.acks.rejected, summary.acks.released), (0, 0));
    let stats = handle.stats();
    assert_eq!((stats.delivered, stats.acked, stats.in_flight), (50, 50, 0));
    assert_eq!((stats.naked, stats.termed), (0, 0));
    let info = s.info("worker").await;
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.num_pending, 0);
    assert_eq!(info.num_redelivered, 0);
    assert_eq!(info.ack_floor.stream_sequence, 50);

    // A second run on the same durable gets nothing: every message was acknowledged.
    let again = JetStreamSource::builder(s.js.clone(), &s.name, "worker")
        .idle_timeout(Duration::from_millis(700))
        .build()
        .await
        .unwrap();
    let (events, _) = within(
        10,
        AsyncTask::emits::<Delivery>().sender(again).collect_vec(),
    )
    .await;
    assert!(events.is_empty());
    s.delete().await;
}

#[tokio::test]
async fn a_rejected_delivery_comes_again_with_delivered_count_2() {
    let Some(url) = url() else { return };
    let s = TestStream::new(&url, "reject").await;
    s.fill((0..3).map(|i| i.to_string())).await;
    let source = s
        .source("worker")
        .nak_delay(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let handle = source.handle();
    let (summary, mut seen) = receive_logged(source, |payload, delivered| {
        (payload == "1" && delivered == 1).then_some("not yet")
    })
    .await;
    handle.flush().await.unwrap();
    seen.sort();
    let expected = [("0", 1), ("1", 1), ("1", 2), ("2", 1)].map(|(p, d)| (p.to_owned(), d));
    assert_eq!(seen, expected);
    assert_eq!((summary.acks.acked, summary.acks.rejected), (3, 1));
    let stats = handle.stats();
    assert_eq!((stats.delivered, stats.acked, stats.naked), (4, 3, 1));
    let info = s.info("worker").await;
    assert_eq!((info.num_ack_pending, info.num_redelivered), (0, 0));
    assert_eq!(info.ack_floor.stream_sequence, 3);
    s.delete().await;
}

#[tokio::test]
async fn a_poison_message_is_terminated_at_max_deliver() {
    let Some(url) = url() else { return };
    let s = TestStream::new(&url, "poison").await;
    s.fill(["good".to_owned(), "bad".to_owned(), "good".to_owned()])
        .await;
    let source = s.source("worker").max_deliver(3).build().await.unwrap();
    let handle = source.handle();
    let (summary, seen) = receive_logged(source, |payload, _| {
        (payload == "bad").then_some("cannot handle")
    })
    .await;
    handle.flush().await.unwrap();
    let bad: Vec<u64> = seen
        .iter()
        .filter(|(p, _)| p == "bad")
        .map(|(_, d)| *d)
        .collect();
    assert_eq!(bad, [1, 2, 3]);
    assert_eq!((summary.acks.acked, summary.acks.rejected), (2, 3));
    let stats = handle.stats();
    assert_eq!((stats.acked, stats.naked, stats.termed), (2, 2, 1));
    // Terminated: not pending, not redelivered, nothing left for the consumer.
    let info = s.info("worker").await;
    assert_eq!((info.num_ack_pending, info.num_pending), (0, 0));
    s.delete().await;
}

/// A slow event (2.5 s) under a 1 s ack_wait: with progress acks it is delivered once;
/// without them the server redelivers it while it is still being handled.
#[tokio::test]
async fn progress_acks_keep_a_slow_event_from_redelivery() {
    let Some(url) = url() else { return };
    let s = TestStream::new(&url, "progress").await;
    s.fill(["slow".to_owned()]).await;
    s.consumer("with", Duration::from_secs(1), -1).await;
    s.consumer("without", Duration::from_secs(1), -1).await;
    let mut delivered = Vec::new();
    for (durable, progress) in [("with", true), ("without", false)] {
        let mut builder = JetStreamSource::builder(s.js.clone(), &s.name, durable)
            .idle_timeout(Duration::from_secs(4));
        if !progress {
            builder = builder.no_progress_acks();
        }
        let source = builder.build().await.unwrap();
        let handle = source.handle();
        let summary = within(
            30,
            AsyncTask::emits::<Delivery>()
                .sender(source)
                .receiver(ReceiverStrategy::Serial, |_, _: Collector<(), ()>| async {
                    tokio::time::sleep(Duration::from_millis(2500)).await;
                    Ok::<_, std::io::Error>(())
                })
                .await_final_event(|summary, _| summary),
        )
        .await;
        handle.flush().await.unwrap();
        let stats = handle.stats();
        assert_eq!(stats.in_flight, 0);
        assert_eq!(summary.acks.acked, stats.delivered);
        if progress {
            assert!(stats.progress_acks >= 2, "{stats}");
        } else {
            assert_eq!(stats.progress_acks, 0);
        }
        let info = s.info(durable).await;
        assert_eq!(info.num_ack_pending, 0, "{durable}");
        delivered.push(stats.delivered);
    }
    assert_eq!(delivered[0], 1, "with progress acks");
    assert!(delivered[1] >= 2, "without progress acks: {}", delivered[1]);
    s.delete().await;
}

#[tokio::test]
async fn pulls_never_hold_more_than_max_ack_pending() {
    let Some(url) = url() else { return };
    let s = TestStream::new(&url, "bound").await;
    s.fill((0..200).map(|i| i.to_string())).await;
    let source = s
        .source("worker")
        .batch(4)
        .max_ack_pending(10)
        .build()
        .await
        .unwrap();
    let handle = source.handle();
    let watch = handle.clone();
    let server_peak = Arc::new(Mutex::new(0usize));
    let peak = server_peak.clone();
    let js = s.js.clone();
    let name = s.name.clone();
    // Samples the server's view while the pipeline runs.
    let sampler = tokio::spawn(async move {
        let stream = js.get_stream(&name).await.unwrap();
        let mut c: async_nats::jetstream::consumer::PullConsumer =
            stream.get_consumer("worker").await.unwrap();
        for _ in 0..100 {
            let pending = c.info().await.unwrap().num_ack_pending;
            {
                let mut p = peak.lock().unwrap();
                *p = (*p).max(pending);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let summary = within(
        60,
        AsyncTask::emits::<Delivery>()
            .sender(source)
            .receiver(
                ReceiverStrategy::parallel(3).unwrap(),
                move |_, _: Collector<(), ()>| {
                    let in_flight = watch.stats().in_flight;
                    async move {
                        assert!(in_flight <= 10, "{in_flight} in flight");
                        tokio::time::sleep(Duration::from_millis(3)).await;
                        Ok::<_, std::io::Error>(())
                    }
                },
            )
            .await_final_event(|summary, _| summary),
    )
    .await;
    handle.flush().await.unwrap();
    sampler.abort();
    assert_eq!((summary.items_out, summary.acks.acked), (200, 200));
    let stats = handle.stats();
    assert_eq!(stats.peak_in_flight, 10, "{stats}");
    assert!(*server_peak.lock().unwrap() <= 10);
    assert_eq!(s.info("worker").await.num_ack_pending, 0);
    s.delete().await;
}

#[tokio::test]
async fn two_processes_on_one_durable_split_the_work() {
    let Some(url) = url() else { return };
    let s = TestStream::new(&url, "split").await;
    s.fill((0..400).map(|i| i.to_string())).await;
    s.consumer("shared", Duration::from_secs(30), -1).await;
    let run = |url: String, name: String| async move {
        // Each "process" has its own connection.
        let js = sweet_async::connectors::nats::connect(&url).await.unwrap();
        let source = JetStreamSource::builder(js, name, "shared")
            .batch(10)
            .max_ack_pending(20)
            .idle_timeout(IDLE)
            .build()
            .await
            .unwrap();
        let handle = source.handle();
        let got = Arc::new(Mutex::new(Vec::new()));
        let log = got.clone();
        AsyncTask::emits::<Delivery>()
            .sender(source)
            .receiver(ReceiverStrategy::Serial, move |e, _: Collector<(), ()>| {
                log.lock().unwrap().push(e.data.stream_sequence);
                async {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    Ok::<_, std::io::Error>(())
                }
            })
            .await_final_event(|summary, _| summary)
            .await;
        handle.flush().await.unwrap();
        got.lock().unwrap().clone()
    };
    let (a, b) = within(
        60,
        futures::future::join(
            tokio::spawn(run(url.clone(), s.name.clone())),
            tokio::spawn(run(url.clone(), s.name.clone())),
        ),
    )
    .await;
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        !a.is_empty() && !b.is_empty(),
        "{} and {}",
        a.len(),
        b.len()
    );
    let (sa, sb): (BTreeSet<u64>, BTreeSet<u64>) =
        (a.iter().copied().collect(), b.iter().copied().collect());
    assert_eq!(sa.len() + sb.len(), 400, "no delivery twice");
    assert!(sa.is_disjoint(&sb));
    assert_eq!(
        sa.union(&sb).copied().collect::<Vec<_>>(),
        (1..=400).collect::<Vec<_>>()
    );
    assert_eq!(s.info("shared").await.num_ack_pending, 0);
    s.delete().await;
}

#[tokio::test]
async fn stop_ends_an_endless_source_and_its_events_are_still_settled() {
    let Some(url) = url() else { return };
    let s = TestStream::new(&url, "stop").await;
    s.fill((0..20).map(|i| i.to_string())).await;
    // No idle timeout: only stop() ends this stream.
    let source = JetStreamSource::builder(s.js.clone(), &s.name, "worker")
        .batch(4)
        .max_ack_pending(4)
        .fetch_wait(Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    let handle = source.handle();
    let stopper = handle.clone();
    let summary = within(
        20,
        AsyncTask::emits::<Delivery>()
            .sender(source)
            .receiver(ReceiverStrategy::Serial, move |e, _: Collector<(), ()>| {
                if e.data.stream_sequence == 5 {
                    stopper.stop();
                }
                async { Ok::<_, std::io::Error>(()) }
            })
            .await_final_event(|summary, _| summary),
    )
    .await;
    handle.flush().await.unwrap();
    let stats = handle.stats();
    // What was pulled before the stop came out and was acknowledged; nothing is lost.
    assert!(
        summary.items_out >= 5 && summary.items_out < 20,
        "{summary}"
    );
    assert_eq!(summary.acks.acked, summary.items_out);
    assert_eq!(stats.acked, summary.items_out);
    assert_eq!(stats.delivered, stats.acked + stats.naked);
    assert_eq!(stats.in_flight, 0);
    let info = s.info("worker").await;
    assert_eq!(info.ack_floor.stream_sequence, summary.items_out);
    assert_eq!(info.num_ack_pending, 0);
    s.delete().await;
}

#[tokio::test]
async fn a_failed_mapping_is_a_located_error_and_its_delivery_is_rejected() {
    let Some(url) = url() else { return };
    let s = TestStream::new(&url, "map").await;
    s.fill(["1", "x", "3"].map(str::to_owned)).await;
    let source = s
        .source("worker")
        .max_deliver(1)
        .build()
        .await
        .unwrap()
        .map(|d| std::str::from_utf8(&d.payload).unwrap().parse::<u32>());
    let handle = source.handle();
    let (events, summary) =
        within(30, AsyncTask::emits::<u32>().sender(source).collect_vec()).await;
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for e in events {
        match e {
            Ok(mut e) => {
                use sweet_async::ack::TakeAcks;
                e.take_acks().ack();
                values.push(e.data);
            }
            Err(err) => errors.push(err),
        }
    }
    handle.flush().await.unwrap();
    assert_eq!(values, [1, 3]);
    assert_eq!(errors.len(), 1);
    let source_error = errors[0].source_error().unwrap();
    let sweet_async::stream::SourceError::Item(inner) = source_error else {
        panic!("{source_error:?}");
    };
    let nats = inner.downcast_ref::<NatsError>().unwrap();
    let NatsError::Map {
        stream,
        consumer,
        subject,
        stream_sequence,
        delivered,
        ..
    } = nats
    else {
        panic!("{nats:?}");
    };
    assert_eq!((stream, consumer.as_str()), (&s.name, "worker"));
    assert_eq!((subject, *stream_sequence, *delivered), (&s.subject, 2, 1));
    assert!(nats.to_string().contains("sequence 2"), "{nats}");
    assert_eq!(summary.items_out, 3);
    // Rejected at its last delivery: terminated, not redelivered.
    let stats = handle.stats();
    assert_eq!((stats.acked, stats.termed), (2, 1), "{stats}");
    s.delete().await;
}

#[tokio::test]
async fn invalid_settings_are_config_errors_before_anything_is_sent() {
    let Some(url) = url() else { return };
    let js = sweet_async::connectors::nats::connect(&url).await.unwrap();
    let zero_batch = JetStreamSource::builder(js.clone(), "NO_SUCH_STREAM", "w")
        .batch(0)
        .build()
        .await;
    assert!(matches!(zero_batch, Err(NatsError::Config(_))));
    let zero_bound = JetStreamSource::builder(js.clone(), "NO_SUCH_STREAM", "w")
        .max_ack_pending(0)
        .build()
        .await;
    assert!(matches!(zero_bound, Err(NatsError::Config(_))));
    let missing = JetStreamSource::builder(js, "NO_SUCH_STREAM", "w")
        .build()
        .await;
    let Err(NatsError::Stream { stream, .. }) = missing else {
        panic!("{missing:?}");
    };
    assert_eq!(stream, "NO_SUCH_STREAM");
    let unreachable = sweet_async::connectors::nats::connect("nats://127.0.0.1:1").await;
    assert!(matches!(unreachable, Err(NatsError::Connect { .. })));
}

#[test]
fn public_types_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<sweet_async::connectors::nats::JetStreamHandle>();
    send_sync::<sweet_async::connectors::nats::JetStreamStats>();
    send_sync::<sweet_async::connectors::nats::Publish>();
    send_sync::<NatsError>();
    send_sync::<Delivery>();
    send::<JetStreamSource<Delivery>>();
    send::<sweet_async::connectors::nats::JetStreamStream<Delivery>>();
}
