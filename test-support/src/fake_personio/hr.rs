//! The fake Personio's HR data, for syncs and webhooks: employees (v1), persons and their
//! employments (v2) as a mutable dataset with a strictly increasing server clock; the v1 and
//! v2 list endpoints over it (filters `updated_since` / `updated_at.gt`); `/v2/webhooks`; and
//! a delivery loop that posts the events of every change to the subscribed URLs with
//! redeliveries, reordering and Personio's retry rule (at most 14 requests per event).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

mod periods;
mod v2_write;

pub use periods::TIME_OFF_TYPES;

use super::{
    FakePersonio, NextLinkMode, Recorded, Shared, bearer, json as respond_json, pair, query_pairs,
    request_origin, v1_error, v2_error,
};

/// 2026-01-01T00:00:00Z: when the generated records were created and last changed.
pub const GENERATED_AT_MS: i64 = 1_767_225_600_000;

#[derive(Clone, Debug)]
pub(super) struct Employee {
    first_name: String,
    last_name: String,
    email: String,
    created_at: i64,
    updated_at: i64,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Employment {
    status: String,
    position: String,
    created_at: i64,
    updated_at: i64,
    /// Set through `PATCH`/`POST` only (listed when set).
    weekly_working_hours: Option<f64>,
    supervisor: Option<String>,
    start_date: Option<String>,
    employment_type: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Person {
    first_name: String,
    last_name: String,
    email: String,
    created_at: i64,
    updated_at: i64,
    employments: BTreeMap<String, Employment>,
    /// Set through `POST /v2/persons` only (listed when set).
    preferred_name: Option<String>,
    gender: Option<String>,
    language_code: Option<String>,
    custom_attributes: Vec<Value>,
}

#[derive(Clone, Debug)]
struct Hook {
    url: String,
    description: String,
    status: String,
    auth_type: String,
    token: Option<String>,
    custom_headers: BTreeMap<String, String>,
    events: Vec<String>,
}

impl Hook {
    fn listed(&self, id: &str) -> Value {
        json!({
            "id": id,
            "url": self.url,
            "description": self.description,
            "status": self.status,
            "auth_type": self.auth_type,
            "enabled_events": self.events,
        })
    }
}

/// How [`FakePersonio::deliver`] posts the queued events.
#[derive(Clone, Copy, Debug)]
pub struct Delivery {
    /// Each event is posted this many times (redeliveries).
    pub copies: usize,
    /// Shuffles all the posts with this seed (out-of-order delivery).
    pub shuffle_seed: Option<u64>,
    /// Posts at once.
    pub concurrency: usize,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            copies: 1,
            shuffle_seed: None,
            concurrency: 1,
        }
    }
}

/// What [`FakePersonio::deliver`] did.
#[derive(Clone, Debug, Default)]
pub struct DeliveryReport {
    /// HTTP requests made.
    pub requests: usize,
    /// Posts that got a 2xx.
    pub delivered: usize,
    /// Every response status, in order (0: no response).
    pub statuses: Vec<u16>,
}

/// Switchable hostile behaviours of the HR lists (see [`FakePersonio::set_hostile`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hostile {
    /// `/v1/company/employees` and `/v2/persons` answer one successful empty page (total 0).
    pub empty_listing: bool,
    /// Every `/v2/persons/{id}/employments` answers 404, though `/v2/persons/{id}` exists.
    pub child_list_404: bool,
    /// The lists ignore their offset or cursor: every page is the first one, and the listing
    /// never ends (v1 states a million pages, v2 always has a `next` link).
    pub repeat_page: bool,
    /// v1's `metadata.total_elements` is off by this much from the records it serves.
    pub total_skew: i64,
}

/// The HR state of the fake.
#[derive(Debug)]
pub(super) struct Hr {
    employees: BTreeMap<u64, Employee>,
    persons: BTreeMap<u64, Person>,
    clock: i64,
    hooks: BTreeMap<String, Hook>,
    hook_counter: u64,
    /// (webhook id, envelope) not yet delivered.
    queue: Vec<(String, Value)>,
    /// (path prefix, successful requests left, status after them).
    fail_after: Option<(String, usize, u16)>,
    served: BTreeMap<String, usize>,
    /// `X-RateLimit-Remaining` / `X-RateLimit-Reset` (seconds) on every answer.
    rate_headers: Option<(u64, u64)>,
    /// How far the server's clock runs behind the real one (ms): its `Date` header and the
    /// `updated_at` it stamps.
    skew_ms: i64,
    /// Whether its `Date` header is unreadable (a provider that sends a broken one).
    date_unreadable: bool,
    /// Raw records listed after the persons of `/v2/persons` (odd ids), with the time they
    /// were listed from.
    extra_persons: Vec<(i64, Value)>,
    hostile: Hostile,
    /// The id the next `POST /v2/webhooks` gives its webhook (a hostile provider's).
    next_hook_id: Option<String>,
    /// v1 attendances and absence periods.
    periods: periods::Periods,
}

