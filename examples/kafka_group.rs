//! Scaling out with a Kafka consumer group: run this program N times with the same group
//! id and the broker splits the input topic's partitions between the copies; kill one and
//! the others take its partitions over from its last committed offsets.
//!
//! Each copy runs one pipeline: Kafka source → per-key tumbling event-time windows (on
//! the records' Kafka timestamps) → Kafka sink. A window's records are acknowledged, and
//! so committable, only once the window's result was confirmed by the broker, so a
//! crash loses nothing: what was not committed is consumed again (duplicates, counted by
//! whoever reads the output), and each key's results stay in order.
//!
//! Run against a cluster (topics must exist; the input is keyed, the payload of a record
//! is its sequence number within its key):
//!
//! ```sh
//! cargo run --features kafka --example kafka_group -- \
//!     --brokers 127.0.0.1:9092 --group counts --input events --output counts
//! ```
//!
//! (or set `SWEET_ASYNC_KAFKA_BROKERS`; add `--produce 20x500` to write 20 keys × 500
//! records first, `--idle-exit 5` to stop after 5 s without input). Without brokers it
//! starts librdkafka's mock cluster, writes demo records and runs two members in this
//! process: `cargo run --features kafka --example kafka_group`.

use std::collections::BTreeMap;
use std::error::Error;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use sweet_async::connectors::kafka::{self, KafkaMessage, KafkaRecord, KafkaSourceStats};
use sweet_async::operators::window::{Fold, KeepAcks, Tumbling, WindowEvent};
use sweet_async::prelude::*;
use sweet_async::stream::SenderEvent;

type BoxError = Box<dyn Error + Send + Sync>;

/// Event time of record `seq` of a key: 100 ms apart, from a fixed epoch.
const BASE_MS: i64 = 1_700_000_000_000;
const STEP_MS: i64 = 100;

/// One member's settings.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    /// `host:port` of the brokers.
    pub brokers: String,
    /// The consumer group: every copy uses the same.
    pub group: String,
    /// The keyed input topic.
    pub input: String,
    /// Where window results go (keyed like the input).
    pub output: String,
    /// A name written in each result's `member` header.
    pub name: String,
    /// Window size (ms of event time).
    pub window_ms: i64,
    /// How far behind the newest timestamp a record may arrive and still count.
    pub out_of_orderness_ms: i64,
    /// Stop after this long without input.
    pub idle_exit: Option<Duration>,
    /// Records per second at most (to watch the split happen).
    pub max_rate: Option<usize>,
    /// Consumer session timeout: how long a dead member keeps its partitions.
    pub session_timeout_ms: u32,
}

impl MemberConfig {
    /// Defaults for `brokers` and `group`: 1 s windows, 10 s out of orderness.
    pub fn new(brokers: &str, group: &str, input: &str, output: &str) -> Self {
        MemberConfig {
            brokers: brokers.to_owned(),
            group: group.to_owned(),
            input: input.to_owned(),
            output: output.to_owned(),
            name: format!("pid-{}", std::process::id()),
            window_ms: 1_000,
            out_of_orderness_ms: 10_000,
            idle_exit: None,
            max_rate: None,
            session_timeout_ms: 6_000,
        }
    }
}

/// What a member did.
#[derive(Debug)]
pub struct MemberReport {
    /// The sink's counts (windows written, acknowledgements settled).
    pub summary: Summary,
    /// The source's counts (delivered, committed, rebalances).
    pub stats: KafkaSourceStats,
    /// The final synchronous commit: `(partition, offset)`.
    pub committed: Vec<(i32, i64)>,
}

/// A result as written: the key's sequence numbers it covers, from a window (`Some(start)`)
/// or a late record (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The window's start (ms), or `None` for a late record.
    pub window: Option<i64>,
    /// The records' sequence numbers, in arrival order.
    pub seqs: Vec<u64>,
}

