//! What a replica keeps of its workflows (a leaf of the crate): the runs it started (so a
//! second trigger reports them as running), the last result of each (`latest_result` of `GET
//! /sync/status`), the request budgets and the webhook receiver. Everything else (a run's
//! state, its lease, its cursor, the schedule, the stored webhook events) is in the store, so
//! every replica answers for every run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use terapi_store::RunCounts;
use terapi_sync::Budgets;
use terapi_sync::webhook::{ReceiverConfig, WebhookReceiver};
use tokio::sync::Notify;

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
    /// By (connection, model); shared with the [`Running`] guards.
    runs: Runs,
    /// Woken by the receiver after each stored event; the applier waits on it.
    pub notify: Arc<Notify>,
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

type Runs = Arc<Mutex<HashMap<(String, String), Entry>>>;

fn lock(runs: &Runs) -> std::sync::MutexGuard<'_, HashMap<(String, String), Entry>> {
    runs.lock().unwrap_or_else(|e| e.into_inner())
}

/// Marks a run as this replica's until dropped (a panicking or cancelled run included).
pub(crate) struct Running {
    runs: Runs,
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
        let mut runs = lock(&self.runs);
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
        lock(&self.runs)
    }

    /// Marks `model` of `connection` as run by this replica; `None` when it already is.
    pub fn start(&self, connection: &str, model: &str) -> Option<Running> {
        let key = (connection.to_owned(), model.to_owned());
        let mut runs = self.lock();
        let entry = runs.entry(key.clone()).or_default();
        if entry.running {
            return None;
        }
        entry.running = true;
        Some(Running {
            runs: Arc::clone(&self.runs),
            key,
            last: None,
        })
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

    /// Records the end of a run this replica did not start through [`Flows::start`] (the worker's).
    pub fn record(&self, connection: &str, model: &str, counts: Option<RunCounts>) {
        self.lock()
            .entry((connection.to_owned(), model.to_owned()))
            .or_default()
            .last = Some(LastRun { counts });
    }

    /// Keeps the task of a run started through [`Flows::start`], to stop it with the server.
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
    pub fn receiver(&self, store: &terapi_store::Store) -> WebhookReceiver {
        self.receiver
            .get_or_init(|| {
                WebhookReceiver::new(
                    store.clone(),
                    ReceiverConfig::default(),
                    self.notify.clone(),
                )
            })
            .clone()
    }
}