impl Default for Hr {
    fn default() -> Self {
        let mut hr = Hr {
            employees: BTreeMap::new(),
            persons: BTreeMap::new(),
            clock: GENERATED_AT_MS,
            hooks: BTreeMap::new(),
            hook_counter: 0,
            queue: Vec::new(),
            fail_after: None,
            served: BTreeMap::new(),
            rate_headers: None,
            skew_ms: 0,
            date_unreadable: false,
            extra_persons: Vec::new(),
            hostile: Hostile::default(),
            next_hook_id: None,
            periods: periods::Periods::seeded(),
        };
        hr.set_employees(250);
        hr.set_persons(120);
        hr
    }
}

fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`) of unix milliseconds.
fn http_date(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        &t.weekday().to_string()[..3],
        t.day(),
        &t.month().to_string()[..3],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS` (UTC) or RFC 3339, as unix milliseconds.
fn parse_time(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok();
    }
    let with_zone = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        format!("{s}Z")
    };
    let t = time::OffsetDateTime::parse(&with_zone, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Hr {
    fn tick(&mut self) -> i64 {
        self.clock = (now_ms() - self.skew_ms).max(self.clock + 1);
        self.clock
    }

    pub(super) fn set_employees(&mut self, n: usize) {
        self.employees = (1..=n as u64)
            .map(|i| {
                (
                    i,
                    Employee {
                        first_name: format!("First{i}"),
                        last_name: format!("Last{i}"),
                        email: format!("employee{i}@example.com"),
                        created_at: GENERATED_AT_MS,
                        updated_at: GENERATED_AT_MS,
                    },
                )
            })
            .collect();
    }

    pub(super) fn set_persons(&mut self, n: usize) {
        self.persons = (1..=n as u64)
            .map(|i| {
                let employment = Employment {
                    status: "ACTIVE".into(),
                    position: format!("Position {i}"),
                    created_at: GENERATED_AT_MS,
                    updated_at: GENERATED_AT_MS,
                    ..Employment::default()
                };
                (
                    i,
                    Person {
                        first_name: format!("First{i}"),
                        last_name: format!("Last{i}"),
                        email: format!("person{i}@example.com"),
                        created_at: GENERATED_AT_MS,
                        updated_at: GENERATED_AT_MS,
                        employments: BTreeMap::from([(format!("{i}-e1"), employment)]),
                        ..Person::default()
                    },
                )
            })
            .collect();
    }

    fn event(&mut self, name: &str, at: i64, payload: Value) {
        let envelope = json!({
            "company_id": FakePersonio::COMPANY_ID,
            "event_name": name,
            "occurred_at": rfc3339(at),
            "payload": payload,
        });
        for (id, hook) in &self.hooks {
            if hook.status == "ENABLED" && hook.events.iter().any(|e| e == name) {
                self.queue.push((id.clone(), envelope.clone()));
            }
        }
    }

    fn person_json(id: u64, p: &Person) -> Value {
        let mut v = json!({
            "id": id.to_string(),
            "first_name": p.first_name,
            "last_name": p.last_name,
            "email": p.email,
            "created_at": rfc3339(p.created_at),
            "updated_at": rfc3339(p.updated_at),
            "employments": p.employments.keys().map(|e| json!({"id": e})).collect::<Vec<_>>(),
        });
        for (key, value) in [
            ("preferred_name", &p.preferred_name),
            ("gender", &p.gender),
            ("language_code", &p.language_code),
        ] {
            if let Some(value) = value {
                v[key] = json!(value);
            }
        }
        if !p.custom_attributes.is_empty() {
            v["custom_attributes"] = json!(p.custom_attributes);
        }
        v
    }

    fn employment_json(person: u64, id: &str, e: &Employment) -> Value {
        let mut v = json!({
            "id": id,
            "person": {"id": person.to_string()},
            "status": e.status,
            "position": {"title": e.position},
            "created_at": rfc3339(e.created_at),
            "updated_at": rfc3339(e.updated_at),
        });
        if let Some(h) = e.weekly_working_hours {
            v["weekly_working_hours"] = json!(h);
        }
        if let Some(s) = &e.supervisor {
            v["supervisor"] = json!({"id": s});
        }
        if let Some(d) = &e.start_date {
            v["start_date"] = json!(d);
        }
        if let Some(t) = &e.employment_type {
            v["type"] = json!(t);
        }
        v
    }

    /// Whether the request gets the injected failure (counted per successful request).
    fn failure(&mut self, path: &str) -> Option<u16> {
        let (prefix, left, status) = self.fail_after.as_mut()?;
        if !path.starts_with(prefix.as_str()) {
            return None;
        }
        if *left == 0 {
            Some(*status)
        } else {
            *left -= 1;
            None
        }
    }
}

impl FakePersonio {
    fn hr<T>(&self, f: impl FnOnce(&mut Hr) -> T) -> T {
        f(&mut self.shared.lock().hr)
    }

    /// Renames an employee (stamping `last_modified_at`); whether it exists.
    pub fn update_employee(&self, id: u64, first_name: &str) -> bool {
        self.hr(|hr| {
            let at = hr.tick();
            match hr.employees.get_mut(&id) {
                Some(e) => {
                    e.first_name = first_name.to_owned();
                    e.updated_at = at;
                    true
                }
                None => false,
            }
        })
    }

    /// Deletes an employee; whether it existed.
    pub fn delete_employee(&self, id: u64) -> bool {
        self.hr(|hr| hr.employees.remove(&id).is_some())
    }

    /// Adds an employee; its id.
    pub fn add_employee(&self) -> u64 {
        self.hr(|hr| {
            let at = hr.tick();
            let id = hr.employees.keys().next_back().copied().unwrap_or(0) + 1;
            hr.employees.insert(
                id,
                Employee {
                    first_name: format!("First{id}"),
                    last_name: format!("Last{id}"),
                    email: format!("employee{id}@example.com"),
                    created_at: at,
                    updated_at: at,
                },
            );
            id
        })
    }

    /// The employees' ids.
    pub fn employee_ids(&self) -> Vec<u64> {
        self.hr(|hr| hr.employees.keys().copied().collect())
    }

    /// Renames a person (`person.updated`); whether it exists.
    pub fn update_person(&self, id: &str, first_name: &str) -> bool {
        let Ok(n) = id.parse::<u64>() else {
            return false;
        };
        self.hr(|hr| {
            let at = hr.tick();
            let Some(p) = hr.persons.get_mut(&n) else {
                return false;
            };
            p.first_name = first_name.to_owned();
            p.updated_at = at;
            hr.event("person.updated", at, json!({"id": id}));
            true
        })
    }

    /// Deletes a person and its employments (`employment.deleted` each, then
    /// `person.deleted`); whether it existed.
    pub fn delete_person(&self, id: &str) -> bool {
        let Ok(n) = id.parse::<u64>() else {
            return false;
        };
        self.hr(|hr| {
            let at = hr.tick();
            let Some(p) = hr.persons.remove(&n) else {
                return false;
            };
            for e in p.employments.keys() {
                hr.event(
                    "employment.deleted",
                    at,
                    json!({"id": e, "person": {"id": id}}),
                );
            }
            hr.event("person.deleted", at, json!({"id": id}));
            true
        })
    }

    /// Adds a person with one employment (`person.created`, `employment.created`); its id.
    pub fn add_person(&self) -> String {
        self.hr(|hr| {
            let at = hr.tick();
            let n = hr.persons.keys().next_back().copied().unwrap_or(0) + 1;
            let id = n.to_string();
            let employment = format!("{n}-e1");
            hr.persons.insert(
                n,
                Person {
                    first_name: format!("First{n}"),
                    last_name: format!("Last{n}"),
                    email: format!("person{n}@example.com"),
                    created_at: at,
                    updated_at: at,
                    employments: BTreeMap::from([(
                        employment.clone(),
                        Employment {
                            status: "ACTIVE".into(),
                            position: "New".into(),
                            created_at: at,
                            updated_at: at,
                            ..Employment::default()
                        },
                    )]),
                    ..Person::default()
                },
            );
            hr.event("person.created", at, json!({"id": id}));
            hr.event(
                "employment.created",
                at,
                json!({"id": employment, "person": {"id": id}}),
            );
            id
        })
    }

    /// The persons' ids, in order.
    pub fn person_ids(&self) -> Vec<String> {
        self.hr(|hr| hr.persons.keys().map(u64::to_string).collect())
    }

    /// Changes an employment's position (`employment.updated`); whether it exists.
    pub fn update_employment(&self, person: &str, employment: &str, position: &str) -> bool {
        let Ok(n) = person.parse::<u64>() else {
            return false;
        };
        self.hr(|hr| {
            let at = hr.tick();
            let Some(e) = hr
                .persons
                .get_mut(&n)
                .and_then(|p| p.employments.get_mut(employment))
            else {
                return false;
            };
            e.position = position.to_owned();
            e.updated_at = at;
            hr.event(
                "employment.updated",
                at,
                json!({"id": employment, "person": {"id": person}}),
            );
            true
        })
    }

    /// After `ok_requests` more successful requests to paths starting with `path_prefix`,
    /// every further one gets `status`, until [`FakePersonio::clear_fail_after`].
    pub fn fail_after(&self, path_prefix: &str, ok_requests: usize, status: u16) {
        self.hr(|hr| hr.fail_after = Some((path_prefix.to_owned(), ok_requests, status)));
    }

    /// Ends [`FakePersonio::fail_after`].
    pub fn clear_fail_after(&self) {
        self.hr(|hr| hr.fail_after = None);
    }

    /// Sends `X-RateLimit-Remaining: remaining` and `X-RateLimit-Reset: reset_secs` with
    /// every answer of the HR endpoints (`None`: no such headers).
    pub fn set_rate_headers(&self, headers: Option<(u64, u64)>) {
        self.hr(|hr| hr.rate_headers = headers);
    }

    /// Runs the server's clock `behind` the real one: its `Date` header and the times it
    /// stamps on changes from now on (a provider whose clock is late).
    pub fn set_clock_behind(&self, behind: Duration) {
        self.hr(|hr| hr.skew_ms = i64::try_from(behind.as_millis()).unwrap_or(i64::MAX));
    }

    /// Sends an unreadable `Date` header (`yesterday`) instead of its clock.
    pub fn set_date_unreadable(&self, unreadable: bool) {
        self.hr(|hr| hr.date_unreadable = unreadable);
    }

    /// Lists these raw records after the persons of `/v2/persons` (odd ids: numbers, NUL
    /// bytes, very long ones), as changed now.
    pub fn set_extra_persons(&self, records: Vec<Value>) {
        self.hr(|hr| {
            let at = hr.tick();
            hr.extra_persons = records.into_iter().map(|r| (at, r)).collect();
        });
    }

    /// Switches the hostile behaviours of the HR lists ([`Hostile::default`]: none).
    pub fn set_hostile(&self, hostile: Hostile) {
        self.hr(|hr| hr.hostile = hostile);
    }

    /// How many 2xx answers `path` (exactly) got.
    pub fn pages_served(&self, path: &str) -> usize {
        self.hr(|hr| hr.served.get(path).copied().unwrap_or(0))
    }

    /// Gives the next webhook created the id `id` (e.g. one with control characters).
    pub fn set_next_webhook_id(&self, id: &str) {
        self.hr(|hr| hr.next_hook_id = Some(id.to_owned()));
    }

    /// The webhooks, as `GET /v2/webhooks` lists them (no token).
    pub fn webhooks(&self) -> Vec<Value> {
        self.hr(|hr| hr.hooks.iter().map(|(id, h)| h.listed(id)).collect())
    }

    /// The token a webhook sends (what the subscriber gave).
    pub fn webhook_token(&self, id: &str) -> Option<String> {
        self.hr(|hr| hr.hooks.get(id).and_then(|h| h.token.clone()))
    }

    /// The envelopes not delivered yet.
    pub fn queued_events(&self) -> Vec<Value> {
        self.hr(|hr| hr.queue.iter().map(|(_, e)| e.clone()).collect())
    }

    /// Posts the queued events to their webhooks as `plan` says, with Personio's retry rule
    /// (a timeout, a transport error or a 5xx other than 501 is retried; 4xx is not; at most
    /// 14 requests per event), and empties the queue.
    pub async fn deliver(&self, plan: Delivery) -> DeliveryReport {
        let (queue, hooks) = self.hr(|hr| (std::mem::take(&mut hr.queue), hr.hooks.clone()));
        let mut posts: Vec<(usize, String, Value)> = Vec::new();
        for (i, (hook, envelope)) in queue.into_iter().enumerate() {
            for _ in 0..plan.copies.max(1) {
                posts.push((i, hook.clone(), envelope.clone()));
            }
        }
        if let Some(seed) = plan.shuffle_seed {
            let mut state = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut next = move || {
                // splitmix64
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^ (z >> 31)
            };
            for i in (1..posts.len()).rev() {
                let j = (next() % (i as u64 + 1)) as usize;
                posts.swap(i, j);
            }
        }
        let client = crate::http_client()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(3))
            .build()
            .expect("a reqwest client");
        let budget: std::sync::Mutex<BTreeMap<usize, usize>> = Default::default();
        let report = std::sync::Mutex::new(DeliveryReport::default());
        let post = |(event, hook_id, envelope): (usize, String, Value)| {
            let client = client.clone();
            let hook = hooks.get(&hook_id).cloned();
            let budget = &budget;
            let report = &report;
            async move {
                let Some(hook) = hook else { return };
                loop {
                    {
                        let mut used = budget.lock().unwrap();
                        let n = used.entry(event).or_default();
                        if *n >= 14 {
                            return;
                        }
                        *n += 1;
                    }
                    let mut request = client
                        .post(&hook.url)
                        .header("content-type", "application/json")
                        .body(envelope.to_string());
                    match hook.auth_type.as_str() {
                        "TOKEN" => {
                            if let Some(t) = &hook.token {
                                request = request.header("authorization", t);
                            }
                        }
                        "CUSTOM" => {
                            for (k, v) in &hook.custom_headers {
                                request = request.header(k, v);
                            }
                        }
                        _ => {}
                    }
                    let status = match request.send().await {
                        Ok(r) => r.status().as_u16(),
                        Err(_) => 0,
                    };
                    let mut r = report.lock().unwrap();
                    r.requests += 1;
                    r.statuses.push(status);
                    if (200..300).contains(&status) {
                        r.delivered += 1;
                        return;
                    }
                    let retry = status == 0 || (status >= 500 && status != 501);
                    if !retry {
                        return;
                    }
                }
            }
        };
        use futures_util::StreamExt as _;
        futures_util::stream::iter(posts)
            .map(post)
            .buffer_unordered(plan.concurrency.max(1))
            .collect::<Vec<()>>()
            .await;
        report.into_inner().unwrap()
    }
}

