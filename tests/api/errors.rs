//! Every public error type converts into `Box<dyn Error + Send + Sync>` and
//! `anyhow::Error` with `?`, whatever work error type a task has.

use std::convert::Infallible;

use sweet_async::collect::KeyedError;
use sweet_async::error::{BoxError, ConfigError, TaskError};
use sweet_async::message::MessageError;
use sweet_async::operators::{Elapsed, ParMapError, RetryError, SequenceError};
use sweet_async::orchestra::OrchestraError;
use sweet_async::prelude::*;
use sweet_async::stream::{EventError, SendError, SourceError};
use sweet_async::task::async_result::MissingValue;
use sweet_async::task::{CircuitOpen, InvalidTransition, MissingDependency, ParseTaskIdError};

/// Compiles only for types that `?` converts into both.
fn converts<E: std::error::Error + Send + Sync + 'static>() {
    fn boxed<E: Into<Box<dyn std::error::Error + Send + Sync>>>() {}
    fn anyhow<E: Into<anyhow::Error>>() {}
    boxed::<E>();
    anyhow::<E>();
}

#[test]
fn every_public_error_type_converts() {
    converts::<TaskError>();
    converts::<TaskError<BoxError>>();
    converts::<TaskError<std::io::Error>>();
    converts::<TaskError<String>>();
    converts::<TaskError<&'static str>>();
    converts::<TaskError<anyhow::Error>>();
    converts::<TaskError<Infallible>>();
    converts::<ConfigError>();
    converts::<EventError>();
    converts::<SourceError>();
    converts::<KeyedError<String>>();
    converts::<KeyedError<()>>();
    converts::<OrchestraError>();
    converts::<MessageError>();
    converts::<ParMapError>();
    converts::<Elapsed>();
    converts::<RetryError<u32, BoxError>>();
    converts::<RetryError<String, &'static str>>();
    converts::<SequenceError<u32>>();
    converts::<SendError<u32>>();
    converts::<CircuitOpen>();
    converts::<MissingValue>();
    converts::<MissingDependency>();
    converts::<ParseTaskIdError>();
    converts::<InvalidTransition>();
}

async fn with_box() -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    let v = AsyncTask::to::<u32>()
        .run(|| async { Err::<u32, BoxError>("no such row".into()) })
        .into_result()
        .await?;
    Ok(v)
}

async fn with_anyhow() -> anyhow::Result<u32> {
    let v = AsyncTask::to::<u32>()
        .run(|| async { Err::<u32, _>("no such row") })
        .into_result()
        .await?;
    Ok(v)
}

#[tokio::test]
async fn question_mark_keeps_the_message() {
    let boxed = with_box().await.unwrap_err();
    assert_eq!(boxed.to_string(), "task failed: no such row");
    // The boxed work error is the source.
    assert_eq!(boxed.source().unwrap().to_string(), "no such row");
    let any = with_anyhow().await.unwrap_err();
    assert_eq!(any.to_string(), "task failed: no such row");
    assert!(any.downcast_ref::<TaskError<&str>>().is_some());
}
