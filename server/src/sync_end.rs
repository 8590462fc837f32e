//! The end of a sync run (triggered through the API or run by the schedule's worker): counted
//! in `/metrics` and told to the application as a `sync` event.

use terapi_runtime::sync::SyncSpec;
use terapi_store::{Model, RunCounts, StoreError};
use terapi_sync::{SyncError, SyncReport};

use crate::cursor::encode_cursor;
use crate::outbox::{EventError, OutgoingEvent, ResponseResults, SyncEvent, SyncType};
use crate::state::Server;
use crate::time::rfc3339;

#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// The report of a completed run, or why it failed (no record content, no secret).
    pub result: Result<SyncReport, String>,
    /// Why it failed, for the application: no provider's answer in it.
    pub description: Option<String>,
    /// Whether it did not run at all because another process held the model's lease.
    pub busy: bool,
    /// The feed's cursor before the run, when known.
    pub before: Option<u64>,
    /// When the run started (this host's clock, which dates the store's changes), when
    /// known.
    pub started: Option<std::time::SystemTime>,
}

impl Outcome {
    /// The outcome of `result`.
    pub fn of(result: &Result<SyncReport, SyncError>) -> Outcome {
        match result {
            Ok(report) => Outcome {
                result: Ok(report.clone()),
                description: None,
                busy: false,
                before: None,
                started: None,
            },
            Err(e) => Outcome {
                result: Err(e.to_string()),
                description: Some(describe(e)),
                busy: matches!(e, SyncError::Store(StoreError::Busy { .. })),
                before: None,
                started: None,
            },
        }
    }

    /// With the feed's cursor before the run and the time it started.
    pub fn before(mut self, before: Option<u64>, started: std::time::SystemTime) -> Outcome {
        self.before = before;
        self.started = Some(started);
        self
    }

    /// The counts of a completed run.
    pub fn counts(&self) -> Option<RunCounts> {
        self.result.as_ref().ok().map(|r| r.counts)
    }
}

/// Why a run failed, for the application's webhook: a request to the provider is described
/// by its status or kind only (the provider's message, even masked, stays in the status
/// route's `error` and the log).
fn describe(e: &SyncError) -> String {
    match e {
        SyncError::Client(e) => match e.status() {
            Some(status) => format!("the provider answered HTTP {status}"),
            None if e.needs_reauthorization() => {
                "the connection must be authorized again".to_owned()
            }
            None if e.is_timeout() => "the provider did not answer in time".to_owned(),
            None => "the request to the provider failed".to_owned(),
        },
        other => other.to_string(),
    }
}

/// The end of a sync run of `model` of `connection` (triggered through the API, or run by
/// the schedule's worker): counted in `/metrics` (`sync_runs`), and emitted as the `sync`
/// webhook to the application through the outbox ([`Server::emit`]; nothing without
/// configured webhooks). A run that did not start because another process ran it emits
/// nothing (that process does). The event's `cursor` (the feed's before the run) and
/// `modifiedAfter` (when the completed run started) list its changes through `GET
/// /records` (with changes made meanwhile by other writers). A run of the schedule's worker
/// has no `cursor`, and its `modifiedAfter` is the run's incremental cursor (which follows
/// the provider's clock: it may be a little earlier, never later).
pub(crate) async fn finished(server: &Server, connection: &str, model: &str, outcome: Outcome) {
    if outcome.busy {
        return;
    }
    server.inner.metrics.sync_run(outcome.result.is_ok());
    match &outcome.result {
        Ok(r) => tracing::info!(
            connection = %connection.escape_default(),
            model,
            added = r.counts.added,
            updated = r.counts.updated,
            deleted = r.counts.deleted,
            "sync run finished"
        ),
        Err(e) => tracing::warn!(
            connection = %connection.escape_default(),
            model,
            error = %e,
            "sync run failed"
        ),
    }
    let Some(event) = sync_event(server, connection, model, &outcome).await else {
        return;
    };
    if let Err(e) = server.emit(OutgoingEvent::Sync(event)).await {
        tracing::error!(
            connection = %connection.escape_default(),
            model,
            error = %e,
            "the sync event could not be stored in the outbox"
        );
    }
}

/// The `sync` event of a run (`None` when the connection is gone).
pub(crate) async fn sync_event(
    server: &Server,
    connection: &str,
    model: &str,
    outcome: &Outcome,
) -> Option<SyncEvent> {
    let provider = server
        .store()
        .info(connection)
        .await
        .ok()
        .flatten()?
        .provider;
    let spec = server.inner.integrations.sync(&provider, model);
    let started = match (&outcome.result, spec) {
        (Ok(_), _) if outcome.started.is_some() => outcome.started,
        (Ok(_), Some(spec)) => server
            .store()
            .sync_status(model_of(connection, spec))
            .await
            .ok()
            .flatten()
            .and_then(|s| s.since),
        _ => None,
    };
    let (sync_type, results) = match &outcome.result {
        Ok(report) => (
            if report.full {
                SyncType::Initial
            } else {
                SyncType::Incremental
            },
            ResponseResults {
                added: report.counts.added,
                updated: report.counts.updated,
                deleted: report.counts.deleted,
            },
        ),
        Err(_) => (SyncType::Incremental, ResponseResults::default()),
    };
    Some(SyncEvent {
        connection_id: connection.to_owned(),
        provider_config_key: provider.clone(),
        sync_name: model.to_owned(),
        model: spec
            .and_then(|s| s.output.as_deref())
            .unwrap_or(model)
            .to_owned(),
        sync_type,
        success: outcome.result.is_ok(),
        response_results: results,
        modified_after: started.map(rfc3339),
        cursor: outcome
            .before
            .map(|seq| encode_cursor(connection, model, seq)),
        error: outcome.description.as_ref().map(|d| EventError {
            kind: "sync_failed".to_owned(),
            description: d.clone(),
        }),
    })
}

/// The store's model of `spec` for `connection`.
pub(crate) fn model_of<'a>(connection: &'a str, spec: &'a SyncSpec) -> Model<'a> {
    Model {
        connection,
        name: &spec.model,
        personal: spec.personal,
    }
}