/// Whether this module serves `path`.
pub(super) fn serves(path: &str) -> bool {
    path == "/v1/company/employees"
        || path == "/v1/company/attendances"
        || path.starts_with("/v1/company/attendances/")
        || path == "/v1/company/absence-periods"
        || path == "/v2/persons"
        || path.starts_with("/v2/persons/")
        || path == "/v2/webhooks"
        || path.starts_with("/v2/webhooks/")
}

pub(super) fn dispatch(shared: &Shared, rec: &Recorded, method: &Method) -> Response {
    // The method is checked first, as the other endpoints do.
    if let Some(allowed) = methods(&rec.path)
        && !allowed.split(", ").any(|m| m == method.as_str())
    {
        return super::method_not_allowed(allowed);
    }
    let v2 = rec.path.starts_with("/v2/");
    let valid = {
        let inner = shared.lock();
        bearer(rec).is_some_and(|t| {
            if v2 {
                inner.v2_tokens.contains(t)
            } else {
                inner.v1_tokens.contains(t)
            }
        })
    };
    if !valid {
        return if v2 {
            v2_error(
                shared,
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "The access token is missing, invalid or expired",
            )
        } else {
            v1_error(
                StatusCode::UNAUTHORIZED,
                0,
                "The token is invalid or has expired",
            )
        };
    }
    // Bound first: the lock must be released before the error body takes it again.
    let injected = shared.lock().hr.failure(&rec.path);
    if let Some(status) = injected {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return if v2 {
            v2_error(shared, status, "Injected failure", "Injected failure")
        } else {
            v1_error(status, status.as_u16(), "Injected failure")
        };
    }
    let mut response = route(shared, rec, method);
    let (skew_ms, date_unreadable) = {
        let hr = &shared.lock().hr;
        (hr.skew_ms, hr.date_unreadable)
    };
    if date_unreadable {
        response.headers_mut().insert(
            axum::http::header::DATE,
            axum::http::HeaderValue::from_static("yesterday"),
        );
    } else if skew_ms != 0
        && let Ok(v) = axum::http::HeaderValue::from_str(&http_date(now_ms() - skew_ms))
    {
        response.headers_mut().insert(axum::http::header::DATE, v);
    }
    if let Some((remaining, reset)) = shared.lock().hr.rate_headers {
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-remaining", remaining.into());
        headers.insert("x-ratelimit-reset", reset.into());
    }
    if response.status().is_success() {
        *shared.lock().hr.served.entry(rec.path.clone()).or_default() += 1;
    }
    response
}

