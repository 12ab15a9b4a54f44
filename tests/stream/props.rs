//! Property test: over random inputs, random per-item failures (at the source and in the
//! receiver), each error policy and each strategy, the summary matches a brute-force
//! model and always adds up: items in = out + errors + skipped.

use proptest::prelude::*;
use sweet_async::prelude::*;

#[derive(Debug, Clone, Copy)]
struct Item {
    value: u16,
    source_fails: bool,
    receiver_fails: bool,
}

fn item() -> impl Strategy<Value = Item> {
    (
        any::<u16>(),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(value, source_fails, receiver_fails)| Item {
            value,
            source_fails,
            receiver_fails,
        })
}

fn policy() -> impl Strategy<Value = ErrorPolicy> {
    prop_oneof![
        Just(ErrorPolicy::Stop),
        Just(ErrorPolicy::Skip),
        Just(ErrorPolicy::Collect)
    ]
}

/// The reference model: (items in, outputs, errors, skipped).
fn model(items: &[Item], policy: ErrorPolicy) -> (u64, Vec<u16>, u64, u64) {
    let (mut seen, mut out, mut errors, mut skipped) = (0, Vec::new(), 0, 0);
    for it in items {
        seen += 1;
        if it.source_fails {
            match policy {
                ErrorPolicy::Skip => skipped += 1,
                ErrorPolicy::Collect => errors += 1,
                ErrorPolicy::Stop => {
                    errors += 1;
                    break;
                }
                _ => panic!("a policy the model does not know"),
            }
        } else if it.receiver_fails {
            errors += 1;
        } else {
            out.push(it.value);
        }
    }
    (seen, out, errors, skipped)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn summary_matches_the_model_and_adds_up(
        items in prop::collection::vec(item(), 0..60),
        policy in policy(),
        workers in 0usize..4,
        buffer in 1usize..8,
        multi_thread in any::<bool>(),
    ) {
        let rt = if multi_thread {
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
        } else {
            tokio::runtime::Builder::new_current_thread().enable_all().build()
        }.unwrap();
        let strategy = if workers == 0 {
            ReceiverStrategy::Serial
        } else {
            ReceiverStrategy::parallel(workers).unwrap()
        };
        let input: Vec<Result<Item, String>> = items
            .iter()
            .map(|it| if it.source_fails { Err(format!("bad {}", it.value)) } else { Ok(*it) })
            .collect();
        let (summary, mut outputs, errors) = rt.block_on(
            AsyncTask::emits::<Item>()
                .buffer(buffer.items())
                .on_error(policy)
                .sender(futures::stream::iter(input))
                .receiver(strategy, |event, c: Collector<(), u16>| async move {
                    let it = event.into_data();
                    tokio::task::yield_now().await;
                    if it.receiver_fails {
                        return Err(format!("receiver rejected {}", it.value));
                    }
                    c.collect_item(it.value);
                    Ok(it.value)
                })
                .await_final_event(|summary, collected| {
                    let errors = collected.errors().len() as u64;
                    assert_eq!(collected.items().len(), collected.outputs().len());
                    (summary, collected.into_outputs(), errors)
                }),
        );
        let (seen, mut expected, exp_errors, exp_skipped) = model(&items, policy);
        prop_assert_eq!(summary.items_in, summary.items_out + summary.errors + summary.skipped);
        prop_assert_eq!(summary.items_in, seen);
        prop_assert_eq!(summary.errors, exp_errors);
        prop_assert_eq!(summary.skipped, exp_skipped);
        prop_assert_eq!(errors, exp_errors);
        prop_assert!(!summary.cancelled);
        if workers > 0 {
            outputs.sort_unstable();
            expected.sort_unstable();
        }
        prop_assert_eq!(outputs, expected);
    }
}
