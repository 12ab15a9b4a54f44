//! CSV positions are the rows' true lines and byte offsets: on CRLF files, after blank
//! lines and after quoted fields spanning lines, where the `csv` crate's own are off; and
//! an error line states its position once.

use futures::StreamExt;
use serde::Deserialize;
use sweet_async::prelude::*;
use sweet_async::stream::ErrorPolicy;
use sweet_async::stream::source::{RawRecord, csv_file, csv_records};

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Row {
    a: String,
    b: u32,
}

/// Each item of the CSV file `text` (typed as `Row`): `Ok((line, byte))` for a row,
/// `Err(display)` for an error.
async fn typed(text: &str) -> Vec<Result<(u64, u64), String>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.csv");
    std::fs::write(&path, text).unwrap();
    let name = path.to_string_lossy().into_owned();
    AsyncTask::emits::<Row>()
        .sender(csv_file::<Row>(&path))
        .map(|item| match item {
            Ok(e) => {
                let p = e.position().unwrap();
                // The position points at the row's first byte.
                assert!(!text[p.byte() as usize..].starts_with(['\r', '\n']));
                Ok((p.line(), p.byte()))
            }
            Err(e) => Err(e
                .source_error()
                .unwrap()
                .to_string()
                .replace(&name, "rows.csv")),
        })
        .collect()
        .await
}

/// The positions of the rows of `text` read as raw records, in chunks of 2.
async fn raw_chunked(text: &str) -> Vec<Vec<(u64, u64)>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.csv");
    std::fs::write(&path, text).unwrap();
    AsyncTask::emits::<RawRecord>()
        .sender(csv_records(&path).into_chunks(2.rows()))
        .map(|item| {
            let chunk = item.unwrap().into_data();
            chunk
                .positions()
                .iter()
                .map(|p| (p.line(), p.byte()))
                .collect()
        })
        .collect()
        .await
}

#[tokio::test]
async fn crlf_rows_and_errors_name_their_true_line_and_byte() {
    let text = "a,b\r\nx,1\r\ny\r\nz,3\r\n";
    assert_eq!(
        typed(text).await,
        [
            Ok((2, 5)),
            Err(
                "rows.csv:3 (byte 10, record 2): found a record with 1 fields, \
                 but the previous record has 2"
                    .to_owned()
            ),
            Ok((4, 13)),
        ]
    );
    assert_eq!(
        raw_chunked("a,b\r\nx,1\r\n\r\ny,2\r\nz,3\r\n").await,
        [vec![(2, 5), (4, 12)], vec![(5, 17)]]
    );
}

#[tokio::test]
async fn rows_after_blank_lines_name_their_true_line_and_byte() {
    let text = "a,b\n\nx,1\n\n\ny,oops\n\nz,3\n";
    assert_eq!(
        typed(text).await,
        [
            Ok((3, 5)),
            Err(
                "rows.csv:6 (byte 11, record 2): field 1: invalid digit found in string".to_owned()
            ),
            Ok((8, 19)),
        ]
    );
    // Blank CRLF lines too.
    assert_eq!(
        typed("a,b\r\n\r\nx,1\r\n\r\ny,2\r\n").await,
        [Ok((3, 7)), Ok((5, 14))]
    );
}

#[tokio::test]
async fn rows_after_multi_line_quoted_fields_name_their_true_line_and_byte() {
    let lf = "a,b\n\"two\nlines\",1\nx,2\n\"three\n\nlines\",oops\ny,4\n";
    assert_eq!(
        typed(lf).await,
        [
            Ok((2, 4)),
            Ok((4, 18)),
            Err(
                "rows.csv:5 (byte 22, record 3): field 1: invalid digit found in string".to_owned()
            ),
            Ok((8, 42)),
        ]
    );
    let crlf = "a,b\r\n\"two\r\nlines\",1\r\nx,2\r\n\"three\r\n\r\nlines\",4\r\ny,5\r\n";
    assert_eq!(
        typed(crlf).await,
        [Ok((2, 5)), Ok((4, 21)), Ok((5, 26)), Ok((8, 46))]
    );
    assert_eq!(
        raw_chunked(crlf).await,
        [vec![(2, 5), (4, 21)], vec![(5, 26), (8, 46)]]
    );
}

#[tokio::test]
async fn an_error_line_states_its_position_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.csv");
    std::fs::write(&path, "a,b\r\nx,1\r\ny\r\nz,3\r\n").unwrap();
    let name = path.to_string_lossy().into_owned();
    let errors = AsyncTask::emits::<Row>()
        .on_error(ErrorPolicy::Collect)
        .sender(csv_file::<Row>(&path))
        .receiver(
            ReceiverStrategy::Serial,
            |e, _: Collector<(), ()>| async move {
                if e.data.a == "z" {
                    Err("z is not allowed")
                } else {
                    Ok(())
                }
            },
        )
        .await_final_event(|_, collected| collected.into_parts().3)
        .await;
    let lines: Vec<String> = errors
        .iter()
        .map(|e| {
            let id = e.error.id().to_string();
            e.to_string().replace(&name, "rows.csv").replace(&id, "ID")
        })
        .collect();
    assert_eq!(
        lines,
        [
            "event ID: rows.csv:3 (byte 10, record 2): found a record with 1 fields, but the \
             previous record has 2",
            "event ID at line 4 (byte 13): receiver failed: z is not allowed",
        ]
    );
}

#[tokio::test]
async fn positions_stay_true_across_a_large_crlf_file_with_blank_lines() {
    // Over 2 MB, so the reader's kept bytes are dropped and refilled several times.
    let mut text = String::from("a,b\r\n");
    let mut expected = Vec::new();
    let mut line = 2;
    for i in 0..250_000_u64 {
        if i % 997 == 0 {
            text.push_str("\r\n");
            line += 1;
        }
        expected.push((line, text.len() as u64));
        text.push_str(&format!("row-{i},{}\r\n", i % 10));
        line += 1;
    }
    assert!(text.len() > 2 << 20);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    std::fs::write(&path, &text).unwrap();
    let positions: Vec<(u64, u64)> = AsyncTask::emits::<RawRecord>()
        .sender(csv_records(&path).into_chunks(1000.rows()))
        .map(|item| {
            let chunk = item.unwrap().into_data();
            chunk
                .positions()
                .iter()
                .map(|p| (p.line(), p.byte()))
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .await
        .concat();
    assert_eq!(positions.len(), expected.len());
    assert_eq!(positions, expected);
}
