//! The state of the server's workflows (syncs, their runs, the Personio webhook receiver and
//! its applier) and the background work they need.
//!
//! What a replica keeps here is only what it does itself: the runs it started (so a second
//! trigger reports them as running) and the last result of each (`latest_result` of `GET
//! /sync/status`). Everything else (a run's state, its lease, its cursor, the schedule, the
//! stored webhook events) is in the store, so every replica answers for every run.
//!
//! [`spawn`] starts what must run beside the routes: the [`Applier`] of stored webhook
//! events and a [`Worker`] of the store's sync schedule. `Server::run` starts it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use terapi_store::RunCounts;
use terapi_sync::webhook::{Applier, ReceiverConfig, WebhookReceiver};
use terapi_sync::{Budgets, StoreConnections, Worker};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::state::Server;

/// How often the applier looks for events due for a retry, and the worker for due syncs.
const POLL: Duration = Duration::from_secs(5);

/// The last run of a model this replica ran.
#[derive(Debug, Clone)]
pub(crate) struct LastRun {
    /// Its counts (`None` when it failed).
    pub counts: Option<RunCounts>,
}

#[derive(Debug, Default)]
struct Entry {
    running: bool,
    /// The task of a run this replica started through the API.
    task: Option<tokio::task::AbortHandle>,
    last: Option<LastRun>,
}

/// The workflows' state of one server (one per [`Server`]).
#[derive(Default)]
pub(crate) struct Flows {
    /// By (connection, model).
    runs: Mutex<HashMap<(String, String), Entry>>,
    /// Woken by the receiver after each stored event; the applier waits on it.
    notify: Arc<Notify>,
    /// Made on first use (its writer task needs a runtime).
    receiver: OnceLock<WebhookReceiver>,
    /// One request budget per connection, shared by triggered runs, the worker and the
    /// applier.
    pub budgets: Budgets,
}

impl std::fmt::Debug for Flows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flows").finish_non_exhaustive()
    }
}

/// Marks a run as this replica's until dropped (a panicking or cancelled run included).
pub(crate) struct Running {
    server: Server,
    key: (String, String),
    last: Option<LastRun>,
}

impl Running {
    /// Records how the run ended (kept when the guard drops).
    pub fn finish(&mut self, counts: Option<RunCounts>) {
        self.last = Some(LastRun { counts });
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut runs = self.server.inner.flows.lock();
        let entry = runs.entry(self.key.clone()).or_default();
        entry.running = false;
        entry.task = None;
        if let Some(last) = self.last.take() {
            entry.last = Some(last);
        }
    }
}

impl Flows {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Entry>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this replica runs `model` of `connection` now.
    pub fn is_running(&self, connection: &str, model: &str) -> bool {
        self.lock()
            .get(&(connection.to_owned(), model.to_owned()))
            .is_some_and(|e| e.running)
    }

    /// The last run of `model` of `connection` this replica ran.
    pub fn last_run(&self, connection: &str, model: &str) -> Option<LastRun> {
        self.lock()
            .get(&(connection.to_owned(), model.to_owned()))
            .and_then(|e| e.last.clone())
    }

    /// Records the end of a run this replica did not start through [`start`] (the worker's).
    pub fn record(&self, connection: &str, model: &str, counts: Option<RunCounts>) {
        self.lock()
            .entry((connection.to_owned(), model.to_owned()))
            .or_default()
            .last = Some(LastRun { counts });
    }

    /// Keeps the task of a run started through [`start`], to stop it with the server.
    pub fn keep_task(&self, connection: &str, model: &str, task: tokio::task::AbortHandle) {
        let mut runs = self.lock();
        match runs.get_mut(&(connection.to_owned(), model.to_owned())) {
            Some(entry) if entry.running => entry.task = Some(task),
            // Already ended.
            _ => {}
        }
    }

    /// Stops the runs this replica started through the API (their pages stored stay; the
    /// next run resumes them once the leases are released).
    pub fn abort_runs(&self) {
        for entry in self.lock().values_mut() {
            if let Some(task) = entry.task.take() {
                task.abort();
            }
        }
    }

    /// The webhook receiver (the same one for every router of this server).
    pub fn receiver(&self, server: &Server) -> WebhookReceiver {
        self.receiver
            .get_or_init(|| {
                WebhookReceiver::new(
                    server.store().clone(),
                    ReceiverConfig::default(),
                    self.notify.clone(),
                )
            })
            .clone()
    }
}

/// Marks `model` of `connection` as run by this replica; `None` when it already is.
pub(crate) fn start(server: &Server, connection: &str, model: &str) -> Option<Running> {
    let key = (connection.to_owned(), model.to_owned());
    let mut runs = server.inner.flows.lock();
    let entry = runs.entry(key.clone()).or_default();
    if entry.running {
        return None;
    }
    entry.running = true;
    Some(Running {
        server: server.clone(),
        key,
        last: None,
    })
}

