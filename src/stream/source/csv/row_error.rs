//! Parser errors as located [`SourceError`]s naming the file and the row's true start.

use std::sync::Arc;

use super::tap;
use crate::stream::error::SourceError;
use crate::stream::event::Position;
use crate::stream::source::Located;

/// A row's true start and its index among all rows read (csv's record number).
pub(super) type RowAt = (Position, u64);

/// A per-row CSV error at `at`.
pub(super) fn row_error(name: &Arc<str>, at: RowAt, message: String) -> Located<SourceError> {
    let (position, record) = at;
    let err = SourceError::Csv {
        file: Arc::clone(name),
        line: position.line(),
        byte: position.byte(),
        record,
        message,
    };
    Located::at(err, position)
}

/// A record longer than `limit` bytes, starting at `at` (per-item: reading goes on).
pub(super) fn too_long(name: &Arc<str>, at: Position, limit: usize) -> Located<SourceError> {
    let err = SourceError::TooLong {
        file: Arc::clone(name),
        line: at.line(),
        byte: at.byte(),
        limit,
    };
    Located::at(err, at)
}

/// An I/O error of the file while the row at `at` was read (fatal): a file that shrank
/// is [`SourceError::Truncated`] at that row.
pub(super) fn io_error(
    name: &Arc<str>,
    error: std::io::Error,
    at: Option<RowAt>,
) -> Located<SourceError> {
    let file = Arc::clone(name);
    let err = match (tap::shrunk(&error), at) {
        (Some(shrunk), Some((position, _))) => SourceError::Truncated {
            file,
            line: position.line(),
            byte: position.byte(),
            read: shrunk.read,
            len_at_open: shrunk.len_at_open,
        },
        _ => SourceError::Io { file, error },
    };
    match at {
        Some((position, _)) => Located::at(err, position),
        None => Located::bare(err),
    }
}

/// A `csv::Error` as a located per-row (or, for I/O, fatal) error naming the file. The
/// message leaves out the reader's own position: the error states the true one, once.
pub(super) fn csv_error(name: &Arc<str>, e: csv::Error, at: Option<RowAt>) -> Located<SourceError> {
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("found a record with {len} fields, but the previous record has {expected_len}")
        }
        csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
        csv::ErrorKind::Utf8 { err, .. } => format!("invalid UTF-8: {err}"),
        _ => e.to_string(),
    };
    match e.into_kind() {
        csv::ErrorKind::Io(error) => io_error(name, error, at),
        _ => row_error(name, at.unwrap_or((Position::new(0, 0), 0)), message),
    }
}
