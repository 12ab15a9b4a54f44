//! File sources under attack or mishandling: files that shrink while they are read,
//! lines and records without bounds.

use futures::StreamExt;
use sweet_async::prelude::*;
use sweet_async::stream::source::of_file;
use sweet_async::stream::{EventError, SenderEvent, SourceError};

/// `n` lines `line-000000\n` (12 bytes each).
fn numbered(n: usize) -> String {
    (0..n).map(|i| format!("line-{i:06}\n")).collect()
}

/// Reads the first item, truncates the file to `cut` bytes, then reads the rest.
async fn truncated_after_first<S, T>(
    stream: S,
    path: &std::path::Path,
    cut: u64,
) -> Vec<Result<T, EventError>>
where
    S: futures::Stream<Item = Result<SenderEvent<T>, EventError>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut out = vec![stream.next().await.unwrap().map(SenderEvent::into_data)];
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(cut)
        .unwrap();
    while let Some(item) = stream.next().await {
        out.push(item.map(SenderEvent::into_data));
    }
    out
}

#[tokio::test]
async fn a_text_file_truncated_while_read_ends_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shrinks.txt");
    std::fs::write(&path, numbered(20_000)).unwrap(); // 240 000 bytes: several reads
    // Cut in the middle of line 8334 (0-based 8333, starting at byte 99 996).
    let out = truncated_after_first(
        AsyncTask::emits::<String>().sender(of_file(&path)),
        &path,
        100_002,
    )
    .await;
    let (last, items) = out.split_last().unwrap();
    assert_eq!(items.len(), 8333);
    assert!(
        items
            .iter()
            .all(|i| i.as_ref().is_ok_and(|l| l.len() == 11))
    );
    let err = last.as_ref().unwrap_err();
    assert!(err.is_fatal());
    match err.source_error() {
        Some(SourceError::Truncated {
            line,
            byte,
            read,
            len_at_open,
            ..
        }) => {
            assert_eq!(
                (*line, *byte, *read, *len_at_open),
                (8334, 99_996, 100_002, 240_000)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_line_longer_than_the_limit_is_a_per_item_error_and_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.txt");
    let long = "x".repeat(3 * 1024 * 1024); // 3 MiB, several reads
    let whole = "y".repeat(2000); // over the limit but arrives in one read
    std::fs::write(
        &path,
        format!("first\n{long}\nsecond\n{whole}\nthird\n{long}"),
    )
    .unwrap();
    let out: Vec<_> = AsyncTask::emits::<String>()
        .sender(of_file(&path).max_line_length(1000))
        .map(|e| e.map(SenderEvent::into_data))
        .collect()
        .await;
    assert_eq!(out.len(), 6);
    assert_eq!(out[0].as_deref().unwrap(), "first");
    assert_eq!(out[2].as_deref().unwrap(), "second");
    assert_eq!(out[4].as_deref().unwrap(), "third");
    let third_start = 6 + long.len() as u64 + 1 + 7 + whole.len() as u64 + 1;
    for (i, (line, byte)) in [
        (1, (2, 6)),
        (3, (4, 6 + long.len() as u64 + 1 + 7)),
        (5, (6, third_start + 6)),
    ] {
        let err = out[i].as_ref().unwrap_err();
        assert!(!err.is_fatal());
        match err.source_error() {
            Some(SourceError::TooLong {
                line: l,
                byte: b,
                limit,
                ..
            }) => {
                assert_eq!((*l, *b, *limit), (line, byte, 1000), "item {i}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err.position().map(|p| (p.line(), p.byte())),
            Some((line, byte))
        );
    }
    // A zero limit is a configuration error, before anything is read.
    let items: Vec<_> = AsyncTask::emits::<String>()
        .sender(of_file(&path).max_line_length(0usize))
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    assert!(matches!(
        items[0].as_ref().unwrap_err().source_error(),
        Some(SourceError::Config(_))
    ));
}