/// The methods `path` answers (`None`: the route decides, as the webhooks do).
fn methods(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v2", "webhooks", ..] => None,
        ["v1", "company", "attendances"]
        | ["v1", "company", "absence-periods"]
        | ["v2", "persons"] => Some("GET, POST"),
        ["v1", "company", "attendances", _] => Some("PATCH, DELETE"),
        ["v2", "persons", _, "employments", _] => Some("GET, PATCH"),
        _ => Some("GET"),
    }
}

fn route(shared: &Shared, rec: &Recorded, method: &Method) -> Response {
    let segments: Vec<&str> = rec.path.trim_start_matches('/').split('/').collect();
    let not_found = || {
        v2_error(
            shared,
            StatusCode::NOT_FOUND,
            "Not Found",
            "common.requested_resource_not_found",
        )
    };
    let get_only = |f: &dyn Fn() -> Response| {
        if *method == Method::GET {
            f()
        } else {
            super::method_not_allowed("GET")
        }
    };
    match segments.as_slice() {
        ["v1", "company", "employees"] => get_only(&|| employees(shared, rec)),
        ["v1", "company", "attendances"] if *method == Method::POST => {
            periods::create_attendances(shared, rec)
        }
        ["v1", "company", "attendances"] => get_only(&|| periods::list_attendances(shared, rec)),
        ["v1", "company", "attendances", id] if *method == Method::DELETE => {
            periods::delete_attendance(shared, id)
        }
        ["v1", "company", "attendances", id] => periods::update_attendance(shared, rec, id),
        ["v1", "company", "absence-periods"] if *method == Method::POST => {
            periods::create_absence_period(shared, rec)
        }
        ["v1", "company", "absence-periods"] => {
            get_only(&|| periods::list_absence_periods(shared, rec))
        }
        ["v2", "persons"] if *method == Method::POST => v2_write::create_person(shared, rec),
        ["v2", "persons"] => get_only(&|| persons(shared, rec)),
        ["v2", "persons", id] => get_only(&|| person(shared, id)),
        ["v2", "persons", id, "employments"] => get_only(&|| employments(shared, rec, id)),
        ["v2", "persons", id, "employments", eid] if *method == Method::PATCH => {
            v2_write::patch_employment(shared, rec, id, eid)
        }
        ["v2", "persons", id, "employments", eid] => get_only(&|| employment(shared, id, eid)),
        ["v2", "webhooks"] if *method == Method::POST => create_hook(shared, rec),
        ["v2", "webhooks"] => get_only(&|| {
            let data: Vec<Value> = shared
                .lock()
                .hr
                .hooks
                .iter()
                .map(|(id, h)| h.listed(id))
                .collect();
            respond_json(
                StatusCode::OK,
                &json!({"_data": data, "_meta": {"links": {"self": {"href": "/v2/webhooks"}}}}),
            )
        }),
        ["v2", "webhooks", id] if *method == Method::DELETE => {
            if shared.lock().hr.hooks.remove(*id).is_some() {
                let mut r = Response::new(axum::body::Body::empty());
                *r.status_mut() = StatusCode::NO_CONTENT;
                r
            } else {
                not_found()
            }
        }
        ["v2", "webhooks", id] => {
            get_only(&|| {
                // Bound first: the lock must be released before the error body takes it again.
                let listed = shared.lock().hr.hooks.get(*id).map(|h| h.listed(id));
                match listed {
                    Some(v) => respond_json(StatusCode::OK, &v),
                    None => v2_error(
                        shared,
                        StatusCode::NOT_FOUND,
                        "Not Found",
                        "no such webhook",
                    ),
                }
            })
        }
        _ => not_found(),
    }
}

