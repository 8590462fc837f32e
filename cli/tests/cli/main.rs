//! The `terapi` binary as a user runs it, in one test binary: `cli` (authorization, requests,
//! params, listings, exit codes, against the fake OAuth 2.0 provider), `keys` (key rotation,
//! a tampered store, control characters) and `sync` (`sync`, `records`, `webhooks`, against
//! the fake Personio).

mod cli;
mod keys;
mod sync;

/// The `terapi` binary cargo built for these tests.
const BIN: &str = env!("CARGO_BIN_EXE_terapi");
