//! [`Order`]: how finished calls reach the output of an async parallel map, in input
//! order ([`InOrder`], `par_map`) or as they finish ([`AnyOrder`], `par_map_unordered`).

use std::collections::VecDeque;

/// How finished calls reach the output: in input order (`par_map`) or as they finish
/// (`par_map_unordered`).
pub(crate) trait Order<T>: Default + Send + 'static {
    /// Hands the result of call `index` to `out`, now or once the calls before it have.
    fn deliver(&mut self, index: u64, result: T, out: &mut VecDeque<T>);

    /// Calls counted as in flight: running (`running`) or finished but waiting for an
    /// earlier call. `next` is the index of the next call to start.
    fn in_flight(&self, next: u64, running: usize) -> usize;

    /// Forgets every waiting result.
    fn clear(&mut self);
}

/// Results in input order: a result that finishes early waits in a ring indexed from
/// the oldest call not yet delivered (at most `n` long).
#[derive(Debug)]
pub(crate) struct InOrder<T> {
    /// The index of the oldest call not yet delivered (`ring[0]`).
    base: u64,
    ring: VecDeque<Option<T>>,
}

impl<T> Default for InOrder<T> {
    fn default() -> Self {
        InOrder {
            base: 0,
            ring: VecDeque::new(),
        }
    }
}

impl<T: Send + 'static> Order<T> for InOrder<T> {
    fn deliver(&mut self, index: u64, result: T, out: &mut VecDeque<T>) {
        let slot = usize::try_from(index.saturating_sub(self.base)).unwrap_or(usize::MAX);
        if slot == 0 && self.ring.is_empty() {
            // The common case: calls finish about in order.
            out.push_back(result);
            self.base = self.base.saturating_add(1);
            return;
        }
        if self.ring.len() <= slot {
            self.ring.resize_with(slot.saturating_add(1), || None);
        }
        if let Some(place) = self.ring.get_mut(slot) {
            *place = Some(result);
        }
        while let Some(Some(_)) = self.ring.front() {
            if let Some(Some(ready)) = self.ring.pop_front() {
                out.push_back(ready);
                self.base = self.base.saturating_add(1);
            }
        }
    }

    fn in_flight(&self, next: u64, _running: usize) -> usize {
        usize::try_from(next.saturating_sub(self.base)).unwrap_or(usize::MAX)
    }

    fn clear(&mut self) {
        self.ring.clear();
    }
}

/// Results as they finish.
#[derive(Debug)]
pub(crate) struct AnyOrder<T>(std::marker::PhantomData<fn(T) -> T>);

impl<T> Default for AnyOrder<T> {
    fn default() -> Self {
        AnyOrder(std::marker::PhantomData)
    }
}

impl<T: 'static> Order<T> for AnyOrder<T> {
    fn deliver(&mut self, _index: u64, result: T, out: &mut VecDeque<T>) {
        out.push_back(result);
    }

    fn in_flight(&self, _next: u64, running: usize) -> usize {
        running
    }

    fn clear(&mut self) {}
}
