//! Syncs through the API (scope `sync` for both routes).
//!
//! - `POST /sync/trigger` `{connection_id, syncs: ["employees", …], full?: false}`: each name
//!   must be a declared sync of the connection's provider (the integrations' `syncs`; 422
//!   `invalid_syncs` naming every unknown one and the provider's syncs). The runs start in
//!   the background and the answer is 202 `{data: {connection_id, full, syncs: [{name,
//!   status}]}}`, `status` being `started`, or `already_running` when a run of that model is
//!   in progress (started by this replica, or holding the store's lease: another replica, the
//!   schedule's worker); that is not an error. `full: true` lists everything and marks what
//!   it did not see as deleted; otherwise an incremental run (full when the model never
//!   completed one, or has no incremental filter).
//! - `GET /sync/status?connection_id=X[&syncs=a,b]` (every declared sync without `syncs`):
//!   `{syncs: [{name, model, status, last_run_at, next_run_at, frequency_seconds,
//!   latest_result, error, cursor, held_deletions}]}` (`model`: the sync's output model),
//!   from the store's state of each model (any replica answers the same) but
//!   `latest_result`, `{added, updated, deleted}` of the last run **this replica** ran
//!   (`null` when it ran none since it started, or the last one failed; the `sync` webhook
//!   carries every run's counts durably). `next_run_at` and `frequency_seconds` are set when
//!   the model is on the store's schedule; `held_deletions` counts the deletions the last
//!   full run held back (too many at once: see `terapi sync --allow-mass-delete`). `status` is `RUNNING` (a run holds the lease),
//!   `ERROR` (the last run failed or was interrupted: `error` says why), `SUCCESS` (the last
//!   run completed) or `PENDING` (never run). `cursor` is the records cursor after the last
//!   change (`GET /records?cursor=…` continues from there).
//!
//! Each run that ends (triggered, or run by the schedule's worker) goes through
//! [`finished`], which emits the `sync` webhook to the application.

use std::collections::BTreeSet;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use terapi_runtime::sync::SyncSpec;
use terapi_sync::{SyncError, SyncOptions, SyncReport};

use crate::auth::{Key, need};
use crate::cursor::encode_cursor;
use crate::error::{ApiError, FieldError};
use crate::flows;
use crate::routes::{JsonBody, rfc3339};
use crate::state::Server;
use crate::sync_end::{Outcome, finished, model_of};

pub(crate) fn routes() -> Router<Server> {
    // One route per statement: server/tests/server/openapi.rs reads them from this source.
    let trigger = Router::new().route("/sync/trigger", post(trigger));
    trigger.route("/sync/status", get(status))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Trigger {
    connection_id: String,
    syncs: Vec<String>,
    #[serde(default)]
    full: bool,
}

/// The declared syncs named by `names` (each once, in the order given), or 422 naming each
/// unknown one.
fn declared<'a>(
    server: &'a Server,
    provider: &str,
    names: &[String],
    section: &str,
) -> Result<Vec<&'a SyncSpec>, ApiError> {
    let known: Vec<&SyncSpec> = server
        .inner
        .integrations
        .integration(provider)
        .map(|i| i.syncs.iter().collect())
        .unwrap_or_default();
    let list = if known.is_empty() {
        "it declares none".to_owned()
    } else {
        format!(
            "its syncs are {}",
            known
                .iter()
                .map(|s| &*s.model)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut seen = BTreeSet::new();
    let mut specs = Vec::new();
    let mut fields = Vec::new();
    for name in names {
        if !seen.insert(name.as_str()) {
            continue;
        }
        match known.iter().find(|s| s.model == *name) {
            Some(spec) => specs.push(*spec),
            None => fields.push(FieldError {
                section: section.to_owned(),
                param: name.escape_default().to_string(),
                message: format!("not a sync of provider `{provider}`: {list}"),
            }),
        }
    }
    if !fields.is_empty() {
        return Err(ApiError::fields(
            "invalid_syncs",
            format!("unknown syncs of provider `{provider}`: {list}"),
            fields,
        ));
    }
    Ok(specs)
}

async fn trigger(
    Key(_caller, _): Key<need::Sync>,
    State(server): State<Server>,
    JsonBody(request): JsonBody<Trigger>,
) -> Result<impl IntoResponse, ApiError> {
    if request.syncs.is_empty() {
        return Err(ApiError::bad_request("`syncs` names no sync"));
    }
    let provider = flows::provider_of(&server, &request.connection_id).await?;
    let specs = declared(&server, &provider, &request.syncs, "syncs")?;
    let mut started = Vec::with_capacity(specs.len());
    for spec in specs {
        let model = model_of(&request.connection_id, spec);
        let leased = server
            .store()
            .sync_status(model)
            .await?
            .is_some_and(|s| s.leased);
        let running = if leased {
            None
        } else {
            flows::start(&server, &request.connection_id, &spec.model)
        };
        let status = match running {
            None => "already_running",
            Some(running) => {
                spawn_run(&server, &request.connection_id, spec, request.full, running);
                "started"
            }
        };
        started.push(json!({ "name": &*spec.model, "status": status }));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "data": {
                "connection_id": request.connection_id,
                "syncs": started,
                "full": request.full,
            }
        })),
    ))
}

