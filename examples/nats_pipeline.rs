//! At-least-once from NATS to NATS: sensor readings (`sensor,ts_ms,value` text) read from
//! a JetStream stream through a durable pull consumer, parsed, summed per sensor in
//! 10-second event-time windows, and each window's result published to a second stream.
//! A reading is acknowledged only after the window holding it was stored by the server;
//! the window results carry a message id (`<sensor>-<window start>`), so a window written
//! again after a crash is dropped by the stream as a duplicate.
//!
//! Run against a NATS server with JetStream (`nats-server -js`, or the one `.ci/servers`
//! starts):
//!
//! ```text
//! SWEET_ASYNC_NATS_URL=nats://127.0.0.1:4222 cargo run --features nats --example nats_pipeline
//! ```
//!
//! It creates the streams `SENSOR_READINGS` and `SENSOR_WINDOWS` when missing, publishes
//! 20,000 generated readings when the input stream is empty, runs the pipeline until no
//! reading arrived for 2 s, and prints the summary (with acknowledgements) and the
//! consumer's counters. `-- --reset` deletes both streams first. Kill it half way and run
//! it again: it goes on where the acknowledged readings end.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use futures::StreamExt;
use sweet_async::connectors::nats::{Delivery, JetStreamSource, Publish, publish};
use sweet_async::operators::window::{Fold, KeepAcks, Tumbling, WindowEvent};
use sweet_async::prelude::*;
use sweet_async::stream::SenderEvent;

const INPUT: &str = "SENSOR_READINGS";
const INPUT_SUBJECT: &str = "sensors.readings";
const OUTPUT: &str = "SENSOR_WINDOWS";
const OUTPUT_SUBJECT: &str = "sensors.windows";
const SENSORS: u64 = 8;
const READINGS: u64 = 20_000;
/// Window size and how late a reading may arrive, in milliseconds of event time.
const WINDOW_MS: i64 = 10_000;
const OUT_OF_ORDER_MS: i64 = 1_000;

/// One parsed reading.
#[derive(Debug, Clone)]
struct Reading {
    sensor: String,
    ts_ms: i64,
    value: f64,
}

/// What a window keeps per sensor.
#[derive(Debug, Clone, Copy)]
struct Stats {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Stats {
    const EMPTY: Stats = Stats {
        count: 0,
        sum: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
    };

