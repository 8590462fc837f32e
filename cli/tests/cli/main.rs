//! The `terapi` binary as a user runs it, in one test binary: `cli` (authorization, requests,
//! params, listings, exit codes, against the fake OAuth 2.0 provider), `api_keys` (`terapi
//! keys`: the server's API keys), `keys` (key rotation,
//! a tampered store, control characters), `sync` (`sync`, `records`, `webhooks`, against
//! the fake Personio), `webhooks_out` (the outbox of `terapi serve`), `generator` (`generate`, `check`, `lint`) and `downstream` (real
//! crates outside the workspace built with cargo; slow).

mod actions;
mod api_keys;
mod cli;
mod downstream;
mod generator;
mod keys;
mod serve;
mod sync;
mod webhooks_out;

/// The `terapi` binary cargo built for these tests.
const BIN: &str = env!("CARGO_BIN_EXE_terapi");
