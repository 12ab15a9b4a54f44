//! What both cores do with their upstream: poll it with a panic caught, and count it in
//! the size hint.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

use super::error::ParMapError;
use crate::error::panic_message;

/// Polls `upstream` with a panic turned into an error.
pub(crate) fn poll_upstream<St: Stream>(
    upstream: Pin<&mut St>,
    cx: &mut Context<'_>,
) -> Result<Poll<Option<St::Item>>, ParMapError> {
    catch_unwind(AssertUnwindSafe(|| upstream.poll_next(cx))).map_err(|payload| {
        ParMapError::UpstreamPanicked {
            message: panic_message(&*payload),
        }
    })
}

/// The size hint of a core holding `here` items (in flight, finished, or a pending
/// upstream error) ahead of `upstream` (`None` once it has ended).
pub(crate) fn size_hint<St: Stream>(
    upstream: Option<&Pin<Box<St>>>,
    here: usize,
) -> (usize, Option<usize>) {
    match upstream {
        None => (here, Some(here)),
        Some(upstream) => {
            let (lo, hi) = upstream.size_hint();
            (
                lo.saturating_add(here),
                hi.and_then(|h| h.checked_add(here)),
            )
        }
    }
}
