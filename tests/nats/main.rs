//! Integration tests of the NATS JetStream connector against a real server.
//!
//! The server's address comes from `SWEET_ASYNC_NATS_URL` (`.ci/servers` starts one with
//! JetStream); without it every test prints `skipped: SWEET_ASYNC_NATS_URL not set` and
//! passes. Each test creates its own streams (unique names) and deletes them at the end.

// Test helpers unwrap and panic: a failed expectation is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod crash;
mod sink;
mod source;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, consumer, stream};
use futures::future::join_all;
use sweet_async::connectors::nats::{JetStreamSource, JetStreamSourceBuilder};

/// How long a test's source waits for a message before it ends.
pub const IDLE: Duration = Duration::from_millis(1500);

/// The server address, or `None` (and a note on stderr) when the test must be skipped.
pub fn url() -> Option<String> {
    match std::env::var("SWEET_ASYNC_NATS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: SWEET_ASYNC_NATS_URL not set");
            None
        }
    }
}

/// A name no other test (or earlier run) uses: `<TAG>_<pid>_<nanos>_<n>`.
pub fn unique(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}_{}",
        tag.to_uppercase(),
        std::process::id(),
        nanos % 1_000_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A stream of this test: its name and the one subject it stores (`<name>.in`).
#[derive(Debug)]
pub struct TestStream {
    /// The JetStream context of this test's connection.
    pub js: jetstream::Context,
    /// The stream's name.
    pub name: String,
    /// The subject it stores.
    pub subject: String,
}

impl TestStream {
    /// A source on durable `durable` of this stream, ending after [`IDLE`] without a
    /// message.
    pub fn source(&self, durable: &str) -> JetStreamSourceBuilder {
        JetStreamSource::builder(self.js.clone(), &self.name, durable).idle_timeout(IDLE)
    }

    /// Creates stream `unique(tag)` storing subject `<name>.in`.
    pub async fn new(url: &str, tag: &str) -> TestStream {
        let js = sweet_async::connectors::nats::connect(url).await.unwrap();
        let name = unique(tag);
        let subject = format!("{name}.in");
        js.create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
        TestStream { js, name, subject }
    }

    /// Publishes `payloads` (pipelined) and waits for the server's acks.
    pub async fn fill<I: IntoIterator<Item = String>>(&self, payloads: I) {
        let mut pending = Vec::new();
        for p in payloads {
            pending.push(
                self.js
                    .publish(self.subject.clone(), p.into())
                    .await
                    .unwrap(),
            );
            if pending.len() == 500 {
                for r in join_all(pending.drain(..).map(|f| f.into_future())).await {
                    r.unwrap();
                }
            }
        }
        for r in join_all(pending.into_iter().map(|f| f.into_future())).await {
            r.unwrap();
        }
    }

    /// Creates the durable pull consumer `durable` with explicit acks, `ack_wait` and
    /// `max_ack_pending` (`-1`: the server's default).
    pub async fn consumer(&self, durable: &str, ack_wait: Duration, max_ack_pending: i64) {
        let stream = self.js.get_stream(&self.name).await.unwrap();
        stream
            .create_consumer(consumer::pull::Config {
                durable_name: Some(durable.to_owned()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait,
                max_ack_pending,
                ..Default::default()
            })
            .await
            .unwrap();
    }

    /// What the server says about consumer `durable`.
    pub async fn info(&self, durable: &str) -> consumer::Info {
        let stream = self.js.get_stream(&self.name).await.unwrap();
        let mut c: consumer::PullConsumer = stream.get_consumer(durable).await.unwrap();
        c.info().await.unwrap().clone()
    }

    /// Messages stored in the stream.
    pub async fn stored(&self) -> u64 {
        let mut stream = self.js.get_stream(&self.name).await.unwrap();
        stream.info().await.unwrap().state.messages
    }

    /// Deletes the stream.
    pub async fn delete(self) {
        let _ = self.js.delete_stream(&self.name).await;
    }
}

/// Runs `f` within `secs` seconds or fails the test.
pub async fn within<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("the test took too long")
}

/// Every message of `stream` (subject and payload), read with an ephemeral ordered
/// consumer.
pub async fn read_all(js: &jetstream::Context, stream: &str) -> Vec<(String, String)> {
    use futures::StreamExt;
    let mut s = js.get_stream(stream).await.unwrap();
    let n = s.info().await.unwrap().state.messages;
    let c = s
        .create_consumer(consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut messages = c.messages().await.unwrap();
    let mut out = Vec::new();
    while (out.len() as u64) < n {
        let m = within(20, messages.next()).await.unwrap().unwrap();
        out.push((
            m.subject.to_string(),
            String::from_utf8(m.payload.to_vec()).unwrap(),
        ));
    }
    out
}
