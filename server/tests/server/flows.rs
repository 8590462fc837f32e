//! Syncs, records, actions and the Personio webhook receiver over HTTP, against the fake
//! Personio, on a SQLite file and on PostgreSQL: a triggered sync of employees followed to
//! SUCCESS, every record read once through the cursor, then an update and a deletion at the
//! fake seen as exactly those two changes after the last cursor; the query's filters, limit
//! and a garbage cursor; an action valid (200), invalid (422, every field named, nothing
//! sent) and refused by the provider (502 with its status); a webhook delivery through the
//! mounted receiver stored and applied.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use terapi_store::{ConnectionRecord, Store};
use terapi_test_support::db::Kind;
use terapi_test_support::fake_personio::{Delivery, FakePersonio};
use terapi_test_support::personio_conn;

use terapi_runtime::Secret;
use terapi_server::OutgoingWebhooks;
use terapi_store::{OutboxKind, OutboxQuery};

use crate::support::{ALL_SCOPES, Options, TestServer};

const HR: &str = "hr";
const HR2: &str = "hr2";

struct Env {
    fake: FakePersonio,
    server: TestServer,
    store: Store,
    /// A key with every scope.
    key: String,
}

async fn env(kind: Kind) -> Option<Env> {
    let fake = FakePersonio::start().await;
    fake.set_employees(250);
    fake.set_persons(20);
    // Sync events go to the outbox (to a receiver that is not there: they stay pending).
    let options = Options::new(&fake.origin()).on(kind).config(|c| {
        c.webhooks = Some(OutgoingWebhooks {
            url: "http://127.0.0.1:9/hooks".parse().unwrap(),
            secret: Secret::new("whsec-flows"),
            retry_for: Duration::from_secs(25 * 3600),
        });
    });
    let server = TestServer::start(options).await?;
    let store = server.server.store().clone();
    let secrets = json!({
        "client_id": FakePersonio::CLIENT_ID,
        "client_secret": FakePersonio::CLIENT_SECRET,
    });
    for (id, provider) in [(HR, "personio"), (HR2, "personio-v2")] {
        store
            .save_connection(
                id,
                &ConnectionRecord::new(provider, json!({}), secrets.clone()),
            )
            .await
            .unwrap();
    }
    let key = server.admin_key.clone();
    Some(Env {
        fake,
        server,
        store,
        key,
    })
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url)
    }

    async fn get(&self, path: &str, connection: Option<&str>) -> (u16, Value) {
        let headers: Vec<(&str, &str)> = connection
            .map(|c| ("connection-id", c))
            .into_iter()
            .collect();
        let (status, body) = self
            .server
            .send(Method::GET, path, &self.key, None, &headers)
            .await;
        assert!(!body.is_null(), "GET {path}: HTTP {status}, not JSON");
        (status, body)
    }

    async fn post(&self, path: &str, connection: Option<&str>, body: &Value) -> (u16, Value) {
        let headers: Vec<(&str, &str)> = connection
            .map(|c| ("connection-id", c))
            .into_iter()
            .collect();
        let (status, answer) = self
            .server
            .send(Method::POST, path, &self.key, Some(body), &headers)
            .await;
        assert!(!answer.is_null(), "POST {path}: HTTP {status}, not JSON");
        (status, answer)
    }

    /// `POST path` with `body` as it is (no content type unless given).
    async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut request = self
            .server
            .http
            .post(self.url(path))
            .bearer_auth(&self.key)
            .header("connection-id", HR)
            .body(body);
        if let Some(t) = content_type {
            request = request.header("content-type", t);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn trigger(&self, connection: &str, syncs: &[&str], full: bool) -> Value {
        let (status, body) = self
            .post(
                "/sync/trigger",
                None,
                &json!({"connection_id": connection, "syncs": syncs, "full": full}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        body
    }

    /// Waits until the model's status is SUCCESS (or fails with ERROR).
    async fn wait_success(&self, connection: &str, sync: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, body) = self
                .get(
                    &format!("/sync/status?connection_id={connection}&syncs={sync}"),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{body}");
            let one = body["syncs"][0].clone();
            match one["status"].as_str() {
                Some("SUCCESS") => return one,
                Some("ERROR") => panic!("the sync failed: {one}"),
                _ => {}
            }
            assert!(Instant::now() < deadline, "no SUCCESS in time: {one}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every record from `cursor` on, page by page (`limit` each); the records and the last
    /// record's cursor.
    async fn read_all(&self, query: &str, cursor: Option<&str>) -> (Vec<Value>, Option<String>) {
        let mut records = Vec::new();
        let mut cursor = cursor.map(str::to_owned);
        let mut last = cursor.clone();
        for _ in 0..1000 {
            let path = match &cursor {
                Some(c) => format!("/records?{query}&cursor={c}"),
                None => format!("/records?{query}"),
            };
            let (status, body) = self.get(&path, Some(HR)).await;
            assert_eq!(status, 200, "{body}");
            let page = body["records"].as_array().unwrap().clone();
            if let Some(r) = page.last() {
                last = Some(r["_terapi_metadata"]["cursor"].as_str().unwrap().to_owned());
            }
            records.extend(page);
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return (records, last),
            }
        }
        panic!("the cursor never ended");
    }
}

impl Env {
    /// The `sync` events in the outbox, oldest first, once there are `n`.
    async fn sync_events(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut events: Vec<Value> = self
                .store
                .deliveries(&OutboxQuery::default())
                .await
                .unwrap()
                .into_iter()
                .filter(|d| d.kind == OutboxKind::Sync)
                .map(|d| serde_json::from_slice(&d.body).unwrap())
                .collect();
            events.reverse();
            if events.len() >= n {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "{} sync events, not {n}",
                events.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| match &r["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

fn employee_id(record: &Value) -> String {
    record["attributes"]["id"]["value"].to_string()
}

async fn sync_and_records(kind: Kind) {
    let Some(env) = env(kind).await else { return };
    // Nothing synced yet: a declared model answers no records, and its status is PENDING.
    let (status, body) = env.get("/records?model=employees", Some(HR)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"records": [], "next_cursor": null}));
    let (_, body) = env.get("/sync/status?connection_id=hr", None).await;
    let names: Vec<&str> = body["syncs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["employees", "attendances", "absence-periods"]);
    assert!(
        body["syncs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "PENDING")
    );

    let started = env.trigger(HR, &["employees", "employees"], false).await;
    assert_eq!(
        started,
        json!({"data": {"connection_id": "hr", "syncs": [{"name": "employees", "status": "started"}], "full": false}})
    );
    let status = env.wait_success(HR, "employees").await;
    assert_eq!(status["model"], "EmployeeRecord");
    assert_eq!(
        status["latest_result"],
        json!({"added": 250, "updated": 0, "deleted": 0})
    );
    assert!(
        status["last_run_at"].as_str().unwrap().ends_with('Z'),
        "{status}"
    );
    assert!(status["next_run_at"].is_null(), "not scheduled: {status}");
    assert!(status["error"].is_null());

    // Every employee once, 7 pages of at most 40.
    let (records, last) = env.read_all("model=employees&limit=40", None).await;
    assert_eq!(records.len(), 250);
    let unique: BTreeSet<String> = ids(&records).into_iter().collect();
    assert_eq!(unique.len(), 250);
    assert!(
        records
            .iter()
            .all(|r| r["_terapi_metadata"]["last_action"] == "ADDED"
                && r["_terapi_metadata"]["deleted_at"].is_null()
                && r["id"] == employee_id(r).as_str())
    );
    let one = records.iter().find(|r| r["id"] == "7").unwrap();
    assert_eq!(one["attributes"]["first_name"]["value"], "First7");
    let meta = &one["_terapi_metadata"];
    assert_eq!(meta["first_seen_at"], meta["last_modified_at"]);
    // The status's cursor is where the feed ends: nothing after it.
    let end = status["cursor"].as_str().unwrap();
    assert_eq!(Some(end), last.as_deref());
    let (_, after) = env
        .get(&format!("/records?model=employees&cursor={end}"), Some(HR))
        .await;
    assert_eq!(after, json!({"records": [], "next_cursor": null}));
    // The output model's name reads the same records.
    let (_, by_output) = env
        .get("/records?model=EmployeeRecord&limit=1000", Some(HR))
        .await;
    assert_eq!(by_output["records"].as_array().unwrap().len(), 250);

    // One renamed, one gone: a full run, and exactly those two after the last cursor.
    let modified_before = time_now();
    assert!(env.fake.update_employee(7, "Renamed"));
    assert!(env.fake.delete_employee(250));
    env.trigger(HR, &["employees"], true).await;
    let status = env.wait_success(HR, "employees").await;
    assert_eq!(
        status["latest_result"],
        json!({"added": 0, "updated": 1, "deleted": 1})
    );
    let (changes, _) = env.read_all("model=employees", last.as_deref()).await;
    assert_eq!(ids(&changes), ["7", "250"], "{changes:?}");
    // Each run's `sync` event is in the outbox; its cursor lists the run's changes.
    let events = env.sync_events(2).await;
    assert_eq!(events.len(), 2, "{events:?}");
    let first = &events[0];
    assert_eq!(first["type"], "sync");
    assert_eq!(first["connectionId"], "hr");
    assert_eq!(first["providerConfigKey"], "personio");
    assert_eq!(first["syncName"], "employees");
    assert_eq!(first["model"], "EmployeeRecord");
    assert_eq!(
        first["syncType"], "INITIAL",
        "no complete run before: {first}"
    );
    assert_eq!(first["success"], true);
    assert_eq!(
        first["responseResults"],
        json!({"added": 250, "updated": 0, "deleted": 0})
    );
    let second = &events[1];
    assert_eq!(
        second["responseResults"],
        json!({"added": 0, "updated": 1, "deleted": 1})
    );
    assert!(
        second["modifiedAfter"].as_str().unwrap().ends_with('Z'),
        "{second}"
    );
    assert!(second.get("error").is_none(), "{second}");
    let (run, _) = env
        .read_all("model=employees", second["cursor"].as_str())
        .await;
    assert_eq!(ids(&run), ["7", "250"], "{second}");
    let (since, _) = env
        .read_all(
            &format!(
                "model=employees&modified_after={}",
                second["modifiedAfter"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(ids(&since), ["7", "250"], "{second}");
    assert!(
        !events
            .iter()
            .any(|e| e.to_string().contains(FakePersonio::CLIENT_SECRET))
    );
    assert_eq!(changes[0]["attributes"]["first_name"]["value"], "Renamed");
    assert_eq!(changes[0]["_terapi_metadata"]["last_action"], "UPDATED");
    assert_ne!(
        changes[0]["_terapi_metadata"]["first_seen_at"],
        changes[0]["_terapi_metadata"]["last_modified_at"]
    );
    let gone = &changes[1];
    assert_eq!(gone["_terapi_metadata"]["last_action"], "DELETED");
    assert!(gone["_terapi_metadata"]["deleted_at"].is_string());
    assert_eq!(
        gone.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["_terapi_metadata", "id"],
        "a deletion is its id and metadata: {gone}"
    );

    // Filters: the kinds, the time, the limit.
    let (deleted, _) = env
        .read_all("model=employees&filter=deleted", last.as_deref())
        .await;
    assert_eq!(ids(&deleted), ["250"]);
    let (updated, _) = env
        .read_all("model=employees&filter=UPDATED,added", last.as_deref())
        .await;
    assert_eq!(ids(&updated), ["7"]);
    let (recent, _) = env
        .read_all(
            &format!("model=employees&modified_after={modified_before}"),
            None,
        )
        .await;
    assert_eq!(
        ids(&recent),
        ["7", "250"],
        "changed at or after {modified_before}"
    );
    let (added, _) = env.read_all("model=employees&filter=added", None).await;
    assert_eq!(
        added.len(),
        249,
        "from the beginning, the live records are added"
    );
    let (_, page) = env.get("/records?model=employees&limit=1", Some(HR)).await;
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
    assert!(page["next_cursor"].is_string());

    // Refused: the cursor, the query, the model, the connection.
    let other = status["cursor"].as_str().unwrap();
    for (path, connection, expected, code) in [
        (
            "/records?model=employees&cursor=garbage",
            Some(HR),
            400,
            "invalid_cursor",
        ),
        (
            "/records?model=employees&cursor=eyJjIjoiaHIiLCJtIjoiZW1wbG95ZWVzIiwicyI6LTF9",
            Some(HR),
            400,
            "invalid_cursor",
        ),
        (
            &format!("/records?model=attendances&cursor={other}"),
            Some(HR),
            400,
            "invalid_cursor",
        ),
        (
            "/records?model=employees&limit=0",
            Some(HR),
            400,
            "invalid_request",
        ),
        (
            "/records?model=employees&limit=1001",
            Some(HR),
            400,
            "invalid_request",
        ),
        (
            "/records?model=employees&filter=created",
            Some(HR),
            400,
            "invalid_request",
        ),
        (
            "/records?model=employees&modified_after=yesterday",
            Some(HR),
            400,
            "invalid_request",
        ),
        ("/records?model=persons", Some(HR), 404, "unknown_model"),
        ("/records?model=employees", None, 400, "invalid_request"),
        ("/records?model=employees", Some("nobody"), 404, "not_found"),
    ] {
        let (status, body) = env.get(path, connection).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (expected, Some(code)),
            "{path}: {body}"
        );
    }
    // The connection's provider, when given, is checked.
    for (key, expected) in [("personio-v2", 400), ("personio", 200)] {
        let (status, body) = env
            .server
            .send(
                Method::GET,
                "/records?model=employees&limit=1",
                &env.key,
                None,
                &[("connection-id", HR), ("provider-config-key", key)],
            )
            .await;
        assert_eq!(status, expected, "{key}: {body}");
    }
    // Another connection's cursor is refused too.
    let (_, body) = env
        .get(&format!("/records?model=persons&cursor={other}"), Some(HR2))
        .await;
    assert_eq!(body["error"]["code"], "invalid_cursor", "{body}");
}

/// Now as RFC 3339, a little before (the server's clock is this one).
fn time_now() -> String {
    let now = std::time::SystemTime::now() - Duration::from_millis(5);
    let ms = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i128;
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).unwrap();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn triggers_refused_and_running(kind: Kind) {
    let Some(env) = env(kind).await else { return };
    for (body, expected, code) in [
        (
            json!({"connection_id": "hr", "syncs": ["employees", "persons", "x y"]}),
            422,
            "invalid_syncs",
        ),
        (
            json!({"connection_id": "hr", "syncs": []}),
            400,
            "invalid_request",
        ),
        (json!({"connection_id": "hr"}), 422, "invalid_body"),
        (
            json!({"connection_id": "hr", "syncs": ["employees"], "fast": true}),
            422,
            "invalid_body",
        ),
        (
            json!({"connection_id": "nobody", "syncs": ["employees"]}),
            404,
            "not_found",
        ),
        (json!("employees"), 422, "invalid_body"),
    ] {
        let (status, answer) = env.post("/sync/trigger", None, &body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (expected, Some(code)),
            "{body}: {answer}"
        );
        if code == "invalid_syncs" {
            let fields: Vec<&str> = answer["error"]["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["param"].as_str().unwrap())
                .collect();
            assert_eq!(fields, ["persons", "x y"], "{answer}");
            assert!(
                answer["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("employees, attendances, absence-periods")
            );
        }
    }
    let (status, answer) = env
        .post_raw(
            "/sync/trigger",
            Some("application/json"),
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(env.fake.count("/v1/company/employees"), 0, "nothing ran");

    // A run in progress is reported as running, not started twice.
    env.fake
        .set_delay("/v1/company/employees", Duration::from_millis(300));
    env.trigger(HR, &["employees"], false).await;
    let again = env.trigger(HR, &["employees"], false).await;
    assert_eq!(
        again["data"]["syncs"],
        json!([{"name": "employees", "status": "already_running"}])
    );
    let (_, status) = env
        .get("/sync/status?connection_id=hr&syncs=employees", None)
        .await;
    assert_eq!(status["syncs"][0]["status"], "RUNNING", "{status}");
    env.wait_success(HR, "employees").await;
    // A failed run: ERROR with its reason.
    env.fake.set_delay("/v1/company/employees", Duration::ZERO);
    env.fake
        .fail_next("/v1/company/employees", vec![(403, None)]);
    env.trigger(HR, &["employees"], true).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, status) = env
            .get("/sync/status?connection_id=hr&syncs=employees", None)
            .await;
        if status["syncs"][0]["status"] == "ERROR" {
            assert!(
                status["syncs"][0]["error"]
                    .as_str()
                    .unwrap()
                    .contains("403"),
                "{status}"
            );
            assert!(status["syncs"][0]["latest_result"].is_null(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The failure's event says why, without the provider's answer.
    let events = env.sync_events(2).await;
    let failed = events.last().unwrap();
    assert_eq!(failed["success"], false, "{events:?}");
    assert_eq!(
        failed["error"],
        json!({"type": "sync_failed", "description": "the provider answered HTTP 403"})
    );
    assert_eq!(
        failed["responseResults"],
        json!({"added": 0, "updated": 0, "deleted": 0})
    );
    let (status, body) = env
        .get("/sync/status?connection_id=hr&syncs=persons", None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_syncs")),
        "{body}"
    );
    let (status, _) = env.get("/sync/status?syncs=employees", None).await;
    assert_eq!(status, 400);
}

fn attendance(employee: u64) -> Value {
    json!({"attendances": [{
        "employee": employee, "date": "2026-12-01", "start_time": "09:00",
        "end_time": "17:00", "break": 30,
    }]})
}

async fn actions(kind: Kind) {
    let Some(env) = env(kind).await else { return };
    let (status, body) = env
        .post("/action/create-attendances", Some(HR), &attendance(7))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["success"], true, "{body}");
    assert!(body["data"]["data"]["id"].is_array(), "{body}");
    let posted = env
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/company/attendances")
        .count();
    assert_eq!(posted, 1);

    // Invalid: every field named, nothing sent.
    env.fake.clear_recorded();
    let (status, body) = env
        .post(
            "/action/create-attendances",
            Some(HR),
            &json!({
                "attendances": [{"employee": "seven", "date": "2026-02-30", "start_time": "9:00"}],
                "skip_aproval": true,
            }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_input");
    let fields: Vec<(&str, &str)> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["section"].as_str().unwrap(), f["param"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("input", "attendances[0].employee"),
            ("input", "attendances[0].date"),
            ("input", "attendances[0].start_time"),
            ("input", "attendances[0].break"),
            ("input", "skip_aproval"),
        ],
        "{body}"
    );
    assert!(
        !body.to_string().contains("seven"),
        "no input value echoed: {body}"
    );
    assert!(
        env.fake.requests().iter().all(|r| r.method != "POST"),
        "nothing sent"
    );

    // The provider refuses (an employee it does not have): 502 with its status and message.
    let (status, body) = env
        .post("/action/create-attendances", Some(HR), &attendance(99_999))
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "provider_error");
    assert_eq!(body["error"]["status"], 400, "{body}");
    assert!(body["error"]["body"].is_object(), "{body}");
    assert!(!body.to_string().contains(FakePersonio::CLIENT_SECRET));

    // Unknown action, unknown connection, another provider's action, bad JSON, too large.
    for (path, connection, expected, code) in [
        ("/action/create-person", HR, 404, "unknown_action"),
        ("/action/nothing", HR, 404, "unknown_action"),
        ("/action/create-attendances", "nobody", 404, "not_found"),
    ] {
        let (status, body) = env.post(path, Some(connection), &attendance(7)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (expected, Some(code)),
            "{path}: {body}"
        );
    }
    let (status, body) = env
        .post_raw(
            "/action/create-attendances",
            None,
            b"{\"attendances\": [".to_vec(),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_json")),
        "{body}"
    );
    // Inputs over the JSON limit of the other routes (1 MiB) are read: an action's is 25 MiB.
    // (Answered 422: the input was read and checked.)
    let mut padded = attendance(7);
    padded["attendances"][0]["employee"] = json!("seven");
    padded["attendances"][0]["comment"] = json!("x".repeat(2 * 1024 * 1024));
    let (status, body) = env
        .post("/action/create-attendances", Some(HR), &padded)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_input")),
        "{body}"
    );
    let (status, body) = env
        .post("/action/create-attendances", None, &attendance(7))
        .await;
    assert_eq!(status, 400, "{body}");
    let big = json!({"attendances": [], "pad": "x".repeat(26 * 1024 * 1024)});
    let (status, body) = env.post("/action/create-attendances", Some(HR), &big).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("body_too_large")),
        "{body}"
    );
}

async fn webhooks(kind: Kind) {
    let Some(env) = env(kind).await else { return };
    env.trigger(HR2, &["persons"], true).await;
    env.wait_success(HR2, "persons").await;
    let (_, before) = env
        .get("/sync/status?connection_id=hr2&syncs=persons", None)
        .await;
    let cursor = before["syncs"][0]["cursor"].as_str().unwrap().to_owned();

    let conn = env
        .store
        .connect(HR2, personio_conn::settings(&env.fake.origin()))
        .await
        .unwrap();
    let url = env.url("/webhooks/personio-v2");
    terapi_sync::webhook::subscribe(&conn, &env.store, HR2, &url, &["person.updated"])
        .await
        .unwrap();
    assert!(env.fake.update_person("3", "Hooked"));
    let report = env
        .fake
        .deliver(Delivery {
            copies: 3,
            ..Delivery::default()
        })
        .await;
    assert_eq!(report.delivered, 3, "{:?}", report.statuses);
    assert_eq!(
        report.statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{:?}",
        report.statuses
    );

    // Applied in the background: the feed after the cursor has the person, once.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = env
            .get(
                &format!("/records?model=persons&cursor={cursor}"),
                Some(HR2),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let records = body["records"].as_array().unwrap();
        if !records.is_empty() {
            assert_eq!(records.len(), 1, "{body}");
            assert_eq!(records[0]["id"], "3");
            assert_eq!(records[0]["first_name"], "Hooked", "{body}");
            assert_eq!(records[0]["_terapi_metadata"]["last_action"], "UPDATED");
            break;
        }
        assert!(Instant::now() < deadline, "the event was not applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Without the token, or with a wrong one: 401, nothing stored.
    for token in [None, Some("Bearer nope")] {
        let mut request = env
            .server
            .http
            .post(&url)
            .body(r#"{"event_name":"person.updated"}"#);
        if let Some(t) = token {
            request = request.header("authorization", t);
        }
        assert_eq!(request.send().await.unwrap().status().as_u16(), 401);
    }
    let response = env.server.http.get(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
}

/// Two replicas over one store: a run started on one is running for the other (its trigger
/// answers `already_running`, its status RUNNING, then SUCCESS), and the other reads the
/// records it stored.
async fn replicas_share_runs(kind: Kind) {
    let Some(env) = env(kind).await else { return };
    let other = TestServer::start(Options::new(&env.fake.origin()).replica_of(&env.server.db_url))
        .await
        .unwrap();
    let other_key = other.key(&["sync", "records"]).await;
    env.fake
        .set_delay("/v1/company/employees", Duration::from_millis(300));
    env.trigger(HR, &["employees"], true).await;
    let employees = terapi_store::Model::personal(HR, "employees");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !env
        .store
        .sync_status(employees)
        .await
        .unwrap()
        .is_some_and(|s| s.leased)
    {
        assert!(Instant::now() < deadline, "the run never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let body = json!({"connection_id": HR, "syncs": ["employees"]});
    let (status, answer) = other.post("/sync/trigger", &other_key, &body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        answer["data"]["syncs"][0]["status"], "already_running",
        "{answer}"
    );
    let (_, answer) = other
        .get("/sync/status?connection_id=hr&syncs=employees", &other_key)
        .await;
    assert_eq!(answer["syncs"][0]["status"], "RUNNING", "{answer}");
    env.wait_success(HR, "employees").await;
    let (_, answer) = other
        .get("/sync/status?connection_id=hr&syncs=employees", &other_key)
        .await;
    let one = &answer["syncs"][0];
    assert_eq!(one["status"], "SUCCESS", "{answer}");
    assert!(
        one["latest_result"].is_null(),
        "this replica ran nothing: {answer}"
    );
    let (status, answer) = other
        .send(
            Method::GET,
            "/records?model=employees&limit=1000",
            &other_key,
            None,
            &[("connection-id", HR)],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["records"].as_array().unwrap().len(), 250);
}

/// A model on the store's schedule is synced by the server's worker: its status, latest
/// result and `sync` event (without a cursor: the worker does not know the one before).
async fn scheduled_syncs_run(kind: Kind) {
    let Some(env) = env(kind).await else { return };
    let employees = terapi_store::Model::personal(HR, "employees");
    env.store
        .schedule(
            employees,
            Duration::from_secs(3600),
            std::time::SystemTime::now(),
        )
        .await
        .unwrap();
    let status = env.wait_success(HR, "employees").await;
    assert_eq!(status["frequency_seconds"], 3600, "{status}");
    assert!(status["next_run_at"].is_string(), "{status}");
    let events = env.sync_events(1).await;
    assert_eq!(events[0]["responseResults"]["added"], 250, "{events:?}");
    assert!(events[0].get("cursor").is_none(), "{events:?}");
    assert!(events[0]["modifiedAfter"].is_string(), "{events:?}");
    // Read back in a moment: the worker records its result after the run.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = env
            .get("/sync/status?connection_id=hr&syncs=employees", None)
            .await;
        if body["syncs"][0]["latest_result"]["added"] == 250 {
            break;
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A server stopped while a triggered run is in progress stops the run (the pages stored
/// stay) and releases its lease: the next run, on any replica, resumes it at once.
async fn a_stop_ends_triggered_runs(kind: Kind) {
    let Some(env) = env(kind).await else { return };
    env.fake
        .set_delay("/v1/company/employees", Duration::from_millis(400));
    env.trigger(HR, &["employees"], true).await;
    let employees = terapi_store::Model::personal(HR, "employees");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !env
        .store
        .sync_status(employees)
        .await
        .unwrap()
        .is_some_and(|s| s.leased)
    {
        assert!(Instant::now() < deadline, "the run never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let Env {
        server,
        store,
        fake,
        ..
    } = env;
    let stopping = Instant::now();
    server.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
    // Nothing more is fetched for the stopped run.
    let fetched = fake.count("/v1/company/employees");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        fake.count("/v1/company/employees"),
        fetched,
        "the run went on"
    );
    let status = store.sync_status(employees).await.unwrap().unwrap();
    assert!(!status.leased, "{status:?}");
    assert!(
        status.last_run_at.is_none(),
        "the run did not complete: {status:?}"
    );
    // Another process resumes at once.
    fake.set_delay("/v1/company/employees", Duration::ZERO);
    let conn = store
        .connect(HR, personio_conn::settings(&fake.origin()))
        .await
        .unwrap();
    let spec = terapi_providers::integrations::personio::syncs::employees();
    let report = terapi_sync::sync(&store, &conn, HR, &spec, terapi_sync::SyncOptions::full())
        .await
        .unwrap();
    assert_eq!(
        report.counts.added + report.counts.unchanged,
        250,
        "{report:?}"
    );
}

/// Each route of this module without a key, with a wrong key, with a session token and with
/// a key lacking its scope: refused (401, 401, 403, 403) and nothing done — no run, nothing
/// sent to the provider; then the key with exactly the scope is served.
async fn refused_callers_do_nothing(kind: Kind) {
    let Some(env) = env(kind).await else { return };
    let session = env.server.session("user-flows", &[]).await;
    let wrong = "tk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let routes = [
        (
            Method::POST,
            "/sync/trigger",
            Some(json!({"connection_id": HR, "syncs": ["employees"], "full": true})),
            "sync",
        ),
        (Method::GET, "/sync/status?connection_id=hr", None, "sync"),
        (Method::GET, "/records?model=employees", None, "records"),
        (
            Method::POST,
            "/action/create-attendances",
            Some(attendance(7)),
            "actions",
        ),
    ];
    for (method, path, body, scope) in &routes {
        let others: Vec<&str> = ALL_SCOPES
            .iter()
            .copied()
            .filter(|s| s != scope && *s != "admin")
            .collect();
        let lacking = env.server.key(&others).await;
        for (who, token, expected) in [
            ("no key", "", 401),
            ("a wrong key", wrong, 401),
            ("a session token", session.as_str(), 403),
            ("a key without the scope", lacking.as_str(), 403),
        ] {
            let (status, answer) = env
                .server
                .send(
                    method.clone(),
                    path,
                    token,
                    body.as_ref(),
                    &[("connection-id", HR)],
                )
                .await;
            assert_eq!(status, expected, "{method} {path} with {who}: {answer}");
            assert!(answer["error"]["code"].is_string(), "{answer}");
            assert!(!answer.to_string().contains(wrong));
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        env.fake.requests().is_empty(),
        "a refused call reached the provider"
    );
    let employees = terapi_store::Model::personal(HR, "employees");
    assert_eq!(
        env.store.sync_status(employees).await.unwrap(),
        None,
        "a refused call ran a sync"
    );
    for (method, path, body, scope) in &routes {
        let key = env.server.key(&[scope]).await;
        let (status, answer) = env
            .server
            .send(
                method.clone(),
                path,
                &key,
                body.as_ref(),
                &[("connection-id", HR)],
            )
            .await;
        assert!(
            matches!(status, 200 | 202),
            "{method} {path} with `{scope}`: {status} {answer}"
        );
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_file { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Kind::File).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Kind::Postgres).await } )* }
    };
}

suite!(
    sync_and_records,
    triggers_refused_and_running,
    actions,
    webhooks,
    refused_callers_do_nothing,
    scheduled_syncs_run,
    a_stop_ends_triggered_runs,
    replicas_share_runs,
);
