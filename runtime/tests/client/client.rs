//! Integration tests of the HTTP client (`terapi_providers::client`) against the fake Personio
//! server of terapi-test-support (`fake_personio`).
//!
//! They check what `../shared/reference/personio-api.md` says the three Personio providers
//! need: client credentials only in request bodies, cached and renewed tokens shared by
//! concurrent callers, offset and link pagination with host and loop guards, bounded retries
//! that honour `Retry-After` and never repeat a non-idempotent request on a 5xx, credentials
//! kept away from the public job feed, no redirects, no header, host or endpoint injection,
//! `https` only, and no secret in any `Debug` output or error message.

use terapi_test_support as support;

use std::fmt::{Debug, Display};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::TryStreamExt as _;
use serde_json::{Value, json};
use support::fake_personio::{FakePersonio, NextLinkMode, Recorded, pair, parse_pairs};
use terapi_providers::client::{
    ConnectError, Error, Method, Response, Settings, Step, TransportKind, Verified,
};
use terapi_providers::{
    Connection, PaginateConfig, RetryPolicy, Secret, Section, personio, personio_recruiting,
};
use terapi_runtime::paginate::PageError;
use terapi_runtime::retry::GiveUpReason;
use terapi_runtime::spec::ClientSupport;

const EMPLOYEES: &str = "/v1/company/employees";
const PERSONS: &str = "/v2/persons";
const APPLICATIONS: &str = "/v1/recruiting/applications";
const V1_AUTH: &str = "/v1/auth";
const V2_AUTH: &str = "/v2/auth/token";

/// A wrong client secret; it must never show up anywhere either.
const WRONG_SECRET: &str = "wrong-secret-that-must-not-leak-9876";

// ----- helpers -----

/// Retries with short delays, so that the suite stays fast.
fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(5),
        max_total_wait: Duration::from_secs(10),
        ..RetryPolicy::DEFAULT
    }
}

/// Settings that reach the fake server, with fast retries.
fn settings(server: &FakePersonio) -> Settings {
    Settings::new()
        .origin(server.origin())
        .retry(fast_retry())
        .timeout(Duration::from_secs(10))
}

fn client_credentials(secret: &str) -> Value {
    json!({"client_id": FakePersonio::CLIENT_ID, "client_secret": secret})
}

fn recruiting_config() -> Value {
    json!({"companyId": FakePersonio::COMPANY_ID, "company": "company-b"})
}

fn recruiting_credentials() -> Value {
    json!({"apiKey": FakePersonio::API_KEY})
}

fn connect(key: &str, config: &Value, credentials: &Value, settings: Settings) -> Connection {
    Connection::from_json_with(key, config, credentials, settings)
        .unwrap_or_else(|e| panic!("connecting {key} failed: {e}"))
}

fn v1_with(server: &FakePersonio, settings: Settings) -> Connection {
    connect(
        "personio",
        &json!({}),
        &client_credentials(FakePersonio::CLIENT_SECRET),
        settings.origin(server.origin()),
    )
}

fn v1(server: &FakePersonio) -> Connection {
    v1_with(server, settings(server))
}

fn v1_wrong_secret(server: &FakePersonio) -> Connection {
    connect(
        "personio",
        &json!({}),
        &client_credentials(WRONG_SECRET),
        settings(server),
    )
}

fn v2(server: &FakePersonio) -> Connection {
    connect(
        "personio-v2",
        &json!({}),
        &client_credentials(FakePersonio::CLIENT_SECRET),
        settings(server),
    )
}

fn recruiting_with(server: &FakePersonio, settings: Settings) -> Connection {
    connect(
        "personio-recruiting",
        &recruiting_config(),
        &recruiting_credentials(),
        settings.origin(server.origin()),
    )
}

fn recruiting(server: &FakePersonio) -> Connection {
    recruiting_with(server, settings(server))
}

/// `GET /company/employees` `times` times, each expected to succeed.
async fn get_employees(conn: &Connection, times: usize) {
    for _ in 0..times {
        conn.get("/company/employees")
            .send()
            .await
            .expect("employees");
    }
}

fn application() -> Value {
    json!({
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "job_position_id": 42,
    })
}

/// Asserts that `text` holds no credential and no issued token.
#[track_caller]
fn assert_clean(what: &str, text: &str) {
    for secret in [
        FakePersonio::CLIENT_SECRET,
        FakePersonio::API_KEY,
        WRONG_SECRET,
        "papi-",
    ] {
        assert!(!text.contains(secret), "{what} leaks `{secret}`: {text}");
    }
}

/// Asserts that neither the `Display` nor the `Debug` of `error` holds a secret.
#[track_caller]
fn assert_error_clean(error: &(impl Debug + Display)) {
    assert_clean("an error's Display", &error.to_string());
    assert_clean("an error's Debug", &format!("{error:?}"));
}

/// The error of `result`, checked to be clean.
#[track_caller]
fn expect_err<T: Debug>(result: Result<T, Error>) -> Error {
    let error = result.expect_err("expected an error");
    assert_error_clean(&error);
    error
}

/// The `Error::Status` of `result`, checked to have `status`.
#[track_caller]
fn expect_status(result: Result<Response, Error>, status: u16) -> Error {
    let error = expect_err(result);
    match &error {
        Error::Status { status: s, .. } => assert_eq!(*s, status, "{error}"),
        other => panic!("expected HTTP {status}, got {other:?}"),
    }
    assert_eq!(error.status(), Some(status));
    error
}

fn gave_up(error: &Error) -> Option<GiveUpReason> {
    match error {
        Error::Status { gave_up, .. } => gave_up.as_deref().copied(),
        _ => None,
    }
}

fn recorded(server: &FakePersonio, path: &str) -> Vec<Recorded> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

fn media_type(r: &Recorded) -> Option<String> {
    r.header("content-type").map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
}

fn employee_id(record: &Value) -> u64 {
    record["attributes"]["id"]["value"]
        .as_u64()
        .unwrap_or_else(|| panic!("an employee without a numeric id: {record}"))
}

/// An IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

// ----- 1. v1 tokens -----

#[tokio::test]
async fn v1_token_is_requested_with_a_json_body_and_never_in_the_url() {
    let server = FakePersonio::start().await;
    let conn = v1(&server);
    let response = conn
        .get("/company/employees")
        .query(&[("limit", "10")])
        .send()
        .await
        .expect("employees");
    assert_eq!(response.status(), 200);

    let auth = recorded(&server, V1_AUTH);
    assert_eq!(auth.len(), 1, "one token request");
    let token_request = &auth[0];
    assert_eq!(token_request.method, "POST");
    assert_eq!(
        media_type(token_request).as_deref(),
        Some("application/json")
    );
    assert_eq!(token_request.query, None, "no query on the token request");
    let body: Value = serde_json::from_slice(&token_request.body).expect("a JSON token body");
    assert_eq!(body["client_id"], FakePersonio::CLIENT_ID);
    assert_eq!(body["client_secret"], FakePersonio::CLIENT_SECRET);

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        let target = format!("{}?{}", r.path, r.query.as_deref().unwrap_or_default());
        assert!(!target.contains(FakePersonio::CLIENT_SECRET), "{target}");
        assert!(!target.contains(FakePersonio::CLIENT_ID), "{target}");
        assert!(!target.contains("client_secret"), "{target}");
    }
    let resource = &recorded(&server, EMPLOYEES)[0];
    let authorization = resource.header("authorization").expect("authorization");
    assert!(
        authorization.starts_with("Bearer papi-v1-"),
        "{authorization}"
    );
    assert!(
        resource
            .headers
            .iter()
            .all(|(_, v)| !v.contains(FakePersonio::CLIENT_SECRET)),
        "the client secret went to a resource call"
    );
    assert!(resource.body.is_empty());
}

