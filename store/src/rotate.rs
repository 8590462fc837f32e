//! Key rotation: every sealed value re-encrypted with the primary key of the ring, whatever
//! holds it (connections, pending authorizations, records, webhook tokens, webhook event
//! bodies, records a sync set aside), and the records' keyed hashes computed again under it.
//!
//! Tables are walked in batches, by key id (a row already under the primary key is not read)
//! and by primary key; each batch is one transaction, and each row is rewritten only if it
//! still holds the value read (a compare-and-swap), so a rotation killed half way has lost
//! nothing and the next one continues where it stopped.

use crate::backend::{Stmt, Val};
use crate::error::StoreError;
use crate::keys::Binding;
use crate::store::{Rotation, Store};

/// Rows read and rewritten per transaction.
pub(crate) const BATCH: i64 = 200;

const WEBHOOKS: &str = "SELECT id, connection_id, token_hash, key_id, token FROM terapi_webhooks
     WHERE key_id <> $1 AND id > $2 ORDER BY id LIMIT $3";
const REKEY_WEBHOOK: &str = "UPDATE terapi_webhooks SET key_id = $2, token = $3
     WHERE id = $1 AND key_id = $4 AND token = $5 RETURNING 1";
const EVENTS: &str = "SELECT id, connection_id, webhook_id, dedupe, event_name, occurred_at, key_id, body FROM terapi_events
     WHERE key_id <> $1 AND id > $2 ORDER BY id LIMIT $3";
const REKEY_EVENT: &str = "UPDATE terapi_events SET key_id = $2, body = $3
     WHERE id = $1 AND key_id = $4 AND body = $5 RETURNING 1";
/// Sealed records (a record of a model without personal data has the key id '').
const RECORDS: &str = "SELECT connection_id, model, record_id, key_id, data FROM terapi_records
     WHERE key_id <> $1 AND key_id <> '' AND (connection_id, model, record_id) > ($2, $3, $4)
     ORDER BY connection_id, model, record_id LIMIT $5";
const REKEY_RECORD: &str = "UPDATE terapi_records SET key_id = $4, data = $5, hash = $8
     WHERE connection_id = $1 AND model = $2 AND record_id = $3 AND key_id = $6 AND data = $7 RETURNING 1";
/// Records a sync set aside for their ids (sealed when their model is personal; '' in clear).
const QUARANTINED: &str = "SELECT connection_id, model, run_started, page, idx, key_id, data FROM terapi_quarantine
     WHERE key_id <> $1 AND key_id <> '' AND (connection_id, model, run_started, page, idx) > ($2, $3, $4, $5, $6)
     ORDER BY connection_id, model, run_started, page, idx LIMIT $7";
const REKEY_QUARANTINED: &str = "UPDATE terapi_quarantine SET key_id = $6, data = $7
     WHERE connection_id = $1 AND model = $2 AND run_started = $3 AND page = $4 AND idx = $5 AND key_id = $8 AND data = $9 RETURNING 1";
/// Records kept in clear: only their hash is keyed.
const CLEAR_RECORDS: &str = "SELECT connection_id, model, record_id, hash, data FROM terapi_records
     WHERE key_id = '' AND (connection_id, model, record_id) > ($1, $2, $3)
     ORDER BY connection_id, model, record_id LIMIT $4";
const REHASH_RECORD: &str = "UPDATE terapi_records SET hash = $4
     WHERE connection_id = $1 AND model = $2 AND record_id = $3 AND key_id = '' AND hash = $5 AND data = $6 RETURNING 1";

/// A value re-sealed: the key id, the sealed bytes, and the plain value.
type Resealed = (String, Vec<u8>, Vec<u8>);

/// A row's sealed value, read for rotation.
struct Sealed {
    bound: Binding,
    key_id: String,
    value: Vec<u8>,
}

