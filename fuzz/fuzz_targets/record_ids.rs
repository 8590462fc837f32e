//! A provider's record id never panics the store's id rule, whatever the bytes: the
//! normalization of a JSON id and its check (`terapi-store`'s `ids.rs`, included by path with
//! a stand-in for the store's error type: the rest of the store, its databases included, is
//! not built for fuzzing).
//!
//! Besides not panicking: an id that is accepted passes the check (1 to 512 bytes, no control
//! character) and is a fixed point (the id as a JSON string gives itself back); an integer
//! and its decimal text give the same id; the check of any text agrees with the rule as
//! written.
#![no_main]

/// The one variant `ids.rs` builds.
mod error {
    #[derive(Debug)]
    pub enum StoreError {
        InvalidRecordId {
            #[allow(dead_code)]
            id: String,
            #[allow(dead_code)]
            rule: String,
        },
    }
}

#[path = "../../store/src/ids.rs"]
#[allow(dead_code)]
mod ids;

use ids::{MAX_RECORD_ID_BYTES, check_record_id, record_id};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let follows_the_rule = !text.is_empty()
            && text.len() <= MAX_RECORD_ID_BYTES
            && !text.chars().any(char::is_control);
        assert_eq!(check_record_id(text).is_ok(), follows_the_rule, "{text:?}");
    }
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(id) = record_id(Some(&value)) else {
        return;
    };
    assert!(check_record_id(&id).is_ok(), "{id:?}");
    assert_eq!(
        record_id(Some(&Value::String(id.clone()))).ok().as_deref(),
        Some(id.as_str()),
        "a fixed point"
    );
    if let Value::Number(n) = &value
        && let Some(i) = n.as_i64()
    {
        assert_eq!(id, i.to_string());
    }
});
