//! The schema, as numbered migrations embedded in the binary. A database records the last
//! one applied in `terapi_schema`; opening applies the missing ones in one transaction, and
//! refuses a database whose version is newer than [`LATEST`] (a newer build wrote it).

/// The newest schema version.
pub(crate) const LATEST: i64 = 5;

/// SQLite's migrations: (version, statements).
pub(crate) const SQLITE: &[(i64, &str)] = &[
    (
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
    ),
    (
        2,
        "CREATE TABLE terapi_records (
        connection_id TEXT NOT NULL,
        model TEXT NOT NULL,
        record_id TEXT NOT NULL,
        key_id TEXT NOT NULL,
        data BLOB NOT NULL,
        hash TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        changed_at INTEGER NOT NULL,
        deleted_at INTEGER,
        generation INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        added_seq INTEGER NOT NULL,
        observed_at INTEGER NOT NULL,
        PRIMARY KEY (connection_id, model, record_id)
    ) STRICT;
    CREATE INDEX terapi_records_seq ON terapi_records ((model || '/' || connection_id), seq);
    CREATE TABLE terapi_sync (
        connection_id TEXT NOT NULL,
        model TEXT NOT NULL,
        seq INTEGER NOT NULL,
        generation INTEGER NOT NULL,
        run_full INTEGER,
        run_started INTEGER,
        run_position TEXT,
        run_pages INTEGER NOT NULL,
        run_added INTEGER NOT NULL,
        run_updated INTEGER NOT NULL,
        run_unchanged INTEGER NOT NULL,
        cursor_at INTEGER,
        last_run_at INTEGER,
        last_full_at INTEGER,
        last_error TEXT,
        lease_owner TEXT,
        lease_until INTEGER,
        every_ms INTEGER,
        next_due INTEGER,
        PRIMARY KEY (connection_id, model)
    ) STRICT;
    CREATE INDEX terapi_sync_due ON terapi_sync (next_due);
    CREATE TABLE terapi_webhooks (
        id TEXT PRIMARY KEY NOT NULL,
        connection_id TEXT NOT NULL,
        url TEXT NOT NULL,
        events TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        key_id TEXT NOT NULL,
        token BLOB NOT NULL,
        company_id TEXT,
        created_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE terapi_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        connection_id TEXT NOT NULL,
        webhook_id TEXT NOT NULL,
        dedupe TEXT NOT NULL,
        event_name TEXT NOT NULL,
        occurred_at INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        key_id TEXT NOT NULL,
        body BLOB NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        lease_owner TEXT,
        lease_until INTEGER,
        error TEXT,
        UNIQUE (connection_id, dedupe)
    ) STRICT;
    CREATE INDEX terapi_events_status ON terapi_events (status, id);",
    ),
    (
        3,
        "-- clock skew, record ids and quarantine
    ALTER TABLE terapi_sync ADD COLUMN run_skew_ms INTEGER;
    ALTER TABLE terapi_sync ADD COLUMN run_quarantined INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE IF NOT EXISTS terapi_quarantine (
        connection_id TEXT NOT NULL,
        model TEXT NOT NULL,
        run_started INTEGER NOT NULL,
        page INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        reason TEXT NOT NULL,
        key_id TEXT NOT NULL,
        data BLOB NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (connection_id, model, run_started, page, idx)
    ) STRICT;
    -- held deletions and page caps: a full run that would delete too much stages them
    -- (its generation, start and count); the pages of the last complete full run.
    ALTER TABLE terapi_sync ADD COLUMN held_generation INTEGER;
    ALTER TABLE terapi_sync ADD COLUMN held_started INTEGER;
    ALTER TABLE terapi_sync ADD COLUMN held_count INTEGER;
    ALTER TABLE terapi_sync ADD COLUMN last_full_pages INTEGER;",
    ),
    (
        4,
        "-- API keys, connect sessions and connection metadata (the server). Secrets are kept as
    -- their SHA-256 only; metadata is not secret and is kept in clear (not sealed: a key
    -- rotation leaves it alone). IF NOT EXISTS: a database moved back to an older version by
    -- hand migrates again.
    CREATE TABLE IF NOT EXISTS terapi_api_keys (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        scopes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER,
        revoked_at INTEGER
    ) STRICT;
    CREATE TABLE IF NOT EXISTS terapi_connect_sessions (
        id TEXT PRIMARY KEY NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        end_user TEXT NOT NULL,
        allowed_integrations TEXT,
        tags TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX IF NOT EXISTS terapi_connect_sessions_expires ON terapi_connect_sessions (expires_at);
    CREATE TABLE IF NOT EXISTS terapi_connection_meta (
        connection_id TEXT PRIMARY KEY NOT NULL,
        end_user_id TEXT,
        end_user TEXT,
        tags TEXT NOT NULL,
        metadata TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX IF NOT EXISTS terapi_connection_meta_end_user ON terapi_connection_meta (end_user_id, connection_id);
    CREATE TABLE IF NOT EXISTS terapi_connection_tags (
        connection_id TEXT NOT NULL,
        tag_key TEXT NOT NULL,
        tag_value TEXT NOT NULL,
        PRIMARY KEY (connection_id, tag_key)
    ) STRICT;
    CREATE INDEX IF NOT EXISTS terapi_connection_tags_pair ON terapi_connection_tags (tag_key, tag_value, connection_id);",
    ),
    (
        5,
        "-- the outbox of webhooks to the application: one row per delivery, its body the exact
    -- bytes signed and sent (no secret in it), retried until delivered or given up.
    CREATE TABLE IF NOT EXISTS terapi_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        delivery_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        body BLOB NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        retried_at INTEGER,
        delivered_at INTEGER,
        last_error TEXT,
        lease_owner TEXT,
        lease_until INTEGER
    ) STRICT;
    CREATE INDEX IF NOT EXISTS terapi_outbox_due ON terapi_outbox (status, next_attempt_at);
    CREATE INDEX IF NOT EXISTS terapi_outbox_status ON terapi_outbox (status, id);",
    ),
];

