//! Messages round-trip over bounded mailboxes; a tampered sealed envelope is rejected.

use std::time::Duration;

use sweet_async::message::{MessageBuilderExt, MessageBus, MessageError, MessageKind};
use sweet_async::prelude::*;

#[derive(Debug, Clone, PartialEq)]
struct Reading {
    sensor: &'static str,
    value: f64,
}

#[tokio::test]
async fn every_kind_round_trips_with_its_header() {
    let bus = MessageBus::<Reading>::new(16).unwrap();
    let sender = bus.mailbox(TaskId::new()).unwrap();
    let mut inbox = bus.mailbox(TaskId::new()).unwrap();
    let to = inbox.id();
    let out = sender.outbox();
    let reading = Reading {
        sensor: "t1",
        value: 21.5,
    };
    let kinds = [
        MessageKind::Data(reading.clone()),
        MessageKind::Status(TaskStatus::Running),
        MessageKind::Error("disk full".into()),
        MessageKind::CancelRequest(CancellationLevel::Kill),
        MessageKind::CancelAck,
        MessageKind::Completed,
        MessageKind::Heartbeat,
        MessageKind::Custom {
            tag: "log_entry".into(),
            bytes: b"{\"user\":7}".to_vec(),
        },
    ];
    let m = || out.message().hostname("worker-01").correlation_id("job-9");
    m().data(reading.clone()).send_to(to).await.unwrap();
    m().status(TaskStatus::Running).send_to(to).await.unwrap();
    m().error("disk full").send_to(to).await.unwrap();
    m().cancel_request(CancellationLevel::Kill)
        .send_to(to)
        .await
        .unwrap();
    m().cancel_ack().send_to(to).await.unwrap();
    m().completed().send_to(to).await.unwrap();
    m().heartbeat().send_to(to).await.unwrap();
    m().custom("log_entry", b"{\"user\":7}".to_vec())
        .try_send_to(to)
        .unwrap();
    assert_eq!(inbox.len(), 8);
    let mut last_seq = None;
    for kind in kinds {
        let env = inbox.recv().await.unwrap();
        assert_eq!(env.kind, kind);
        assert_eq!(env.sender, sender.id());
        assert_eq!(env.hostname.as_ref(), "worker-01");
        assert_eq!(env.correlation_id.as_deref(), Some("job-9"));
        assert!(env.timestamp_ns > 1_600_000_000_000_000_000);
        assert!(last_seq < Some(env.sequence));
        last_seq = Some(env.sequence);
    }
    assert!(inbox.try_recv().is_none());
    // Default hostname is resolved, never empty.
    let env = out.message().heartbeat().into_envelope();
    assert!(!env.hostname.is_empty());
    assert_eq!(env.correlation_id, None);
}

