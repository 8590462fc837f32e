//! A webhook delivery's body never panics the receiver's reader, whatever the bytes: the
//! envelope's validation and its dedupe key (`terapi-sync`'s `webhook/envelope.rs`, included
//! by path).
//!
//! Besides not panicking: a valid envelope has a non-empty `company_id` and `event_name` of at
//! most 200 characters; its dedupe key is 64 hex digits and the same for the same body, and
//! differs when the event name does.
#![no_main]

#[path = "../../sync/src/webhook/envelope.rs"]
#[allow(dead_code)]
mod envelope;

use envelope::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = Envelope::parse(data) else {
        return;
    };
    assert!(!envelope.company_id.is_empty() && envelope.company_id.len() <= 200);
    assert!(!envelope.event_name.is_empty() && envelope.event_name.len() <= 200);
    let key = envelope.dedupe_key();
    assert_eq!(key.len(), 64);
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(Envelope::parse(data).unwrap().dedupe_key(), key);
    let mut other = envelope.clone();
    other.event_name.push('x');
    assert_ne!(other.dedupe_key(), key);
});
