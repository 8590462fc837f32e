//! v1 attendances (`/v1/company/attendances[/{id}]`: list, create, update, delete) and hourly
//! absence periods (`/v1/company/absence-periods`: list with a page-number `offset`, create),
//! following `personio-personnel-data-api-oa3.yaml`.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::super::{
    Recorded, Shared, json as respond_json, pair, parse_pairs, query_pairs, v1_error,
};
use super::{GENERATED_AT_MS, Hr, parse_time};
use crate::fake_personio::media_type;

/// Attendances seeded by default.
pub(super) const DEFAULT_ATTENDANCES: usize = 5;
/// Absence periods seeded by default.
pub(super) const DEFAULT_ABSENCE_PERIODS: usize = 3;

/// The hour-unit time-off types: (`time_off_type_id`, absence type uuid, name).
pub const TIME_OFF_TYPES: &[(u64, &str, &str)] = &[
    (
        1001,
        "7f3c2a10-0000-4000-8000-000000001001",
        "Doctor's appointment",
    ),
    (
        1002,
        "7f3c2a10-0000-4000-8000-000000001002",
        "Overtime reduction",
    ),
];

/// Largest `limit` of `GET /v1/company/absence-periods` (at most 200 rows per response).
const ABSENCE_MAX_LIMIT: usize = 200;

#[derive(Clone, Debug)]
pub(super) struct Attendance {
    employee: u64,
    date: String,
    start_time: String,
    end_time: Option<String>,
    break_minutes: u64,
    comment: Option<String>,
    project_id: Option<u64>,
    status: String,
    updated_at: i64,
}

#[derive(Clone, Debug)]
pub(super) struct AbsencePeriod {
    id: String,
    employee: u64,
    time_off_type_id: u64,
    start_date: String,
    end_date: String,
    /// Minutes of the day, for a partial-day absence.
    times: Option<(u32, u32)>,
    half_day_start: bool,
    half_day_end: bool,
    comment: String,
    status: String,
    origin: String,
    created_at: i64,
    updated_at: i64,
}

/// The attendances and absence periods of the fake.
#[derive(Debug, Default)]
pub(super) struct Periods {
    attendances: BTreeMap<u64, Attendance>,
    next_attendance: u64,
    /// In creation order (the order of the listing).
    absences: Vec<AbsencePeriod>,
    absence_counter: u64,
}

/// `YYYY-MM-DD` (strict), as a date.
pub(super) fn parse_date(s: &str) -> Option<time::Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let year = i32::try_from(digits(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(digits(5..7)?).ok()?).ok()?;
    let day = u8::try_from(digits(8..10)?).ok()?;
    time::Date::from_calendar_date(year, month, day).ok()
}

