//! The databases a store keeps its rows in. Every operation is one statement (atomic on its
//! own), so neither backend holds a transaction open across a network call: a refresh's lease
//! is a row's `lease_owner`/`lease_until`, and its commit a compare-and-swap on `version`.

mod postgres;
mod schema;
mod sql;
mod sqlite;
mod tx;

pub(crate) use tx::{Rows, Stmt, Tx, Val};

use crate::error::StoreError;

pub(crate) use schema::LATEST;

/// A connection's row.
#[derive(Clone)]
pub(crate) struct Row {
    pub id: String,
    pub provider: String,
    pub key_id: String,
    /// The sealed secrets (config, credentials, client, tokens as one JSON value).
    pub secrets: Vec<u8>,
    pub version: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
    /// The access token's expiry, unix seconds (not secret; for listings).
    pub expires_at: Option<i64>,
    pub lease_owner: Option<String>,
    /// Unix milliseconds.
    pub lease_until: Option<i64>,
    /// Why the user has to authorize again, once a refresh was refused.
    pub reauthorize: Option<String>,
}

/// A pending authorization's row, keyed by the SHA-256 of its state.
pub(crate) struct PendingRow {
    pub state_hash: String,
    pub connection_id: String,
    pub provider: String,
    pub key_id: String,
    pub secrets: Vec<u8>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A new token set to commit.
pub(crate) struct Commit<'a> {
    pub id: &'a str,
    /// The version the tokens were refreshed from: the fencing token.
    pub expected: i64,
    pub owner: &'a str,
    pub key_id: &'a str,
    pub secrets: &'a [u8],
    pub expires_at: Option<i64>,
    pub now: i64,
}

/// One of the databases.
pub(crate) enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

macro_rules! each {
    ($self:ident, $b:ident => $e:expr) => {
        match $self {
            Backend::Sqlite($b) => $e,
            Backend::Postgres($b) => $e,
        }
    };
}

impl Backend {
    /// Opens (and migrates) `url`: `sqlite:PATH`, `sqlite::memory:`, `postgres://…`.
    pub(crate) async fn open(url: &str) -> Result<Backend, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(StoreError::Url {
                    url: crate::error::display_url(url),
                });
            }
            Ok(Backend::Sqlite(sqlite::Sqlite::open(path).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres(postgres::Postgres::open(url).await?))
        } else {
            Err(StoreError::Url {
                url: crate::error::display_url(url),
            })
        }
    }

    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Backend::Postgres(_))
    }

    /// Opens a transaction (rolled back unless committed), durable at commit.
    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        each!(self, b => b.begin(tx::Durability::Full).await)
    }

    /// Opens a transaction whose commit may be lost in a power cut (never half of it).
    pub(crate) async fn begin_relaxed(&self) -> Result<Tx, StoreError> {
        each!(self, b => b.begin(tx::Durability::Relaxed).await)
    }

    /// Runs one statement outside a transaction (a read); its rows.
    pub(crate) async fn query(
        &self,
        sql: &'static str,
        params: Vec<Val>,
    ) -> Result<Rows, StoreError> {
        each!(self, b => b.read(sql, params).await)
    }

    /// The schema version the database has (after opening: [`LATEST`]).
    pub(crate) async fn schema_version(&self) -> Result<i64, StoreError> {
        each!(self, b => b.schema_version().await)
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<Row>, StoreError> {
        each!(self, b => b.get(id).await)
    }

    pub(crate) async fn list(&self) -> Result<Vec<Row>, StoreError> {
        each!(self, b => b.list().await)
    }

    /// Commits refreshed tokens if the row still has `expected` as its version (and then
    /// releases the lease if `owner` holds it). Whether it did.
    pub(crate) async fn commit(&self, c: Commit<'_>) -> Result<bool, StoreError> {
        each!(self, b => b.commit(c).await)
    }

    /// Takes the row's refresh lease for `owner` until `until` if nobody holds a live one;
    /// the row as it is then, or `None` when the lease is held (or the row is gone).
    pub(crate) async fn lease(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<Row>, StoreError> {
        each!(self, b => b.lease(id, owner, now, until).await)
    }

    pub(crate) async fn release(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        each!(self, b => b.release(id, owner).await)
    }

    /// Marks the connection as needing a new authorization, if it still has `expected` as
    /// its version (a refused refresh of tokens another process has replaced means nothing).
    pub(crate) async fn mark_reauthorize(
        &self,
        id: &str,
        expected: i64,
        owner: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        each!(self, b => b.mark_reauthorize(id, expected, owner, reason).await)
    }

    /// Re-encrypted secrets, if the row is still at `version` (the version is kept: a
    /// re-encryption changes no token, and a refresh under way still commits).
    pub(crate) async fn rekey(
        &self,
        id: &str,
        version: i64,
        key_id: &str,
        secrets: &[u8],
    ) -> Result<bool, StoreError> {
        each!(self, b => b.rekey(id, version, key_id, secrets).await)
    }

    pub(crate) async fn put_pending(&self, row: PendingRow) -> Result<(), StoreError> {
        each!(self, b => b.put_pending(row).await)
    }

    /// Removes and returns a pending authorization: each is used once.
    pub(crate) async fn take_pending(
        &self,
        state_hash: &str,
    ) -> Result<Option<PendingRow>, StoreError> {
        each!(self, b => b.take_pending(state_hash).await)
    }

    pub(crate) async fn list_pending(&self) -> Result<Vec<PendingRow>, StoreError> {
        each!(self, b => b.list_pending().await)
    }

    pub(crate) async fn rekey_pending(
        &self,
        state_hash: &str,
        old_key: &str,
        key_id: &str,
        secrets: &[u8],
    ) -> Result<bool, StoreError> {
        each!(self, b => b.rekey_pending(state_hash, old_key, key_id, secrets).await)
    }

    /// Removes pending authorizations that expired before `now`; how many.
    pub(crate) async fn purge_pending(&self, now: i64) -> Result<u64, StoreError> {
        each!(self, b => b.purge_pending(now).await)
    }
}
