//! [`ParMapUnordered`]: the stream of [`par_map_unordered`](super::DataflowExt::par_map_unordered).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;

use super::par_driver::{AnyOrder, AsyncCore, Limits, ParMapError, State, par_map_stream};
use crate::error::ConfigError;
use crate::units::Count;

par_map_stream!(
    ParMapUnordered,
    AnyOrder,
    "par_map_unordered",
    "The core of `par_map_unordered`: results are yielded as the calls finish."
);
