//! The schema, as numbered migrations embedded in the binary. A database records the last
//! one applied in `terapi_schema`; opening applies the missing ones in one transaction, and
//! refuses a database whose version is newer than [`LATEST`] (a newer build wrote it).

/// The newest schema version.
pub(crate) const LATEST: i64 = 1;

/// SQLite's migrations: (version, statements).
pub(crate) const SQLITE: &[(i64, &str)] = &[(
    1,
    "CREATE TABLE terapi_connections (
        id TEXT PRIMARY KEY NOT NULL,
        provider TEXT NOT NULL,
        key_id TEXT NOT NULL,
        secrets BLOB NOT NULL,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        expires_at INTEGER,
        lease_owner TEXT,
        lease_until INTEGER,
        reauthorize TEXT
    ) STRICT;
    CREATE TABLE terapi_pending (
        state_hash TEXT PRIMARY KEY NOT NULL,
        connection_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        key_id TEXT NOT NULL,
        secrets BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX terapi_pending_expires ON terapi_pending (expires_at);",
)];

/// PostgreSQL's migrations: (version, statements).
pub(crate) const POSTGRES: &[(i64, &str)] = &[(
    1,
    "CREATE TABLE terapi_connections (
        id TEXT PRIMARY KEY,
        provider TEXT NOT NULL,
        key_id TEXT NOT NULL,
        secrets BYTEA NOT NULL,
        version BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        expires_at BIGINT,
        lease_owner TEXT,
        lease_until BIGINT,
        reauthorize TEXT
    );
    CREATE TABLE terapi_pending (
        state_hash TEXT PRIMARY KEY,
        connection_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        key_id TEXT NOT NULL,
        secrets BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX terapi_pending_expires ON terapi_pending (expires_at);",
)];

/// The table that records the version.
pub(crate) const VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS terapi_schema (version BIGINT NOT NULL)";

/// Checks `found` against this build; the migrations still to apply.
pub(crate) fn pending(
    migrations: &'static [(i64, &'static str)],
    found: i64,
) -> Result<impl Iterator<Item = &'static (i64, &'static str)>, crate::error::StoreError> {
    if found > LATEST {
        return Err(crate::error::StoreError::NewerSchema {
            found,
            supported: LATEST,
        });
    }
    Ok(migrations.iter().filter(move |(v, _)| *v > found))
}
