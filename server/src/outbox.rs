//! Webhooks to the application, through the store's durable outbox.
//!
//! [`Server::emit`] stores an event (its body the exact bytes that will be signed and sent)
//! and wakes the deliverers of this process; a [`Deliverer`] (one per replica) claims due
//! deliveries from the store, posts each to the configured URL and records the outcome:
//!
//! - `POST {url}` with `Content-Type: application/json`, `X-Terapi-Hmac-Sha256` (the hex
//!   HMAC-SHA256 of the exact body under [`OutgoingWebhooks::secret`]) and
//!   `X-Terapi-Delivery-Id` (the same on every attempt: receivers drop repeats by it);
//! - a 2xx answer delivers it; anything else (another status, a redirect, which is never
//!   followed, a timeout, a refused connection) is retried with a doubling, jittered backoff
//!   until [`DeliveryPolicy::retry_for`] has passed since it was created (or retried by hand),
//!   then it is marked failed (`terapi webhooks-out retry` puts it back).
//!
//! Delivery is at least once. A process killed mid-delivery leaves its claim to expire
//! ([`DeliveryPolicy::lease`]), and another deliverer, of any replica, sends it again; on
//! PostgreSQL replicas claim different deliveries (`FOR UPDATE SKIP LOCKED`).
//!
//! The bodies follow the platform's webhooks (camelCase): `type` (`auth` or `sync`),
//! `deliveryId`, `createdAt`, and the event's fields ([`AuthEvent`], [`SyncEvent`]). They
//! carry no secret: no token, no credential.
//!
//! An application's receiver, in any language: compute the HMAC-SHA256 of the raw request
//! body (the bytes as received, before any JSON parsing) under the signing secret, hex-encode
//! it, compare it with `X-Terapi-Hmac-Sha256` in constant time (refuse the request when they
//! differ), answer 2xx once the event is stored, and ignore an `X-Terapi-Delivery-Id` seen
//! before (a retry of a delivery whose answer was lost). [`verify`] does the check in Rust.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use futures_util::FutureExt as _;
use hmac::{KeyInit as _, Mac as _};
use serde::Serialize;
use terapi_runtime::Secret;
use terapi_store::{Claimed, Delivery, OutboxKind, Outcome, Store, StoreError};
use tokio::sync::Notify;

use crate::config::OutgoingWebhooks;
use crate::error::ApiError;
use crate::state::Server;

/// The header with the hex HMAC-SHA256 of the body.
pub const SIGNATURE_HEADER: &str = "X-Terapi-Hmac-Sha256";
/// The header with the delivery's id.
pub const DELIVERY_ID_HEADER: &str = "X-Terapi-Delivery-Id";

/// An event for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutgoingEvent {
    /// A connection was created or overridden, or its refresh failed for good.
    Auth(AuthEvent),
    /// A sync ran.
    Sync(SyncEvent),
}

impl OutgoingEvent {
    /// The outbox kind: `auth` or `sync`.
    pub fn kind(&self) -> OutboxKind {
        match self {
            OutgoingEvent::Auth(_) => OutboxKind::Auth,
            OutgoingEvent::Sync(_) => OutboxKind::Sync,
        }
    }

    /// The body sent for this event as delivery `delivery_id`, created at `created_at`.
    pub fn body(&self, delivery_id: &str, created_at: SystemTime) -> Vec<u8> {
        let created_at = rfc3339(created_at);
        let result = match self {
            OutgoingEvent::Auth(event) => serde_json::to_vec(&Envelope {
                kind: "auth",
                delivery_id,
                created_at: &created_at,
                event,
            }),
            OutgoingEvent::Sync(event) => serde_json::to_vec(&Envelope {
                kind: "sync",
                delivery_id,
                created_at: &created_at,
                event,
            }),
        };
        // Strings, numbers, booleans and maps of strings: serializing cannot fail.
        result.unwrap_or_default()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    delivery_id: &'a str,
    created_at: &'a str,
    #[serde(flatten)]
    event: &'a T,
}

/// What happened to a connection's authorization (`operation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthOperation {
    /// A new connection.
    Creation,
    /// An existing connection authorized again (its credentials replaced).
    Override,
    /// A refresh failed for good: the end user has to authorize again.
    Refresh,
}

/// The end user a connection was made for, as an event names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEndUser {
    /// The application's id of the end user.
    pub end_user_id: String,
    /// Their email, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Their display name, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl From<&terapi_store::EndUser> for EventEndUser {
    fn from(user: &terapi_store::EndUser) -> EventEndUser {
        EventEndUser {
            end_user_id: user.id.clone(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
        }
    }
}

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventError {
    /// A stable code: `refresh_token_invalid`, `sync_failed`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// A sentence (never a secret, never a provider's raw answer).
    pub description: String,
}

