//! Every route of the API without a key, with a wrong key, with a session token where a key
//! is needed, with a key where a session is needed, and with a key lacking the scope: 401 or
//! 403, as JSON, and never the route's work.

use reqwest::Method;
use serde_json::Value;
use terapi_test_support::fake_personio::FakePersonio;

use crate::support::{ALL_SCOPES, Options, TestServer};

/// Who may call a route.
#[derive(Clone, Copy, Debug)]
enum Needs {
    /// A key with this scope.
    Scope(&'static str),
    /// A connect session token.
    Session,
    /// A key (any scope) or a session.
    Any,
}

/// Every route that takes credentials (the open ones — `/health`, `/openapi.json`, the OAuth
/// callback and the provider webhook receiver — are not listed).
const ROUTES: &[(&str, &str, Needs)] = &[
    ("GET", "/metrics", Needs::Scope("admin")),
    (
        "POST",
        "/connect/sessions",
        Needs::Scope("connections:write"),
    ),
    ("GET", "/providers", Needs::Any),
    ("GET", "/providers/personio", Needs::Any),
    ("POST", "/auth/personio", Needs::Session),
    ("POST", "/oauth/start/personio", Needs::Session),
    ("GET", "/connections", Needs::Scope("connections:read")),
    (
        "GET",
        "/connections/some-id",
        Needs::Scope("connections:read"),
    ),
    ("POST", "/connections", Needs::Scope("connections:write")),
    (
        "PATCH",
        "/connections/some-id",
        Needs::Scope("connections:write"),
    ),
    (
        "DELETE",
        "/connections/some-id",
        Needs::Scope("connections:write"),
    ),
    ("GET", "/proxy/company/employees", Needs::Scope("proxy")),
    ("POST", "/proxy/company/attendances", Needs::Scope("proxy")),
    ("POST", "/sync/trigger", Needs::Scope("sync")),
    (
        "GET",
        "/sync/status?connection_id=some-id",
        Needs::Scope("sync"),
    ),
    ("GET", "/records?model=employees", Needs::Scope("records")),
    (
        "POST",
        "/action/create-attendances",
        Needs::Scope("actions"),
    ),
];

async fn call(server: &TestServer, method: &str, path: &str, token: &str) -> (u16, Value) {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    server
        .send(
            method,
            path,
            token,
            Some(&serde_json::json!({})),
            &[("connection-id", "some-id")],
        )
        .await
}

#[tokio::test]
async fn every_route_refuses_the_wrong_caller() {
    let fake = FakePersonio::start().await;
    let server =
        TestServer::start(Options::new(&fake.origin()).config(|c| c.rate_limit.per_minute = 0))
            .await
            .unwrap();
    let session = server.session("user-access", &[]).await;
    let wrong_key = "tk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let before = fake.requests().len();
    for &(method, path, needs) in ROUTES {
        let what = format!("{method} {path}");
        let (status, body) = call(&server, method, path, "").await;
        assert_eq!(status, 401, "{what} without credentials: {body}");
        assert!(body["error"]["code"].is_string(), "{what}: {body}");
        let (status, body) = call(&server, method, path, wrong_key).await;
        assert_eq!(status, 401, "{what} with a wrong key: {body}");
        assert!(
            !body.to_string().contains(wrong_key),
            "{what}: the key is echoed"
        );
        let (status, body) = call(
            &server,
            method,
            path,
            "tcs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .await;
        assert!(
            matches!(status, 401 | 403),
            "{what} with an unknown session: {status} {body}"
        );
        match needs {
            Needs::Scope(scope) => {
                let (status, body) = call(&server, method, path, &session).await;
                assert_eq!(status, 403, "{what} with a session token: {body}");
                let others: Vec<&str> = ALL_SCOPES
                    .iter()
                    .copied()
                    .filter(|s| *s != scope && *s != "admin")
                    .collect();
                let lacking = server.key(&others).await;
                let (status, body) = call(&server, method, path, &lacking).await;
                assert_eq!(status, 403, "{what} without `{scope}`: {body}");
                assert!(
                    body["error"]["message"].as_str().unwrap().contains(scope),
                    "{what}: {body}"
                );
                let only = server.key(&[scope]).await;
                let (status, body) = call(&server, method, path, &only).await;
                assert!(
                    !matches!(status, 401 | 403),
                    "{what} with `{scope}`: {status} {body}"
                );
            }
            Needs::Session => {
                let (status, body) = call(&server, method, path, &server.admin_key).await;
                assert_eq!(status, 403, "{what} with a key: {body}");
                let (status, body) = call(&server, method, path, &session).await;
                assert!(
                    !matches!(status, 401 | 403),
                    "{what} with a session: {status} {body}"
                );
            }
            Needs::Any => {
                for token in [&session, &server.admin_key] {
                    let (status, body) = call(&server, method, path, token).await;
                    assert!(!matches!(status, 401 | 403), "{what}: {status} {body}");
                }
            }
        }
    }
    // Nothing reached the provider: no route did its work for a refused caller (the
    // allowed calls above name a connection that does not exist).
    assert_eq!(fake.requests().len(), before);
}

#[tokio::test]
async fn unauthenticated_callers_are_rate_limited_per_address() {
    let fake = FakePersonio::start().await;
    let server = TestServer::start(Options::new(&fake.origin()).config(|c| {
        c.rate_limit = terapi_server::RateLimit {
            per_minute: 6,
            burst: 3,
        }
    }))
    .await
    .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(
            server
                .get(
                    "/connections",
                    "tk_guess_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                )
                .await
                .0,
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(!statuses[3..].contains(&401), "{statuses:?}");
    // Blocked, the address's guesses get 429, while a valid key is still served and the
    // health check answers.
    let (status, _) = server
        .get(
            "/connections",
            "tk_guess_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
        )
        .await;
    assert_eq!(status, 429);
    let (status, body) = server.get("/connections", &server.admin_key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.get("/health", "").await.0, 200);
}
