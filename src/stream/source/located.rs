//! [`located`]: a stream that already yields [`SourceItem`]s (values with positions and
//! acknowledgements, or located errors) as a source. Connectors are built on it.

use std::sync::Arc;

use futures::Stream;

use super::{Chunked, IntoSource, SourceContext, SourceItem, marker};
use crate::units::Count;

/// A stream of [`SourceItem`]s as a source: each item's position, batch number and
/// [`Acks`](crate::ack::Acks) go into its event unchanged.
///
/// This is how a source of your own gives its events acknowledgements: attach an
/// [`Acks`](crate::ack::Acks) to each [`Located`](super::Located) item, and the receiver
/// (or a sink) settles it once the event was handled.
///
/// # Examples
///
/// ```
/// use std::ops::Range;
/// use std::sync::{Arc, Mutex};
/// use sweet_async::ack::{AckSink, Acks, Outcome};
/// use sweet_async::collect::Collector;
/// use sweet_async::prelude::*;
/// use sweet_async::stream::Located;
/// use sweet_async::stream::source::located;
///
/// #[derive(Default)]
/// struct Offsets(Mutex<Vec<String>>);
/// impl AckSink for Offsets {
///     fn settle(&self, _partition: u32, range: Range<u64>, outcome: Outcome<'_>) {
///         self.0.lock().unwrap().push(format!("{range:?} {outcome}"));
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let offsets = Arc::new(Offsets::default());
/// let sink: Arc<dyn AckSink> = offsets.clone();
/// let items = (0..3u64).map(move |o| Ok(Located::bare(o).with_acks(Acks::new(sink.clone(), 0, o..o + 1))));
/// let summary = AsyncTask::emits::<u64>()
///     .sender(located(futures::stream::iter(items)))
///     .receiver(ReceiverStrategy::Serial, |e, _: Collector<(), ()>| async move {
///         if e.data == 1 { Err("cannot parse") } else { Ok(()) }
///     })
///     .await_final_event(|summary, _| summary)
///     .await;
/// assert_eq!((summary.acks.acked, summary.acks.rejected), (2, 1));
/// let log = offsets.0.lock().unwrap();
/// assert_eq!((log[0].as_str(), log[2].as_str()), ("0..1 acknowledged", "2..3 acknowledged"));
/// assert!(log[1].starts_with("1..2 rejected: event ") && log[1].ends_with("#1: receiver failed: cannot parse"));
/// # }
/// ```
pub fn located<S>(stream: S) -> LocatedSource<S> {
    LocatedSource { stream, name: None }
}

/// The source made by [`located`].
#[must_use = "a source does nothing until given to `sender(..)`"]
#[derive(Debug)]
pub struct LocatedSource<S> {
    stream: S,
    name: Option<Arc<str>>,
}

impl<S> LocatedSource<S> {
    /// Names the source: its events carry the name (a topic, a table).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Emits chunks of `size` items ([`Chunk<T>`](super::Chunk) events) instead of single items; a chunk
    /// owes its source the acknowledgements of all its items, merged into ranges.
    pub fn into_chunks(self, size: impl Into<Count>) -> Chunked<Self> {
        Chunked::new(self, size.into())
    }
}

impl<T, S> IntoSource<T, marker::Native> for LocatedSource<S>
where
    S: Stream<Item = SourceItem<T>>,
{
    type Data = T;
    type Source = S;

    fn name(&self) -> Option<Arc<str>> {
        self.name.clone()
    }

    fn into_source(self, _ctx: &SourceContext) -> S {
        self.stream
    }
}
