//! Which model an event is about, and where its record's ids are in the payload.

use serde_json::{Map, Value};

use terapi_providers::integrations::personio_v2::syncs;
use terapi_runtime::sync::SyncSpec;

/// Events whose name starts with `prefix` are about the records of `spec`'s model.
#[derive(Debug, Clone)]
pub struct Route {
    /// `person.`
    pub prefix: &'static str,
    /// The model's spec (its `fetch_one` endpoint applies the event).
    pub spec: SyncSpec,
    /// Where the record's id is in the payload (first match wins).
    pub id_paths: &'static [&'static str],
    /// Where the parent's id is, for a child model.
    pub parent_paths: &'static [&'static str],
}

impl Route {
    /// The record's id (and the parent's) named by `payload`.
    pub fn ids(&self, payload: &Map<String, Value>) -> Option<(String, Option<String>)> {
        let payload = Value::Object(payload.clone());
        let find = |paths: &[&str]| {
            paths
                .iter()
                .find_map(|p| crate::engine::record_id(&payload, p))
        };
        let id = find(self.id_paths)?;
        if self.parent_paths.is_empty() {
            return Some((id, None));
        }
        Some((id, Some(find(self.parent_paths)?)))
    }

    /// Whether an event of this name deletes the record.
    pub fn deletes(event_name: &str) -> bool {
        event_name.ends_with(".deleted")
    }
}

/// Personio v2's person and employment events, applied with the declared syncs of
/// `personio-v2` (integrations.yaml). The payload's keys are not documented; the
/// ids are taken from `id` (or `person_id`/`employment_id`) and, for employments, the person
/// from `person.id` (or `person_id`).
pub fn personio_routes() -> Vec<Route> {
    vec![
        Route {
            prefix: "person.",
            spec: syncs::persons(),
            id_paths: &["id", "person_id", "person.id"],
            parent_paths: &[],
        },
        Route {
            prefix: "employment.",
            spec: syncs::employments(),
            id_paths: &["id", "employment_id", "employment.id"],
            parent_paths: &["person.id", "person_id"],
        },
    ]
}
