//! Webhook subscriptions (their tokens sealed, found by the token's SHA-256) and the events
//! received: stored durably before the delivery is answered, deduplicated on what the
//! envelope says, then applied by a worker that claims them (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL).

use std::time::Duration;

use serde_json::Value;
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use crate::backend::Val;
use crate::error::StoreError;
use crate::keys::Binding;
use crate::record::now_ms;
use crate::store::{Store, check_id};

/// A webhook subscription of a connection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Webhook {
    /// The provider's id of the subscription.
    pub id: String,
    /// The connection it delivers for.
    pub connection: String,
    /// Where it delivers.
    pub url: String,
    /// The events it delivers.
    pub events: Vec<String>,
    /// The company its deliveries name (pinned at the first valid delivery when unknown).
    pub company_id: Option<String>,
    /// When it was saved (unix milliseconds).
    pub created_at_ms: i64,
}

/// An event to store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The connection.
    pub connection: String,
    /// The subscription it came through.
    pub webhook_id: String,
    /// What identifies a delivery of this event (redeliveries carry the same).
    pub dedupe: String,
    /// `person.updated`, ...
    pub event_name: String,
    /// When it happened (unix milliseconds).
    pub occurred_at_ms: i64,
    /// The envelope.
    pub envelope: Value,
}

/// Where an event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    /// Stored, not applied yet.
    Pending,
    /// Applied to the records.
    Applied,
    /// Given up after repeated failures.
    Failed,
}

