//! File sources under attack or mishandling: files that shrink while they are read,
//! lines and records without bounds.

use futures::StreamExt;
use sweet_async::prelude::*;
use sweet_async::stream::source::{RawRecord, csv_file, csv_records, of_file};
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

/// The line, byte, bytes read and length at open of a fatal truncation error.
fn truncation(err: &EventError) -> (u64, u64, u64, u64) {
    assert!(err.is_fatal());
    match err.source_error() {
        Some(SourceError::Truncated {
            line,
            byte,
            read,
            len_at_open,
            ..
        }) => (*line, *byte, *read, *len_at_open),
        other => panic!("{other:?}"),
    }
}

/// Asserts that `stream` (a source with an invalid setting) yields one item: a
/// configuration error, before anything is read.
async fn only_a_config_error<S, T: std::fmt::Debug>(stream: S)
where
    S: futures::Stream<Item = Result<SenderEvent<T>, EventError>>,
{
    let items: Vec<_> = stream.collect().await;
    assert_eq!(items.len(), 1);
    assert!(matches!(
        items[0].as_ref().unwrap_err().source_error(),
        Some(SourceError::Config(_))
    ));
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
    assert_eq!(
        truncation(last.as_ref().unwrap_err()),
        (8334, 99_996, 100_002, 240_000)
    );
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
    only_a_config_error(
        AsyncTask::emits::<String>().sender(of_file(&path).max_line_length(0usize)),
    )
    .await;
}

#[tokio::test]
async fn a_csv_file_truncated_while_read_ends_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shrinks.csv");
    let body: String = (0..40_000).map(|i| format!("{i:06},x\n")).collect(); // 9 bytes a row
    std::fs::write(&path, format!("id,v\n{body}")).unwrap();
    // Rows are read ahead by a thread (buffer 4: at most 2 batches of 4 rows ahead, and
    // the parser's 64 KiB): cut far past what it can have read already.
    let cut = 5 + 9 * 30_000 + 4; // in the middle of data row 30 000 (0-based)
    let out = truncated_after_first(
        AsyncTask::emits::<RawRecord>()
            .buffer(4)
            .sender(csv_records(&path)),
        &path,
        cut,
    )
    .await;
    let (last, items) = out.split_last().unwrap();
    assert_eq!(items.len(), 30_000);
    assert!(items.iter().all(Result::is_ok));
    assert_eq!(
        truncation(last.as_ref().unwrap_err()),
        (30_002, 5 + 9 * 30_000, cut, 5 + 9 * 40_000)
    );
}

#[tokio::test]
async fn a_csv_record_longer_than_the_limit_is_a_per_item_error_and_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.csv");
    let huge = "x".repeat(3 * 1024 * 1024); // stopped by the tap, never all in memory
    let over = "y".repeat(2000); // over the limit, caught once parsed
    std::fs::write(&path, format!("id,v\n1,a\n2,{huge}\n3,b\n4,{over}\n5,c\n")).unwrap();
    let out: Vec<_> = AsyncTask::emits::<RawRecord>()
        .sender(csv_records(&path).max_record_length(1000))
        .collect()
        .await;
    let fourth = 9 + 2 + huge.len() as u64 + 1 + 4;
    let fifth = fourth + 2 + over.len() as u64 + 1;
    // Each row: its first field (None for an error) and its true line and byte.
    type Row = (Option<Vec<u8>>, Option<(u64, u64)>);
    let rows: Vec<Row> = out
        .iter()
        .map(|r| match r {
            Ok(e) => (
                Some(e.data().get(0).unwrap().to_vec()),
                e.position().map(|p| (p.line(), p.byte())),
            ),
            Err(e) => {
                assert!(!e.is_fatal());
                match e.source_error() {
                    Some(SourceError::TooLong { limit: 1000, .. }) => {}
                    other => panic!("{other:?}"),
                }
                (None, e.position().map(|p| (p.line(), p.byte())))
            }
        })
        .collect();
    assert_eq!(
        rows,
        [
            (Some(b"1".to_vec()), Some((2, 5))),
            (None, Some((3, 9))),
            (Some(b"3".to_vec()), Some((4, fourth - 4))),
            (None, Some((5, fourth))),
            (Some(b"5".to_vec()), Some((6, fifth))),
        ]
    );
    // A zero limit is a configuration error, before anything is read.
    only_a_config_error(
        AsyncTask::emits::<RawRecord>().sender(csv_records(&path).max_record_length(0usize)),
    )
    .await;
}

