//! [`CollectMap`]: every item of a stream into a keyed map, with a summary.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use pin_project_lite::pin_project;

use crate::collect::summary::{Summary, Tally};

pin_project! {
    /// The future returned by [`collect_map`](crate::collect::CollectExt::collect_map).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct CollectMap<S, F, K, V> {
        #[pin]
        stream: S,
        f: F,
        map: HashMap<K, V>,
        tally: Tally,
        done: bool,
    }
}

impl<S, F, K, V> CollectMap<S, F, K, V> {
    pub(crate) fn new(stream: S, f: F) -> Self {
        CollectMap {
            stream,
            f,
            map: HashMap::new(),
            tally: Tally::default(),
            done: false,
        }
    }
}

impl<S, F, K, V> Future for CollectMap<S, F, K, V>
where
    S: Stream,
    F: FnMut(S::Item) -> (K, V),
    K: Hash + Eq,
{
    type Output = (HashMap<K, V>, Summary);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.done {
            return Poll::Pending;
        }
        let mut stream = this.stream;
        let (f, map) = (this.f, this.map);
        let ended = this.tally.drain(stream.as_mut(), cx, |tally, item| {
            let (k, v) = f(item);
            tally.out = tally.out.saturating_add(1);
            tally.values = tally.values.saturating_add(1);
            if map.insert(k, v).is_some() {
                tally.duplicates = tally.duplicates.saturating_add(1);
            }
        });
        if ended.is_pending() {
            return Poll::Pending;
        }
        *this.done = true;
        Poll::Ready((std::mem::take(map), this.tally.finish()))
    }
}

impl<S: fmt::Debug, F, K, V> fmt::Debug for CollectMap<S, F, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectMap")
            .field("stream", &self.stream)
            .field("keys", &self.map.len())
            .finish_non_exhaustive()
    }
}
