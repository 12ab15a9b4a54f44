use std::sync::{Arc, Mutex};

use sweet_async::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::Boom;

#[derive(Debug, Clone, Default)]
struct SpanRec {
    name: &'static str,
    parent: Option<&'static str>,
    fields: Vec<(String, String)>,
}

/// Events seen: the name of the span they were in, and their fields.
type Events = Arc<Mutex<Vec<(Option<&'static str>, Vec<(String, String)>)>>>;

#[derive(Default, Clone)]
struct Capture {
    spans: Arc<Mutex<Vec<(Id, SpanRec)>>>,
    events: Events,
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut rec = SpanRec {
            name: attrs.metadata().name(),
            ..Default::default()
        };
        rec.parent = ctx.span(id).and_then(|s| s.parent()).map(|p| p.name());
        attrs.record(&mut Fields(&mut rec.fields));
        self.spans.lock().unwrap().push((id.clone(), rec));
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.spans.lock().unwrap();
        if let Some((_, rec)) = spans.iter_mut().find(|(i, _)| i == id) {
            values.record(&mut Fields(&mut rec.fields));
        }
    }
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        let parent = ctx.event_span(event).map(|s| s.name());
        self.events.lock().unwrap().push((parent, fields));
    }
}

fn field<'a>(rec: &'a SpanRec, name: &str) -> Option<&'a str> {
    rec.fields
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "current_thread")]
async fn one_task_span_with_a_child_per_attempt_and_errors_recorded() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let id = TaskId::new();
    let r = AsyncTask::to::<u8>()
        .name("api-request")
        .id(id)
        .tracing(true)
        .with_field("endpoint", "/api/users")
        .with_field("user_id", 42)
        .retry_strategy(sweet_async::task::RetryStrategy::Immediate)
        .retry(1)
        .run(|| async { Err::<u8, _>(Boom("db down")) })
        .await;
    assert!(r.is_error());

    let spans = capture.spans.lock().unwrap().clone();
    let tasks: Vec<_> = spans.iter().filter(|(_, s)| s.name == "task").collect();
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0].1;
    assert_eq!(field(task, "name"), Some("api-request"));
    assert_eq!(field(task, "id"), Some(id.to_string().as_str()));
    assert_eq!(
        field(task, "fields"),
        Some("endpoint=/api/users user_id=42")
    );
    assert_eq!(field(task, "attempts"), Some("2"));
    assert_eq!(field(task, "outcome"), Some("failed"));
    assert_eq!(
        field(task, "error"),
        Some("task failed after 2 attempts: task failed: db down")
    );

    let attempts: Vec<_> = spans.iter().filter(|(_, s)| s.name == "attempt").collect();
    assert_eq!(attempts.len(), 2);
    for (i, (_, a)) in attempts.iter().enumerate() {
        assert_eq!(a.parent, Some("task"));
        assert_eq!(field(a, "n"), Some((i + 1).to_string().as_str()));
        assert_eq!(field(a, "error"), Some("task failed: db down"));
    }
    let events = capture.events.lock().unwrap().clone();
    let in_attempt = events.iter().filter(|(p, _)| *p == Some("attempt")).count();
    assert_eq!(in_attempt, 2);
}

#[tokio::test(flavor = "current_thread")]
async fn no_spans_when_tracing_is_off() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let _ = AsyncTask::to::<u8>()
        .run(|| async { Ok::<_, Boom>(1) })
        .await;
    assert!(capture.spans.lock().unwrap().is_empty());
}
