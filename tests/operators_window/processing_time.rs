//! Processing-time windows on paused tokio time: they fire on a timer, with or without
//! input.

use std::time::Duration;

use futures::channel::mpsc;
use futures::{StreamExt, stream};
use sweet_async::error::{ConfigError, TaskError};
use sweet_async::operators::DataflowExt;
use sweet_async::operators::window::{FireReason, Session, Sliding, Tumbling, WindowEvent};
use tokio::time::{Instant, advance, sleep};

use super::Out;
use FireReason::{EndOfStream, Timer};

const MS: Duration = Duration::from_millis(1);

type TimedOut<A, T = i32> = Out<(), A, T, Instant>;

#[tokio::test(start_paused = true)]
async fn tumbling_fires_on_the_timer_without_input() {
    let (tx, rx) = mpsc::unbounded::<i32>();
    let mut windows = rx
        .processing_time_window(Tumbling::processing_time(Duration::from_secs(1)))
        .unwrap();
    let origin = Instant::now();
    // The first poll starts the clock of the windows.
    assert!(futures::poll!(windows.next()).is_pending());

    tx.unbounded_send(1).unwrap();
    advance(100 * MS).await;
    tx.unbounded_send(2).unwrap();
    advance(100 * MS).await;
    assert!(futures::poll!(windows.next()).is_pending());

    // No more input: the window still fires when the clock reaches its end.
    let event = windows.next().await.unwrap();
    assert_eq!(Instant::now(), origin + 1000 * MS);
    assert_eq!(
        Out::from(event),
        TimedOut::Fired((), origin, origin + 1000 * MS, vec![1, 2], Timer, false)
    );

    // An element in the next window, then the end of input fires it at once.
    advance(300 * MS).await;
    tx.unbounded_send(3).unwrap();
    drop(tx);
    let event = windows.next().await.unwrap();
    assert_eq!(
        Out::from(event),
        TimedOut::Fired(
            (),
            origin + 1000 * MS,
            origin + 2000 * MS,
            vec![3],
            EndOfStream,
            false
        )
    );
    assert!(windows.next().await.is_none());
    assert_eq!(Instant::now(), origin + 1300 * MS);
}

#[tokio::test(start_paused = true)]
async fn windows_without_elements_do_not_fire() {
    let (tx, rx) = mpsc::unbounded::<i32>();
    let mut windows = rx
        .processing_time_window(Tumbling::processing_time(Duration::from_secs(1)))
        .unwrap();
    let origin = Instant::now();
    let consumer = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(event) = windows.next().await {
            seen.push((Instant::now() - origin, Out::from(event)));
        }
        seen
    });
    sleep(2500 * MS).await;
    tx.unbounded_send(7).unwrap();
    sleep(2000 * MS).await;
    drop(tx);
    let seen = consumer.await.unwrap();
    assert_eq!(
        seen,
        vec![(
            3000 * MS,
            TimedOut::Fired(
                (),
                origin + 2000 * MS,
                origin + 3000 * MS,
                vec![7],
                Timer,
                false
            )
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn sliding_processing_time_windows() {
    // Size 1 s, slide 500 ms: an element at 200 ms is in [-500, 500) and [0, 1000).
    let origin = Instant::now();
    let input = stream::once(async {
        sleep(200 * MS).await;
        1
    })
    .chain(stream::pending());
    let mut windows = Box::pin(
        input
            .processing_time_window(Sliding::processing_time(1000 * MS, 500 * MS))
            .unwrap(),
    );
    let first = windows.next().await.unwrap();
    assert_eq!(Instant::now(), origin + 500 * MS);
    let second = windows.next().await.unwrap();
    assert_eq!(Instant::now(), origin + 1000 * MS);
    assert_eq!(
        vec![Out::from(first), Out::from(second)],
        vec![
            TimedOut::Fired(
                (),
                origin - 500 * MS,
                origin + 500 * MS,
                vec![1],
                Timer,
                false
            ),
            TimedOut::Fired((), origin, origin + 1000 * MS, vec![1], Timer, false),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn tumbling_with_offset() {
    let origin = Instant::now();
    let input = stream::once(async {
        sleep(100 * MS).await;
        1
    })
    .chain(stream::pending());
    let mut windows = Box::pin(
        input
            .processing_time_window(Tumbling::processing_time(1000 * MS).offset(250 * MS))
            .unwrap(),
    );
    let event = windows.next().await.unwrap();
    assert_eq!(Instant::now(), origin + 250 * MS);
    assert_eq!(
        Out::from(event),
        TimedOut::Fired(
            (),
            origin - 750 * MS,
            origin + 250 * MS,
            vec![1],
            Timer,
            false
        )
    );
}

#[tokio::test(start_paused = true)]
async fn sessions_close_after_the_gap() {
    let origin = Instant::now();
    let (tx, rx) = mpsc::unbounded::<i32>();
    let windows = rx
        .processing_time_window(Session::processing_time(500 * MS))
        .unwrap();
    let consumer = tokio::spawn(async move {
        windows
            .map(|e| (Instant::now() - origin, Out::from(e)))
            .collect::<Vec<_>>()
            .await
    });
    tx.unbounded_send(1).unwrap();
    sleep(300 * MS).await;
    tx.unbounded_send(2).unwrap();
    sleep(1000 * MS).await;
    tx.unbounded_send(3).unwrap();
    drop(tx);
    let seen = consumer.await.unwrap();
    assert_eq!(
        seen,
        vec![
            (
                800 * MS,
                TimedOut::Fired((), origin, origin + 800 * MS, vec![1, 2], Timer, false)
            ),
            (
                1300 * MS,
                TimedOut::Fired(
                    (),
                    origin + 1300 * MS,
                    origin + 1800 * MS,
                    vec![3],
                    EndOfStream,
                    false
                )
            ),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn keyed_processing_time_fold() {
    let origin = Instant::now();
    let input = stream::iter([("a", 1), ("b", 10), ("a", 2)]).chain(stream::pending());
    let mut windows = input
        .key_by(|t| t.0)
        .processing_time_window(Tumbling::processing_time(1000 * MS))
        .unwrap()
        .fold_windows(0, |sum, t| sum + t.1);
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(Out::from(windows.next().await.unwrap()));
    }
    assert_eq!(
        seen,
        vec![
            Out::Fired("a", origin, origin + 1000 * MS, 3, Timer, false),
            Out::Fired("b", origin, origin + 1000 * MS, 10, Timer, false),
        ]
    );
    assert_eq!(windows.stats().open_windows, 0);
}

#[test]
fn without_a_runtime_the_stream_reports_an_error() {
    // No tokio runtime: the first window cannot arm its timer.
    let windows = stream::iter([1])
        .chain(stream::pending())
        .processing_time_window(Tumbling::processing_time(1000 * MS))
        .unwrap();
    let out: Vec<WindowEvent<(), Vec<i32>, i32, Instant>> =
        futures::executor::block_on(windows.collect());
    assert!(matches!(
        out.as_slice(),
        [WindowEvent::Error(TaskError::NoRuntime)]
    ));
}

#[test]
fn zero_durations_are_config_errors() {
    assert_eq!(
        stream::iter([1])
            .processing_time_window(Tumbling::processing_time(Duration::ZERO))
            .err()
            .unwrap(),
        ConfigError::ZeroDuration {
            setting: "window size"
        }
    );
    assert_eq!(
        stream::iter([1])
            .processing_time_window(Session::processing_time(Duration::ZERO))
            .err()
            .unwrap(),
        ConfigError::ZeroDuration {
            setting: "session gap"
        }
    );
}
