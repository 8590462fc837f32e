//! `GET /records` (scope `records`, `Connection-Id` header, `Provider-Config-Key` optional):
//! the synced records of one model of a connection, read from the store's change feed, in
//! the order they changed — nango's shape, with `_terapi_metadata` for its `_nango_metadata`.
//!
//! Query: `model` (required), `cursor`, `modified_after`, `limit`, `filter`.
//! - `model`: a declared sync of the connection's provider, by its name (`employees`, what
//!   the store keys its records by) or by its output model (`EmployeeRecord`, when only one
//!   sync outputs it). A model the provider declares no sync for is 404 `unknown_model`
//!   (naming the syncs there are); a declared one never synced answers no records.
//! - `cursor`: where the previous read stopped (a record's `_terapi_metadata.cursor`, a
//!   page's `next_cursor`, or `GET /sync/status`'s `cursor`); without it, from the
//!   beginning. Cursors are opaque, and bound to their connection and model: anything else
//!   is 400 `invalid_cursor`.
//! - `modified_after`: an RFC 3339 time: only records whose last change is at or after it.
//! - `filter`: `added`, `updated`, `deleted`, comma-separated: only records whose change
//!   since the cursor is of these kinds.
//! - `limit`: 1 to 1000 records (100 by default).
//!
//! Answer: `{records: [{…the record's fields…, _terapi_metadata: {first_seen_at,
//! last_modified_at, last_action, deleted_at, cursor}}], next_cursor}`. Each record appears
//! once, in its latest state; `last_action` (`ADDED`, `UPDATED`, `DELETED`) is what
//! happened to it since the cursor given (since the read's first cursor, through the
//! `next_cursor`s of its pages). A record whose fields have no `id` gets one (the
//! store's record id); a deleted record is only its `id` and `_terapi_metadata` (its former
//! content is not sent again). `next_cursor` is `null` when the feed has nothing more now;
//! else pass it back for the next page. With `filter` or `modified_after` a page may hold
//! fewer records than `limit` (at most 10,000 changes are looked at per request), even none,
//! with a `next_cursor` to continue. To follow changes over time, keep the last record's
//! `_terapi_metadata.cursor` and read from it later.

use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use serde_json::{Map, Value, json};
use terapi_runtime::sync::SyncSpec;
use terapi_store::{Change, ChangeKind, Model};

use crate::auth::{Key, need};
use crate::cursor::{decode_cursor, encode, encode_cursor};
use crate::error::ApiError;
use crate::flows::{self, rfc3339_ms};
use crate::state::Server;

/// The most changes looked at by one request (with filters that skip most of them).
const MAX_SCAN: usize = 10_000;
/// The smallest batch of changes read when a filter may skip some.
const FILTERED_BATCH: usize = 200;
/// The default page size.
const DEFAULT_LIMIT: usize = 100;
/// The largest page.
const MAX_LIMIT: usize = 1000;

pub(crate) fn routes() -> Router<Server> {
    Router::new().route("/records", get(records))
}

/// The query of `GET /records`.
#[derive(Debug, PartialEq)]
struct Query {
    model: String,
    cursor: Option<String>,
    modified_after: Option<i64>,
    limit: usize,
    /// Added, updated, deleted.
    kinds: [bool; 3],
}