fn limit(pairs: &[(String, String)], max: usize, default: usize) -> Result<usize, String> {
    match pair(pairs, "limit") {
        None => Ok(default),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!(
                "limit must be an integer from 1 to {max}, got {raw:?}"
            )),
        },
    }
}

/// `GET /v1/company/employees`: `limit` (1..=100, default 50), item `offset`,
/// `updated_since`.
fn employees(shared: &Shared, rec: &Recorded) -> Response {
    let query = query_pairs(rec);
    let limit = match limit(&query, 100, 50) {
        Ok(l) => l,
        Err(m) => return v1_error(StatusCode::BAD_REQUEST, 400, &m),
    };
    let offset = match pair(&query, "offset").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return v1_error(
                StatusCode::BAD_REQUEST,
                400,
                "offset must be a non-negative integer",
            );
        }
    };
    let since = match pair(&query, "updated_since") {
        None => None,
        Some(raw) => match parse_time(raw) {
            Some(t) => Some(t),
            None => {
                return v1_error(
                    StatusCode::BAD_REQUEST,
                    400,
                    &format!("updated_since must be an ISO 8601 date or date-time, got {raw:?}"),
                );
            }
        },
    };
    let inner = shared.lock();
    let hostile = inner.hr.hostile;
    let matching = inner
        .hr
        .employees
        .iter()
        .filter(|(_, e)| !hostile.empty_listing && since.is_none_or(|s| e.updated_at > s));
    let total = matching.clone().count();
    let offset = if hostile.repeat_page { 0 } else { offset };
    let data: Vec<Value> = matching
        .skip(offset)
        .take(limit)
        .map(|(i, e)| {
            json!({
                "type": "Employee",
                "attributes": {
                    "id": {"label": "ID", "value": i},
                    "first_name": {"label": "First name", "value": e.first_name},
                    "last_name": {"label": "Last name", "value": e.last_name},
                    "email": {"label": "Email", "value": e.email},
                    "created_at": {"label": "Created at", "value": rfc3339(e.created_at), "type": "date"},
                    "last_modified_at": {"label": "Last modified at", "value": rfc3339(e.updated_at), "type": "date"},
                },
            })
        })
        .collect();
    drop(inner);
    let mut response = respond_json(
        StatusCode::OK,
        &json!({
            "success": true,
            "metadata": {
                "total_elements": (total as i64).saturating_add(hostile.total_skew).max(0),
                "current_page": offset / limit,
                "total_pages": if hostile.repeat_page { 1_000_000 } else { total.div_ceil(limit) },
            },
            "offset": offset,
            "limit": limit,
            "data": data,
        }),
    );
    // Personio still echoes the token in each response's Authorization header.
    if let Some(token) = bearer(rec)
        && let Ok(v) = axum::http::HeaderValue::from_str(&format!("Bearer {token}"))
    {
        response
            .headers_mut()
            .insert(axum::http::header::AUTHORIZATION, v);
    }
    response
}

