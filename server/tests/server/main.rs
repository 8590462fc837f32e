//! The server's tests, in one test binary: one module per part of the API.

mod outbox;
