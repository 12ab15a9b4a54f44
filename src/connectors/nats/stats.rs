//! [`JetStreamStats`]: what a JetStream source has delivered and told the server so far.

use std::fmt;

/// A snapshot of a [`JetStreamSource`](super::JetStreamSource)'s live counters, read with
/// [`JetStreamHandle::stats`](super::JetStreamHandle::stats).
///
/// `delivered == acked + naked + termed + in_flight` always holds: every delivery is
/// acknowledged, negatively acknowledged (the server redelivers it), terminated (poison:
/// never redelivered) or still in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JetStreamStats {
    /// Messages delivered to this process (redeliveries included).
    pub delivered: u64,
    /// Deliveries acknowledged (`+ACK` sent).
    pub acked: u64,
    /// Deliveries rejected or released (`-NAK` sent): the server redelivers them.
    pub naked: u64,
    /// Deliveries rejected at the delivery limit (`+TERM` sent): never redelivered.
    pub termed: u64,
    /// Progress acknowledgements (`+WPI`) sent for deliveries still in flight.
    pub progress_acks: u64,
    /// Acknowledgements that could not be sent (the connection was closed): the server
    /// redelivers those deliveries after `ack_wait`.
    pub ack_errors: u64,
    /// Deliveries in this process whose verdict was not yet sent.
    pub in_flight: u64,
    /// The most deliveries that were in flight at once: never above `max_ack_pending`.
    pub peak_in_flight: u64,
}

impl fmt::Display for JetStreamStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} delivered, {} acked, {} nak'ed, {} terminated, {} in flight (peak {}), \
             {} progress acks, {} ack errors",
            self.delivered,
            self.acked,
            self.naked,
            self.termed,
            self.in_flight,
            self.peak_in_flight,
            self.progress_acks,
            self.ack_errors
        )
    }
}
