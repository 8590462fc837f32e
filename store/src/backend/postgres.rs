//! PostgreSQL through tokio-postgres: one client per store (its statements are pipelined),
//! its connection driven by a task of its own. Plain TCP: for a server on loopback or a
//! private network (TLS is not built in yet).

use std::sync::Arc;

use std::collections::HashMap;
use std::sync::Mutex;

use tokio_postgres::{NoTls, Statement};

use super::{COLUMNS, Commit, PendingRow, Row, schema};
use crate::error::{StoreError, display_url};

pub(crate) struct Postgres {
    client: Arc<tokio_postgres::Client>,
    /// Statements prepared once per store (a query is then one round trip, not two).
    statements: Mutex<HashMap<String, Statement>>,
}

type Params<'a> = &'a [&'a (dyn tokio_postgres::types::ToSql + Sync)];

/// An arbitrary constant: the advisory lock that serialises migrations.
const MIGRATION_LOCK: i64 = 0x7465_7261_7069;

fn row(r: &tokio_postgres::Row) -> Row {
    Row {
        id: r.get(0),
        provider: r.get(1),
        key_id: r.get(2),
        secrets: r.get(3),
        version: r.get(4),
        created_at: r.get(5),
        updated_at: r.get(6),
        expires_at: r.get(7),
        lease_owner: r.get(8),
        lease_until: r.get(9),
        reauthorize: r.get(10),
    }
}

fn pending_row(r: &tokio_postgres::Row) -> PendingRow {
    PendingRow {
        state_hash: r.get(0),
        connection_id: r.get(1),
        provider: r.get(2),
        key_id: r.get(3),
        secrets: r.get(4),
        created_at: r.get(5),
        expires_at: r.get(6),
    }
}

const PENDING_COLUMNS: &str =
    "state_hash, connection_id, provider, key_id, secrets, created_at, expires_at";

fn db(e: tokio_postgres::Error) -> StoreError {
    // `Display` of a server error is its message; the source has the detail. No parameter
    // value is ever part of either.
    let message = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    };
    StoreError::Database { message }
}

