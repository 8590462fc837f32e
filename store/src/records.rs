//! Synced records: per (connection, model, record id) the record's JSON (sealed when the model
//! holds personal data), a keyed content hash, first/last seen, when it last changed and
//! `deleted_at`; and a change feed ordered by a per-model sequence.
//!
//! Writes to a model are transactions that take the model's row of `terapi_sync` first, so
//! the sequence numbers they hand out become visible in order: a reader of
//! [`Store::changes`] never misses a change that commits after it read a later one.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::Value;

use crate::backend::{Stmt, Tx, Val};
use crate::error::StoreError;
use crate::keys::{Binding, Keys};
use crate::record::{from_ms, now_ms, to_ms};
use crate::store::{Store, check_id};

/// The key id of a record stored in clear because its model holds no personal data.
pub(crate) const CLEAR: &str = "";

/// A model of a connection: where records are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Model<'a> {
    /// The connection id.
    pub connection: &'a str,
    /// The model's name (`employees`, `persons`): 1 to 64 of `a-z 0-9 - _ .`.
    pub name: &'a str,
    /// Whether records hold personal data: they are then encrypted like the connection's
    /// secrets (HR data does).
    pub personal: bool,
}

impl<'a> Model<'a> {
    /// The model `name` of `connection`, holding personal data (encrypted).
    pub fn personal(connection: &'a str, name: &'a str) -> Model<'a> {
        Model {
            connection,
            name,
            personal: true,
        }
    }

    /// The model `name` of `connection`, without personal data (kept in clear).
    pub fn public(connection: &'a str, name: &'a str) -> Model<'a> {
        Model {
            connection,
            name,
            personal: false,
        }
    }

    pub(crate) fn check(&self) -> Result<(), StoreError> {
        check_id(self.connection)?;
        self.check_name()
    }

    /// Checks the model's name (1 to 64 of `a-z 0-9 - _ .`).
    pub fn check_name(&self) -> Result<(), StoreError> {
        if terapi_runtime::sync::is_model_name(self.name) {
            Ok(())
        } else {
            Err(StoreError::InvalidModel {
                name: self.name.escape_default().to_string(),
            })
        }
    }

    fn what(&self, id: &str) -> String {
        format!(
            "record `{}` of model `{}` of connection `{}`",
            id.escape_default(),
            self.name,
            self.connection
        )
    }
}

/// What happened to a record, as the change feed tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// New since the cursor (or back after a deletion).
    Added,
    /// Its content changed.
    Updated,
    /// It was deleted (a complete full sync did not see it, or a webhook said so).
    Deleted,
}

/// One entry of the change feed: a record's latest state after the cursor.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// The record's id.
    pub id: String,
    /// Its content (`None` for a deletion).
    pub data: Option<Value>,
    /// The cursor to resume from after this change.
    pub cursor: u64,
    /// When the change was stored (unix milliseconds).
    pub at_ms: i64,
    /// When a sync or webhook first stored the record (unix milliseconds).
    pub first_seen_ms: i64,
    /// When it was marked deleted (unix milliseconds), for a deletion.
    pub deleted_at_ms: Option<i64>,
    /// The cursor at which the record was last added (first stored, or back after a
    /// deletion): a reader that resumed from a cursor before it has not seen the record yet.
    pub added_cursor: u64,
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// The record's id.
    pub id: String,
    /// Its content.
    pub data: Value,
    /// When a sync or webhook first stored it.
    pub first_seen: SystemTime,
    /// When a sync or webhook last saw it.
    pub last_seen: SystemTime,
    /// When its content last changed.
    pub changed_at: SystemTime,
    /// When it was marked deleted.
    pub deleted_at: Option<SystemTime>,
}

impl StoredRecord {
    /// The record read as `T` (a model generated from an integrations file): an error names
    /// the record and where it differs, never its content.
    pub fn read_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, StoreError> {
        terapi_runtime::integration::read_as(self.data.clone()).map_err(|e| {
            StoreError::RecordShape {
                id: self.id.escape_default().to_string(),
                reason: e.to_string(),
            }
        })
    }
}