/// A v2 listing: `limit`, an offset cursor `c<N>`, `updated_at.gt`/`.gte`, `_meta.links`.
fn listing(
    shared: &Shared,
    rec: &Recorded,
    path: &str,
    max: usize,
    default: usize,
    items: Vec<(i64, Value)>,
) -> Response {
    let query = query_pairs(rec);
    let limit = match limit(&query, max, default) {
        Ok(l) => l,
        Err(m) => return v2_error(shared, StatusCode::BAD_REQUEST, "Bad Request", &m),
    };
    let mut filters: Vec<(bool, i64)> = Vec::new();
    for (key, strict) in [("updated_at.gt", true), ("updated_at.gte", false)] {
        if let Some(raw) = pair(&query, key) {
            match parse_time(raw) {
                Some(t) => filters.push((strict, t)),
                None => {
                    return v2_error(
                        shared,
                        StatusCode::BAD_REQUEST,
                        "Bad Request",
                        &format!("{key} must be an RFC 3339 date-time"),
                    );
                }
            }
        }
    }
    let hostile = shared.lock().hr.hostile;
    let items: Vec<Value> = items
        .into_iter()
        .filter(|_| !hostile.empty_listing)
        .filter(|(at, _)| {
            filters
                .iter()
                .all(|(strict, t)| if *strict { at > t } else { at >= t })
        })
        .map(|(_, v)| v)
        .collect();
    let total = items.len();
    let offset = match pair(&query, "cursor") {
        None => 0,
        Some(raw) => match raw.strip_prefix('c').and_then(|n| n.parse::<usize>().ok()) {
            Some(n) if n <= total => n,
            _ => {
                return v2_error(
                    shared,
                    StatusCode::BAD_REQUEST,
                    "Bad Request",
                    &format!("Invalid cursor {raw:?}"),
                );
            }
        },
    };
    let mode = shared.lock().next_link;
    let origin = request_origin(shared, rec);
    let kept: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| k != "cursor" && k != "limit")
        .cloned()
        .collect();
    let link = |cursor: Option<usize>, mode: NextLinkMode| {
        let mut q = kept.clone();
        if let Some(c) = cursor {
            q.push(("cursor".into(), format!("c{c}")));
        }
        q.push(("limit".into(), limit.to_string()));
        let q: String = terapi_runtime::url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q.iter())
            .finish();
        match mode {
            NextLinkMode::Absolute | NextLinkMode::Repeat => format!("{origin}{path}?{q}"),
            NextLinkMode::Relative => format!("{path}?{q}"),
            NextLinkMode::ForeignHost => format!("https://evil.example.com{path}?{q}"),
        }
    };
    let self_mode = if mode == NextLinkMode::Relative {
        NextLinkMode::Relative
    } else {
        NextLinkMode::Absolute
    };
    let this = pair(&query, "cursor").map(|_| offset);
    let next = match mode {
        NextLinkMode::Repeat => (limit < total).then(|| link(Some(limit), mode)),
        // A cursor that advances past the records (the fake accepts any) over the same page.
        _ if hostile.repeat_page && total > 0 => {
            Some(link(Some(offset.saturating_add(limit).min(total)), mode))
        }
        _ => {
            let next = offset.saturating_add(limit);
            (next < total).then(|| link(Some(next), mode))
        }
    };
    let offset = if hostile.repeat_page { 0 } else { offset };
    let data: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let mut links = Map::new();
    links.insert("self".into(), json!({"href": link(this, self_mode)}));
    if let Some(next) = next {
        links.insert("next".into(), json!({"href": next}));
    }
    respond_json(
        StatusCode::OK,
        &json!({"_data": data, "_meta": {"links": Value::Object(links)}}),
    )
}