#[tokio::test(start_paused = true)]
async fn mailboxes_are_bounded_and_failures_are_typed() {
    let bus = MessageBus::<u32>::new(2).unwrap();
    let producer = bus.mailbox(TaskId::new()).unwrap();
    let mut consumer = bus.mailbox(TaskId::new()).unwrap();
    let to = consumer.id();
    producer.message().data(1).try_send_to(to).unwrap();
    producer.message().data(2).try_send_to(to).unwrap();
    assert_eq!(
        producer.message().data(3).try_send_to(to),
        Err(MessageError::Full(to))
    );
    // A waiting send completes once the consumer makes room: backpressure, no loss.
    let out = producer.outbox();
    let pending = tokio::spawn(async move { out.message().data(3).send_to(to).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(!pending.is_finished());
    assert_eq!(consumer.recv().await.unwrap().into_data(), Some(1));
    pending.await.unwrap().unwrap();
    assert_eq!(consumer.recv().await.unwrap().into_data(), Some(2));
    assert_eq!(consumer.recv().await.unwrap().into_data(), Some(3));

    let nobody = TaskId::new();
    assert_eq!(
        producer.message().data(4).send_to(nobody).await,
        Err(MessageError::UnknownRecipient(nobody))
    );
    assert_eq!(
        bus.mailbox(to).unwrap_err(),
        MessageError::DuplicateMailbox(to)
    );
    drop(consumer);
    assert_eq!(
        producer.message().data(5).send_to(to).await,
        Err(MessageError::UnknownRecipient(to))
    );
    assert!(MessageBus::<u8>::new(0).is_err());
}

#[tokio::test]
async fn broadcast_reaches_subscribers_and_reports_the_gone() {
    let bus = MessageBus::<String>::new(4).unwrap();
    let trainer = bus.mailbox(TaskId::new()).unwrap();
    let mut monitor = bus.mailbox(TaskId::new()).unwrap();
    let mut logger = bus.mailbox(TaskId::new()).unwrap();
    let gone = bus.mailbox(TaskId::new()).unwrap();
    let gone_id = gone.id();
    for m in [&monitor, &logger, &gone] {
        m.subscribe_to(trainer.id());
    }
    drop(gone);
    let report = trainer
        .message()
        .correlation_id("epoch-42")
        .data("loss=0.12".into())
        .broadcast()
        .await
        .unwrap();
    assert_eq!(report.delivered, 2);
    // The mailbox that left was unsubscribed when it left: nothing to report, ever.
    assert!(report.closed.is_empty(), "{gone_id} is still subscribed");
    for inbox in [&mut monitor, &mut logger] {
        let env = inbox.recv().await.unwrap();
        assert_eq!(env.data().map(String::as_str), Some("loss=0.12"));
        assert_eq!(env.correlation_id.as_deref(), Some("epoch-42"));
    }
}

#[cfg(feature = "encryption")]
mod sealed {
    use super::*;
    use sweet_async::message::MessageCipher;

    #[tokio::test]
    async fn sealed_messages_round_trip_and_tampering_is_rejected() {
        let key = [7u8; 32];
        let (sender_cipher, receiver_cipher) = (MessageCipher::new(key), MessageCipher::new(key));
        let bus = MessageBus::<String>::new(8).unwrap();
        let processor = bus.mailbox(TaskId::new()).unwrap();
        let mut analytics = bus.mailbox(TaskId::new()).unwrap();
        for msg in [
            processor.message().data("ssn=123-45-6789".into()),
            processor.message().status(TaskStatus::Failed),
            processor
                .message()
                .cancel_request(CancellationLevel::Graceful),
            processor.message().custom("blob", vec![0, 1, 2, 255]),
        ] {
            let mut plain = msg.envelope().clone();
            plain.recipient = Some(analytics.id());
            msg.seal(&sender_cipher)
                .unwrap()
                .send_to(analytics.id())
                .await
                .unwrap();
            let sealed = analytics.recv().await.unwrap();
            assert!(sealed.is_sealed());
            assert_eq!(sealed.open(&receiver_cipher).unwrap(), plain);
        }

        let sealed = processor
            .message()
            .correlation_id("batch-1")
            .data("secret".into())
            .seal(&sender_cipher)
            .unwrap()
            .into_envelope();
        // A flipped ciphertext bit, a changed header field, a wrong key: all rejected.
        let mut flipped = sealed.clone();
        if let MessageKind::Sealed(s) = &mut flipped.kind {
            s.ciphertext[0] ^= 1;
        }
        assert_eq!(flipped.open(&receiver_cipher), Err(MessageError::Tampered));
        let mut relabelled = sealed.clone();
        relabelled.hostname = "evil-host".into();
        assert_eq!(
            relabelled.open(&receiver_cipher),
            Err(MessageError::Tampered)
        );
        let mut replayed = sealed.clone();
        replayed.sequence += 1;
        assert_eq!(replayed.open(&receiver_cipher), Err(MessageError::Tampered));
        let (other, _) = MessageCipher::generate();
        assert_eq!(sealed.clone().open(&other), Err(MessageError::Tampered));
        assert_eq!(
            sealed
                .open(&receiver_cipher)
                .unwrap()
                .into_data()
                .as_deref(),
            Some("secret")
        );
        assert_eq!(
            format!("{sender_cipher:?}"),
            "MessageCipher { key: <redacted> }"
        );
    }
}