fn format_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// `hh:mm` (the documents' pattern `^\d\d:\d\d$`, and a real time of day), as minutes.
fn parse_hhmm(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() != 5
        || b[2] != b':'
        || !s[..2]
            .bytes()
            .chain(s[3..].bytes())
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let h: u32 = s[..2].parse().ok()?;
    let m: u32 = s[3..].parse().ok()?;
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `2017-01-17T16:41:08+00:00`, the attendances' `updated_at` format.
fn offset_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{}T{:02}:{:02}:{:02}+00:00",
        format_date(t.date()),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl Attendance {
    fn json(&self, id: u64) -> Value {
        json!({
            "id": id,
            "type": "AttendancePeriod",
            "attributes": {
                "employee": self.employee,
                "date": self.date,
                "start_time": self.start_time,
                "end_time": self.end_time,
                "break": self.break_minutes,
                "comment": self.comment.clone().unwrap_or_default(),
                "updated_at": offset_time(self.updated_at),
                "status": self.status,
                "project": self.project_id.map(|p| json!({
                    "id": p,
                    "type": "Project",
                    "attributes": {"name": format!("Project {p}"), "active": true},
                })),
                "is_holiday": false,
                "is_on_time_off": false,
            },
        })
    }

    /// `[start, end)` in minutes; an open period (no end) runs to the end of the day.
    fn span(&self) -> (u32, u32) {
        let start = parse_hhmm(&self.start_time).unwrap_or(0);
        let end = self
            .end_time
            .as_deref()
            .and_then(parse_hhmm)
            .unwrap_or(24 * 60);
        (start, end)
    }
}

impl AbsencePeriod {
    /// (date, minutes) of each day the period covers.
    fn breakdowns(&self) -> Vec<(String, u32)> {
        let (Some(start), Some(end)) = (parse_date(&self.start_date), parse_date(&self.end_date))
        else {
            return Vec::new();
        };
        if let Some((from, to)) = self.times {
            return vec![(self.start_date.clone(), to.saturating_sub(from))];
        }
        let mut out = Vec::new();
        let mut day = start;
        while day <= end {
            let half = (day == start && self.half_day_start) || (day == end && self.half_day_end);
            out.push((format_date(day), if half { 240 } else { 480 }));
            match day.next_day() {
                Some(next) => day = next,
                None => break,
            }
        }
        out
    }

    fn bounds(&self) -> (String, String) {
        match self.times {
            Some((from, to)) => (
                format!("{}T{}:00.0Z", self.start_date, hhmm(from)),
                format!("{}T{}:00.0Z", self.start_date, hhmm(to)),
            ),
            None => {
                let after = parse_date(&self.end_date)
                    .and_then(time::Date::next_day)
                    .map(format_date)
                    .unwrap_or_else(|| self.end_date.clone());
                (
                    format!("{}T00:00:00.0Z", self.start_date),
                    format!("{after}T00:00:00.0Z"),
                )
            }
        }
    }

    fn json(&self, hr: &Hr) -> Value {
        let breakdowns = self.breakdowns();
        let total: u32 = breakdowns.iter().map(|(_, m)| m).sum();
        let (start, end) = self.bounds();
        let (first, last, email) = match hr.employees.get(&self.employee) {
            Some(e) => (e.first_name.clone(), e.last_name.clone(), e.email.clone()),
            None => (String::new(), String::new(), String::new()),
        };
        let field = |label: &str, value: Value, kind: &str, universal: &str| json!({"label": label, "value": value, "type": kind, "universal_id": universal});
        let (type_uuid, type_name) = TIME_OFF_TYPES
            .iter()
            .find(|(id, _, _)| *id == self.time_off_type_id)
            .map(|(_, uuid, name)| (*uuid, *name))
            .unwrap_or_default();
        let approved = self.status == "approved";
        json!({
            "type": "AbsencePeriod",
            "attributes": {
                "id": self.id,
                "measurement_unit": "hour",
                "effective_duration": total,
                "employee": {
                    "type": "Employee",
                    "attributes": {
                        "id": field("id", json!(self.employee), "integer", "id"),
                        "first_name": field("First name", json!(first), "standard", "first_name"),
                        "last_name": field("Last name", json!(last), "standard", "last_name"),
                        "email": field("Email", json!(email), "standard", "email"),
                    },
                },
                "absence_type": {
                    "type": "AbsenceType",
                    "attributes": {
                        "id": type_uuid,
                        "name": type_name,
                        "time_off_type_id": self.time_off_type_id,
                    },
                },
                "certificate": {"status": "not-required"},
                "start": start,
                "end": end,
                "half_day_start": self.half_day_start,
                "half_day_end": self.half_day_end,
                "comment": self.comment,
                "origin": self.origin,
                "status": self.status,
                "timezone": "UTC",
                "created_by": 1,
                "created_at": super::rfc3339(self.created_at),
                "updated_at": super::rfc3339(self.updated_at),
                "approved_at": if approved { json!(super::rfc3339(self.updated_at)) } else { Value::Null },
                "breakdowns": breakdowns
                    .into_iter()
                    .map(|(date, m)| json!({"date": date, "effective_duration": m}))
                    .collect::<Vec<_>>(),
            },
        })
    }
}

impl Periods {
    pub(super) fn seeded() -> Periods {
        let mut p = Periods::default();
        p.set_attendances(DEFAULT_ATTENDANCES);
        p.set_absence_periods(DEFAULT_ABSENCE_PERIODS);
        p
    }

    /// Attendances `1..=n`: employee `(i-1) % 10 + 1`, two a day from 2025-12-01 (09:00-12:00
    /// and 13:00-17:00 alternately), break 0 or 30, confirmed, changed at
    /// [`GENERATED_AT_MS`]. Ids of later creations continue after `n`.
    pub(super) fn set_attendances(&mut self, n: usize) {
        let first = parse_date("2025-12-01").expect("a valid seed date");
        self.attendances = (1..=n as u64)
            .map(|i| {
                let date = first
                    .checked_add(time::Duration::days(((i - 1) / 2) as i64))
                    .unwrap_or(first);
                let morning = i % 2 == 1;
                (
                    i,
                    Attendance {
                        employee: (i - 1) % 10 + 1,
                        date: format_date(date),
                        start_time: if morning { "09:00" } else { "13:00" }.into(),
                        end_time: Some(if morning { "12:00" } else { "17:00" }.into()),
                        break_minutes: if morning { 0 } else { 30 },
                        comment: Some(format!("Seeded attendance {i}")),
                        project_id: None,
                        status: "confirmed".into(),
                        updated_at: GENERATED_AT_MS,
                    },
                )
            })
            .collect();
        self.next_attendance = n as u64 + 1;
    }

    /// Absence periods `1..=n` (ids `00000000-0000-4000-a000-<i as 12 hex digits>`): employee
    /// `(i-1) % 10 + 1`, type 1001, on 2025-12-<i> (cycling through 28 days) from 09:00 to
    /// 13:00, approved, created and changed at [`GENERATED_AT_MS`].
    pub(super) fn set_absence_periods(&mut self, n: usize) {
        self.absences = (1..=n as u64)
            .map(|i| AbsencePeriod {
                id: format!("00000000-0000-4000-a000-{i:012x}"),
                employee: (i - 1) % 10 + 1,
                time_off_type_id: 1001,
                start_date: format!("2025-12-{:02}", (i - 1) % 28 + 1),
                end_date: format!("2025-12-{:02}", (i - 1) % 28 + 1),
                times: Some((9 * 60, 13 * 60)),
                half_day_start: false,
                half_day_end: false,
                comment: format!("Seeded absence {i}"),
                status: "approved".into(),
                origin: "web".into(),
                created_at: GENERATED_AT_MS,
                updated_at: GENERATED_AT_MS,
            })
            .collect();
        self.absence_counter = n as u64;
    }
}

// ----- handle methods -----

impl super::super::FakePersonio {
    /// Replaces the attendances with `n` seeded ones (see the module; default 5).
    pub fn set_attendances(&self, n: usize) {
        self.hr(|hr| hr.periods.set_attendances(n));
    }

    /// Every attendance (pending ones included), in id order, as `GET /v1/company/attendances`
    /// lists them: `{id, type: "AttendancePeriod", attributes: {...}}`.
    pub fn attendances(&self) -> Vec<Value> {
        self.hr(|hr| {
            hr.periods
                .attendances
                .iter()
                .map(|(id, a)| a.json(*id))
                .collect()
        })
    }

    /// Replaces the absence periods with `n` seeded ones (see the module; default 3).
    pub fn set_absence_periods(&self, n: usize) {
        self.hr(|hr| hr.periods.set_absence_periods(n));
    }

    /// Every absence period, in listing order, as `GET /v1/company/absence-periods` lists
    /// them: `{type: "AbsencePeriod", attributes: {id, ..., updated_at, ...}}`.
    pub fn absence_periods(&self) -> Vec<Value> {
        self.hr(|hr| hr.periods.absences.iter().map(|a| a.json(hr)).collect())
    }
}

// ----- shared request parsing -----

/// A page `limit`: absent is `default`; otherwise an integer from 1 to `max`.
fn page_limit(query: &[(String, String)], max: usize, default: usize) -> Result<usize, String> {
    match pair(query, "limit") {
        None => Ok(default),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!(
                "limit must be an integer from 1 to {max}, got {raw:?}"
            )),
        },
    }
}

