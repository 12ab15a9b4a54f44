//! Fuzzes the line source (`of_file`): any bytes, any delimiter, any line limit. It must
//! never panic or hang, every item is a line or a typed per-item error, nothing fatal
//! happens on a file that does not change, and positions only grow.
#![no_main]

use futures::StreamExt;
use libfuzzer_sys::fuzz_target;
use sweet_async::prelude::*;
use sweet_async::stream::SourceError;
use sweet_async::stream::source::of_file;

#[path = "common.rs"]
mod common;

fuzz_target!(|input: &[u8]| {
    // The first two bytes choose the delimiter and the line limit; the rest is the file.
    let (delimiter, limit, data) = match input {
        [d, l, rest @ ..] => (*d, usize::from(*l).max(1), rest),
        _ => return,
    };
    let file = common::file_of(data);
    common::runtime().block_on(async {
        let events: Vec<_> = AsyncTask::emits::<bytes::Bytes>()
            .sender(
                of_file(&file.path)
                    .with_delimiter(delimiter)
                    .max_line_length(limit)
                    .bytes(),
            )
            .collect()
            .await;
        let mut last_byte = None;
        for event in events {
            let (position, fatal) = match &event {
                Ok(e) => (e.position(), false),
                Err(e) => {
                    assert!(
                        matches!(e.source_error(), Some(SourceError::TooLong { .. })),
                        "unexpected error on a file that does not change: {e}"
                    );
                    (e.position(), e.is_fatal())
                }
            };
            assert!(!fatal);
            let byte = position.expect("file items have positions").byte();
            assert!(last_byte.is_none_or(|b| byte > b), "positions grow");
            assert!(byte <= data.len() as u64);
            last_byte = Some(byte);
        }
    });
});
