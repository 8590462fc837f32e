//! Self-tests of the fake Personio server (`src/fake_personio.rs`), through a minimal raw
//! HTTP/1.1 client (one request per connection, `Connection: close`).

use terapi_test_support as support;

use std::fmt::Write as _;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::fake_personio::{FakePersonio, NextLinkMode};
use tokio::net::TcpStream;

// ----- a minimal HTTP/1.1 client -----

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Sends one request and reads the response until the server closes the connection.
async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        write!(head, "{name}: {value}\r\n").expect("write to a String");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);

    let mut rest = &out[..];
    while !rest.is_empty() {
        stream.writable().await.expect("writable");
        match stream.try_write(rest) {
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("write: {e}"),
        }
    }
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        stream.readable().await.expect("readable");
        match stream.try_read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("read: {e}"),
        }
    }

    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of the response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = String::from_utf8_lossy(&data[..line_end]).into_owned();
        let size_hex = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).expect("chunk size");
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

async fn get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> Resp {
    send(addr, "GET", target, headers, b"").await
}

const JSON: (&str, &str) = ("Content-Type", "application/json");
const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

fn v1_creds() -> Vec<u8> {
    json!({"client_id": FakePersonio::CLIENT_ID, "client_secret": FakePersonio::CLIENT_SECRET})
        .to_string()
        .into_bytes()
}

fn v2_form() -> String {
    format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        FakePersonio::CLIENT_ID,
        FakePersonio::CLIENT_SECRET
    )
}

