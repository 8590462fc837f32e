//! The opaque cursors of `GET /records` and of `sync` events: base64url of a small JSON
//! naming the connection and model they belong to, the change feed's sequence, and for a
//! page's `next_cursor` where its read started.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The longest cursor read.
pub(crate) const MAX_CURSOR: usize = 1024;

/// What a cursor holds: the connection and model it is of, the change feed's sequence, and
/// for a page's `next_cursor` the sequence the read started from (what `last_action` is
/// relative to, so paging through one read does not change it).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cursor {
    c: String,
    m: String,
    s: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    b: Option<u64>,
}

/// The opaque cursor after `seq` in the feed of `model` of `connection`.
pub(crate) fn encode_cursor(connection: &str, model: &str, seq: u64) -> String {
    encode(connection, model, seq, None)
}

pub(crate) fn encode(connection: &str, model: &str, seq: u64, since: Option<u64>) -> String {
    let cursor = Cursor {
        c: connection.to_owned(),
        m: model.to_owned(),
        s: seq,
        b: since.filter(|b| *b != seq),
    };
    let json = serde_json::to_vec(&cursor).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

/// The sequence a cursor of `model` of `connection` holds and the one its read started
/// from; 400 `invalid_cursor` otherwise.
pub(crate) fn decode_cursor(
    connection: &str,
    model: &str,
    text: &str,
) -> Result<(u64, u64), ApiError> {
    let invalid = |why: &str| {
        ApiError::new(
            http::StatusCode::BAD_REQUEST,
            "invalid_cursor",
            format!(
                "`cursor` {why}: pass back a cursor this API gave for this connection and model, or none to start from the beginning"
            ),
        )
    };
    if text.len() > MAX_CURSOR {
        return Err(invalid("is too long"));
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| invalid("is not one"))?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid("is not one"))?;
    if cursor.c != connection || cursor.m != model {
        return Err(invalid("is of another connection or model"));
    }
    let since = cursor.b.unwrap_or(cursor.s);
    if since > cursor.s {
        return Err(invalid("is not one"));
    }
    Ok((cursor.s, since))
}
