//! [`Chunk`]: the payload of a chunked source's event, rows with their positions.

use std::ops::{Deref, DerefMut};

use crate::stream::event::Position;

/// The rows of one event of a chunked source (`into_chunks(n)`), each with where it was
/// in the source.
///
/// Reads like a slice (`len()`, `iter()`, `chunk[i]`, `for row in &chunk`) and converts
/// into a `Vec<T>`. For sources with positions (files, CSV) [`position`](Self::position)
/// gives each row's line and byte offset, so an error about row `i` can name its own
/// line rather than the chunk's first; the event's position stays the first row's.
///
/// # Examples
///
/// ```
/// use sweet_async::prelude::*;
/// use sweet_async::stream::source::of_file;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("prices.txt");
/// # std::fs::write(&path, "10.5\n11\noops\n12\n")?;
/// let (_, collected) = AsyncTask::emits::<String>()
///     .sender(of_file(&path).into_chunks(4.lines()))
///     .receiver(ReceiverStrategy::Serial, |chunk, c: Collector<u64, f64>| async move {
///         for (i, line) in chunk.data.iter().enumerate() {
///             let line_no = chunk.data.position(i).map_or(0, |p| p.line());
///             match line.parse::<f64>() {
///                 Ok(price) => c.collect(line_no, price),
///                 Err(e) => c.collect_error(line_no, e),
///             }
///         }
///         Ok::<_, BoxError>(())
///     })
///     .await_final_event(|summary, collected| (summary, collected))
///     .await;
/// assert_eq!(collected.keyed().len(), 3);
/// assert_eq!(collected.errors()[0].key, Some(3)); // "oops" is on line 3
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Chunk<T> {
    rows: Vec<T>,
    /// One per row when the source has positions, empty otherwise.
    positions: Vec<Position>,
}

impl<T> Chunk<T> {
    pub(crate) fn new(rows: Vec<T>, positions: Vec<Position>) -> Self {
        Chunk { rows, positions }
    }

    /// Where row `i` was in the source: `None` past the end or for sources without
    /// positions.
    pub fn position(&self, i: usize) -> Option<Position> {
        self.positions.get(i).copied()
    }

    /// The rows' positions, one per row; empty for sources without positions.
    pub fn positions(&self) -> &[Position] {
        &self.positions
    }

    /// The rows with their positions (`None` for sources without positions).
    pub fn iter_located(&self) -> impl Iterator<Item = (Option<Position>, &T)> {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, row)| (self.position(i), row))
    }

    /// The rows, dropping the positions.
    pub fn into_vec(self) -> Vec<T> {
        self.rows
    }

    /// The rows and their positions.
    pub fn into_parts(self) -> (Vec<T>, Vec<Position>) {
        (self.rows, self.positions)
    }
}

impl<T> Deref for Chunk<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.rows
    }
}

impl<T> DerefMut for Chunk<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.rows
    }
}

impl<T> From<Chunk<T>> for Vec<T> {
    fn from(chunk: Chunk<T>) -> Self {
        chunk.rows
    }
}

impl<T> IntoIterator for Chunk<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.rows.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Chunk<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.rows.iter()
    }
}

impl<T: PartialEq<U>, U> PartialEq<Vec<U>> for Chunk<T> {
    fn eq(&self, other: &Vec<U>) -> bool {
        self.rows[..] == other[..]
    }
}

impl<T: PartialEq<U>, U, const N: usize> PartialEq<[U; N]> for Chunk<T> {
    fn eq(&self, other: &[U; N]) -> bool {
        self.rows[..] == other[..]
    }
}
