//! The statements, once for both databases: written with PostgreSQL's `$N` placeholders,
//! which SQLite reads as `?N` ([`sqlite`]). Every one is a single statement.

macro_rules! columns {
    () => {
        "id, provider, key_id, secrets, version, created_at, updated_at, expires_at, lease_owner, lease_until, reauthorize"
    };
}

macro_rules! pending_columns {
    () => {
        "state_hash, connection_id, provider, key_id, secrets, created_at, expires_at"
    };
}

pub(crate) const SCHEMA_VERSION: &str = "SELECT version FROM terapi_schema";
pub(crate) const INSERT_VERSION: &str = "INSERT INTO terapi_schema (version) VALUES ($1)";
pub(crate) const UPDATE_VERSION: &str = "UPDATE terapi_schema SET version = $1";

pub(crate) const GET: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM terapi_connections WHERE id = $1"
);
pub(crate) const LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM terapi_connections ORDER BY id"
);

/// Refreshed tokens: only if the version is still the one refreshed from ($2); ends the
/// lease of the committing owner ($7).
pub(crate) const COMMIT: &str =
    "UPDATE terapi_connections SET key_id = $3, secrets = $4, expires_at = $5, updated_at = $6,
       version = version + 1, reauthorize = NULL,
       lease_until = CASE WHEN lease_owner = $7 THEN NULL ELSE lease_until END,
       lease_owner = CASE WHEN lease_owner = $7 THEN NULL ELSE lease_owner END
     WHERE id = $1 AND version = $2";

/// The lease for $2 until $4, unless another owner holds one that is live at $3.
pub(crate) const LEASE: &str = concat!(
    "UPDATE terapi_connections SET lease_owner = $2, lease_until = $4
     WHERE id = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until IS NULL OR lease_until <= $3)
     RETURNING ",
    columns!()
);

pub(crate) const RELEASE: &str = "UPDATE terapi_connections SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2";

/// The reauthorization mark, only at the version refreshed from ($2).
pub(crate) const MARK_REAUTHORIZE: &str = "UPDATE terapi_connections SET reauthorize = $3,
       lease_until = CASE WHEN lease_owner = $4 THEN NULL ELSE lease_until END,
       lease_owner = CASE WHEN lease_owner = $4 THEN NULL ELSE lease_owner END
     WHERE id = $1 AND version = $2";

/// Re-encrypted secrets, at an unchanged version (which stays).
pub(crate) const REKEY: &str =
    "UPDATE terapi_connections SET key_id = $3, secrets = $4 WHERE id = $1 AND version = $2";

pub(crate) const PUT_PENDING: &str = concat!(
    "INSERT INTO terapi_pending (",
    pending_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
);
pub(crate) const TAKE_PENDING: &str = concat!(
    "DELETE FROM terapi_pending WHERE state_hash = $1 RETURNING ",
    pending_columns!()
);
pub(crate) const LIST_PENDING: &str = concat!(
    "SELECT ",
    pending_columns!(),
    " FROM terapi_pending ORDER BY created_at, state_hash"
);
pub(crate) const REKEY_PENDING: &str =
    "UPDATE terapi_pending SET key_id = $3, secrets = $4 WHERE state_hash = $1 AND key_id = $2";
pub(crate) const PURGE_PENDING: &str = "DELETE FROM terapi_pending WHERE expires_at < $1";

/// `sql` with SQLite's `?N` placeholders (no statement has a `$` otherwise).
pub(crate) fn sqlite(sql: &str) -> String {
    sql.replace('$', "?")
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_the_only_dollars() {
        for sql in [
            super::COMMIT,
            super::LEASE,
            super::MARK_REAUTHORIZE,
            super::PUT_PENDING,
        ] {
            for (i, _) in sql.match_indices('$') {
                assert!(
                    sql[i + 1..].starts_with(|c: char| c.is_ascii_digit()),
                    "{sql}"
                );
            }
        }
        assert_eq!(
            super::sqlite("WHERE id = $1 AND v = $12"),
            "WHERE id = ?1 AND v = ?12"
        );
    }
}