    fn add(self, v: f64) -> Stats {
        Stats {
            count: self.count + 1,
            sum: self.sum + v,
            min: self.min.min(v),
            max: self.max.max(v),
        }
    }
}

fn parse(d: &Delivery) -> Result<Reading, String> {
    let text = std::str::from_utf8(&d.payload).map_err(|e| e.to_string())?;
    let mut fields = text.split(',');
    let (Some(sensor), Some(ts), Some(value), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(format!("expected `sensor,ts_ms,value`, got {text:?}"));
    };
    Ok(Reading {
        sensor: sensor.to_owned(),
        ts_ms: ts.trim().parse().map_err(|e| format!("timestamp: {e}"))?,
        value: value.trim().parse().map_err(|e| format!("value: {e}"))?,
    })
}

/// Creates the streams; publishes generated readings when the input is empty.
async fn prepare(js: &jetstream::Context, reset: bool) -> Result<(), Box<dyn std::error::Error>> {
    if reset {
        let _ = js.delete_stream(INPUT).await;
        let _ = js.delete_stream(OUTPUT).await;
    }
    let mut input = js
        .get_or_create_stream(stream::Config {
            name: INPUT.to_owned(),
            subjects: vec![INPUT_SUBJECT.to_owned()],
            ..Default::default()
        })
        .await?;
    js.get_or_create_stream(stream::Config {
        name: OUTPUT.to_owned(),
        subjects: vec![OUTPUT_SUBJECT.to_owned()],
        ..Default::default()
    })
    .await?;
    if input.info().await?.state.messages > 0 {
        return Ok(());
    }
    println!("publishing {READINGS} readings to {INPUT_SUBJECT}");
    let mut acks = Vec::new();
    for i in 0..READINGS {
        let sensor = i % SENSORS;
        // 100 ms apart per sensor, a little out of order (never more than 1 s).
        let ts = (i / SENSORS) as i64 * 100 - ((i * 7919) % 9) as i64 * 100;
        let value = 20.0 + ((i * 31) % 100) as f64 / 10.0;
        let line = format!("sensor-{sensor},{},{value:.1}", ts.max(0));
        acks.push(js.publish(INPUT_SUBJECT, line.into()).await?);
        if acks.len() == 1000 {
            for ack in acks.drain(..) {
                ack.await?;
            }
        }
    }
    for ack in acks {
        ack.await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(url) = std::env::var("SWEET_ASYNC_NATS_URL") else {
        eprintln!("set SWEET_ASYNC_NATS_URL to a NATS server with JetStream (nats-server -js)");
        return Ok(());
    };
    let reset = std::env::args().any(|a| a == "--reset");
    let js = sweet_async::connectors::nats::connect(&url).await?;
    prepare(&js, reset).await?;

    // Open windows pin their readings un-acknowledged: the bound must hold what two
    // windows of every sensor contain (8 sensors x 100 readings per window here), or
    // the source stops pulling before the watermark can close a window.
    let source = JetStreamSource::builder(js.clone(), INPUT, "window-job")
        .batch(256)
        .max_ack_pending(4096)
        .max_deliver(5)
        .idle_timeout(Duration::from_secs(2))
        .build()
        .await?
        .map(parse);
    let handle = source.handle();

    let late = Arc::new(AtomicU64::new(0));
    let late_count = late.clone();
    let windows = AsyncTask::emits::<Reading>()
        .sender(source)
        // A reading that does not parse was rejected by the source (and is terminated
        // at its 5th delivery); the summary counts it.
        .filter_map(|r| async move { r.ok() })
        .key_by(|e: &SenderEvent<Reading>| e.data.sensor.clone())
        .event_time_window(
            Tumbling::event_time(WINDOW_MS).out_of_orderness(OUT_OF_ORDER_MS),
            |e| e.data.ts_ms,
        )?
        .aggregate_windows(KeepAcks::new(Fold::new(
            Stats::EMPTY,
            |s: Stats, e: SenderEvent<Reading>| s.add(e.data.value),
        )));

    let summary = publish(js.clone(), windows, move |item| match item {
        WindowEvent::Fired(w) => {
            let s = w.value.value;
            let line = format!(
                r#"{{"sensor":"{}","start_ms":{},"count":{},"mean":{:.2},"min":{:.1},"max":{:.1}}}"#,
                w.key,
                w.start,
                s.count,
                s.sum / s.count.max(1) as f64,
                s.min,
                s.max
            );
            let id = format!("{}-{}", w.key, w.start);
            Some(Publish::new(OUTPUT_SUBJECT, line).message_id(id))
        }
        // A reading behind the watermark: this example counts it and acknowledges it.
        WindowEvent::Late(_) => {
            late_count.fetch_add(1, Ordering::Relaxed);
            None
        }
        WindowEvent::Error(e) => {
            eprintln!("window failed: {e}");
            None
        }
        _ => None,
    })
    .max_in_flight(256)
    .await?;
    // The last acknowledgements reach the server before the process exits.
    handle.flush().await?;

    if summary.items_in == 0 {
        println!(
            "nothing new: an earlier run acknowledged every reading (`-- --reset` starts over)"
        );
    }
    let mut output = js.get_stream(OUTPUT).await?;
    println!("{summary}");
    let late = late.load(Ordering::Relaxed);
    println!(
        "windows published: {}, late readings: {late}, duplicates dropped by the stream: {}",
        summary.items_out.saturating_sub(late),
        summary.duplicate_keys
    );
    println!("consumer: {}", handle.stats());
    println!(
        "{OUTPUT} now holds {} window results",
        output.info().await?.state.messages
    );
    Ok(())
}