async fn v1_token(fake: &FakePersonio) -> String {
    let r = send(fake.addr(), "POST", "/v1/auth", &[JSON], &v1_creds()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"]["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

async fn v2_token(fake: &FakePersonio) -> String {
    let r = send(
        fake.addr(),
        "POST",
        "/v2/auth/token",
        &[FORM],
        v2_form().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

// ----- v1 auth -----

#[tokio::test]
async fn v1_auth_accepts_json_and_form_and_issues_unique_tokens() {
    let fake = FakePersonio::start().await;
    assert!(fake.origin().starts_with("http://127.0.0.1:"));
    assert_eq!(fake.origin(), format!("http://{}", fake.addr()));

    let r = send(fake.addr(), "POST", "/v1/auth", &[JSON], &v1_creds()).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = r.json();
    assert_eq!(body["success"], true);
    let token = body["data"]["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("papi-v1-"));
    assert_eq!(body["data"]["expires_in"], 86400);
    assert_eq!(body["data"]["scope"], "employees:read");
    assert_eq!(r.header("authorization"), Some(bearer(&token).as_str()));

    // Form body, with percent-encoding.
    let form = format!(
        "client_id=test%2Dclient%2Did&client_secret={}",
        FakePersonio::CLIENT_SECRET
    );
    let r = send(fake.addr(), "POST", "/v1/auth", &[FORM], form.as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let second = r.json()["data"]["token"].as_str().unwrap().to_owned();
    assert_ne!(token, second);

    assert_eq!(fake.token_requests_v1(), 2);
    assert_eq!(fake.tokens_issued_v1(), 2);
    assert_eq!(fake.token_requests_v2(), 0);
}

#[tokio::test]
async fn v1_auth_rejects_wrong_credentials_query_credentials_and_bad_bodies() {
    let fake = FakePersonio::start().await;
    let wrong = json!({"client_id": FakePersonio::CLIENT_ID, "client_secret": "nope"}).to_string();
    let r = send(fake.addr(), "POST", "/v1/auth", &[JSON], wrong.as_bytes()).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        json!({"success": false, "error": {"code": 401, "message": "Wrong credentials"}})
    );
    assert_eq!(r.header("authorization"), None);

    let target = format!(
        "/v1/auth?client_id={}&client_secret={}",
        FakePersonio::CLIENT_ID,
        FakePersonio::CLIENT_SECRET
    );
    let r = send(fake.addr(), "POST", &target, &[], b"").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["success"], false);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("query")
    );

    let r = send(fake.addr(), "POST", "/v1/auth", &[JSON], b"{not json").await;
    assert_eq!(r.status, 400);
    let r = send(
        fake.addr(),
        "POST",
        "/v1/auth",
        &[JSON],
        br#"{"client_id":"x"}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    let r = get(fake.addr(), "/v1/auth", &[]).await;
    assert_eq!(r.status, 405);

    assert_eq!(fake.tokens_issued_v1(), 0);
    assert_eq!(fake.token_requests_v1(), 4, "every POST counts");
}

#[tokio::test]
async fn v1_auth_lifetime_and_omitted_expires_in() {
    let fake = FakePersonio::start().await;
    fake.set_token_lifetime(120);
    let r = send(fake.addr(), "POST", "/v1/auth", &[JSON], &v1_creds()).await;
    assert_eq!(r.json()["data"]["expires_in"], 120);

    fake.omit_expires_in(true);
    let r = send(fake.addr(), "POST", "/v1/auth", &[JSON], &v1_creds()).await;
    let data = r.json()["data"].clone();
    assert!(data.get("expires_in").is_none(), "{data}");
    assert!(data["token"].is_string());
}

// ----- v2 auth -----

#[tokio::test]
async fn v2_token_success_and_problem_json_errors() {
    let fake = FakePersonio::start().await;
    let r = send(
        fake.addr(),
        "POST",
        "/v2/auth/token",
        &[FORM],
        v2_form().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert!(
        body["access_token"]
            .as_str()
            .unwrap()
            .starts_with("papi-v2-")
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86400);
    assert_eq!(body["scope"], "personio:persons:read");
    assert_eq!(body["refresh_token"], Value::Null);

    // JSON instead of a form.
    let as_json = json!({
        "grant_type": "client_credentials",
        "client_id": FakePersonio::CLIENT_ID,
        "client_secret": FakePersonio::CLIENT_SECRET,
    })
    .to_string();
    let r = send(
        fake.addr(),
        "POST",
        "/v2/auth/token",
        &[JSON],
        as_json.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.json()["error"], "invalid_request");
    assert!(r.json()["error_description"].is_string());
    assert!(r.json()["trace_id"].is_string());

    // Missing and wrong grant types.
    let no_grant = format!(
        "client_id={}&client_secret={}",
        FakePersonio::CLIENT_ID,
        FakePersonio::CLIENT_SECRET
    );
    let r = send(
        fake.addr(),
        "POST",
        "/v2/auth/token",
        &[FORM],
        no_grant.as_bytes(),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (400, json!("invalid_request"))
    );
    let password = v2_form().replace("client_credentials", "password");
    let r = send(
        fake.addr(),
        "POST",
        "/v2/auth/token",
        &[FORM],
        password.as_bytes(),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (400, json!("invalid_request"))
    );

    // Wrong secret.
    let wrong = v2_form().replace(FakePersonio::CLIENT_SECRET, "wrong");
    let r = send(
        fake.addr(),
        "POST",
        "/v2/auth/token",
        &[FORM],
        wrong.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.json()["error"], "invalid_client");

    assert_eq!(fake.token_requests_v2(), 5);
    assert_eq!(fake.tokens_issued_v2(), 1);
    assert_eq!(fake.token_requests_v1(), 0);
}

#[tokio::test]
async fn v2_revoke_invalidates_the_token() {
    let fake = FakePersonio::start().await;
    let token = v2_token(&fake).await;
    let auth = bearer(&token);
    assert_eq!(
        get(fake.addr(), "/v2/persons", &[("Authorization", &auth)])
            .await
            .status,
        200
    );
    let form = format!("token={token}");
    let r = send(
        fake.addr(),
        "POST",
        "/v2/auth/revoke",
        &[FORM],
        form.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(
        get(fake.addr(), "/v2/persons", &[("Authorization", &auth)])
            .await
            .status,
        401
    );
}

// ----- v1 employees -----

#[tokio::test]
async fn v1_employees_paginate_by_item_offset() {
    let fake = FakePersonio::start().await;
    let token = v1_token(&fake).await;
    let auth = bearer(&token);

    let r = get(
        fake.addr(),
        "/v1/company/employees",
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("authorization"), Some(auth.as_str()));
    let body = r.json();
    assert_eq!(body["success"], true);
    assert_eq!(
        body["metadata"],
        json!({"total_elements": 250, "current_page": 0, "total_pages": 5})
    );
    assert_eq!(
        (body["offset"].clone(), body["limit"].clone()),
        (json!(0), json!(50))
    );
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 50);
    assert_eq!(
        data[0],
        json!({"type": "Employee", "attributes": {
            "id": {"label": "ID", "value": 1},
            "first_name": {"label": "First name", "value": "First1"},
            "last_name": {"label": "Last name", "value": "Last1"},
            "email": {"label": "Email", "value": "employee1@example.com"},
            "created_at": {"label": "Created at", "value": "2026-01-01T00:00:00.000Z", "type": "date"},
            "last_modified_at": {"label": "Last modified at", "value": "2026-01-01T00:00:00.000Z", "type": "date"},
        }})
    );

    // Walk all pages with limit 100.
    let mut ids = Vec::new();
    let mut offset = 0;
    loop {
        let target = format!("/v1/company/employees?limit=100&offset={offset}");
        let body = get(fake.addr(), &target, &[("Authorization", &auth)])
            .await
            .json();
        assert_eq!(body["metadata"]["total_pages"], 3);
        assert_eq!(body["metadata"]["current_page"], offset / 100);
        for e in body["data"].as_array().unwrap() {
            ids.push(e["attributes"]["id"]["value"].as_u64().unwrap());
        }
        offset += 100;
        if offset / 100 >= 3 {
            break;
        }
    }
    assert_eq!(ids, (1..=250).collect::<Vec<u64>>());

    // Past the end.
    let body = get(
        fake.addr(),
        "/v1/company/employees?limit=10&offset=1000",
        &[("Authorization", &auth)],
    )
    .await
    .json();
    assert_eq!(body["data"], json!([]));
    assert_eq!(body["metadata"]["current_page"], 100);

    fake.set_employees(7);
    let body = get(
        fake.addr(),
        "/v1/company/employees?limit=5&offset=5",
        &[("Authorization", &auth)],
    )
    .await
    .json();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        body["metadata"],
        json!({"total_elements": 7, "current_page": 1, "total_pages": 2})
    );
}

#[tokio::test]
async fn v1_employees_reject_bad_limits_and_offsets() {
    let fake = FakePersonio::start().await;
    let auth = bearer(&v1_token(&fake).await);
    for query in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=-1",
        "offset=-5",
        "offset=x",
    ] {
        let r = get(
            fake.addr(),
            &format!("/v1/company/employees?{query}"),
            &[("Authorization", &auth)],
        )
        .await;
        assert_eq!(r.status, 400, "{query}");
        assert_eq!(r.json()["success"], false, "{query}");
    }
    let r = get(
        fake.addr(),
        "/v1/company/employees?limit=100",
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 200);
    let r = get(
        fake.addr(),
        "/v1/company/employees?limit=1",
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn v1_employees_need_a_valid_v1_token() {
    let fake = FakePersonio::start().await;
    let r = get(fake.addr(), "/v1/company/employees", &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["success"], false);
    assert_eq!(r.json()["error"]["code"], 0);
    assert!(r.json()["error"]["message"].is_string());

    let r = get(
        fake.addr(),
        "/v1/company/employees",
        &[("Authorization", "Bearer papi-v1-999")],
    )
    .await;
    assert_eq!(r.status, 401);

    // A v2 token or the recruiting key does not work on v1.
    let v2 = bearer(&v2_token(&fake).await);
    let r = get(
        fake.addr(),
        "/v1/company/employees",
        &[("Authorization", &v2)],
    )
    .await;
    assert_eq!(r.status, 401);
    let key = bearer(FakePersonio::API_KEY);
    let r = get(
        fake.addr(),
        "/v1/company/employees",
        &[("Authorization", &key)],
    )
    .await;
    assert_eq!(r.status, 401);

    // expire_tokens invalidates every token issued so far, not later ones.
    let old = bearer(&v1_token(&fake).await);
    assert_eq!(
        get(
            fake.addr(),
            "/v1/company/employees",
            &[("Authorization", &old)]
        )
        .await
        .status,
        200
    );
    fake.expire_tokens();
    assert_eq!(
        get(
            fake.addr(),
            "/v1/company/employees",
            &[("Authorization", &old)]
        )
        .await
        .status,
        401
    );
    assert_eq!(
        get(fake.addr(), "/v2/persons", &[("Authorization", &v2)])
            .await
            .status,
        401
    );
    let new = bearer(&v1_token(&fake).await);
    assert_eq!(
        get(
            fake.addr(),
            "/v1/company/employees",
            &[("Authorization", &new)]
        )
        .await
        .status,
        200
    );
}

// ----- v2 persons -----

/// Walks `/v2/persons` by following `next` links (absolute ones must point at this server).
async fn walk_persons(fake: &FakePersonio, auth: &str, first: &str) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut target = first.to_owned();
    loop {
        let r = get(fake.addr(), &target, &[("Authorization", auth)]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        pages += 1;
        for p in body["_data"].as_array().unwrap() {
            ids.push(p["id"].as_str().unwrap().to_owned());
        }
        assert!(body["_meta"]["links"]["self"]["href"].is_string());
        let Some(next) = body["_meta"]["links"]["next"]["href"].as_str() else {
            break;
        };
        target = next.strip_prefix(&fake.origin()).unwrap_or(next).to_owned();
        assert!(target.starts_with("/v2/persons?"), "{next}");
    }
    (ids, pages)
}

#[tokio::test]
async fn v2_persons_paginate_with_absolute_and_relative_next_links() {
    let fake = FakePersonio::start().await;
    let auth = bearer(&v2_token(&fake).await);

    let r = get(fake.addr(), "/v2/persons", &[("Authorization", &auth)]).await;
    let body = r.json();
    assert_eq!(
        body["_data"][0],
        json!({"id": "1", "first_name": "First1", "last_name": "Last1", "email": "person1@example.com",
               "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
               "employments": [{"id": "1-e1"}]})
    );
    let next = body["_meta"]["links"]["next"]["href"].as_str().unwrap();
    assert_eq!(
        next,
        format!("{}/v2/persons?cursor=c50&limit=50", fake.origin())
    );

    let expected: Vec<String> = (1..=120).map(|i| i.to_string()).collect();
    let (ids, pages) = walk_persons(&fake, &auth, "/v2/persons?limit=50").await;
    assert_eq!((ids.clone(), pages), (expected.clone(), 3));

    fake.set_v2_next_link(NextLinkMode::Relative);
    let body = get(
        fake.addr(),
        "/v2/persons?limit=40",
        &[("Authorization", &auth)],
    )
    .await
    .json();
    assert_eq!(
        body["_meta"]["links"]["next"]["href"],
        "/v2/persons?cursor=c40&limit=40"
    );
    let (ids, pages) = walk_persons(&fake, &auth, "/v2/persons?limit=40").await;
    assert_eq!((ids, pages), (expected, 3));

    // Exactly one page: no next.
    fake.set_persons(10);
    let body = get(
        fake.addr(),
        "/v2/persons?limit=10",
        &[("Authorization", &auth)],
    )
    .await
    .json();
    assert_eq!(body["_data"].as_array().unwrap().len(), 10);
    assert!(body["_meta"]["links"].get("next").is_none());
}

#[tokio::test]
async fn v2_persons_foreign_and_repeating_next_links() {
    let fake = FakePersonio::start().await;
    let auth = bearer(&v2_token(&fake).await);

    fake.set_v2_next_link(NextLinkMode::ForeignHost);
    let body = get(fake.addr(), "/v2/persons", &[("Authorization", &auth)])
        .await
        .json();
    let next = body["_meta"]["links"]["next"]["href"].as_str().unwrap();
    assert!(
        next.starts_with("https://evil.example.com/v2/persons?cursor="),
        "{next}"
    );

    fake.set_v2_next_link(NextLinkMode::Repeat);
    let first = get(
        fake.addr(),
        "/v2/persons?limit=20",
        &[("Authorization", &auth)],
    )
    .await
    .json();
    let next = first["_meta"]["links"]["next"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let target = next.strip_prefix(&fake.origin()).unwrap().to_owned();
    let second = get(fake.addr(), &target, &[("Authorization", &auth)])
        .await
        .json();
    assert_eq!(second["_data"][0]["id"], "21");
    assert_eq!(second["_meta"]["links"]["next"]["href"], next.as_str());
    let third = get(fake.addr(), &target, &[("Authorization", &auth)])
        .await
        .json();
    assert_eq!(third["_meta"]["links"]["next"]["href"], next.as_str());
}

#[tokio::test]
async fn v2_persons_errors() {
    let fake = FakePersonio::start().await;
    let r = get(fake.addr(), "/v2/persons", &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));

    let v1 = bearer(&v1_token(&fake).await);
    assert_eq!(
        get(fake.addr(), "/v2/persons", &[("Authorization", &v1)])
            .await
            .status,
        401
    );

    let auth = bearer(&v2_token(&fake).await);
    for query in [
        "limit=0",
        "limit=101",
        "limit=x",
        "cursor=bogus",
        "cursor=c9999",
    ] {
        let r = get(
            fake.addr(),
            &format!("/v2/persons?{query}"),
            &[("Authorization", &auth)],
        )
        .await;
        assert_eq!(r.status, 400, "{query}");
        assert!(r.json()["errors"].is_array(), "{query}");
    }
    let r = get(
        fake.addr(),
        "/v2/persons?cursor=c120",
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["_data"], json!([]));
    assert!(r.json()["_meta"]["links"].get("next").is_none());
}

// ----- recruiting -----

#[tokio::test]
async fn recruiting_applications() {
    let fake = FakePersonio::start().await;
    let key = bearer(FakePersonio::API_KEY);
    let application = json!({
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "job_position_id": 123,
        "message": "hello",
    });
    let body = application.to_string();

    let r = send(
        fake.addr(),
        "POST",
        "/v1/recruiting/applications",
        &[
            JSON,
            ("Authorization", &key),
            ("X-Company-ID", FakePersonio::COMPANY_ID),
        ],
        body.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    assert_eq!(created["success"], true);
    assert_eq!(created["data"]["id"], 1);
    assert_eq!(created["data"]["first_name"], "Ada");
    assert_eq!(created["data"]["job_position_id"], 123);
    assert_eq!(fake.applications(), vec![application.clone()]);

    let unauthorized = json!({"success": false, "error": {"code": 401,
        "message": "Unauthorized: key and/or company id not recognised"}});
    let wrong_key = bearer("wrong");
    for headers in [
        vec![JSON, ("X-Company-ID", FakePersonio::COMPANY_ID)],
        vec![JSON, ("Authorization", key.as_str())],
        vec![
            JSON,
            ("Authorization", wrong_key.as_str()),
            ("X-Company-ID", FakePersonio::COMPANY_ID),
        ],
        vec![
            JSON,
            ("Authorization", key.as_str()),
            ("X-Company-ID", "99999"),
        ],
    ] {
        let r = send(
            fake.addr(),
            "POST",
            "/v1/recruiting/applications",
            &headers,
            body.as_bytes(),
        )
        .await;
        assert_eq!(r.status, 401, "{headers:?}");
        assert_eq!(r.json(), unauthorized);
    }

    let auth_headers = [
        JSON,
        ("Authorization", key.as_str()),
        ("X-Company-ID", FakePersonio::COMPANY_ID),
    ];
    let partial = json!({"first_name": "Ada", "last_name": "", "job_position_id": 1}).to_string();
    let r = send(
        fake.addr(),
        "POST",
        "/v1/recruiting/applications",
        &auth_headers,
        partial.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 422);
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("last_name") && message.contains("email"),
        "{message}"
    );
    assert!(!message.contains("first_name"), "{message}");

    let r = send(
        fake.addr(),
        "POST",
        "/v1/recruiting/applications",
        &auth_headers,
        b"[1,2",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(fake.applications().len(), 1);
}

// ----- job feed -----

#[tokio::test]
async fn job_feed() {
    let fake = FakePersonio::start().await;
    let r = get(fake.addr(), "/xml?language=de", &[]).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/xml")
    );
    assert!(
        r.text()
            .contains("<workzag-jobs><position><id>1</id><name>Engineer</name>")
    );

    let r = get(fake.addr(), "/xml?language=xx", &[]).await;
    assert_eq!(r.status, 400);

    assert_eq!(fake.feed_requests_with_authorization(), 0);
    let key = bearer(FakePersonio::API_KEY);
    let r = get(fake.addr(), "/xml?language=en", &[("Authorization", &key)]).await;
    assert_eq!(r.status, 200);
    assert_eq!(fake.feed_requests_with_authorization(), 1);
    let last = fake.requests().pop().unwrap();
    assert_eq!(last.header("Authorization"), Some(key.as_str()));

    fake.set_unknown_company(true);
    let r = get(fake.addr(), "/xml?language=en", &[]).await;
    assert_eq!(r.status, 307);
    assert_eq!(r.header("location"), Some("https://www.personio.com/"));
    assert_eq!(fake.count("/xml"), 4);
}

// ----- knobs -----

#[tokio::test]
async fn fail_next_answers_queued_failures_then_recovers() {
    let fake = FakePersonio::start().await;
    let auth = bearer(&v1_token(&fake).await);
    fake.fail_next(
        "/v1/company/employees",
        vec![
            (429, Some("1".to_owned())),
            (503, None),
            (502, Some("Wed, 21 Oct 2015 07:28:00 GMT".to_owned())),
        ],
    );
    let headers = [("Authorization", auth.as_str())];

    // Other paths are unaffected.
    assert_eq!(get(fake.addr(), "/v2/persons", &[]).await.status, 401);

    let r = get(fake.addr(), "/v1/company/employees", &headers).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(
        r.json(),
        json!({"success": false, "error": {"code": 429, "message": "Too many requests"}})
    );
    // Failures apply before authentication: even a request without a token gets one.
    let r = get(fake.addr(), "/v1/company/employees", &[]).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), None);
    assert_eq!(r.json()["error"]["code"], 503);
    let r = get(fake.addr(), "/v1/company/employees?limit=5", &headers).await;
    assert_eq!(r.status, 502);
    assert_eq!(
        r.header("retry-after"),
        Some("Wed, 21 Oct 2015 07:28:00 GMT")
    );
    let r = get(fake.addr(), "/v1/company/employees", &headers).await;
    assert_eq!(r.status, 200);

    // On the token endpoint, the failed attempt still counts as a token request.
    fake.fail_next("/v1/auth", vec![(500, None)]);
    let r = send(fake.addr(), "POST", "/v1/auth", &[JSON], &v1_creds()).await;
    assert_eq!(r.status, 500);
    v1_token(&fake).await;
    assert_eq!(fake.token_requests_v1(), 3);
    assert_eq!(fake.tokens_issued_v1(), 2);
    assert_eq!(fake.count("/v1/company/employees"), 4);
}

#[tokio::test]
async fn delays_slow_down_matching_paths_and_token_requests_overlap() {
    let fake = FakePersonio::start().await;
    let d = Duration::from_millis(300);
    fake.set_delay("/xml", d);
    let t = Instant::now();
    assert_eq!(get(fake.addr(), "/xml?language=en", &[]).await.status, 200);
    assert!(t.elapsed() >= d);
    let t = Instant::now();
    assert_eq!(get(fake.addr(), "/v1/nothing", &[]).await.status, 404);
    assert!(t.elapsed() < d);
    fake.set_delay("/xml", Duration::ZERO);
    let t = Instant::now();
    get(fake.addr(), "/xml?language=en", &[]).await;
    assert!(t.elapsed() < d);

    fake.set_token_delay(Duration::from_millis(400));
    let t = Instant::now();
    let (a, b) = tokio::join!(v1_token(&fake), v2_token(&fake));
    let elapsed = t.elapsed();
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(790),
        "the two token requests should overlap: {elapsed:?}"
    );
    assert_ne!(a, b);
    let t = Instant::now();
    let (a, b) = tokio::join!(v1_token(&fake), v1_token(&fake));
    assert!(t.elapsed() < Duration::from_millis(790));
    assert_ne!(a, b);
    assert_eq!(fake.token_requests_v1(), 3);
}

#[tokio::test]
async fn malformed_bodies() {
    let fake = FakePersonio::start().await;
    let auth = bearer(&v1_token(&fake).await);
    fake.set_malformed("/v1/company", true);
    let r = get(
        fake.addr(),
        "/v1/company/employees",
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());
    fake.set_malformed("/v1/company", false);
    let r = get(
        fake.addr(),
        "/v1/company/employees",
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(r.json()["success"], true);
}

#[tokio::test]
async fn every_request_is_recorded_in_order() {
    let fake = FakePersonio::start().await;
    send(fake.addr(), "POST", "/v1/auth", &[JSON], &v1_creds()).await;
    get(
        fake.addr(),
        "/nowhere?a=1",
        &[("X-Personio-App-ID", "MY_APP")],
    )
    .await;
    let r = send(fake.addr(), "DELETE", "/v2/persons", &[], b"").await;
    assert_eq!(r.status, 405);

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/v1/auth")
    );
    assert_eq!(requests[0].body, v1_creds());
    assert_eq!(requests[0].header("CONTENT-TYPE"), Some("application/json"));
    assert_eq!(requests[1].path, "/nowhere");
    assert_eq!(requests[1].query.as_deref(), Some("a=1"));
    assert_eq!(requests[1].header("x-personio-app-id"), Some("MY_APP"));
    assert!(
        requests[1]
            .headers
            .iter()
            .all(|(n, _)| *n == n.to_ascii_lowercase())
    );
    assert_eq!(requests[2].method, "DELETE");
    assert_eq!(requests[2].query, None);
    assert_eq!(fake.count("/v"), 2);
    assert_eq!(fake.count("/"), 3);
}

#[test]
fn start_blocking_serves_until_dropped() {
    let fake = FakePersonio::start_blocking();
    let addr = fake.addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let token = v1_token(&fake).await;
        let r = get(
            addr,
            "/v1/company/employees?limit=1",
            &[("Authorization", &bearer(&token))],
        )
        .await;
        assert_eq!(r.status, 200);
    });
    assert_eq!(fake.token_requests_v1(), 1);
    drop(fake);
    rt.block_on(async {
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "the server should be gone"
        );
    });
}

