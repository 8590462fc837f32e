//! Test support shared by the integration tests. Every test binary uses only a subset.
#![allow(dead_code)]

pub mod fake_oauth;
pub mod fake_oauth1;
pub mod fake_personio;
pub mod fake_tokens;
pub mod loopback;
pub mod personio_conn;
pub mod slow_client;
