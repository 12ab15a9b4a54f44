//! The Kafka source against a hand-written rdkafka loop, and the offset tracker's cost,
//! in one run:
//!
//! - `kafka_consume`: messages/s of a consumer-group member that acknowledges every
//!   message: the Kafka source (`emits -> ack`, one event per message, and
//!   `into_chunks(100)`) against a `StreamConsumer` loop with manual offset storage and an
//!   asynchronous commit every 1 000 messages, each on its own topic of librdkafka's mock
//!   cluster (in process, 4 partitions, 100-byte payloads). Each iteration first writes
//!   its messages, then times their consumption; the group is joined once, before the
//!   measurement. Goal: at least 0.9x the loop's messages/s, i.e. a time ratio of at most
//!   1.11;
//! - `kafka_tracker`: the per-message cost of the offset tracker (deliver, acknowledge,
//!   read the committable offset), in order, with a window of 1 024 acknowledged one by
//!   one in random order, and with chunks of 100 acknowledged in random order (one range
//!   each), against a `BTreeSet` of pending offsets (the simple model); plus the whole
//!   settle path (`Acks::new(..).ack()` into a locked tracker).
//!
//! Run: `cargo bench --features kafka --bench kafka`; the ratios print at the end.

// A bench that cannot start its cluster or runtime has nothing to measure: failing
// loudly is right.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::hint::black_box;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use futures::StreamExt;
use rdkafka::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use sweet_async::ack::{AckSink, Acks, Outcome};
use sweet_async::connectors::kafka::{self, KafkaMessage, PartitionOffsets};
use sweet_async::prelude::*;
use sweet_async::stream::SenderEvent;

mod common;

/// Messages consumed per timed iteration.
const PER_ITER: u64 = 20_000;
/// Messages the tracker bench delivers and acknowledges.
const OFFSETS: u64 = 100_000;
/// The out-of-order window of the tracker bench.
const WINDOW: u64 = 1_024;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Writes `n` messages of 100 bytes to `topic`, spread over its partitions, waiting for
/// each batch of 10 000 to be confirmed (the producer's local queue is bounded).
async fn produce(producer: &FutureProducer, topic: &str, n: u64) {
    let payload = [b'x'; 100];
    let mut sent = 0;
    while sent < n {
        let batch = (n - sent).min(10_000);
        let mut pending = Vec::with_capacity(batch as usize);
        for i in sent..sent + batch {
            let key = (i % 64).to_le_bytes();
            let record = FutureRecord::to(topic).key(&key[..]).payload(&payload[..]);
            pending.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
        }
        for p in pending {
            p.await.unwrap().unwrap();
        }
        sent += batch;
    }
}

/// Joins the group of the member behind `events` before anything is timed: writes `n`
/// messages to `topic` and acknowledges the first event they make.
async fn first_event<S, T, E>(
    producer: &FutureProducer,
    topic: &str,
    n: u64,
    events: &tokio::sync::Mutex<S>,
) where
    S: futures::Stream<Item = Result<SenderEvent<T>, E>> + Unpin,
    E: std::fmt::Debug,
{
    produce(producer, topic, n).await;
    events
        .lock()
        .await
        .next()
        .await
        .unwrap()
        .unwrap()
        .acknowledge();
}

/// The hand-written peer: a group member storing each handled message's offset and
/// committing asynchronously every 1 000 messages.
async fn hand_written(consumer: &StreamConsumer, n: u64) {
    let mut messages = consumer.stream();
    for i in 1..=n {
        let m = messages.next().await.unwrap().unwrap();
        black_box(m.payload());
        consumer.store_offset_from_message(&m).unwrap();
        if i % 1_000 == 0 {
            consumer.commit_consumer_state(CommitMode::Async).unwrap();
        }
    }
}

fn bench_consume(c: &mut Criterion) {
    let rt = runtime();
    let _guard = rt.enter(); // the source's consumer starts its wake-up timer on it
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    for topic in ["source", "chunked", "loop"] {
        cluster.create_topic(topic, 4, 1).unwrap();
    }
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "5")
        .create()
        .unwrap();

    let mut g = c.benchmark_group("kafka_consume");
    g.throughput(Throughput::Elements(PER_ITER));
    // Flat sampling and a short warm-up: every sample times the same number of
    // messages, so no sample writes (untimed) more than a few hundred thousand.
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(6));

    // Each member joins its group and reads a first message before anything is timed,
    // right before its own measurement.
    let (source, handle) = kafka::source(&brokers, "bench-source")
        .topic("source")
        .build()
        .unwrap();
    let events = tokio::sync::Mutex::new(AsyncTask::emits::<KafkaMessage>().sender(source));
    rt.block_on(first_event(&producer, "source", 1, &events));
    g.bench_function("sweet_async_source_ack", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (producer, events) = (&producer, &events);
            async move {
                let n = iters * PER_ITER;
                produce(producer, "source", n).await;
                let mut events = events.lock().await;
                let start = Instant::now();
                for _ in 0..n {
                    let mut event = events.next().await.unwrap().unwrap();
                    black_box(event.data.payload.as_deref());
                    event.acknowledge();
                }
                start.elapsed()
            }
        })
    });
    drop(events);
    rt.block_on(handle.close()).unwrap();

    let (chunked, handle) = kafka::source(&brokers, "bench-chunked")
        .topic("chunked")
        .build()
        .unwrap();
    let chunks = tokio::sync::Mutex::new(
        AsyncTask::emits::<KafkaMessage>().sender(chunked.into_chunks(100)),
    );
    rt.block_on(first_event(&producer, "chunked", 100, &chunks));
    g.bench_function("sweet_async_source_chunks_100_ack", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (producer, chunks) = (&producer, &chunks);
            async move {
                let n = iters * PER_ITER;
                produce(producer, "chunked", n).await;
                let mut chunks = chunks.lock().await;
                let start = Instant::now();
                let mut got = 0;
                while got < n {
                    let mut chunk = chunks.next().await.unwrap().unwrap();
                    for m in &chunk.data {
                        black_box(m.payload.as_deref());
                    }
                    got += chunk.data.len() as u64;
                    chunk.acknowledge();
                }
                start.elapsed()
            }
        })
    });
    drop(chunks);
    rt.block_on(handle.close()).unwrap();

    let peer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "bench-loop")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .create()
        .unwrap();
    peer.subscribe(&["loop"]).unwrap();
    rt.block_on(async {
        produce(&producer, "loop", 1).await;
        hand_written(&peer, 1).await;
    });
    g.bench_function("rdkafka_stream_consumer_loop", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (producer, peer) = (&producer, &peer);
            async move {
                let n = iters * PER_ITER;
                produce(producer, "loop", n).await;
                let start = Instant::now();
                hand_written(peer, n).await;
                start.elapsed()
            }
        })
    });
    g.finish();
}

