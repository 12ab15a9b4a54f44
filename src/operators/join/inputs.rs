//! Polling the two inputs of a join fairly: runs of up to [`RUN`] items from one input,
//! then the other's turn (a run ends early when its input is not ready).

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

/// Items taken from one input before the other gets its turn.
const RUN: u32 = 32;

/// End flags and the turn of the two inputs.
#[derive(Debug, Default)]
pub(crate) struct Inputs {
    left_done: bool,
    right_done: bool,
    right_first: bool,
    /// Items left in the current input's run.
    run: u32,
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
        if self.run == 0 {
            self.right_first = !self.right_first;
            self.run = RUN;
        }
        self.run = self.run.saturating_sub(1);
        for (i, right_turn) in [self.right_first, !self.right_first]
            .into_iter()
            .enumerate()
        {
            if i == 1 {
                // The first input was not ready: the other one's run starts.
                self.right_first = right_turn;
                self.run = RUN - 1;
            }
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
