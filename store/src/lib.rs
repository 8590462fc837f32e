//! A durable, encrypted store of terapi connections: SQLite embedded (a file, or in memory),
//! PostgreSQL for many processes and machines, and one token refresh across all of them.
//!
//! Per connection id a store keeps the provider key, the connection config and credentials,
//! the OAuth client and tokens of a provider authorized in a browser, timestamps and a
//! version; and the pending authorizations (by the SHA-256 of their state, single use,
//! expiring). Everything secret is sealed with XChaCha20-Poly1305 under the application's key
//! ([`Keys`]), its key id stored beside it so keys can be rotated ([`Store::rotate_key`]).
//!
//! A connection made from a store ([`Store::connect`], or `Connection::from_store` through
//! [`FromStore`]) renews its tokens through the store: a lease on the row, a re-read (another
//! process may have refreshed: those tokens are used), one refresh, and a commit that is a
//! compare-and-swap on the row's version, all before the new access token is used.
//!
//! ```no_run
//! use terapi_runtime::client::{Connection, Settings};
//! use terapi_store::{ConnectionRecord, FromStore as _, Keys, Specs, Store};
//!
//! # async fn run(catalog: Specs) -> Result<(), Box<dyn std::error::Error>> {
//! // `catalog`: the providers connections may use, e.g. those of `terapi-providers`:
//! // `Provider::ALL.iter().map(|p| p.spec()).collect::<Specs>()`.
//! let store = Store::open("sqlite:/var/lib/app/connections.db", Keys::from_env("TERAPI_STORE_KEY")?)
//!     .await?
//!     .with_catalog(catalog);
//! let record = ConnectionRecord::new(
//!     "personio",
//!     serde_json::json!({ "partnerId": "ACME", "appId": "MY_APP" }),
//!     serde_json::json!({ "client_id": "id", "client_secret": "secret" }),
//! );
//! store.save_connection("acme-hr", &record).await?;
//! // Later, in any process that opens the same store with the same key:
//! let conn = Connection::from_store(&store, "acme-hr", Settings::new()).await?;
//! let employees = conn.get("/company/employees").send().await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod api_keys;
mod backend;
mod catalog;
mod connect;
mod error;
mod ids;
mod keys;
mod leases;
mod meta;
mod outbox;
mod pending;
mod record;
mod records;
mod refresh;
mod rotate;
mod run_checks;
mod run_state;
mod runs;
mod sessions;
mod store;
mod webhooks;

pub use api_keys::{API_SCOPES, ApiKey, check_scopes};
pub use catalog::{Catalog, Specs};
pub use error::StoreError;
pub use ids::{MAX_RECORD_ID_BYTES, check_record_id, record_id};
pub use keys::Keys;
pub use meta::{ConnectionQuery, MAX_LIST_LIMIT, MAX_METADATA_BYTES};
pub use outbox::{
    Claimed, Delivery, DeliveryStatus, MAX_DELIVERY_ERROR, OutboxCounts, OutboxKind, OutboxQuery,
    Outcome, Retried,
};
pub use record::{ConnectionInfo, ConnectionMeta, ConnectionRecord, EndUser, StoredConnection};
pub use records::{Applied, Change, ChangeKind, Changes, Model, StoredRecord, TypedRecord};
pub use run_checks::Quarantined;
pub use runs::{DEFAULT_RUN_LEASE, DeleteGuard, Due, RunCounts, RunKind, SyncRun, SyncStatus};
pub use sessions::{ConnectSession, MAX_SESSION_TTL, MAX_TAGS};
pub use store::{
    DEFAULT_LEASE, FromStore, Reauthorization, ReauthorizationEvent, Rotation, Stats, Store,
    check_id,
};
pub use webhooks::{Event, EventStatus, NewEvent, Webhook};
