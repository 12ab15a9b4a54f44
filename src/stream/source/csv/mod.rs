//! CSV sources: the `csv` crate's synchronous reader on tokio's blocking pool, sending
//! batches of parsed rows through a bounded channel; values are built on the consuming
//! thread.
//!
//! One file per concern, each depending only on those below it:
//!
//! - `file`: the public builder ([`csv_file`], [`csv_records`], [`CsvFile`]);
//! - `source`: the consuming stream ([`CsvSource`]);
//! - `reader`: the reader thread and its settings;
//! - `row_error`: parser errors as located [`SourceError`](crate::stream::SourceError)s;
//! - `tap`: the file as the parser reads it (true record starts, the length guard, files
//!   that shrink);
//! - `batch` and `record`: what travels from the reader to the stream ([`RawRecord`]).

mod batch;
mod file;
mod reader;
mod record;
mod row_error;
mod source;
mod tap;

pub use self::file::{CsvFile, csv_file, csv_records};
pub use self::record::RawRecord;
pub use self::source::CsvSource;
