//! Sync a provider's records into a [terapi store](terapi_store::Store), and receive its
//! webhooks.
//!
//! A [`SyncSpec`] declares a model (generated from an integrations file, or written in
//! Rust): its listing endpoint, how pages follow, where a record's
//! id is, the incremental filter, whether records hold personal data (then encrypted).
//! [`sync`] runs it through a connection: every page is stored with the checkpoint after it
//! (a killed run resumes at the next page), unchanged records are not rewritten (a keyed
//! content hash), the incremental cursor is the time the run **started**, and only a
//! complete full run marks the records it did not see as deleted: not more than the spec's
//! `max_delete_percent` of them (else they are held until the next full run finds them
//! missing too, or [`SyncOptions::allow_mass_delete`]), never after a listing whose count
//! differs from the total the provider states, and never the children of a parent whose
//! listing answered 404 unless the parent's own record does too. Requests stay within a
//! [`RateBudget`] from the provider's documented limits, tightened by `Retry-After` and
//! rate-limit headers. A [`Worker`] runs the models the store has due, one process per model
//! at a time.
//!
//! Consumers read [`Store::changes_since`](terapi_store::Store::changes_since) (added,
//! updated and deleted records with a cursor to resume from) or the current records.
//!
//! Webhooks: [`webhook::subscribe`] registers one with a random token the store keeps;
//! [`webhook::WebhookReceiver`] is a `tower` service that checks the token in constant
//! time, stores each event durably and answers before applying it; [`webhook::Applier`]
//! applies stored events by fetching the records they name.
//!
//! ```no_run
//! use terapi_runtime::client::Settings;
//! use terapi_store::{Keys, Model, Store};
//! use terapi_providers::integrations::personio::syncs;
//! use terapi_sync::{SyncOptions, sync};
//!
//! # async fn run(store: Store) -> Result<(), Box<dyn std::error::Error>> {
//! let conn = store.connect("acme-hr", Settings::new()).await?;
//! let report = sync(&store, &conn, "acme-hr", &syncs::employees(), SyncOptions::incremental()).await?;
//! println!("{} added, {} updated, {} deleted", report.counts.added, report.counts.updated, report.counts.deleted);
//! let changes = store.changes(Model::personal("acme-hr", "employees"), 0, 100).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod budget;
mod engine;
mod error;
pub mod serve;
pub mod webhook;
mod worker;

pub use budget::{Budgets, RateBudget};
pub use engine::{OnProgress, Progress, SyncOptions, SyncReport, default_max_pages, sync};
pub use error::SyncError;
pub use terapi_runtime::sync::{Budget, Incremental, Parent, SinceFormat, SpecError, SyncSpec};
pub use worker::{ConnectionFuture, ConnectionSource, StoreConnections, Worker, schedule_declared};