/// A current record read as a generated model.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedRecord<T> {
    /// The record's id.
    pub id: String,
    /// Its content, typed.
    pub record: T,
    /// When its content last changed.
    pub changed_at: SystemTime,
}

/// A batch of the change feed: the changes and the cursor after them.
#[derive(Debug, Clone, PartialEq)]
pub struct Changes {
    /// In the order they were stored.
    pub changes: Vec<Change>,
    /// Pass it back to continue after these (equal to the one given when there are none).
    pub cursor: u64,
}

/// What writing one record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Applied {
    /// It was new (or back after a deletion).
    Added,
    /// Its content changed.
    Updated,
    /// Same content: only last seen moved.
    Unchanged,
    /// It was marked deleted.
    Deleted,
    /// Newer data was already stored (observed later): nothing written.
    Stale,
    /// A deletion of a record the store does not hold.
    Absent,
}

/// A record's JSON with object keys sorted: the same content always hashes the same.
pub(crate) fn canonical(value: &Value) -> Vec<u8> {
    fn write(v: &Value, out: &mut Vec<u8>) {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push(b'{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    // A string's JSON cannot fail to serialize.
                    out.extend_from_slice(serde_json::to_string(k).unwrap_or_default().as_bytes());
                    out.push(b':');
                    write(&map[k], out);
                }
                out.push(b'}');
            }
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write(item, out);
                }
                out.push(b']');
            }
            other => out.extend_from_slice(other.to_string().as_bytes()),
        }
    }
    let mut out = Vec::new();
    write(value, &mut out);
    out
}

/// A record to write: its canonical JSON and keyed hash (sealed only if it is written).
pub(crate) struct Hashed {
    pub id: String,
    pub hash: String,
    pub canonical: Vec<u8>,
}

fn hashed(keys: &Keys, id: String, data: &Value) -> Hashed {
    let canonical = canonical(data);
    Hashed {
        id,
        hash: keys.record_hash(&canonical),
        canonical,
    }
}

/// The record's stored form: (key id, bytes).
fn seal(keys: &Keys, model: &Model<'_>, h: &Hashed) -> Result<(String, Vec<u8>), StoreError> {
    if model.personal {
        keys.seal(
            &Binding::record(model.connection, model.name, &h.id),
            &h.canonical,
        )
    } else {
        Ok((CLEAR.to_owned(), h.canonical.clone()))
    }
}

pub(crate) fn open(
    keys: &Keys,
    model: &Model<'_>,
    id: &str,
    key_id: &str,
    data: &[u8],
) -> Result<Value, StoreError> {
    let plain = if key_id == CLEAR {
        data.to_vec()
    } else {
        keys.open(
            &Binding::record(model.connection, model.name, id),
            key_id,
            data,
        )?
    };
    serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt {
        what: model.what(id),
        message: e.to_string(),
    })
}

// ---------------------------------------------------------------------------------------
// Statements

/// The model's row, created when missing.
pub(crate) const ENSURE_SYNC: &str = "INSERT INTO terapi_sync (connection_id, model, seq, generation, run_pages, run_added, run_updated, run_unchanged)
     VALUES ($1, $2, 0, 0, 0, 0, 0, 0) ON CONFLICT (connection_id, model) DO NOTHING";
/// Takes the model's row for this transaction (its sequence and generation).
const LOCK_SYNC: &str = "UPDATE terapi_sync SET seq = seq WHERE connection_id = $1 AND model = $2 RETURNING seq, generation";
const SET_SEQ: &str = "UPDATE terapi_sync SET seq = $3 WHERE connection_id = $1 AND model = $2";

/// The stored state of a page's records ($3: their ids as a JSON array).
const LOOKUP_SQLITE: &str =
    "SELECT record_id, hash, deleted_at, key_id, observed_at FROM terapi_records
     WHERE connection_id = $1 AND model = $2 AND record_id IN (SELECT value FROM json_each($3))";
/// PostgreSQL: one record (pipelined per page: each by the primary key).
const LOOKUP_PG: &str =
    "SELECT record_id, hash, deleted_at, key_id, observed_at FROM terapi_records
     WHERE connection_id = $1 AND model = $2 AND record_id = $3";