/// A settle path like the source's: a lock around the partition's tracker.
struct Locked(Mutex<PartitionOffsets>);

impl AckSink for Locked {
    fn settle(&self, _partition: u32, range: Range<u64>, outcome: Outcome<'_>) {
        if let Outcome::Acked = outcome {
            self.0.lock().unwrap().ack(range);
        }
    }
}

/// A window of `WINDOW` offsets in a fixed random order, repeated to `OFFSETS`.
fn shuffled() -> Vec<u64> {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut out = Vec::with_capacity(OFFSETS as usize);
    for base in (0..OFFSETS).step_by(WINDOW as usize) {
        let mut window: Vec<u64> = (base..base + WINDOW).collect();
        rng.shuffle(&mut window);
        out.extend(window);
    }
    out
}

fn bench_tracker(c: &mut Criterion) {
    let order = shuffled();
    let mut g = c.benchmark_group("kafka_tracker");
    g.throughput(Throughput::Elements(OFFSETS));
    g.sample_size(30);
    g.bench_function("offsets_in_order", |b| {
        b.iter(|| {
            let mut p = PartitionOffsets::new();
            for o in 0..OFFSETS {
                p.deliver(o);
                p.ack(o..o + 1);
                black_box(p.committable());
            }
        })
    });
    g.bench_function("btreeset_in_order", |b| {
        b.iter(|| {
            let mut pending = BTreeSet::new();
            for o in 0..OFFSETS {
                pending.insert(o);
                pending.remove(&o);
                black_box(pending.first().copied().unwrap_or(o + 1));
            }
        })
    });
    g.bench_function("offsets_window_shuffled", |b| {
        b.iter(|| {
            let mut p = PartitionOffsets::new();
            for window in order.chunks(WINDOW as usize) {
                let base = window.iter().min().copied().unwrap_or(0);
                for o in base..base + WINDOW {
                    p.deliver(o);
                }
                for &o in window {
                    p.ack(o..o + 1);
                    black_box(p.committable());
                }
            }
        })
    });
    g.bench_function("btreeset_window_shuffled", |b| {
        b.iter(|| {
            let mut pending = BTreeSet::new();
            for window in order.chunks(WINDOW as usize) {
                let base = window.iter().min().copied().unwrap_or(0);
                pending.extend(base..base + WINDOW);
                for &o in window {
                    pending.remove(&o);
                    black_box(pending.first().copied());
                }
            }
        })
    });
    // Chunks of 100 consecutive offsets acknowledged in random order: one range each.
    let chunk_order: Vec<u64> = {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut starts: Vec<u64> = (0..OFFSETS).step_by(100).collect();
        for window in starts.chunks_mut((WINDOW / 100) as usize) {
            rng.shuffle(window);
        }
        starts
    };
    g.bench_function("offsets_chunks_100_shuffled", |b| {
        b.iter(|| {
            let mut p = PartitionOffsets::new();
            for o in 0..OFFSETS {
                p.deliver(o);
            }
            for &s in &chunk_order {
                p.ack(s..s + 100);
                black_box(p.committable());
            }
        })
    });
    g.bench_function("btreeset_chunks_100_shuffled", |b| {
        b.iter(|| {
            let mut pending: BTreeSet<u64> = (0..OFFSETS).collect();
            for &s in &chunk_order {
                for o in s..s + 100 {
                    pending.remove(&o);
                }
                black_box(pending.first().copied());
            }
        })
    });
    g.bench_function("acks_settle_in_order", |b| {
        let locked = Arc::new(Locked(Mutex::new(PartitionOffsets::new())));
        let sink: Arc<dyn AckSink> = locked.clone();
        let mut next = 0u64;
        b.iter(|| {
            for _ in 0..OFFSETS {
                let o = next;
                next += 1;
                locked.0.lock().unwrap().deliver(o);
                Acks::new(sink.clone(), 0, o..o + 1).ack();
                black_box(locked.0.lock().unwrap().committable());
            }
        })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_tracker(&mut c);
    bench_consume(&mut c);
    c.final_summary();
    common::print_ratios(
        "kafka_consume",
        &[
            ("sweet_async_source_ack", "rdkafka_stream_consumer_loop"),
            (
                "sweet_async_source_chunks_100_ack",
                "rdkafka_stream_consumer_loop",
            ),
        ],
    );
    common::print_ratios(
        "kafka_tracker",
        &[
            ("offsets_in_order", "btreeset_in_order"),
            ("offsets_window_shuffled", "btreeset_window_shuffled"),
            (
                "offsets_chunks_100_shuffled",
                "btreeset_chunks_100_shuffled",
            ),
            ("acks_settle_in_order", "offsets_in_order"),
        ],
    );
}
