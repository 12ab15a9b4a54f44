//! [`Db`]: where a query source gets its connection; and the checks of the table and
//! column names the connector writes into its SQL.

use std::fmt;
use std::sync::Arc;

use deadpool_postgres::{Object, Pool};
use tokio_postgres::Client;

use super::error::PgError;
use crate::error::ConfigError;

/// A pool, or one client, to run a query on.
///
/// From a [`Pool`] a query source takes a connection when it starts and gives it back
/// when it ends (or closes it, when the stream is dropped before its end, so the server
/// stops sending). A shared [`Client`] runs the query on that connection: dropping the
/// stream early leaves the driver reading the rest of the result.
#[derive(Clone)]
#[non_exhaustive]
pub enum Db {
    /// A `deadpool-postgres` pool.
    Pool(Pool),
    /// One connection, shared.
    Client(Arc<Client>),
}

impl From<Pool> for Db {
    fn from(pool: Pool) -> Self {
        Db::Pool(pool)
    }
}

impl From<&Pool> for Db {
    fn from(pool: &Pool) -> Self {
        Db::Pool(pool.clone())
    }
}

impl From<Client> for Db {
    fn from(client: Client) -> Self {
        Db::Client(Arc::new(client))
    }
}

impl From<Arc<Client>> for Db {
    fn from(client: Arc<Client>) -> Self {
        Db::Client(client)
    }
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Db::Pool(pool) => f.debug_tuple("Pool").field(&pool.status()).finish(),
            Db::Client(_) => f.write_str("Client"),
        }
    }
}

/// A connection in use.
pub(crate) enum Conn {
    Pooled(Box<Object>),
    Shared(Arc<Client>),
}

impl Conn {
    pub(crate) async fn open(db: Db, what: &Arc<str>) -> Result<Conn, PgError> {
        match db {
            Db::Pool(pool) => {
                pool.get()
                    .await
                    .map(|o| Conn::Pooled(Box::new(o)))
                    .map_err(|source| PgError::Pool {
                        what: what.clone(),
                        source,
                    })
            }
            Db::Client(client) => Ok(Conn::Shared(client)),
        }
    }

    pub(crate) fn client(&self) -> &Client {
        match self {
            Conn::Pooled(object) => object,
            Conn::Shared(client) => client,
        }
    }

    /// Closes a pooled connection instead of giving it back: the server stops a query
    /// still sending rows. A shared client is left alone.
    pub(crate) fn close(self) {
        if let Conn::Pooled(object) = self {
            drop(Object::take(*object));
        }
    }
}

/// Checks a table or column name the connector puts into its SQL: plain identifiers
/// (`jobs`, `public.jobs`, letters, digits, `_` and `$`, not starting with a digit) or
/// double-quoted ones without quotes inside (`"Jobs"`), dot-separated.
pub(crate) fn ident(setting: &'static str, name: &str) -> Result<(), ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        setting,
        reason: format!("`{name}`: {reason}"),
    };
    if name.is_empty() {
        return Err(invalid("empty name"));
    }
    for part in name.split('.') {
        if let Some(inner) = part.strip_prefix('"') {
            match inner.strip_suffix('"') {
                Some(quoted) if !quoted.is_empty() && !quoted.contains('"') => continue,
                _ => return Err(invalid("badly quoted identifier")),
            }
        }
        let mut chars = part.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            return Err(invalid(
                "not an identifier (use letters, digits and `_`, or double quotes)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ident;

    #[test]
    fn identifiers_are_plain_or_quoted_names_only() {
        for ok in ["jobs", "public.jobs", "_t1", "\"Odd Name\"", "s.\"T\""] {
            assert_eq!(ident("table", ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "1jobs",
            "jobs;drop",
            "a b",
            "\"x",
            "\"\"",
            "a..b",
            "\"a\"b\"",
        ] {
            assert!(ident("table", bad).is_err(), "{bad}");
        }
    }
}