/// PostgreSQL's migrations: (version, statements).
pub(crate) const POSTGRES: &[(i64, &str)] = &[
    (
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
    ),
    (
        2,
        "CREATE TABLE terapi_records (
        connection_id TEXT NOT NULL,
        model TEXT NOT NULL,
        record_id TEXT COLLATE \"C\" NOT NULL,
        key_id TEXT NOT NULL,
        data BYTEA NOT NULL,
        hash TEXT NOT NULL,
        first_seen BIGINT NOT NULL,
        last_seen BIGINT NOT NULL,
        changed_at BIGINT NOT NULL,
        deleted_at BIGINT,
        generation BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        added_seq BIGINT NOT NULL,
        observed_at BIGINT NOT NULL,
        PRIMARY KEY (connection_id, model, record_id)
    );
    CREATE INDEX terapi_records_seq ON terapi_records ((model || '/' || connection_id), seq);
    CREATE TABLE terapi_sync (
        connection_id TEXT NOT NULL,
        model TEXT NOT NULL,
        seq BIGINT NOT NULL,
        generation BIGINT NOT NULL,
        run_full BIGINT,
        run_started BIGINT,
        run_position TEXT,
        run_pages BIGINT NOT NULL,
        run_added BIGINT NOT NULL,
        run_updated BIGINT NOT NULL,
        run_unchanged BIGINT NOT NULL,
        cursor_at BIGINT,
        last_run_at BIGINT,
        last_full_at BIGINT,
        last_error TEXT,
        lease_owner TEXT,
        lease_until BIGINT,
        every_ms BIGINT,
        next_due BIGINT,
        PRIMARY KEY (connection_id, model)
    );
    CREATE INDEX terapi_sync_due ON terapi_sync (next_due);
    CREATE TABLE terapi_webhooks (
        id TEXT PRIMARY KEY,
        connection_id TEXT NOT NULL,
        url TEXT NOT NULL,
        events TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        key_id TEXT NOT NULL,
        token BYTEA NOT NULL,
        company_id TEXT,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE terapi_events (
        id BIGSERIAL PRIMARY KEY,
        connection_id TEXT NOT NULL,
        webhook_id TEXT NOT NULL,
        dedupe TEXT NOT NULL,
        event_name TEXT NOT NULL,
        occurred_at BIGINT NOT NULL,
        received_at BIGINT NOT NULL,
        key_id TEXT NOT NULL,
        body BYTEA NOT NULL,
        status TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        lease_owner TEXT,
        lease_until BIGINT,
        error TEXT,
        UNIQUE (connection_id, dedupe)
    );
    CREATE INDEX terapi_events_status ON terapi_events (status, id);",
    ),
    (
        3,
        "-- clock skew, record ids and quarantine
    ALTER TABLE terapi_sync ADD COLUMN run_skew_ms BIGINT;
    ALTER TABLE terapi_sync ADD COLUMN run_quarantined BIGINT NOT NULL DEFAULT 0;
    CREATE TABLE IF NOT EXISTS terapi_quarantine (
        connection_id TEXT NOT NULL,
        model TEXT NOT NULL,
        run_started BIGINT NOT NULL,
        page BIGINT NOT NULL,
        idx BIGINT NOT NULL,
        reason TEXT NOT NULL,
        key_id TEXT NOT NULL,
        data BYTEA NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (connection_id, model, run_started, page, idx)
    );
    -- held deletions and page caps: a full run that would delete too much stages them
    -- (its generation, start and count); the pages of the last complete full run.
    ALTER TABLE terapi_sync ADD COLUMN held_generation BIGINT, ADD COLUMN held_started BIGINT,
      ADD COLUMN held_count BIGINT, ADD COLUMN last_full_pages BIGINT;",
    ),
    (
        4,
        "-- API keys, connect sessions and connection metadata (the server). Secrets are kept as
    -- their SHA-256 only; metadata is not secret and is kept in clear (not sealed: a key
    -- rotation leaves it alone).
    CREATE TABLE IF NOT EXISTS terapi_api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        scopes TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT,
        revoked_at BIGINT
    );
    CREATE TABLE IF NOT EXISTS terapi_connect_sessions (
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        end_user TEXT NOT NULL,
        allowed_integrations TEXT,
        tags TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS terapi_connect_sessions_expires ON terapi_connect_sessions (expires_at);
    CREATE TABLE IF NOT EXISTS terapi_connection_meta (
        connection_id TEXT PRIMARY KEY,
        end_user_id TEXT,
        end_user TEXT,
        tags TEXT NOT NULL,
        metadata TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS terapi_connection_meta_end_user ON terapi_connection_meta (end_user_id, connection_id);
    CREATE TABLE IF NOT EXISTS terapi_connection_tags (
        connection_id TEXT NOT NULL,
        tag_key TEXT NOT NULL,
        tag_value TEXT NOT NULL,
        PRIMARY KEY (connection_id, tag_key)
    );
    CREATE INDEX IF NOT EXISTS terapi_connection_tags_pair ON terapi_connection_tags (tag_key, tag_value, connection_id);",
    ),
    (
        5,
        "-- the outbox of webhooks to the application: one row per delivery, its body the exact
    -- bytes signed and sent (no secret in it), retried until delivered or given up.
    CREATE TABLE IF NOT EXISTS terapi_outbox (
        id BIGSERIAL PRIMARY KEY,
        delivery_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        body BYTEA NOT NULL,
        status TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        retried_at BIGINT,
        delivered_at BIGINT,
        last_error TEXT,
        lease_owner TEXT,
        lease_until BIGINT
    );
    CREATE INDEX IF NOT EXISTS terapi_outbox_due ON terapi_outbox (status, next_attempt_at);
    CREATE INDEX IF NOT EXISTS terapi_outbox_status ON terapi_outbox (status, id);",
    ),
];

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