#[tokio::test]
async fn hr_data_filters_by_update_time_and_webhooks_are_validated_and_capped() {
    let fake = FakePersonio::start().await;
    let v1 = bearer(&v1_token(&fake).await);
    assert!(fake.update_employee(7, "Renamed"));
    let r = get(
        fake.addr(),
        "/v1/company/employees?updated_since=2026-06-01T00:00:00",
        &[("Authorization", &v1)],
    )
    .await;
    let data = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["attributes"]["first_name"]["value"], "Renamed");
    let r = get(
        fake.addr(),
        "/v1/company/employees?updated_since=yesterday",
        &[("Authorization", &v1)],
    )
    .await;
    assert_eq!(r.status, 400);

    // A receiver that always fails: Personio's cap of 14 requests per event.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async { axum::http::StatusCode::INTERNAL_SERVER_ERROR }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let v2 = bearer(&v2_token(&fake).await);
    let client = support::http_client().build().unwrap();
    let create = |body: Value| {
        client
            .post(format!("{}/v2/webhooks", fake.origin()))
            .header("authorization", &v2)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let bad = create(json!({"url": "http://example.com/x", "description": "d", "enabled_events": ["person.updated"]}))
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 422, "plain http off loopback");
    let bad = create(json!({"url": url, "description": "d", "enabled_events": []}))
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 422);
    let ok = create(json!({"url": url, "description": "d", "status": "ENABLED", "token": "Bearer t", "enabled_events": ["person.updated"]}))
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 201);
    let created: Value = serde_json::from_str(&ok.text().await.unwrap()).unwrap();
    assert!(created.get("token").is_none(), "the token is never echoed");
    assert!(fake.update_person("3", "X"));
    assert_eq!(fake.queued_events().len(), 1);
    let report = fake
        .deliver(support::fake_personio::Delivery {
            copies: 20,
            ..Default::default()
        })
        .await;
    assert_eq!(report.requests, 14);
    assert_eq!(report.delivered, 0);
    assert!(fake.queued_events().is_empty());
}