/// An `auth` event: `{type: "auth", operation, connectionId, providerConfigKey, provider,
/// authMode, endUser, tags, success, error}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthEvent {
    /// What happened.
    pub operation: AuthOperation,
    /// The connection's id.
    pub connection_id: String,
    /// The integration's key (the provider's key here).
    pub provider_config_key: String,
    /// The provider's catalog key.
    pub provider: String,
    /// The provider's auth mode (`OAUTH2`, `API_KEY`, ...), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_mode: Option<String>,
    /// The end user the connection was made for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_user: Option<EventEndUser>,
    /// The connection's tags.
    pub tags: BTreeMap<String, String>,
    /// Whether the operation succeeded.
    pub success: bool,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<EventError>,
}

/// How a sync ran (`syncType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SyncType {
    /// A full run (the first, or one asked for).
    Initial,
    /// An incremental run.
    Incremental,
    /// Changes applied from a provider's webhook.
    Webhook,
}

/// The changes a sync run made to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ResponseResults {
    /// Records added.
    pub added: u64,
    /// Records updated.
    pub updated: u64,
    /// Records deleted.
    pub deleted: u64,
}

/// A `sync` event: `{type: "sync", connectionId, providerConfigKey, syncName, model,
/// syncType, success, responseResults, modifiedAfter, cursor, error}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncEvent {
    /// The connection's id.
    pub connection_id: String,
    /// The integration's key (the provider's key here).
    pub provider_config_key: String,
    /// The sync's name.
    pub sync_name: String,
    /// The model it writes.
    pub model: String,
    /// How it ran.
    pub sync_type: SyncType,
    /// Whether it completed.
    pub success: bool,
    /// What it changed (also on a failure: what the pages stored before it changed).
    pub response_results: ResponseResults,
    /// RFC 3339: `GET /records?modified_after=` this time lists the run's changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_after: Option<String>,
    /// The records cursor before the run: `GET /records?cursor=` it lists the run's changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<EventError>,
}

/// Wakes every deliverer of this process (each then claims from the store; those of other
/// replicas find new deliveries at their next poll).
static WAKE: Notify = Notify::const_new();

impl Server {
    /// Enqueues `event` in the outbox (durably: it survives a restart once this returns) and
    /// wakes the deliverers. Without [`ServerConfig::webhooks`](crate::ServerConfig::webhooks)
    /// nothing is stored.
    pub async fn emit(&self, event: OutgoingEvent) -> Result<(), ApiError> {
        if self.config().webhooks.is_none() {
            return Ok(());
        }
        emit(self.store(), &event).await?;
        Ok(())
    }

    /// The deliverer of this server's outbox, when webhooks are configured: run it with
    /// [`Deliverer::run`].
    pub fn deliverer(&self) -> Option<Deliverer> {
        let webhooks = self.config().webhooks.as_ref()?;
        Some(Deliverer::new(self.store().clone(), webhooks))
    }
}

/// Enqueues `event` in `store`'s outbox and wakes this process's deliverers; the delivery.
pub async fn emit(store: &Store, event: &OutgoingEvent) -> Result<Delivery, StoreError> {
    let delivery = store
        .enqueue_delivery(event.kind(), |id, at| event.body(id, at))
        .await?;
    WAKE.notify_waiters();
    Ok(delivery)
}

/// The hex HMAC-SHA256 of `body` under `secret`: the `X-Terapi-Hmac-Sha256` value.
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `presented` (a hex signature) is the signature of `body` under `secret`,
/// compared in constant time: what a receiver checks.
pub fn verify(secret: &Secret, body: &[u8], presented: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    let expected = signature(secret, body);
    !expected.is_empty()
        && bool::from(
            expected
                .as_bytes()
                .ct_eq(presented.trim().to_ascii_lowercase().as_bytes()),
        )
}