/// `GET /v2/persons` (limit 1..=100, default 50, as the client tests use it).
fn persons(shared: &Shared, rec: &Recorded) -> Response {
    let mut items: Vec<(i64, Value)> = shared
        .lock()
        .hr
        .persons
        .iter()
        .map(|(id, p)| (p.updated_at, Hr::person_json(*id, p)))
        .collect();
    items.extend(shared.lock().hr.extra_persons.iter().cloned());
    listing(shared, rec, "/v2/persons", 100, 50, items)
}

fn person(shared: &Shared, id: &str) -> Response {
    let found = id.parse::<u64>().ok().and_then(|n| {
        shared
            .lock()
            .hr
            .persons
            .get(&n)
            .map(|p| Hr::person_json(n, p))
    });
    match found {
        Some(v) => respond_json(StatusCode::OK, &v),
        None => v2_error(
            shared,
            StatusCode::NOT_FOUND,
            "Not Found",
            "common.requested_resource_not_found",
        ),
    }
}

/// `GET /v2/persons/{id}/employments` (limit 1..=50, default 10).
fn employments(shared: &Shared, rec: &Recorded, id: &str) -> Response {
    if shared.lock().hr.hostile.child_list_404 {
        return v2_error(
            shared,
            StatusCode::NOT_FOUND,
            "Not Found",
            "common.requested_resource_not_found",
        );
    }
    let items = id.parse::<u64>().ok().and_then(|n| {
        shared.lock().hr.persons.get(&n).map(|p| {
            p.employments
                .iter()
                .map(|(eid, e)| (e.updated_at, Hr::employment_json(n, eid, e)))
                .collect::<Vec<_>>()
        })
    });
    match items {
        Some(items) => {
            let path = format!("/v2/persons/{id}/employments");
            listing(shared, rec, &path, 50, 10, items)
        }
        None => v2_error(
            shared,
            StatusCode::NOT_FOUND,
            "Not Found",
            "common.requested_resource_not_found",
        ),
    }
}