#[tokio::test]
async fn typed_csv_rows_after_a_skipped_record_are_named_by_their_true_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("after.csv");
    let huge = "x".repeat(1024 * 1024);
    // CRLF line ends and a blank line: positions are the rows' true starts.
    let body = format!("id,v\r\n1,a\r\n2,{huge}\r\n\r\n3,b\r\nnot-a-number,c\r\n");
    std::fs::write(&path, &body).unwrap();
    let out: Vec<_> = AsyncTask::emits::<(u32, String)>()
        .sender(csv_file::<(u32, String)>(&path).max_record_length(1000))
        .collect()
        .await;
    let at = |i: usize| {
        let p = match &out[i] {
            Ok(e) => e.position(),
            Err(e) => e.position(),
        };
        p.map(|p| (p.line(), p.byte()))
    };
    assert_eq!(out.len(), 4);
    let third = body.find("3,b").unwrap() as u64;
    let fourth = body.find("not-a").unwrap() as u64;
    assert_eq!(
        [at(0), at(1), at(2), at(3)],
        [
            Some((2, 6)),
            Some((3, 11)),
            Some((5, third)),
            Some((6, fourth))
        ]
    );
    assert_eq!(out[2].as_ref().unwrap().data(), &(3, "b".to_owned()));
    assert!(matches!(
        out[1].as_ref().unwrap_err().source_error(),
        Some(SourceError::TooLong { .. })
    ));
    assert!(matches!(
        out[3].as_ref().unwrap_err().source_error(),
        Some(SourceError::Csv { .. })
    ));
}

#[tokio::test]
async fn many_malformed_csv_rows_in_a_row_are_not_taken_for_one_long_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    // 20 000 rows with a field too many: 200 KB of failed rows, far over 1000 + 64 KiB.
    let bad: String = (0..20_000).map(|i| format!("{i},x,extra\n")).collect();
    std::fs::write(&path, format!("id,v\n{bad}1,ok\n")).unwrap();
    let out: Vec<_> = AsyncTask::emits::<RawRecord>()
        .sender(csv_records(&path).max_record_length(1000))
        .collect()
        .await;
    assert_eq!(out.len(), 20_001);
    assert!(out[..20_000].iter().all(|r| matches!(
        r.as_ref().unwrap_err().source_error(),
        Some(SourceError::Csv { .. })
    )));
    assert!(out[20_000].is_ok());
}

#[tokio::test]
async fn a_csv_header_row_longer_than_the_limit_ends_the_reading_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("head.csv");
    std::fs::write(&path, format!("{},v\n1,a\n", "h".repeat(200_000))).unwrap();
    let out: Vec<_> = AsyncTask::emits::<RawRecord>()
        .sender(csv_records(&path).max_record_length(1000))
        .collect()
        .await;
    assert_eq!(out.len(), 1);
    match out[0].as_ref().unwrap_err().source_error() {
        Some(SourceError::TooLong { line, byte, .. }) => assert_eq!((*line, *byte), (1, 0)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_csv_reader_stopped_by_its_runtime_shutting_down_is_a_typed_error_not_the_end_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("never-read.csv");
    std::fs::write(&path, "a\n1\n").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    rt.shutdown_background();
    // First polled in the context of a runtime that has shut down: the reader thread is
    // refused a place on its blocking pool.
    let _context = handle.enter();
    let stream = AsyncTask::emits::<RawRecord>().sender(csv_records(&path));
    let items: Vec<_> = futures::executor::block_on(stream.collect());
    assert_eq!(items.len(), 1);
    let err = items[0].as_ref().unwrap_err();
    assert!(err.is_fatal());
    match err.source_error() {
        Some(SourceError::ReaderLost { file, reason }) => {
            assert!(file.ends_with("never-read.csv"));
            assert_eq!(reason, "the runtime stopped it");
        }
        other => panic!("{other:?}"),
    }
}
