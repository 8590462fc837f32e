//! Transactions, once for both databases: statements written with `$N` placeholders, values
//! as [`Val`], rows as `Vec<Val>`. What the records, sync and webhook tables need: several
//! statements that commit together (a page of records with its checkpoint) or not at all.
//!
//! A transaction holds its database session for its whole life: SQLite's one connection
//! (every other operation of the store waits for it), PostgreSQL's second client, kept for
//! transactions so the first one's single statements never run inside one. Dropped without
//! [`Tx::commit`], it is rolled back.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::StoreError;

/// A value bound to, or read from, a statement. The variant is the column's type; `None` is
/// SQL `NULL` of that type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl Val {
    pub(crate) fn int(v: i64) -> Val {
        Val::Int(Some(v))
    }
    pub(crate) fn text(v: impl Into<String>) -> Val {
        Val::Text(Some(v.into()))
    }
    pub(crate) fn bytes(v: impl Into<Vec<u8>>) -> Val {
        Val::Bytes(Some(v.into()))
    }
    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Val::Int(v) => *v,
            _ => None,
        }
    }
    pub(crate) fn into_text(self) -> Option<String> {
        match self {
            Val::Text(v) => v,
            _ => None,
        }
    }
    pub(crate) fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Val::Bytes(v) => v,
            // SQLite gives back what was stored; a text column read as bytes is its UTF-8.
            Val::Text(v) => v.map(String::into_bytes),
            Val::Int(_) => None,
        }
    }
}

/// A row's values, in the statement's column order.
pub(crate) type Rows = Vec<Vec<Val>>;

/// A statement and its values.
pub(crate) struct Stmt {
    pub sql: &'static str,
    pub params: Vec<Val>,
}

/// An open transaction.
pub(crate) enum Tx {
    Sqlite(SqliteTx),
    Postgres(PgTx),
}

impl Tx {
    /// Whether it is PostgreSQL's (a few statements differ).
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Tx::Postgres(_))
    }

    /// Runs one statement; its rows (none for a statement without `RETURNING`).
    pub(crate) async fn query(
        &mut self,
        sql: &'static str,
        params: Vec<Val>,
    ) -> Result<Rows, StoreError> {
        match self {
            Tx::Sqlite(t) => t.run(vec![Stmt { sql, params }], true).await.map(first),
            Tx::Postgres(t) => t.query(sql, params).await,
        }
    }

    /// Runs queries in order (pipelined on PostgreSQL); the rows of each.
    pub(crate) async fn query_all(&mut self, stmts: Vec<Stmt>) -> Result<Vec<Rows>, StoreError> {
        if stmts.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Tx::Sqlite(t) => t.run(stmts, true).await,
            Tx::Postgres(t) => t.query_all(stmts).await,
        }
    }

    /// Runs statements in order (pipelined on PostgreSQL).
    pub(crate) async fn execute_all(&mut self, stmts: Vec<Stmt>) -> Result<(), StoreError> {
        if stmts.is_empty() {
            return Ok(());
        }
        match self {
            Tx::Sqlite(t) => t.run(stmts, false).await.map(drop),
            Tx::Postgres(t) => t.query_all(stmts).await.map(drop),
        }
    }

    /// Commits.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(mut t) => {
                t.run(
                    vec![Stmt {
                        sql: "COMMIT",
                        params: Vec::new(),
                    }],
                    false,
                )
                .await?;
                t.open = false;
                Ok(())
            }
            Tx::Postgres(mut t) => t.commit().await,
        }
    }
}

fn first(mut all: Vec<Rows>) -> Rows {
    all.pop().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// SQLite

pub(crate) struct SqliteTx {
    guard: Option<OwnedMutexGuard<rusqlite::Connection>>,
    open: bool,
    /// Committed with `synchronous=NORMAL` (then set back to `FULL`).
    relaxed: bool,
}

/// How a transaction is committed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Durable at commit, through a power cut (tokens, webhook events).
    Full,
    /// Atomic and consistent, but a power cut may lose the last commits: for what is
    /// fetched again when lost (a page of records and its checkpoint commit together, so a
    /// lost page is a page the next run fetches again).
    Relaxed,
}

impl SqliteTx {
    pub(crate) async fn begin(
        conn: &Arc<Mutex<rusqlite::Connection>>,
        durability: Durability,
    ) -> Result<SqliteTx, StoreError> {
        let guard = Arc::clone(conn).lock_owned().await;
        let relaxed = durability == Durability::Relaxed;
        let mut tx = SqliteTx {
            guard: Some(guard),
            open: false,
            relaxed,
        };
        let sql = if relaxed {
            "PRAGMA synchronous=NORMAL; BEGIN IMMEDIATE"
        } else {
            "BEGIN IMMEDIATE"
        };
        tx.run(
            vec![Stmt {
                sql,
                params: Vec::new(),
            }],
            false,
        )
        .await?;
        tx.open = true;
        Ok(tx)
    }

