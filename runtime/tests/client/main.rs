//! The HTTP client against fake providers on loopback, in one test binary: `actions`
//! (declared actions against a scripted server), `client` (the
//! generated Personio providers against the fake Personio), `oauth2`, `oauth1` and
//! `token_modes` (TWO_STEP and JWT, alone and shared through a store).
//! `hostile_servers` is a binary of its own: it asserts the process's peak memory.

mod actions;
mod client;
mod oauth1;
mod oauth2;
mod token_modes;
