//! `/proxy/{path}`: requests through a stored connection to the fake Personio; hostile
//! paths, hostile providers, limits; and one refresh for 1,000 requests across 3 replicas.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use terapi_test_support::fake_oauth::{self, FakeOAuth};
use terapi_test_support::fake_personio::FakePersonio;

use crate::live_support::{self as support, Running};

async fn personio(
    config: impl FnOnce(&mut terapi_server::ServerConfig),
) -> (FakePersonio, Running, String) {
    let fake = FakePersonio::start().await;
    let store = support::store("sqlite::memory:").await;
    let r = support::start(store, &fake.origin(), config).await;
    let admin = support::key(&r.store, &["admin"]).await;
    let res = support::client()
        .post(format!("{}/connections", r.url))
        .bearer_auth(&admin)
        .json(&json!({
            "connection_id": "hr",
            "provider_config_key": "personio",
            "connection_config": {"partnerId": "ACME", "appId": "MY_APP"},
            "credentials": {"client_id": FakePersonio::CLIENT_ID, "client_secret": FakePersonio::CLIENT_SECRET},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let key = support::key(&r.store, &["proxy"]).await;
    (fake, r, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_goes_through_the_connection_and_comes_back_as_the_provider_sent_it() {
    let (fake, r, key) = personio(|_| {}).await;
    fake.set_employees(3);
    let res = support::client()
        .get(format!(
            "{}/proxy/company/employees?limit=2&offset=0",
            r.url
        ))
        .bearer_auth(&key)
        .header("Connection-Id", "hr")
        .header("Provider-Config-Key", "personio")
        .header("Accept", "application/json")
        .header("X-Custom", "kept")
        .header("X-Personio-Partner-Id", "EVIL")
        .header("X-Forwarded-For", "10.0.0.1")
        .header("Cookie", "session=caller")
        .header("Retries", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["success"], true, "{body}");
    assert!(
        body["data"].as_array().is_some_and(|d| !d.is_empty()),
        "{body}"
    );

    let sent = fake
        .requests()
        .into_iter()
        .find(|q| q.path == "/v1/company/employees")
        .expect("the fake got the request");
    assert_eq!(sent.method, "GET");
    assert_eq!(sent.query.as_deref(), Some("limit=2&offset=0"));
    assert!(sent.header("authorization").unwrap().starts_with("Bearer "));
    assert_ne!(
        sent.header("authorization"),
        Some(format!("Bearer {key}").as_str())
    );
    assert_eq!(sent.header("x-personio-partner-id"), Some("ACME"));
    assert_eq!(sent.header("x-custom"), Some("kept"));
    // The provider's own headers are the connection's, not the caller's.
    assert_eq!(
        sent.headers
            .iter()
            .filter(|(n, _)| n == "x-personio-partner-id")
            .count(),
        1
    );
    for never in [
        "cookie",
        "connection-id",
        "provider-config-key",
        "retries",
        "x-forwarded-for",
    ] {
        assert_eq!(sent.header(never), None, "{never}");
    }
    // Nothing of the caller's key reached the provider.
    assert!(sent.headers.iter().all(|(_, v)| !v.contains(&key)));

    // A body goes along with its content type (the fake answers 404 for a path it lacks).
    let res = support::client()
        .post(format!("{}/proxy/company/attendances", r.url))
        .bearer_auth(&key)
        .header("Connection-Id", "hr")
        .header("Content-Type", "application/json")
        .body(r#"{"a":1}"#)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let sent = fake
        .requests()
        .into_iter()
        .rfind(|q| q.path == "/v1/company/attendances")
        .expect("sent");
    assert_eq!(sent.body_text(), r#"{"a":1}"#, "{status}");
    assert_eq!(sent.header("content-type"), Some("application/json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headers_that_name_the_connection_are_checked() {
    let (fake, r, key) = personio(|_| {}).await;
    let send = |headers: Vec<(&'static str, &'static str)>| {
        let mut req = support::client()
            .get(format!("{}/proxy/company/employees", r.url))
            .bearer_auth(&key);
        for (n, v) in headers {
            req = req.header(n, v);
        }
        req.send()
    };
    let res = send(vec![]).await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let res = send(vec![
        ("Connection-Id", "hr"),
        ("Provider-Config-Key", "acme"),
    ])
    .await
    .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let res = send(vec![("Connection-Id", "nope")]).await.unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let res = send(vec![("Connection-Id", "hr"), ("Retries", "-1")])
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(fake.count("/v1/company"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_that_leave_the_providers_base_url_are_refused() {
    let (fake, r, key) = personio(|_| {}).await;
    let auth = format!("Bearer {key}");
    let headers = [("Authorization", auth.as_str()), ("Connection-Id", "hr")];
    for path in [
        "/proxy/../v1/company/employees",
        "/proxy/company/../../admin",
        "/proxy/%2e%2e/admin",
        "/proxy/company/%2E%2E/%2e%2e/admin",
        "/proxy/./company",
        "/proxy//evil.example.com/x",
        "/proxy///evil.example.com/x",
        "/proxy/https://evil.example.com/x",
        "/proxy/http:%2F%2Fevil.example.com/x",
        "/proxy/user:pass@evil.example.com/x",
        "/proxy/evil.example.com:443/x",
    ] {
        let (status, body) = support::raw(&r.url, "GET", path, &headers).await;
        assert_eq!(status, 400, "{path}: {body:.300}");
        let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
    // `@`, an encoded backslash or `#` in a segment stay a path on the provider's host.
    for path in [
        "/proxy/@evil.example.com/x",
        "/proxy/%5Cevil.example.com",
        "/proxy/company%23frag",
    ] {
        let (status, _) = support::raw(&r.url, "GET", path, &headers).await;
        assert_eq!(status, 404, "{path}");
    }
    assert!(
        fake.requests().iter().all(|q| q.path.starts_with("/v1/")),
        "{:?}",
        fake.requests()
    );
    assert_eq!(fake.count("/v1/@evil.example.com"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_providers_errors_are_passed_through() {
    let (fake, r, key) = personio(|_| {}).await;
    let get = |path: &str, retries: Option<&'static str>| {
        let mut req = support::client()
            .get(format!("{}/proxy{path}", r.url))
            .bearer_auth(&key)
            .header("Connection-Id", "hr");
        if let Some(n) = retries {
            req = req.header("Retries", n);
        }
        req.send()
    };
    let res = get("/no/such/thing", None).await.unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["error"]["message"], "Not found",
        "the provider's own body: {body}"
    );

    // A 500 the catalog retries: with `Retries: 0`, the first answer comes back.
    fake.fail_next("/v1/company/employees", vec![(500, None), (500, None)]);
    let res = get("/company/employees", Some("0")).await.unwrap();
    assert_eq!(res.status().as_u16(), 500);
    assert_eq!(fake.count("/v1/company/employees"), 1);
    // Without the header: retried (the settings allow 3 attempts), the success comes back.
    let res = get("/company/employees", None).await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(fake.count("/v1/company/employees"), 3);
    // A `Retries` above the catalog's does not raise it.
    fake.fail_next("/v1/company/employees", vec![(503, None); 5]);
    let res = get("/company/employees", Some("50")).await.unwrap();
    assert_eq!(res.status().as_u16(), 503);
    assert_eq!(fake.count("/v1/company/employees"), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_bounded_both_ways() {
    let (fake, r, key) = personio(|c| c.max_proxy_body = 8 * 1024).await;
    // The provider's answer too large (a page of 50 employees is about 30 KB): 502, JSON.
    fake.set_employees(200);
    let res = support::client()
        .get(format!("{}/proxy/company/employees", r.url))
        .bearer_auth(&key)
        .header("Connection-Id", "hr")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 502);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["error"]["code"], "provider_response_too_large",
        "{body}"
    );

    // The caller's body too large: 413, and nothing sent.
    let before = fake.requests().len();
    let res = support::client()
        .post(format!("{}/proxy/company/attendances", r.url))
        .bearer_auth(&key)
        .header("Connection-Id", "hr")
        .header("content-type", "application/octet-stream")
        .body(vec![b'x'; 9 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
    // Without a length (chunked): the same.
    let auth = format!("Bearer {key}");
    let chunk = "y".repeat(1024);
    let mut chunked = String::new();
    for _ in 0..10 {
        chunked.push_str(&format!("400\r\n{chunk}\r\n"));
    }
    chunked.push_str("0\r\n\r\n");
    let (status, body) = support::raw_body(
        &r.url,
        "POST",
        "/proxy/company/attendances",
        &[
            ("Authorization", auth.as_str()),
            ("Connection-Id", "hr"),
            ("Transfer-Encoding", "chunked"),
        ],
        &chunked,
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(fake.requests().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_provider_is_a_504() {
    let (fake, r, key) = personio(|_| {}).await;
    // Get the token first, so that only the request is slow.
    fake.set_delay("/v1/company/employees", Duration::from_secs(5));
    let started = std::time::Instant::now();
    let res = support::client()
        .get(format!("{}/proxy/company/employees", r.url))
        .bearer_auth(&key)
        .header("Connection-Id", "hr")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 504);
    let text = res.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "provider_timeout", "{body}");
    assert!(!text.contains(FakePersonio::CLIENT_SECRET));
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// 1,000 concurrent proxied requests on an expired token, spread over 3 servers with their
/// own store handles on one PostgreSQL database: exactly one refresh at the provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_refresh_for_a_thousand_requests_across_three_replicas() {
    let Some(db) = terapi_test_support::db::db(terapi_test_support::db::Kind::Postgres).await
    else {
        return;
    };
    let fake = FakeOAuth::start().await;
    // Every refresh answer takes a while: the others must wait for it, not send their own.
    fake.fake
        .refresh_answer_delay_ms
        .store(200, Ordering::SeqCst);
    let mut replicas = Vec::new();
    for _ in 0..3 {
        let store = support::store(&db.url).await;
        let settings = support::settings(&fake.origin).timeout(Duration::from_secs(30));
        replicas.push(support::start_with(store, settings, |_| {}).await);
    }
    let admin = support::key(&replicas[0].store, &["admin"]).await;
    let (access, refresh) = fake.issue();
    let res = support::client()
        .post(format!("{}/connections", replicas[1].url))
        .bearer_auth(&admin)
        .json(&json!({
            "connection_id": "shared",
            "provider_config_key": "acme",
            "connection_config": {"tenant": "acme", "instance_url": "https://api.acme.example"},
            "tokens": {"access_token": access, "refresh_token": refresh, "expires_at": "2001-01-01T00:00:00Z"},
            "oauth_client": {"client_id": fake_oauth::CLIENT_ID, "client_secret": fake_oauth::CLIENT_SECRET},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201, "{}", res.text().await.unwrap());
    let key = support::key(&replicas[2].store, &["proxy"]).await;
    let client = support::client();
    let urls: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let client = client.clone();
            let url = format!("{}/proxy/api/ping", urls[i % 3]);
            let key = key.clone();
            tokio::spawn(async move {
                let res = client
                    .get(url)
                    .bearer_auth(key)
                    .header("Connection-Id", "shared")
                    .send()
                    .await
                    .unwrap();
                res.status().as_u16()
            })
        })
        .collect();
    let statuses = tokio::time::timeout(
        Duration::from_secs(60),
        futures_util::future::join_all(tasks),
    )
    .await
    .expect("the requests finish within a minute");
    let ok = statuses.iter().filter(|s| matches!(s, Ok(200))).count();
    assert_eq!(
        ok,
        1000,
        "{:?}",
        statuses
            .iter()
            .filter(|s| !matches!(s, Ok(200)))
            .take(5)
            .collect::<Vec<_>>()
    );
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 1);
}

/// A provider that refuses the credentials and quotes them: 502, the secret masked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_a_502_without_the_secret() {
    let fake = FakePersonio::start().await;
    fake.set_echo_credentials(true);
    let store = support::store("sqlite::memory:").await;
    let r = support::start(store, &fake.origin(), |_| {}).await;
    let admin = support::key(&r.store, &["admin"]).await;
    let wrong = "wrong-secret-4d1c9e";
    let res = support::client()
        .post(format!("{}/connections", r.url))
        .bearer_auth(&admin)
        .json(&json!({
            "connection_id": "hr",
            "provider_config_key": "personio",
            "credentials": {"client_id": FakePersonio::CLIENT_ID, "client_secret": wrong},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    for path in [
        "/proxy/company/employees",
        "/connections/hr?include_credentials=true",
    ] {
        let res = support::client()
            .get(format!("{}{path}", r.url))
            .bearer_auth(&admin)
            .header("Connection-Id", "hr")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 502, "{path}");
        let text = res.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"]["code"], "provider_token_error", "{text}");
        assert!(text.contains("Wrong credentials"), "{text}");
        assert!(!text.contains(wrong), "{text}");
    }
    assert_eq!(fake.count("/v1/company"), 0);
}