const GET_DATA: &str =
    "SELECT data FROM terapi_records WHERE connection_id = $1 AND model = $2 AND record_id = $3";
/// Records seen again with the same content ($6: their ids as a JSON array).
const SEEN_SQLITE: &str = "UPDATE terapi_records SET last_seen = $3, generation = $4,
       observed_at = CASE WHEN observed_at > $5 THEN observed_at ELSE $5 END
     WHERE connection_id = $1 AND model = $2 AND record_id IN (SELECT value FROM json_each($6))";
const SEEN_PG: &str = "UPDATE terapi_records SET last_seen = $3, generation = $4,
       observed_at = CASE WHEN observed_at > $5 THEN observed_at ELSE $5 END
     WHERE connection_id = $1 AND model = $2 AND record_id = $6";
pub(crate) const INSERT_RECORD: &str = "INSERT INTO terapi_records (connection_id, model, record_id, key_id, data, hash, first_seen, last_seen, changed_at, deleted_at, generation, seq, added_seq, observed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7, NULL, $8, $9, $9, $10)";
/// New content ($4..$6) at sequence $9; `added_seq` too when it comes back from deletion.
pub(crate) const REWRITE_RECORD: &str =
    "UPDATE terapi_records SET key_id = $4, data = $5, hash = $6, last_seen = $7, changed_at = $7,
       added_seq = CASE WHEN deleted_at IS NULL THEN added_seq ELSE $9 END, deleted_at = NULL,
       generation = $8, seq = $9, observed_at = $10
     WHERE connection_id = $1 AND model = $2 AND record_id = $3";
/// Same content: seen again (re-sealed with $4/$5/$6, which may be a newer key).
pub(crate) const TOUCH_RECORD: &str =
    "UPDATE terapi_records SET key_id = $4, data = $5, hash = $6, last_seen = $7, generation = $8,
       observed_at = CASE WHEN observed_at > $9 THEN observed_at ELSE $9 END
     WHERE connection_id = $1 AND model = $2 AND record_id = $3";
pub(crate) const DELETE_RECORD: &str =
    "UPDATE terapi_records SET deleted_at = $4, changed_at = $4, seq = $5, observed_at = $6
     WHERE connection_id = $1 AND model = $2 AND record_id = $3 AND deleted_at IS NULL";

/// The feed, by the expression index on `model || '/' || connection_id` (model names have no
/// `/`): no lookup by id can take that index for the primary key's.
const CHANGES: &str =
    "SELECT record_id, key_id, data, seq, added_seq, deleted_at, changed_at, first_seen FROM terapi_records
     WHERE (model || '/' || connection_id) = $1 AND seq > $2 ORDER BY seq LIMIT $3";
const CURRENT: &str = "SELECT record_id, key_id, data, first_seen, last_seen, changed_at, deleted_at FROM terapi_records
     WHERE connection_id = $1 AND model = $2 AND deleted_at IS NULL AND record_id > $3 ORDER BY record_id LIMIT $4";
const ONE: &str = "SELECT record_id, key_id, data, first_seen, last_seen, changed_at, deleted_at FROM terapi_records
     WHERE connection_id = $1 AND model = $2 AND record_id = $3";
const COUNT: &str = "SELECT COUNT(*) FROM terapi_records WHERE connection_id = $1 AND model = $2 AND deleted_at IS NULL";

fn keyed(model: &Model<'_>, mut rest: Vec<Val>) -> Vec<Val> {
    let mut params = vec![Val::text(model.connection), Val::text(model.name)];
    params.append(&mut rest);
    params
}

/// The stamps of a write: the model's generation, when the data was observed, and now.
#[derive(Clone, Copy)]
pub(crate) struct Stamp {
    pub generation: i64,
    pub observed_at: i64,
    pub now: i64,
}

/// What is stored of a record, as a write needs it (not its data).
struct Existing {
    hash: String,
    deleted: bool,
    key_id: String,
    observed_at: i64,
}

fn ids_json(ids: impl Iterator<Item = impl AsRef<str>>) -> Result<String, StoreError> {
    let ids: Vec<String> = ids.map(|i| i.as_ref().to_owned()).collect();
    serde_json::to_string(&ids).map_err(StoreError::database)
}

