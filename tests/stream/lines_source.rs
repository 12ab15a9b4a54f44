//! `of_file`: exact outputs on hand-made files.

use bytes::Bytes;
use futures::StreamExt;
use sweet_async::prelude::*;
use sweet_async::stream::SourceError;
use sweet_async::stream::source::{Delimiter, of_file};

use crate::data;

async fn lines(name: &str) -> Vec<Result<(String, u64, u64), String>> {
    AsyncTask::emits::<String>()
        .sender(of_file(data(name)))
        .map(|r| match r {
            Ok(e) => {
                let p = e.position().unwrap();
                Ok((e.into_data(), p.line(), p.byte()))
            }
            Err(e) => Err(e.to_string()),
        })
        .collect()
        .await
}

#[tokio::test]
async fn crlf_lines_lose_their_line_ends_and_keep_empty_lines() {
    assert_eq!(
        lines("crlf.txt").await,
        [
            Ok(("first".to_owned(), 1, 0)),
            Ok(("second".to_owned(), 2, 7)),
            Ok((String::new(), 3, 15)),
            Ok(("fourth".to_owned(), 4, 17)),
        ]
    );
}

#[tokio::test]
async fn a_file_without_final_newline_keeps_its_last_line() {
    assert_eq!(
        lines("no_final_newline.txt").await,
        [
            Ok(("alpha".to_owned(), 1, 0)),
            Ok(("beta".to_owned(), 2, 6)),
            Ok(("gamma".to_owned(), 3, 11)),
        ]
    );
}

#[tokio::test]
async fn an_empty_file_has_no_lines() {
    assert!(lines("empty.txt").await.is_empty());
}

#[tokio::test]
async fn invalid_utf8_is_an_error_naming_file_and_line_and_the_rest_goes_on() {
    let out = lines("invalid_utf8.txt").await;
    assert_eq!(out.len(), 3);
    assert_eq!(out[0], Ok(("ok one".to_owned(), 1, 0)));
    let err = out[1].as_ref().unwrap_err();
    assert!(err.contains("invalid_utf8.txt:2 (byte 7)"), "{err}");
    assert!(err.contains("after 4 valid bytes"), "{err}");
    assert_eq!(out[2], Ok(("ok three".to_owned(), 3, 19)));

    // The same file as raw bytes: no error.
    let raw: Vec<Bytes> = AsyncTask::emits::<Bytes>()
        .sender(of_file(data("invalid_utf8.txt")).bytes())
        .map(|r| r.unwrap().into_data())
        .collect()
        .await;
    assert_eq!(raw[1], Bytes::from_static(b"bad \xff\xfe here"));
}

#[tokio::test]
async fn any_byte_delimiter_and_chunks() {
    let parts: Vec<String> = AsyncTask::emits::<String>()
        .sender(of_file(data("semicolons.txt")).with_delimiter(b';'))
        .map(|r| r.unwrap().into_data())
        .collect()
        .await;
    assert_eq!(parts, ["a", "b", "c"]);
    assert_eq!(Delimiter::from(b'\n'), Delimiter::NewLine);

    let chunks: Vec<_> = AsyncTask::emits::<String>()
        .sender(of_file(data("crlf.txt")).into_chunks(3.lines()))
        .map(|r| r.unwrap().into_data())
        .collect()
        .await;
    assert_eq!(chunks[0], ["first", "second", ""]);
    assert_eq!(chunks[1], ["fourth"]);
    // Each row keeps its own line and byte offset.
    let lines: Vec<Vec<(u64, u64)>> = chunks
        .iter()
        .map(|c| c.positions().iter().map(|p| (p.line(), p.byte())).collect())
        .collect();
    assert_eq!(lines, [vec![(1, 0), (2, 7), (3, 15)], vec![(4, 17)]]);
}

#[tokio::test]
async fn a_missing_file_is_a_fatal_io_error_naming_it() {
    let items: Vec<_> = AsyncTask::emits::<String>()
        .sender(of_file(data("does-not-exist.txt")))
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    let err = items[0].as_ref().unwrap_err();
    assert!(matches!(err.source_error(), Some(SourceError::Io { .. })));
    assert!(
        err.source_error()
            .unwrap()
            .file()
            .unwrap()
            .ends_with("does-not-exist.txt")
    );
    assert!(err.is_fatal());
}

#[tokio::test]
async fn a_big_file_is_read_in_blocks_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    let mut text = String::new();
    for i in 0..50_000 {
        text.push_str(&format!("line {i}\n"));
    }
    std::fs::write(&path, &text).unwrap();
    let stream = AsyncTask::emits::<String>().sender(of_file(&path));
    let stats = stream.stats();
    let lines: Vec<String> = stream.map(|r| r.unwrap().into_data()).collect().await;
    assert_eq!(lines.len(), 50_000);
    assert_eq!(lines[49_999], "line 49999");
    assert_eq!(stats.bytes_read(), text.len() as u64);
}

#[test]
fn without_a_runtime_the_file_source_reports_no_runtime() {
    let items: Vec<_> = futures::executor::block_on(
        AsyncTask::emits::<String>()
            .sender(of_file(data("crlf.txt")))
            .collect::<Vec<_>>(),
    );
    assert_eq!(items.len(), 1);
    assert!(matches!(
        items[0].as_ref().unwrap_err().source_error(),
        Some(SourceError::NoRuntime)
    ));
}