impl EventStatus {
    fn name(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Applied => "applied",
            EventStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> EventStatus {
        match s {
            "applied" => EventStatus::Applied,
            "failed" => EventStatus::Failed,
            _ => EventStatus::Pending,
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The store's id of it.
    pub id: i64,
    /// The connection.
    pub connection: String,
    /// The subscription.
    pub webhook_id: String,
    /// `person.updated`, ...
    pub event_name: String,
    /// When it happened (unix milliseconds).
    pub occurred_at_ms: i64,
    /// When it was received (unix milliseconds).
    pub received_at_ms: i64,
    /// The envelope.
    pub envelope: Value,
    /// Where it stands.
    pub status: EventStatus,
    /// How often applying it was tried.
    pub attempts: i64,
    /// The last failure.
    pub error: Option<String>,
}

const SAVE: &str = "INSERT INTO terapi_webhooks (id, connection_id, url, events, token_hash, key_id, token, company_id, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (id) DO UPDATE SET connection_id = excluded.connection_id, url = excluded.url,
       events = excluded.events, token_hash = excluded.token_hash, key_id = excluded.key_id,
       token = excluded.token, company_id = excluded.company_id";
const COLUMNS_LIST: &str = "SELECT id, connection_id, url, events, company_id, created_at FROM terapi_webhooks ORDER BY connection_id, id";
/// The webhooks of a token's hash, and whether each one's connection is still stored (a
/// delivery needs both: one query).
const BY_TOKEN: &str = "SELECT w.id, w.connection_id, w.url, w.events, w.company_id, w.created_at, w.key_id, w.token,
       CASE WHEN EXISTS (SELECT 1 FROM terapi_connections c WHERE c.id = w.connection_id) THEN 1 ELSE 0 END
     FROM terapi_webhooks w WHERE w.token_hash = $1";
const REMOVE: &str = "DELETE FROM terapi_webhooks WHERE id = $1 RETURNING id";
const PIN_COMPANY: &str =
    "UPDATE terapi_webhooks SET company_id = $2 WHERE id = $1 AND company_id IS NULL";
const PUT_EVENT: &str = "INSERT INTO terapi_events (connection_id, webhook_id, dedupe, event_name, occurred_at, received_at, key_id, body, status, attempts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0)
     ON CONFLICT (connection_id, dedupe) DO NOTHING RETURNING id";
const CLAIM_PG: &str = "UPDATE terapi_events SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
     WHERE id IN (SELECT id FROM terapi_events WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= $3)
                  ORDER BY occurred_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
     RETURNING id, connection_id, webhook_id, event_name, occurred_at, received_at, key_id, body, status, attempts, error, dedupe";
const CLAIM_SQLITE: &str = "UPDATE terapi_events SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
     WHERE id IN (SELECT id FROM terapi_events WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= $3)
                  ORDER BY occurred_at, id LIMIT $4)
     RETURNING id, connection_id, webhook_id, event_name, occurred_at, received_at, key_id, body, status, attempts, error, dedupe";
const FINISH: &str = "UPDATE terapi_events SET status = $2, error = $3, lease_owner = NULL, lease_until = $4 WHERE id = $1";
const LIST_EVENTS: &str = "SELECT id, connection_id, webhook_id, event_name, occurred_at, received_at, key_id, body, status, attempts, error, dedupe
     FROM terapi_events WHERE connection_id = $1 ORDER BY id LIMIT $2";

fn token_hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

fn webhook(row: Vec<Val>) -> Option<Webhook> {
    let mut it = row.into_iter();
    let id = it.next()?.into_text()?;
    let connection = it.next()?.into_text()?;
    let url = it.next()?.into_text()?;
    let events: Vec<String> =
        serde_json::from_str(&it.next()?.into_text().unwrap_or_default()).unwrap_or_default();
    let company_id = it.next()?.into_text();
    let created_at_ms = it.next()?.as_int().unwrap_or(0);
    Some(Webhook {
        id,
        connection,
        url,
        events,
        company_id,
        created_at_ms,
    })
}

fn event_binding(event: &NewEvent) -> Binding {
    Binding::event(
        &event.connection,
        &event.webhook_id,
        &event.dedupe,
        &event.event_name,
        event.occurred_at_ms,
    )
}

fn event_what(connection: &str, id: i64) -> String {
    format!("event {id} of connection `{connection}`")
}

impl Store {
    /// Saves a subscription with its token (sealed; found later by its SHA-256).
    pub async fn save_webhook(&self, webhook: &Webhook, token: &str) -> Result<(), StoreError> {
        check_id(&webhook.connection)?;
        let bound = Binding::webhook(&webhook.id, &webhook.connection, &token_hash(token));
        let (key_id, sealed) = self.keys.seal(&bound, token.as_bytes())?;
        let events = serde_json::to_string(&webhook.events).map_err(StoreError::database)?;
        self.backend
            .query(
                SAVE,
                vec![
                    Val::text(webhook.id.clone()),
                    Val::text(webhook.connection.clone()),
                    Val::text(webhook.url.clone()),
                    Val::text(events),
                    Val::text(token_hash(token)),
                    Val::text(key_id),
                    Val::bytes(sealed),
                    Val::Text(webhook.company_id.clone()),
                    Val::int(webhook.created_at_ms),
                ],
            )
            .await?;
        Ok(())
    }

    /// The subscriptions (of one connection, or all), by connection and id.
    pub async fn webhooks(&self, connection: Option<&str>) -> Result<Vec<Webhook>, StoreError> {
        let rows = self.backend.query(COLUMNS_LIST, vec![]).await?;
        Ok(rows
            .into_iter()
            .filter_map(webhook)
            .filter(|w| connection.is_none_or(|c| w.connection == c))
            .collect())
    }

    /// Removes a subscription; whether it was there.
    pub async fn remove_webhook(&self, id: &str) -> Result<bool, StoreError> {
        Ok(!self
            .backend
            .query(REMOVE, vec![Val::text(id)])
            .await?
            .is_empty())
    }

    /// The subscription whose token is `presented` (the `Authorization` value of a
    /// delivery), compared in constant time with the sealed token.
    pub async fn webhook_for_token(&self, presented: &str) -> Result<Option<Webhook>, StoreError> {
        Ok(self
            .webhook_for_delivery(presented)
            .await?
            .map(|(webhook, _)| webhook))
    }

    /// [`Store::webhook_for_token`], and whether the webhook's connection is still stored (a
    /// delivery for a removed one is refused), read in one query.
    pub async fn webhook_for_delivery(
        &self,
        presented: &str,
    ) -> Result<Option<(Webhook, bool)>, StoreError> {
        let presented_hash = token_hash(presented);
        let rows = self
            .backend
            .query(BY_TOKEN, vec![Val::text(presented_hash.clone())])
            .await?;
        for row in rows {
            let column = |i: usize| row.get(i).cloned();
            let key_id = column(6).and_then(Val::into_text).unwrap_or_default();
            let sealed = column(7).and_then(Val::into_bytes).unwrap_or_default();
            let connected = column(8).and_then(|v| v.as_int()).is_some_and(|v| v != 0);
            let Some(found) = webhook(row) else { continue };
            let bound = Binding::webhook(&found.id, &found.connection, &presented_hash);
            let token = self.keys.open(&bound, &key_id, &sealed)?;
            if bool::from(token.ct_eq(presented.as_bytes())) {
                return Ok(Some((found, connected)));
            }
        }
        Ok(None)
    }

    /// Records the company a subscription delivers for, if it had none; whether it did.
    pub async fn pin_webhook_company(&self, id: &str, company: &str) -> Result<(), StoreError> {
        self.backend
            .query(PIN_COMPANY, vec![Val::text(id), Val::text(company)])
            .await?;
        Ok(())
    }

    /// Stores events in one transaction (one commit for many deliveries); per event its id,
    /// or `None` when one with the same dedupe key is stored already (a redelivery).
    pub async fn put_events(&self, events: &[NewEvent]) -> Result<Vec<Option<i64>>, StoreError> {
        let mut stmts = Vec::with_capacity(events.len());
        for event in events {
            stmts.push(self.event_insert(event)?);
        }
        let mut tx = self.backend.begin().await?;
        let rows = tx.query_all(stmts).await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|r| r.first().and_then(|r| r.first()).and_then(Val::as_int))
            .collect())
    }