/// Writes `records` observed at `stamp.observed_at` in `tx`, whose model row is locked;
/// `seq` (the model's sequence) advances by one per change. Each record's outcome, in order
/// (a record twice in the batch: its last occurrence counts, the first is `Unchanged`).
pub(crate) async fn write_records(
    tx: &mut Tx,
    keys: &Keys,
    model: &Model<'_>,
    records: Vec<(String, Value)>,
    stamp: Stamp,
    seq: &mut i64,
) -> Result<Vec<Applied>, StoreError> {
    let mut last: BTreeMap<String, usize> = BTreeMap::new();
    let mut batch = Vec::with_capacity(records.len());
    for (i, (id, data)) in records.into_iter().enumerate() {
        last.insert(id.clone(), i);
        batch.push(hashed(keys, id, &data));
    }
    let pg = tx.is_postgres();
    let rows: Vec<Vec<Val>> = if pg {
        let each = last
            .keys()
            .map(|id| Stmt {
                sql: LOOKUP_PG,
                params: keyed(model, vec![Val::text(id.clone())]),
            })
            .collect();
        tx.query_all(each).await?.into_iter().flatten().collect()
    } else {
        tx.query(
            LOOKUP_SQLITE,
            keyed(model, vec![Val::text(ids_json(last.keys())?)]),
        )
        .await?
    };
    let mut stored: BTreeMap<String, Existing> = BTreeMap::new();
    for row in rows {
        let mut it = row.into_iter();
        let mut next = || it.next().unwrap_or(Val::Int(None));
        let id = next().into_text().unwrap_or_default();
        let hash = next().into_text().unwrap_or_default();
        let deleted = next().as_int().is_some();
        let key_id = next().into_text().unwrap_or_default();
        let observed_at = next().as_int().unwrap_or(0);
        stored.insert(
            id,
            Existing {
                hash,
                deleted,
                key_id,
                observed_at,
            },
        );
    }
    let Stamp {
        generation,
        observed_at,
        now,
    } = stamp;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut seen: Vec<String> = Vec::new();
    let mut stmts = Vec::new();
    for (i, h) in batch.iter().enumerate() {
        if last.get(&h.id) != Some(&i) {
            outcomes.push(Applied::Unchanged);
            continue;
        }
        let old = stored.get(&h.id);
        let write = |sql: &'static str, with_seq: Option<i64>| -> Result<Stmt, StoreError> {
            let (key_id, data) = seal(keys, model, h)?;
            let mut rest = vec![
                Val::text(h.id.clone()),
                Val::text(key_id),
                Val::bytes(data),
                Val::text(h.hash.clone()),
                Val::int(now),
                Val::int(generation),
            ];
            if let Some(s) = with_seq {
                rest.push(Val::int(s));
            }
            rest.push(Val::int(observed_at));
            Ok(Stmt {
                sql,
                params: keyed(model, rest),
            })
        };
        let outcome = match old {
            None => {
                *seq += 1;
                stmts.push(write(INSERT_RECORD, Some(*seq))?);
                Applied::Added
            }
            Some(old) if old.observed_at > observed_at => {
                // Data observed later is stored (a webhook's): keep it; the record was seen.
                seen.push(h.id.clone());
                Applied::Stale
            }
            Some(old) if !old.deleted && old.hash == h.hash => {
                seen.push(h.id.clone());
                Applied::Unchanged
            }
            Some(old) => {
                // Hashed under another key (rotated): compare the content itself.
                let rotated = !old.deleted
                    && old.key_id != CLEAR
                    && Some(old.key_id.as_str()) != keys.primary_id();
                let same = rotated && {
                    let rows = tx
                        .query(GET_DATA, keyed(model, vec![Val::text(h.id.clone())]))
                        .await?;
                    let data = rows
                        .into_iter()
                        .next()
                        .and_then(|r| r.into_iter().next())
                        .and_then(Val::into_bytes)
                        .unwrap_or_default();
                    open(keys, model, &h.id, &old.key_id, &data)
                        .map(|v| canonical(&v) == h.canonical)
                        .unwrap_or(false)
                };
                if same {
                    stmts.push(write(TOUCH_RECORD, None)?);
                    Applied::Unchanged
                } else {
                    *seq += 1;
                    stmts.push(write(REWRITE_RECORD, Some(*seq))?);
                    if old.deleted {
                        Applied::Added
                    } else {
                        Applied::Updated
                    }
                }
            }
        };
        outcomes.push(outcome);
    }
    let seen_params = |ids: Val| {
        keyed(
            model,
            vec![
                Val::int(now),
                Val::int(generation),
                Val::int(observed_at),
                ids,
            ],
        )
    };
    if pg {
        for id in seen {
            stmts.push(Stmt {
                sql: SEEN_PG,
                params: seen_params(Val::text(id)),
            });
        }
    } else if !seen.is_empty() {
        stmts.push(Stmt {
            sql: SEEN_SQLITE,
            params: seen_params(Val::text(ids_json(seen.iter())?)),
        });
    }
    tx.execute_all(stmts).await?;
    Ok(outcomes)
}