// ----- the example that serves the fake -----

/// `cargo run -p terapi-test-support --example fake-personio`: it prints where it listens and
/// how to point terapi at it, serves the fake there (a token and the job feed), and stops on
/// Ctrl-C (SIGINT) with exit status 0.
#[tokio::test]
async fn the_fake_personio_example_serves_until_ctrl_c() {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};

    let exe = std::env::current_exe().expect("test binary path");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .join("examples")
        .join(format!("fake-personio{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} not built (cargo test builds examples)",
        path.display()
    );
    let mut child = tokio::process::Command::new(&path)
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut first))
        .await
        .expect("a first line in time")
        .unwrap();
    let origin = first
        .strip_prefix("fake Personio listening on http://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{first}"));
    let addr: SocketAddr = origin.parse().unwrap();
    assert!(addr.ip().is_loopback(), "{first}");

    let feed = get(addr, "/xml?language=en", &[]).await;
    assert_eq!(feed.status, 200, "{}", feed.text());
    let token = send(addr, "POST", "/v1/auth", &[JSON], &v1_creds()).await;
    assert_eq!(token.status, 200, "{}", token.text());

    let pid = child.id().expect("running").to_string();
    let status = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops in time")
        .unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).await.unwrap();
    for expected in [
        format!("TERAPI_CREDENTIAL_CLIENT_ID={}", FakePersonio::CLIENT_ID),
        format!(
            "TERAPI_CREDENTIAL_CLIENT_SECRET={}",
            FakePersonio::CLIENT_SECRET
        ),
        format!("--origin http://{addr}"),
        FakePersonio::API_KEY.to_owned(),
    ] {
        assert!(rest.contains(&expected), "{expected} not in: {rest}");
    }
    assert!(rest.ends_with("stopped\n"), "{rest}");
}

// ----- v1 attendances -----

const WINDOW: &str = "start_date=2025-01-01&end_date=2026-12-31";

fn ids(page: &Value) -> Vec<u64> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| r["id"].as_u64().expect("id"))
        .collect()
}

async fn post_json(fake: &FakePersonio, path: &str, auth: &str, body: &Value) -> Resp {
    send(
        fake.addr(),
        "POST",
        path,
        &[JSON, ("Authorization", auth)],
        body.to_string().as_bytes(),
    )
    .await
}

async fn patch_json(fake: &FakePersonio, path: &str, auth: &str, body: &Value) -> Resp {
    send(
        fake.addr(),
        "PATCH",
        path,
        &[JSON, ("Authorization", auth)],
        body.to_string().as_bytes(),
    )
    .await
}

#[tokio::test]
async fn v1_attendances_need_a_window_and_paginate_by_item_offset() {
    let fake = FakePersonio::start().await;
    let auth = bearer(&v1_token(&fake).await);
    let h = [("Authorization", auth.as_str())];

    let r = get(
        fake.addr(),
        &format!("/v1/company/attendances?{WINDOW}"),
        &[],
    )
    .await;
    assert_eq!(r.status, 401);
    let r = get(
        fake.addr(),
        "/v1/company/attendances?end_date=2026-12-31",
        &h,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"success": false, "error": {"code": 400, "message": "The start_date field is required."}})
    );
    let r = get(
        fake.addr(),
        "/v1/company/attendances?start_date=2025-01-01",
        &h,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["message"],
        "The end_date field is required."
    );
    for bad in [
        "start_date=2025-13-01&end_date=2026-01-01",
        "start_date=2025-01-01&end_date=20260101",
        "start_date=2026-01-02&end_date=2026-01-01",
        "start_date=2025-01-01&end_date=2026-01-01&limit=0",
        "start_date=2025-01-01&end_date=2026-01-01&offset=-1",
        "start_date=2025-01-01&end_date=2026-01-01&updated_from=yesterday",
    ] {
        let r = get(fake.addr(), &format!("/v1/company/attendances?{bad}"), &h).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(r.json()["success"], false);
    }

    // Five seeded attendances, limit 200 by default.
    let all = get(
        fake.addr(),
        &format!("/v1/company/attendances?{WINDOW}"),
        &h,
    )
    .await;
    assert_eq!(all.status, 200);
    let all = all.json();
    assert_eq!(ids(&all), [1, 2, 3, 4, 5]);
    assert_eq!(all["limit"], 200);
    assert_eq!(all["offset"], 0);
    assert_eq!(
        all["metadata"],
        json!({"total_elements": 5, "current_page": 0, "total_pages": 1})
    );
    assert_eq!(
        all["data"][0],
        json!({
            "id": 1,
            "type": "AttendancePeriod",
            "attributes": {
                "employee": 1,
                "date": "2025-12-01",
                "start_time": "09:00",
                "end_time": "12:00",
                "break": 0,
                "comment": "Seeded attendance 1",
                "updated_at": "2026-01-01T00:00:00+00:00",
                "status": "confirmed",
                "project": null,
                "is_holiday": false,
                "is_on_time_off": false,
            },
        })
    );
    assert_eq!(fake.attendances(), all["data"].as_array().unwrap().clone());

    // Pages of 2 by item offset: full, full, a short last page, then an empty one.
    let mut seen = Vec::new();
    for (offset, expected, page) in [
        (0, vec![1, 2], 0),
        (2, vec![3, 4], 1),
        (4, vec![5], 2),
        (6, vec![], 3),
    ] {
        let r = get(
            fake.addr(),
            &format!("/v1/company/attendances?{WINDOW}&limit=2&offset={offset}"),
            &h,
        )
        .await;
        assert_eq!(r.status, 200);
        let page_json = r.json();
        assert_eq!(ids(&page_json), expected, "offset {offset}");
        assert_eq!(page_json["metadata"]["total_elements"], 5);
        assert_eq!(page_json["metadata"]["total_pages"], 3);
        assert_eq!(page_json["metadata"]["current_page"], page);
        assert_eq!(page_json["offset"], offset);
        seen.extend(expected);
    }
    assert_eq!(seen, [1, 2, 3, 4, 5]);

    // The window is inclusive on both ends; `employees[]` filters.
    let r = get(
        fake.addr(),
        "/v1/company/attendances?start_date=2025-12-01&end_date=2025-12-02",
        &h,
    )
    .await;
    assert_eq!(ids(&r.json()), [1, 2, 3, 4]);
    let r = get(
        fake.addr(),
        &format!("/v1/company/attendances?{WINDOW}&employees[]=2&employees%5B%5D=5"),
        &h,
    )
    .await;
    assert_eq!(ids(&r.json()), [2, 5]);

    // `updated_from` is inclusive, as a date, a naive date-time or one with a zone.
    let created = post_json(
        &fake,
        "/v1/company/attendances",
        &auth,
        &json!({"attendances": [{"employee": 7, "date": "2026-02-03", "start_time": "08:00",
            "end_time": "16:00", "break": 45, "comment": "new"}]}),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let stamped = fake.attendances()[5]["attributes"]["updated_at"]
        .as_str()
        .unwrap()
        .to_owned();
    for (from, expected) in [
        ("2026-01-01", vec![1, 2, 3, 4, 5, 6]),
        ("2026-01-01T00:00:00", vec![1, 2, 3, 4, 5, 6]),
        ("2026-01-01T00:00:00Z", vec![1, 2, 3, 4, 5, 6]),
        ("2026-01-01T01:00:00%2B01:00", vec![1, 2, 3, 4, 5, 6]),
        ("2026-01-01T00:00:01Z", vec![6]),
        (stamped.replace('+', "%2B").as_str(), vec![6]),
        ("2099-01-01", vec![]),
    ] {
        let r = get(
            fake.addr(),
            &format!("/v1/company/attendances?{WINDOW}&updated_from={from}"),
            &h,
        )
        .await;
        assert_eq!(r.status, 200, "{from}");
        let page = r.json();
        assert_eq!(ids(&page), expected, "updated_from={from}");
        assert_eq!(page["metadata"]["total_elements"], expected.len());
    }

    // No attendances at all: an empty first page.
    fake.set_attendances(0);
    let r = get(
        fake.addr(),
        &format!("/v1/company/attendances?{WINDOW}"),
        &h,
    )
    .await;
    let empty = r.json();
    assert_eq!(empty["data"], json!([]));
    assert_eq!(
        empty["metadata"],
        json!({"total_elements": 0, "current_page": 0, "total_pages": 0})
    );
}

