//! Record ids: one rule for both databases, and one way to write a JSON id as text.
//!
//! A record id is the text a provider gives a record, normalized like this:
//! - a JSON string is taken as it is (no trimming, no case folding): `"7"` is `7`, `" 7"`
//!   and `"007"` are other ids;
//! - a JSON number that is an integer is written in decimal without a sign for positive
//!   numbers: `7`, `7.0` and `"7"` are the same record; a number with a fraction (`7.5`),
//!   or a float too large to be exact (beyond 2^53), is refused;
//! - anything else (`null`, `true`, an object, an array, an empty string) is refused.
//!
//! The text is then checked: at most [`MAX_RECORD_ID_BYTES`] bytes of UTF-8 and no control
//! character (U+0000 to U+001F, U+007F to U+009F). PostgreSQL refuses a NUL in text and
//! cannot index a key above about 2.7 KB, while SQLite takes both: the store refuses them on
//! both, so a record the one database refuses is refused by the other too. A sync sets such
//! a record aside (quarantined, with its page and index) and stores the rest of its page.

use serde_json::Value;

use crate::error::StoreError;

/// The longest record id, in bytes of UTF-8.
pub const MAX_RECORD_ID_BYTES: usize = 512;

/// The largest integer a JSON float holds exactly (2^53).
const MAX_EXACT_FLOAT: f64 = 9_007_199_254_740_992.0;

/// Why a value is not a record id (the rule it breaks).
fn invalid(id: &str, rule: String) -> StoreError {
    StoreError::InvalidRecordId {
        id: shown(id),
        rule,
    }
}

/// An id as messages show it: escaped, and cut after 64 characters.
fn shown(id: &str) -> String {
    let mut out = String::new();
    for (i, c) in id.chars().enumerate() {
        if i == 64 {
            out.push('…');
            break;
        }
        out.extend(c.escape_default());
    }
    out
}

/// Checks a record id: 1 to [`MAX_RECORD_ID_BYTES`] bytes, no control character
/// ([`StoreError::InvalidRecordId`] names the rule it breaks).
pub fn check_record_id(id: &str) -> Result<(), StoreError> {
    if id.is_empty() {
        return Err(invalid(id, "a record id is not empty".to_owned()));
    }
    if id.len() > MAX_RECORD_ID_BYTES {
        return Err(invalid(
            id,
            format!(
                "a record id has at most {MAX_RECORD_ID_BYTES} bytes, this one has {}",
                id.len()
            ),
        ));
    }
    if let Some((at, c)) = id.char_indices().find(|(_, c)| c.is_control()) {
        return Err(invalid(
            id,
            format!(
                "a record id has no control character, this one has U+{:04X} at byte {at}",
                u32::from(c)
            ),
        ));
    }
    Ok(())
}

/// The record id a JSON value gives, normalized and checked (see the module's rules); what
/// is missing or refused is a [`StoreError::InvalidRecordId`].
pub fn record_id(value: Option<&Value>) -> Result<String, StoreError> {
    let id = match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() <= MAX_EXACT_FLOAT => {
                        // Exact: |f| ≤ 2^53 fits an i64.
                        (f as i64).to_string()
                    }
                    _ => {
                        return Err(invalid(
                            &n.to_string(),
                            "a numeric record id is an integer (at most 2^53 when written as a float)"
                                .to_owned(),
                        ));
                    }
                }
            }
        }
        None | Some(Value::Null) => {
            return Err(invalid("", "a record has an id".to_owned()));
        }
        Some(other) => {
            let kind = match other {
                Value::Bool(_) => "a boolean",
                Value::Array(_) => "an array",
                _ => "an object",
            };
            return Err(invalid(
                "",
                format!("a record id is a string or an integer, not {kind}"),
            ));
        }
    };
    check_record_id(&id)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(v: Value) -> Result<String, String> {
        record_id(Some(&v)).map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_and_strings_are_normalized_one_way() {
        assert_eq!(id(json!(7)).unwrap(), "7");
        assert_eq!(id(json!(7.0)).unwrap(), "7");
        assert_eq!(id(json!("7")).unwrap(), "7");
        assert_eq!(id(json!(-3)).unwrap(), "-3");
        assert_eq!(id(json!(u64::MAX)).unwrap(), u64::MAX.to_string());
        assert_eq!(id(json!("007")).unwrap(), "007");
        assert_eq!(id(json!("p-1")).unwrap(), "p-1");
        assert!(id(json!(7.5)).unwrap_err().contains("integer"));
        assert!(id(json!(1e300)).unwrap_err().contains("integer"));
        assert!(id(json!(null)).unwrap_err().contains("has an id"));
        assert!(record_id(None).is_err());
        assert!(id(json!(true)).unwrap_err().contains("not a boolean"));
        assert!(id(json!({"a": 1})).unwrap_err().contains("not an object"));
        assert!(id(json!([1])).unwrap_err().contains("not an array"));
        assert!(id(json!("")).unwrap_err().contains("not empty"));
    }

    #[test]
    fn control_characters_and_long_ids_are_refused() {
        let e = id(json!("a\u{0}b")).unwrap_err();
        assert!(
            e.contains("U+0000 at byte 1") && e.contains("a\\u{0}b"),
            "{e}"
        );
        assert!(id(json!("tab\there")).unwrap_err().contains("U+0009"));
        assert!(id(json!("x\u{85}")).unwrap_err().contains("U+0085"));
        assert!(id(json!("é".repeat(256))).is_ok());
        let e = id(json!("x".repeat(3000))).unwrap_err();
        assert!(e.contains("at most 512 bytes, this one has 3000"), "{e}");
        assert!(e.len() < 300, "the id is cut: {e}");
    }
}