fn page_offset(query: &[(String, String)]) -> Result<usize, String> {
    match pair(query, "offset") {
        None => Ok(0),
        Some(raw) => raw
            .parse::<usize>()
            .map_err(|_| format!("offset must be a non-negative integer, got {raw:?}")),
    }
}

/// `updated_from` / `updated_to` (inclusive): a date, or a date-time with or without a zone.
/// A bare date as `updated_to` covers that whole day.
fn updated_window(query: &[(String, String)]) -> Result<(Option<i64>, Option<i64>), String> {
    let mut out = (None, None);
    for (key, slot) in [("updated_from", &mut out.0), ("updated_to", &mut out.1)] {
        if let Some(raw) = pair(query, key) {
            let t = parse_time(raw).ok_or_else(|| {
                format!("{key} must be a date or a date-time (ISO 8601), got {raw:?}")
            })?;
            *slot = Some(if key == "updated_to" && raw.len() == 10 {
                t + 86_400_000 - 1
            } else {
                t
            });
        }
    }
    Ok(out)
}

/// The `employees[]` filter.
fn employee_filter(query: &[(String, String)]) -> Result<Option<Vec<u64>>, String> {
    let raw: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "employees[]")
        .map(|(_, v)| v.as_str())
        .collect();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.iter()
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| format!("employees[] must be integers, got {v:?}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn bad_request(message: &str) -> Response {
    v1_error(StatusCode::BAD_REQUEST, 400, message)
}

