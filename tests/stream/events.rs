//! The event API, the builder, and plain `StreamExt` / `tokio-stream`-style consumers.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use futures::stream::FusedStream;
use futures::{Stream, StreamExt};
use sweet_async::ack::{AckSink, Acks as Owed, Outcome};
use sweet_async::prelude::*;
use sweet_async::stream::Position;
use sweet_async::stream::source::of;
use sweet_async::task::TaskId;

#[derive(Default)]
struct Acks(Mutex<Vec<String>>);

impl AckSink for Acks {
    fn settle(&self, _partition: u32, range: std::ops::Range<u64>, outcome: Outcome<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{outcome} {}", range.start));
    }
}

#[test]
fn hand_built_events_carry_everything_and_map_data_keeps_it() {
    let acks = Arc::new(Acks::default());
    let task = TaskId::new();
    let at = SystemTime::UNIX_EPOCH;
    let event = SenderEventBuilder::new(vec![1u8, 2, 3])
        .with_id(EventId::new(task, 9))
        .with_timestamp(at)
        .position(Position::new(4, 100))
        .source_name("feed")
        .batch_id(2)
        .final_event(true)
        .metadata("topic", "trades")
        .acks(Owed::new(acks.clone(), 0, 9..10))
        .build();
    assert_eq!(event.id(), EventId::new(task, 9));
    assert_eq!(event.offset(), Some(100));
    assert!(event.is_final());
    let mut clone = event.clone();
    assert!(event.owes_ack() && !clone.owes_ack()); // a clone owes nothing
    clone.acknowledge();
    let mut mapped = event.map_data(|v| v.len());
    assert_eq!(*mapped.data(), 3);
    assert_eq!(mapped.metadata_value("topic"), Some("trades"));
    assert_eq!(mapped.timestamp(), Some(at));
    assert_eq!(mapped.batch_id(), Some(2));
    assert_eq!(mapped.source_name(), Some("feed"));
    mapped.reject("schema mismatch"); // still reaches the source
    mapped.acknowledge(); // settled once: a second verdict is a no-op
    assert_eq!(*acks.0.lock().unwrap(), ["rejected: schema mismatch 9"]);
    let cloned = mapped.clone();
    assert_eq!(cloned.metadata().len(), 1);
    assert!(format!("{cloned:?}").contains("topic"));
}

#[test]
fn events_without_extras_allocate_nothing_and_acks_are_no_ops() {
    let mut event = SenderEvent::new("x");
    assert!(event.metadata().is_empty());
    event.acknowledge();
    event.reject("nobody listens");
    event.insert_metadata("k", "v");
    assert_eq!(event.metadata_value("k"), Some("v"));
    assert_eq!(event.id(), EventId::default());
    assert_eq!(
        event.id().to_string(),
        "00000000-0000-0000-0000-000000000000#0"
    );
}

#[tokio::test]
async fn timestamps_are_opt_in() {
    let before = SystemTime::now();
    let events: Vec<_> = AsyncTask::emits::<u8>()
        .with_timestamps()
        .sender(of([1, 2]))
        .map(Result::unwrap)
        .collect()
        .await;
    assert!(events.iter().all(|e| e.timestamp().unwrap() >= before));
}

#[tokio::test]
async fn name_id_and_into_data() {
    let task = TaskId::new();
    let stream = AsyncTask::emits::<u8>()
        .name("numbers")
        .id(task)
        .tracing(true)
        .sender(of([7, 8]));
    assert_eq!(stream.task_id(), task);
    assert_eq!(stream.error_policy(), ErrorPolicy::Collect);
    let data: Vec<u8> = stream.into_data().map(Result::unwrap).collect().await;
    assert_eq!(data, [7, 8]);
    let named: Vec<_> = AsyncTask::emits::<u8>()
        .name("numbers")
        .sender(of([1]))
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(named[0].source_name(), Some("numbers"));
}

#[tokio::test]
async fn plain_stream_ext_combinators_consume_an_emitting_stream() {
    let stream = AsyncTask::emits::<u32>().sender(of(1..=10));
    let evens: Vec<u32> = stream
        .filter_map(|r| async move { r.ok() })
        .map(SenderEvent::into_data)
        .filter(|x| futures::future::ready(x % 2 == 0))
        .take(3)
        .collect()
        .await;
    assert_eq!(evens, [2, 4, 6]);

    // Fused: keeps answering `None` after the end.
    let mut stream = AsyncTask::emits::<u32>().sender(of([1]));
    assert_eq!(stream.size_hint(), (0, Some(1)));
    assert!(stream.next().await.is_some());
    assert!(stream.next().await.is_none());
    assert!(stream.is_terminated());
    assert!(stream.next().await.is_none());
    assert_eq!(stream.size_hint(), (0, Some(0)));
}

#[tokio::test]
async fn emitting_streams_work_with_tokio_and_futures_channels() {
    let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
    for i in 0..3 {
        tx.unbounded_send(i).unwrap();
    }
    drop(tx);
    let out: Vec<u32> = AsyncTask::emits::<u32>()
        .sender(rx)
        .map(|r| r.unwrap().into_data())
        .collect()
        .await;
    assert_eq!(out, [0, 1, 2]);
}

#[test]
fn public_types_are_send_and_sync_where_they_should_be() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<SenderEvent<String>>();
    sync::<SenderEvent<String>>();
    send::<EventError>();
    sync::<EventError>();
    send::<Collector<String, u64>>();
    sync::<Collector<String, u64>>();
    send::<sweet_async::stream::SourceStats>();
    send::<sweet_async::stream::Sender<u8>>();
    send::<Summary>();
}

/// A logged message and the name of the span it was logged in.
type Message = (Option<&'static str>, String);

/// Messages logged while polling.
#[derive(Clone, Default)]
struct Logged(Arc<Mutex<Vec<Message>>>);

impl<S> tracing_subscriber::Layer<S> for Logged
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        struct Text<'a>(&'a mut String);
        impl tracing::field::Visit for Text<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    *self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = String::new();
        event.record(&mut Text(&mut message));
        let span = ctx.event_span(event).map(|s| s.name());
        self.0.lock().unwrap().push((span, message));
    }
}

#[test]
fn a_traced_stream_logs_inside_its_span() {
    use tracing_subscriber::layer::SubscriberExt;
    let logged = Logged::default();
    let subscriber = tracing_subscriber::registry().with(logged.clone());
    let items: Vec<_> = tracing::subscriber::with_default(subscriber, || {
        futures::executor::block_on(
            AsyncTask::emits::<u8>()
                .name("readings")
                .tracing(true)
                .sender(futures::stream::iter(vec![
                    Ok(1),
                    Err("sensor offline"),
                    Ok(3),
                ]))
                .collect::<Vec<_>>(),
        )
    });
    assert_eq!(items.len(), 3);
    let logged = logged.0.lock().unwrap().clone();
    assert_eq!(
        logged,
        [
            (Some("emits"), "item failed".to_owned()),
            (Some("emits"), "emitting task finished".to_owned())
        ]
    );
}
