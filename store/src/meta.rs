//! What an application says about its connections: the end user a connection belongs to, its
//! tags and free metadata. None of it is secret: it is kept in clear columns (not sealed, so
//! [`Store::rotate_key`] has nothing to do with it), and listed and filtered without a key.
//! Tags are kept twice: with the rest (as written) and one row per tag (for filtering).
//!
//! A connection's metadata goes with it ([`Store::remove`]).

use crate::backend::{Row, Stmt, Val};
use crate::error::StoreError;
use crate::record::{ConnectionInfo, ConnectionMeta, now_ms};
use crate::sessions::{check_end_user, check_tag_key, check_tags, check_text};
use crate::store::{Store, check_id};

/// The largest metadata, as JSON.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// The most connections one listing returns.
pub const MAX_LIST_LIMIT: usize = 1000;

/// Which connections [`Store::list_connections`] returns: those matching every filter given,
/// by id, after `after`, at most `limit` (clamped to 1 ..= [`MAX_LIST_LIMIT`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionQuery {
    /// Only the connections of this end user.
    pub end_user_id: Option<String>,
    /// Only the connections of this provider.
    pub provider: Option<String>,
    /// Only the connections with this tag (key, value).
    pub tag: Option<(String, String)>,
    /// Only the connections whose id comes after this one (the last id of the previous page).
    pub after: Option<String>,
    /// At most this many.
    pub limit: usize,
}

impl Default for ConnectionQuery {
    /// Every connection, the first 100.
    fn default() -> ConnectionQuery {
        ConnectionQuery {
            end_user_id: None,
            provider: None,
            tag: None,
            after: None,
            limit: 100,
        }
    }
}

const META_OF: &str = "SELECT c.id, m.end_user, m.tags, m.metadata
     FROM terapi_connections c LEFT JOIN terapi_connection_meta m ON m.connection_id = c.id
     WHERE c.id = $1";
/// The connection, locked against its removal until the metadata is written (PostgreSQL).
const LOCK_PG: &str = "SELECT id FROM terapi_connections WHERE id = $1 FOR KEY SHARE";
const LOCK_SQLITE: &str = "SELECT id FROM terapi_connections WHERE id = $1";
const UPSERT: &str = "INSERT INTO terapi_connection_meta (connection_id, end_user_id, end_user, tags, metadata, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (connection_id) DO UPDATE SET end_user_id = excluded.end_user_id,
       end_user = excluded.end_user, tags = excluded.tags, metadata = excluded.metadata,
       updated_at = excluded.updated_at";
const DELETE_TAGS: &str = "DELETE FROM terapi_connection_tags WHERE connection_id = $1";
const INSERT_TAG: &str =
    "INSERT INTO terapi_connection_tags (connection_id, tag_key, tag_value) VALUES ($1, $2, $3)";

/// The connection first: on PostgreSQL it waits for a metadata write holding its key-share
/// lock, whose rows the next statements (each with a new snapshot) then see and remove.
const REMOVE: &str = "DELETE FROM terapi_connections WHERE id = $1 RETURNING id";
const REMOVE_PENDING: &str = "DELETE FROM terapi_pending WHERE connection_id = $1";
const REMOVE_META: &str = "DELETE FROM terapi_connection_meta WHERE connection_id = $1";

macro_rules! list_columns {
    () => {
        "c.id, c.provider, c.key_id, c.version, c.created_at, c.updated_at, c.expires_at,
       c.lease_owner, c.lease_until, c.reauthorize, m.end_user, m.tags, m.metadata"
    };
}

