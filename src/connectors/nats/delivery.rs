//! [`Delivery`]: one delivery of a JetStream message, with what the server said about it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::{HeaderMap, Subject};
use bytes::Bytes;

/// One delivery of a JetStream message: its subject, payload and headers, where it is in
/// the stream and the consumer, and how many times it was delivered.
///
/// The payload of a [`JetStreamSource`](super::JetStreamSource)'s events, or what its
/// [`map`](super::JetStreamSource::map) closure reads. A `delivered` count above 1 means
/// the message came before and was rejected, released, or not acknowledged within the
/// consumer's `ack_wait`: a duplicate, if its first delivery had been handled.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// The subject the message was published to.
    pub subject: Subject,
    /// The message body.
    pub payload: Bytes,
    /// The message headers, if any.
    pub headers: Option<HeaderMap>,
    /// The message's sequence number in the stream: its identity.
    pub stream_sequence: u64,
    /// The delivery's sequence number in the consumer (grows with redeliveries).
    pub consumer_sequence: u64,
    /// How many times the message was delivered, this delivery included (1 the first time).
    pub delivered: u64,
    /// Messages the server still had pending for the consumer after this one.
    pub pending: u64,
    /// When the server stored the message.
    pub published: SystemTime,
}

impl Delivery {
    /// The delivery and its reply (ack) subject, or `None` when the message is not a
    /// JetStream delivery (no `$JS.ACK` reply subject it can parse).
    pub(super) fn from_message(message: async_nats::Message) -> Option<(Delivery, Subject)> {
        let async_nats::Message {
            subject,
            reply,
            payload,
            headers,
            ..
        } = message;
        let reply = reply?;
        let meta = AckMeta::parse(&reply)?;
        let delivery = Delivery {
            subject,
            payload,
            headers,
            stream_sequence: meta.stream_sequence,
            consumer_sequence: meta.consumer_sequence,
            delivered: meta.delivered,
            pending: meta.pending,
            published: meta.published,
        };
        Some((delivery, reply))
    }
}

/// What a JetStream reply subject says about a delivery.
#[derive(Debug, PartialEq)]
struct AckMeta {
    delivered: u64,
    stream_sequence: u64,
    consumer_sequence: u64,
    published: SystemTime,
    pending: u64,
}

impl AckMeta {
    /// Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<nanos>.<pending>`, or
    /// the newer form with `<domain>.<account hash>` before the stream and a token after
    /// the pending count (ADR-15).
    fn parse(reply: &str) -> Option<AckMeta> {
        let rest = reply.strip_prefix("$JS.ACK.")?;
        let mut tokens = [""; 12];
        let mut n = 0usize;
        for token in rest.split('.') {
            if let Some(slot) = tokens.get_mut(n) {
                *slot = token;
            }
            n = n.saturating_add(1);
        }
        let numbers = match n {
            7 => tokens.get(2..7)?,
            n if n >= 9 => tokens.get(4..9)?,
            _ => return None,
        };
        let [delivered, sseq, cseq, nanos, pending] = numbers else {
            return None;
        };
        let nanos: u64 = nanos.parse().ok()?;
        Some(AckMeta {
            delivered: delivered.parse().ok()?,
            stream_sequence: sseq.parse().ok()?,
            consumer_sequence: cseq.parse().ok()?,
            published: UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))?,
            pending: pending.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_subjects_of_both_forms_parse() {
        let meta = AckMeta::parse("$JS.ACK.ORDERS.billing.2.100.7.1790230470084404000.42");
        let expected = AckMeta {
            delivered: 2,
            stream_sequence: 100,
            consumer_sequence: 7,
            published: UNIX_EPOCH + Duration::from_nanos(1_790_230_470_084_404_000),
            pending: 42,
        };
        assert_eq!(meta.as_ref(), Some(&expected));
        let v2 =
            AckMeta::parse("$JS.ACK.hub.ACCHASH.ORDERS.billing.2.100.7.1790230470084404000.42.x");
        assert_eq!(v2.as_ref(), Some(&expected));
        assert_eq!(AckMeta::parse("$JS.ACK.ORDERS.billing.2.100"), None);
        assert_eq!(AckMeta::parse("_INBOX.abc"), None);
        assert_eq!(AckMeta::parse("$JS.ACK.ORDERS.billing.x.100.7.1.0"), None);
    }
}
