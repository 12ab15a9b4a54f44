//! CSV sources: exact outputs on hand-made files.

use futures::StreamExt;
use serde::Deserialize;
use sweet_async::prelude::*;
use sweet_async::stream::SourceError;
use sweet_async::stream::source::{RawRecord, csv_file, csv_records};

use crate::data;

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Trade {
    symbol: String,
    price: f64,
    qty: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Noted {
    symbol: String,
    price: f64,
    qty: u32,
    note: String,
}

fn trade(symbol: &str, price: f64, qty: u32) -> Trade {
    Trade {
        symbol: symbol.to_owned(),
        price,
        qty,
    }
}

#[tokio::test]
async fn quoted_fields_with_delimiters_quotes_and_newlines() {
    let text = std::fs::read_to_string(data("quoted.csv")).unwrap();
    let events: Vec<_> = AsyncTask::emits::<Noted>()
        .sender(csv_file::<Noted>(data("quoted.csv")))
        .map(Result::unwrap)
        .collect()
        .await;
    let rows: Vec<Noted> = events.iter().map(|e| e.data().clone()).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].note, "plain");
    assert_eq!(rows[1].symbol, "BE,TA");
    assert_eq!(rows[1].note, "said \"hi\"");
    assert_eq!(rows[2].note, "two\nlines");
    assert_eq!(rows[2].price, 7.0);
    let positions: Vec<(u64, u64)> = events
        .iter()
        .map(|e| {
            let p = e.position().unwrap();
            (p.line(), p.byte())
        })
        .collect();
    let b1 = text.find("ACME").unwrap() as u64;
    let b2 = text.find("\"BE,TA\"").unwrap() as u64;
    let b3 = text.find("GAMMA").unwrap() as u64;
    assert_eq!(positions, [(2, b1), (3, b2), (4, b3)]);
    assert!(
        events
            .iter()
            .all(|e| e.source_name().unwrap().ends_with("quoted.csv"))
    );
    assert!(events[2].is_final());
}

#[tokio::test]
async fn crlf_csv() {
    let rows: Vec<Trade> = AsyncTask::emits::<Trade>()
        .sender(csv_file::<Trade>(data("crlf.csv")))
        .map(|r| r.unwrap().into_data())
        .collect()
        .await;
    assert_eq!(rows, [trade("ACME", 10.5, 3), trade("BETA", 2.25, 10)]);
}

#[tokio::test]
async fn empty_csv_has_no_records() {
    let rows: Vec<_> = AsyncTask::emits::<Trade>()
        .sender(csv_file::<Trade>(data("empty.csv")))
        .collect()
        .await;
    assert!(rows.is_empty());
}

#[tokio::test]
async fn malformed_rows_in_the_middle_are_errors_naming_file_line_and_offset() {
    let items: Vec<_> = AsyncTask::emits::<Trade>()
        .sender(csv_file::<Trade>(data("malformed.csv")))
        .collect()
        .await;
    assert_eq!(items.len(), 4);
    assert_eq!(items[0].as_ref().unwrap().data(), &trade("ACME", 10.5, 3));
    let short = items[1].as_ref().unwrap_err();
    match short.source_error().unwrap() {
        SourceError::Csv {
            file,
            line,
            byte,
            record,
            message,
        } => {
            assert!(file.ends_with("malformed.csv"));
            assert_eq!((*line, *byte, *record), (3, 29, 2));
            assert_eq!(
                message,
                "found a record with 2 fields, but the previous record has 3"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(short.position().map(|p| p.line()), Some(3));
    let typed = items[2].as_ref().unwrap_err();
    match typed.source_error().unwrap() {
        SourceError::Csv { line, byte, .. } => assert_eq!((*line, *byte), (4, 39)),
        other => panic!("unexpected {other:?}"),
    }
    assert!(!typed.is_fatal());
    assert_eq!(items[3].as_ref().unwrap().data(), &trade("DELTA", 1.5, 4));
    // Keys follow the file order, errors included.
    let seqs: Vec<u64> = items
        .iter()
        .map(|r| match r {
            Ok(e) => e.sequence_number(),
            Err(e) => e.id().sequence_number(),
        })
        .collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
}

#[tokio::test]
async fn raw_records_only_fail_on_structure() {
    let items: Vec<_> = AsyncTask::emits::<RawRecord>()
        .sender(csv_records(data("malformed.csv")))
        .collect()
        .await;
    assert_eq!(items.len(), 4);
    assert!(items[1].is_err());
    let gamma = items[2].as_ref().unwrap().data();
    assert_eq!(gamma.get(1), Some(&b"abc"[..]));
}

#[tokio::test]
async fn skip_policy_and_chunks_on_csv() {
    let stream = AsyncTask::emits::<Trade>()
        .on_error(ErrorPolicy::Skip)
        .sender(csv_file::<Trade>(data("malformed.csv")).into_chunks(2.rows()));
    let stats = stream.stats();
    let chunks: Vec<Vec<Trade>> = stream
        .map(|r| r.unwrap().into_data().into_vec())
        .collect()
        .await;
    // The chunk in progress is emitted before an error, so order is kept.
    assert_eq!(
        chunks,
        vec![vec![trade("ACME", 10.5, 3)], vec![trade("DELTA", 1.5, 4)]]
    );
    assert_eq!((stats.errors(), stats.skipped()), (2, 2));
    assert_eq!(stats.bytes_read(), 63);
}

#[tokio::test]
async fn no_headers_custom_delimiter_and_flexible() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("semi.csv");
    std::fs::write(&path, "ACME;10.5;3\nBETA;2.25;10;extra\n").unwrap();
    let rows: Vec<_> = AsyncTask::emits::<RawRecord>()
        .sender(
            csv_records(&path)
                .has_headers(false)
                .delimiter(b';')
                .flexible(true),
        )
        .map(|r| r.unwrap().into_data())
        .collect()
        .await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].len(), 4);
    // Same delimiter and quote: a config error, nothing read.
    let bad: Vec<_> = AsyncTask::emits::<RawRecord>()
        .sender(csv_records(&path).delimiter(b'"'))
        .collect()
        .await;
    assert!(matches!(
        bad[0].as_ref().unwrap_err().source_error(),
        Some(SourceError::Config(ConfigError::Conflict { .. }))
    ));
}

