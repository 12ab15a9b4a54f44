//! One work-queue batch: a task that takes rows in a transaction, waits until every row
//! was settled downstream, then applies the outcomes and commits.
//!
//! The task is not aborted with the source stream: its work is the settlement of rows the
//! pipeline already handled, and it ends on its own once every row is settled (a dropped
//! obligation settles as released) or the acknowledgement wait has passed. Until then it
//! holds one pooled connection and the rows' locks.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::error::PgError;
use super::queue::QueueConfig;
use super::row::RawKey;
use super::tracker::{Batch, Settled, Tracker};

/// What a batch task hands the source: its rows and their outcome slots.
pub(crate) type Fetched = Result<(Vec<Row>, Arc<Batch>), PgError>;

/// Longest reason written into the error column, in bytes.
const MAX_REASON: usize = 4096;

/// Starts a batch task; its rows come through the returned receiver.
pub(crate) fn spawn(
    config: &Arc<QueueConfig>,
    tracker: &Arc<Tracker>,
) -> Result<oneshot::Receiver<Fetched>, PgError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| PgError::NoRuntime)?;
    let (tx, rx) = oneshot::channel();
    let (config, tracker) = (config.clone(), tracker.clone());
    tracker.batch_started();
    // Detached on purpose (see the module docs): it ends when its rows are settled.
    drop(runtime.spawn(async move {
        run(&config, &tracker, tx).await;
        tracker.batch_ended();
    }));
    Ok(rx)
}

async fn run(config: &QueueConfig, tracker: &Tracker, tx: oneshot::Sender<Fetched>) {
    let query_error = |source| PgError::Query {
        query: config.table.clone(),
        source,
    };
    let mut client = match config.pool.get().await {
        Ok(client) => client,
        Err(source) => {
            let _ = tx.send(Err(PgError::Pool {
                what: config.table.clone(),
                source,
            }));
            return;
        }
    };
    let txn = match client.transaction().await {
        Ok(txn) => txn,
        Err(e) => {
            let _ = tx.send(Err(query_error(e)));
            return;
        }
    };
    let limit = i64::try_from(config.batch_size).unwrap_or(i64::MAX);
    let rows = match txn.query(config.select.as_str(), &[&limit]).await {
        Ok(rows) => rows,
        Err(e) => {
            let _ = tx.send(Err(query_error(e)));
            return;
        }
    };
    let keys = match keys(config, &rows) {
        Ok(keys) => keys,
        Err(e) => {
            let _ = tx.send(Err(e));
            return;
        }
    };
    let batch = Arc::new(Batch::new(rows.len()));
    let empty = rows.is_empty();
    if tx.send(Ok((rows, batch.clone()))).is_err() || empty {
        // Nothing taken, or the source is gone: the rollback returns the rows.
        return;
    }
    let in_time = tokio::time::timeout(config.ack_wait, batch.wait())
        .await
        .is_ok();
    let outcomes = batch.close();
    tracker.unregister(&batch);

    let mut acked = Vec::new();
    let mut rejected: HashMap<Arc<str>, Vec<RawKey>> = HashMap::new();
    let (mut released, mut expired) = (0usize, 0usize);
    for (key, outcome) in keys.into_iter().zip(outcomes) {
        match outcome {
            Some(Settled::Acked) => acked.push(key),
            Some(Settled::Rejected(reason)) => rejected.entry(reason).or_default().push(key),
            Some(Settled::Released) => released = released.saturating_add(1),
            None => expired = expired.saturating_add(1),
        }
    }
    if !in_time {
        tracker.expired(expired);
    }
    let n_rejected = rejected.values().map(Vec::len).sum();
    let settle = async {
        if !acked.is_empty() {
            txn.execute(config.ack.as_str(), &[&acked]).await?;
        }
        let mut parked = 0u64;
        if let Some(reject) = &config.reject {
            for (reason, keys) in &rejected {
                let rows = if config.records_error {
                    let reason = truncate(reason, MAX_REASON);
                    txn.query(reject.as_str(), &[keys as &(dyn ToSql + Sync), &reason])
                        .await?
                } else {
                    txn.query(reject.as_str(), &[keys]).await?
                };
                let now_parked = rows.iter().filter(|r| r.try_get(0).unwrap_or(false));
                parked = parked.saturating_add(now_parked.count() as u64);
            }
        }
        txn.commit().await?;
        Ok::<_, tokio_postgres::Error>(parked)
    };
    match settle.await {
        Ok(parked) => tracker.committed(acked.len(), n_rejected, parked, released),
        Err(source) => tracker.failed(PgError::Commit {
            table: config.table.clone(),
            rows: batch.len(),
            source,
        }),
    }
}

/// The key of each row, in the server's binary form.
fn keys(config: &QueueConfig, rows: &[Row]) -> Result<Vec<RawKey>, PgError> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let missing = || PgError::MissingKey {
        table: config.table.clone(),
        key: config.key.clone(),
    };
    // The server folds unquoted names to lower case.
    let name = match config.key.strip_prefix('"') {
        Some(quoted) => quoted.trim_end_matches('"').to_owned(),
        None => config.key.to_lowercase(),
    };
    let at = first
        .columns()
        .iter()
        .position(|c| c.name() == name)
        .ok_or_else(missing)?;
    rows.iter()
        .map(|row| {
            row.try_get::<_, RawKey>(at)
                .map_err(|source| PgError::Query {
                    query: config.table.clone(),
                    source,
                })
        })
        .collect()
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    // Index 0 is always a boundary: the loop stops there at the latest.
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    s.get(..end).unwrap_or_default()
}
