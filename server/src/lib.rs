//! terapi's HTTP API, in one process: what an application written in any language needs to
//! connect its users' accounts and use them.
//!
//! - **Keys** (`Authorization: Bearer <secret key>`, scopes per key, only their hash stored)
//!   for the application's backend; **connect sessions** (short-lived tokens, hashed) for its
//!   end users' browsers.
//! - **Providers** with their forms, **connecting** with credentials (`POST /auth/{provider}`,
//!   every problem at once) or OAuth (`/oauth/connect/{provider}`, `/oauth/callback` on any
//!   replica), **connections** (list, read with fresh credentials, import, update, delete).
//! - The **proxy** (`/proxy/{path}` through a connection's auth, retries and limits),
//!   **syncs**, **records** with a cursor, declared **actions**, the Personio **webhook
//!   receiver**, and **signed webhooks to the application** through a durable outbox.
//!
//! Everything a replica shares lives in the store ([`terapi_store::Store`]: SQLite for one
//! process, PostgreSQL for many), so every replica serves every route. [`Server`] holds the
//! state; [`Server::router`] is the `axum` router; [`Server::run`] serves it with the limits
//! of [`terapi_sync::serve`] and runs the background work (outbox deliveries, the sync
//! schedule, webhook events) until a shutdown signal.
#![forbid(unsafe_code)]

mod auth;
mod background;
mod config;
mod cursor;
mod error;
mod events;
mod flows;
mod limits;
mod live;
mod metrics;
pub mod outbox;
mod random;
mod routes;
mod runs;
mod serving;
mod state;
mod sync_end;
mod time;

pub use auth::{Caller, Scope, Session, UnknownScope};
pub use config::{OAuthApp, OutgoingWebhooks, RateLimit, ServerConfig};
pub use error::{ApiError, FieldError};
pub use serving::DRAIN_TIMEOUT;
pub use state::Server;