    fn event_insert(&self, event: &NewEvent) -> Result<crate::backend::Stmt, StoreError> {
        check_id(&event.connection)?;
        let body = serde_json::to_vec(&event.envelope).map_err(StoreError::database)?;
        let (key_id, sealed) = self.keys.seal(&event_binding(event), &body)?;
        Ok(crate::backend::Stmt {
            sql: PUT_EVENT,
            params: vec![
                Val::text(event.connection.clone()),
                Val::text(event.webhook_id.clone()),
                Val::text(event.dedupe.clone()),
                Val::text(event.event_name.clone()),
                Val::int(event.occurred_at_ms),
                Val::int(now_ms()),
                Val::text(key_id),
                Val::bytes(sealed),
            ],
        })
    }

    /// Stores an event for applying; `None` when an event with the same dedupe key is
    /// stored already (a redelivery).
    pub async fn put_event(&self, event: &NewEvent) -> Result<Option<i64>, StoreError> {
        check_id(&event.connection)?;
        let body = serde_json::to_vec(&event.envelope).map_err(StoreError::database)?;
        // Bound to the event's dedupe key (the id is not known before the insert).
        let (key_id, sealed) = self.keys.seal(&event_binding(event), &body)?;
        let rows = self
            .backend
            .query(
                PUT_EVENT,
                vec![
                    Val::text(event.connection.clone()),
                    Val::text(event.webhook_id.clone()),
                    Val::text(event.dedupe.clone()),
                    Val::text(event.event_name.clone()),
                    Val::int(event.occurred_at_ms),
                    Val::int(now_ms()),
                    Val::text(key_id),
                    Val::bytes(sealed),
                ],
            )
            .await?;
        Ok(rows.first().and_then(|r| r.first()).and_then(Val::as_int))
    }

    fn event(&self, row: Vec<Val>) -> Result<Option<Event>, StoreError> {
        let mut it = row.into_iter();
        let mut next = || it.next().unwrap_or(Val::Int(None));
        let id = next().as_int().unwrap_or(0);
        let connection = next().into_text().unwrap_or_default();
        let webhook_id = next().into_text().unwrap_or_default();
        let event_name = next().into_text().unwrap_or_default();
        let occurred_at_ms = next().as_int().unwrap_or(0);
        let received_at_ms = next().as_int().unwrap_or(0);
        let key_id = next().into_text().unwrap_or_default();
        let body = next().into_bytes().unwrap_or_default();
        let status = EventStatus::parse(&next().into_text().unwrap_or_default());
        let attempts = next().as_int().unwrap_or(0);
        let error = next().into_text();
        let dedupe = next().into_text().unwrap_or_default();
        let bound = Binding::event(
            &connection,
            &webhook_id,
            &dedupe,
            &event_name,
            occurred_at_ms,
        );
        let plain = self.keys.open(&bound, &key_id, &body)?;
        let envelope = serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt {
            what: event_what(&connection, id),
            message: e.to_string(),
        })?;
        Ok(Some(Event {
            id,
            connection,
            webhook_id,
            event_name,
            occurred_at_ms,
            received_at_ms,
            envelope,
            status,
            attempts,
            error,
        }))
    }

    /// Claims up to `limit` pending events no worker holds, oldest first, for `lease`.
    pub async fn claim_events(
        &self,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Event>, StoreError> {
        let now = now_ms();
        let sql = if self.backend.is_postgres() {
            CLAIM_PG
        } else {
            CLAIM_SQLITE
        };
        let rows = self
            .backend
            .query(
                sql,
                vec![
                    Val::text(format!("{}-events", self.owner)),
                    Val::int(
                        now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)),
                    ),
                    Val::int(now),
                    Val::int(i64::try_from(limit.clamp(1, 1000)).unwrap_or(1000)),
                ],
            )
            .await?;
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            events.extend(self.event(row)?);
        }
        events.sort_by_key(|e| (e.occurred_at_ms, e.id));
        Ok(events)
    }

    /// Ends an event's claim: applied, failed for good, or back to pending (with the error)
    /// for another attempt, not before `retry_after`.
    pub async fn finish_event(
        &self,
        id: i64,
        status: EventStatus,
        error: Option<&str>,
        retry_after: Duration,
    ) -> Result<(), StoreError> {
        let until =
            now_ms().saturating_add(i64::try_from(retry_after.as_millis()).unwrap_or(i64::MAX));
        self.backend
            .query(
                FINISH,
                vec![
                    Val::int(id),
                    Val::text(status.name()),
                    Val::Text(error.map(|e| e.chars().take(2000).collect())),
                    Val::Int((status == EventStatus::Pending).then_some(until)),
                ],
            )
            .await?;
        Ok(())
    }

    /// The events of a connection, in the order received (at most `limit`).
    pub async fn events(&self, connection: &str, limit: usize) -> Result<Vec<Event>, StoreError> {
        let rows = self
            .backend
            .query(
                LIST_EVENTS,
                vec![
                    Val::text(connection),
                    Val::int(i64::try_from(limit.clamp(1, 100_000)).unwrap_or(100_000)),
                ],
            )
            .await?;
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            events.extend(self.event(row)?);
        }
        Ok(events)
    }
}

