//! Webhooks of `personio-v2`: subscriptions through the provider's API, a receiver that
//! stores each delivery before answering it, and an applier that brings the records up to
//! date.
//!
//! Personio's deliveries are "dataless": they name a person or an employment, not its data,
//! and carry no event id. The receiver deduplicates on what the envelope has (the event
//! name, the payload and `occurred_at`), so a delivery repeated 14 times is stored once; the
//! applier fetches the record the event names, so applying an older event after a newer one
//! stores the provider's current state, and a record observed later is never overwritten by
//! data observed earlier.

mod apply;
mod envelope;
mod receiver;
mod routes;
mod subscribe;

pub use apply::{Applier, ApplyReport};
pub use envelope::{Envelope, EnvelopeError};
pub use receiver::{ReceiverConfig, WebhookReceiver};
pub use routes::{Route, personio_routes};
pub use subscribe::{list, remove, subscribe};
