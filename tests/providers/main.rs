//! The generated crate of providers.yaml, in one test binary: `personio` (the generated
//! Personio types), `generated` (the build output equals the committed copy), `loaded` (the
//! catalog loaded at run time against the generated code), `examples` (the examples run
//! against the fake Personio) and `rebuild` (cargo's rebuild behaviour with the Builder).
//! `allocations` is a binary of its own: it installs a counting global allocator.

mod actions;
mod examples;
mod generated;
mod loaded;
mod personio;
mod rebuild;
mod typed_records;
