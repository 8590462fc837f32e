//! The outbox of webhooks to the application: each event a row, stored before anything is
//! sent, its body the exact bytes that are signed and posted (events carry no secret, so the
//! body is kept as it is sent: listable, and the same bytes on every attempt).
//!
//! A deliverer claims due rows for a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
//! replicas claim different rows), posts them and finishes each: delivered, to be retried at
//! a time (with the error), or failed for good. A process killed mid-delivery leaves its
//! claim to expire; another deliverer (of any replica) then claims the row again. A claim is
//! fenced by its owner and attempt number: a deliverer whose lease was taken over cannot
//! move the row back to pending or fail it (a success is always recorded).
//!
//! Delivery is at least once: the same `delivery_id` on every attempt lets the receiver
//! drop repeats.

use std::time::{Duration, SystemTime};

use crate::backend::Val;
use crate::error::StoreError;
use crate::record::{from_ms, now_ms, to_ms};
use crate::store::Store;

/// What an outgoing event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxKind {
    /// A connection was created or overridden, or its grant died.
    Auth,
    /// A sync ran (or failed).
    Sync,
}

impl OutboxKind {
    /// `auth` or `sync`.
    pub const fn name(self) -> &'static str {
        match self {
            OutboxKind::Auth => "auth",
            OutboxKind::Sync => "sync",
        }
    }

    fn parse(s: &str) -> Option<OutboxKind> {
        match s {
            "auth" => Some(OutboxKind::Auth),
            "sync" => Some(OutboxKind::Sync),
            _ => None,
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not delivered yet: due at `next_attempt_at` (or being delivered under a lease).
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up: retried for the whole retry window without a 2xx.
    Failed,
}

impl DeliveryStatus {
    /// Every status, in order.
    pub const ALL: [DeliveryStatus; 3] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
    ];

    /// `pending`, `delivered` or `failed`.
    pub const fn name(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// The status named `s`, if any.
    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|d| d.name() == s)
    }
}

impl std::fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A delivery of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The store's sequence number of it (listing order, the cursor of [`OutboxQuery`]).
    pub seq: i64,
    /// The delivery's id, the same on every attempt (`X-Terapi-Delivery-Id`).
    pub delivery_id: String,
    /// What it is about.
    pub kind: OutboxKind,
    /// The exact bytes signed and sent.
    pub body: Vec<u8>,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts claimed since it was created or last retried by hand.
    pub attempts: i64,
    /// When it is due (pending ones).
    pub next_attempt_at: SystemTime,
    /// When it was enqueued.
    pub created_at: SystemTime,
    /// When it was last put back by hand ([`Store::retry_delivery`]): its retry window
    /// starts again then.
    pub retried_at: Option<SystemTime>,
    /// When the receiver took it.
    pub delivered_at: Option<SystemTime>,
    /// Why the last attempt failed (a status or a transport error; never a secret).
    pub last_error: Option<String>,
    /// Until when a deliverer holds it, if one does.
    pub leased_until: Option<SystemTime>,
}

impl Delivery {
    /// When its retry window started: when it was created, or last retried by hand.
    pub fn window_start(&self) -> SystemTime {
        self.retried_at
            .map_or(self.created_at, |r| r.max(self.created_at))
    }
}

/// A delivery claimed by a deliverer: finish it with [`Store::finish_delivery`].
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery as claimed (its `attempts` counts this one).
    pub delivery: Delivery,
    /// The claim's fencing token: the lease owner.
    owner: String,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Not taken; due again at `at`.
    Retry {
        /// When it is due again.
        at: SystemTime,
        /// Why (no secret: a status, a transport error's kind).
        error: String,
    },
    /// Not taken, and given up.
    Failed {
        /// Why.
        error: String,
    },
}

/// Which deliveries [`Store::deliveries`] lists: newest first, paged by `before`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxQuery {
    /// Only those of this status.
    pub status: Option<DeliveryStatus>,
    /// Only those whose `seq` is below this (the last one of the previous page).
    pub before: Option<i64>,
    /// At most this many (1 to 1000).
    pub limit: usize,
}

impl Default for OutboxQuery {
    fn default() -> Self {
        OutboxQuery {
            status: None,
            before: None,
            limit: 100,
        }
    }
}

/// How many deliveries the outbox holds, per status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct OutboxCounts {
    /// Not delivered yet (the outbox's depth).
    pub pending: u64,
    /// Delivered (until pruned).
    pub delivered: u64,
    /// Given up.
    pub failed: u64,
}

/// What a manual retry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retried {
    /// Due now, its retry window started again.
    Queued,
    /// No delivery has this id.
    NotFound,
    /// Delivered already: nothing to do.
    Delivered,
    /// A deliverer is sending it right now.
    InFlight,
}