fn employment(shared: &Shared, id: &str, eid: &str) -> Response {
    let found = id.parse::<u64>().ok().and_then(|n| {
        shared.lock().hr.persons.get(&n).and_then(|p| {
            p.employments
                .get(eid)
                .map(|e| Hr::employment_json(n, eid, e))
        })
    });
    match found {
        Some(v) => respond_json(StatusCode::OK, &v),
        None => v2_error(
            shared,
            StatusCode::NOT_FOUND,
            "Not Found",
            "common.requested_resource_not_found",
        ),
    }
}

/// `POST /v2/webhooks`.
fn create_hook(shared: &Shared, rec: &Recorded) -> Response {
    let invalid = |detail: &str| {
        v2_error(
            shared,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable Entity",
            detail,
        )
    };
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&rec.body) else {
        return invalid("the body must be a JSON object");
    };
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let Some(url) = text("url") else {
        return invalid("url is required");
    };
    let loopback = url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost");
    if !url.starts_with("https://") && !loopback {
        return invalid("url must be HTTPS");
    }
    let Some(description) = text("description") else {
        return invalid("description is required");
    };
    let events: Vec<String> = match body.get("enabled_events") {
        Some(Value::Array(items)) if !items.is_empty() => {
            match items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
            {
                Some(e) => e,
                None => return invalid("enabled_events must be strings"),
            }
        }
        _ => return invalid("enabled_events is required and not empty"),
    };
    let status = text("status").unwrap_or_else(|| "DISABLED".into());
    if status != "ENABLED" && status != "DISABLED" {
        return invalid("status is ENABLED or DISABLED");
    }
    let auth_type = text("auth_type").unwrap_or_else(|| "TOKEN".into());
    if !["NONE", "TOKEN", "CUSTOM"].contains(&auth_type.as_str()) {
        return invalid("auth_type is NONE, TOKEN or CUSTOM");
    }
    let custom_headers: BTreeMap<String, String> = match body.get("custom_headers") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) if auth_type == "CUSTOM" && m.len() <= 3 => m
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect(),
        Some(_) => return invalid("custom_headers: at most 3, and only with auth_type CUSTOM"),
    };
    let hook = Hook {
        url,
        description,
        status,
        auth_type,
        token: text("token"),
        custom_headers,
        events,
    };
    let mut inner = shared.lock();
    inner.hr.hook_counter += 1;
    let id = inner
        .hr
        .next_hook_id
        .take()
        .unwrap_or_else(|| format!("00000000-0000-4000-8000-{:012x}", inner.hr.hook_counter));
    let listed = hook.listed(&id);
    inner.hr.hooks.insert(id, hook);
    drop(inner);
    respond_json(StatusCode::CREATED, &listed)
}
