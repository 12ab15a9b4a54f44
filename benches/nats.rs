//! The JetStream source against a hand-written async-nats fetch/ack loop, on the same
//! pre-filled stream in the same run: every iteration reads all `N` messages through a
//! new durable pull consumer and acknowledges each one.
//!
//! - `hand_written_fetch_ack`: `consumer.batch().max_messages(256)` pull requests, one
//!   `message.ack()` per message, a flush at the end;
//! - `hand_written_stream_ack`: the same over async-nats' pipelined pull stream
//!   (`consumer.stream().max_messages_per_batch(256)`), which keeps a pull request under
//!   way while the current batch is acknowledged: the stronger peer;
//! - `sweet_async_receiver`: `JetStreamSource` (batch 256) → emitting task → serial
//!   receiver returning `Ok` (which acks) → `flush()`;
//! - `sweet_async_chunks_100`: the same with `into_chunks(100)`: one event, and one
//!   settlement, per 100 messages.
//!
//! Needs a NATS server with JetStream: `SWEET_ASYNC_NATS_URL=nats://127.0.0.1:4222 cargo
//! bench --features nats --bench nats`; without the variable it prints that it was skipped.
//! Prints the median messages/s of each variant and the ratios to the hand-written loop.

// A bench that cannot reach its server has nothing to measure: failing loudly is right.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream};
use criterion::Criterion;
use futures::StreamExt;
use sweet_async::collect::Collector;
use sweet_async::connectors::nats::{Delivery, JetStreamSource};
use sweet_async::prelude::*;

mod common;

