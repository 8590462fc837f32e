//! The applier: claims stored events, oldest first, and brings the records they name up to
//! date by fetching them, within the connection's request budget (shared with its syncs).
//! Only a fetch answered 404 marks a record deleted, even for a `.deleted` event (an old or
//! forged one cannot delete a record the provider still has); the deletion is dated by the
//! event's `occurred_at`. A failure leaves the event pending for another attempt, with a
//! growing delay, until `max_attempts`; an event of a connection the store no longer has is
//! given up at once. Events applied or given up are pruned after `retention`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use terapi_runtime::client::RateHints;
use terapi_store::{Applied, Event, EventStatus, Model, Store, StoreError};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::envelope::Envelope;
use super::routes::{Route, personio_routes};
use crate::budget::Budgets;
use crate::engine::encode;
use crate::error::SyncError;
use crate::worker::ConnectionSource;

/// What one pass applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Events applied (records changed or confirmed).
    pub applied: u64,
    /// Of those, the records they changed (added, updated, deleted).
    pub changed: u64,
    /// Events that failed this time (tried again later).
    pub retried: u64,
    /// Events given up.
    pub failed: u64,
}

fn from_ms(ms: i64) -> SystemTime {
    match u64::try_from(ms) {
        Ok(ms) => UNIX_EPOCH + Duration::from_millis(ms),
        Err(_) => UNIX_EPOCH,
    }
}

/// Applies stored events.
pub struct Applier {
    store: Store,
    connections: Arc<dyn ConnectionSource>,
    routes: Vec<Route>,
    notify: Arc<Notify>,
    budgets: Budgets,
    last_prune: Mutex<Option<Instant>>,
    /// Attempts before an event is given up.
    pub max_attempts: i64,
    /// The first retry delay (doubled per attempt, at most 10 minutes).
    pub retry_delay: Duration,
    /// How long events applied or given up are kept (7 days by default: longer than
    /// Personio's redeliveries, so a redelivery is still recognized).
    pub retention: Duration,
    /// How often pruning runs (at most once per this, during a pass).
    pub prune_every: Duration,
}

impl std::fmt::Debug for Applier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier")
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

const LEASE: Duration = Duration::from_secs(60);
/// Events claimed at once: few enough to be applied within the lease at a modest budget.
const CLAIM: usize = 20;

impl Applier {
    /// An applier for `store`'s events, fetching through `connections`, woken by `notify`
    /// (the receiver's).
    pub fn new(store: Store, connections: Arc<dyn ConnectionSource>, notify: Arc<Notify>) -> Self {
        Applier {
            store,
            connections,
            routes: personio_routes(),
            notify,
            budgets: Budgets::new(),
            last_prune: Mutex::new(None),
            max_attempts: 10,
            retry_delay: Duration::from_secs(5),
            retention: Duration::from_secs(7 * 24 * 3600),
            prune_every: Duration::from_secs(600),
        }
    }

    /// Fetches within these budgets (one per connection; give the same to the
    /// [`Worker`](crate::Worker) of the process).
    pub fn budgets(mut self, budgets: Budgets) -> Self {
        self.budgets = budgets;
        self
    }

