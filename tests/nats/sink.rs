//! The sink: inputs are acknowledged only after the server confirmed the output; chunks and
//! event-time windows carry their deliveries' acknowledgements end to end.

use std::time::Duration;

use futures::StreamExt;
use sweet_async::ack::Acked;
use sweet_async::collect::Collector;
use sweet_async::connectors::nats::{Delivery, NatsError, Publish, publish};
use sweet_async::operators::window::{Fold, KeepAcks, Tumbling, WindowEvent};
use sweet_async::prelude::*;
use sweet_async::stream::SenderEvent;

use crate::{TestStream, read_all, unique, url, within};

#[tokio::test]
async fn inputs_are_acked_only_after_the_server_confirmed_their_output() {
    let Some(url) = url() else { return };
    let input = TestStream::new(&url, "sink_in").await;
    let output = TestStream::new(&url, "sink_out").await;
    input.fill((0..5).map(|i| i.to_string())).await;

    // No stream stores this subject: every publish fails, every input is rejected.
    let nowhere = format!("{}.nowhere", unique("none"));
    let source = input
        .source("failing")
        .nak_delay(Duration::from_secs(30))
        .build()
        .await
        .unwrap();
    let handle = source.handle();
    let events = AsyncTask::emits::<Delivery>().sender(source);
    let to = nowhere.clone();
    let summary = within(
        30,
        publish(input.js.clone(), events, move |e| {
            Some(Publish::new(to.clone(), e.ok()?.data.payload))
        }),
    )
    .await
    .unwrap();
    handle.flush().await.unwrap();
    assert_eq!((summary.items_out, summary.errors), (0, 5));
    assert_eq!((summary.acks.acked, summary.acks.rejected), (0, 5));
    let stats = handle.stats();
    assert_eq!((stats.acked, stats.naked, stats.in_flight), (0, 5, 0));

    // The same inputs through a consumer of their own, to a stream that stores them.
    let source = input.source("working").build().await.unwrap();
    let handle = source.handle();
    let events = AsyncTask::emits::<Delivery>().sender(source);
    let to = output.subject.clone();
    let summary = within(
        30,
        publish(input.js.clone(), events, move |e| {
            let d = e.ok()?.data;
            Some(Publish::new(to.clone(), d.payload).message_id(d.stream_sequence.to_string()))
        })
        .max_in_flight(2),
    )
    .await
    .unwrap();
    handle.flush().await.unwrap();
    assert_eq!((summary.items_out, summary.errors), (5, 0));
    assert_eq!((summary.acks.acked, summary.acks.rejected), (5, 0));
    assert_eq!(handle.stats().acked, 5);
    assert_eq!(input.info("working").await.num_ack_pending, 0);
    let written: Vec<String> = read_all(&output.js, &output.name)
        .await
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(written, ["0", "1", "2", "3", "4"]);
    input.delete().await;
    output.delete().await;
}

#[tokio::test]
async fn stop_on_error_ends_the_sink_with_the_subject_that_failed() {
    let Some(url) = url() else { return };
    let input = TestStream::new(&url, "sink_stop").await;
    input.fill((0..3).map(|i| i.to_string())).await;
    let source = input
        .source("w")
        .nak_delay(Duration::from_secs(30))
        .build()
        .await
        .unwrap();
    let events = AsyncTask::emits::<Delivery>().sender(source);
    let nowhere = format!("{}.nowhere", unique("none"));
    let to = nowhere.clone();
    let res = within(
        30,
        publish(input.js.clone(), events, move |e| {
            Some(Publish::new(to.clone(), e.ok()?.data.payload))
        })
        .stop_on_error(),
    )
    .await;
    let Err(NatsError::Publish { subject, .. }) = res else {
        panic!("{res:?}");
    };
    assert_eq!(subject, nowhere);
    let zero = publish(
        input.js.clone(),
        futures::stream::empty::<Acked<()>>(),
        |_| None,
    )
    .max_in_flight(0)
    .await;
    assert!(matches!(zero, Err(NatsError::Config(_))));
    input.delete().await;
}