// ----- attendances -----

/// `GET /v1/company/attendances`: required `start_date`/`end_date` (inclusive), `updated_from`
/// / `updated_to` (inclusive), `employees[]`, `includePending`, `limit` (default 200) and an
/// item `offset`.
pub(super) fn list_attendances(shared: &Shared, rec: &Recorded) -> Response {
    let query = query_pairs(rec);
    let mut window = Vec::new();
    for key in ["start_date", "end_date"] {
        match pair(&query, key) {
            None => return bad_request(&format!("The {key} field is required.")),
            Some(raw) => match parse_date(raw) {
                Some(d) => window.push(d),
                None => {
                    return bad_request(&format!(
                        "The {key} must be a date in the format YYYY-MM-DD, got {raw:?}."
                    ));
                }
            },
        }
    }
    let (start, end) = (window[0], window[1]);
    if end < start {
        return bad_request("The end_date must be a date after or equal to start_date.");
    }
    let parsed = (|| {
        Ok::<_, String>((
            page_limit(&query, usize::MAX, 200)?,
            page_offset(&query)?,
            updated_window(&query)?,
            employee_filter(&query)?,
        ))
    })();
    let (limit, offset, (from, to), employees) = match parsed {
        Ok(p) => p,
        Err(m) => return bad_request(&m),
    };
    let include_pending = matches!(pair(&query, "includePending"), Some("true" | "1"));
    let inner = shared.lock();
    let hostile = inner.hr.hostile;
    let matching: Vec<Value> = inner
        .hr
        .periods
        .attendances
        .iter()
        .filter(|_| !hostile.empty_listing)
        .filter(|(_, a)| include_pending || a.status == "confirmed")
        .filter(|(_, a)| parse_date(&a.date).is_some_and(|d| start <= d && d <= end))
        .filter(|(_, a)| from.is_none_or(|t| a.updated_at >= t))
        .filter(|(_, a)| to.is_none_or(|t| a.updated_at <= t))
        .filter(|(_, a)| employees.as_ref().is_none_or(|e| e.contains(&a.employee)))
        .map(|(id, a)| a.json(*id))
        .collect();
    drop(inner);
    let total = matching.len();
    let data: Vec<Value> = matching.into_iter().skip(offset).take(limit).collect();
    respond_json(
        StatusCode::OK,
        &json!({
            "success": true,
            "metadata": {
                "total_elements": total,
                "current_page": offset / limit,
                "total_pages": total.div_ceil(limit),
            },
            "offset": offset,
            "limit": limit,
            "data": data,
        }),
    )
}

/// The body of a write, as a JSON object.
fn json_object(rec: &Recorded) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(&rec.body) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// An attendance's fields as a create or update carries them, checked.
#[derive(Default)]
struct AttendanceFields {
    date: Option<String>,
    start_time: Option<String>,
    end_time: Option<Option<String>>,
    break_minutes: Option<u64>,
    comment: Option<Option<String>>,
    project_id: Option<Option<u64>>,
}

/// Reads the attendance fields of `item`, collecting every problem.
fn attendance_fields(item: &Map<String, Value>, problems: &mut Vec<String>) -> AttendanceFields {
    let mut f = AttendanceFields::default();
    if let Some(v) = item.get("date") {
        match v.as_str().filter(|s| parse_date(s).is_some()) {
            Some(s) => f.date = Some(s.to_owned()),
            None => problems.push("The date must be a date in the format YYYY-MM-DD.".into()),
        }
    }
    if let Some(v) = item.get("start_time") {
        match v.as_str().filter(|s| parse_hhmm(s).is_some()) {
            Some(s) => f.start_time = Some(s.to_owned()),
            None => problems.push("The start_time must be a time in the format hh:mm.".into()),
        }
    }
    if let Some(v) = item.get("end_time") {
        match v {
            Value::Null => f.end_time = Some(None),
            Value::String(s) if parse_hhmm(s).is_some() => f.end_time = Some(Some(s.clone())),
            _ => problems.push("The end_time must be a time in the format hh:mm.".into()),
        }
    }
    if let Some(v) = item.get("break") {
        match v.as_u64() {
            Some(n) => f.break_minutes = Some(n),
            None => problems.push("The break must be an integer of at least 0.".into()),
        }
    }
    if let Some(v) = item.get("comment") {
        match v {
            Value::Null => f.comment = Some(None),
            Value::String(s) => f.comment = Some(Some(s.clone())),
            _ => problems.push("The comment must be a string.".into()),
        }
    }
    if let Some(v) = item.get("project_id") {
        match v {
            Value::Null => f.project_id = Some(None),
            v if v.as_u64().is_some_and(|n| n >= 1) => f.project_id = Some(v.as_u64()),
            _ => problems.push("The project_id must be a positive integer.".into()),
        }
    }
    f
}

