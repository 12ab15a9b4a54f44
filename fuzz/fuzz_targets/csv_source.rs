//! Fuzzes the CSV source (`csv_records`, `csv_file`): any bytes, any delimiter and quote,
//! headers or not, flexible or not, any record limit, files of up to 64 copies of the
//! input. It must never panic or hang, and a file that does not change never ends with a
//! fatal error.
#![no_main]

use futures::StreamExt;
use libfuzzer_sys::fuzz_target;
use sweet_async::prelude::*;
use sweet_async::stream::source::{RawRecord, csv_file, csv_records};

#[path = "common.rs"]
mod common;

fuzz_target!(|input: &[u8]| {
    // The first five bytes choose the settings; the rest, repeated, is the file.
    let (settings, data) = match input {
        [a, b, c, d, e, rest @ ..] => ([*a, *b, *c, *d, *e], rest),
        _ => return,
    };
    let [delimiter, quote, flags, limit, repeat] = settings;
    if delimiter == quote {
        return; // a ConfigError, tested elsewhere
    }
    let limit = usize::from(limit).max(1) * 16;
    let (headers, flexible) = (flags & 1 != 0, flags & 2 != 0);
    // Up to 64 copies: records that span more than the limit plus the parser's 64 KiB
    // read-ahead, so the reader's skip past a record too long is reached too.
    let data = data.repeat(usize::from(repeat % 64) + 1);
    let file = common::file_of(&data);
    common::runtime().block_on(async {
        let raw: Vec<_> = AsyncTask::emits::<RawRecord>()
            .sender(
                csv_records(&file.path)
                    .delimiter(delimiter)
                    .quote(quote)
                    .has_headers(headers)
                    .flexible(flexible)
                    .max_record_length(limit),
            )
            .collect()
            .await;
        for event in &raw {
            if let Err(e) = event {
                assert!(!e.is_fatal(), "fatal error on a file that does not change: {e}");
            }
        }
        // Typed records: deserialization failures are per-item errors too.
        let typed: Vec<_> = AsyncTask::emits::<(String, Option<i64>)>()
            .sender(
                csv_file::<(String, Option<i64>)>(&file.path)
                    .delimiter(delimiter)
                    .quote(quote)
                    .has_headers(headers)
                    .flexible(flexible),
            )
            .collect()
            .await;
        for event in &typed {
            if let Err(e) = event {
                assert!(!e.is_fatal(), "fatal error on a file that does not change: {e}");
            }
        }
    });
});