fn parse_query(raw: Option<&str>) -> Result<Query, ApiError> {
    let mut model = None;
    let mut cursor = None;
    let mut modified_after = None;
    let mut limit = None;
    let mut filter = None;
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let slot = match key.as_ref() {
            "model" => &mut model,
            "cursor" => &mut cursor,
            "modified_after" => &mut modified_after,
            "limit" => &mut limit,
            "filter" => &mut filter,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{}`: the parameters are model, cursor, modified_after, limit and filter",
                    other.escape_default()
                )));
            }
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(ApiError::bad_request(format!(
                "the query parameter `{key}` is given twice"
            )));
        }
    }
    let model =
        model.ok_or_else(|| ApiError::bad_request("the query parameter `model` is required"))?;
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("`limit` is a whole number from 1 to {MAX_LIMIT}"))
            })?,
    };
    let modified_after = match modified_after {
        None => None,
        Some(text) => {
            let at = time::OffsetDateTime::parse(
                text.trim(),
                &time::format_description::well_known::Rfc3339,
            )
            .map_err(|_| {
                ApiError::bad_request(
                    "`modified_after` is an RFC 3339 time, e.g. 2026-12-07T10:00:00Z",
                )
            })?;
            Some(i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MIN))
        }
    };
    let kinds = match filter {
        None => [true; 3],
        Some(text) => {
            let mut kinds = [false; 3];
            for kind in text.split(',').map(str::trim) {
                match kind.to_ascii_lowercase().as_str() {
                    "added" => kinds[0] = true,
                    "updated" => kinds[1] = true,
                    "deleted" => kinds[2] = true,
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "`filter`: `{}` is not a kind of change: added, updated, deleted (comma-separated)",
                            kind.escape_default()
                        )));
                    }
                }
            }
            kinds
        }
    };
    Ok(Query {
        model,
        cursor,
        modified_after,
        limit,
        kinds,
    })
}

/// The declared sync of `provider` that `name` names: its name, else its output model when
/// one sync outputs it; 404 `unknown_model` otherwise.
pub(crate) fn sync_named<'a>(
    server: &'a Server,
    provider: &str,
    name: &str,
) -> Result<&'a SyncSpec, ApiError> {
    let syncs: &[SyncSpec] = server
        .inner
        .integrations
        .integration(provider)
        .map(|i| i.syncs.as_slice())
        .unwrap_or_default();
    if let Some(spec) = syncs.iter().find(|s| s.model == name) {
        return Ok(spec);
    }
    let by_output: Vec<&SyncSpec> = syncs
        .iter()
        .filter(|s| s.output.as_deref() == Some(name))
        .collect();
    match by_output.as_slice() {
        [one] => Ok(one),
        [] => {
            let known = if syncs.is_empty() {
                "it declares none".to_owned()
            } else {
                format!(
                    "its syncs are {}",
                    syncs
                        .iter()
                        .map(|s| &*s.model)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            Err(ApiError::new(
                http::StatusCode::NOT_FOUND,
                "unknown_model",
                format!(
                    "provider `{provider}` has no sync of model `{}`: {known}",
                    name.escape_default()
                ),
            ))
        }
        many => Err(ApiError::bad_request(format!(
            "model `{}` is the output of several syncs of provider `{provider}`: name one of {}",
            name.escape_default(),
            many.iter()
                .map(|s| &*s.model)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// What happened to the record of `change` since `since`.
fn action(change: &Change, since: u64) -> ChangeKind {
    match change.kind {
        ChangeKind::Deleted => ChangeKind::Deleted,
        _ if change.added_cursor > since => ChangeKind::Added,
        _ => ChangeKind::Updated,
    }
}

fn render(connection: &str, model: &str, change: Change, kind: ChangeKind) -> Value {
    let mut fields = match change.data {
        Some(Value::Object(map)) if kind != ChangeKind::Deleted => map,
        Some(other) if kind != ChangeKind::Deleted => {
            let mut map = Map::new();
            map.insert("data".into(), other);
            map
        }
        _ => Map::new(),
    };
    if !fields.contains_key("id") {
        fields.insert("id".into(), Value::String(change.id));
    }
    let last_action = match kind {
        ChangeKind::Added => "ADDED",
        ChangeKind::Updated => "UPDATED",
        ChangeKind::Deleted => "DELETED",
    };
    fields.insert(
        "_terapi_metadata".into(),
        json!({
            "first_seen_at": rfc3339_ms(change.first_seen_ms),
            "last_modified_at": rfc3339_ms(change.at_ms),
            "last_action": last_action,
            "deleted_at": change.deleted_at_ms.map(rfc3339_ms),
            "cursor": encode_cursor(connection, model, change.cursor),
        }),
    );
    Value::Object(fields)
}

async fn records(
    Key(_caller, _): Key<need::Records>,
    State(server): State<Server>,
    headers: http::HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = parse_query(raw.as_deref())?;
    let (connection, provider) = flows::connection_of(&server, &headers).await?;
    let spec = sync_named(&server, &provider, &query.model)?;
    let (start, since) = match &query.cursor {
        Some(text) => decode_cursor(&connection, &spec.model, text)?,
        None => (0, 0),
    };
    let model = Model {
        connection: &connection,
        name: &spec.model,
        personal: spec.personal,
    };
    let mut out = Vec::new();
    let mut position = start;
    let mut scanned = 0usize;
    // Without a filter every change is a record of the page; with one, changes are read in
    // batches of at least `FILTERED_BATCH` (not one query per record for `limit=1`).
    let filtered = query.modified_after.is_some() || query.kinds != [true; 3];
    let fetch = if filtered {
        query.limit.max(FILTERED_BATCH)
    } else {
        query.limit
    };
    let next = 'pages: loop {
        let batch = server.store().changes(model, position, fetch).await?;
        let exhausted = batch.changes.len() < fetch;
        for change in batch.changes {
            position = change.cursor;
            scanned += 1;
            let kind = action(&change, since);
            let wanted = query.kinds[match kind {
                ChangeKind::Added => 0,
                ChangeKind::Updated => 1,
                ChangeKind::Deleted => 2,
            }] && query
                .modified_after
                .is_none_or(|after| change.at_ms >= after);
            if wanted {
                out.push(render(&connection, &spec.model, change, kind));
                if out.len() == query.limit {
                    break 'pages Some(position);
                }
            }
        }
        if exhausted {
            break None;
        }
        if scanned >= MAX_SCAN {
            break Some(position);
        }
    };
    Ok(Json(json!({
        "records": out,
        "next_cursor": next.map(|seq| encode(&connection, &spec.model, seq, Some(since))),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = encode_cursor("hr", "employees", 42);
        assert_eq!(decode_cursor("hr", "employees", &c).unwrap(), (42, 42));
        let paged = encode("hr", "employees", 42, Some(7));
        assert_eq!(decode_cursor("hr", "employees", &paged).unwrap(), (42, 7));
        let backwards = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"c":"hr","m":"employees","s":1,"b":2}"#);
        assert!(decode_cursor("hr", "employees", &backwards).is_err());
        assert!(!c.contains('='), "{c}");
        for bad in [
            "",
            "42",
            "!!!",
            &"A".repeat(2000),
            &encode_cursor("hr", "attendances", 1),
            &encode_cursor("other", "employees", 1),
        ] {
            let e = decode_cursor("hr", "employees", bad).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.code),
                (400, "invalid_cursor"),
                "{bad}"
            );
        }
        let extra = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"c":"hr","m":"employees","s":1,"x":2}"#);
        assert!(decode_cursor("hr", "employees", &extra).is_err());
        let negative = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"c":"hr","m":"employees","s":-1}"#);
        assert!(decode_cursor("hr", "employees", &negative).is_err());
    }

    #[test]
    fn queries() {
        let q = parse_query(Some("model=employees")).unwrap();
        assert_eq!(
            (q.limit, q.kinds, q.cursor, q.modified_after),
            (100, [true; 3], None, None)
        );
        let q = parse_query(Some(
            "model=employees&limit=1000&filter=ADDED,deleted&modified_after=1970-01-01T00:00:01.5Z",
        ))
        .unwrap();
        assert_eq!(
            (q.limit, q.kinds, q.modified_after),
            (1000, [true, false, true], Some(1500))
        );
        for bad in [
            "",
            "limit=5",
            "model=a&limit=0",
            "model=a&limit=1001",
            "model=a&limit=-1",
            "model=a&limit=x",
            "model=a&filter=",
            "model=a&filter=added,created",
            "model=a&modified_after=yesterday",
            "model=a&modified_after=2026-12-07",
            "model=a&model=b",
            "model=a&delta=1",
        ] {
            let e = parse_query(Some(bad)).unwrap_err();
            assert_eq!(e.status.as_u16(), 400, "{bad}");
        }
    }
}
