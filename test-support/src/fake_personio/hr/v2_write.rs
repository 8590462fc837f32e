//! v2 writes: `PATCH /v2/persons/{person_id}/employments/{employment_id}` and
//! `POST /v2/persons`, with `application/problem+json` errors (400 for a body that is not a
//! JSON object, 404 for an unknown person or employment, 409 for a taken email, 422 for
//! invalid or unknown fields).

use std::collections::BTreeMap;

use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::super::{Recorded, Shared, json as respond_json, respond, v2_error};
use super::{Employment, Hr, Person, periods::parse_date};

/// Employment fields a write may set.
pub const EMPLOYMENT_FIELDS: &[&str] = &[
    "position",
    "status",
    "weekly_working_hours",
    "supervisor",
    "start_date",
    "type",
];

/// Employment statuses a write may set.
pub const EMPLOYMENT_STATUSES: &[&str] = &["ACTIVE", "INACTIVE", "ONBOARDING", "LEAVE"];

/// Employment types a write may set.
pub const EMPLOYMENT_TYPES: &[&str] = &["INTERNAL", "EXTERNAL"];

/// Person fields `POST /v2/persons` accepts.
pub const PERSON_FIELDS: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "preferred_name",
    "gender",
    "language_code",
    "custom_attributes",
    "employments",
];

/// A v2 error body with one entry per problem.
fn problems(shared: &Shared, status: StatusCode, title: &str, details: &[String]) -> Response {
    let trace_id = shared.lock().trace_id();
    let errors: Vec<Value> = details
        .iter()
        .map(|d| json!({"title": title, "detail": d}))
        .collect();
    respond(
        status,
        "application/problem+json",
        json!({"personio_trace_id": trace_id, "errors": errors}).to_string(),
    )
}

fn not_found(shared: &Shared) -> Response {
    v2_error(
        shared,
        StatusCode::NOT_FOUND,
        "Not Found",
        "common.requested_resource_not_found",
    )
}

fn body_object(rec: &Recorded) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(&rec.body) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn not_an_object(shared: &Shared) -> Response {
    v2_error(
        shared,
        StatusCode::BAD_REQUEST,
        "Bad Request",
        "The request body must be a JSON object",
    )
}

/// Applies the employment fields of `body` to `e`, collecting every problem (`prefix` names
/// the object in messages).
fn apply_employment(
    hr: &Hr,
    body: &Map<String, Value>,
    e: &mut Employment,
    prefix: &str,
    problems: &mut Vec<String>,
) {
    for (key, value) in body {
        let mut bad = |m: &str| problems.push(format!("{prefix}{key}: {m}"));
        match key.as_str() {
            "position" => match value {
                Value::String(s) if !s.trim().is_empty() => e.position = s.clone(),
                Value::Object(m) => match m.get("title") {
                    Some(Value::String(s)) if !s.trim().is_empty() => e.position = s.clone(),
                    _ => bad("position.title must be a non-empty string"),
                },
                _ => bad("must be a non-empty string or {\"title\": string}"),
            },
            "status" => match value.as_str() {
                Some(s) if EMPLOYMENT_STATUSES.contains(&s) => e.status = s.to_owned(),
                _ => bad(&format!(
                    "must be one of {}",
                    EMPLOYMENT_STATUSES.join(", ")
                )),
            },
            "weekly_working_hours" => match value.as_f64() {
                Some(h) if (0.0..=168.0).contains(&h) => e.weekly_working_hours = Some(h),
                _ => bad("must be a number from 0 to 168"),
            },
            "supervisor" => {
                let id = value.get("id").and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                });
                match id {
                    Some(id) if id.parse::<u64>().is_ok_and(|n| hr.persons.contains_key(&n)) => {
                        e.supervisor = Some(id);
                    }
                    Some(id) => bad(&format!("no person with id {id:?}")),
                    None => bad("must be {\"id\": <person id>}"),
                }
            }
            "start_date" => match value.as_str() {
                Some(s) if parse_date(s).is_some() => e.start_date = Some(s.to_owned()),
                _ => bad("must be a date (YYYY-MM-DD)"),
            },
            "type" => match value.as_str() {
                Some(s) if EMPLOYMENT_TYPES.contains(&s) => e.employment_type = Some(s.to_owned()),
                _ => bad(&format!("must be one of {}", EMPLOYMENT_TYPES.join(", "))),
            },
            _ => bad(&format!(
                "unknown or read-only field (writable: {})",
                EMPLOYMENT_FIELDS.join(", ")
            )),
        }
    }
}