/// A table of sealed values, walked in batches by its key.
struct Walk {
    /// What its rows are, for messages.
    what: &'static str,
    /// Its rows not under key `$1`, after the key given next, at most the batch size given
    /// last: the key's columns, the columns the binding reads, the key id, the value.
    select: &'static str,
    /// A row rewritten: its key, the new key id and value, the old ones (the compare and
    /// swap), then (with `rehash`) the record's hash under the primary key.
    rekey: &'static str,
    /// The key before every row's.
    start: fn() -> Vec<Val>,
    /// How many of the leading columns are the key.
    keys: usize,
    /// What the value is bound to, from the columns before the key id.
    bind: fn(&[Val]) -> Binding,
    /// Whether the value is a record whose keyed hash goes with it.
    rehash: bool,
    /// Its count in the rotation's report.
    count: fn(&mut Rotation) -> &mut usize,
}

fn text(v: Option<&Val>) -> String {
    v.cloned().and_then(Val::into_text).unwrap_or_default()
}

fn int(v: Option<&Val>) -> i64 {
    v.and_then(Val::as_int).unwrap_or(0)
}

const WEBHOOK_TOKENS: Walk = Walk {
    what: "a webhook",
    select: WEBHOOKS,
    rekey: REKEY_WEBHOOK,
    start: || vec![Val::text("")],
    keys: 1,
    bind: |c| Binding::webhook(&text(c.first()), &text(c.get(1)), &text(c.get(2))),
    rehash: false,
    count: |r| &mut r.webhooks,
};

const EVENT_BODIES: Walk = Walk {
    what: "a webhook event",
    select: EVENTS,
    rekey: REKEY_EVENT,
    start: || vec![Val::int(0)],
    keys: 1,
    bind: |c| {
        Binding::event(
            &text(c.get(1)),
            &text(c.get(2)),
            &text(c.get(3)),
            &text(c.get(4)),
            int(c.get(5)),
        )
    },
    rehash: false,
    count: |r| &mut r.events,
};

const SEALED_RECORDS: Walk = Walk {
    what: "a record",
    select: RECORDS,
    rekey: REKEY_RECORD,
    start: || vec![Val::text(""), Val::text(""), Val::text("")],
    keys: 3,
    bind: |c| Binding::record(&text(c.first()), &text(c.get(1)), &text(c.get(2))),
    rehash: true,
    count: |r| &mut r.records,
};

const SET_ASIDE: Walk = Walk {
    what: "a quarantined record",
    select: QUARANTINED,
    rekey: REKEY_QUARANTINED,
    start: || {
        vec![
            Val::text(""),
            Val::text(""),
            Val::int(i64::MIN),
            Val::int(-1),
            Val::int(-1),
        ]
    },
    keys: 5,
    bind: |c| {
        Binding::quarantined(
            &text(c.first()),
            &text(c.get(1)),
            int(c.get(2)),
            u64::try_from(int(c.get(3))).unwrap_or(0),
            u64::try_from(int(c.get(4))).unwrap_or(0),
        )
    },
    rehash: false,
    count: |r| &mut r.quarantined,
};

impl Store {
    /// Re-encrypts every sealed value not sealed with the primary key (the older keys of the
    /// ring must open them): connections, pending authorizations, records, webhook tokens and
    /// webhook event bodies; and computes the records' content hashes again under the
    /// primary key. Afterwards the older keys can be retired. Rows are rewritten with a
    /// compare-and-swap on what was read (a connection's version is kept: a refresh under way
    /// still commits), in batches each committed: a rotation interrupted (killed, a
    /// database error) is continued by the next one.
    ///
    /// A value sealed before values were bound to their columns fails the rotation with
    /// [`StoreError::Legacy`] (see [`Store::rotate_key_with_legacy`]).
    pub async fn rotate_key(&self) -> Result<Rotation, StoreError> {
        self.rotate(false).await
    }