/// How deliveries are attempted and retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryPolicy {
    /// The delay before the first retry (30 s); each next one doubles, with jitter.
    pub first_retry: Duration,
    /// The longest delay between attempts (1 h).
    pub max_backoff: Duration,
    /// How long a delivery is retried since it was created or retried by hand (from
    /// [`OutgoingWebhooks::retry_for`], at least 24 h outside tests).
    pub retry_for: Duration,
    /// The time an attempt may take, connection to answer (10 s).
    pub timeout: Duration,
    /// How long a claim lasts (60 s; longer than `timeout`): a killed process's deliveries
    /// go to another deliverer after it.
    pub lease: Duration,
    /// How often a deliverer looks for due deliveries when nobody woke it (5 s): how soon
    /// one replica sends what another enqueued, and retries come due.
    pub poll: Duration,
    /// Deliveries claimed and sent at once (16).
    pub batch: usize,
    /// The most of a receiver's answer read (4 KiB); the rest is dropped.
    pub max_response: usize,
    /// How long delivered deliveries are kept before they are pruned (7 days).
    pub retention: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            first_retry: Duration::from_secs(30),
            max_backoff: Duration::from_secs(60 * 60),
            retry_for: DEFAULT_RETRY_FOR,
            timeout: Duration::from_secs(10),
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(5),
            batch: 16,
            max_response: 4096,
            retention: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

/// How long deliveries are retried by default: 25 hours.
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(25 * 60 * 60);
/// The shortest retry window [`Deliverer::new`] accepts from a configuration: 24 hours.
pub const MIN_RETRY_FOR: Duration = Duration::from_secs(24 * 60 * 60);

impl DeliveryPolicy {
    /// The defaults with the backoff `first_retry` doubling up to `max_backoff`, retried
    /// for `retry_for` (any length: for tests and tuning).
    pub fn with_backoff(
        mut self,
        first_retry: Duration,
        max_backoff: Duration,
        retry_for: Duration,
    ) -> Self {
        self.first_retry = first_retry;
        self.max_backoff = max_backoff.max(first_retry);
        self.retry_for = retry_for;
        self
    }

    /// With an attempt's `timeout` and the claims' `lease`.
    pub fn with_timeouts(mut self, timeout: Duration, lease: Duration) -> Self {
        self.timeout = timeout;
        self.lease = lease;
        self
    }

    /// With the idle `poll` interval.
    pub fn with_poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// The delay after the `attempts`-th failed attempt: `first_retry` doubled per attempt,
    /// at most `max_backoff`, then a random half to all of it.
    pub fn backoff(&self, attempts: i64) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let full = self
            .first_retry
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff);
        let mut r = [0u8; 4];
        let fraction = match getrandom::fill(&mut r) {
            Ok(()) => f64::from(u32::from_le_bytes(r)) / f64::from(u32::MAX),
            Err(_) => 1.0,
        };
        full.mul_f64(0.5 + fraction / 2.0)
    }

    /// The outcome of a failed attempt at `now`: a retry before the delivery's window ends
    /// (the last one at its end), else failed.
    pub fn after_failure(&self, delivery: &Delivery, now: SystemTime, error: String) -> Outcome {
        let deadline = delivery
            .window_start()
            .checked_add(self.retry_for)
            .unwrap_or(now);
        if now >= deadline {
            return Outcome::Failed { error };
        }
        let at = now
            .checked_add(self.backoff(delivery.attempts))
            .unwrap_or(deadline)
            .min(deadline);
        Outcome::Retry { at, error }
    }
}

/// What a deliverer did, since it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct DelivererStats {
    /// Attempts made.
    pub attempts: u64,
    /// Deliveries the receiver took.
    pub delivered: u64,
    /// Attempts that failed and will be retried.
    pub retried: u64,
    /// Deliveries given up.
    pub failed: u64,
}

#[derive(Default)]
struct Counters {
    attempts: AtomicU64,
    delivered: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
}

