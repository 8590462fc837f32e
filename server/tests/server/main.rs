//! The server's tests: one binary of modules (see ARCHITECTURE.md, "Tests"). Each starts
//! servers on loopback over a store of test-support's databases, in front of the fakes.

mod access;
mod connect;
mod connect_page;
mod connections;
mod events;
mod flows;
mod live_support;
mod openapi;
mod outbox;
mod providers;
mod proxy;
mod support;
