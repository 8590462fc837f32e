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
