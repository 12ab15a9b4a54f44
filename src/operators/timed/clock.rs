//! The watermark of a two-input operator: the minimum of its inputs' watermarks.

/// Tracks the watermarks of two inputs; an input that ended counts as `+inf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TwoClocks {
    left: i64,
    right: i64,
    /// The last combined watermark handed downstream.
    emitted: i64,
}

impl TwoClocks {
    pub(crate) fn new() -> Self {
        TwoClocks {
            left: i64::MIN,
            right: i64::MIN,
            emitted: i64::MIN,
        }
    }

    /// A watermark of the left input (they only grow; a smaller one is ignored).
    #[inline]
    pub(crate) fn left(&mut self, w: i64) {
        self.left = self.left.max(w);
    }

    /// A watermark of the right input.
    #[inline]
    pub(crate) fn right(&mut self, w: i64) {
        self.right = self.right.max(w);
    }

    /// The operator's watermark: `min(left, right)`.
    #[inline]
    pub(crate) fn current(&self) -> i64 {
        self.left.min(self.right)
    }

    /// The combined watermark if it grew since the last call (to forward downstream).
    #[inline]
    pub(crate) fn advanced(&mut self) -> Option<i64> {
        let w = self.current();
        if w > self.emitted {
            self.emitted = w;
            Some(w)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_of_inputs_and_ended_inputs_are_infinite() {
        let mut c = TwoClocks::new();
        c.left(10);
        assert_eq!(c.advanced(), None);
        c.right(4);
        assert_eq!(c.advanced(), Some(4));
        c.right(i64::MAX);
        assert_eq!(c.advanced(), Some(10));
        c.left(3);
        assert_eq!(c.current(), 10);
    }
}