/// The longest `last_error` kept, in characters.
pub const MAX_DELIVERY_ERROR: usize = 500;

macro_rules! outbox_columns {
    () => {
        "id, delivery_id, kind, body, status, attempts, next_attempt_at, created_at, retried_at, delivered_at, last_error, lease_until"
    };
}

const ENQUEUE: &str = concat!(
    "INSERT INTO terapi_outbox (delivery_id, kind, body, status, attempts, next_attempt_at, created_at)
     VALUES ($1, $2, $3, 'pending', 0, $4, $4) RETURNING ",
    outbox_columns!()
);
/// Due ($3) pending rows nobody holds, oldest due first, for $1 until $2, at most $4.
const CLAIM_PG: &str = concat!(
    "UPDATE terapi_outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
     WHERE id IN (SELECT id FROM terapi_outbox
                  WHERE status = 'pending' AND next_attempt_at <= $3
                    AND (lease_until IS NULL OR lease_until <= $3)
                  ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
     RETURNING ",
    outbox_columns!()
);
/// SQLite has one writer: the statement is atomic without row locks.
const CLAIM_SQLITE: &str = concat!(
    "UPDATE terapi_outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
     WHERE id IN (SELECT id FROM terapi_outbox
                  WHERE status = 'pending' AND next_attempt_at <= $3
                    AND (lease_until IS NULL OR lease_until <= $3)
                  ORDER BY next_attempt_at, id LIMIT $4)
     RETURNING ",
    outbox_columns!()
);
/// A success is recorded whoever holds the row (the receiver has it).
const FINISH_DELIVERED: &str = "UPDATE terapi_outbox SET status = 'delivered', delivered_at = $2,
       last_error = NULL, lease_owner = NULL, lease_until = NULL
     WHERE id = $1 AND status <> 'delivered' RETURNING id";
/// Back to pending at $4, only by the claim that holds the row ($2, $3).
const FINISH_RETRY: &str = "UPDATE terapi_outbox SET next_attempt_at = $4, last_error = $5,
       lease_owner = NULL, lease_until = NULL
     WHERE id = $1 AND lease_owner = $2 AND attempts = $3 AND status = 'pending' RETURNING id";
const FINISH_FAILED: &str = "UPDATE terapi_outbox SET status = 'failed', last_error = $4,
       lease_owner = NULL, lease_until = NULL
     WHERE id = $1 AND lease_owner = $2 AND attempts = $3 AND status = 'pending' RETURNING id";
const LIST_ALL: &str = concat!(
    "SELECT ",
    outbox_columns!(),
    " FROM terapi_outbox WHERE id < $1 ORDER BY id DESC LIMIT $2"
);
const LIST_STATUS: &str = concat!(
    "SELECT ",
    outbox_columns!(),
    " FROM terapi_outbox WHERE status = $3 AND id < $1 ORDER BY id DESC LIMIT $2"
);
const GET: &str = concat!(
    "SELECT ",
    outbox_columns!(),
    " FROM terapi_outbox WHERE delivery_id = $1"
);
/// A failed or idle pending delivery, due now ($2) with a new window.
const RETRY: &str =
    "UPDATE terapi_outbox SET status = 'pending', next_attempt_at = $2, retried_at = $2,
       attempts = 0, lease_owner = NULL, lease_until = NULL
     WHERE delivery_id = $1 AND (status = 'failed'
       OR (status = 'pending' AND (lease_until IS NULL OR lease_until <= $2)))
     RETURNING id";
const RETRY_FAILED: &str =
    "UPDATE terapi_outbox SET status = 'pending', next_attempt_at = $1, retried_at = $1,
       attempts = 0, lease_owner = NULL, lease_until = NULL
     WHERE status = 'failed' RETURNING id";
const COUNTS: &str = "SELECT status, COUNT(*) FROM terapi_outbox GROUP BY status";
const DEPTH: &str = "SELECT COUNT(*) FROM terapi_outbox WHERE status = 'pending'";
/// Delivered before $1, at most $2 of them.
const PRUNE: &str = "DELETE FROM terapi_outbox WHERE id IN (
       SELECT id FROM terapi_outbox WHERE status = 'delivered' AND delivered_at < $1
       ORDER BY id LIMIT $2)
     RETURNING id";

