//! The connection store, in one test binary: `store` (connections, schema, sealing), `records`
//! (synced records, events, webhooks, quarantine) and `store_refresh` (token refresh shared
//! between store handles and processes), each on SQLite and PostgreSQL.

mod records;
mod store;
mod store_refresh;
