//! The connection store, in one test binary: `api_keys` (API keys, connect sessions),
//! `store` (connections, schema, sealing), `records`
//! (synced records, events, webhooks, quarantine) and `store_refresh` (token refresh shared
//! between store handles and processes), each on SQLite and PostgreSQL.

mod api_keys;
mod records;
mod store;
mod store_refresh;