// Filters: $1 after, $2 end user id, $3 provider, $4 tag key, $5 tag value, $6 limit. One
// statement per driving index: the end user's, the tag's, or the connections' ids.
const LIST_BY_END_USER: &str = concat!(
    "SELECT ",
    list_columns!(),
    " FROM terapi_connection_meta m JOIN terapi_connections c ON c.id = m.connection_id
     WHERE m.end_user_id = CAST($2 AS TEXT)
       AND (CAST($1 AS TEXT) IS NULL OR m.connection_id > CAST($1 AS TEXT))
       AND (CAST($3 AS TEXT) IS NULL OR c.provider = CAST($3 AS TEXT))
       AND (CAST($4 AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM terapi_connection_tags t
             WHERE t.connection_id = c.id AND t.tag_key = CAST($4 AS TEXT) AND t.tag_value = CAST($5 AS TEXT)))
     ORDER BY m.connection_id LIMIT $6"
);
const LIST_BY_TAG: &str = concat!(
    "SELECT ",
    list_columns!(),
    " FROM terapi_connection_tags t JOIN terapi_connections c ON c.id = t.connection_id
       LEFT JOIN terapi_connection_meta m ON m.connection_id = c.id
     WHERE t.tag_key = CAST($4 AS TEXT) AND t.tag_value = CAST($5 AS TEXT)
       AND (CAST($1 AS TEXT) IS NULL OR t.connection_id > CAST($1 AS TEXT))
       AND (CAST($2 AS TEXT) IS NULL OR m.end_user_id = CAST($2 AS TEXT))
       AND (CAST($3 AS TEXT) IS NULL OR c.provider = CAST($3 AS TEXT))
     ORDER BY t.connection_id LIMIT $6"
);
const LIST_ALL: &str = concat!(
    "SELECT ",
    list_columns!(),
    " FROM terapi_connections c LEFT JOIN terapi_connection_meta m ON m.connection_id = c.id
     WHERE (CAST($1 AS TEXT) IS NULL OR c.id > CAST($1 AS TEXT))
       AND (CAST($2 AS TEXT) IS NULL OR m.end_user_id = CAST($2 AS TEXT))
       AND (CAST($3 AS TEXT) IS NULL OR c.provider = CAST($3 AS TEXT))
       AND (CAST($4 AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM terapi_connection_tags t
             WHERE t.connection_id = c.id AND t.tag_key = CAST($4 AS TEXT) AND t.tag_value = CAST($5 AS TEXT)))
     ORDER BY c.id LIMIT $6"
);

fn corrupt(id: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what: format!("metadata of connection `{id}`"),
        message: e.to_string(),
    }
}

/// The metadata of a row's three columns (`NULL`s: none set).
fn meta_of(
    id: &str,
    end_user: Option<String>,
    tags: Option<String>,
    metadata: Option<String>,
) -> Result<ConnectionMeta, StoreError> {
    Ok(ConnectionMeta {
        end_user: end_user
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| corrupt(id, e))?,
        tags: tags
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| corrupt(id, e))?
            .unwrap_or_default(),
        metadata: metadata
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| corrupt(id, e))?
            .unwrap_or_default(),
    })
}

fn check_meta(meta: &ConnectionMeta) -> Result<String, StoreError> {
    if let Some(user) = &meta.end_user {
        check_end_user(user)?;
    }
    check_tags(&meta.tags)?;
    let metadata = serde_json::to_string(&meta.metadata).map_err(StoreError::database)?;
    if metadata.len() > MAX_METADATA_BYTES {
        return Err(StoreError::invalid(
            "connection metadata",
            format!(
                "at most {MAX_METADATA_BYTES} bytes as JSON, this has {}",
                metadata.len()
            ),
        ));
    }
    Ok(metadata)
}