/// One `detailed_message` entry of `AttendanceCreateUpdate400ErrorResponse`.
fn detail_entry(item: &Map<String, Value>, id: Option<u64>, problems: &[String]) -> Value {
    let echo = |k: &str| item.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "success": problems.is_empty(),
        "error_msg": if problems.is_empty() { Value::Null } else { json!(problems.join(" ")) },
        "id": id,
        "employee": echo("employee"),
        "date": echo("date"),
        "start_time": echo("start_time"),
        "end_time": echo("end_time"),
        "break": echo("break"),
        "comment": echo("comment"),
        "project_id": echo("project_id"),
    })
}

/// `AttendanceCreateUpdate400ErrorResponse`.
fn attendance_400(message: &str, details: Vec<Value>) -> Response {
    respond_json(
        StatusCode::BAD_REQUEST,
        &json!({
            "success": false,
            "error": {"code": 400, "message": message, "detailed_message": details},
        }),
    )
}

const INSERT_ERROR: &str = "Error when trying to insert Attendances periods rows";

fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// `skip_approval` (default true): false makes new or changed periods `pending`.
fn skip_approval(body: &Map<String, Value>) -> Result<bool, String> {
    match body.get("skip_approval") {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err("The skip_approval must be a boolean.".into()),
    }
}

/// `POST /v1/company/attendances`: `{attendances: [...], skip_approval?}`. All or nothing:
/// one bad period rejects the request, and `detailed_message` says which.
pub(super) fn create_attendances(shared: &Shared, rec: &Recorded) -> Response {
    let Some(body) = json_object(rec) else {
        return attendance_400("The request body must be a JSON object", Vec::new());
    };
    let items: Vec<Map<String, Value>> = match body.get("attendances") {
        Some(Value::Array(items)) if !items.is_empty() => {
            match items.iter().map(|v| v.as_object().cloned()).collect() {
                Some(items) => items,
                None => {
                    return attendance_400(
                        "The attendances must be an array of objects.",
                        Vec::new(),
                    );
                }
            }
        }
        _ => {
            return attendance_400(
                "The attendances field is required and must be a non-empty array.",
                Vec::new(),
            );
        }
    };
    let skip = match skip_approval(&body) {
        Ok(s) => s,
        Err(m) => return attendance_400(&m, Vec::new()),
    };
    let mut inner = shared.lock();
    let hr = &mut inner.hr;
    let mut accepted: Vec<Attendance> = Vec::new();
    let mut all_problems: Vec<Vec<String>> = Vec::new();
    for item in &items {
        let mut problems = Vec::new();
        let employee = match item.get("employee") {
            None | Some(Value::Null) => {
                problems.push("The employee field is required.".to_owned());
                None
            }
            Some(v) => match v.as_u64().filter(|n| *n >= 1) {
                Some(n) if hr.employees.contains_key(&n) => Some(n),
                Some(n) => {
                    problems.push(format!("The employee {n} does not exist."));
                    None
                }
                None => {
                    problems.push("The employee must be a positive integer.".to_owned());
                    None
                }
            },
        };
        let f = attendance_fields(item, &mut problems);
        for (key, present) in [
            ("date", item.contains_key("date")),
            ("start_time", item.contains_key("start_time")),
            ("break", item.contains_key("break")),
        ] {
            if !present {
                problems.push(format!("The {key} field is required."));
            }
        }
        let new = Attendance {
            employee: employee.unwrap_or(0),
            date: f.date.unwrap_or_default(),
            start_time: f.start_time.unwrap_or_default(),
            end_time: f.end_time.flatten(),
            break_minutes: f.break_minutes.unwrap_or(0),
            comment: f.comment.flatten(),
            project_id: f.project_id.flatten(),
            status: if skip { "confirmed" } else { "pending" }.into(),
            updated_at: 0,
        };
        if problems.is_empty() {
            check_span(&new, &mut problems);
        }
        if problems.is_empty() {
            let clash = hr
                .periods
                .attendances
                .values()
                .chain(accepted.iter())
                .any(|o| {
                    o.employee == new.employee
                        && o.date == new.date
                        && overlaps(o.span(), new.span())
                });
            if clash {
                problems.push("Existing overlapping attendances periods".into());
            }
        }
        if problems.is_empty() {
            accepted.push(new);
        }
        all_problems.push(problems);
    }
    if all_problems.iter().any(|p| !p.is_empty()) {
        let details = items
            .iter()
            .zip(&all_problems)
            .map(|(item, p)| detail_entry(item, None, p))
            .collect();
        return attendance_400(INSERT_ERROR, details);
    }
    let mut ids = Vec::new();
    for mut a in accepted {
        a.updated_at = hr.tick();
        let id = hr.periods.next_attendance;
        hr.periods.next_attendance += 1;
        hr.periods.attendances.insert(id, a);
        ids.push(id);
    }
    drop(inner);
    respond_json(
        StatusCode::OK,
        &json!({"success": true, "data": {"id": ids, "message": "Success"}}),
    )
}

