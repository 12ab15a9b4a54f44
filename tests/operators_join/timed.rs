//! Timed streams: watermarks from timestamps, windows closed by the stream's watermarks.

use futures::{StreamExt, stream};
use sweet_async::error::ConfigError;
use sweet_async::operators::DataflowExt;
use sweet_async::operators::timed::Timed;
use sweet_async::operators::window::{FireReason, Tumbling, WindowEvent};

#[test]
fn watermark_after_each_element_that_raised_it() {
    let out: Vec<Timed<i64>> = futures::executor::block_on(
        stream::iter([5i64, 3, 9, 9, 4])
            .with_watermarks(1, |t| *t)
            .unwrap()
            .collect(),
    );
    assert_eq!(
        out,
        vec![
            Timed::item(5, 5),
            Timed::Watermark(3),
            Timed::item(3, 3),
            Timed::item(9, 9),
            Timed::Watermark(7),
            Timed::item(9, 9),
            Timed::item(4, 4),
        ]
    );
    assert!(matches!(
        stream::iter([1i64]).with_watermarks(-1, |t| *t).err(),
        Some(ConfigError::Invalid { .. })
    ));
}

#[test]
fn window_fires_on_stream_watermarks_not_on_timestamps() {
    // No watermark until 100: timestamps alone never close [0, 5).
    let items = vec![
        Timed::item(1, 'a'),
        Timed::item(7, 'b'),
        Timed::item(2, 'c'),
        Timed::Watermark(4),
        Timed::item(3, 'd'), // [0, 5) fired at W = 4: late
        Timed::Watermark(100),
    ];
    let out: Vec<Timed<WindowEvent<(), Vec<char>, char>>> = futures::executor::block_on(
        stream::iter(items)
            .timed_window(Tumbling::event_time(5))
            .unwrap()
            .collect(),
    );
    let flat: Vec<String> = out
        .into_iter()
        .map(|t| match t {
            Timed::Watermark(w) => format!("W{w}"),
            Timed::Item { ts, value } => match value {
                WindowEvent::Fired(w) => {
                    assert_eq!(w.reason, FireReason::Watermark);
                    format!("{ts}:{}..{}={:?}", w.start, w.end, w.value)
                }
                WindowEvent::Late(c) => format!("{ts}:late {c}"),
                WindowEvent::Error(e) => format!("error {e}"),
                other => format!("unexpected {other:?}"),
            },
        })
        .collect();
    assert_eq!(
        flat,
        vec![
            "4:0..5=['a', 'c']",
            "W4",
            "3:late d",
            "9:5..10=['b']",
            "W100",
        ]
    );
}