/// `PATCH /v2/persons/{person_id}/employments/{employment_id}`: 200 with the employment as
/// `GET` shows it, its `updated_at` bumped (and `employment.updated` queued).
pub(super) fn patch_employment(
    shared: &Shared,
    rec: &Recorded,
    person: &str,
    employment: &str,
) -> Response {
    let Some(n) = person.parse::<u64>().ok() else {
        return not_found(shared);
    };
    let exists = shared
        .lock()
        .hr
        .persons
        .get(&n)
        .is_some_and(|p| p.employments.contains_key(employment));
    if !exists {
        return not_found(shared);
    }
    let Some(body) = body_object(rec) else {
        return not_an_object(shared);
    };
    let mut inner = shared.lock();
    let hr = &mut inner.hr;
    let Some(mut updated) = hr
        .persons
        .get(&n)
        .and_then(|p| p.employments.get(employment))
        .cloned()
    else {
        drop(inner);
        return not_found(shared);
    };
    let mut found = Vec::new();
    if body.is_empty() {
        found.push(format!(
            "at least one field is required ({})",
            EMPLOYMENT_FIELDS.join(", ")
        ));
    }
    apply_employment(hr, &body, &mut updated, "", &mut found);
    if !found.is_empty() {
        drop(inner);
        return problems(
            shared,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable Entity",
            &found,
        );
    }
    let at = hr.tick();
    updated.updated_at = at;
    let rendered = Hr::employment_json(n, employment, &updated);
    if let Some(slot) = hr
        .persons
        .get_mut(&n)
        .and_then(|p| p.employments.get_mut(employment))
    {
        *slot = updated;
    }
    hr.event(
        "employment.updated",
        at,
        json!({"id": employment, "person": {"id": person}}),
    );
    drop(inner);
    respond_json(StatusCode::OK, &rendered)
}

fn plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