/// Locks the model's row in `tx` (creating it); its sequence and generation.
pub(crate) async fn lock_model(tx: &mut Tx, model: &Model<'_>) -> Result<(i64, i64), StoreError> {
    tx.execute_all(vec![Stmt {
        sql: ENSURE_SYNC,
        params: keyed(model, vec![]),
    }])
    .await?;
    let rows = tx.query(LOCK_SYNC, keyed(model, vec![])).await?;
    let row = rows.into_iter().next().unwrap_or_default();
    Ok((
        row.first().and_then(Val::as_int).unwrap_or(0),
        row.get(1).and_then(Val::as_int).unwrap_or(0),
    ))
}

pub(crate) fn set_seq(model: &Model<'_>, seq: i64) -> Stmt {
    Stmt {
        sql: SET_SEQ,
        params: keyed(model, vec![Val::int(seq)]),
    }
}

/// The stored state of one record (for a deletion).
pub(crate) async fn lookup_one(
    tx: &mut Tx,
    model: &Model<'_>,
    id: &str,
) -> Result<Option<(bool, i64)>, StoreError> {
    let rows = if tx.is_postgres() {
        tx.query(LOOKUP_PG, keyed(model, vec![Val::text(id)]))
            .await?
    } else {
        tx.query(
            LOOKUP_SQLITE,
            keyed(model, vec![Val::text(ids_json(std::iter::once(id))?)]),
        )
        .await?
    };
    Ok(rows.into_iter().next().map(|r| {
        (
            r.get(2).and_then(Val::as_int).is_some(),
            r.get(4).and_then(Val::as_int).unwrap_or(0),
        )
    }))
}

pub(crate) fn delete_stmt(model: &Model<'_>, id: &str, now: i64, seq: i64, observed: i64) -> Stmt {
    Stmt {
        sql: DELETE_RECORD,
        params: keyed(
            model,
            vec![
                Val::text(id),
                Val::int(now),
                Val::int(seq),
                Val::int(observed),
            ],
        ),
    }
}

fn stored(keys: &Keys, model: &Model<'_>, row: Vec<Val>) -> Result<StoredRecord, StoreError> {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Val::Int(None));
    let id = next().into_text().unwrap_or_default();
    let key_id = next().into_text().unwrap_or_default();
    let data = next().into_bytes().unwrap_or_default();
    let first_seen = from_ms(next().as_int().unwrap_or(0));
    let last_seen = from_ms(next().as_int().unwrap_or(0));
    let changed_at = from_ms(next().as_int().unwrap_or(0));
    let deleted_at = next().as_int().map(from_ms);
    Ok(StoredRecord {
        data: open(keys, model, &id, &key_id, &data)?,
        id,
        first_seen,
        last_seen,
        changed_at,
        deleted_at,
    })
}

