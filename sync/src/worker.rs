//! Workers sharing the store's schedule: each claims a due model (PostgreSQL's
//! `FOR UPDATE SKIP LOCKED`: two workers never get the same), runs its sync, and the model
//! is due again after its interval (or after the retry delay when the run failed).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use terapi_runtime::client::{Connection, Settings};
use terapi_store::{Due, Store};

use crate::budget::{Budgets, RateBudget};
use crate::engine::{SyncOptions, SyncReport, sync};
use crate::error::SyncError;
use terapi_runtime::sync::SyncSpec;

/// The future of a [`ConnectionSource`].
pub type ConnectionFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Connection, SyncError>> + Send + 'a>>;

/// Where a worker or the webhook applier gets a connection's client.
pub trait ConnectionSource: Send + Sync {
    /// The client of connection `id`.
    fn connection<'a>(&'a self, id: &'a str) -> ConnectionFuture<'a>;
}

/// Connections made from the store (its catalog), with these settings.
#[derive(Debug, Clone)]
pub struct StoreConnections {
    store: Store,
    settings: Settings,
}

impl StoreConnections {
    /// Connections of `store`, made with `settings`.
    pub fn new(store: Store, settings: Settings) -> Self {
        StoreConnections { store, settings }
    }
}

impl ConnectionSource for StoreConnections {
    fn connection<'a>(&'a self, id: &'a str) -> ConnectionFuture<'a> {
        Box::pin(async move { Ok(self.store.connect(id, self.settings.clone()).await?) })
    }
}

/// Puts each of `specs` that declares a schedule (`runs: every 1h` in an integrations file:
/// [`SyncSpec::schedule`]) on the store's shared schedule for connection `id`, first due at
/// `first`; specs without one are left as they are. Returns how many were scheduled.
pub async fn schedule_declared(
    store: &Store,
    id: &str,
    specs: &[SyncSpec],
    first: std::time::SystemTime,
) -> Result<usize, SyncError> {
    let mut scheduled = 0;
    for spec in specs {
        let Some(every) = spec.schedule else {
            continue;
        };
        spec.check()?;
        let model = terapi_store::Model {
            connection: id,
            name: &spec.model,
            personal: spec.personal,
        };
        store.schedule(model, every, first).await?;
        scheduled += 1;
    }
    Ok(scheduled)
}

/// A worker of the shared schedule.
pub struct Worker {
    store: Store,
    specs: Vec<SyncSpec>,
    connections: Arc<dyn ConnectionSource>,
    budgets: Budgets,
    options: SyncOptions,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("store", &self.store)
            .field(
                "models",
                &self
                    .specs
                    .iter()
                    .map(|s| (&s.provider, &s.model))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker running `specs` (matched by provider and model) for the connections
    /// `connections` gives.
    pub fn new(store: Store, specs: Vec<SyncSpec>, connections: Arc<dyn ConnectionSource>) -> Self {
        Worker {
            store,
            specs,
            connections,
            budgets: Budgets::new(),
            options: SyncOptions::incremental(),
        }
    }

    /// Runs with these options (the kind, lease and retry delay; budgets are the worker's,
    /// one per connection).
    pub fn options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// Shares these budgets (one per connection) with others, e.g. the webhook applier of
    /// the same process.
    pub fn budgets(mut self, budgets: Budgets) -> Self {
        self.budgets = budgets;
        self
    }

    fn budget(&self, connection: &str, spec: &SyncSpec) -> Arc<RateBudget> {
        self.budgets.get(connection, spec.budget)
    }

    /// Claims one due model and syncs it; `None` when nothing is due.
    pub async fn run_once(
        &self,
    ) -> Result<Option<(Due, Result<SyncReport, SyncError>)>, SyncError> {
        let Some(due) = self.store.claim_due(self.options.lease).await? else {
            return Ok(None);
        };
        let result = self.run_due(&due).await;
        if let Err(e) = &result {
            // A run that could not even start leaves the claim: release it for later.
            if !matches!(e, SyncError::Store(terapi_store::StoreError::Busy { .. })) {
                let _ = self.store.release_due(&due).await;
            }
        }
        Ok(Some((due, result)))
    }

    async fn run_due(&self, due: &Due) -> Result<SyncReport, SyncError> {
        let conn = self.connections.connection(&due.connection).await?;
        let spec = self
            .specs
            .iter()
            .find(|s| s.provider == conn.provider() && s.model == due.model)
            .ok_or_else(|| SyncError::UnknownModel {
                provider: conn.provider().to_owned(),
                model: due.model.clone(),
                known: self
                    .specs
                    .iter()
                    .filter(|s| s.provider == conn.provider())
                    .map(|s| s.model.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let options = self
            .options
            .clone()
            .budget(self.budget(&due.connection, spec));
        sync(&self.store, &conn, &due.connection, spec, options).await
    }

    /// Runs due models until `shutdown` completes, polling every `poll` when nothing is due;
    /// each run's outcome goes to `report`.
    pub async fn run(
        &self,
        poll: Duration,
        shutdown: impl Future<Output = ()>,
        report: impl Fn(&Due, &Result<SyncReport, SyncError>),
    ) {
        tokio::pin!(shutdown);
        loop {
            let next = tokio::select! {
                _ = &mut shutdown => return,
                next = self.run_once() => next,
            };
            match next {
                Ok(Some((due, result))) => report(&due, &result),
                Ok(None) | Err(_) => {
                    tokio::select! {
                        _ = &mut shutdown => return,
                        _ = tokio::time::sleep(poll) => {}
                    }
                }
            }
        }
    }
}