/// Encodes a result: `"<start>:<seq>,<seq>..."` or `"late:<seq>"`.
pub fn encode(output: &Output) -> String {
    let seqs: Vec<String> = output.seqs.iter().map(u64::to_string).collect();
    match output.window {
        Some(start) => format!("{start}:{}", seqs.join(",")),
        None => format!("late:{}", seqs.join(",")),
    }
}

/// Decodes [`encode`]'s format.
pub fn decode(payload: &str) -> Option<Output> {
    let (head, seqs) = payload.split_once(':')?;
    let seqs = seqs
        .split(',')
        .map(str::parse)
        .collect::<Result<Vec<u64>, _>>()
        .ok()?;
    let window = if head == "late" {
        None
    } else {
        Some(head.parse().ok()?)
    };
    Some(Output { window, seqs })
}

/// `keys` × `per_key` input records `(key, seq, timestamp)`, in time order across keys.
pub fn demo_records(keys: usize, per_key: u64) -> Vec<(String, u64, i64)> {
    let mut out = Vec::with_capacity(keys * per_key as usize);
    for seq in 0..per_key {
        for k in 0..keys {
            let ts = BASE_MS + i64::try_from(seq).unwrap_or(i64::MAX) * STEP_MS;
            out.push((format!("key-{k:02}"), seq, ts));
        }
    }
    out
}

/// Writes `records` to `topic`, waiting for every confirmation.
pub async fn produce(
    brokers: &str,
    topic: &str,
    records: &[(String, u64, i64)],
) -> Result<(), BoxError> {
    use rdkafka::ClientConfig;
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        // Small batches: a fetch returns whole batches, so they bound how far one
        // partition's event time can run ahead of another's at a consumer.
        .set("batch.size", "4096")
        .create()?;
    let mut pending = Vec::with_capacity(records.len());
    for (key, seq, ts) in records {
        let payload = seq.to_string();
        let record = FutureRecord::to(topic)
            .key(key)
            .payload(&payload)
            .timestamp(*ts);
        pending.push(producer.send_result(record).map_err(|(e, _)| e)?);
    }
    for delivery in pending {
        delivery.await?.map_err(|(e, _)| e)?;
    }
    Ok(())
}

fn seq_of(message: &KafkaMessage) -> u64 {
    message
        .payload_str()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(0)
}

/// Runs one member until its input is idle (or forever): the scale-out pipeline.
pub async fn run_member(config: &MemberConfig) -> Result<MemberReport, BoxError> {
    let mut source = kafka::source(&config.brokers, &config.group)
        .topic(&config.input)
        .commit_every(200)
        .commit_interval(Duration::from_millis(500))
        .set("session.timeout.ms", config.session_timeout_ms.to_string())
        .set("heartbeat.interval.ms", "250")
        // Small fetches interleave the partitions, keeping event time close across them.
        .set("max.partition.fetch.bytes", "8192");
    if let Some(idle) = config.idle_exit {
        source = source.idle_timeout(idle);
    }
    let (source, handle) = source.build()?;
    let sink = kafka::sink(&config.brokers, &config.output)
        .max_in_flight(1_000)
        .build()?;

    let events = AsyncTask::emits::<KafkaMessage>()
        .name("kafka-group")
        .sender(source)
        .filter_map(|item| async move {
            match item {
                Ok(event) => Some(event),
                Err(error) => {
                    eprintln!("source: {error}");
                    None
                }
            }
        });
    let events: BoxStream<'static, SenderEvent<KafkaMessage>> = match config.max_rate {
        Some(rate) => events.rate_limit(rate, Duration::from_secs(1))?.boxed(),
        None => events.boxed(),
    };
    let windows = events
        .key_by(|e| e.data.key_str().unwrap_or_default().to_owned())
        .event_time_window(
            Tumbling::event_time(config.window_ms).out_of_orderness(config.out_of_orderness_ms),
            |e| e.data.timestamp.unwrap_or(0),
        )?
        .aggregate_windows(KeepAcks::new(Fold::new(
            Vec::new(),
            |mut seqs: Vec<u64>, e: SenderEvent<KafkaMessage>| {
                seqs.push(seq_of(&e.data));
                seqs
            },
        )));

    let member = config.name.clone();
    let summary = sink
        .write(windows, move |event| {
            let (key, output) = match event {
                WindowEvent::Fired(w) => (
                    w.key.clone(),
                    Output {
                        window: Some(w.start),
                        seqs: w.value.value.clone(),
                    },
                ),
                WindowEvent::Late(e) => (
                    e.data.key_str().unwrap_or_default().to_owned(),
                    Output {
                        window: None,
                        seqs: vec![seq_of(&e.data)],
                    },
                ),
                WindowEvent::Error(e) => return Err(e),
                // Window streams may grow new kinds of events: none is written silently.
                _ => return Err(TaskError::Failed("unexpected window event".into())),
            };
            Ok(KafkaRecord::new(encode(&output))
                .key(key)
                .header("member", member.clone()))
        })
        .await?;
    let stats = handle.stats();
    let committed = handle
        .close()
        .await?
        .into_iter()
        .map(|(_, partition, offset)| (partition, offset))
        .collect();
    Ok(MemberReport {
        summary,
        stats,
        committed,
    })
}