    /// [`Store::rotate_key`], and values of the format before bindings (terapi-store
    /// versions that bound a sealed value to a label of its row only) re-sealed bound to
    /// their row's columns **as they are now**: run it once after upgrading, on a database
    /// nobody else could write to, since a provider or id changed before it is then trusted.
    pub async fn rotate_key_with_legacy(&self) -> Result<Rotation, StoreError> {
        self.rotate(true).await
    }

    async fn rotate(&self, legacy: bool) -> Result<Rotation, StoreError> {
        let primary = self.keys.primary_id().ok_or(StoreError::NoKey)?.to_owned();
        let mut done = Rotation::default();
        // With `legacy`, rows under the primary key are read too (for their format).
        let skip = if legacy { "" } else { primary.as_str() };
        self.rotate_connections(&primary, legacy, &mut done).await?;
        self.rotate_pending(&primary, legacy, &mut done).await?;
        let tables = [&WEBHOOK_TOKENS, &EVENT_BODIES, &SEALED_RECORDS, &SET_ASIDE];
        for walk in tables {
            let n = self
                .rotate_table(walk, skip, &primary, legacy, &mut done)
                .await?;
            *(walk.count)(&mut done) += n;
        }
        self.rehash_clear_records().await?;
        Ok(done)
    }

    /// The value re-sealed under the primary key, or `None` when it is already (in the
    /// current format). Counts a legacy value re-sealed.
    fn reseal(
        &self,
        sealed: &Sealed,
        primary: &str,
        legacy: bool,
        done: &mut Rotation,
    ) -> Result<Option<Resealed>, StoreError> {
        if sealed.key_id == crate::keys::PLAINTEXT {
            // Not sealed: nothing to re-encrypt (a store with a key refuses to read it).
            return Ok(None);
        }
        let is_legacy = sealed.value.first() == Some(&1);
        if sealed.key_id == primary && !is_legacy {
            return Ok(None);
        }
        let (plain, was_legacy) =
            self.keys
                .open_any(&sealed.bound, &sealed.key_id, &sealed.value)?;
        if was_legacy && !legacy {
            return Err(StoreError::Legacy {
                what: sealed.bound.what().to_owned(),
            });
        }
        let (key_id, value) = self.keys.seal(&sealed.bound, &plain)?;
        if was_legacy {
            done.legacy += 1;
        }
        Ok(Some((key_id, value, plain)))
    }

    async fn rotate_connections(
        &self,
        primary: &str,
        legacy: bool,
        done: &mut Rotation,
    ) -> Result<(), StoreError> {
        for info in self.list().await? {
            // A row that changes meanwhile (a refresh) is read again.
            for _ in 0..10 {
                let Some(row) = self.backend.get(&info.id).await? else {
                    break;
                };
                let sealed = Sealed {
                    bound: Binding::connection(&row.id, &row.provider),
                    key_id: row.key_id.clone(),
                    value: row.secrets.clone(),
                };
                let Some((key_id, secrets, _)) = self.reseal(&sealed, primary, legacy, done)?
                else {
                    break;
                };
                if self
                    .backend
                    .rekey(&row.id, row.version, &key_id, &secrets)
                    .await?
                {
                    done.connections += 1;
                    break;
                }
            }
        }
        Ok(())
    }

    async fn rotate_pending(
        &self,
        primary: &str,
        legacy: bool,
        done: &mut Rotation,
    ) -> Result<(), StoreError> {
        for row in self.backend.list_pending().await? {
            let sealed = Sealed {
                bound: Binding::pending(&row.state_hash, &row.connection_id, &row.provider),
                key_id: row.key_id.clone(),
                value: row.secrets.clone(),
            };
            let Some((key_id, secrets, _)) = self.reseal(&sealed, primary, legacy, done)? else {
                continue;
            };
            if self
                .backend
                .rekey_pending(&row.state_hash, &row.key_id, &key_id, &secrets)
                .await?
            {
                done.pending += 1;
            }
        }
        Ok(())
    }

