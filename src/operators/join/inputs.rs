//! Polling the two inputs of a join fairly, one item from each in turn.

use std::pin::Pin;
use std::task::{Context, Poll};

use crate::operators::timed::{Timed, TimedStream};

/// What the next poll of the two inputs gave.
pub(crate) enum Next<A, B> {
    Left(Timed<A>),
    Right(Timed<B>),
    /// The left input just ended (reported once).
    LeftEnded,
    /// The right input just ended (reported once).
    RightEnded,
    /// Both inputs had ended before this poll.
    Ended,
    Pending,
}

/// End flags and the turn of the two inputs.
#[derive(Debug, Default)]
pub(crate) struct Inputs {
    left_done: bool,
    right_done: bool,
    right_first: bool,
}

impl Inputs {
    /// Polls the input whose turn it is, then the other if that one is pending.
    #[inline]
    pub(crate) fn poll<L, R>(
        &mut self,
        mut left: Pin<&mut L>,
        mut right: Pin<&mut R>,
        cx: &mut Context<'_>,
    ) -> Next<L::Value, R::Value>
    where
        L: TimedStream,
        R: TimedStream,
    {
        if self.left_done && self.right_done {
            return Next::Ended;
        }
        self.right_first = !self.right_first;
        for right_turn in [self.right_first, !self.right_first] {
            if right_turn {
                if self.right_done {
                    continue;
                }
                match right.as_mut().poll_next(cx) {
                    Poll::Ready(Some(t)) => return Next::Right(t),
                    Poll::Ready(None) => {
                        self.right_done = true;
                        return Next::RightEnded;
                    }
                    Poll::Pending => {}
                }
            } else {
                if self.left_done {
                    continue;
                }
                match left.as_mut().poll_next(cx) {
                    Poll::Ready(Some(t)) => return Next::Left(t),
                    Poll::Ready(None) => {
                        self.left_done = true;
                        return Next::LeftEnded;
                    }
                    Poll::Pending => {}
                }
            }
        }
        Next::Pending
    }

    /// Both inputs ended.
    pub(crate) fn ended(&self) -> bool {
        self.left_done && self.right_done
    }
}
