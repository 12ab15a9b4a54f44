//! Files that shrink while they are read: [`Guarded`] turns an end of file before the
//! length the file had when it was opened into an I/O error, so a reader never takes the
//! fragment of a record cut by a truncation for the last record (the CSV reader thread).

use std::fmt;
use std::io::{self, Read};

/// A reader that knows how long its file was when it was opened.
#[derive(Debug)]
pub(crate) struct Guarded<R> {
    inner: R,
    read: u64,
    len_at_open: Option<u64>,
}

impl Guarded<std::fs::File> {
    /// Guards `file`, if it is a regular file (pipes and devices have no length).
    pub(crate) fn file(file: std::fs::File) -> Self {
        let len_at_open = file
            .metadata()
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len());
        Guarded {
            inner: file,
            read: 0,
            len_at_open,
        }
    }
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read = self.read.saturating_add(n as u64);
        if n == 0 && !buf.is_empty() {
            if let Some(len_at_open) = self.len_at_open.filter(|len| self.read < *len) {
                let shrunk = Shrunk {
                    read: self.read,
                    len_at_open,
                };
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, shrunk));
            }
        }
        Ok(n)
    }
}

/// The error [`Guarded`] reads at an early end of file.
#[derive(Debug)]
pub(crate) struct Shrunk {
    /// Bytes read when the file ended.
    pub(crate) read: u64,
    /// The file's length when it was opened.
    pub(crate) len_at_open: u64,
}

impl fmt::Display for Shrunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the file ended after {} bytes, it had {} when opened",
            self.read, self.len_at_open
        )
    }
}

impl std::error::Error for Shrunk {}

/// The truncation an I/O error of a [`Guarded`] reader reports, if it is one.
pub(crate) fn shrunk(error: &io::Error) -> Option<&Shrunk> {
    error.get_ref()?.downcast_ref::<Shrunk>()
}
