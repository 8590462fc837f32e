//! The generator's fast tests, in one test binary (each file under `tests/` is a binary that
//! links the generator and its dependencies; one binary links once). The tests that run cargo
//! or read the real corpora are their own binaries: `corpus.rs`, `downstream.rs`,
//! `robustness.rs`; `cli.rs` tests the command line.
//!
//! Catalogs are built with [`common::Entry`] or kept as files under `fixtures/`; a location
//! asserted in a test is found in the text with [`common::at`].

mod common;

mod client;
mod diagnostics;
mod frontend;
mod rules;
mod schema;
mod self_hosted;
mod templates;
