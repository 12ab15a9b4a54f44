//! [`ChunkVec`]: a growable table kept in fixed-size chunks.
//!
//! A `Vec` of ten thousand task records grows by doubling: every growth copies the
//! whole table into fresh memory, and past the allocator's large-block threshold every
//! orchestra maps and faults in new pages again. Chunks of [`CHUNK`] records are never
//! moved once allocated and are small enough to be reused from the allocator's free
//! lists, so building a large graph again and again touches warm memory.

/// Records per chunk (a power of two): a chunk of task records stays under the
/// allocator's usual large-block threshold (128 KiB).
const SHIFT: u32 = 10;
const CHUNK: usize = 1 << SHIFT;
const MASK: usize = CHUNK - 1;

/// A table indexed like a `Vec`, stored in chunks of [`CHUNK`] records.
#[derive(Clone, Debug)]
pub(crate) struct ChunkVec<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for ChunkVec<T> {
    fn default() -> Self {
        ChunkVec {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> ChunkVec<T> {
    pub(crate) fn new() -> Self {
        ChunkVec::default()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn push(&mut self, value: T) {
        if self.len & MASK == 0 {
            // The first chunk grows as a small table would; later ones are made whole.
            let chunk = if self.chunks.is_empty() {
                Vec::new()
            } else {
                Vec::with_capacity(CHUNK)
            };
            self.chunks.push(chunk);
        }
        if let Some(chunk) = self.chunks.last_mut() {
            chunk.push(value);
            self.len = self.len.saturating_add(1);
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i >> SHIFT)?.get(i & MASK)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks.get_mut(i >> SHIFT)?.get_mut(i & MASK)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flatten()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        self.chunks.iter_mut().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::{CHUNK, ChunkVec};

    #[test]
    fn indexes_and_iterates_like_a_vec() {
        let mut c = ChunkVec::new();
        let n = CHUNK * 2 + 7;
        for i in 0..n {
            c.push(i);
        }
        assert_eq!(c.len(), n);
        assert_eq!(c.get(0), Some(&0));
        assert_eq!(c.get(CHUNK), Some(&CHUNK));
        assert_eq!(c.get(n - 1), Some(&(n - 1)));
        assert_eq!(c.get(n), None);
        if let Some(v) = c.get_mut(CHUNK + 1) {
            *v = 0;
        }
        assert_eq!(c.iter().filter(|&&v| v == 0).count(), 2);
        c.iter_mut().for_each(|v| *v += 1);
        assert_eq!(c.iter().copied().collect::<Vec<_>>().len(), n);
        assert_eq!(c.get(2), Some(&3));
    }
}