impl Store {
    /// Stores one record observed at `observed_at` (a webhook's fetch of it), or marks it
    /// deleted (`data: None`), unless the store holds data observed later: an older event
    /// never overwrites a newer one.
    pub async fn apply_record(
        &self,
        model: Model<'_>,
        id: &str,
        data: Option<&Value>,
        observed_at: SystemTime,
    ) -> Result<Applied, StoreError> {
        model.check()?;
        crate::ids::check_record_id(id)?;
        let observed = to_ms(observed_at);
        let mut tx = self.backend.begin().await?;
        let (seq0, generation) = lock_model(&mut tx, &model).await?;
        let now = now_ms();
        let mut seq = seq0;
        let applied = match data {
            Some(v) => {
                let stamp = Stamp {
                    generation,
                    observed_at: observed,
                    now,
                };
                write_records(
                    &mut tx,
                    &self.keys,
                    &model,
                    vec![(id.to_owned(), v.clone())],
                    stamp,
                    &mut seq,
                )
                .await?
                .pop()
                .unwrap_or(Applied::Unchanged)
            }
            None => match lookup_one(&mut tx, &model, id).await? {
                None => Applied::Absent,
                Some((_, at)) if at > observed => Applied::Stale,
                Some((true, _)) => Applied::Unchanged,
                Some((false, _)) => {
                    seq += 1;
                    tx.execute_all(vec![delete_stmt(&model, id, now, seq, observed)])
                        .await?;
                    Applied::Deleted
                }
            },
        };
        if seq != seq0 {
            tx.execute_all(vec![set_seq(&model, seq)]).await?;
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// The changes of a model after `cursor` (0: from the start), at most `limit`, in the
    /// order they were stored. Each record appears once, in its latest state.
    pub async fn changes(
        &self,
        model: Model<'_>,
        cursor: u64,
        limit: usize,
    ) -> Result<Changes, StoreError> {
        model.check()?;
        let after = i64::try_from(cursor).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit.clamp(1, 10_000)).unwrap_or(10_000);
        let feed = format!("{}/{}", model.name, model.connection);
        let rows = self
            .backend
            .query(
                CHANGES,
                vec![Val::text(feed), Val::int(after), Val::int(limit)],
            )
            .await?;
        let mut changes = Vec::with_capacity(rows.len());
        let mut last = cursor;
        for row in rows {
            let mut it = row.into_iter();
            let mut next = || it.next().unwrap_or(Val::Int(None));
            let id = next().into_text().unwrap_or_default();
            let key_id = next().into_text().unwrap_or_default();
            let data = next().into_bytes().unwrap_or_default();
            let seq = next().as_int().unwrap_or(0);
            let added_seq = next().as_int().unwrap_or(0);
            let deleted_at_ms = next().as_int();
            let deleted = deleted_at_ms.is_some();
            let at_ms = next().as_int().unwrap_or(0);
            let first_seen_ms = next().as_int().unwrap_or(0);
            let kind = if deleted {
                ChangeKind::Deleted
            } else if added_seq > after {
                ChangeKind::Added
            } else {
                ChangeKind::Updated
            };
            let data = match kind {
                ChangeKind::Deleted => None,
                _ => Some(open(&self.keys, &model, &id, &key_id, &data)?),
            };
            last = u64::try_from(seq).unwrap_or(last);
            changes.push(Change {
                kind,
                id,
                data,
                cursor: last,
                at_ms,
                first_seen_ms,
                deleted_at_ms,
                added_cursor: u64::try_from(added_seq).unwrap_or(0),
            });
        }
        Ok(Changes {
            changes,
            cursor: last,
        })
    }

    /// The change feed after `cursor` as a stream, read in batches (memory stays bounded):
    /// each [`Change`] carries the cursor to resume from.
    pub fn changes_since(
        &self,
        model: Model<'_>,
        cursor: u64,
    ) -> impl futures_util::Stream<Item = Result<Change, StoreError>> + Send + 'static {
        let store = self.clone();
        let (connection, name, personal) = (
            model.connection.to_owned(),
            model.name.to_owned(),
            model.personal,
        );
        futures_util::stream::try_unfold(
            (cursor, std::collections::VecDeque::new(), false),
            move |(cursor, mut buffer, done): (u64, std::collections::VecDeque<Change>, bool)| {
                let store = store.clone();
                let (connection, name) = (connection.clone(), name.clone());
                async move {
                    if buffer.is_empty() && !done {
                        let model = Model {
                            connection: &connection,
                            name: &name,
                            personal,
                        };
                        let batch = store.changes(model, cursor, 500).await?;
                        let exhausted = batch.changes.len() < 500;
                        buffer.extend(batch.changes);
                        match buffer.pop_front() {
                            Some(c) => Ok(Some((c.clone(), (c.cursor, buffer, exhausted)))),
                            None => Ok(None),
                        }
                    } else {
                        match buffer.pop_front() {
                            Some(c) => Ok(Some((c.clone(), (c.cursor, buffer, done)))),
                            None => Ok(None),
                        }
                    }
                }
            },
        )
    }