#[tokio::test]
async fn v1_attendances_create_update_and_delete() {
    let fake = FakePersonio::start().await;
    let auth = bearer(&v1_token(&fake).await);
    let path = "/v1/company/attendances";

    let r = post_json(
        &fake,
        path,
        &auth,
        &json!({"attendances": [
            {"employee": 1, "date": "2025-12-01", "start_time": "13:00", "end_time": "17:30",
             "break": 30, "comment": "afternoon", "project_id": 5},
            {"employee": 9, "date": "2026-01-05", "start_time": "08:00", "break": 0},
        ]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"success": true, "data": {"id": [6, 7], "message": "Success"}})
    );
    let stored = fake.attendances();
    assert_eq!(stored.len(), 7);
    assert_eq!(stored[5]["attributes"]["comment"], "afternoon");
    assert_eq!(
        stored[5]["attributes"]["project"],
        json!({"id": 5, "type": "Project", "attributes": {"name": "Project 5", "active": true}})
    );
    assert_eq!(stored[6]["attributes"]["end_time"], Value::Null);
    assert_eq!(stored[6]["attributes"]["comment"], "");

    // A bad period rejects the whole request, and says which one.
    let bad = json!({"attendances": [
        {"employee": 2, "date": "2026-01-06", "start_time": "09:00", "end_time": "10:00", "break": 0},
        {"employee": 99999, "date": "2026-01-06", "start_time": "09:00", "break": 0},
        {"employee": 3, "date": "06.01.2026", "start_time": "9:00", "break": 0},
        {"employee": 3, "date": "2026-01-06", "start_time": "12:00", "end_time": "11:00", "break": 0},
        {"employee": 3, "date": "2026-01-07"},
        {"employee": 1, "date": "2025-12-01", "start_time": "10:00", "end_time": "11:00", "break": 0},
    ]});
    let r = post_json(&fake, path, &auth, &bad).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let body = r.json();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], 400);
    assert_eq!(
        body["error"]["message"],
        "Error when trying to insert Attendances periods rows"
    );
    let details = body["error"]["detailed_message"].as_array().unwrap();
    assert_eq!(details.len(), 6);
    assert_eq!(
        details[0],
        json!({"success": true, "error_msg": null, "id": null, "employee": 2,
            "date": "2026-01-06", "start_time": "09:00", "end_time": "10:00", "break": 0,
            "comment": null, "project_id": null})
    );
    let msg = |i: usize| {
        details[i]["error_msg"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(details[1]["success"], false);
    assert_eq!(msg(1), "The employee 99999 does not exist.");
    assert!(
        msg(2).contains("The date must be a date in the format YYYY-MM-DD."),
        "{}",
        msg(2)
    );
    assert!(
        msg(2).contains("The start_time must be a time in the format hh:mm."),
        "{}",
        msg(2)
    );
    assert_eq!(msg(3), "The end_time must be after the start_time.");
    assert_eq!(
        msg(4),
        "The start_time field is required. The break field is required."
    );
    assert_eq!(msg(5), "Existing overlapping attendances periods");
    assert_eq!(fake.attendances().len(), 7, "nothing was inserted");

    for (body, message) in [
        (json!([1]), "The request body must be a JSON object"),
        (
            json!({}),
            "The attendances field is required and must be a non-empty array.",
        ),
        (
            json!({"attendances": []}),
            "The attendances field is required and must be a non-empty array.",
        ),
        (
            json!({"attendances": [1]}),
            "The attendances must be an array of objects.",
        ),
        (
            json!({"attendances": [{"employee": 1, "date": "2026-02-01", "start_time": "09:00", "break": 0}], "skip_approval": "no"}),
            "The skip_approval must be a boolean.",
        ),
    ] {
        let r = post_json(&fake, path, &auth, &body).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(
            r.json(),
            json!({"success": false, "error": {"code": 400, "message": message, "detailed_message": []}})
        );
    }
    // Two new periods that overlap each other.
    let twice = json!({"employee": 4, "date": "2026-02-01", "start_time": "09:00", "end_time": "10:00", "break": 0});
    let r = post_json(&fake, path, &auth, &json!({"attendances": [twice, twice]})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["detailed_message"][1]["error_msg"],
        "Existing overlapping attendances periods"
    );

    // skip_approval false: pending, listed only with includePending.
    let r = post_json(
        &fake,
        path,
        &auth,
        &json!({"attendances": [twice], "skip_approval": false}),
    )
    .await;
    assert_eq!(r.json()["data"]["id"], json!([8]));
    let h = [("Authorization", auth.as_str())];
    let listed = get(fake.addr(), &format!("{path}?{WINDOW}"), &h)
        .await
        .json();
    assert!(!ids(&listed).contains(&8));
    let listed = get(
        fake.addr(),
        &format!("{path}?{WINDOW}&includePending=true"),
        &h,
    )
    .await
    .json();
    assert!(ids(&listed).contains(&8));
    assert_eq!(listed["data"][7]["attributes"]["status"], "pending");

    // PATCH: every field optional; the change bumps updated_at.
    let before = fake.attendances()[0]["attributes"]["updated_at"].clone();
    let r = patch_json(
        &fake,
        &format!("{path}/1"),
        &auth,
        &json!({"end_time": "12:30", "comment": "stayed longer", "break": 15}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"success": true, "data": {"message": "The attendance period was updated."}})
    );
    let one = fake.attendances()[0].clone();
    assert_eq!(one["attributes"]["end_time"], "12:30");
    assert_eq!(one["attributes"]["start_time"], "09:00");
    assert_eq!(one["attributes"]["comment"], "stayed longer");
    assert_eq!(one["attributes"]["break"], 15);
    assert_ne!(one["attributes"]["updated_at"], before);

    for (body, problem) in [
        (
            json!({"start_time": "25:00"}),
            "The start_time must be a time in the format hh:mm.",
        ),
        (
            json!({"end_time": "08:00"}),
            "The end_time must be after the start_time.",
        ),
        (
            json!({"employee": 2}),
            "It is not possible to change the employee id.",
        ),
        (
            json!({"break": -5}),
            "The break must be an integer of at least 0.",
        ),
        (
            json!({"start_time": "13:00", "end_time": "14:00", "date": "2025-12-01"}),
            "Existing overlapping attendances periods",
        ),
    ] {
        let r = patch_json(&fake, &format!("{path}/1"), &auth, &body).await;
        assert_eq!(r.status, 400, "{body}");
        let e = r.json();
        assert_eq!(e["success"], false);
        assert_eq!(e["error"]["code"], 400);
        assert_eq!(
            e["error"]["message"],
            "Error when trying to insert Attendances periods rows."
        );
        assert_eq!(e["error"]["detailed_message"][0]["id"], 1);
        assert_eq!(e["error"]["detailed_message"][0]["employee"], 1);
        assert_eq!(
            e["error"]["detailed_message"][0]["error_msg"], problem,
            "{body}"
        );
    }
    let r = patch_json(&fake, &format!("{path}/1"), &auth, &json!({})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        fake.attendances()[0],
        one,
        "rejected updates change nothing"
    );

    let not_found = json!({"success": false, "error": {"code": 404, "message": "The attendance period was not found."}});
    for id in ["999", "abc"] {
        let r = patch_json(
            &fake,
            &format!("{path}/{id}"),
            &auth,
            &json!({"comment": "x"}),
        )
        .await;
        assert_eq!(r.status, 404);
        assert_eq!(r.json(), not_found);
    }

    let r = send(fake.addr(), "DELETE", &format!("{path}/2"), &h, b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"success": true, "data": {"message": "The attendance period was deleted."}})
    );
    let r = send(fake.addr(), "DELETE", &format!("{path}/2"), &h, b"").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), not_found);
    assert!(
        !ids(&get(fake.addr(), &format!("{path}?{WINDOW}"), &h)
            .await
            .json())
        .contains(&2)
    );

    // Methods, and v1 tokens only.
    let r = send(fake.addr(), "PUT", &format!("{path}/1"), &h, b"{}").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("PATCH, DELETE"));
    let r = send(fake.addr(), "DELETE", path, &h, b"").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let v2 = bearer(&v2_token(&fake).await);
    let r = post_json(&fake, path, &v2, &json!({"attendances": [twice]})).await;
    assert_eq!(r.status, 401);
}