const N: u64 = 100_000;
const GROUP: &str = "nats_consume_ack_100k";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Creates the bench stream and publishes `N` small messages.
async fn fill(js: &jetstream::Context, name: &str) {
    let _ = js.delete_stream(name).await;
    js.create_stream(stream::Config {
        name: name.to_owned(),
        subjects: vec![format!("{name}.in")],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut acks = Vec::new();
    for i in 0..N {
        let p = format!("reading {i}");
        acks.push(js.publish(format!("{name}.in"), p.into()).await.unwrap());
        if acks.len() == 1000 {
            for a in acks.drain(..) {
                a.await.unwrap();
            }
        }
    }
    for a in acks {
        a.await.unwrap();
    }
}

/// A new durable consumer over the whole stream.
async fn new_durable(js: &jetstream::Context, stream: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let durable = format!("bench_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let s = js.get_stream(stream).await.unwrap();
    let _ = s.delete_consumer(&durable).await;
    s.create_consumer(consumer::pull::Config {
        durable_name: Some(durable.clone()),
        ack_policy: consumer::AckPolicy::Explicit,
        max_ack_pending: 1024,
        ..Default::default()
    })
    .await
    .unwrap();
    durable
}

async fn drop_durable(js: &jetstream::Context, stream: &str, durable: &str) {
    let s = js.get_stream(stream).await.unwrap();
    let _ = s.delete_consumer(durable).await;
}

/// What a careful user writes by hand with async-nats.
async fn hand_written(js: &jetstream::Context, stream: &str, durable: &str) -> u64 {
    let s = js.get_stream(stream).await.unwrap();
    let c: consumer::PullConsumer = s.get_consumer(durable).await.unwrap();
    let mut acked = 0u64;
    while acked < N {
        let mut batch = c
            .batch()
            .max_messages(256)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .unwrap();
        while let Some(m) = batch.next().await {
            m.unwrap().ack().await.unwrap();
            acked += 1;
        }
    }
    js.client().flush().await.unwrap();
    acked
}

/// The same with async-nats' own pipelined pull stream (`consumer.stream()`), which keeps
/// the next pull request under way while the current batch is acknowledged.
async fn hand_written_stream(js: &jetstream::Context, stream: &str, durable: &str) -> u64 {
    let s = js.get_stream(stream).await.unwrap();
    let c: consumer::PullConsumer = s.get_consumer(durable).await.unwrap();
    let mut messages = c
        .stream()
        .max_messages_per_batch(256)
        .messages()
        .await
        .unwrap();
    let mut acked = 0u64;
    while acked < N {
        let m = messages.next().await.unwrap().unwrap();
        m.ack().await.unwrap();
        acked += 1;
    }
    js.client().flush().await.unwrap();
    acked
}

async fn sweet(js: &jetstream::Context, stream: &str, durable: &str, chunk: Option<usize>) -> u64 {
    let source = JetStreamSource::builder(js.clone(), stream, durable)
        .batch(256)
        .max_ack_pending(1024)
        .build()
        .await
        .unwrap();
    let handle = source.handle();
    let summary = match chunk {
        None => {
            AsyncTask::emits::<Delivery>()
                .sender(source)
                .take(N as usize)
                .receiver(ReceiverStrategy::Serial, |e, _: Collector<(), ()>| {
                    let n = e.data.payload.len();
                    async move { Ok::<_, std::io::Error>(n) }
                })
                .await_final_event(|summary, _| summary)
                .await
        }
        Some(size) => {
            AsyncTask::emits::<Delivery>()
                .sender(source.into_chunks(size))
                .take(N as usize / size)
                .receiver(ReceiverStrategy::Serial, |e, _: Collector<(), ()>| {
                    let n = e.data.len();
                    async move { Ok::<_, std::io::Error>(n) }
                })
                .await_final_event(|summary, _| summary)
                .await
        }
    };
    handle.flush().await.unwrap();
    assert_eq!(summary.acks.acked, N);
    summary.acks.acked
}

#[derive(Clone, Copy)]
enum Variant {
    Fetch,
    Stream,
    Sweet(Option<usize>),
}

fn main() {
    let Ok(url) = std::env::var("SWEET_ASYNC_NATS_URL") else {
        eprintln!("skipped: SWEET_ASYNC_NATS_URL not set");
        return;
    };
    let rt = runtime();
    let stream = format!("BENCH_NATS_{}", std::process::id());
    let js = rt.block_on(async {
        let js = sweet_async::connectors::nats::connect(&url).await.unwrap();
        fill(&js, &stream).await;
        js
    });

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    let mut g = c.benchmark_group(GROUP);
    let variants: [(&str, Variant); 4] = [
        ("hand_written_fetch_ack", Variant::Fetch),
        ("hand_written_stream_ack", Variant::Stream),
        ("sweet_async_receiver", Variant::Sweet(None)),
        ("sweet_async_chunks_100", Variant::Sweet(Some(100))),
    ];
    for (name, variant) in variants {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let durable = new_durable(&js, &stream).await;
                        let start = Instant::now();
                        let n = match variant {
                            Variant::Fetch => hand_written(&js, &stream, &durable).await,
                            Variant::Stream => hand_written_stream(&js, &stream, &durable).await,
                            Variant::Sweet(chunk) => sweet(&js, &stream, &durable, chunk).await,
                        };
                        total += start.elapsed();
                        assert_eq!(n, N);
                        drop_durable(&js, &stream, &durable).await;
                    }
                    total
                })
            })
        });
    }
    g.finish();
    c.final_summary();
    rt.block_on(async {
        let _ = js.delete_stream(&stream).await;
    });

    common::print_ratios(
        GROUP,
        &[
            ("sweet_async_receiver", "hand_written_fetch_ack"),
            ("sweet_async_chunks_100", "hand_written_fetch_ack"),
            ("sweet_async_receiver", "hand_written_stream_ack"),
            ("sweet_async_chunks_100", "hand_written_stream_ack"),
        ],
    );
    println!("\n== {GROUP}: median messages/s (higher is better)");
    let fetch = common::median_ns(GROUP, "hand_written_fetch_ack");
    let stream = common::median_ns(GROUP, "hand_written_stream_ack");
    for (name, _) in variants {
        if let Some(ns) = common::median_ns(GROUP, name) {
            let rate = N as f64 / (ns / 1e9);
            let vs = |peer: Option<f64>| peer.map_or(f64::NAN, |p| p / ns);
            println!(
                "  {name}: {rate:.0} messages/s ({:.3}x the fetch loop, {:.3}x the stream loop)",
                vs(fetch),
                vs(stream)
            );
        }
    }
}
