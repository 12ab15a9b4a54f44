//! [`KeepAcks`]: an aggregate that carries its elements' acknowledgements to the window's
//! final firing.

use crate::ack::{Acked, Acks, TakeAcks};

use super::WindowAggregate;

/// Wraps an aggregate so that a window over acknowledged elements owes their sources
/// until it fires for the last time: the elements' obligations are taken as they are
/// folded in, and the last firing's value ([`Acked`]) carries them all. Firings that keep
/// the window open (early and late updates) carry none, so nothing is acknowledged before
/// the window's final value was handled.
///
/// The open window's obligations hold its elements' deliveries: a source that commits
/// cumulatively (Kafka offsets) commits no further than the oldest open window's first
/// element.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use sweet_async::ack::TakeAcks;
/// use sweet_async::prelude::*;
/// use sweet_async::operators::window::{Fold, KeepAcks, Tumbling};
/// use sweet_async::stream::SenderEventBuilder;
///
/// # futures::executor::block_on(async {
/// let events = (0..6).map(|t| SenderEventBuilder::new(t as i64).build());
/// let windows: Vec<_> = futures::stream::iter(events)
///     .event_time_window(Tumbling::event_time(3), |e| e.data)?
///     .aggregate_windows(KeepAcks::new(Fold::new(0, |sum: i64, e: sweet_async::stream::SenderEvent<i64>| sum + e.data)))
///     .filter_map(|w| async move { w.into_window() })
///     .collect()
///     .await;
/// let sums: Vec<i64> = windows.into_iter().map(|mut w| {
///     let acks = w.take_acks(); // settle after the window's value was written
///     acks.ack();
///     w.value.value
/// }).collect();
/// assert_eq!(sums, [3, 12]);
/// # Ok::<_, ConfigError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct KeepAcks<G> {
    inner: G,
}

impl<G> KeepAcks<G> {
    /// `inner`, carrying its elements' acknowledgements to the last firing.
    pub fn new(inner: G) -> Self {
        KeepAcks { inner }
    }
}

impl<T: TakeAcks, G: WindowAggregate<T>> WindowAggregate<T> for KeepAcks<G> {
    type Acc = (G::Acc, Acks);
    type Output = Acked<G::Output>;

    fn create(&mut self, mut first: T) -> Self::Acc {
        let acks = first.take_acks();
        (self.inner.create(first), acks)
    }

    fn add(&mut self, (acc, mut acks): Self::Acc, mut item: T) -> Self::Acc {
        acks.merge(item.take_acks());
        (self.inner.add(acc, item), acks)
    }

    fn output(&mut self, acc: &Self::Acc) -> Self::Output {
        Acked::new(self.inner.output(&acc.0), Acks::none())
    }

    fn finish(&mut self, (acc, acks): Self::Acc) -> Self::Output {
        Acked::new(self.inner.finish(acc), acks)
    }

    fn merge(&mut self, earlier: Self::Acc, later: Self::Acc) -> Option<Self::Acc> {
        let (acc, mut acks) = earlier;
        let merged = self.inner.merge(acc, later.0)?;
        acks.merge(later.1);
        Some((merged, acks))
    }
}