/// Starts the background work of the workflows in `tasks`, each task ending when `stop`
/// becomes true (`Server::run` calls it through `crate::background::start`):
/// - the [`Applier`] of the Personio webhook events the receiver stored (woken by each
///   delivery, and every 5 s for retries);
/// - a [`Worker`] of the store's sync schedule (the models with a declared `runs: every …`
///   scheduled for a connection with `terapi_sync::schedule_declared`), whose runs end like triggered ones
///   ([`crate::routes::sync::finished`]).
pub(crate) fn spawn(server: &Server, stop: watch::Receiver<bool>, tasks: &mut JoinSet<()>) {
    let stopped = move || {
        let mut stop = stop.clone();
        async move {
            let _ = stop.wait_for(|s| *s).await;
        }
    };
    let store = server.store().clone();
    let connections = Arc::new(StoreConnections::new(
        store.clone(),
        server.inner.settings.clone(),
    ));
    let budgets = server.inner.flows.budgets.clone();
    let applier = Applier::new(
        store.clone(),
        connections.clone(),
        server.inner.flows.notify.clone(),
    )
    .budgets(budgets.clone());
    let until = stopped();
    tasks.spawn(async move { applier.run(POLL, until).await });
    let specs: Vec<_> = server.inner.integrations.syncs().cloned().collect();
    let worker = Worker::new(store, specs, connections).budgets(budgets);
    // At the stop, the runs triggered through the API stop too, before `Server::run`
    // releases this replica's leases.
    let aborting = server.clone();
    let until = stopped();
    tasks.spawn(async move {
        until.await;
        aborting.inner.flows.abort_runs();
    });
    let server = server.clone();
    let until = stopped();
    tasks.spawn(async move {
        worker
            .run(POLL, until, |due, result| {
                let server = server.clone();
                let (connection, model) = (due.connection.clone(), due.model.clone());
                let outcome = crate::routes::sync::Outcome::of(result);
                if !outcome.busy {
                    server
                        .inner
                        .flows
                        .record(&connection, &model, outcome.counts());
                }
                tokio::spawn(async move {
                    crate::routes::sync::finished(&server, &connection, &model, outcome).await;
                });
            })
            .await;
    });
}

/// The connection named by a request: its id from the `Connection-Id` header (400 without
/// one), its provider from the store (404 when the store has no such connection), checked
/// against `Provider-Config-Key` when the request has one (400 when it differs).
pub(crate) async fn connection_of(
    server: &Server,
    headers: &http::HeaderMap,
) -> Result<(String, String), crate::ApiError> {
    use crate::ApiError;
    let id = headers
        .get("connection-id")
        .ok_or_else(|| ApiError::bad_request("the `Connection-Id` header is required"))?
        .to_str()
        .map_err(|_| ApiError::bad_request("the `Connection-Id` header is not visible ASCII"))?
        .trim()
        .to_owned();
    let provider = provider_of(server, &id).await?;
    if let Some(key) = headers.get("provider-config-key") {
        let key = key.to_str().unwrap_or_default().trim();
        if key != provider {
            return Err(ApiError::bad_request(format!(
                "connection `{}` is of provider `{provider}`, not the `Provider-Config-Key` given",
                id.escape_default()
            )));
        }
    }
    Ok((id, provider))
}

/// The provider of connection `id` (404 when the store has no such connection).
pub(crate) async fn provider_of(server: &Server, id: &str) -> Result<String, crate::ApiError> {
    if id.is_empty() || id.len() > 256 {
        return Err(crate::ApiError::bad_request(
            "a connection id is 1 to 256 characters",
        ));
    }
    match server.store().info(id).await? {
        Some(info) => Ok(info.provider),
        None => Err(crate::ApiError::not_found(format!(
            "no connection `{}`",
            id.escape_default()
        ))),
    }
}

/// `at` as RFC 3339 in UTC with milliseconds (`2026-12-07T00:15:00.123Z`).
pub(crate) fn rfc3339_ms(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A JSON body read within `limit` bytes: 413 over it, 400 when it is not JSON (the message
/// gives the place, never the content). An empty body reads as `{}`.
pub(crate) async fn json_body(
    body: axum::body::Body,
    limit: usize,
) -> Result<serde_json::Value, crate::ApiError> {
    use crate::ApiError;
    use http_body_util::BodyExt as _;
    let bytes = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return Err(
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    ApiError::new(
                        http::StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        format!("the body is larger than {limit} bytes"),
                    )
                } else {
                    ApiError::bad_request("the body could not be read")
                },
            );
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            http::StatusCode::BAD_REQUEST,
            "invalid_json",
            format!(
                "the body is not JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })
}