    /// The current (not deleted) records of a model with ids after `after` (in id order,
    /// byte-wise), at most `limit`: call again with the last id for more.
    pub async fn records(
        &self,
        model: Model<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        model.check()?;
        let limit = i64::try_from(limit.clamp(1, 10_000)).unwrap_or(10_000);
        let rows = self
            .backend
            .query(
                CURRENT,
                keyed(
                    &model,
                    vec![Val::text(after.unwrap_or("")), Val::int(limit)],
                ),
            )
            .await?;
        rows.into_iter()
            .map(|row| stored(&self.keys, &model, row))
            .collect()
    }

    /// The current records of a model read as `T` (the model's generated struct), like
    /// [`Store::records`]: ids after `after`, at most `limit`. A record that does not read as
    /// `T` fails the call with its id and where it differs.
    pub async fn typed_records<T: serde::de::DeserializeOwned>(
        &self,
        model: Model<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<TypedRecord<T>>, StoreError> {
        self.records(model, after, limit)
            .await?
            .into_iter()
            .map(|r| {
                Ok(TypedRecord {
                    record: r.read_as()?,
                    id: r.id,
                    changed_at: r.changed_at,
                })
            })
            .collect()
    }

    /// One record, deleted or not.
    pub async fn record(
        &self,
        model: Model<'_>,
        id: &str,
    ) -> Result<Option<StoredRecord>, StoreError> {
        model.check()?;
        let rows = self
            .backend
            .query(ONE, keyed(&model, vec![Val::text(id)]))
            .await?;
        rows.into_iter()
            .next()
            .map(|row| stored(&self.keys, &model, row))
            .transpose()
    }

    /// How many current (not deleted) records a model has.
    pub async fn count_records(&self, model: Model<'_>) -> Result<u64, StoreError> {
        model.check()?;
        let rows = self.backend.query(COUNT, keyed(&model, vec![])).await?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .and_then(Val::as_int)
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_sorts_keys_at_every_level() {
        let a = json!({"b": 1, "a": {"y": [1, {"d": 2, "c": 3}], "x": "é\"q"}});
        let b = json!({"a": {"x": "é\"q", "y": [1, {"c": 3, "d": 2}]}, "b": 1});
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(
            String::from_utf8(canonical(&a)).unwrap(),
            r#"{"a":{"x":"é\"q","y":[1,{"c":3,"d":2}]},"b":1}"#
        );
        let parsed: Value = serde_json::from_slice(&canonical(&a)).unwrap();
        assert_eq!(parsed, a);
    }

    #[test]
    fn model_names_are_checked() {
        assert!(Model::personal("c", "employees").check().is_ok());
        assert!(Model::personal("c", "absence-periods").check().is_ok());
        for bad in ["", "Employees", "a b", "x;drop", &"a".repeat(65)] {
            assert!(matches!(
                Model::personal("c", bad).check(),
                Err(StoreError::InvalidModel { .. })
            ));
        }
        assert!(matches!(
            Model::personal("", "employees").check(),
            Err(StoreError::InvalidId { .. })
        ));
    }

    #[test]
    fn hashes_are_keyed() {
        let data = canonical(&json!({"name": "Ada"}));
        let one = Keys::new("one", &[1; 32]).unwrap();
        let two = Keys::new("two", &[2; 32]).unwrap();
        assert_eq!(one.record_hash(&data), one.record_hash(&data));
        assert_ne!(one.record_hash(&data), two.record_hash(&data));
        assert_ne!(
            one.record_hash(&data),
            Keys::unencrypted().record_hash(&data)
        );
    }
}
