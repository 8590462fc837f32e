//! The background work of the server's workflows (syncs, the Personio webhook receiver's
//! applier) and what their routes share; what a replica keeps of its runs is `runs.rs`.
//!
//! [`spawn`] starts what must run beside the routes: the [`Applier`] of stored webhook
//! events and a [`Worker`] of the store's sync schedule. `Server::run` starts it.

use std::sync::Arc;
use std::time::Duration;

use terapi_sync::webhook::Applier;
use terapi_sync::{StoreConnections, Worker};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::state::Server;

/// How often the applier looks for events due for a retry, and the worker for due syncs.
const POLL: Duration = Duration::from_secs(5);

pub(crate) use crate::runs::Running;

/// Marks `model` of `connection` as run by this replica; `None` when it already is.
pub(crate) fn start(server: &Server, connection: &str, model: &str) -> Option<Running> {
    server.inner.flows.start(connection, model)
}

/// Starts the background work of the workflows in `tasks`, each task ending when `stop`
/// becomes true (`Server::run` calls it through `crate::background::start`):
/// - the [`Applier`] of the Personio webhook events the receiver stored (woken by each
///   delivery, and every 5 s for retries);
/// - a [`Worker`] of the store's sync schedule (the models with a declared `runs: every …`
///   scheduled for a connection with `terapi_sync::schedule_declared`), whose runs end like triggered ones
///   ([`crate::sync_end::finished`]).
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
                let outcome = crate::sync_end::Outcome::of(result);
                if !outcome.busy {
                    server
                        .inner
                        .flows
                        .record(&connection, &model, outcome.counts());
                }
                tokio::spawn(async move {
                    crate::sync_end::finished(&server, &connection, &model, outcome).await;
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