#[tokio::test]
async fn v1_token_is_cached_across_requests_and_clones() {
    let server = FakePersonio::start().await;
    let conn = v1(&server);
    for _ in 0..5 {
        conn.get("/company/employees")
            .send()
            .await
            .expect("employees");
    }
    let clone = conn.clone();
    clone
        .get("/company/employees")
        .send()
        .await
        .expect("employees through a clone");
    assert_eq!(server.token_requests_v1(), 1);
    assert_eq!(server.tokens_issued_v1(), 1);
    assert_eq!(conn.token_requests(), 1);
    assert_eq!(server.count(EMPLOYEES), 6);
    let tokens: Vec<String> = recorded(&server, EMPLOYEES)
        .iter()
        .map(|r| r.header("authorization").unwrap_or_default().to_owned())
        .collect();
    assert!(tokens.iter().all(|t| t == &tokens[0]), "{tokens:?}");
}

#[tokio::test]
async fn partner_and_app_headers_are_sent_when_set() {
    let server = FakePersonio::start().await;
    let ids = json!({"partnerId": "ACME", "appId": "MY_APPLICATION"});
    let v1 = connect(
        "personio",
        &ids,
        &client_credentials(FakePersonio::CLIENT_SECRET),
        settings(&server),
    );
    v1.get("/company/employees").send().await.expect("v1");
    let v2 = connect(
        "personio-v2",
        &ids,
        &client_credentials(FakePersonio::CLIENT_SECRET),
        settings(&server),
    );
    v2.get("/persons").send().await.expect("v2");
    let mut config = recruiting_config();
    config["partnerId"] = json!("ACME");
    config["appId"] = json!("MY_APPLICATION");
    let rec = connect(
        "personio-recruiting",
        &config,
        &recruiting_credentials(),
        settings(&server),
    );
    rec.post("/recruiting/applications")
        .json(&application())
        .send()
        .await
        .expect("recruiting");

    for path in [EMPLOYEES, PERSONS, APPLICATIONS] {
        let r = &recorded(&server, path)[0];
        assert_eq!(r.header("x-personio-partner-id"), Some("ACME"), "{path}");
        assert_eq!(
            r.header("x-personio-app-id"),
            Some("MY_APPLICATION"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn partner_and_app_headers_are_omitted_when_not_set() {
    let server = FakePersonio::start().await;
    v1(&server)
        .get("/company/employees")
        .send()
        .await
        .expect("v1");
    v2(&server).get("/persons").send().await.expect("v2");
    // `null` and "" count as not set, too.
    let mut config = recruiting_config();
    config["partnerId"] = Value::Null;
    config["appId"] = json!("");
    connect(
        "personio-recruiting",
        &config,
        &recruiting_credentials(),
        settings(&server),
    )
    .post("/recruiting/applications")
    .json(&application())
    .send()
    .await
    .expect("recruiting");

    for r in server.requests() {
        assert_eq!(r.header("x-personio-partner-id"), None, "{}", r.path);
        assert_eq!(r.header("x-personio-app-id"), None, "{}", r.path);
        assert!(
            r.headers.iter().all(|(_, v)| !v.contains("${")),
            "an unrendered template reached {}: {:?}",
            r.path,
            r.headers
        );
    }
}

// ----- 2. v2 tokens -----

#[tokio::test]
async fn v2_token_is_requested_with_a_client_credentials_form_body() {
    let server = FakePersonio::start().await;
    let conn = v2(&server);
    let response = conn.get("/persons").send().await.expect("persons");
    assert_eq!(response.status(), 200);

    let auth = recorded(&server, V2_AUTH);
    assert_eq!(auth.len(), 1);
    let t = &auth[0];
    assert_eq!(t.method, "POST");
    assert_eq!(t.query, None);
    assert_eq!(
        media_type(t).as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let form = parse_pairs(&t.body_text());
    assert_eq!(pair(&form, "grant_type"), Some("client_credentials"));
    assert_eq!(pair(&form, "client_id"), Some(FakePersonio::CLIENT_ID));
    assert_eq!(
        pair(&form, "client_secret"),
        Some(FakePersonio::CLIENT_SECRET)
    );
    let persons = &recorded(&server, PERSONS)[0];
    assert!(
        persons
            .header("authorization")
            .is_some_and(|a| a.starts_with("Bearer papi-v2-"))
    );
    // Resource calls are JSON APIs: no form content type forced on them.
    assert_eq!(persons.header("content-type"), None);
}

#[tokio::test]
async fn v2_wrong_secret_is_a_token_error_with_the_providers_message() {
    let server = FakePersonio::start().await;
    let conn = connect(
        "personio-v2",
        &json!({}),
        &client_credentials(WRONG_SECRET),
        settings(&server),
    );
    let error = expect_err(conn.get("/persons").send().await);
    match &error {
        Error::Token { status, .. } => assert_eq!(*status, 401),
        other => panic!("expected Error::Token, got {other:?}"),
    }
    assert_eq!(error.step(), Step::Token);
    assert_eq!(error.status(), Some(401));
    let text = error.to_string();
    assert!(text.contains("invalid_client"), "{text}");
    assert!(!text.contains(WRONG_SECRET), "{text}");
    assert_eq!(server.count(PERSONS), 0, "no resource call without a token");
}

// ----- 3. token lifetime -----

#[tokio::test]
async fn v1_token_response_without_expires_in_uses_the_default_lifetime() {
    let server = FakePersonio::start().await;
    server.omit_expires_in(true);
    let conn = v1(&server);
    get_employees(&conn, 3).await;
    // The default lifetime (24 h) is far beyond the margin: one token serves all.
    assert_eq!(server.token_requests_v1(), 1);
}

#[tokio::test]
async fn v1_default_token_lifetime_setting_applies_when_expires_in_is_absent() {
    let server = FakePersonio::start().await;
    server.omit_expires_in(true);
    // A default lifetime of 6 s: with the 60 s margin capped at half of it, the token is
    // fresh for 3 s (room for two requests on a loaded machine), then renewed (with the 24 h
    // default it would not be).
    let conn = v1_with(
        &server,
        settings(&server)
            .default_token_lifetime(Duration::from_secs(6))
            .token_margin(Duration::from_secs(60)),
    );
    get_employees(&conn, 2).await;
    assert_eq!(server.token_requests_v1(), 1);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    get_employees(&conn, 1).await;
    assert_eq!(server.token_requests_v1(), 2);
}

// ----- 4. renewal before expiry -----

#[tokio::test]
async fn token_expiring_within_the_margin_is_renewed_before_the_next_request() {
    let server = FakePersonio::start().await;
    // Shorter than the default 60 s margin: renewed halfway through its life (after 3 s),
    // not before every request.
    server.set_token_lifetime(6);
    let conn = v1(&server);
    get_employees(&conn, 2).await;
    assert_eq!(server.token_requests_v1(), 1);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    get_employees(&conn, 1).await;
    assert_eq!(server.token_requests_v1(), 2);
    let tokens: Vec<String> = recorded(&server, EMPLOYEES)
        .iter()
        .map(|r| r.header("authorization").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(tokens[0], tokens[1]);
    assert_ne!(tokens[1], tokens[2]);
}

#[tokio::test]
async fn token_with_a_long_lifetime_is_not_renewed() {
    let server = FakePersonio::start().await;
    server.set_token_lifetime(3600);
    let conn = v1(&server);
    get_employees(&conn, 3).await;
    assert_eq!(server.token_requests_v1(), 1);

    // The same short lifetime as above is enough with a smaller margin.
    let server = FakePersonio::start().await;
    server.set_token_lifetime(30);
    let conn = v1_with(
        &server,
        settings(&server).token_margin(Duration::from_secs(5)),
    );
    get_employees(&conn, 3).await;
    assert_eq!(server.token_requests_v1(), 1);
}

// ----- 5. 401 -----

#[tokio::test]
async fn a_401_renews_the_token_once_and_succeeds() {
    let server = FakePersonio::start().await;
    let conn = v1(&server);
    conn.get("/company/employees").send().await.expect("first");
    server.expire_tokens();
    let response = conn
        .get("/company/employees")
        .send()
        .await
        .expect("after a 401");
    assert_eq!(response.status(), 200);
    assert_eq!(server.token_requests_v1(), 2);
    assert_eq!(conn.token_requests(), 2);
    // first, the refused one, the repeated one
    assert_eq!(server.count(EMPLOYEES), 3);
    let tokens: Vec<String> = recorded(&server, EMPLOYEES)
        .iter()
        .map(|r| r.header("authorization").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(tokens[0], tokens[1]);
    assert_ne!(tokens[1], tokens[2]);
}

#[tokio::test]
async fn a_persistent_401_is_a_status_error_without_looping() {
    let server = FakePersonio::start().await;
    server.fail_next(EMPLOYEES, vec![(401, None); 10]);
    let conn = v1(&server);
    let error = expect_status(conn.get("/company/employees").send().await, 401);
    assert_eq!(error.step(), Step::Request);
    assert_eq!(server.count(EMPLOYEES), 2, "one request, one after renewal");
    assert_eq!(server.token_requests_v1(), 2);
}

// ----- 6. concurrency -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_on_a_cold_connection_share_one_token_request() {
    let server = FakePersonio::start().await;
    server.set_token_delay(Duration::from_millis(200));
    let conn = v1(&server);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move {
                conn.get("/company/employees")
                    .query(&[("limit", "1")])
                    .send()
                    .await
                    .map(|r| r.status())
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("task").expect("request"), 200);
    }
    assert_eq!(server.token_requests_v1(), 1);
    assert_eq!(server.tokens_issued_v1(), 1);
    assert_eq!(conn.token_requests(), 1);
    assert_eq!(server.count(EMPLOYEES), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_a_token_failure() {
    let server = FakePersonio::start().await;
    server.set_token_delay(Duration::from_millis(200));
    let conn = v1_wrong_secret(&server);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move { conn.get("/company/employees").send().await })
        })
        .collect();
    for task in tasks {
        let error = expect_err(task.await.expect("task"));
        assert!(
            matches!(error, Error::Token { status: 401, .. }),
            "{error:?}"
        );
    }
    assert!(
        server.token_requests_v1() <= 2,
        "{} token requests for 20 callers",
        server.token_requests_v1()
    );
    assert!(conn.token_requests() <= 2);
    assert_eq!(server.count(EMPLOYEES), 0);
}

// ----- 7. pagination -----

/// How the catalog paginates `key` (its `proxy.paginate`).
fn catalog_pagination(key: &str) -> PaginateConfig {
    match &support::personio_conn::spec(key).client {
        ClientSupport::Supported(client) => client
            .paginate
            .clone()
            .unwrap_or_else(|| panic!("the catalog paginates {key}")),
        ClientSupport::Unsupported(reason) => panic!("{key}: {reason}"),
    }
}

/// Personio's v1 lists as the catalog paginates them, with their page count
/// (`metadata.total_pages`, which the catalog format has no key for).
fn personio_v1() -> PaginateConfig {
    let mut config = catalog_pagination("personio");
    config.total_pages_path = Some("metadata.total_pages".into());
    config
}

/// Personio's v2 lists as the catalog paginates them (`_meta.links.next.href`).
fn personio_v2() -> PaginateConfig {
    catalog_pagination("personio-v2")
}

#[tokio::test]
async fn v1_pagination_with_personio_v1_config_yields_every_employee_in_order() {
    let server = FakePersonio::start().await;
    let conn = v1(&server);
    let employees: Vec<Value> = conn
        .paginate_with(personio_v1(), "/company/employees")
        .limit(100)
        .try_collect()
        .await
        .expect("employees");
    let ids: Vec<u64> = employees.iter().map(employee_id).collect();
    assert_eq!(ids, (1..=250).collect::<Vec<u64>>());
    let pages = recorded(&server, EMPLOYEES);
    assert_eq!(pages.len(), 3);
    let offsets: Vec<(Option<String>, Option<String>)> = pages
        .iter()
        .map(|r| {
            let q = parse_pairs(r.query.as_deref().unwrap_or_default());
            (
                pair(&q, "limit").map(str::to_owned),
                pair(&q, "offset").map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        offsets,
        [("100", "0"), ("100", "100"), ("100", "200")]
            .map(|(l, o)| (Some(l.to_owned()), Some(o.to_owned())))
    );
    assert_eq!(server.token_requests_v1(), 1);
}

#[tokio::test]
async fn v1_pagination_with_the_catalog_config_yields_every_employee() {
    let server = FakePersonio::start().await;
    let conn = v1(&server);
    let employees: Vec<Value> = conn
        .paginate("/company/employees")
        .limit(100)
        .try_collect()
        .await
        .expect("employees");
    let ids: Vec<u64> = employees.iter().map(employee_id).collect();
    assert_eq!(ids, (1..=250).collect::<Vec<u64>>());
    assert_eq!(server.count(EMPLOYEES), 3);
}

#[tokio::test]
async fn v1_pagination_with_a_limit_over_100_is_a_status_400() {
    let server = FakePersonio::start().await;
    let conn = v1(&server);
    let result: Result<Vec<Value>, Error> = conn
        .paginate_with(personio_v1(), "/company/employees")
        .limit(500)
        .try_collect()
        .await;
    let error = expect_err(result);
    assert!(
        matches!(error, Error::Status { status: 400, .. }),
        "{error:?}"
    );
    assert!(
        error
            .provider_message()
            .is_some_and(|m| m.contains("limit")),
        "{error}"
    );
    assert_eq!(server.count(EMPLOYEES), 1);
}

async fn all_persons(server: &FakePersonio) -> Vec<String> {
    let persons: Vec<Value> = v2(server)
        .paginate_with(personio_v2(), "/persons")
        .try_collect()
        .await
        .expect("persons");
    persons
        .iter()
        .map(|p| p["id"].as_str().expect("a string id").to_owned())
        .collect()
}

#[tokio::test]
async fn v2_pagination_follows_absolute_next_links() {
    let server = FakePersonio::start().await;
    server.set_v2_next_link(NextLinkMode::Absolute);
    let ids = all_persons(&server).await;
    assert_eq!(ids, (1..=120).map(|i| i.to_string()).collect::<Vec<_>>());
    assert_eq!(server.count(PERSONS), 3);
}

#[tokio::test]
async fn v2_pagination_follows_relative_next_links() {
    let server = FakePersonio::start().await;
    server.set_v2_next_link(NextLinkMode::Relative);
    let ids = all_persons(&server).await;
    assert_eq!(ids, (1..=120).map(|i| i.to_string()).collect::<Vec<_>>());
    assert_eq!(server.count(PERSONS), 3);
}

#[tokio::test]
async fn v2_pagination_with_the_catalog_config_follows_next_links() {
    let server = FakePersonio::start().await;
    let persons: Vec<Value> = v2(&server)
        .paginate("/persons")
        .limit(40)
        .try_collect()
        .await
        .expect("persons");
    assert_eq!(persons.len(), 120);
    assert_eq!(server.count(PERSONS), 3);
}

#[tokio::test]
async fn v2_pagination_refuses_a_next_link_to_another_host() {
    let server = FakePersonio::start().await;
    server.set_v2_next_link(NextLinkMode::ForeignHost);
    let mut pages = v2(&server).paginate_with::<Value>(personio_v2(), "/persons");
    let mut received = 0;
    let error = loop {
        match pages.try_next().await {
            Ok(Some(_)) => received += 1,
            Ok(None) => panic!("the listing ended without an error"),
            Err(e) => break e,
        }
    };
    assert_error_clean(&error);
    assert!(
        matches!(
            &error,
            Error::Page {
                source: PageError::ForeignHost { .. },
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("evil.example.com"), "{error}");
    assert!(received <= 50, "{received}");
    assert!(pages.try_next().await.expect("ended").is_none());
    // Only the first page was requested, and only from the API's own host.
    assert_eq!(server.count(PERSONS), 1);
    let host = server.addr().to_string();
    for r in server.requests() {
        assert_eq!(r.header("host"), Some(host.as_str()));
    }
}

#[tokio::test]
async fn v2_pagination_stops_on_a_repeated_next_link() {
    let server = FakePersonio::start().await;
    server.set_v2_next_link(NextLinkMode::Repeat);
    let result: Result<Vec<Value>, Error> = v2(&server)
        .paginate_with(personio_v2(), "/persons")
        .try_collect()
        .await;
    let error = expect_err(result);
    assert!(
        matches!(
            &error,
            Error::Page {
                source: PageError::Repeated,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(server.count(PERSONS) <= 3, "{}", server.count(PERSONS));
}

// ----- 8. retries -----

#[tokio::test]
async fn a_429_with_retry_after_seconds_is_retried_after_that_wait() {
    let server = FakePersonio::start().await;
    let conn = v1(&server);
    conn.get("/company/employees")
        .send()
        .await
        .expect("warm-up");
    server.fail_next(EMPLOYEES, vec![(429, Some("1".into()))]);
    let start = Instant::now();
    let response = conn
        .get("/company/employees")
        .send()
        .await
        .expect("retried");
    let elapsed = start.elapsed();
    assert_eq!(response.status(), 200);
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(server.count(EMPLOYEES), 3);
}

#[tokio::test]
async fn a_429_without_retry_after_is_retried_after_backoff() {
    let server = FakePersonio::start().await;
    server.fail_next(EMPLOYEES, vec![(429, None), (429, None)]);
    let conn = v1(&server);
    let response = conn
        .get("/company/employees")
        .send()
        .await
        .expect("retried");
    assert_eq!(response.status(), 200);
    assert_eq!(server.count(EMPLOYEES), 3);
}

#[tokio::test]
async fn a_503_on_get_is_retried() {
    let server = FakePersonio::start().await;
    server.fail_next(EMPLOYEES, vec![(503, None)]);
    let conn = v1(&server);
    let response = conn
        .get("/company/employees")
        .send()
        .await
        .expect("retried");
    assert_eq!(response.status(), 200);
    assert_eq!(server.count(EMPLOYEES), 2);
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    assert_eq!(
        http_date(UNIX_EPOCH + Duration::from_secs(784_111_777)),
        "Sun, 06 Nov 1994 08:49:37 GMT"
    );
    let server = FakePersonio::start().await;
    let conn = v1(&server);
    conn.get("/company/employees")
        .send()
        .await
        .expect("warm-up");
    let at = SystemTime::now() + Duration::from_secs(2);
    server.fail_next(EMPLOYEES, vec![(503, Some(http_date(at)))]);
    let start = Instant::now();
    let response = conn
        .get("/company/employees")
        .send()
        .await
        .expect("retried");
    let elapsed = start.elapsed();
    assert_eq!(response.status(), 200);
    // The date has a resolution of one second: the wait is between 1 s and 2 s.
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(server.count(EMPLOYEES), 3);

    // A date in the past means no wait.
    let past = SystemTime::now() - Duration::from_secs(3600);
    server.fail_next(EMPLOYEES, vec![(503, Some(http_date(past)))]);
    let start = Instant::now();
    conn.get("/company/employees")
        .send()
        .await
        .expect("retried");
    assert!(start.elapsed() < Duration::from_millis(900));
}

#[tokio::test]
async fn a_post_with_a_503_is_not_retried() {
    let server = FakePersonio::start().await;
    server.fail_next(APPLICATIONS, vec![(503, None)]);
    let conn = recruiting(&server);
    let error = expect_status(
        conn.post("/recruiting/applications")
            .json(&application())
            .send()
            .await,
        503,
    );
    assert!(
        matches!(
            gave_up(&error),
            Some(GiveUpReason::NotIdempotent { status: 503 })
        ),
        "{error:?}"
    );
    assert_eq!(server.count(APPLICATIONS), 1);
    assert!(server.applications().is_empty());
}

#[tokio::test]
async fn a_post_with_a_429_is_retried_and_succeeds() {
    let server = FakePersonio::start().await;
    server.fail_next(APPLICATIONS, vec![(429, None)]);
    let conn = recruiting(&server);
    let response = conn
        .post("/recruiting/applications")
        .json(&application())
        .send()
        .await
        .expect("retried");
    assert_eq!(response.status(), 201);
    assert_eq!(server.count(APPLICATIONS), 2);
    assert_eq!(server.applications().len(), 1);
}

#[tokio::test]
async fn repeated_500s_give_up_after_max_attempts() {
    let server = FakePersonio::start().await;
    server.fail_next(EMPLOYEES, vec![(500, None); 5]);
    let conn = v1_with(
        &server,
        settings(&server).retry(RetryPolicy {
            max_attempts: 3,
            ..fast_retry()
        }),
    );
    let error = expect_status(conn.get("/company/employees").send().await, 500);
    assert!(
        matches!(
            gave_up(&error),
            Some(GiveUpReason::AttemptsExhausted { attempts: 3 })
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("3 attempts"), "{error}");
    assert_eq!(server.count(EMPLOYEES), 3);
}

#[tokio::test]
async fn a_retry_after_longer_than_the_limit_gives_up_at_once() {
    let server = FakePersonio::start().await;
    server.fail_next(EMPLOYEES, vec![(429, Some("3600".into()))]);
    // The default policy: no test-only limits.
    let conn = v1_with(&server, Settings::new());
    let start = Instant::now();
    let error = expect_status(conn.get("/company/employees").send().await, 429);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(
        matches!(
            gave_up(&error),
            Some(GiveUpReason::ServerWaitTooLong { .. })
        ),
        "{error:?}"
    );
    assert_eq!(server.count(EMPLOYEES), 1);
}

// ----- 9. timeouts -----

#[tokio::test]
async fn a_slow_response_times_out() {
    let server = FakePersonio::start().await;
    server.set_delay(EMPLOYEES, Duration::from_secs(2));
    let conn = v1(&server);
    let start = Instant::now();
    let error = expect_err(
        conn.get("/company/employees")
            .timeout(Duration::from_millis(200))
            .send()
            .await,
    );
    let elapsed = start.elapsed();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_timeout());
    assert_eq!(error.step(), Step::Request);
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    assert_eq!(server.count(EMPLOYEES), 1, "a timeout is not retried");
}

// ----- 10. malformed JSON -----

#[tokio::test]
async fn malformed_json_is_a_decode_error_from_response_json() {
    let server = FakePersonio::start().await;
    server.set_malformed(EMPLOYEES, true);
    let conn = v1(&server);
    let response = conn.get("/company/employees").send().await.expect("a 200");
    let error = expect_err(response.json::<Value>());
    assert!(
        matches!(error, Error::Decode { status: 200, .. }),
        "{error:?}"
    );
    assert_eq!(error.step(), Step::Decode);
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_from_pagination() {
    let server = FakePersonio::start().await;
    server.set_malformed(EMPLOYEES, true);
    let conn = v1(&server);
    let result: Result<Vec<Value>, Error> = conn
        .paginate_with(personio_v1(), "/company/employees")
        .limit(100)
        .try_collect()
        .await;
    let error = expect_err(result);
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert_eq!(server.count(EMPLOYEES), 1);
}

// ----- 11. recruiting -----

#[tokio::test]
async fn recruiting_application_is_posted_with_the_api_key_and_company_id() {
    let server = FakePersonio::start().await;
    let conn = recruiting(&server);
    let response = conn
        .post("/recruiting/applications")
        .json(&application())
        .send()
        .await
        .expect("application");
    assert_eq!(response.status(), 201);
    let body: Value = response.json().expect("JSON");
    assert_eq!(body["data"]["id"], 1);
    assert_eq!(body["data"]["email"], "ada@example.com");

    let r = &recorded(&server, APPLICATIONS)[0];
    assert_eq!(r.method, "POST");
    let expected_auth = format!("Bearer {}", FakePersonio::API_KEY);
    assert_eq!(r.header("authorization"), Some(expected_auth.as_str()));
    assert_eq!(r.header("x-company-id"), Some(FakePersonio::COMPANY_ID));
    assert_eq!(media_type(r).as_deref(), Some("application/json"));
    assert_eq!(server.applications(), vec![application()]);
    assert_eq!(
        server.requests().len(),
        1,
        "no token request for an API key"
    );
    assert_eq!(conn.token_requests(), 0);
}

#[tokio::test]
async fn recruiting_application_with_missing_fields_is_a_422_with_the_providers_message() {
    let server = FakePersonio::start().await;
    let conn = recruiting(&server);
    let error = expect_status(
        conn.post("/recruiting/applications")
            .json(&json!({"first_name": "Ada"}))
            .send()
            .await,
        422,
    );
    let message = error.provider_message().expect("a provider message");
    assert!(message.contains("Missing required fields"), "{message}");
    assert!(message.contains("email"), "{message}");
    assert!(
        error.to_string().contains("Missing required fields"),
        "{error}"
    );
    assert_eq!(server.count(APPLICATIONS), 1);
    assert!(server.applications().is_empty());
}

#[tokio::test]
async fn caller_headers_may_not_replace_provider_headers() {
    let server = FakePersonio::start().await;
    let conn = recruiting(&server);
    for name in [
        "Authorization",
        "authorization",
        "AUTHORIZATION",
        "X-Company-ID",
        "x-company-id",
        "X-COMPANY-ID",
    ] {
        let error = expect_err(
            conn.post("/recruiting/applications")
                .header(name, "Bearer attacker")
                .json(&application())
                .send()
                .await,
        );
        assert!(matches!(error, Error::Header { .. }), "{name}: {error:?}");
    }
    assert!(server.requests().is_empty(), "nothing was sent");

    // Also the bearer token of an OAuth connection.
    let v1 = v1(&server);
    let error = expect_err(
        v1.get("/company/employees")
            .header("Authorization", "Bearer attacker")
            .send()
            .await,
    );
    assert!(matches!(error, Error::Header { .. }), "{error:?}");
    assert_eq!(server.count(EMPLOYEES), 0);
}

#[tokio::test]
async fn caller_may_add_an_extra_header() {
    let server = FakePersonio::start().await;
    let conn = recruiting(&server);
    conn.post("/recruiting/applications")
        .header("X-Request-Id", "req-123")
        .json(&application())
        .send()
        .await
        .expect("application");
    let r = &recorded(&server, APPLICATIONS)[0];
    assert_eq!(r.header("x-request-id"), Some("req-123"));
    assert_eq!(r.header("x-company-id"), Some(FakePersonio::COMPANY_ID));
    let expected_auth = format!("Bearer {}", FakePersonio::API_KEY);
    assert_eq!(r.header("authorization"), Some(expected_auth.as_str()));
}

#[tokio::test]
async fn caller_header_values_with_control_characters_are_refused() {
    let server = FakePersonio::start().await;
    let conn = recruiting(&server);
    for value in ["a\r\nX-Evil: 1", "a\nX-Evil: 1", "a\rX-Evil: 1", "a\0b"] {
        let error = expect_err(
            conn.post("/recruiting/applications")
                .header("X-Request-Id", value)
                .json(&application())
                .send()
                .await,
        );
        assert!(
            matches!(error, Error::Header { .. }),
            "{value:?}: {error:?}"
        );
    }
    for name in ["X Bad", "X-Bad\r\nX-Evil", ""] {
        let error = expect_err(
            conn.post("/recruiting/applications")
                .header(name, "v")
                .json(&application())
                .send()
                .await,
        );
        assert!(matches!(error, Error::Header { .. }), "{name:?}: {error:?}");
    }
    assert!(server.requests().is_empty(), "nothing was sent");
}

// ----- 12. verify -----

#[tokio::test]
async fn recruiting_verify_checks_the_public_job_feed_without_credentials() {
    let server = FakePersonio::start().await;
    let conn = recruiting(&server);
    let verified = conn.verify().await.expect("verified");
    assert_eq!(
        verified,
        Verified::Endpoint {
            endpoint: "/xml?language=en".to_owned()
        }
    );
    let feed = recorded(&server, "/xml");
    assert_eq!(feed.len(), 1);
    let r = &feed[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.query.as_deref(), Some("language=en"));
    assert_eq!(r.header("accept"), Some("application/xml"));
    assert_eq!(server.feed_requests_with_authorization(), 0);
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.header("x-company-id"), None);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn recruiting_verify_with_an_unknown_company_is_an_unknown_account() {
    let server = FakePersonio::start().await;
    server.set_unknown_company(true);
    let conn = recruiting(&server);
    let error = expect_err(conn.verify().await);
    assert!(
        matches!(error, Error::UnknownAccount { status: 307, .. }),
        "{error:?}"
    );
    assert_eq!(error.step(), Step::Verify);
    assert!(error.to_string().contains("unknown company"), "{error}");
    assert_eq!(server.count("/xml"), 1, "the redirect is not followed");
}

#[tokio::test]
async fn v1_verify_requests_a_token() {
    let server = FakePersonio::start().await;
    let conn = v1(&server);
    assert_eq!(conn.verify().await.expect("verified"), Verified::Token);
    assert_eq!(server.token_requests_v1(), 1);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn v1_verify_with_a_wrong_secret_is_a_token_error() {
    let server = FakePersonio::start().await;
    let conn = v1_wrong_secret(&server);
    let error = expect_err(conn.verify().await);
    assert!(
        matches!(error, Error::Token { status: 401, .. }),
        "{error:?}"
    );
    assert_eq!(server.token_requests_v1(), 1);
}

// ----- 13. header injection -----

const HEADER_INJECTIONS: &[&str] = &["ACME\r\nX-Evil: 1", "ACME\n", "ACME\0", "ÄCME", "acme"];

#[tokio::test]
async fn partner_and_app_ids_that_could_inject_headers_are_rejected() {
    let server = FakePersonio::start().await;
    for key in ["personio", "personio-v2", "personio-recruiting"] {
        let (base, credentials) = match key {
            "personio-recruiting" => (recruiting_config(), recruiting_credentials()),
            _ => (json!({}), client_credentials(FakePersonio::CLIENT_SECRET)),
        };
        for param in ["partnerId", "appId"] {
            for value in HEADER_INJECTIONS {
                let mut config = base.clone();
                config[param] = json!(value);
                let result =
                    Connection::from_json_with(key, &config, &credentials, settings(&server));
                let Err(ConnectError::Invalid(errors)) = &result else {
                    panic!("{key} {param}={value:?}: expected Invalid, got {result:?}");
                };
                let params: Vec<&str> = errors.iter().map(|e| e.param()).collect();
                assert_eq!(params, [param], "{key} {param}={value:?}");
                let text = result.as_ref().expect_err("invalid").to_string();
                assert!(text.contains(param), "{text}");
                assert!(
                    !text.contains('\r') && !text.contains('\0') && !text.contains("\nX-Evil"),
                    "a raw control character in the message: {text:?}"
                );
                assert_clean("a validation error", &text);
            }
        }
    }
    assert!(server.requests().is_empty());
}

#[test]
fn config_and_credentials_problems_are_reported_together() {
    let result = Connection::from_json(
        "personio",
        &json!({"partnerId": "ACME\r\nX-Evil: 1"}),
        &json!({"client_id": FakePersonio::CLIENT_ID}),
    );
    let Err(ConnectError::Invalid(errors)) = &result else {
        panic!("expected Invalid, got {result:?}");
    };
    let found: Vec<(Section, &str)> = errors.iter().map(|e| (e.section(), e.param())).collect();
    assert!(
        found.contains(&(Section::ConnectionConfig, "partnerId")),
        "{found:?}"
    );
    assert!(
        found.contains(&(Section::Credentials, "client_secret")),
        "{found:?}"
    );
    let text = result.as_ref().expect_err("invalid").to_string();
    assert!(
        text.contains("partnerId") && text.contains("client_secret"),
        "{text}"
    );

    // And for the API-key provider: a host-breaking company plus a missing key.
    let result = Connection::from_json(
        "personio-recruiting",
        &json!({"companyId": "x1", "company": "evil.com/"}),
        &json!({}),
    );
    let Err(ConnectError::Invalid(errors)) = &result else {
        panic!("expected Invalid, got {result:?}");
    };
    let mut params: Vec<&str> = errors.iter().map(|e| e.param()).collect();
    params.sort_unstable();
    assert_eq!(params, ["apiKey", "company", "companyId"]);
}

// ----- 14. host injection -----

const HOST_INJECTIONS: &[&str] = &[
    "evil.com/",
    "evil.com#",
    "evil.com?",
    "x@evil.com#",
    "a\\evil.com",
    "a.b",
];

#[test]
fn company_values_that_would_change_the_host_are_rejected_by_from_json() {
    for company in HOST_INJECTIONS {
        let config = json!({"companyId": FakePersonio::COMPANY_ID, "company": company});
        let result = Connection::from_json_with(
            "personio-recruiting",
            &config,
            &recruiting_credentials(),
            Settings::new(),
        );
        let Err(ConnectError::Invalid(errors)) = &result else {
            panic!("company={company:?}: expected Invalid, got {result:?}");
        };
        let params: Vec<&str> = errors.iter().map(|e| e.param()).collect();
        assert_eq!(params, ["company"], "company={company:?}");
    }
}

#[tokio::test]
async fn company_values_that_would_change_the_host_fail_a_typed_connection_without_a_request() {
    let server = FakePersonio::start().await;
    for company in HOST_INJECTIONS {
        let config = personio_recruiting::ConnectionConfig {
            company_id: FakePersonio::COMPANY_ID.into(),
            company: (*company).into(),
            partner_id: None,
            app_id: None,
        };
        let credentials = personio_recruiting::Credentials {
            api_key: Secret::new(FakePersonio::API_KEY),
        };
        let error = match personio_recruiting::Connection::with_settings(
            config,
            credentials,
            settings(&server),
        ) {
            Err(error) => error,
            Ok(conn) => conn
                .verify()
                .await
                .expect_err(&format!("company={company:?} verified")),
        };
        assert_error_clean(&error);
        assert!(
            matches!(error, Error::Render { .. } | Error::Url { .. }),
            "company={company:?}: {error:?}"
        );
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

// ----- 15. endpoint injection -----

const ENDPOINT_INJECTIONS: &[&str] = &[
    "https://evil.com/x",
    "//evil.com/x",
    "/../admin",
    "/a/%2e%2e/b",
    "/a#f",
];

#[tokio::test]
async fn endpoints_that_leave_the_base_url_are_refused_without_a_request() {
    let server = FakePersonio::start().await;
    let v1 = v1(&server);
    let recruiting = recruiting(&server);
    for endpoint in ENDPOINT_INJECTIONS {
        for conn in [&v1, &recruiting] {
            let error = expect_err(conn.request(Method::GET, *endpoint).send().await);
            assert!(
                matches!(
                    error,
                    Error::Url {
                        step: Step::Request,
                        ..
                    }
                ),
                "{endpoint}: {error:?}"
            );
        }
        let result: Result<Vec<Value>, Error> = v1
            .paginate_with(personio_v1(), *endpoint)
            .try_collect()
            .await;
        let error = expect_err(result);
        assert!(matches!(error, Error::Url { .. }), "{endpoint}: {error:?}");
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

// ----- 16. https only -----

#[test]
fn plain_http_origins_other_than_loopback_are_refused() {
    for origin in ["http://example.com", "http://10.0.0.1:8080"] {
        let result = Connection::from_json_with(
            "personio",
            &json!({}),
            &client_credentials(FakePersonio::CLIENT_SECRET),
            Settings::new().origin(origin),
        );
        assert!(
            matches!(
                result,
                Err(ConnectError::Connect(Error::Url {
                    step: Step::Connect,
                    ..
                }))
            ),
            "{origin}: {result:?}"
        );
        let typed = personio::Connection::with_settings(
            personio::ConnectionConfig {
                partner_id: None,
                app_id: None,
            },
            personio::Credentials {
                client_id: Secret::new(FakePersonio::CLIENT_ID),
                client_secret: Secret::new(FakePersonio::CLIENT_SECRET),
            },
            Settings::new().origin(origin),
        );
        let error = typed.expect_err(origin);
        assert_error_clean(&error);
        assert!(matches!(error, Error::Url { .. }), "{origin}: {error:?}");
    }
}

#[test]
fn without_an_origin_the_connection_targets_https_api_personio_de() {
    for (key, config, credentials, base) in [
        (
            "personio",
            json!({}),
            client_credentials(FakePersonio::CLIENT_SECRET),
            "https://api.personio.de/v1",
        ),
        (
            "personio-v2",
            json!({}),
            client_credentials(FakePersonio::CLIENT_SECRET),
            "https://api.personio.de/v2",
        ),
        (
            "personio-recruiting",
            recruiting_config(),
            recruiting_credentials(),
            "https://api.personio.de/v1",
        ),
    ] {
        let conn = Connection::from_json(key, &config, &credentials).expect(key);
        assert_eq!(conn.base_url().as_str(), base, "{key}");
        assert_eq!(conn.base_url().scheme(), "https");
        assert_eq!(conn.provider(), key);
        assert_eq!(conn.token_requests(), 0, "connecting sends nothing");
    }
}

// ----- 17. redirects -----

#[tokio::test]
async fn redirects_are_never_followed_for_credentialed_requests() {
    let server = FakePersonio::start().await;
    let target = format!("{}/v1/elsewhere?token=from-the-query", server.origin());
    let expected_location = format!("{}/v1/elsewhere", server.origin());

    server.redirect_next(EMPLOYEES, 302, &target);
    let conn = v1(&server);
    let error = expect_err(conn.get("/company/employees").send().await);
    match &error {
        Error::Redirect {
            status, location, ..
        } => {
            assert_eq!(*status, 302);
            assert_eq!(location.as_deref(), Some(expected_location.as_str()));
        }
        other => panic!("expected Error::Redirect, got {other:?}"),
    }
    assert!(!error.to_string().contains("from-the-query"), "{error}");

    server.redirect_next(APPLICATIONS, 307, &target);
    let error = expect_err(
        recruiting(&server)
            .post("/recruiting/applications")
            .json(&application())
            .send()
            .await,
    );
    assert!(
        matches!(error, Error::Redirect { status: 307, .. }),
        "{error:?}"
    );

    assert_eq!(server.count("/v1/elsewhere"), 0, "a redirect was followed");
    assert_eq!(server.count(EMPLOYEES), 1);
    assert_eq!(server.count(APPLICATIONS), 1);
}

#[tokio::test]
async fn a_redirect_from_the_token_endpoint_is_not_followed() {
    let server = FakePersonio::start().await;
    server.redirect_next(
        V1_AUTH,
        307,
        &format!("{}/v1/stolen-credentials", server.origin()),
    );
    let conn = v1(&server);
    let error = expect_err(conn.get("/company/employees").send().await);
    assert!(
        matches!(error, Error::Token { status: 307, .. }),
        "{error:?}"
    );
    assert_eq!(server.count("/v1/stolen-credentials"), 0);
    assert_eq!(server.count(EMPLOYEES), 0);
}

// ----- 18. secrets -----

#[tokio::test]
async fn secrets_never_appear_in_debug_output_or_error_messages() {
    let server = FakePersonio::start().await;
    let v1 = v1(&server);
    let response = v1
        .get("/company/employees")
        .send()
        .await
        .expect("employees");
    // The fake echoes the token in the response's Authorization header.
    assert!(response.header("authorization").is_some());
    let v2 = v2(&server);
    v2.get("/persons").send().await.expect("persons");
    let recruiting = recruiting(&server);
    let typed = personio::Connection::with_settings(
        personio::ConnectionConfig {
            partner_id: Some("ACME".into()),
            app_id: None,
        },
        personio::Credentials {
            client_id: Secret::new(FakePersonio::CLIENT_ID),
            client_secret: Secret::new(FakePersonio::CLIENT_SECRET),
        },
        settings(&server),
    )
    .expect("typed");
    typed.verify().await.expect("typed verify");

    for (what, text) in [
        ("Connection v1", format!("{v1:?}")),
        ("Connection v2", format!("{v2:?}")),
        ("Connection recruiting", format!("{recruiting:?}")),
        ("typed Connection", format!("{typed:?}")),
        ("typed Connection (alternate)", format!("{typed:#?}")),
        ("Settings", format!("{:?}", settings(&server))),
        ("Settings of a connection", format!("{:?}", v1.settings())),
        ("Response", format!("{response:?}")),
        ("Response (alternate)", format!("{response:#?}")),
        (
            "RequestBuilder",
            format!("{:?}", recruiting.post("/recruiting/applications")),
        ),
        (
            "Pages",
            format!("{:?}", v1.paginate::<Value>("/company/employees")),
        ),
    ] {
        assert_clean(what, &text);
    }

    // Errors of every kind.
    let mut errors: Vec<Error> = Vec::new();
    errors.push(
        v1_wrong_secret(&server)
            .get("/company/employees")
            .send()
            .await
            .expect_err("v1 token"),
    );
    errors.push(
        connect(
            "personio-v2",
            &json!({}),
            &client_credentials(WRONG_SECRET),
            settings(&server),
        )
        .verify()
        .await
        .expect_err("v2 token"),
    );
    server.fail_next(EMPLOYEES, vec![(401, None); 2]);
    errors.push(v1.get("/company/employees").send().await.expect_err("401"));
    server.fail_next(EMPLOYEES, vec![(500, None); 4]);
    errors.push(v1.get("/company/employees").send().await.expect_err("500"));
    errors.push(
        recruiting
            .post("/recruiting/applications")
            .header("Authorization", format!("Bearer {}", FakePersonio::API_KEY))
            .send()
            .await
            .expect_err("header"),
    );
    errors.push(v1.get("//evil.com/x").send().await.expect_err("url"));
    server.redirect_next(EMPLOYEES, 302, "https://evil.example.com/?token=papi-x");
    errors.push(
        v1.get("/company/employees")
            .send()
            .await
            .expect_err("redirect"),
    );
    server.set_delay(EMPLOYEES, Duration::from_secs(2));
    errors.push(
        v1.get("/company/employees")
            .timeout(Duration::from_millis(100))
            .send()
            .await
            .expect_err("timeout"),
    );
    server.set_delay(EMPLOYEES, Duration::ZERO);
    server.set_v2_next_link(NextLinkMode::ForeignHost);
    errors.push(
        v2.paginate::<Value>("/persons")
            .try_collect::<Vec<_>>()
            .await
            .expect_err("page"),
    );
    server.set_malformed(EMPLOYEES, true);
    errors.push(
        v1.get("/company/employees")
            .send()
            .await
            .expect("a 200")
            .json::<Value>()
            .expect_err("decode"),
    );
    server.set_unknown_company(true);
    errors.push(recruiting.verify().await.expect_err("unknown company"));
    assert_eq!(errors.len(), 11);
    for error in &errors {
        assert_error_clean(error);
        if let Some(source) = std::error::Error::source(error) {
            assert_error_clean(&source);
        }
    }

    // Validation errors never quote a secret, even a misplaced one.
    let connect_errors = [
        Connection::from_json(
            "personio",
            &json!({"partnerId": "acme"}),
            &json!({"client_id": FakePersonio::CLIENT_ID, "client_secret": 42}),
        )
        .expect_err("invalid"),
        Connection::from_json(
            "personio",
            &json!({}),
            &json!({"client_id": FakePersonio::CLIENT_ID, "client_secrett": FakePersonio::CLIENT_SECRET}),
        )
        .expect_err("unknown param"),
        Connection::from_json(
            "personio-recruiting",
            &json!({"companyId": "33434", "company": "evil.com/"}),
            &json!({"apiKey": FakePersonio::API_KEY}),
        )
        .expect_err("company"),
        Connection::from_json_with(
            "personio",
            &json!({}),
            &client_credentials(FakePersonio::CLIENT_SECRET),
            Settings::new().origin("http://example.com"),
        )
        .expect_err("origin"),
    ];
    for error in &connect_errors {
        assert_error_clean(error);
    }
}

// ----- 19. unknown provider -----

#[test]
fn an_unknown_provider_key_is_reported_with_a_suggestion() {
    for (key, suggestion) in [("personio-v3", "personio-v2"), ("persnio", "personio")] {
        let result = Connection::from_json(
            key,
            &json!({}),
            &client_credentials(FakePersonio::CLIENT_SECRET),
        );
        let Err(ConnectError::UnknownProvider(unknown)) = &result else {
            panic!("{key}: expected UnknownProvider, got {result:?}");
        };
        assert_eq!(unknown.given(), key);
        assert_eq!(unknown.suggestion(), Some(suggestion), "{key}");
        let text = result.as_ref().expect_err("unknown").to_string();
        assert!(text.contains(key) && text.contains(suggestion), "{text}");
        assert_clean("an unknown-provider error", &text);
    }
}

#[tokio::test]
async fn credentials_echoed_by_the_provider_are_masked_in_errors() {
    let server = FakePersonio::start().await;
    server.set_echo_credentials(true);

    // The token endpoint quotes the client id and the (wrong) secret it received.
    let err = v1_wrong_secret(&server)
        .get("/company/employees")
        .send()
        .await
        .expect_err("wrong secret");
    let text = err.to_string();
    assert!(matches!(err, Error::Token { status: 401, .. }), "{err:?}");
    assert!(
        text.contains("Wrong credentials: client *** with secret ***"),
        "{text}"
    );
    assert!(
        !text.contains(WRONG_SECRET) && !text.contains(FakePersonio::CLIENT_ID),
        "{text}"
    );

    // The recruiting API quotes the key it did not accept (right key, wrong company id).
    let conn = connect(
        "personio-recruiting",
        &json!({"companyId": "1", "company": "company-b"}),
        &recruiting_credentials(),
        settings(&server),
    );
    let err = conn
        .post("/recruiting/applications")
        .json(&application())
        .send()
        .await
        .expect_err("unknown company id");
    let text = err.to_string();
    assert_eq!(err.status(), Some(401), "{err:?}");
    assert!(text.contains("key *** and/or company id"), "{text}");
    assert!(!text.contains(FakePersonio::API_KEY), "{text}");
    // The server did see the key: the message was masked, not missing.
    assert!(
        server.requests().iter().any(
            |r| r.header("authorization") == Some(&format!("Bearer {}", FakePersonio::API_KEY))
        )
    );
}

/// A BASIC provider written by hand against the runtime's `Binding` trait (the catalog of this
/// crate has none): the client adds `Authorization: Basic` unless the catalog's headers set one.
struct BasicBinding {
    authorization_header: bool,
}

static BASIC_SPEC: terapi_providers::client::ClientSpec = terapi_providers::client::ClientSpec {
    key: std::borrow::Cow::Borrowed("basic-test"),
    auth_mode: terapi_providers::AuthMode::Basic,
    body_format: terapi_providers::client::BodyFormat::Form,
    token_auth: terapi_providers::client::TokenAuth::Body,
    default_scope: None,
    paginate: None,
    retry: terapi_runtime::retry::RetryConfig::EMPTY,
    verification: None,
    query_has_secret: false,
    static_headers: true,
    token_expiration_buffer: None,
    expires_in_milliseconds: false,
    default_lifetime_ms: None,
    authorization: None,
    jwt: None,
    token_request: None,
};

impl terapi_providers::client::Binding for BasicBinding {
    fn spec(&self) -> &'static terapi_providers::client::ClientSpec {
        &BASIC_SPEC
    }
    fn base_url(&self) -> Result<terapi_runtime::url::Url, terapi_providers::RenderError> {
        Ok(terapi_runtime::url::Url::parse("https://api.basic.example/v1").expect("URL"))
    }
    fn headers(
        &self,
        cx: &terapi_runtime::RenderContext<'_>,
    ) -> Result<terapi_providers::Headers, terapi_providers::RenderError> {
        let mut headers = terapi_providers::Headers::new();
        if self.authorization_header {
            headers.push_rendered(
                "authorization",
                &[&[terapi_runtime::render::Part::Lit("Token from-the-catalog")]],
                cx,
            )?;
        }
        Ok(headers)
    }
    fn basic_credentials(&self) -> Option<(&str, Option<&str>)> {
        Some(("ada", Some("s3cr3t-password")))
    }
    fn secrets(&self) -> Vec<&str> {
        vec!["s3cr3t-password"]
    }
}

#[tokio::test]
async fn basic_credentials_are_sent_unless_the_catalog_sets_authorization() {
    let server = FakePersonio::start().await;
    for (authorization_header, expected) in [
        (false, "Basic YWRhOnMzY3IzdC1wYXNzd29yZA=="),
        (true, "Token from-the-catalog"),
    ] {
        let conn = terapi_providers::client::Connection::with_settings(
            BasicBinding {
                authorization_header,
            },
            settings(&server),
        )
        .expect("connect");
        // The fake has no such route: a 404, but the request was recorded with its headers.
        let err = conn.get("/basic-probe").send().await.expect_err("404");
        assert_eq!(err.status(), Some(404), "{err}");
        let probe = server
            .requests()
            .into_iter()
            .rev()
            .find(|r| r.path == "/v1/basic-probe")
            .expect("the probe reached the server");
        assert_eq!(probe.header("authorization"), Some(expected));
        assert!(!format!("{conn:?}").contains("s3cr3t"));
    }
}