#[tokio::test]
async fn a_chunk_is_acked_as_a_whole_and_a_rejected_chunk_comes_again() {
    let Some(url) = url() else { return };
    let s = TestStream::new(&url, "chunks").await;
    s.fill((0..35).map(|i| i.to_string())).await;
    let source = s.source("worker").batch(35).build().await.unwrap();
    let handle = source.handle();
    let summary = within(
        30,
        AsyncTask::emits::<Delivery>()
            .sender(source.into_chunks(10))
            .receiver(
                ReceiverStrategy::Serial,
                |chunk, _: Collector<(), ()>| async move {
                    // The chunk holding sequence 5 fails on its first delivery.
                    if chunk
                        .data
                        .iter()
                        .any(|d| d.stream_sequence == 5 && d.delivered == 1)
                    {
                        Err("chunk failed")
                    } else {
                        Ok(chunk.data.len())
                    }
                },
            )
            .await_final_event(|summary, _| summary),
    )
    .await;
    handle.flush().await.unwrap();
    assert_eq!((summary.acks.acked, summary.acks.rejected), (35, 10));
    let stats = handle.stats();
    assert_eq!((stats.delivered, stats.acked, stats.naked), (45, 35, 10));
    assert_eq!(s.info("worker").await.num_ack_pending, 0);
    s.delete().await;
}

#[derive(Debug, Clone)]
struct Reading {
    sensor: String,
    ts: i64,
    value: u64,
}

fn parse(d: &Delivery) -> Result<Reading, String> {
    let text = std::str::from_utf8(&d.payload).map_err(|e| e.to_string())?;
    let mut parts = text.split(',');
    let mut next = || parts.next().ok_or_else(|| format!("short line {text:?}"));
    let sensor = next()?.to_owned();
    let ts = next()?.parse().map_err(|e| format!("{e}"))?;
    let value = next()?.parse().map_err(|e| format!("{e}"))?;
    Ok(Reading { sensor, ts, value })
}

/// NATS → parse → event-time window per sensor (KeepAcks) → NATS: every reading is
/// acknowledged once the window holding it was stored, and no earlier.
#[tokio::test]
async fn windows_carry_their_readings_acks_from_nats_to_nats() {
    let Some(url) = url() else { return };
    let input = TestStream::new(&url, "win_in").await;
    let output = TestStream::new(&url, "win_out").await;
    let mut lines = Vec::new();
    for ts in 0..50 {
        for sensor in ["a", "b"] {
            lines.push(format!("{sensor},{ts},{}", ts % 7));
        }
    }
    input.fill(lines).await;
    let source = input
        .source("windows")
        .batch(16)
        .max_ack_pending(200)
        .build()
        .await
        .unwrap()
        .map(parse);
    let handle = source.handle();
    let watch = handle.clone();
    let windows = AsyncTask::emits::<Reading>()
        .sender(source)
        .filter_map(|r| async move { r.ok() })
        .key_by(|e: &SenderEvent<Reading>| e.data.sensor.clone())
        .event_time_window(Tumbling::event_time(10), |e| e.data.ts)
        .unwrap()
        .aggregate_windows(KeepAcks::new(Fold::new(
            (0u64, 0u64),
            |(n, sum), e: SenderEvent<Reading>| (n + 1, sum + e.data.value),
        )));
    let to = output.subject.clone();
    let mut first = true;
    let summary = within(
        60,
        publish(input.js.clone(), windows, move |w| {
            let WindowEvent::Fired(w) = w else {
                panic!("late or failed: {w:?}");
            };
            // The sink took the window's obligations (its 10 readings') before this call;
            // nothing was acknowledged before the first window's output was confirmed.
            assert!(w.value.acks.is_empty());
            assert_eq!(w.count, 10);
            if first {
                assert_eq!(watch.stats().acked, 0);
                first = false;
            }
            let (n, sum) = w.value.value;
            let line = format!("{},{},{n},{sum}", w.key, w.start);
            Some(Publish::new(to.clone(), line).message_id(format!("{}-{}", w.key, w.start)))
        }),
    )
    .await
    .unwrap();
    handle.flush().await.unwrap();
    assert_eq!((summary.items_out, summary.errors), (10, 0));
    assert_eq!(
        (
            summary.acks.acked,
            summary.acks.rejected,
            summary.acks.released
        ),
        (100, 0, 0)
    );
    assert_eq!(input.info("windows").await.num_ack_pending, 0);
    let mut written: Vec<String> = read_all(&output.js, &output.name)
        .await
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    written.sort();
    let mut expected = Vec::new();
    for sensor in ["a", "b"] {
        for start in (0..50).step_by(10) {
            let sum: i64 = (start..start + 10).map(|ts| ts % 7).sum();
            expected.push(format!("{sensor},{start},10,{sum}"));
        }
    }
    expected.sort();
    assert_eq!(written, expected);
    input.delete().await;
    output.delete().await;
}