/// Sends the outbox's deliveries: claims due ones from the store, posts them, records the
/// outcome. Cheap to clone (clones share the client and the counters).
#[derive(Clone)]
pub struct Deliverer {
    store: Store,
    url: url::Url,
    secret: Secret,
    policy: DeliveryPolicy,
    client: Option<reqwest::Client>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field("url", &self.url.as_str())
            .field("secret", &"***")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Deliverer {
    /// A deliverer of `store`'s outbox to `webhooks` (its retry window at least
    /// [`MIN_RETRY_FOR`]).
    pub fn new(store: Store, webhooks: &OutgoingWebhooks) -> Deliverer {
        let policy = DeliveryPolicy {
            retry_for: webhooks.retry_for.max(MIN_RETRY_FOR),
            ..DeliveryPolicy::default()
        };
        Deliverer {
            store,
            url: webhooks.url.clone(),
            secret: webhooks.secret.clone(),
            client: client(&policy),
            policy,
            counters: Arc::default(),
        }
    }

    /// With `policy` instead (any retry window).
    pub fn with_policy(mut self, policy: DeliveryPolicy) -> Deliverer {
        self.client = client(&policy);
        self.policy = policy;
        self
    }

    /// The policy in force.
    pub fn policy(&self) -> &DeliveryPolicy {
        &self.policy
    }

    /// What this deliverer (and its clones) did.
    pub fn stats(&self) -> DelivererStats {
        let c = &self.counters;
        DelivererStats {
            attempts: c.attempts.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }

    /// Claims one batch of due deliveries, sends them together and records each outcome;
    /// how many it attempted (0: nothing was due).
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let claimed = self
            .store
            .claim_deliveries(self.policy.batch, self.policy.lease)
            .await?;
        let n = claimed.len();
        let attempts = claimed.iter().map(|c| self.attempt(c));
        let mut first_error = None;
        for result in futures_util::future::join_all(attempts).await {
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(n),
        }
    }

    async fn attempt(&self, claimed: &Claimed) -> Result<(), StoreError> {
        let delivery = &claimed.delivery;
        self.counters.attempts.fetch_add(1, Ordering::Relaxed);
        let outcome = match self.post(delivery).await {
            Ok(()) => Outcome::Delivered,
            Err(error) => self
                .policy
                .after_failure(delivery, SystemTime::now(), error),
        };
        let counter = match &outcome {
            Outcome::Delivered => &self.counters.delivered,
            Outcome::Retry { .. } => &self.counters.retried,
            Outcome::Failed { .. } => &self.counters.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        match &outcome {
            Outcome::Delivered => tracing::debug!(
                delivery_id = %delivery.delivery_id,
                attempts = delivery.attempts,
                "webhook delivered"
            ),
            Outcome::Retry { error, .. } => tracing::info!(
                delivery_id = %delivery.delivery_id,
                attempts = delivery.attempts,
                %error,
                "webhook not delivered; retried later"
            ),
            Outcome::Failed { error } => tracing::warn!(
                delivery_id = %delivery.delivery_id,
                attempts = delivery.attempts,
                %error,
                "webhook not delivered; given up"
            ),
        }
        self.store.finish_delivery(claimed, &outcome).await?;
        Ok(())
    }

    /// One attempt: `Ok` on a 2xx, else why (a status or a transport error's kind; never
    /// the URL, which may hold a secret, nor the answer's body).
    async fn post(&self, delivery: &Delivery) -> Result<(), String> {
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| "the HTTP client could not be built".to_owned())?;
        let request = client
            .post(self.url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature(&self.secret, &delivery.body))
            .header(DELIVERY_ID_HEADER, &delivery.delivery_id)
            .body(delivery.body.clone())
            .send();
        let exchange = async {
            let mut response = request.await.map_err(transport)?;
            let status = response.status();
            // Read a little of the answer (so the connection can be reused), no more.
            let mut read = 0usize;
            while read < self.policy.max_response {
                match response.chunk().await {
                    Ok(Some(chunk)) => read += chunk.len(),
                    Ok(None) | Err(_) => break,
                }
            }
            if status.is_success() {
                Ok(())
            } else if status.is_redirection() {
                Err(format!(
                    "HTTP {} (redirects are not followed)",
                    status.as_u16()
                ))
            } else {
                Err(format!("HTTP {}", status.as_u16()))
            }
        };
        match tokio::time::timeout(self.policy.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "no answer within {} ms",
                self.policy.timeout.as_millis()
            )),
        }
    }

    /// Delivers until `shutdown` completes: a batch at a time while deliveries are due,
    /// then waits for a wake-up ([`Server::emit`] in this process) or the poll interval.
    /// Prunes delivered deliveries older than the retention once an hour. A batch under way
    /// when `shutdown` completes is finished first (at most the attempt timeout); store
    /// errors are logged and retried at the next poll.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut next_prune = tokio::time::Instant::now();
        loop {
            if (&mut shutdown).now_or_never().is_some() {
                return;
            }
            let notified = WAKE.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the claim: a wake-up while it runs is not lost.
            notified.as_mut().enable();
            if tokio::time::Instant::now() >= next_prune {
                next_prune += Duration::from_secs(60 * 60);
                let before = SystemTime::now()
                    .checked_sub(self.policy.retention)
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                if let Err(e) = self.store.prune_deliveries(before).await {
                    tracing::warn!(error = %e, "pruning the outbox failed");
                }
            }
            match self.run_once().await {
                // Maybe more are due.
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "the outbox deliverer failed; trying again"),
            }
            tokio::select! {
                biased;
                () = &mut shutdown => return,
                () = &mut notified => {}
                () = tokio::time::sleep(self.policy.poll) => {}
            }
        }
    }
}