/// End after start, break shorter than the period.
fn check_span(a: &Attendance, problems: &mut Vec<String>) {
    let Some(end) = a.end_time.as_deref().and_then(parse_hhmm) else {
        return;
    };
    let start = parse_hhmm(&a.start_time).unwrap_or(0);
    if end <= start {
        problems.push("The end_time must be after the start_time.".into());
    } else if a.break_minutes > u64::from(end - start) {
        problems.push("The break must be shorter than the attendance period.".into());
    }
}

fn attendance_404() -> Response {
    respond_json(
        StatusCode::NOT_FOUND,
        &json!({"success": false, "error": {"code": 404, "message": "The attendance period was not found."}}),
    )
}

/// `PATCH /v1/company/attendances/{id}`: `AttendanceUpdateRequest` (every field optional, at
/// least one; `employee` cannot change).
pub(super) fn update_attendance(shared: &Shared, rec: &Recorded, id: &str) -> Response {
    let Some(id) = id.parse::<u64>().ok() else {
        return attendance_404();
    };
    if !shared.lock().hr.periods.attendances.contains_key(&id) {
        return attendance_404();
    }
    let Some(body) = json_object(rec) else {
        return attendance_400("The request body must be a JSON object", Vec::new());
    };
    const FIELDS: &[&str] = &[
        "date",
        "start_time",
        "end_time",
        "break",
        "comment",
        "project_id",
        "skip_approval",
    ];
    let mut problems = Vec::new();
    if body.contains_key("employee") {
        problems.push("It is not possible to change the employee id.".to_owned());
    } else if !FIELDS.iter().any(|k| body.contains_key(*k)) {
        problems.push(format!(
            "At least one of {} is required.",
            FIELDS.join(", ")
        ));
    }
    let f = attendance_fields(&body, &mut problems);
    let skip = skip_approval(&body).unwrap_or_else(|m| {
        problems.push(m);
        true
    });
    let mut inner = shared.lock();
    let hr = &mut inner.hr;
    let Some(current) = hr.periods.attendances.get(&id).cloned() else {
        return attendance_404();
    };
    let mut updated = current.clone();
    if let Some(d) = f.date {
        updated.date = d;
    }
    if let Some(s) = f.start_time {
        updated.start_time = s;
    }
    if let Some(e) = f.end_time {
        updated.end_time = e;
    }
    if let Some(b) = f.break_minutes {
        updated.break_minutes = b;
    }
    if let Some(c) = f.comment {
        updated.comment = c;
    }
    if let Some(p) = f.project_id {
        updated.project_id = p;
    }
    if !skip {
        updated.status = "pending".into();
    }
    if problems.is_empty() {
        check_span(&updated, &mut problems);
    }
    if problems.is_empty()
        && hr.periods.attendances.iter().any(|(other, o)| {
            *other != id
                && o.employee == updated.employee
                && o.date == updated.date
                && overlaps(o.span(), updated.span())
        })
    {
        problems.push("Existing overlapping attendances periods".into());
    }
    if !problems.is_empty() {
        let mut echo = body.clone();
        echo.insert("employee".into(), json!(current.employee));
        return attendance_400(
            &format!("{INSERT_ERROR}."),
            vec![detail_entry(&echo, Some(id), &problems)],
        );
    }
    updated.updated_at = hr.tick();
    hr.periods.attendances.insert(id, updated);
    drop(inner);
    respond_json(
        StatusCode::OK,
        &json!({"success": true, "data": {"message": "The attendance period was updated."}}),
    )
}

