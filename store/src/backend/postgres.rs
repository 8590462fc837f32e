//! PostgreSQL through tokio-postgres: one client per store (its statements are pipelined),
//! its connection driven by a task of its own. Plain TCP: for a server on loopback or a
//! private network (TLS is not built in yet).

use std::sync::Arc;

use std::collections::HashMap;
use std::sync::Mutex;

use tokio_postgres::{NoTls, Statement};

use super::{Commit, PendingRow, Row, schema, sql};
use crate::error::{StoreError, display_url};

pub(crate) struct Postgres {
    client: Arc<tokio_postgres::Client>,
    /// Statements prepared once per store (a query is then one round trip, not two).
    statements: Mutex<HashMap<String, Statement>>,
    /// The server, for the second client that runs transactions.
    url: String,
    session: Arc<tokio::sync::Mutex<super::tx::PgSession>>,
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
            .query_opt(sql::SCHEMA_VERSION, &[])
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
                tx.execute(sql::INSERT_VERSION, &[&v])
                    .await
                    .map_err(open_error)?;
            }
            (Some(old), Some(v)) if v != old => {
                tx.execute(sql::UPDATE_VERSION, &[&v])
                    .await
                    .map_err(open_error)?;
            }
            _ => {}
        }
        tx.commit().await.map_err(open_error)?;
        Ok(Postgres {
            client: Arc::new(client),
            statements: Mutex::default(),
            url: url.to_owned(),
            session: Arc::default(),
        })
    }

    pub(crate) async fn begin(
        &self,
        durability: super::tx::Durability,
    ) -> Result<super::tx::Tx, StoreError> {
        Ok(super::tx::Tx::Postgres(
            super::tx::PgTx::begin(&self.session, &self.url, durability).await?,
        ))
    }

    pub(crate) async fn read(
        &self,
        sql: &'static str,
        params: Vec<super::Val>,
    ) -> Result<super::Rows, StoreError> {
        let s = self.statement(sql).await?;
        let refs = super::tx::pg_params(&params);
        let rows = self.client.query(&s, &refs).await.map_err(db)?;
        rows.iter().map(super::tx::from_pg).collect()
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
        Ok(self.q_one(sql::SCHEMA_VERSION, &[]).await?.get(0))
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<Row>, StoreError> {
        Ok(self.q_opt(sql::GET, &[&id]).await?.as_ref().map(row))
    }

    pub(crate) async fn list(&self) -> Result<Vec<Row>, StoreError> {
        Ok(self.q_all(sql::LIST, &[]).await?.iter().map(row).collect())
    }

    pub(crate) async fn commit(&self, c: Commit<'_>) -> Result<bool, StoreError> {
        let params: Params<'_> = &[
            &c.id,
            &c.expected,
            &c.key_id,
            &c.secrets,
            &c.expires_at,
            &c.now,
            &c.owner,
        ];
        Ok(self.exec(sql::COMMIT, params).await? == 1)
    }

    pub(crate) async fn lease(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<Row>, StoreError> {
        Ok(self
            .q_opt(sql::LEASE, &[&id, &owner, &now, &until])
            .await?
            .as_ref()
            .map(row))
    }

    pub(crate) async fn release(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        self.exec(sql::RELEASE, &[&id, &owner]).await.map(drop)
    }

    pub(crate) async fn mark_reauthorize(
        &self,
        id: &str,
        expected: i64,
        owner: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        Ok(self
            .exec(sql::MARK_REAUTHORIZE, &[&id, &expected, &reason, &owner])
            .await?
            == 1)
    }

    pub(crate) async fn rekey(
        &self,
        id: &str,
        version: i64,
        key_id: &str,
        secrets: &[u8],
    ) -> Result<bool, StoreError> {
        Ok(self
            .exec(sql::REKEY, &[&id, &version, &key_id, &secrets])
            .await?
            == 1)
    }

    pub(crate) async fn put_pending(&self, p: PendingRow) -> Result<(), StoreError> {
        let params: Params<'_> = &[
            &p.state_hash,
            &p.connection_id,
            &p.provider,
            &p.key_id,
            &p.secrets,
            &p.created_at,
            &p.expires_at,
        ];
        self.exec(sql::PUT_PENDING, params).await.map(drop)
    }

    pub(crate) async fn take_pending(
        &self,
        state_hash: &str,
    ) -> Result<Option<PendingRow>, StoreError> {
        Ok(self
            .q_opt(sql::TAKE_PENDING, &[&state_hash])
            .await?
            .as_ref()
            .map(pending_row))
    }

    pub(crate) async fn list_pending(&self) -> Result<Vec<PendingRow>, StoreError> {
        Ok(self
            .q_all(sql::LIST_PENDING, &[])
            .await?
            .iter()
            .map(pending_row)
            .collect())
    }

    pub(crate) async fn rekey_pending(
        &self,
        state_hash: &str,
        old_key: &str,
        key_id: &str,
        secrets: &[u8],
    ) -> Result<bool, StoreError> {
        Ok(self
            .exec(
                sql::REKEY_PENDING,
                &[&state_hash, &old_key, &key_id, &secrets],
            )
            .await?
            == 1)
    }

    pub(crate) async fn purge_pending(&self, now: i64) -> Result<u64, StoreError> {
        self.exec(sql::PURGE_PENDING, &[&now]).await
    }
}