impl Postgres {
    pub(crate) async fn open(url: &str) -> Result<Postgres, StoreError> {
        let shown = display_url(url);
        let open_error = |e: tokio_postgres::Error| StoreError::Open {
            url: shown.clone(),
            message: match e.as_db_error() {
                Some(db) => db.message().to_owned(),
                None => e.to_string(),
            },
        };
        let (mut client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(open_error)?;
        tokio::spawn(async move {
            // Ends when the client is dropped or the server goes away; requests then fail
            // with "connection closed", which the caller sees.
            let _ = connection.await;
        });
        let tx = client.transaction().await.map_err(open_error)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(open_error)?;
        tx.batch_execute(schema::VERSION_TABLE)
            .await
            .map_err(open_error)?;
        let found: Option<i64> = tx
            .query_opt("SELECT version FROM terapi_schema", &[])
            .await
            .map_err(open_error)?
            .map(|r| r.get(0));
        let mut last = found;
        for (version, sql) in schema::pending(schema::POSTGRES, found.unwrap_or(0))? {
            tx.batch_execute(sql).await.map_err(open_error)?;
            last = Some(*version);
        }
        match (found, last) {
            (None, Some(v)) => {
                tx.execute("INSERT INTO terapi_schema (version) VALUES ($1)", &[&v])
                    .await
                    .map_err(open_error)?;
            }
            (Some(old), Some(v)) if v != old => {
                tx.execute("UPDATE terapi_schema SET version = $1", &[&v])
                    .await
                    .map_err(open_error)?;
            }
            _ => {}
        }
        tx.commit().await.map_err(open_error)?;
        Ok(Postgres {
            client: Arc::new(client),
            statements: Mutex::default(),
        })
    }

    async fn statement(&self, sql: &str) -> Result<Statement, StoreError> {
        let cached = self
            .statements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sql)
            .cloned();
        if let Some(s) = cached {
            return Ok(s);
        }
        let s = self.client.prepare(sql).await.map_err(db)?;
        self.statements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    async fn q_opt(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<tokio_postgres::Row>, StoreError> {
        let s = self.statement(sql).await?;
        self.client.query_opt(&s, params).await.map_err(db)
    }

    async fn q_one(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<tokio_postgres::Row, StoreError> {
        let s = self.statement(sql).await?;
        self.client.query_one(&s, params).await.map_err(db)
    }

    async fn q_all(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let s = self.statement(sql).await?;
        self.client.query(&s, params).await.map_err(db)
    }

    async fn exec(&self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        let s = self.statement(sql).await?;
        self.client.execute(&s, params).await.map_err(db)
    }

    pub(crate) async fn schema_version(&self) -> Result<i64, StoreError> {
        let r = self.q_one("SELECT version FROM terapi_schema", &[]).await?;
        Ok(r.get(0))
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<Row>, StoreError> {
        let r = self
            .q_opt(
                &format!("SELECT {COLUMNS} FROM terapi_connections WHERE id = $1"),
                &[&id],
            )
            .await?;
        Ok(r.as_ref().map(row))
    }

    pub(crate) async fn list(&self) -> Result<Vec<Row>, StoreError> {
        let rows = self
            .q_all(
                &format!("SELECT {COLUMNS} FROM terapi_connections ORDER BY id"),
                &[],
            )
            .await?;
        Ok(rows.iter().map(row).collect())
    }

    pub(crate) async fn upsert(&self, r: Row) -> Result<i64, StoreError> {
        let v = self
            .q_one(
                "INSERT INTO terapi_connections (id, provider, key_id, secrets, version, created_at, updated_at, expires_at)
                 VALUES ($1, $2, $3, $4, 1, $5, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET provider = excluded.provider, key_id = excluded.key_id,
                   secrets = excluded.secrets, version = terapi_connections.version + 1,
                   updated_at = excluded.updated_at, expires_at = excluded.expires_at,
                   lease_owner = NULL, lease_until = NULL, reauthorize = NULL
                 RETURNING version",
                &[&r.id, &r.provider, &r.key_id, &r.secrets, &r.updated_at, &r.expires_at],
            )
            .await?;
        Ok(v.get(0))
    }

    pub(crate) async fn commit(&self, c: Commit<'_>) -> Result<bool, StoreError> {
        let n = self
            .exec(
                "UPDATE terapi_connections SET key_id = $3, secrets = $4, expires_at = $5, updated_at = $6,
                   version = version + 1, reauthorize = NULL,
                   lease_until = CASE WHEN lease_owner = $7 THEN NULL ELSE lease_until END,
                   lease_owner = CASE WHEN lease_owner = $7 THEN NULL ELSE lease_owner END
                 WHERE id = $1 AND version = $2",
                &[&c.id, &c.expected, &c.key_id, &c.secrets, &c.expires_at, &c.now, &c.owner],
            )
            .await?;
        Ok(n == 1)
    }

    pub(crate) async fn lease(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<Row>, StoreError> {
        let r = self
            .q_opt(
                &format!(
                    "UPDATE terapi_connections SET lease_owner = $2, lease_until = $4
                     WHERE id = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until IS NULL OR lease_until <= $3)
                     RETURNING {COLUMNS}"
                ),
                &[&id, &owner, &now, &until],
            )
            .await?;
        Ok(r.as_ref().map(row))
    }

    pub(crate) async fn release(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        self
            .exec(
                "UPDATE terapi_connections SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
                &[&id, &owner],
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn mark_reauthorize(
        &self,
        id: &str,
        expected: i64,
        owner: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let n = self
            .exec(
                "UPDATE terapi_connections SET reauthorize = $3,
                   lease_until = CASE WHEN lease_owner = $4 THEN NULL ELSE lease_until END,
                   lease_owner = CASE WHEN lease_owner = $4 THEN NULL ELSE lease_owner END
                 WHERE id = $1 AND version = $2",
                &[&id, &expected, &reason, &owner],
            )
            .await?;
        Ok(n == 1)
    }

    pub(crate) async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        // One statement: the pending authorizations of the connection go with it.
        let r = self
            .q_one(
                "WITH p AS (DELETE FROM terapi_pending WHERE connection_id = $1),
                      c AS (DELETE FROM terapi_connections WHERE id = $1 RETURNING 1)
                 SELECT count(*) FROM c",
                &[&id],
            )
            .await?;
        Ok(r.get::<_, i64>(0) == 1)
    }

    pub(crate) async fn rekey(
        &self,
        id: &str,
        version: i64,
        key_id: &str,
        secrets: &[u8],
    ) -> Result<bool, StoreError> {
        let n = self
            .exec(
                "UPDATE terapi_connections SET key_id = $3, secrets = $4 WHERE id = $1 AND version = $2",
                &[&id, &version, &key_id, &secrets],
            )
            .await?;
        Ok(n == 1)
    }

    pub(crate) async fn put_pending(&self, p: PendingRow) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO terapi_pending ({PENDING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ),
            &[
                &p.state_hash,
                &p.connection_id,
                &p.provider,
                &p.key_id,
                &p.secrets,
                &p.created_at,
                &p.expires_at,
            ],
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn take_pending(
        &self,
        state_hash: &str,
    ) -> Result<Option<PendingRow>, StoreError> {
        let r = self
            .q_opt(
                &format!(
                    "DELETE FROM terapi_pending WHERE state_hash = $1 RETURNING {PENDING_COLUMNS}"
                ),
                &[&state_hash],
            )
            .await?;
        Ok(r.as_ref().map(pending_row))
    }

    pub(crate) async fn list_pending(&self) -> Result<Vec<PendingRow>, StoreError> {
        let rows = self
            .q_all(
                &format!(
                    "SELECT {PENDING_COLUMNS} FROM terapi_pending ORDER BY created_at, state_hash"
                ),
                &[],
            )
            .await?;
        Ok(rows.iter().map(pending_row).collect())
    }

    pub(crate) async fn rekey_pending(
        &self,
        state_hash: &str,
        old_key: &str,
        key_id: &str,
        secrets: &[u8],
    ) -> Result<bool, StoreError> {
        let n = self
            .exec(
                "UPDATE terapi_pending SET key_id = $3, secrets = $4 WHERE state_hash = $1 AND key_id = $2",
                &[&state_hash, &old_key, &key_id, &secrets],
            )
            .await?;
        Ok(n == 1)
    }

    pub(crate) async fn purge_pending(&self, now: i64) -> Result<u64, StoreError> {
        self.exec("DELETE FROM terapi_pending WHERE expires_at < $1", &[&now])
            .await
    }
}