/// `DELETE /v1/company/attendances/{id}`.
pub(super) fn delete_attendance(shared: &Shared, id: &str) -> Response {
    let removed = id
        .parse::<u64>()
        .ok()
        .and_then(|id| shared.lock().hr.periods.attendances.remove(&id));
    match removed {
        Some(_) => respond_json(
            StatusCode::OK,
            &json!({"success": true, "data": {"message": "The attendance period was deleted."}}),
        ),
        None => attendance_404(),
    }
}

// ----- absence periods -----

/// `GET /v1/company/absence-periods`: `limit` (1..=200, default 200), `offset` a page number
/// from 0, `updated_from` / `updated_to` (inclusive), `start_date` / `end_date` (periods that
/// intersect the window), `employees[]`.
pub(super) fn list_absence_periods(shared: &Shared, rec: &Recorded) -> Response {
    let query = query_pairs(rec);
    let mut window = [None, None];
    for (slot, key) in window.iter_mut().zip(["start_date", "end_date"]) {
        if let Some(raw) = pair(&query, key) {
            match parse_date(raw) {
                Some(d) => *slot = Some(d),
                None => {
                    return bad_request(&format!(
                        "The {key} must be a date in the format YYYY-MM-DD, got {raw:?}."
                    ));
                }
            }
        }
    }
    let parsed = (|| {
        Ok::<_, String>((
            page_limit(&query, ABSENCE_MAX_LIMIT, 200)?,
            page_offset(&query)?,
            updated_window(&query)?,
            employee_filter(&query)?,
        ))
    })();
    let (limit, page, (from, to), employees) = match parsed {
        Ok(p) => p,
        Err(m) => return bad_request(&m),
    };
    let inner = shared.lock();
    let hr = &inner.hr;
    let matching: Vec<&AbsencePeriod> = hr
        .periods
        .absences
        .iter()
        .filter(|_| !hr.hostile.empty_listing)
        .filter(|a| from.is_none_or(|t| a.updated_at >= t))
        .filter(|a| to.is_none_or(|t| a.updated_at <= t))
        .filter(|a| employees.as_ref().is_none_or(|e| e.contains(&a.employee)))
        .filter(|a| {
            let (Some(s), Some(e)) = (parse_date(&a.start_date), parse_date(&a.end_date)) else {
                return false;
            };
            window[0].is_none_or(|w| e >= w) && window[1].is_none_or(|w| s <= w)
        })
        .collect();
    let total = matching.len();
    let data: Vec<Value> = matching
        .into_iter()
        .skip(page.saturating_mul(limit))
        .take(limit)
        .map(|a| a.json(hr))
        .collect();
    drop(inner);
    respond_json(
        StatusCode::OK,
        &json!({
            "success": true,
            "metadata": {
                "total_elements": total,
                "current_page": page,
                "total_pages": total.div_ceil(limit),
            },
            "offset": page,
            "limit": limit,
            "data": data,
        }),
    )
}

/// The body of `POST /v1/company/absence-periods`: a form (as the document gives it) or a
/// JSON object, as text values.
fn absence_body(rec: &Recorded) -> Option<BTreeMap<String, Value>> {
    if media_type(rec).as_deref() == Some("application/x-www-form-urlencoded") {
        let form = parse_pairs(&String::from_utf8_lossy(&rec.body));
        return Some(
            form.into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        );
    }
    json_object(rec).map(|m| m.into_iter().collect())
}

/// `ErrorCreateAbsenceResponse` (422): `error_data` maps each field to its problems.
fn absence_422(errors: BTreeMap<String, Vec<String>>) -> Response {
    respond_json(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({
            "success": false,
            "error": {
                "code": 0,
                "message": "The given data failed to pass validation.",
                "error_data": errors,
            },
        }),
    )
}

/// `ErrorInsertingAbsenceResponse` (400), with the reason as `detail`.
fn absence_400(detail: &str) -> Response {
    respond_json(
        StatusCode::BAD_REQUEST,
        &json!({
            "success": false,
            "error": {
                "code": 400,
                "message": "Error when trying to insert absence period",
                "detail": detail,
            },
        }),
    )
}

fn absence_404(message: &str) -> Response {
    respond_json(
        StatusCode::NOT_FOUND,
        &json!({"success": false, "error": {"code": 0, "message": message}}),
    )
}

