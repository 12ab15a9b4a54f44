//! The state of the interval and regular joins: each side's elements by key, ordered by the
//! time they may leave the state.

use std::collections::hash_map::Entry as Slot;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;

/// The key index: std's randomly keyed SipHash. Join keys may come from outside (Kafka,
/// NATS): under FxHash keys crafted to collide turn every probe into a scan of all of them
/// (O(n^2)). The price, against FxHash (Nexmark, 200 000 events, inline, callgrind): q3
/// 15.7 -> 18.3 M instructions, q4 144 -> 175 M (one probe per bid, about 170
/// instructions each).
type Index<K, V> = HashMap<K, V>;

/// One stored element.
#[derive(Debug)]
pub(crate) struct Entry<T> {
    pub(crate) ts: i64,
    /// The element leaves the state once the watermark passes this time (and, past the
    /// state bound, the smallest `until` leaves first).
    pub(crate) until: i64,
    pub(crate) value: T,
}

/// A key's elements in two slices (older first), as a `VecDeque` holds them.
pub(crate) type Halves<'a, T> = (&'a [Entry<T>], &'a [Entry<T>]);

/// A key's elements, sorted by `until`; most keys hold one, which needs no allocation.
#[derive(Debug)]
enum Bucket<T> {
    One(Entry<T>),
    Many(VecDeque<Entry<T>>),
}

impl<T> Bucket<T> {
    fn slices(&self) -> Halves<'_, T> {
        match self {
            Bucket::One(e) => (std::slice::from_ref(e), &[]),
            Bucket::Many(v) => v.as_slices(),
        }
    }

    fn push(&mut self, entry: Entry<T>) {
        if let Bucket::One(_) = self {
            let old = std::mem::replace(self, Bucket::Many(VecDeque::with_capacity(4)));
            if let (Bucket::One(first), Bucket::Many(list)) = (old, &mut *self) {
                list.push_back(first);
            }
        }
        if let Bucket::Many(list) = self {
            match list.back() {
                Some(last) if last.until > entry.until => {
                    let at = list.partition_point(|e| e.until <= entry.until);
                    list.insert(at, entry);
                }
                _ => list.push_back(entry),
            }
        }
    }
}

/// Elements by key, with one registration per element in `until` order: a queue while
/// elements arrive in `until` order (the usual case), a tree for the others.
#[derive(Debug)]
pub(crate) struct KeyedBuffer<K, T> {
    map: Index<K, Bucket<T>>,
    in_order: VecDeque<(i64, K)>,
    out_of_order: BTreeMap<i64, Vec<K>>,
    len: usize,
}

impl<K: Hash + Eq + Clone, T> KeyedBuffer<K, T> {
    pub(crate) fn new() -> Self {
        KeyedBuffer {
            map: HashMap::new(),
            in_order: VecDeque::new(),
            out_of_order: BTreeMap::new(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The elements stored under `key`, in two slices.
    #[inline]
    pub(crate) fn get(&self, key: &K) -> Option<Halves<'_, T>> {
        self.map.get(key).map(Bucket::slices)
    }

    /// Stores an element; returns whether `key` already held elements.
    pub(crate) fn insert(&mut self, key: K, ts: i64, until: i64, value: T) -> bool {
        let entry = Entry { ts, until, value };
        match self.in_order.back() {
            Some(&(last, _)) if last > until => {
                self.out_of_order
                    .entry(until)
                    .or_default()
                    .push(key.clone());
            }
            _ => self.in_order.push_back((until, key.clone())),
        }
        let had_key = match self.map.entry(key) {
            Slot::Occupied(mut slot) => {
                slot.get_mut().push(entry);
                true
            }
            Slot::Vacant(slot) => {
                slot.insert(Bucket::One(entry));
                false
            }
        };
        self.len = self.len.saturating_add(1);
        had_key
    }

    /// Removes `key`'s elements with `until < watermark`; returns how many.
    fn expire_key(&mut self, key: K, watermark: i64) -> u64 {
        let Slot::Occupied(mut slot) = self.map.entry(key) else {
            return 0;
        };
        let mut removed = 0;
        let empty = match slot.get_mut() {
            Bucket::One(e) => {
                removed = u64::from(e.until < watermark);
                removed == 1
            }
            Bucket::Many(list) => {
                while list.front().is_some_and(|e| e.until < watermark) {
                    list.pop_front();
                    removed = removed.saturating_add(1);
                }
                list.is_empty()
            }
        };
        if empty {
            slot.remove();
        }
        removed
    }

    /// Removes every element with `until < watermark`; returns how many.
    pub(crate) fn expire(&mut self, watermark: i64) -> u64 {
        let mut removed = 0u64;
        while self.in_order.front().is_some_and(|(u, _)| *u < watermark) {
            if let Some((_, key)) = self.in_order.pop_front() {
                removed = removed.saturating_add(self.expire_key(key, watermark));
            }
        }
        while let Some(entry) = self.out_of_order.first_entry() {
            if *entry.key() >= watermark {
                break;
            }
            for key in entry.remove() {
                removed = removed.saturating_add(self.expire_key(key, watermark));
            }
        }
        self.len = self.len.saturating_sub(removed as usize);
        removed
    }

    /// Removes and returns the element with the smallest `until`.
    pub(crate) fn evict_oldest(&mut self) -> Option<Entry<T>> {
        loop {
            let queue_first = self.in_order.front().map(|(u, _)| *u);
            let tree_first = self.out_of_order.first_key_value().map(|(u, _)| *u);
            let key = match (queue_first, tree_first) {
                (None, None) => return None,
                (Some(q), Some(t)) if t < q => self.pop_tree()?,
                (Some(_), _) => self.in_order.pop_front()?.1,
                (None, Some(_)) => self.pop_tree()?,
            };
            let entry = match self.map.remove(&key) {
                Some(Bucket::One(e)) => Some(e),
                Some(Bucket::Many(mut list)) => {
                    let e = list.pop_front();
                    if !list.is_empty() {
                        self.map.insert(key, Bucket::Many(list));
                    }
                    e
                }
                None => None,
            };
            if let Some(entry) = entry {
                self.len = self.len.saturating_sub(1);
                return Some(entry);
            }
        }
    }

    fn pop_tree(&mut self) -> Option<K> {
        let mut first = self.out_of_order.first_entry()?;
        let key = first.get_mut().pop();
        if first.get().is_empty() {
            first.remove();
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(b: &KeyedBuffer<&str, char>, k: &str) -> Vec<char> {
        b.get(&k)
            .map(|(x, y)| x.iter().chain(y).map(|e| e.value).collect())
            .unwrap_or_default()
    }

    #[test]
    fn expires_and_evicts_by_until() {
        let mut b = KeyedBuffer::new();
        b.insert("a", 1, 10, 'x');
        b.insert("a", 2, 5, 'y');
        b.insert("b", 3, 7, 'z');
        assert_eq!(b.len(), 3);
        assert_eq!(values(&b, "a"), ['y', 'x']);
        assert_eq!(b.evict_oldest().map(|e| e.value), Some('y'));
        assert_eq!(b.expire(8), 1); // 'z' (until 7)
        assert_eq!(b.len(), 1);
        assert_eq!(b.expire(10), 0); // until 10 is not < 10
        assert_eq!(b.expire(11), 1);
        assert!(b.get(&"a").is_none());
        assert!(b.evict_oldest().is_none());
    }
}
