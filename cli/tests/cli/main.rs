//! The `terapi` binary as a user runs it, in one test binary: `cli` (authorization, requests,
//! params, listings, exit codes, against the fake OAuth 2.0 provider), `keys` (key rotation,
//! a tampered store, control characters), `sync` (`sync`, `records`, `webhooks`, against
//! the fake Personio), `generator` (`generate`, `check`, `lint`) and `downstream` (real
//! crates outside the workspace built with cargo; slow).

mod actions;
mod cli;
mod downstream;
mod generator;
mod keys;
mod serve;
mod sync;

/// The `terapi` binary cargo built for these tests.
const BIN: &str = env!("CARGO_BIN_EXE_terapi");