fn client(policy: &DeliveryPolicy) -> Option<reqwest::Client> {
    terapi_runtime::client::install_tls_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // The whole attempt is bounded by `policy.timeout` around it.
        .connect_timeout(policy.timeout)
        .user_agent(concat!("terapi-server/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| tracing::error!(error = %e.without_url(), "cannot build the webhook client"))
        .ok()
}

/// A transport error's kind, without its URL.
fn transport(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else if e.is_request() {
        "the request failed".to_owned()
    } else {
        "transport error".to_owned()
    }
}

/// `at` as RFC 3339 in UTC, with milliseconds.
fn rfc3339(at: SystemTime) -> String {
    let nanos = at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| {
        i128::try_from(d.as_millis()).unwrap_or(0) * 1_000_000
    });
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(attempts: i64, created_ago: Duration, retried_ago: Option<Duration>) -> Delivery {
        let now = SystemTime::now();
        Delivery {
            seq: 1,
            delivery_id: "dlv_1".to_owned(),
            kind: OutboxKind::Auth,
            body: b"{}".to_vec(),
            status: terapi_store::DeliveryStatus::Pending,
            attempts,
            next_attempt_at: now,
            created_at: now - created_ago,
            retried_at: retried_ago.map(|ago| now - ago),
            delivered_at: None,
            last_error: None,
            leased_until: None,
        }
    }

    #[test]
    fn the_backoff_doubles_with_jitter_up_to_its_cap() {
        let policy = DeliveryPolicy::default();
        for (attempts, full) in [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (60, 3600)] {
            for _ in 0..50 {
                let delay = policy.backoff(attempts);
                let full = Duration::from_secs(full);
                assert!(delay <= full && delay >= full / 2, "{attempts}: {delay:?}");
            }
        }
        assert!(policy.backoff(0) <= Duration::from_secs(30));
        assert!(policy.backoff(i64::MIN) <= Duration::from_secs(30));
        assert!(policy.backoff(i64::MAX) <= Duration::from_secs(3600));
        let spread: std::collections::BTreeSet<_> = (0..20).map(|_| policy.backoff(5)).collect();
        assert!(spread.len() > 1, "jittered");
    }

    #[test]
    fn retries_last_the_window_then_fail() {
        let policy = DeliveryPolicy::default();
        let now = SystemTime::now();
        let day = Duration::from_secs(24 * 3600);
        // Young: retried within the backoff.
        let Outcome::Retry { at, error } =
            policy.after_failure(&delivery(1, Duration::ZERO, None), now, "HTTP 500".into())
        else {
            panic!("retried");
        };
        assert_eq!(error, "HTTP 500");
        assert!(at > now && at <= now + Duration::from_secs(30));
        // Near the end of the 25 hours: the last attempt at the end, not after.
        let old = delivery(
            30,
            day + Duration::from_secs(3600) - Duration::from_secs(60),
            None,
        );
        let Outcome::Retry { at, .. } = policy.after_failure(&old, now, "x".into()) else {
            panic!("a last retry");
        };
        assert!(at <= old.created_at + DEFAULT_RETRY_FOR);
        // Past it: failed.
        let older = delivery(31, day + Duration::from_secs(3601), None);
        assert!(matches!(
            policy.after_failure(&older, now, "x".into()),
            Outcome::Failed { .. }
        ));
        // Retried by hand an hour ago: a new window.
        let retried = delivery(1, 3 * day, Some(Duration::from_secs(3600)));
        assert!(matches!(
            policy.after_failure(&retried, now, "x".into()),
            Outcome::Retry { .. }
        ));
    }

    #[test]
    fn a_configured_window_is_at_least_a_day() {
        let hooks = OutgoingWebhooks {
            url: "http://127.0.0.1:1/hooks".parse().unwrap(),
            secret: Secret::new("s"),
            retry_for: Duration::from_secs(60),
        };
        let store = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(Store::memory(terapi_store::Keys::none()))
            .unwrap();
        let deliverer = Deliverer::new(store, &hooks);
        assert_eq!(deliverer.policy().retry_for, MIN_RETRY_FOR);
        assert!(!format!("{deliverer:?}").contains("\"s\""));
    }

    #[test]
    fn signatures() {
        let secret = Secret::new("key");
        // RFC 4231-style check against a known value: HMAC-SHA256("key", "The quick brown fox
        // jumps over the lazy dog").
        let body = b"The quick brown fox jumps over the lazy dog";
        let sig = signature(&secret, body);
        assert_eq!(
            sig,
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        assert!(verify(&secret, body, &sig));
        assert!(verify(&secret, body, &sig.to_uppercase()));
        assert!(!verify(&secret, b"another body", &sig));
        assert!(!verify(&Secret::new("other"), body, &sig));
        assert!(!verify(&secret, body, ""));
    }
}