// ---------------------------------------------------------------------------------------
// What the receiver and the applier need besides the events: deletions dated by their
// event, pruning, and whether a subscription's connection is still there.

/// A record marked deleted as a webhook's fetch saw it gone: `deleted_at` when the provider
/// deleted it, `changed_at` when the store learned it.
const DELETE_OBSERVED: &str =
    "UPDATE terapi_records SET deleted_at = $4, changed_at = $5, seq = $6, observed_at = $7
     WHERE connection_id = $1 AND model = $2 AND record_id = $3 AND deleted_at IS NULL";
/// Applied or given-up events received before $1, at most $2 of them.
const PRUNE_EVENTS: &str = "DELETE FROM terapi_events WHERE id IN (
       SELECT id FROM terapi_events WHERE status IN ('applied', 'failed') AND received_at < $1
       ORDER BY id LIMIT $2)
     RETURNING id";
const CONNECTION_EXISTS: &str = "SELECT 1 FROM terapi_connections WHERE id = $1";

/// Events deleted per statement by [`Store::prune_events`].
const PRUNE_BATCH: i64 = 5_000;

impl Store {
    /// Marks a record deleted because the provider answered 404 for it when it was fetched
    /// at `observed_at`: unless data observed later is stored (then [`Applied::Stale`]).
    /// The deletion is dated `deleted_at` (a `.deleted` event's `occurred_at`, never after
    /// `observed_at`); the change feed lists it at the time it is stored.
    ///
    /// [`Applied::Stale`]: crate::Applied::Stale
    pub async fn apply_deletion(
        &self,
        model: crate::records::Model<'_>,
        id: &str,
        deleted_at: std::time::SystemTime,
        observed_at: std::time::SystemTime,
    ) -> Result<crate::records::Applied, StoreError> {
        use crate::record::to_ms;
        use crate::records::Applied;
        model.check()?;
        let observed = to_ms(observed_at);
        let deleted = to_ms(deleted_at).min(observed);
        let mut tx = self.backend.begin().await?;
        let (seq, _) = crate::records::lock_model(&mut tx, &model).await?;
        let applied = match crate::records::lookup_one(&mut tx, &model, id).await? {
            None => Applied::Absent,
            Some((_, at)) if at > observed => Applied::Stale,
            Some((true, _)) => Applied::Unchanged,
            Some((false, _)) => {
                let seq = seq + 1;
                tx.execute_all(vec![
                    crate::backend::Stmt {
                        sql: DELETE_OBSERVED,
                        params: vec![
                            Val::text(model.connection),
                            Val::text(model.name),
                            Val::text(id),
                            Val::int(deleted),
                            Val::int(now_ms()),
                            Val::int(seq),
                            Val::int(observed),
                        ],
                    },
                    crate::records::set_seq(&model, seq),
                ])
                .await?;
                Applied::Deleted
            }
        };
        tx.commit().await?;
        Ok(applied)
    }

    /// Deletes the events applied or given up that were received before `before`; how many.
    /// Pending events stay, however old. A redelivery of a pruned event is stored again
    /// (and applied again, which fetches the record's current state).
    pub async fn prune_events(&self, before: std::time::SystemTime) -> Result<u64, StoreError> {
        let cutoff = crate::record::to_ms(before);
        let mut pruned = 0u64;
        loop {
            let rows = self
                .backend
                .query(PRUNE_EVENTS, vec![Val::int(cutoff), Val::int(PRUNE_BATCH)])
                .await?;
            pruned += rows.len() as u64;
            if (rows.len() as i64) < PRUNE_BATCH {
                return Ok(pruned);
            }
        }
    }

    /// Whether the store has connection `id` (nothing is decrypted).
    pub async fn has_connection(&self, id: &str) -> Result<bool, StoreError> {
        Ok(!self
            .backend
            .query(CONNECTION_EXISTS, vec![Val::text(id)])
            .await?
            .is_empty())
    }
}
