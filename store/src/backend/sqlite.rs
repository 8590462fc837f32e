//! SQLite through rusqlite (bundled): one connection per store, used from tokio's blocking
//! pool. A file is in WAL mode with `synchronous=FULL` (a committed token survives a power
//! cut) and waits up to 10 s for another process's write; `:memory:` is the in-memory store.

use std::sync::Arc;

use std::time::Duration;
use tokio::sync::Mutex;

use rusqlite::{OptionalExtension as _, params};

use super::{Commit, PendingRow, Row, schema, sql};
use crate::error::StoreError;

pub(crate) struct Sqlite {
    conn: Arc<Mutex<rusqlite::Connection>>,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        provider: r.get(1)?,
        key_id: r.get(2)?,
        secrets: r.get(3)?,
        version: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        expires_at: r.get(7)?,
        lease_owner: r.get(8)?,
        lease_until: r.get(9)?,
        reauthorize: r.get(10)?,
    })
}

fn pending_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PendingRow> {
    Ok(PendingRow {
        state_hash: r.get(0)?,
        connection_id: r.get(1)?,
        provider: r.get(2)?,
        key_id: r.get(3)?,
        secrets: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
    })
}

impl Sqlite {
    pub(crate) async fn begin(
        &self,
        durability: super::tx::Durability,
    ) -> Result<super::tx::Tx, StoreError> {
        Ok(super::tx::Tx::Sqlite(
            super::tx::SqliteTx::begin(&self.conn, durability).await?,
        ))
    }

