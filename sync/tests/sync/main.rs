//! The sync engine and the webhook receiver against the fake Personio, in one test binary:
//! `sync`, `sync_hostile` (a provider that misbehaves), `sync_skew_ids` (clock skew, odd ids)
//! and `webhooks`.

mod second_provider;
mod sync;
mod sync_hostile;
mod sync_skew_ids;
mod webhooks;
