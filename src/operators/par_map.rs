//! [`ParMap`]: the stream of [`par_map`](super::DataflowExt::par_map).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;

use super::par_driver::{AsyncCore, InOrder, Limits, ParMapError, State, par_map_stream};
use crate::error::ConfigError;
use crate::units::Count;

par_map_stream!(
    ParMap,
    InOrder,
    "par_map",
    "The core of `par_map`: calls finish in any order and are yielded in input order."
);
