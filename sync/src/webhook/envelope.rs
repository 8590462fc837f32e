//! The delivery envelope: `company_id`, `event_name`, `occurred_at` and `payload` required
//! (JSON Schema draft 2019-09 in Personio's reference), `meta` optional.

use serde_json::{Map, Value};
use sha2::Digest as _;

/// A delivery's envelope, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The company the event is of.
    pub company_id: String,
    /// `person.updated`, ...
    pub event_name: String,
    /// When it happened (unix milliseconds).
    pub occurred_at_ms: i64,
    /// The ids the event names.
    pub payload: Map<String, Value>,
    /// The whole envelope as received.
    pub raw: Value,
}

/// Why an envelope is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook envelope: {0}")]
pub struct EnvelopeError(pub String);

impl Envelope {
    /// Validates a delivery's body.
    pub fn parse(body: &[u8]) -> Result<Envelope, EnvelopeError> {
        let raw: Value = serde_json::from_slice(body)
            .map_err(|e| EnvelopeError(format!("the body is not JSON ({e})")))?;
        let object = raw
            .as_object()
            .ok_or_else(|| EnvelopeError("the body is not a JSON object".to_owned()))?;
        let text = |key: &str| -> Result<String, EnvelopeError> {
            match object.get(key) {
                Some(Value::String(s)) if !s.is_empty() && s.len() <= 200 => Ok(s.clone()),
                Some(Value::String(_)) => Err(EnvelopeError(format!(
                    "`{key}` is empty or longer than 200 characters"
                ))),
                Some(_) => Err(EnvelopeError(format!("`{key}` is not a string"))),
                None => Err(EnvelopeError(format!("`{key}` is missing"))),
            }
        };
        let company_id = text("company_id")?;
        let event_name = text("event_name")?;
        let occurred = text("occurred_at")?;
        let occurred_at =
            time::OffsetDateTime::parse(&occurred, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    EnvelopeError("`occurred_at` is not an RFC 3339 date-time".to_owned())
                })?;
        let occurred_at_ms =
            i64::try_from(occurred_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let payload = match object.get("payload") {
            Some(Value::Object(p)) => p.clone(),
            Some(_) => return Err(EnvelopeError("`payload` is not an object".to_owned())),
            None => return Err(EnvelopeError("`payload` is missing".to_owned())),
        };
        if let Some(meta) = object.get("meta")
            && !meta.is_object()
        {
            return Err(EnvelopeError("`meta` is not an object".to_owned()));
        }
        Ok(Envelope {
            company_id,
            event_name,
            occurred_at_ms,
            payload,
            raw,
        })
    }

    /// What identifies this event across redeliveries: the SHA-256 of the event name, the
    /// payload (keys sorted) and the time (to the millisecond).
    pub fn dedupe_key(&self) -> String {
        let mut h = sha2::Sha256::new();
        h.update(self.event_name.as_bytes());
        h.update([0]);
        h.update(canonical(&Value::Object(self.payload.clone())).as_bytes());
        h.update([0]);
        h.update(self.occurred_at_ms.to_string().as_bytes());
        hex::encode(h.finalize())
    }
}

fn canonical(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn valid_envelopes_and_their_dedupe_keys() {
        let a = Envelope::parse(&body(serde_json::json!({
            "company_id": "42", "event_name": "person.updated",
            "occurred_at": "2026-12-01T10:00:00.123Z", "payload": {"id": "7", "x": 1}
        })))
        .unwrap();
        assert_eq!(a.occurred_at_ms, 1_796_119_200_123);
        let b = Envelope::parse(&body(serde_json::json!({
            "payload": {"x": 1, "id": "7"}, "occurred_at": "2026-12-01T11:00:00.123+01:00",
            "event_name": "person.updated", "company_id": "42", "meta": {"k": "v"}
        })))
        .unwrap();
        assert_eq!(a.dedupe_key(), b.dedupe_key());
        let c = Envelope::parse(&body(serde_json::json!({
            "company_id": "42", "event_name": "person.updated",
            "occurred_at": "2026-12-01T10:00:00.124Z", "payload": {"id": "7", "x": 1}
        })))
        .unwrap();
        assert_ne!(a.dedupe_key(), c.dedupe_key());
    }

    #[test]
    fn invalid_envelopes_say_why() {
        let cases = [
            (b"not json".to_vec(), "not JSON"),
            (body(serde_json::json!([])), "not a JSON object"),
            (
                body(
                    serde_json::json!({"event_name": "e", "occurred_at": "2026-12-01T10:00:00Z", "payload": {}}),
                ),
                "`company_id` is missing",
            ),
            (
                body(
                    serde_json::json!({"company_id": 1, "event_name": "e", "occurred_at": "2026-12-01T10:00:00Z", "payload": {}}),
                ),
                "`company_id` is not a string",
            ),
            (
                body(
                    serde_json::json!({"company_id": "1", "event_name": "e", "occurred_at": "yesterday", "payload": {}}),
                ),
                "RFC 3339",
            ),
            (
                body(
                    serde_json::json!({"company_id": "1", "event_name": "e", "occurred_at": "2026-12-01T10:00:00Z", "payload": []}),
                ),
                "`payload` is not an object",
            ),
            (
                body(
                    serde_json::json!({"company_id": "1", "event_name": "e", "occurred_at": "2026-12-01T10:00:00Z"}),
                ),
                "`payload` is missing",
            ),
            (
                body(
                    serde_json::json!({"company_id": "1", "event_name": "e", "occurred_at": "2026-12-01T10:00:00Z", "payload": {}, "meta": 3}),
                ),
                "`meta`",
            ),
        ];
        for (b, want) in cases {
            let err = Envelope::parse(&b).unwrap_err().to_string();
            assert!(err.contains(want), "{err} should say {want}");
        }
    }
}
