//! A consumer process killed (SIGKILL) in the middle of a stream loses nothing: a second
//! consumer on the same durable takes over, every input ends in the output at least once,
//! and the duplicates stay within what the killed process held un-acknowledged.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use sweet_async::connectors::nats::{Delivery, JetStreamSource, JetStreamStats, Publish, publish};
use sweet_async::prelude::*;

use crate::{TestStream, read_all, url, within};

/// Set in the child process: `<input stream>|<output subject>`.
const CHILD: &str = "SWEET_ASYNC_NATS_CRASH_CHILD";
const N: u64 = 2000;
/// Deliveries a consumer holds un-acknowledged, in the process and on the server.
const BOUND: usize = 64;

/// Reads the input stream through durable `worker` and publishes each message's stream
/// sequence to `out`, pausing `pause` per message.
async fn consume(url: &str, stream: &str, out: &str, pause: Duration) -> (Summary, JetStreamStats) {
    let js = sweet_async::connectors::nats::connect(url).await.unwrap();
    let source = JetStreamSource::builder(js.clone(), stream, "worker")
        .batch(16)
        .max_ack_pending(BOUND)
        .idle_timeout(Duration::from_secs(5))
        .build()
        .await
        .unwrap();
    let handle = source.handle();
    let events = AsyncTask::emits::<Delivery>()
        .sender(source)
        .then(move |e| async move {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            e
        });
    let out = out.to_owned();
    let summary = publish(js, events, move |e| {
        let d = e.ok()?.data;
        Some(Publish::new(out.clone(), d.stream_sequence.to_string()))
    })
    .max_in_flight(16)
    .await
    .unwrap();
    handle.flush().await.unwrap();
    (summary, handle.stats())
}

/// The consumer process of [`a_killed_consumer_loses_nothing`]: does nothing unless
/// started by it.
#[tokio::test]
async fn consumer_process() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let url = std::env::var("SWEET_ASYNC_NATS_URL").unwrap();
    let (stream, out) = spec.split_once('|').unwrap();
    consume(&url, stream, out, Duration::from_millis(1)).await;
}

#[tokio::test]
async fn a_killed_consumer_loses_nothing() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let Some(url) = url() else { return };
    let input = TestStream::new(&url, "crash_in").await;
    let output = TestStream::new(&url, "crash_out").await;
    input.fill((0..N).map(|i| format!("reading {i}"))).await;
    input
        .consumer("worker", Duration::from_secs(2), BOUND as i64)
        .await;

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash::consumer_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, format!("{}|{}", input.name, output.subject))
        .env("SWEET_ASYNC_NATS_URL", &url)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has written part of the output.
    let written_at_kill = within(60, async {
        loop {
            let n = output.stored().await;
            if n >= 500 {
                return n;
            }
            assert!(child.try_wait().unwrap().is_none(), "the child ended early");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(written_at_kill < N, "killed too late: {written_at_kill}");

    // A second consumer takes over; the killed one's deliveries come back after ack_wait.
    let (summary, stats) = within(
        120,
        consume(&url, &input.name, &output.subject, Duration::ZERO),
    )
    .await;
    assert_eq!(summary.errors, 0);
    assert_eq!(stats.in_flight, 0);

    let mut count: BTreeMap<u64, u64> = BTreeMap::new();
    for (_, payload) in read_all(&output.js, &output.name).await {
        *count.entry(payload.parse().unwrap()).or_default() += 1;
    }
    let missing: Vec<u64> = (1..=N).filter(|s| !count.contains_key(s)).collect();
    assert!(missing.is_empty(), "lost inputs: {missing:?}");
    assert_eq!(count.len() as u64, N);
    let duplicates: u64 = count.values().map(|c| c - 1).sum();
    eprintln!(
        "crash: {written_at_kill} written before the kill, {duplicates} duplicates \
         (bound {BOUND}); takeover: {stats}"
    );
    assert!(duplicates <= BOUND as u64, "{duplicates} duplicates");
    assert_eq!(input.info("worker").await.num_ack_pending, 0);
    input.delete().await;
    output.delete().await;
}