/// Deliveries deleted per statement by [`Store::prune_deliveries`].
const PRUNE_BATCH: i64 = 5_000;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn delivery(row: Vec<Val>) -> Result<Delivery, StoreError> {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Val::Int(None));
    let seq = next().as_int().unwrap_or(0);
    let delivery_id = next().into_text().unwrap_or_default();
    let kind_name = next().into_text().unwrap_or_default();
    let corrupt = |message: String| StoreError::Corrupt {
        what: format!("outbox delivery {seq}"),
        message,
    };
    let kind = OutboxKind::parse(&kind_name)
        .ok_or_else(|| corrupt(format!("unknown kind `{}`", kind_name.escape_default())))?;
    let body = next().into_bytes().unwrap_or_default();
    let status_name = next().into_text().unwrap_or_default();
    let status = DeliveryStatus::parse(&status_name)
        .ok_or_else(|| corrupt(format!("unknown status `{}`", status_name.escape_default())))?;
    let attempts = next().as_int().unwrap_or(0);
    let next_attempt_at = from_ms(next().as_int().unwrap_or(0));
    let created_at = from_ms(next().as_int().unwrap_or(0));
    let retried_at = next().as_int().map(from_ms);
    let delivered_at = next().as_int().map(from_ms);
    let last_error = next().into_text();
    let leased_until = next().as_int().map(from_ms);
    Ok(Delivery {
        seq,
        delivery_id,
        kind,
        body,
        status,
        attempts,
        next_attempt_at,
        created_at,
        retried_at,
        delivered_at,
        last_error,
        leased_until,
    })
}

/// `error` cut to [`MAX_DELIVERY_ERROR`] characters, without control characters.
fn bounded(error: &str) -> String {
    error
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_DELIVERY_ERROR)
        .collect()
}

/// A new delivery id: `dlv_` and 32 random hex digits.
fn new_delivery_id() -> Result<String, StoreError> {
    let mut id = [0u8; 16];
    crate::keys::fill_random(&mut id)?;
    Ok(format!("dlv_{}", hex::encode(id)))
}

/// The statement that enqueues `body` (given the new delivery's id and creation time) as
/// an event of `kind`, for a transaction of another operation that must not happen without
/// its event (or the event without it).
pub(crate) fn enqueue_statement(
    kind: OutboxKind,
    body: impl FnOnce(&str, SystemTime) -> Vec<u8>,
) -> Result<crate::backend::Stmt, StoreError> {
    let delivery_id = new_delivery_id()?;
    let now = now_ms();
    let bytes = body(&delivery_id, from_ms(now));
    Ok(crate::backend::Stmt {
        sql: ENQUEUE,
        params: vec![
            Val::text(delivery_id),
            Val::text(kind.name()),
            Val::bytes(bytes),
            Val::int(now),
        ],
    })
}