/// `POST /v2/persons`: 201 `{id, _meta: {links: {self: {href}}}}` (and `person.created`,
/// `employment.created` queued).
pub(super) fn create_person(shared: &Shared, rec: &Recorded) -> Response {
    let Some(body) = body_object(rec) else {
        return not_an_object(shared);
    };
    let mut found: Vec<String> = Vec::new();
    let mut text = |key: &str, required: bool| -> Option<String> {
        match body.get(key) {
            None | Some(Value::Null) if !required => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            None | Some(Value::Null) => {
                found.push(format!("{key}: is required"));
                None
            }
            Some(_) => {
                found.push(format!("{key}: must be a non-empty string"));
                None
            }
        }
    };
    let email = text("email", true);
    let first_name = text("first_name", true);
    let last_name = text("last_name", true);
    let preferred_name = text("preferred_name", false);
    let gender = text("gender", false);
    let language_code = text("language_code", false);
    if let Some(e) = &email
        && !plausible_email(e)
    {
        found.push(format!("email: {e:?} is not a valid email address"));
    }
    if let Some(l) = &language_code
        && !(l.len() == 2 && l.bytes().all(|c| c.is_ascii_lowercase()))
    {
        found.push(format!(
            "language_code: {l:?} is not an ISO 639-1 code (two lowercase letters)"
        ));
    }
    for key in body.keys() {
        if !PERSON_FIELDS.contains(&key.as_str()) {
            found.push(format!(
                "{key}: unknown or read-only field (writable: {})",
                PERSON_FIELDS.join(", ")
            ));
        }
    }
    let mut custom_attributes = Vec::new();
    match body.get("custom_attributes") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let id_ok = item
                    .get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty());
                let value_ok = matches!(
                    item.get("value"),
                    Some(Value::String(_) | Value::Array(_) | Value::Number(_) | Value::Bool(_))
                );
                if id_ok && value_ok {
                    custom_attributes.push(json!({"id": item["id"], "value": item["value"]}));
                } else {
                    found.push(format!(
                        "custom_attributes[{i}]: must be {{\"id\": string, \"value\": ...}}"
                    ));
                }
            }
        }
        Some(_) => found.push("custom_attributes: must be an array".into()),
    }
    let mut inner = shared.lock();
    let hr = &mut inner.hr;
    let mut employments = Vec::new();
    match body.get("employments") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let Some(fields) = item.as_object() else {
                    found.push(format!("employments[{i}]: must be an object"));
                    continue;
                };
                let mut e = Employment {
                    status: "ACTIVE".into(),
                    position: String::new(),
                    ..Employment::default()
                };
                apply_employment(
                    hr,
                    fields,
                    &mut e,
                    &format!("employments[{i}]."),
                    &mut found,
                );
                employments.push(e);
            }
        }
        Some(_) => found.push("employments: must be an array".into()),
    }
    if !found.is_empty() {
        drop(inner);
        return problems(
            shared,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable Entity",
            &found,
        );
    }
    let (Some(email), Some(first_name), Some(last_name)) = (email, first_name, last_name) else {
        drop(inner);
        return problems(
            shared,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable Entity",
            &["email, first_name and last_name are required".to_owned()],
        );
    };
    if hr
        .persons
        .values()
        .any(|p| p.email.eq_ignore_ascii_case(&email))
    {
        drop(inner);
        return v2_error(
            shared,
            StatusCode::CONFLICT,
            "Conflict",
            "A person with this email already exists",
        );
    }
    let at = hr.tick();
    let n = hr.persons.keys().next_back().copied().unwrap_or(0) + 1;
    let id = n.to_string();
    let employments: BTreeMap<String, Employment> = employments
        .into_iter()
        .enumerate()
        .map(|(k, mut e)| {
            e.created_at = at;
            e.updated_at = at;
            (format!("{n}-e{}", k + 1), e)
        })
        .collect();
    let employment_ids: Vec<String> = employments.keys().cloned().collect();
    hr.persons.insert(
        n,
        Person {
            first_name,
            last_name,
            email,
            created_at: at,
            updated_at: at,
            employments,
            preferred_name,
            gender,
            language_code,
            custom_attributes,
        },
    );
    hr.event("person.created", at, json!({"id": id}));
    for e in employment_ids {
        hr.event(
            "employment.created",
            at,
            json!({"id": e, "person": {"id": id}}),
        );
    }
    drop(inner);
    let href = format!("/v2/persons/{id}");
    let mut response = respond_json(
        StatusCode::CREATED,
        &json!({"id": id, "_meta": {"links": {"self": {"href": href}}}}),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&href) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

impl super::super::FakePersonio {
    /// The employment as `GET /v2/persons/{person}/employments/{id}` shows it.
    pub fn employment(&self, person: &str, id: &str) -> Option<Value> {
        let n = person.parse::<u64>().ok()?;
        self.hr(|hr| {
            hr.persons
                .get(&n)
                .and_then(|p| p.employments.get(id))
                .map(|e| Hr::employment_json(n, id, e))
        })
    }

    /// The person as `GET /v2/persons/{id}` shows it.
    pub fn person(&self, id: &str) -> Option<Value> {
        let n = id.parse::<u64>().ok()?;
        self.hr(|hr| hr.persons.get(&n).map(|p| Hr::person_json(n, p)))
    }
}