    /// Runs `stmts` in one transaction; how many rewrote their row.
    async fn commit_batch(&self, stmts: Vec<Stmt>) -> Result<usize, StoreError> {
        if stmts.is_empty() {
            return Ok(0);
        }
        let mut tx = self.backend.begin().await?;
        let rows = tx.query_all(stmts).await?;
        tx.commit().await?;
        Ok(rows.iter().filter(|r| !r.is_empty()).count())
    }

    /// Re-seals the values of one table (`walk`) in batches; how many were rewritten.
    async fn rotate_table(
        &self,
        walk: &Walk,
        skip: &str,
        primary: &str,
        legacy: bool,
        done: &mut Rotation,
    ) -> Result<usize, StoreError> {
        let mut after = (walk.start)();
        let mut rewritten = 0;
        loop {
            let mut params = vec![Val::text(skip)];
            params.extend(after.iter().cloned());
            params.push(Val::int(BATCH));
            let rows = self.backend.query(walk.select, params).await?;
            let full = rows.len() as i64 == BATCH;
            let mut stmts = Vec::new();
            for row in rows {
                // The key, the columns the binding reads, then the key id and the value.
                let Some((columns, [key_id, value])) = row.split_last_chunk::<2>() else {
                    return Err(StoreError::Corrupt {
                        what: walk.what.to_owned(),
                        message: "a column of its row is missing".to_owned(),
                    });
                };
                let sealed = Sealed {
                    bound: (walk.bind)(columns),
                    key_id: key_id.clone().into_text().unwrap_or_default(),
                    value: value.clone().into_bytes().unwrap_or_default(),
                };
                let key = columns[..walk.keys.min(columns.len())].to_vec();
                if let Some((key_id, value, plain)) = self.reseal(&sealed, primary, legacy, done)? {
                    let mut params = key.clone();
                    params.extend([
                        Val::text(key_id),
                        Val::bytes(value),
                        Val::text(sealed.key_id),
                        Val::bytes(sealed.value),
                    ]);
                    if walk.rehash {
                        // The sealed value is the record's canonical JSON: its hash under
                        // the primary key is what a sync compares with.
                        params.push(Val::text(self.keys.record_hash(&plain)));
                    }
                    stmts.push(Stmt {
                        sql: walk.rekey,
                        params,
                    });
                }
                after = key;
            }
            rewritten += self.commit_batch(stmts).await?;
            if !full {
                return Ok(rewritten);
            }
        }
    }

    /// The hashes of records kept in clear, computed again under the primary key (a sync
    /// compares with hashes under it: a stale one would count as a change).
    async fn rehash_clear_records(&self) -> Result<(), StoreError> {
        let mut after = (String::new(), String::new(), String::new());
        loop {
            let rows = self
                .backend
                .query(
                    CLEAR_RECORDS,
                    vec![
                        Val::text(after.0.clone()),
                        Val::text(after.1.clone()),
                        Val::text(after.2.clone()),
                        Val::int(BATCH),
                    ],
                )
                .await?;
            let full = rows.len() as i64 == BATCH;
            let mut stmts = Vec::new();
            for row in rows {
                let mut it = row.into_iter();
                let mut next = || it.next().unwrap_or(Val::Int(None));
                let connection = next().into_text().unwrap_or_default();
                let model = next().into_text().unwrap_or_default();
                let id = next().into_text().unwrap_or_default();
                let hash = next().into_text().unwrap_or_default();
                let data = next().into_bytes().unwrap_or_default();
                let rehashed = self.keys.record_hash(&data);
                if rehashed != hash {
                    stmts.push(Stmt {
                        sql: REHASH_RECORD,
                        params: vec![
                            Val::text(connection.clone()),
                            Val::text(model.clone()),
                            Val::text(id.clone()),
                            Val::text(rehashed),
                            Val::text(hash),
                            Val::bytes(data),
                        ],
                    });
                }
                after = (connection, model, id);
            }
            self.commit_batch(stmts).await?;
            if !full {
                return Ok(());
            }
        }
    }
}
