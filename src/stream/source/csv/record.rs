//! What a CSV source yields per row: a [`RawRecord`] sharing its batch's parsed
//! records, or a typed value, as the source's [`Mode`] says.

use std::fmt;
use std::sync::{Arc, OnceLock};

use csv::{ByteRecord, StringRecord};
use serde::de::DeserializeOwned;

/// A raw CSV record: its fields' bytes, shared with the other records parsed in the same
/// batch (one reference-count increment per record, no allocation and no copy).
///
/// Made by [`csv_records`](super::csv_records). Holding a record keeps its batch (a few hundred records)
/// alive; call [`to_byte_record`](RawRecord::to_byte_record) for an owned
/// [`ByteRecord`].
#[derive(Clone)]
pub struct RawRecord {
    pub(super) batch: Arc<Vec<ByteRecord>>,
    pub(super) index: usize,
}

impl RawRecord {
    /// The record as the `csv` crate parsed it (empty if it is somehow missing).
    fn record(&self) -> &ByteRecord {
        static EMPTY: OnceLock<ByteRecord> = OnceLock::new();
        self.batch
            .get(self.index)
            .unwrap_or_else(|| EMPTY.get_or_init(ByteRecord::new))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.record().len()
    }

    /// `true` when the record has no field.
    pub fn is_empty(&self) -> bool {
        self.record().is_empty()
    }

    /// Field `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.record().get(i)
    }

    /// The fields, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.record().iter()
    }

    /// All field bytes back to back (without delimiters or quotes).
    pub fn as_slice(&self) -> &[u8] {
        self.record().as_slice()
    }

    /// An owned copy as a [`ByteRecord`].
    pub fn to_byte_record(&self) -> ByteRecord {
        self.record().clone()
    }

    /// Deserializes the record into `T`, by header name when `headers` are given.
    ///
    /// # Errors
    ///
    /// The `csv` crate's error when the record does not fit `T`.
    pub fn deserialize<T: DeserializeOwned>(
        &self,
        headers: Option<&ByteRecord>,
    ) -> Result<T, csv::Error> {
        self.record().deserialize(headers)
    }
}

impl fmt::Debug for RawRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|b| String::from_utf8_lossy(b)))
            .finish()
    }
}

impl PartialEq for RawRecord {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for RawRecord {}

/// How records become output values.
pub(super) enum Mode<R> {
    /// Deserialized as soon as the record is parsed (from a UTF-8 checked record, as
    /// `csv::Reader::deserialize` does).
    Typed(fn(&StringRecord, Option<&StringRecord>) -> Result<R, csv::Error>),
    /// Raw records sharing their batch's parsed records (the function turns a record
    /// into an `R`: the identity).
    Raw(fn(RawRecord) -> R),
}

impl<R> Clone for Mode<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for Mode<R> {}

pub(super) fn deserialize_record<R: DeserializeOwned>(
    record: &StringRecord,
    headers: Option<&StringRecord>,
) -> Result<R, csv::Error> {
    record.deserialize(headers)
}
