//! The applier: claims stored events, oldest first, and brings the records they name up to
//! date by fetching them (a deletion, or a record the provider no longer has, marks it
//! deleted). A failure leaves the event pending for another attempt, with a growing delay,
//! until `max_attempts`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use terapi_store::{Applied, Event, EventStatus, Model, Store};
use tokio::sync::Notify;

use super::envelope::Envelope;
use super::routes::{Route, personio_routes};
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

/// Applies stored events.
pub struct Applier {
    store: Store,
    connections: Arc<dyn ConnectionSource>,
    routes: Vec<Route>,
    notify: Arc<Notify>,
    /// Attempts before an event is given up.
    pub max_attempts: i64,
    /// The first retry delay (doubled per attempt, at most 10 minutes).
    pub retry_delay: Duration,
}

impl std::fmt::Debug for Applier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier")
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

const LEASE: Duration = Duration::from_secs(60);

impl Applier {
    /// An applier for `store`'s events, fetching through `connections`, woken by `notify`
    /// (the receiver's).
    pub fn new(store: Store, connections: Arc<dyn ConnectionSource>, notify: Arc<Notify>) -> Self {
        Applier {
            store,
            connections,
            routes: personio_routes(),
            notify,
            max_attempts: 10,
            retry_delay: Duration::from_secs(5),
        }
    }

    /// With these routes (the receiver's).
    pub fn routes(mut self, routes: Vec<Route>) -> Self {
        self.routes = routes;
        self
    }

    /// Applies every event that is due now; what it did.
    pub async fn apply_pending(&self) -> Result<ApplyReport, SyncError> {
        let mut report = ApplyReport::default();
        loop {
            let events = self.store.claim_events(100, LEASE).await?;
            if events.is_empty() {
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
                        let give_up = event.attempts >= self.max_attempts;
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
        if Route::deletes(&envelope.event_name) {
            return Ok(self
                .store
                .apply_record(model, &id, None, SystemTime::now())
                .await?);
        }
        let Some(template) = &route.spec.fetch_one else {
            return Err(SyncError::Webhook(format!(
                "model `{}` has no endpoint for one record",
                route.spec.model
            )));
        };
        let endpoint = template
            .replace("{id}", &encode(&id))
            .replace("{parent}", &encode(parent.as_deref().unwrap_or_default()));
        let conn = self.connections.connection(&event.connection).await?;
        let observed = SystemTime::now();
        match conn.get(endpoint).send().await {
            Ok(response) => {
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
            // The provider has it no more: the event was older than a deletion.
            Err(e) if e.status() == Some(404) => {
                Ok(self.store.apply_record(model, &id, None, observed).await?)
            }
            Err(e) => Err(e.into()),
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