    /// Deletes the events applied or given up more than `retention` ago, if pruning has not
    /// run for `prune_every`; how many.
    pub async fn prune(&self) -> Result<u64, SyncError> {
        {
            let mut last = self.last_prune.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|at| at.elapsed() < self.prune_every) {
                return Ok(0);
            }
            *last = Some(Instant::now());
        }
        let before = SystemTime::now()
            .checked_sub(self.retention)
            .unwrap_or(UNIX_EPOCH);
        Ok(self.store.prune_events(before).await?)
    }

    /// With these routes (the receiver's).
    pub fn routes(mut self, routes: Vec<Route>) -> Self {
        self.routes = routes;
        self
    }

    /// Applies every event that is due now, then prunes old events (see
    /// [`Applier::prune`]); what it did.
    pub async fn apply_pending(&self) -> Result<ApplyReport, SyncError> {
        let mut report = ApplyReport::default();
        loop {
            let events = self.store.claim_events(CLAIM, LEASE).await?;
            if events.is_empty() {
                self.prune().await?;
                return Ok(report);
            }
            for event in events {
                match self.apply(&event).await {
                    Ok(applied) => {
                        report.applied += 1;
                        if matches!(
                            applied,
                            Applied::Added | Applied::Updated | Applied::Deleted
                        ) {
                            report.changed += 1;
                        }
                        self.store
                            .finish_event(event.id, EventStatus::Applied, None, Duration::ZERO)
                            .await?;
                    }
                    Err(e) => {
                        // The connection is gone: nothing will ever apply its events.
                        let removed = matches!(e, SyncError::Store(StoreError::NotFound { .. }));
                        let give_up = removed || event.attempts >= self.max_attempts;
                        let shift = u32::try_from(event.attempts.clamp(0, 16)).unwrap_or(16);
                        let delay = self
                            .retry_delay
                            .saturating_mul(1 << shift.saturating_sub(1))
                            .min(Duration::from_secs(600));
                        let status = if give_up {
                            report.failed += 1;
                            EventStatus::Failed
                        } else {
                            report.retried += 1;
                            EventStatus::Pending
                        };
                        self.store
                            .finish_event(event.id, status, Some(&e.to_string()), delay)
                            .await?;
                    }
                }
            }
        }
    }

    async fn apply(&self, event: &Event) -> Result<Applied, SyncError> {
        let body = serde_json::to_vec(&event.envelope)
            .map_err(|e| SyncError::Webhook(format!("event {}: {e}", event.id)))?;
        let envelope = Envelope::parse(&body)
            .map_err(|e| SyncError::Webhook(format!("event {}: {e}", event.id)))?;
        let route = self
            .routes
            .iter()
            .find(|r| envelope.event_name.starts_with(r.prefix))
            .ok_or_else(|| {
                SyncError::Webhook(format!(
                    "event {}: no model for `{}`",
                    event.id, envelope.event_name
                ))
            })?;
        let (id, parent) = route.ids(&envelope.payload).ok_or_else(|| {
            SyncError::Webhook(format!("event {}: the payload names no record", event.id))
        })?;
        let model = Model {
            connection: &event.connection,
            name: &route.spec.model,
            personal: route.spec.personal,
        };
        let deletes = Route::deletes(&envelope.event_name);
        let Some(template) = &route.spec.fetch_one else {
            return Err(SyncError::Webhook(format!(
                "model `{}` has no endpoint for one record: its events cannot be checked",
                route.spec.model
            )));
        };
        let endpoint = template
            .replace("{id}", &encode(&id))
            .replace("{parent}", &encode(parent.as_deref().unwrap_or_default()));
        let conn = self.connections.connection(&event.connection).await?;
        let budget = self.budgets.get(&event.connection, route.spec.budget);
        budget.acquire().await;
        let observed = SystemTime::now();
        match conn.get(endpoint).send().await {
            Ok(response) => {
                budget.observe(&RateHints::read(|n| response.header(n), SystemTime::now()));
                // For a `.deleted` event too: the provider has the record, so it stays.
                let body: Value = response.json()?;
                let data = match body.get("_data") {
                    Some(inner) if inner.is_object() => inner.clone(),
                    _ => body,
                };
                Ok(self
                    .store
                    .apply_record(model, &id, Some(&data), observed)
                    .await?)
            }
            // The provider has it no more: deleted when the event says, else by now.
            Err(e) if e.status() == Some(404) => {
                let deleted_at = if deletes {
                    from_ms(event.occurred_at_ms)
                } else {
                    observed
                };
                Ok(self
                    .store
                    .apply_deletion(model, &id, deleted_at, observed)
                    .await?)
            }
            Err(e) => {
                if e.status() == Some(429) {
                    budget.refused(None);
                }
                Err(e.into())
            }
        }
    }

    /// Applies events as they arrive until `shutdown` completes (and every `poll`, for
    /// events due for a retry).
    pub async fn run(&self, poll: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let _ = self.apply_pending().await;
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.notify.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }
}