impl Store {
    /// Enqueues an event of `kind`, due now: `body` is given the new delivery's id and
    /// creation time and returns the exact bytes to sign and send (which must hold no
    /// secret: they are stored as they are). Durable when this returns.
    pub async fn enqueue_delivery(
        &self,
        kind: OutboxKind,
        body: impl FnOnce(&str, SystemTime) -> Vec<u8>,
    ) -> Result<Delivery, StoreError> {
        let delivery_id = new_delivery_id()?;
        let now = now_ms();
        let bytes = body(&delivery_id, from_ms(now));
        let mut tx = self.backend.begin().await?;
        let rows = tx
            .query(
                ENQUEUE,
                vec![
                    Val::text(delivery_id),
                    Val::text(kind.name()),
                    Val::bytes(bytes),
                    Val::int(now),
                ],
            )
            .await?;
        tx.commit().await?;
        let row = rows
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Database {
                message: "the outbox insert returned no row".to_owned(),
            })?;
        delivery(row)
    }

    /// Claims up to `limit` due pending deliveries no deliverer holds, for `lease` (longer
    /// than an attempt takes), oldest due first. Each counts as an attempt.
    pub async fn claim_deliveries(
        &self,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>, StoreError> {
        let now = now_ms();
        let owner = format!("{}-outbox", self.owner);
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
                    Val::text(owner.clone()),
                    Val::int(now.saturating_add(ms(lease.max(Duration::from_millis(100))))),
                    Val::int(now),
                    Val::int(i64::try_from(limit.clamp(1, 1000)).unwrap_or(1000)),
                ],
            )
            .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            claimed.push(Claimed {
                delivery: delivery(row)?,
                owner: owner.clone(),
            });
        }
        claimed.sort_by_key(|c| (c.delivery.next_attempt_at, c.delivery.seq));
        Ok(claimed)
    }

    /// Ends a claim. A success is always recorded; a retry or a failure only while the
    /// claim still holds the row (not after its lease expired and another deliverer took
    /// it, nor after [`Store::release_leases`]). Whether the row changed.
    pub async fn finish_delivery(
        &self,
        claimed: &Claimed,
        outcome: &Outcome,
    ) -> Result<bool, StoreError> {
        let d = &claimed.delivery;
        let fence = || {
            vec![
                Val::int(d.seq),
                Val::text(claimed.owner.clone()),
                Val::int(d.attempts),
            ]
        };
        let (sql, params) = match outcome {
            Outcome::Delivered => (FINISH_DELIVERED, vec![Val::int(d.seq), Val::int(now_ms())]),
            Outcome::Retry { at, error } => {
                let mut params = fence();
                params.push(Val::int(to_ms(*at)));
                params.push(Val::text(bounded(error)));
                (FINISH_RETRY, params)
            }
            Outcome::Failed { error } => {
                let mut params = fence();
                params.push(Val::text(bounded(error)));
                (FINISH_FAILED, params)
            }
        };
        let rows = if self.backend.is_postgres() {
            // Concurrent statements (a transaction would hold the one session for them).
            self.backend.query(sql, params).await?
        } else {
            // On SQLite, a commit without its fsync, which a power cut may lose: what is lost
            // is a mark, and the delivery is sent again (at least once, as after a crash) or
            // retried sooner.
            let mut tx = self.backend.begin_relaxed().await?;
            let rows = tx.query(sql, params).await?;
            tx.commit().await?;
            rows
        };
        Ok(!rows.is_empty())
    }

    /// The deliveries of `query`, newest first.
    pub async fn deliveries(&self, query: &OutboxQuery) -> Result<Vec<Delivery>, StoreError> {
        let mut params = vec![
            Val::int(query.before.unwrap_or(i64::MAX)),
            Val::int(i64::try_from(query.limit.clamp(1, 1000)).unwrap_or(1000)),
        ];
        let sql = match query.status {
            Some(status) => {
                params.push(Val::text(status.name()));
                LIST_STATUS
            }
            None => LIST_ALL,
        };
        let rows = self.backend.query(sql, params).await?;
        rows.into_iter().map(delivery).collect()
    }

    /// The delivery `delivery_id`, if any.
    pub async fn delivery(&self, delivery_id: &str) -> Result<Option<Delivery>, StoreError> {
        let rows = self
            .backend
            .query(GET, vec![Val::text(delivery_id)])
            .await?;
        rows.into_iter().next().map(delivery).transpose()
    }

    /// Puts a failed (or pending, not in flight) delivery back, due now, with its retry
    /// window starting again and the same delivery id.
    pub async fn retry_delivery(&self, delivery_id: &str) -> Result<Retried, StoreError> {
        let rows = self
            .backend
            .query(RETRY, vec![Val::text(delivery_id), Val::int(now_ms())])
            .await?;
        if !rows.is_empty() {
            return Ok(Retried::Queued);
        }
        Ok(match self.delivery(delivery_id).await? {
            None => Retried::NotFound,
            Some(d) if d.status == DeliveryStatus::Delivered => Retried::Delivered,
            Some(_) => Retried::InFlight,
        })
    }

    /// Puts every failed delivery back, due now; how many.
    pub async fn retry_failed_deliveries(&self) -> Result<u64, StoreError> {
        let rows = self
            .backend
            .query(RETRY_FAILED, vec![Val::int(now_ms())])
            .await?;
        Ok(rows.len() as u64)
    }

    /// How many deliveries the outbox holds, per status.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let rows = self.backend.query(COUNTS, vec![]).await?;
        let mut counts = OutboxCounts::default();
        for row in rows {
            let mut it = row.into_iter();
            let status = it.next().and_then(Val::into_text).unwrap_or_default();
            let n = it
                .next()
                .and_then(|v| v.as_int())
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0);
            match DeliveryStatus::parse(&status) {
                Some(DeliveryStatus::Pending) => counts.pending = n,
                Some(DeliveryStatus::Delivered) => counts.delivered = n,
                Some(DeliveryStatus::Failed) => counts.failed = n,
                None => {}
            }
        }
        Ok(counts)
    }

    /// The outbox's depth: how many deliveries are pending.
    pub async fn outbox_depth(&self) -> Result<u64, StoreError> {
        let rows = self.backend.query(DEPTH, vec![]).await?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .and_then(Val::as_int)
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0))
    }

    /// Deletes deliveries delivered before `before`; how many. Pending and failed ones stay.
    pub async fn prune_deliveries(&self, before: SystemTime) -> Result<u64, StoreError> {
        let cutoff = to_ms(before);
        let mut pruned = 0u64;
        loop {
            let rows = self
                .backend
                .query(PRUNE, vec![Val::int(cutoff), Val::int(PRUNE_BATCH)])
                .await?;
            pruned += rows.len() as u64;
            if (rows.len() as i64) < PRUNE_BATCH {
                return Ok(pruned);
            }
        }
    }
}