/// `POST /v1/company/absence-periods`: `CreateAbsencePeriodRequest` -> 201
/// `{success: true, data: {type: "AbsencePeriod", attributes: {...}}}`. Missing or malformed
/// fields: 422; an unknown employee or time-off type: 404; a period that cannot be inserted
/// (ends before it starts, a one-day period without times, overlapping another): 400.
pub(super) fn create_absence_period(shared: &Shared, rec: &Recorded) -> Response {
    let Some(body) = absence_body(rec) else {
        return absence_422(BTreeMap::from([(
            "body".to_owned(),
            vec!["The body must be a form or a JSON object.".to_owned()],
        )]));
    };
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut fail = |k: &str, m: String| errors.entry(k.to_owned()).or_default().push(m);
    let text = |k: &str| -> Option<String> {
        match body.get(k)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    let mut integer = |k: &str| -> Option<u64> {
        match text(k) {
            None => {
                fail(k, format!("The {k} field is required."));
                None
            }
            Some(s) => match s.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    fail(k, format!("The {k} must be an integer."));
                    None
                }
            },
        }
    };
    let employee = integer("employee_id");
    let type_id = integer("time_off_type_id");
    let mut dates = Vec::new();
    for k in ["start_date", "end_date"] {
        match text(k) {
            None => fail(k, format!("The {k} field is required.")),
            Some(s) if parse_date(&s).is_none() => {
                fail(k, format!("The {k} does not match the format Y-m-d."));
            }
            Some(s) => dates.push(s),
        }
    }
    let mut times = Vec::new();
    for k in ["start_time", "end_time"] {
        if let Some(s) = text(k) {
            match parse_hhmm(&s) {
                Some(m) => times.push(m),
                None => fail(k, format!("The {k} does not match the format H:i.")),
            }
        }
    }
    let mut flag = |k: &str| match text(k).as_deref() {
        None => false,
        Some("true" | "1") => true,
        Some("false" | "0") => false,
        Some(_) => {
            fail(k, format!("The {k} field must be true or false."));
            false
        }
    };
    let half_day_start = flag("half_day_start");
    let half_day_end = flag("half_day_end");
    let skip = !matches!(text("skip_approval").as_deref(), Some("false" | "0"));
    let comment = text("comment").unwrap_or_default();
    if !errors.is_empty() {
        return absence_422(errors);
    }
    let (Some(employee), Some(type_id), [start_date, end_date]) = (employee, type_id, &dates[..])
    else {
        return absence_422(errors);
    };
    let mut inner = shared.lock();
    let hr = &mut inner.hr;
    if !hr.employees.contains_key(&employee) {
        return absence_404("Employee not found.");
    }
    if !TIME_OFF_TYPES.iter().any(|(id, _, _)| *id == type_id) {
        return absence_404("Absence type not found.");
    }
    if end_date < start_date {
        return absence_400("The end_date must be on or after the start_date.");
    }
    let times = if start_date == end_date {
        match times[..] {
            [from, to] if from < to => Some((from, to)),
            [_, _] => return absence_400("The end_time must be after the start_time."),
            _ => {
                return absence_400(
                    "start_time and end_time are required when start_date equals end_date.",
                );
            }
        }
    } else {
        None
    };
    let new = AbsencePeriod {
        id: String::new(),
        employee,
        time_off_type_id: type_id,
        start_date: start_date.clone(),
        end_date: end_date.clone(),
        times,
        half_day_start: times.is_none() && half_day_start,
        half_day_end: times.is_none() && half_day_end,
        comment,
        status: if skip { "approved" } else { "pending" }.into(),
        origin: "api".into(),
        created_at: 0,
        updated_at: 0,
    };
    let day_span = |a: &AbsencePeriod| {
        let (s, e) = a.bounds();
        (s, e)
    };
    let (ns, ne) = day_span(&new);
    let clash = hr
        .periods
        .absences
        .iter()
        .filter(|o| o.employee == employee)
        .any(|o| {
            let (os, oe) = day_span(o);
            os < ne && ns < oe
        });
    if clash {
        return absence_400("The employee already has an absence in this period.");
    }
    let at = hr.tick();
    hr.periods.absence_counter += 1;
    let mut new = new;
    new.id = format!(
        "00000000-0000-4000-a000-{:012x}",
        hr.periods.absence_counter
    );
    new.created_at = at;
    new.updated_at = at;
    let rendered = new.json(hr);
    hr.periods.absences.push(new);
    drop(inner);
    respond_json(
        StatusCode::CREATED,
        &json!({"success": true, "data": rendered}),
    )
}
