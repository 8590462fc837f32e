//! The server's integration tests: one binary, one module per part.

mod connections;
mod live_support;
mod proxy;