impl Store {
    /// The end user, tags and metadata of the connection `id` (empty when none were set);
    /// [`StoreError::NotFound`] when there is no such connection.
    pub async fn connection_meta(&self, id: &str) -> Result<ConnectionMeta, StoreError> {
        check_id(id)?;
        let row = self
            .backend
            .query(META_OF, vec![Val::text(id)])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NotFound { id: id.to_owned() })?;
        let mut it = row.into_iter().skip(1);
        let mut next = || it.next().and_then(Val::into_text);
        meta_of(id, next(), next(), next())
    }

    /// Replaces the end user, tags and metadata of the connection `id` (checked: see
    /// [`ConnectionMeta`]); [`StoreError::NotFound`] when there is no such connection. One
    /// transaction: a connection removed meanwhile takes them with it.
    pub async fn set_connection_meta(
        &self,
        id: &str,
        meta: &ConnectionMeta,
    ) -> Result<(), StoreError> {
        check_id(id)?;
        let metadata = check_meta(meta)?;
        let end_user = meta
            .end_user
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(StoreError::database)?;
        let tags = serde_json::to_string(&meta.tags).map_err(StoreError::database)?;
        let mut tx = self.backend.begin().await?;
        let lock = if tx.is_postgres() {
            LOCK_PG
        } else {
            LOCK_SQLITE
        };
        if tx.query(lock, vec![Val::text(id)]).await?.is_empty() {
            return Err(StoreError::NotFound { id: id.to_owned() });
        }
        let mut stmts = vec![
            Stmt {
                sql: UPSERT,
                params: vec![
                    Val::text(id),
                    Val::Text(meta.end_user.as_ref().map(|u| u.id.clone())),
                    Val::Text(end_user),
                    Val::text(tags),
                    Val::text(metadata),
                    Val::int(now_ms()),
                ],
            },
            Stmt {
                sql: DELETE_TAGS,
                params: vec![Val::text(id)],
            },
        ];
        stmts.extend(meta.tags.iter().map(|(key, value)| Stmt {
            sql: INSERT_TAG,
            params: vec![
                Val::text(id),
                Val::text(key.as_str()),
                Val::text(value.as_str()),
            ],
        }));
        tx.execute_all(stmts).await?;
        tx.commit().await
    }

    /// The connections matching `query`, by id, each with its metadata (see
    /// [`ConnectionQuery`]); nothing is decrypted (works without a key).
    pub async fn list_connections(
        &self,
        query: &ConnectionQuery,
    ) -> Result<Vec<(ConnectionInfo, ConnectionMeta)>, StoreError> {
        if let Some(after) = &query.after {
            check_id(after)?;
        }
        if let Some(user) = &query.end_user_id {
            check_text("end user id", user, 255, false)?;
        }
        if let Some(provider) = &query.provider {
            check_text("provider", provider, 200, false)?;
        }
        if let Some((key, value)) = &query.tag {
            check_tag_key(key)?;
            check_text(&format!("value of tag `{key}`"), value, 255, true)?;
        }
        let limit = query.limit.clamp(1, MAX_LIST_LIMIT);
        let sql = if query.end_user_id.is_some() {
            LIST_BY_END_USER
        } else if query.tag.is_some() {
            LIST_BY_TAG
        } else {
            LIST_ALL
        };
        let (tag_key, tag_value) = query.tag.clone().unzip();
        let rows = self
            .backend
            .query(
                sql,
                vec![
                    Val::Text(query.after.clone()),
                    Val::Text(query.end_user_id.clone()),
                    Val::Text(query.provider.clone()),
                    Val::Text(tag_key),
                    Val::Text(tag_value),
                    Val::int(i64::try_from(limit).unwrap_or(100)),
                ],
            )
            .await?;
        rows.into_iter()
            .map(|row| {
                let mut it = row.into_iter();
                let mut next = || it.next().unwrap_or(Val::Int(None));
                let row = Row {
                    id: next().into_text().unwrap_or_default(),
                    provider: next().into_text().unwrap_or_default(),
                    key_id: next().into_text().unwrap_or_default(),
                    secrets: Vec::new(),
                    version: next().as_int().unwrap_or(0),
                    created_at: next().as_int().unwrap_or(0),
                    updated_at: next().as_int().unwrap_or(0),
                    expires_at: next().as_int(),
                    lease_owner: next().into_text(),
                    lease_until: next().as_int(),
                    reauthorize: next().into_text(),
                };
                let meta = meta_of(
                    &row.id,
                    next().into_text(),
                    next().into_text(),
                    next().into_text(),
                )?;
                Ok((ConnectionInfo::of(&row), meta))
            })
            .collect()
    }

    /// Removes a connection, its pending authorizations and its metadata, in one
    /// transaction; whether it existed.
    pub async fn remove(&self, id: &str) -> Result<bool, StoreError> {
        let p = || vec![Val::text(id)];
        let mut tx = self.backend.begin().await?;
        let rows = tx
            .query_all(vec![
                Stmt {
                    sql: REMOVE,
                    params: p(),
                },
                Stmt {
                    sql: REMOVE_PENDING,
                    params: p(),
                },
                Stmt {
                    sql: REMOVE_META,
                    params: p(),
                },
                Stmt {
                    sql: DELETE_TAGS,
                    params: p(),
                },
            ])
            .await?;
        tx.commit().await?;
        Ok(rows.first().is_some_and(|r| !r.is_empty()))
    }
}
