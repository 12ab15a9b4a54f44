//! [`Slots`]: a short list of task slots kept inline, so a typical node (a few
//! dependencies, a few dependents) costs no allocation of its own.

use std::ops::Deref;

/// How many slots fit inline: as many as the bytes of the `Vec` it replaces.
const INLINE: usize = 5;

/// A list of slots: inline up to [`INLINE`], on the heap beyond. Reads as a slice.
#[derive(Clone, Debug)]
pub(crate) enum Slots {
    Inline { len: u8, buf: [u32; INLINE] },
    Heap(Vec<u32>),
}

impl Default for Slots {
    fn default() -> Self {
        Slots::Inline {
            len: 0,
            buf: [0; INLINE],
        }
    }
}

impl Deref for Slots {
    type Target = [u32];

    fn deref(&self) -> &[u32] {
        match self {
            Slots::Inline { len, buf } => buf.get(..usize::from(*len)).unwrap_or(&[]),
            Slots::Heap(v) => v,
        }
    }
}

impl Slots {
    /// Appends `s`, moving to the heap when the inline room is full.
    pub(crate) fn push(&mut self, s: u32) {
        match self {
            Slots::Inline { len, buf } => {
                if let Some(free) = buf.get_mut(usize::from(*len)) {
                    *free = s;
                    *len = len.saturating_add(1);
                    return;
                }
                let mut v = Vec::with_capacity(INLINE * 2);
                v.extend_from_slice(buf);
                v.push(s);
                *self = Slots::Heap(v);
            }
            Slots::Heap(v) => v.push(s),
        }
    }

    /// Keeps the slots for which `keep` is true, in order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(u32) -> bool) {
        let kept: Vec<u32> = self.iter().copied().filter(|&s| keep(s)).collect();
        let mut out = Slots::default();
        for s in kept {
            out.push(s);
        }
        *self = out;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)] // Unit tests index known-good slices.

    use super::Slots;

    #[test]
    fn inline_then_heap_keeps_order() {
        let mut s = Slots::default();
        assert!(s.is_empty());
        for i in 0..12 {
            s.push(i);
            assert_eq!(&s[..], (0..=i).collect::<Vec<_>>().as_slice());
        }
        assert!(matches!(s, Slots::Heap(_)));
        s.retain(|x| x % 3 == 0);
        assert_eq!(&s[..], [0, 3, 6, 9]);
        assert!(matches!(s, Slots::Inline { .. }));
    }
}