    pub(crate) async fn open(path: &str) -> Result<Sqlite, StoreError> {
        let path = path.to_owned();
        let shown = format!("sqlite:{path}");
        let conn =
            tokio::task::spawn_blocking(move || -> rusqlite::Result<rusqlite::Connection> {
                let mut conn = if path == ":memory:" {
                    rusqlite::Connection::open_in_memory()?
                } else {
                    rusqlite::Connection::open(&path)?
                };
                conn.busy_timeout(Duration::from_secs(10))?;
                if path != ":memory:" {
                    conn.pragma_update(None, "journal_mode", "WAL")?;
                }
                conn.pragma_update(None, "synchronous", "FULL")?;
                migrate(&mut conn)?;
                Ok(conn)
            })
            .await
            .map_err(|e| StoreError::Open {
                url: shown.clone(),
                message: e.to_string(),
            })?
            .map_err(|e| match e {
                rusqlite::Error::ToSqlConversionFailure(inner) => {
                    match inner.downcast::<StoreError>() {
                        Ok(store) => *store,
                        Err(other) => StoreError::Open {
                            url: shown.clone(),
                            message: other.to_string(),
                        },
                    }
                }
                other => StoreError::Open {
                    url: shown.clone(),
                    message: other.to_string(),
                },
            })?;
        Ok(Sqlite {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub(crate) async fn read(
        &self,
        sql: &'static str,
        params: Vec<super::Val>,
    ) -> Result<super::Rows, StoreError> {
        self.run(move |c| {
            super::tx::sqlite_run(c, vec![super::Stmt { sql, params }], true)
                .map(|mut all| all.pop().unwrap_or_default())
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let mut conn = Arc::clone(&self.conn).lock_owned().await;
        tokio::task::spawn_blocking(move || f(&mut conn))
            .await
            .map_err(StoreError::database)?
            .map_err(StoreError::database)
    }

    /// Runs `f` with the statement `sql` (prepared once per connection).
    async fn with<T: Send + 'static>(
        &self,
        sql: &'static str,
        f: impl FnOnce(&mut rusqlite::CachedStatement<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.run(move |c| f(&mut c.prepare_cached(&sql::sqlite(sql))?))
            .await
    }

    pub(crate) async fn schema_version(&self) -> Result<i64, StoreError> {
        self.with(sql::SCHEMA_VERSION, |s| s.query_row([], |r| r.get(0)))
            .await
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<Row>, StoreError> {
        let id = id.to_owned();
        self.with(sql::GET, move |s| s.query_row([id], row).optional())
            .await
    }

    pub(crate) async fn list(&self) -> Result<Vec<Row>, StoreError> {
        self.with(sql::LIST, |s| s.query_map([], row)?.collect())
            .await
    }

    pub(crate) async fn commit(&self, c: Commit<'_>) -> Result<bool, StoreError> {
        let (id, owner, key_id, secrets) = (
            c.id.to_owned(),
            c.owner.to_owned(),
            c.key_id.to_owned(),
            c.secrets.to_vec(),
        );
        let (expected, expires_at, now) = (c.expected, c.expires_at, c.now);
        self.with(sql::COMMIT, move |s| {
            s.execute(params![
                id, expected, key_id, secrets, expires_at, now, owner
            ])
            .map(|n| n == 1)
        })
        .await
    }

    pub(crate) async fn lease(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<Row>, StoreError> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.with(sql::LEASE, move |s| {
            s.query_row(params![id, owner, now, until], row).optional()
        })
        .await
    }

    pub(crate) async fn release(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.with(sql::RELEASE, move |s| {
            s.execute(params![id, owner]).map(drop)
        })
        .await
    }

    pub(crate) async fn mark_reauthorize(
        &self,
        id: &str,
        expected: i64,
        owner: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let (id, owner, reason) = (id.to_owned(), owner.to_owned(), reason.to_owned());
        self.with(sql::MARK_REAUTHORIZE, move |s| {
            s.execute(params![id, expected, reason, owner])
                .map(|n| n == 1)
        })
        .await
    }

    pub(crate) async fn rekey(
        &self,
        id: &str,
        version: i64,
        key_id: &str,
        secrets: &[u8],
    ) -> Result<bool, StoreError> {
        let (id, key_id, secrets) = (id.to_owned(), key_id.to_owned(), secrets.to_vec());
        self.with(sql::REKEY, move |s| {
            s.execute(params![id, version, key_id, secrets])
                .map(|n| n == 1)
        })
        .await
    }

    pub(crate) async fn put_pending(&self, p: PendingRow) -> Result<(), StoreError> {
        self.with(sql::PUT_PENDING, move |s| {
            s.execute(params![
                p.state_hash,
                p.connection_id,
                p.provider,
                p.key_id,
                p.secrets,
                p.created_at,
                p.expires_at
            ])
            .map(drop)
        })
        .await
    }

    pub(crate) async fn take_pending(
        &self,
        state_hash: &str,
    ) -> Result<Option<PendingRow>, StoreError> {
        let h = state_hash.to_owned();
        self.with(sql::TAKE_PENDING, move |s| {
            s.query_row([h], pending_row).optional()
        })
        .await
    }

    pub(crate) async fn list_pending(&self) -> Result<Vec<PendingRow>, StoreError> {
        self.with(sql::LIST_PENDING, |s| {
            s.query_map([], pending_row)?.collect()
        })
        .await
    }

    pub(crate) async fn rekey_pending(
        &self,
        state_hash: &str,
        old_key: &str,
        key_id: &str,
        secrets: &[u8],
    ) -> Result<bool, StoreError> {
        let (h, old, key_id, secrets) = (
            state_hash.to_owned(),
            old_key.to_owned(),
            key_id.to_owned(),
            secrets.to_vec(),
        );
        self.with(sql::REKEY_PENDING, move |s| {
            s.execute(params![h, old, key_id, secrets]).map(|n| n == 1)
        })
        .await
    }

    pub(crate) async fn purge_pending(&self, now: i64) -> Result<u64, StoreError> {
        self.with(sql::PURGE_PENDING, move |s| {
            s.execute([now]).map(|n| n as u64)
        })
        .await
    }
}

/// Applies the missing migrations in one write transaction (so two processes opening a new
/// file at once migrate it once).
fn migrate(conn: &mut rusqlite::Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute(schema::VERSION_TABLE, [])?;
    let found: Option<i64> = tx
        .query_row(&sql::sqlite(sql::SCHEMA_VERSION), [], |r| r.get(0))
        .optional()?;
    let todo = schema::pending(schema::SQLITE, found.unwrap_or(0))
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let mut last = found;
    for (version, sql) in todo {
        tx.execute_batch(sql)?;
        last = Some(*version);
    }
    match (found, last) {
        (None, Some(v)) => {
            tx.execute(&sql::sqlite(sql::INSERT_VERSION), [v])?;
        }
        (Some(old), Some(v)) if v != old => {
            tx.execute(&sql::sqlite(sql::UPDATE_VERSION), [v])?;
        }
        _ => {}
    }
    tx.commit()
}
