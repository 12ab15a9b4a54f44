//! The state of the interval and regular joins: each side's elements by key, ordered by the
//! time they may leave the state.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;

/// One stored element.
#[derive(Debug)]
pub(crate) struct Entry<T> {
    pub(crate) ts: i64,
    /// The element leaves the state once the watermark passes this time (and, past the
    /// state bound, the smallest `until` leaves first).
    pub(crate) until: i64,
    pub(crate) value: T,
}

/// Elements by key; each key's elements sorted by `until`.
#[derive(Debug)]
pub(crate) struct KeyedBuffer<K, T> {
    map: HashMap<K, VecDeque<Entry<T>>>,
    /// One registration per stored element: `until -> keys`.
    by_until: BTreeMap<i64, Vec<K>>,
    len: usize,
}

impl<K: Hash + Eq + Clone, T> KeyedBuffer<K, T> {
    pub(crate) fn new() -> Self {
        KeyedBuffer {
            map: HashMap::new(),
            by_until: BTreeMap::new(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The elements stored under `key`.
    #[inline]
    pub(crate) fn get(&self, key: &K) -> Option<&VecDeque<Entry<T>>> {
        self.map.get(key)
    }

    /// Stores an element.
    pub(crate) fn insert(&mut self, key: K, ts: i64, until: i64, value: T) {
        let entry = Entry { ts, until, value };
        self.by_until.entry(until).or_default().push(key.clone());
        let list = self.map.entry(key).or_default();
        match list.back() {
            Some(last) if last.until > until => {
                let at = list.partition_point(|e| e.until <= until);
                list.insert(at, entry);
            }
            _ => list.push_back(entry),
        }
        self.len += 1;
    }

    /// Removes every element with `until < watermark`; returns how many.
    pub(crate) fn expire(&mut self, watermark: i64) -> u64 {
        let mut removed = 0u64;
        while let Some(entry) = self.by_until.first_entry() {
            if *entry.key() >= watermark {
                break;
            }
            for key in entry.remove() {
                let Some(list) = self.map.get_mut(&key) else {
                    continue;
                };
                while list.front().is_some_and(|e| e.until < watermark) {
                    list.pop_front();
                    removed += 1;
                }
                if list.is_empty() {
                    self.map.remove(&key);
                }
            }
        }
        self.len = self.len.saturating_sub(removed as usize);
        removed
    }

    /// Removes and returns the element with the smallest `until`.
    pub(crate) fn evict_oldest(&mut self) -> Option<Entry<T>> {
        loop {
            let mut bucket = self.by_until.first_entry()?;
            let Some(key) = bucket.get_mut().pop() else {
                bucket.remove();
                continue;
            };
            if bucket.get().is_empty() {
                bucket.remove();
            }
            let Some(list) = self.map.get_mut(&key) else {
                continue;
            };
            let entry = list.pop_front();
            if list.is_empty() {
                self.map.remove(&key);
            }
            if entry.is_some() {
                self.len = self.len.saturating_sub(1);
                return entry;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_and_evicts_by_until() {
        let mut b = KeyedBuffer::new();
        b.insert("a", 1, 10, 'x');
        b.insert("a", 2, 5, 'y');
        b.insert("b", 3, 7, 'z');
        assert_eq!(b.len(), 3);
        let order: Vec<char> = b.get(&"a").unwrap().iter().map(|e| e.value).collect();
        assert_eq!(order, ['y', 'x']);
        assert_eq!(b.evict_oldest().map(|e| e.value), Some('y'));
        assert_eq!(b.expire(8), 1); // 'z' (until 7)
        assert_eq!(b.len(), 1);
        assert_eq!(b.expire(10), 0); // until 10 is not < 10
        assert_eq!(b.expire(11), 1);
        assert!(b.get(&"a").is_none());
        assert!(b.evict_oldest().is_none());
    }
}
