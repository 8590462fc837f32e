//! What the tests of the terapi crates share (a test crate, never published): fake providers
//! served on loopback, the databases the store's tests run against, the harness that runs the
//! `terapi` binary, and a guard for tests that run a nested cargo.
//!
//! - [`fake_personio`]: the fake Personio (v1 HR API and its token endpoint, v2, recruiting,
//!   webhooks), also served by `cargo run -p terapi-test-support --example fake-personio`;
//! - [`fake_oauth`], [`fake_oauth1`], [`fake_tokens`]: fake OAuth 2.0, OAuth 1.0a and
//!   token-mode (TWO_STEP, JWT) providers, with [`loopback`] serving them;
//! - [`personio_conn`]: connections of the catalog's Personio providers to the fake;
//! - [`slow_client`]: a client that sends its request slowly (for server timeouts);
//! - [`db`]: a SQLite file, SQLite in memory, or a PostgreSQL database of its own per test;
//! - [`cli`]: the `terapi` binary run against the fake Personio with a temporary store;
//! - [`dev_null`]: the guard for nested cargo runs.

#![forbid(unsafe_code)]
// A test crate: its items are documented where they are not obvious from their names, and the
// workspace's `missing_docs` lint (for published crates) does not apply.
#![allow(missing_docs)]

pub mod cli;
pub mod db;
pub mod dev_null;
pub mod fake_oauth;
pub mod fake_oauth1;
pub mod fake_personio;
pub mod fake_tokens;
pub mod loopback;
pub mod personio_conn;
pub mod slow_client;

/// A `reqwest` client builder for the tests' own requests. The runtime builds reqwest with
/// rustls and no built-in crypto provider, and installs *ring* as the process's provider when
/// it builds its first client; a test that sends a request of its own before that would
/// panic, so this installs it first.
pub fn http_client() -> reqwest::ClientBuilder {
    terapi_runtime::client::install_tls_provider();
    reqwest::Client::builder()
}
