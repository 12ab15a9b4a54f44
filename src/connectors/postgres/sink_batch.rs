//! Writing one sink batch: a transaction with a binary `COPY` or multi-row `INSERT`s.

use std::sync::Arc;

use deadpool_postgres::Object;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::error::PgError;
use super::sink::SinkConfig;
use super::to_row::ToRow;

/// The most parameters one statement may carry (the protocol counts them in 16 bits).
const MAX_PARAMS: usize = u16::MAX as usize;
/// The most rows per `INSERT` statement: long statements cost parse time.
const MAX_INSERT_ROWS: usize = 1000;

/// What a batch write hands back: the connection (unless it broke), the row buffer
/// (emptied, for reuse), the column types once known, and the outcome.
pub(crate) struct Written<R> {
    pub(crate) conn: Option<Object>,
    pub(crate) rows: Vec<R>,
    pub(crate) types: Option<Arc<[Type]>>,
    pub(crate) result: Result<u64, PgError>,
}

/// Writes `rows` as batch number `batch` in one transaction.
pub(crate) async fn write<R: ToRow + Sync>(
    config: Arc<SinkConfig>,
    conn: Option<Object>,
    mut rows: Vec<R>,
    types: Option<Arc<[Type]>>,
    batch: u64,
) -> Written<R> {
    let mut conn = match conn {
        Some(conn) => conn,
        None => match config.pool.get().await {
            Ok(conn) => conn,
            Err(source) => {
                rows.clear();
                return Written {
                    conn: None,
                    rows,
                    types,
                    result: Err(PgError::Pool {
                        what: config.table.clone(),
                        source,
                    }),
                };
            }
        },
    };
    let (types, result) = write_on(&config, &mut conn, &rows, types, batch).await;
    rows.clear();
    Written {
        conn: (!conn.is_closed()).then_some(conn),
        rows,
        types,
        result,
    }
}

async fn write_on<R: ToRow + Sync>(
    config: &SinkConfig,
    conn: &mut Object,
    rows: &[R],
    types: Option<Arc<[Type]>>,
    batch: u64,
) -> (Option<Arc<[Type]>>, Result<u64, PgError>) {
    let failed = |source| PgError::Batch {
        table: config.table.clone(),
        batch,
        rows: rows.len(),
        source,
    };
    let types = match types {
        Some(types) => types,
        // `INSERT` has the server infer the parameter types.
        None if config.copy.is_none() => Arc::from([]),
        None => match conn.prepare_cached(&config.describe).await {
            Ok(statement) => statement
                .columns()
                .iter()
                .map(|c| c.type_().clone())
                .collect(),
            Err(e) => return (None, Err(failed(e))),
        },
    };
    // Every row must have one value per column before anything is sent.
    let mut values: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(config.columns);
    for (i, row) in rows.iter().enumerate() {
        values.clear();
        row.values(&mut values);
        if values.len() != config.columns {
            let error = PgError::Arity {
                table: config.table.clone(),
                batch,
                row: i.saturating_add(1),
                expected: config.columns,
                got: values.len(),
            };
            return (Some(types), Err(error));
        }
    }
    let result = match &config.copy {
        Some(copy) => copy_rows(conn, copy, &types, rows).await,
        None => insert_rows(conn, config, rows).await,
    };
    (Some(types), result.map_err(failed))
}

async fn copy_rows<R: ToRow + Sync>(
    conn: &mut Object,
    copy: &str,
    types: &[Type],
    rows: &[R],
) -> Result<u64, tokio_postgres::Error> {
    let txn = conn.transaction().await?;
    let sink = txn.copy_in(copy).await?;
    let writer = BinaryCopyInWriter::new(sink, types);
    tokio::pin!(writer);
    let mut values: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(types.len());
    for row in rows {
        values.clear();
        row.values(&mut values);
        writer.as_mut().write(&values).await?;
    }
    let n = writer.finish().await?;
    txn.commit().await?;
    Ok(n)
}

async fn insert_rows<R: ToRow + Sync>(
    conn: &mut Object,
    config: &SinkConfig,
    rows: &[R],
) -> Result<u64, tokio_postgres::Error> {
    let per_statement = MAX_PARAMS
        .checked_div(config.columns)
        .unwrap_or(MAX_PARAMS)
        .clamp(1, MAX_INSERT_ROWS);
    let txn = conn.transaction().await?;
    let mut values: Vec<&(dyn ToSql + Sync)> = Vec::new();
    let mut n = 0u64;
    for part in rows.chunks(per_statement) {
        // Full-size statements are prepared once per connection; shorter ones (the
        // batch's rest) each time, so the statement cache holds one per sink.
        let sql = config.insert_sql(part.len());
        let statement = if part.len() == per_statement {
            txn.prepare_cached(&sql).await?
        } else {
            txn.prepare(&sql).await?
        };
        values.clear();
        for row in part {
            row.values(&mut values);
        }
        n = n.saturating_add(txn.execute(&statement, &values).await?);
    }
    txn.commit().await?;
    Ok(n)
}