// ----- v1 absence periods -----

fn absence_ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| r["attributes"]["id"].as_str().expect("id").to_owned())
        .collect()
}

fn absence_id(n: u64) -> String {
    format!("00000000-0000-4000-a000-{n:012x}")
}

#[tokio::test]
async fn v1_absence_periods_paginate_by_page_number() {
    let fake = FakePersonio::start().await;
    let auth = bearer(&v1_token(&fake).await);
    let h = [("Authorization", auth.as_str())];
    let path = "/v1/company/absence-periods";

    let r = get(fake.addr(), path, &[]).await;
    assert_eq!(r.status, 401);

    // Three seeded periods, no parameter required.
    let r = get(fake.addr(), path, &h).await;
    assert_eq!(r.status, 200);
    let all = r.json();
    assert_eq!(
        absence_ids(&all),
        [absence_id(1), absence_id(2), absence_id(3)]
    );
    assert_eq!(all["limit"], 200);
    assert_eq!(
        all["metadata"],
        json!({"total_elements": 3, "current_page": 0, "total_pages": 1})
    );
    assert_eq!(
        fake.absence_periods(),
        all["data"].as_array().unwrap().clone()
    );
    let first = &all["data"][0];
    assert_eq!(first["type"], "AbsencePeriod");
    let a = &first["attributes"];
    assert_eq!(a["updated_at"], "2026-01-01T00:00:00.000Z");
    assert_eq!(a["measurement_unit"], "hour");
    assert_eq!(a["effective_duration"], 240);
    assert_eq!(a["start"], "2025-12-01T09:00:00.0Z");
    assert_eq!(a["end"], "2025-12-01T13:00:00.0Z");
    assert_eq!(a["employee"]["attributes"]["id"]["value"], 1);
    assert_eq!(
        a["employee"]["attributes"]["email"]["value"],
        "employee1@example.com"
    );
    assert_eq!(a["absence_type"]["attributes"]["time_off_type_id"], 1001);
    assert_eq!(
        a["breakdowns"],
        json!([{"date": "2025-12-01", "effective_duration": 240}])
    );

    // `offset` is a page number from 0: full, full, short, then empty pages.
    fake.set_absence_periods(5);
    for (page, expected) in [(0, vec![1, 2]), (1, vec![3, 4]), (2, vec![5]), (3, vec![])] {
        let r = get(fake.addr(), &format!("{path}?limit=2&offset={page}"), &h).await;
        assert_eq!(r.status, 200);
        let body = r.json();
        let expected: Vec<String> = expected.into_iter().map(absence_id).collect();
        assert_eq!(absence_ids(&body), expected, "page {page}");
        assert_eq!(
            body["metadata"],
            json!({"total_elements": 5, "current_page": page, "total_pages": 3})
        );
        assert_eq!(body["offset"], page);
        assert_eq!(body["limit"], 2);
    }
    for bad in [
        "limit=0",
        "limit=201",
        "offset=x",
        "updated_from=soon",
        "start_date=1.1.2025",
    ] {
        let r = get(fake.addr(), &format!("{path}?{bad}"), &h).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()["success"], false);
    }

    // updated_from (inclusive) sees a new period only.
    let r = send(
        fake.addr(),
        "POST",
        path,
        &[FORM, ("Authorization", auth.as_str())],
        b"employee_id=3&time_off_type_id=1002&start_date=2026-02-02&end_date=2026-02-02&start_time=10:00&end_time=12:00&comment=Dentist",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json()["data"]["attributes"].clone();
    let stamp = created["updated_at"].as_str().unwrap().to_owned();
    for (from, n) in [
        ("2026-01-01", 6),
        ("2026-01-01T00:00:00.001Z", 1),
        (stamp.as_str(), 1),
    ] {
        let r = get(fake.addr(), &format!("{path}?updated_from={from}"), &h).await;
        assert_eq!(
            r.json()["data"].as_array().unwrap().len(),
            n,
            "updated_from={from}"
        );
    }
    let r = get(fake.addr(), &format!("{path}?employees[]=3"), &h).await;
    assert_eq!(absence_ids(&r.json()), [absence_id(3), absence_id(6)]);
    let r = get(fake.addr(), &format!("{path}?start_date=2026-01-01"), &h).await;
    assert_eq!(absence_ids(&r.json()), [absence_id(6)]);

    fake.set_absence_periods(0);
    let r = get(fake.addr(), path, &h).await.json();
    assert_eq!(r["data"], json!([]));
    assert_eq!(
        r["metadata"],
        json!({"total_elements": 0, "current_page": 0, "total_pages": 0})
    );
}

#[tokio::test]
async fn v1_absence_periods_create() {
    let fake = FakePersonio::start().await;
    let auth = bearer(&v1_token(&fake).await);
    let path = "/v1/company/absence-periods";
    let form = |body: &str| {
        let auth = auth.clone();
        let body = body.to_owned();
        let addr = fake.addr();
        async move {
            send(
                addr,
                "POST",
                path,
                &[FORM, ("Authorization", auth.as_str())],
                body.as_bytes(),
            )
            .await
        }
    };

    let r = form("employee_id=3&time_off_type_id=1002&start_date=2026-02-02&end_date=2026-02-02&start_time=10:00&end_time=12:00&comment=Dentist&skip_approval=false").await;
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    assert_eq!(body["success"], true);
    let a = &body["data"]["attributes"];
    assert_eq!(body["data"]["type"], "AbsencePeriod");
    assert_eq!(a["id"], absence_id(4));
    assert_eq!(a["effective_duration"], 120);
    assert_eq!(a["start"], "2026-02-02T10:00:00.0Z");
    assert_eq!(a["end"], "2026-02-02T12:00:00.0Z");
    assert_eq!(a["comment"], "Dentist");
    assert_eq!(a["status"], "pending");
    assert_eq!(a["approved_at"], Value::Null);
    assert_eq!(a["origin"], "api");
    assert_eq!(
        a["absence_type"]["attributes"]["name"],
        "Overtime reduction"
    );
    assert_eq!(a["created_at"], a["updated_at"]);
    assert_eq!(fake.absence_periods()[3], body["data"]);

    // JSON is accepted too; several days count 8 hours each, a half day 4.
    let r = post_json(
        &fake,
        path,
        &auth,
        &json!({"employee_id": 3, "time_off_type_id": 1001, "start_date": "2026-03-02",
            "end_date": "2026-03-04", "half_day_start": true}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let a = r.json()["data"]["attributes"].clone();
    assert_eq!(a["effective_duration"], 1200);
    assert_eq!(a["start"], "2026-03-02T00:00:00.0Z");
    assert_eq!(a["end"], "2026-03-05T00:00:00.0Z");
    assert_eq!(a["status"], "approved");
    assert_eq!(
        a["breakdowns"],
        json!([
            {"date": "2026-03-02", "effective_duration": 240},
            {"date": "2026-03-03", "effective_duration": 480},
            {"date": "2026-03-04", "effective_duration": 480},
        ])
    );

    // Missing or malformed fields: 422 with every problem.
    let r = form("employee_id=x&start_date=2026-02-30&start_time=7am").await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json(),
        json!({"success": false, "error": {"code": 0,
        "message": "The given data failed to pass validation.",
        "error_data": {
            "employee_id": ["The employee_id must be an integer."],
            "time_off_type_id": ["The time_off_type_id field is required."],
            "start_date": ["The start_date does not match the format Y-m-d."],
            "end_date": ["The end_date field is required."],
            "start_time": ["The start_time does not match the format H:i."],
        }}})
    );
    // Unknown employee or type: 404.
    let r =
        form("employee_id=99999&time_off_type_id=1001&start_date=2026-04-01&end_date=2026-04-02")
            .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"success": false, "error": {"code": 0, "message": "Employee not found."}})
    );
    let r =
        form("employee_id=3&time_off_type_id=7&start_date=2026-04-01&end_date=2026-04-02").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["message"], "Absence type not found.");
    // Periods that cannot be inserted: 400.
    for (body, detail) in [
        (
            "employee_id=3&time_off_type_id=1001&start_date=2026-04-02&end_date=2026-04-01",
            "The end_date must be on or after the start_date.",
        ),
        (
            "employee_id=3&time_off_type_id=1001&start_date=2026-04-02&end_date=2026-04-02",
            "start_time and end_time are required when start_date equals end_date.",
        ),
        (
            "employee_id=3&time_off_type_id=1001&start_date=2026-04-02&end_date=2026-04-02&start_time=12:00&end_time=11:00",
            "The end_time must be after the start_time.",
        ),
        (
            "employee_id=3&time_off_type_id=1001&start_date=2026-02-02&end_date=2026-02-02&start_time=11:00&end_time=13:00",
            "The employee already has an absence in this period.",
        ),
        (
            "employee_id=3&time_off_type_id=1001&start_date=2026-03-04&end_date=2026-03-06",
            "The employee already has an absence in this period.",
        ),
    ] {
        let r = form(body).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(
            r.json(),
            json!({"success": false, "error": {"code": 400,
                "message": "Error when trying to insert absence period", "detail": detail}})
        );
    }
    assert_eq!(fake.absence_periods().len(), 5);
}