    /// Runs the statements on the blocking pool; with `rows`, the rows of each; else one
    /// empty row per changed row (so the caller counts them).
    async fn run(&mut self, stmts: Vec<Stmt>, rows: bool) -> Result<Vec<Rows>, StoreError> {
        let mut guard = self.guard.take().ok_or_else(|| StoreError::Database {
            message: "the transaction's session was lost".to_owned(),
        })?;
        let relaxed = self.relaxed;
        let (mut flight, result) = tokio::task::spawn_blocking(move || {
            let result = sqlite_run(&mut guard, stmts, rows);
            let flight = InFlight {
                guard: Some(guard),
                relaxed,
            };
            (flight, result)
        })
        .await
        .map_err(StoreError::database)?;
        self.guard = flight.guard.take();
        result.map_err(StoreError::database)
    }
}

/// The session coming back from the blocking pool. When the transaction's future was dropped
/// meanwhile (a command stopped by a signal), nobody takes it back: its drop rolls the
/// transaction back, so the connection never stays inside it (the next statements would
/// join it, uncommitted).
struct InFlight {
    guard: Option<OwnedMutexGuard<rusqlite::Connection>>,
    relaxed: bool,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(guard) = &mut self.guard {
            // Fails harmlessly when no transaction is open.
            let _ = guard.execute_batch("ROLLBACK");
            if self.relaxed {
                let _ = guard.execute_batch("PRAGMA synchronous=FULL");
            }
        }
    }
}

pub(crate) fn sqlite_run(
    conn: &mut rusqlite::Connection,
    stmts: Vec<Stmt>,
    rows: bool,
) -> rusqlite::Result<Vec<Rows>> {
    let mut out = Vec::with_capacity(stmts.len());
    for stmt in stmts {
        if stmt.params.is_empty() && !rows {
            conn.execute_batch(stmt.sql)?;
            out.push(Vec::new());
            continue;
        }
        let mut s = conn.prepare_cached(&super::sql::sqlite(stmt.sql))?;
        let params: Vec<rusqlite::types::Value> = stmt.params.into_iter().map(to_sqlite).collect();
        if rows {
            let n = s.column_count();
            let mut result = Vec::new();
            let mut q = s.query(rusqlite::params_from_iter(params))?;
            while let Some(r) = q.next()? {
                let mut row = Vec::with_capacity(n);
                for i in 0..n {
                    row.push(from_sqlite(r.get_ref(i)?));
                }
                result.push(row);
            }
            out.push(result);
        } else {
            let changed = s.execute(rusqlite::params_from_iter(params))?;
            out.push(vec![Vec::new(); changed]);
        }
    }
    Ok(out)
}

fn to_sqlite(v: Val) -> rusqlite::types::Value {
    use rusqlite::types::Value as S;
    match v {
        Val::Int(Some(i)) => S::Integer(i),
        Val::Text(Some(t)) => S::Text(t),
        Val::Bytes(Some(b)) => S::Blob(b),
        Val::Int(None) | Val::Text(None) | Val::Bytes(None) => S::Null,
    }
}

fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Val {
    use rusqlite::types::ValueRef as S;
    match v {
        S::Null => Val::Int(None),
        S::Integer(i) => Val::Int(Some(i)),
        S::Real(f) => Val::Int(Some(f as i64)),
        S::Text(t) => Val::Text(Some(String::from_utf8_lossy(t).into_owned())),
        S::Blob(b) => Val::Bytes(Some(b.to_vec())),
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if let Some(guard) = &mut self.guard {
            if self.open {
                // A short local statement; the session must not stay inside the transaction.
                let _ = guard.execute_batch("ROLLBACK");
            }
            if self.relaxed {
                let _ = guard.execute_batch("PRAGMA synchronous=FULL");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

/// The client kept for transactions, connected on first use.
#[derive(Default)]
pub(crate) struct PgSession {
    client: Option<tokio_postgres::Client>,
    statements: HashMap<&'static str, tokio_postgres::Statement>,
    /// A transaction was left open (its rollback did not run): roll back before the next.
    dirty: bool,
}

pub(crate) struct PgTx {
    guard: Option<OwnedMutexGuard<PgSession>>,
}

fn pg(e: tokio_postgres::Error) -> StoreError {
    let message = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    };
    StoreError::Database { message }
}

impl PgTx {
    pub(crate) async fn begin(
        session: &Arc<Mutex<PgSession>>,
        url: &str,
        durability: Durability,
    ) -> Result<PgTx, StoreError> {
        let mut guard = Arc::clone(session).lock_owned().await;
        if guard.client.as_ref().is_none_or(|c| c.is_closed()) {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .map_err(pg)?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            guard.client = Some(client);
            guard.statements.clear();
            guard.dirty = false;
        }
        let dirty = guard.dirty;
        let client = guard.client.as_ref().ok_or_else(|| StoreError::Database {
            message: "no PostgreSQL session".to_owned(),
        })?;
        if dirty {
            client.batch_execute("ROLLBACK").await.map_err(pg)?;
        }
        client
            .batch_execute(match durability {
                Durability::Full => "BEGIN",
                // The commit returns before the WAL is flushed (for this transaction only).
                Durability::Relaxed => "BEGIN; SET LOCAL synchronous_commit = off",
            })
            .await
            .map_err(pg)?;
        guard.dirty = true;
        Ok(PgTx { guard: Some(guard) })
    }

    fn session(&mut self) -> Result<&mut PgSession, StoreError> {
        self.guard
            .as_deref_mut()
            .ok_or_else(|| StoreError::Database {
                message: "the transaction's session was lost".to_owned(),
            })
    }

    async fn prepare(
        &mut self,
        sql: &'static str,
    ) -> Result<tokio_postgres::Statement, StoreError> {
        let session = self.session()?;
        if let Some(s) = session.statements.get(sql) {
            return Ok(s.clone());
        }
        let client = session
            .client
            .as_ref()
            .ok_or_else(|| StoreError::Database {
                message: "no PostgreSQL session".to_owned(),
            })?;
        let s = client.prepare(sql).await.map_err(pg)?;
        session.statements.insert(sql, s.clone());
        Ok(s)
    }

    async fn query(&mut self, sql: &'static str, params: Vec<Val>) -> Result<Rows, StoreError> {
        let s = self.prepare(sql).await?;
        let session = self.session()?;
        let client = session
            .client
            .as_ref()
            .ok_or_else(|| StoreError::Database {
                message: "no PostgreSQL session".to_owned(),
            })?;
        let refs = pg_params(&params);
        let rows = client.query(&s, &refs).await.map_err(pg)?;
        rows.iter().map(from_pg).collect()
    }

    async fn query_all(&mut self, stmts: Vec<Stmt>) -> Result<Vec<Rows>, StoreError> {
        let mut prepared = Vec::with_capacity(stmts.len());
        for stmt in &stmts {
            prepared.push(self.prepare(stmt.sql).await?);
        }
        let session = self.session()?;
        let client = session
            .client
            .as_ref()
            .ok_or_else(|| StoreError::Database {
                message: "no PostgreSQL session".to_owned(),
            })?;
        let params: Vec<Vec<&(dyn tokio_postgres::types::ToSql + Sync)>> =
            stmts.iter().map(|s| pg_params(&s.params)).collect();
        // Polled together, tokio-postgres pipelines them: one round trip for the lot.
        let futures = prepared
            .iter()
            .zip(&params)
            .map(|(s, p)| client.query(s, p));
        let results = futures_join_all(futures).await;
        results
            .into_iter()
            .map(|r| {
                r.map_err(pg)
                    .and_then(|rows| rows.iter().map(from_pg).collect())
            })
            .collect()
    }

    async fn commit(&mut self) -> Result<(), StoreError> {
        let session = self.session()?;
        let client = session
            .client
            .as_ref()
            .ok_or_else(|| StoreError::Database {
                message: "no PostgreSQL session".to_owned(),
            })?;
        client.batch_execute("COMMIT").await.map_err(pg)?;
        session.dirty = false;
        self.guard = None;
        Ok(())
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        let Some(mut guard) = self.guard.take() else {
            return;
        };
        // Roll back now, not at the next transaction: the locks it holds would otherwise
        // block other processes until then.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Some(client) = &guard.client
                    && client.batch_execute("ROLLBACK").await.is_ok()
                {
                    guard.dirty = false;
                }
            });
        }
    }
}

/// Awaits every future, polled together, in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

pub(crate) fn pg_params(params: &[Val]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|v| -> &(dyn tokio_postgres::types::ToSql + Sync) {
            match v {
                Val::Int(i) => i,
                Val::Text(t) => t,
                Val::Bytes(b) => b,
            }
        })
        .collect()
}

pub(crate) fn from_pg(row: &tokio_postgres::Row) -> Result<Vec<Val>, StoreError> {
    use tokio_postgres::types::Type;
    let mut out = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let t = column.type_();
        let v = if *t == Type::INT8 {
            Val::Int(row.try_get::<_, Option<i64>>(i).map_err(pg)?)
        } else if *t == Type::INT4 {
            Val::Int(row.try_get::<_, Option<i32>>(i).map_err(pg)?.map(i64::from))
        } else if *t == Type::BYTEA {
            Val::Bytes(row.try_get::<_, Option<Vec<u8>>>(i).map_err(pg)?)
        } else {
            Val::Text(row.try_get::<_, Option<String>>(i).map_err(pg)?)
        };
        out.push(v);
    }
    Ok(out)
}