/// Runs `spec` for `connection` in a task of its own; `running` marks it as this replica's
/// until it ends.
fn spawn_run(
    server: &Server,
    connection: &str,
    spec: &SyncSpec,
    full: bool,
    mut running: flows::Running,
) {
    let server = server.clone();
    let connection = connection.to_owned();
    let spec = spec.clone();
    let (keeper, key) = (server.clone(), (connection.clone(), spec.model.to_string()));
    let task = tokio::spawn(async move {
        // The feed's cursor before the run: reading from it lists the run's changes.
        let before = server
            .store()
            .sync_status(model_of(&connection, &spec))
            .await
            .ok()
            .map(|s| s.map_or(0, |s| s.cursor));
        let started = std::time::SystemTime::now();
        let result = run(&server, &connection, &spec, full).await;
        let outcome = Outcome::of(&result).before(before, started);
        if !outcome.busy {
            running.finish(outcome.counts());
        }
        // The replica's record is updated before the hook (a status read after the webhook
        // shows the run's result).
        drop(running);
        finished(&server, &connection, &spec.model, outcome).await;
    });
    keeper
        .inner
        .flows
        .keep_task(&key.0, &key.1, task.abort_handle());
}

async fn run(
    server: &Server,
    connection: &str,
    spec: &SyncSpec,
    full: bool,
) -> Result<SyncReport, SyncError> {
    let conn = server
        .store()
        .connect(connection, server.inner.settings.clone())
        .await?;
    let options = if full {
        SyncOptions::full()
    } else {
        SyncOptions::incremental()
    };
    let budget = server.inner.flows.budgets.get(connection, spec.budget);
    terapi_sync::sync(
        server.store(),
        &conn,
        connection,
        spec,
        options.budget(budget),
    )
    .await
}

/// How a run ended, as [`finished`] is told.
/// `GET /sync/status`'s query: `connection_id` (required) and `syncs` (comma-separated).
fn status_query(raw: Option<&str>) -> Result<(String, Option<Vec<String>>), ApiError> {
    let mut connection = None;
    let mut syncs = None;
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let slot = match key.as_ref() {
            "connection_id" => &mut connection,
            "syncs" => &mut syncs,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{}`: the parameters are connection_id and syncs",
                    other.escape_default()
                )));
            }
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(ApiError::bad_request(format!(
                "the query parameter `{key}` is given twice"
            )));
        }
    }
    let connection = connection
        .ok_or_else(|| ApiError::bad_request("the query parameter `connection_id` is required"))?;
    let syncs = syncs.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    Ok((connection, syncs))
}

async fn status(
    Key(_caller, _): Key<need::Sync>,
    State(server): State<Server>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (connection, names) = status_query(raw.as_deref())?;
    let provider = flows::provider_of(&server, &connection).await?;
    let specs: Vec<&SyncSpec> = match &names {
        Some(names) => declared(&server, &provider, names, "syncs")?,
        None => server
            .inner
            .integrations
            .integration(&provider)
            .map(|i| i.syncs.iter().collect())
            .unwrap_or_default(),
    };
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let stored = server
            .store()
            .sync_status(model_of(&connection, spec))
            .await?;
        let here = server.inner.flows.is_running(&connection, &spec.model);
        let last = server.inner.flows.last_run(&connection, &spec.model);
        let (status, error) = match &stored {
            _ if here => ("RUNNING", None),
            Some(s) if s.leased => ("RUNNING", None),
            Some(s) if s.last_error.is_some() => ("ERROR", s.last_error.clone()),
            Some(s) if s.in_progress.is_some() => (
                "ERROR",
                Some("the last run was interrupted; the next run resumes it".to_owned()),
            ),
            Some(s) if s.last_run_at.is_some() => ("SUCCESS", None),
            _ => ("PENDING", None),
        };
        let latest = last
            .and_then(|l| l.counts)
            .map(|c| json!({ "added": c.added, "updated": c.updated, "deleted": c.deleted }));
        out.push(json!({
            "name": &*spec.model,
            "model": spec.output.as_deref().unwrap_or(&spec.model),
            "status": status,
            "last_run_at": stored.as_ref().and_then(|s| s.last_run_at).map(rfc3339),
            "next_run_at": stored.as_ref().and_then(|s| s.next_due).map(rfc3339),
            "frequency_seconds": stored
                .as_ref()
                .and_then(|s| s.every)
                .map(|d| d.as_secs()),
            "latest_result": latest,
            "error": error,
            "cursor": encode_cursor(&connection, &spec.model, stored.as_ref().map_or(0, |s| s.cursor)),
            "held_deletions": stored.as_ref().map_or(0, |s| s.held_deletions),
        }));
    }
    Ok(Json(json!({ "syncs": out })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_queries() {
        let (c, s) =
            status_query(Some("connection_id=hr&syncs=employees,%20attendances,")).unwrap();
        assert_eq!(c, "hr");
        assert_eq!(s.unwrap(), ["employees", "attendances"]);
        assert_eq!(status_query(Some("connection_id=hr")).unwrap().1, None);
        for bad in [
            None,
            Some("syncs=a"),
            Some("connection_id=a&connection_id=b"),
            Some("connection_id=a&x=1"),
        ] {
            assert_eq!(
                status_query(bad).unwrap_err().status,
                StatusCode::BAD_REQUEST,
                "{bad:?}"
            );
        }
    }
}