#[tokio::test]
async fn missing_csv_is_a_fatal_io_error() {
    let items: Vec<_> = AsyncTask::emits::<Trade>()
        .sender(csv_file::<Trade>(data("nope.csv")))
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    assert!(matches!(
        items[0].as_ref().unwrap_err().source_error(),
        Some(SourceError::Io { .. })
    ));
}

#[test]
fn csv_without_runtime_reports_no_runtime() {
    let items: Vec<_> = futures::executor::block_on(
        AsyncTask::emits::<Trade>()
            .sender(csv_file::<Trade>(data("crlf.csv")))
            .collect::<Vec<_>>(),
    );
    assert!(matches!(
        items[0].as_ref().unwrap_err().source_error(),
        Some(SourceError::NoRuntime)
    ));
}

#[tokio::test]
async fn dropping_a_csv_stream_early_stops_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.csv");
    let mut text = String::from("symbol,price,qty\n");
    for i in 0..200_000 {
        text.push_str(&format!("S{i},1.0,{i}\n"));
    }
    std::fs::write(&path, &text).unwrap();
    let stream = AsyncTask::emits::<Trade>()
        .buffer(64.items())
        .sender(csv_file::<Trade>(&path));
    let stats = stream.stats();
    let first: Vec<_> = stream.take(10).collect().await;
    assert_eq!(first.len(), 10);
    // The reader ran at most a few batches ahead of the consumer: bounded, not the file.
    assert!(stats.bytes_read() < text.len() as u64 / 10, "{stats:?}");
}

#[tokio::test]
async fn invalid_utf8_in_a_typed_row_is_an_error_and_raw_rows_keep_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.csv");
    std::fs::write(
        &path,
        b"symbol,price,qty\nACME,1.5,2\nCAF\xc9,2.5,3\nBETA,3.5,4\n",
    )
    .unwrap();
    let items: Vec<_> = AsyncTask::emits::<Trade>()
        .sender(csv_file::<Trade>(&path))
        .collect()
        .await;
    assert_eq!(items.len(), 3);
    let err = items[1].as_ref().unwrap_err();
    assert!(err.to_string().contains("invalid UTF-8"), "{err}");
    assert_eq!(err.position().map(|p| p.line()), Some(3));
    assert_eq!(items[2].as_ref().unwrap().data().symbol, "BETA");

    let raw: Vec<RawRecord> = AsyncTask::emits::<RawRecord>()
        .sender(csv_records(&path))
        .map(|r| r.unwrap().into_data())
        .collect()
        .await;
    assert_eq!(raw[1].get(0), Some(&b"CAF\xc9"[..]));
}

#[tokio::test]
async fn raw_record_api() {
    let records: Vec<RawRecord> = AsyncTask::emits::<RawRecord>()
        .sender(csv_records(data("quoted.csv")))
        .map(|r| r.unwrap().into_data())
        .collect()
        .await;
    let r = &records[1];
    assert_eq!(r.len(), 4);
    assert!(!r.is_empty());
    assert_eq!(r.get(0), Some(&b"BE,TA"[..]));
    assert_eq!(r.get(3), Some(&b"said \"hi\""[..]));
    assert_eq!(r.get(4), None);
    assert_eq!(r.iter().count(), 4);
    assert_eq!(r.as_slice(), b"BE,TA2.2510said \"hi\"");
    let owned = r.to_byte_record();
    assert_eq!(owned.get(2), Some(&b"10"[..]));
    let headers = csv::ByteRecord::from(vec!["symbol", "price", "qty", "note"]);
    let noted: Noted = r.deserialize(Some(&headers)).unwrap();
    assert_eq!(noted.qty, 10);
    assert_eq!(records[1].clone(), records[1]);
    assert_ne!(records[0], records[1]);
    assert!(format!("{:?}", records[0]).contains("ACME"));
}