// ----- recruiting documents -----

fn multipart_body(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, filename, content) in parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match filename {
            Some(f) => format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n"
            ),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n"),
        };
        out.extend_from_slice(disposition.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

#[tokio::test]
async fn recruiting_documents_upload_and_applications_name_them() {
    let fake = FakePersonio::start().await;
    let key = bearer(FakePersonio::API_KEY);
    let path = "/v1/recruiting/applications/documents";
    let multipart = "multipart/form-data; boundary=XyZ-b0undary";
    let creds = |ct: &'static str| {
        vec![
            ("Content-Type", ct),
            ("Authorization", key.as_str()),
            ("X-Company-ID", FakePersonio::COMPANY_ID),
        ]
    };
    let pdf = b"%PDF-1.4\r\n--XyZ not a boundary\r\n%%EOF".to_vec();
    let body = multipart_body(
        "XyZ-b0undary",
        &[("note", None, b"hello"), ("file", Some("cv.PDF"), &pdf)],
    );

    let r = send(fake.addr(), "POST", path, &creds(multipart), &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let doc = r.json();
    assert_eq!(
        doc,
        json!({"uuid": "d0c00000-0000-4000-8000-000000000001", "size": pdf.len(),
            "mimetype": "application/pdf", "original_filename": "cv.PDF", "extension": "pdf"})
    );
    assert_eq!(fake.uploaded_documents(), vec![doc.clone()]);
    assert_eq!(
        fake.uploaded_document_bytes("d0c00000-0000-4000-8000-000000000001"),
        Some(pdf.clone())
    );

    // Credentials as for applications.
    let r = send(
        fake.addr(),
        "POST",
        path,
        &[("Content-Type", multipart), ("Authorization", key.as_str())],
        &body,
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], 401);

    let required = json!({"errors": [{"field": "file",
        "errors": [{"reason": "errors.attribute-validation.required-attribute"}]}]});
    for (ct, body) in [
        (
            multipart,
            multipart_body("XyZ-b0undary", &[("note", None, b"x")]),
        ),
        (
            multipart,
            multipart_body("XyZ-b0undary", &[("file", None, b"no filename")]),
        ),
        (multipart, b"garbage".to_vec()),
        ("application/json", b"{}".to_vec()),
    ] {
        let r = send(fake.addr(), "POST", path, &creds(ct), &body).await;
        assert_eq!(r.status, 400, "{ct}");
        assert_eq!(r.json(), required);
    }
    let r = send(
        fake.addr(),
        "POST",
        path,
        &creds(multipart),
        &multipart_body("XyZ-b0undary", &[("file", Some("run.exe"), b"MZ")]),
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json(),
        json!({"errors": [{"field": "file", "errors": [{"reason": "errors.invalid-file-type"}]}]})
    );
    let big = vec![b'a'; support::fake_personio::MAX_DOCUMENT_BYTES + 1];
    let r = send(
        fake.addr(),
        "POST",
        path,
        &creds(multipart),
        &multipart_body("XyZ-b0undary", &[("file", Some("big.txt"), &big)]),
    )
    .await;
    assert_eq!(r.status, 413);
    assert_eq!(
        r.json(),
        json!({"errors": [{"field": "file", "errors": [{"reason": "errors.file-too-big"}]}]})
    );
    assert_eq!(fake.uploaded_documents().len(), 1);

    // An application's files name uploaded documents.
    let apply = |files: Value| {
        json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
            "job_position_id": 1, "files": files})
        .to_string()
    };
    let good =
        apply(json!([{"uuid": doc["uuid"], "original_filename": "cv.pdf", "category": "cv"}]));
    let r = send(
        fake.addr(),
        "POST",
        "/v1/recruiting/applications",
        &creds("application/json"),
        good.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["data"]["files"][0]["uuid"], doc["uuid"]);
    let bad = apply(json!([
        {"uuid": "d0c00000-0000-4000-8000-0000000000ff", "original_filename": "x.pdf", "category": "cv"},
        {"uuid": doc["uuid"], "category": "selfie"},
    ]));
    let r = send(
        fake.addr(),
        "POST",
        "/v1/recruiting/applications",
        &creds("application/json"),
        bad.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"errors": [
            {"field": "files[0].uuid", "errors": [{"reason": "errors.file-validation.file-not-exists"}]},
            {"field": "files[1].original_filename", "errors": [{"reason": "errors.attribute-validation.required-attribute"}]},
            {"field": "files[1].category", "errors": [{"reason": "errors.file-validation.unknown-file-category"}]},
        ]})
    );
    let r = send(
        fake.addr(),
        "POST",
        "/v1/recruiting/applications",
        &creds("application/json"),
        apply(json!("cv.pdf")).as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(fake.applications().len(), 1);

    // Clearing the records drops the bytes, not the document: applications still name it.
    fake.clear_recorded();
    assert_eq!(fake.uploaded_documents(), vec![doc.clone()]);
    assert_eq!(
        fake.uploaded_document_bytes("d0c00000-0000-4000-8000-000000000001"),
        None
    );
    let r = send(
        fake.addr(),
        "POST",
        "/v1/recruiting/applications",
        &creds("application/json"),
        good.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
}

// ----- v2 writes -----

#[tokio::test]
async fn v2_employment_patch() {
    let fake = FakePersonio::start().await;
    let auth = bearer(&v2_token(&fake).await);
    let h = [("Authorization", auth.as_str())];
    let path = "/v2/persons/3/employments/3-e1";
    let before = fake.employment("3", "3-e1").expect("employment");

    let r = patch_json(
        &fake,
        path,
        &auth,
        &json!({"position": {"title": "Lead"}, "status": "LEAVE", "weekly_working_hours": 32.5,
            "supervisor": {"id": "1"}, "start_date": "2024-04-01", "type": "INTERNAL"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let updated = r.json();
    assert_eq!(updated["id"], "3-e1");
    assert_eq!(updated["person"], json!({"id": "3"}));
    assert_eq!(updated["position"], json!({"title": "Lead"}));
    assert_eq!(updated["status"], "LEAVE");
    assert_eq!(updated["weekly_working_hours"], 32.5);
    assert_eq!(updated["supervisor"], json!({"id": "1"}));
    assert_eq!(updated["start_date"], "2024-04-01");
    assert_eq!(updated["type"], "INTERNAL");
    assert_eq!(updated["created_at"], before["created_at"]);
    assert!(
        updated["updated_at"].as_str() > before["updated_at"].as_str(),
        "{updated}"
    );
    assert_eq!(fake.employment("3", "3-e1"), Some(updated.clone()));
    let r = get(fake.addr(), path, &h).await;
    assert_eq!(r.json(), updated);
    // The employments listing shows the change to an incremental run.
    let since = before["updated_at"].as_str().unwrap();
    let r = get(
        fake.addr(),
        &format!("/v2/persons/3/employments?updated_at.gt={since}"),
        &h,
    )
    .await;
    assert_eq!(r.json()["_data"], json!([updated]));
    let r = patch_json(&fake, path, &auth, &json!({"position": "Plain"})).await;
    assert_eq!(r.json()["position"], json!({"title": "Plain"}));

    let r = patch_json(
        &fake,
        "/v2/persons/999/employments/999-e1",
        &auth,
        &json!({"status": "ACTIVE"}),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(
        r.json()["errors"],
        json!([{"title": "Not Found", "detail": "common.requested_resource_not_found"}])
    );
    let r = patch_json(
        &fake,
        "/v2/persons/3/employments/4-e1",
        &auth,
        &json!({"status": "ACTIVE"}),
    )
    .await;
    assert_eq!(r.status, 404);

    let r = send(
        fake.addr(),
        "PATCH",
        path,
        &[JSON, ("Authorization", auth.as_str())],
        b"[",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(
        r.json()["errors"],
        json!([{"title": "Bad Request", "detail": "The request body must be a JSON object"}])
    );
    let snapshot = fake.employment("3", "3-e1");
    let r = patch_json(
        &fake,
        path,
        &auth,
        &json!({"status": "RETIRED", "weekly_working_hours": 200, "supervisor": {"id": "999"},
            "start_date": "01.04.2024", "salary": 1}),
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let errors: Vec<String> = r.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["title"], "Unprocessable Entity");
            e["detail"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(errors.len(), 5, "{errors:?}");
    for field in [
        "status:",
        "weekly_working_hours:",
        "supervisor:",
        "start_date:",
        "salary:",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(field)),
            "{field} in {errors:?}"
        );
    }
    let r = patch_json(&fake, path, &auth, &json!({})).await;
    assert_eq!(r.status, 422);
    assert_eq!(
        fake.employment("3", "3-e1"),
        snapshot,
        "rejected patches change nothing"
    );

    // v2 tokens only.
    let v1 = bearer(&v1_token(&fake).await);
    let r = patch_json(&fake, path, &v1, &json!({"status": "ACTIVE"})).await;
    assert_eq!(r.status, 401);
    let r = send(
        fake.addr(),
        "POST",
        path,
        &[JSON, ("Authorization", auth.as_str())],
        b"{}",
    )
    .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, PATCH"));
}

#[tokio::test]
async fn v2_person_create() {
    let fake = FakePersonio::start().await;
    fake.set_persons(3);
    let auth = bearer(&v2_token(&fake).await);
    let h = [("Authorization", auth.as_str())];

    let r = post_json(
        &fake,
        "/v2/persons",
        &auth,
        &json!({"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper",
            "preferred_name": "Amazing Grace", "gender": "FEMALE", "language_code": "en",
            "custom_attributes": [{"id": "dynamic_123", "value": "Navy"}],
            "employments": [{"position": "Rear Admiral", "weekly_working_hours": 40}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("location"), Some("/v2/persons/4"));
    assert_eq!(
        r.json(),
        json!({"id": "4", "_meta": {"links": {"self": {"href": "/v2/persons/4"}}}})
    );
    let person = fake.person("4").expect("created");
    assert_eq!(person["email"], "grace@example.com");
    assert_eq!(person["preferred_name"], "Amazing Grace");
    assert_eq!(person["gender"], "FEMALE");
    assert_eq!(person["language_code"], "en");
    assert_eq!(
        person["custom_attributes"],
        json!([{"id": "dynamic_123", "value": "Navy"}])
    );
    assert_eq!(person["employments"], json!([{"id": "4-e1"}]));
    let e = fake.employment("4", "4-e1").expect("employment");
    assert_eq!(e["position"], json!({"title": "Rear Admiral"}));
    assert_eq!(e["status"], "ACTIVE");
    assert_eq!(get(fake.addr(), "/v2/persons/4", &h).await.json(), person);
    assert_eq!(fake.person_ids(), ["1", "2", "3", "4"]);

    let r = post_json(
        &fake,
        "/v2/persons",
        &auth,
        &json!({"email": "GRACE@example.com", "first_name": "G", "last_name": "H"}),
    )
    .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(
        r.json()["errors"],
        json!([{"title": "Conflict", "detail": "A person with this email already exists"}])
    );
    let r = post_json(&fake, "/v2/persons", &auth, &json!({"preferred_name": "x"})).await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json()["errors"],
        json!([
            {"title": "Unprocessable Entity", "detail": "email: is required"},
            {"title": "Unprocessable Entity", "detail": "first_name: is required"},
            {"title": "Unprocessable Entity", "detail": "last_name: is required"},
        ])
    );
    for body in [
        json!({"email": "not-an-email", "first_name": "A", "last_name": "B"}),
        json!({"email": "a@example.com", "first_name": "A", "last_name": "B", "language_code": "EN"}),
        json!({"email": "a@example.com", "first_name": "A", "last_name": "B", "custom_attributes": [{"value": 1}]}),
        json!({"email": "a@example.com", "first_name": "A", "last_name": "B", "employments": [{"status": "?"}]}),
        json!({"email": "a@example.com", "first_name": "A", "last_name": "B", "id": "77"}),
        json!({"email": "a@example.com", "first_name": "", "last_name": "B"}),
    ] {
        let r = post_json(&fake, "/v2/persons", &auth, &body).await;
        assert_eq!(r.status, 422, "{body}");
        assert_eq!(r.json()["errors"].as_array().unwrap().len(), 1, "{body}");
    }
    let r = send(
        fake.addr(),
        "POST",
        "/v2/persons",
        &[JSON, ("Authorization", auth.as_str())],
        b"nope",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(fake.person_ids().len(), 4);
}

// ----- knobs on the write endpoints -----

#[tokio::test]
async fn injected_failures_apply_to_the_write_endpoints() {
    let fake = FakePersonio::start().await;
    let v1 = bearer(&v1_token(&fake).await);
    let v2 = bearer(&v2_token(&fake).await);
    let period = json!({"attendances": [{"employee": 1, "date": "2026-02-01", "start_time": "09:00", "break": 0}]});

    fake.fail_next("/v1/company/attendances", vec![(503, Some("2".to_owned()))]);
    let r = post_json(&fake, "/v1/company/attendances", &v1, &period).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(fake.attendances().len(), 5, "a failed POST creates nothing");
    let r = post_json(&fake, "/v1/company/attendances", &v1, &period).await;
    assert_eq!(r.status, 200);
    assert_eq!(fake.attendances().len(), 6);
    let posts = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/company/attendances")
        .count();
    assert_eq!(posts, 2);

    // fail_after: one more write succeeds, then every one answers 500 (v2: problem+json).
    fake.fail_after("/v2/persons", 1, 500);
    let patch = json!({"status": "INACTIVE"});
    let r = patch_json(&fake, "/v2/persons/1/employments/1-e1", &v2, &patch).await;
    assert_eq!(r.status, 200);
    for _ in 0..2 {
        let r = patch_json(&fake, "/v2/persons/1/employments/1-e1", &v2, &patch).await;
        assert_eq!(r.status, 500);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    fake.clear_fail_after();
    let r = post_json(
        &fake,
        "/v2/persons",
        &v2,
        &json!({"email": "n@example.com", "first_name": "N", "last_name": "M"}),
    )
    .await;
    assert_eq!(r.status, 201);

    fake.fail_next("/v1/recruiting/applications/documents", vec![(500, None)]);
    let key = bearer(FakePersonio::API_KEY);
    let r = send(
        fake.addr(),
        "POST",
        "/v1/recruiting/applications/documents",
        &[
            ("Content-Type", "multipart/form-data; boundary=b"),
            ("Authorization", key.as_str()),
            ("X-Company-ID", FakePersonio::COMPANY_ID),
        ],
        &multipart_body("b", &[("file", Some("a.txt"), b"hi")]),
    )
    .await;
    assert_eq!(r.status, 500);
    assert!(fake.uploaded_documents().is_empty());
    assert_eq!(fake.count("/v1/recruiting/applications/documents"), 1);

    // v2 error bodies that take the lock again (these used to deadlock the server).
    fake.fail_after("/v2/persons/2", 0, 503);
    let r = get(
        fake.addr(),
        "/v2/persons/2",
        &[("Authorization", v2.as_str())],
    )
    .await;
    assert_eq!(r.status, 503);
    assert!(r.json()["personio_trace_id"].is_string());
    fake.clear_fail_after();
    let r = get(
        fake.addr(),
        "/v2/webhooks/nope",
        &[("Authorization", v2.as_str())],
    )
    .await;
    assert_eq!(r.status, 404);
}