/// Command-line options: `--brokers`, `--group`, `--input`, `--output`, `--idle-exit`
/// (seconds), `--rate` (records/s), `--produce KEYSxPER_KEY`.
fn options() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if let Some(name) = flag.strip_prefix("--") {
            out.insert(name.to_owned(), args.next().unwrap_or_default());
        }
    }
    out
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let opts = options();
    let brokers = opts
        .get("brokers")
        .cloned()
        .or_else(|| std::env::var("SWEET_ASYNC_KAFKA_BROKERS").ok());
    let Some(brokers) = brokers else {
        return demo().await;
    };
    let get = |k: &str, default: &str| opts.get(k).cloned().unwrap_or_else(|| default.to_owned());
    let mut config = MemberConfig::new(
        &brokers,
        &get("group", "kafka-group-demo"),
        &get("input", "events"),
        &get("output", "counts"),
    );
    config.idle_exit = opts
        .get("idle-exit")
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs);
    config.max_rate = opts.get("rate").and_then(|s| s.parse().ok());
    if let Some((keys, per_key)) = opts.get("produce").and_then(|s| s.split_once('x')) {
        let records = demo_records(keys.parse()?, per_key.parse()?);
        produce(&brokers, &config.input, &records).await?;
        println!("produced {} records to {}", records.len(), config.input);
    }
    let report = run_member(&config).await?;
    println!("{}: {}", config.name, report.summary);
    println!("source: {:?}", report.stats);
    println!("committed: {:?}", report.committed);
    Ok(())
}

/// No brokers given: a mock cluster, 20 keys × 200 records, two members side by side.
async fn demo() -> Result<(), BoxError> {
    let cluster = rdkafka::mocking::MockCluster::new(1)?;
    cluster.create_topic("events", 4, 1)?;
    cluster.create_topic("counts", 4, 1)?;
    let brokers = cluster.bootstrap_servers();
    println!("mock cluster on {brokers}: topics `events` and `counts`, 4 partitions each");
    produce(&brokers, "events", &demo_records(20, 200)).await?;

    let member = |name: &str| {
        let mut config = MemberConfig::new(&brokers, "kafka-group-demo", "events", "counts");
        config.name = name.to_owned();
        config.idle_exit = Some(Duration::from_secs(4));
        config.max_rate = Some(1_000);
        config
    };
    let (a, b) = (member("a"), member("b"));
    let (ra, rb) = tokio::join!(run_member(&a), run_member(&b));
    for (name, report) in [("a", ra?), ("b", rb?)] {
        let partitions: Vec<i32> = report.committed.iter().map(|c| c.0).collect();
        println!("member {name}: {}", report.summary);
        println!(
            "  delivered {} records, committed partitions {partitions:?} at {:?}",
            report.stats.delivered,
            report.committed.iter().map(|c| c.1).collect::<Vec<_>>()
        );
    }
    Ok(())
}
