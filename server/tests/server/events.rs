//! The application hears about its connections: `auth` events for a connection made through
//! a session, one imported by the backend, and one whose refresh the provider refused (once,
//! however often it is used afterwards), posted signed to a receiver that checks each
//! signature and finds no secret in any body.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use terapi_runtime::Secret;
use terapi_server::OutgoingWebhooks;
use terapi_test_support::db::Kind;
use terapi_test_support::fake_oauth::{self, FakeOAuth};
use terapi_test_support::fake_personio::FakePersonio;

use crate::support::{Options, TestServer};

const SECRET: &str = "whsec-events-test";

type Got = Arc<Mutex<Vec<Value>>>;

async fn receive(State(got): State<Got>, headers: HeaderMap, body: Bytes) -> &'static str {
    let signature = headers
        .get("x-terapi-hmac-sha256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        terapi_server::outbox::verify(&Secret::new(SECRET), &body, signature),
        "a delivery's signature does not verify"
    );
    let id = headers["x-terapi-delivery-id"].to_str().unwrap().to_owned();
    let mut event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["deliveryId"], id.as_str());
    event["raw"] = Value::String(String::from_utf8(body.to_vec()).unwrap());
    got.lock().unwrap().push(event);
    "ok"
}

async fn receiver() -> (url::Url, Got) {
    let got: Got = Arc::default();
    let app = axum::Router::new()
        .route("/hooks", axum::routing::post(receive))
        .with_state(got.clone());
    let (origin, stop) = terapi_test_support::loopback::serve(app).await;
    std::mem::forget(stop);
    (url::Url::parse(&format!("{origin}/hooks")).unwrap(), got)
}

fn with_webhooks(url: url::Url) -> impl FnOnce(&mut terapi_server::ServerConfig) + Send + 'static {
    move |c| c.webhooks = Some(OutgoingWebhooks::new(url, Secret::new(SECRET)))
}

/// Waits until `got` holds `n` events (at most 10 s).
async fn events(got: &Got, n: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let now = got.lock().unwrap().clone();
        if now.len() >= n || started.elapsed() > Duration::from_secs(10) {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn connections_made_and_imported_are_told_signed_without_secrets() {
    let fake = FakePersonio::start().await;
    let (url, got) = receiver().await;
    let server = TestServer::start(Options::new(&fake.origin()).config(with_webhooks(url)))
        .await
        .unwrap();
    let body = json!({
        "connection_id": "hr",
        "params": {"appId": "MY_APP"},
        "credentials": {"client_id": FakePersonio::CLIENT_ID, "client_secret": FakePersonio::CLIENT_SECRET},
    });
    let session = server.session("user-7", &[]).await;
    assert_eq!(server.post("/auth/personio", &session, &body).await.0, 201);
    assert_eq!(server.post("/auth/personio", &session, &body).await.0, 201);
    let import = json!({
        "connection_id": "imported",
        "provider_config_key": "personio-recruiting",
        "connection_config": {"companyId": "33434", "company": "company-b"},
        "credentials": {"apiKey": FakePersonio::API_KEY},
        "end_user": {"id": "user-8"},
        "tags": {"plan": "pro"},
    });
    let (status, answer) = server
        .post("/connections", &server.admin_key, &import)
        .await;
    assert_eq!(status, 201, "{answer}");
    let all = events(&got, 3).await;
    let auth: Vec<&Value> = all.iter().filter(|e| e["type"] == "auth").collect();
    assert_eq!(auth.len(), 3, "{all:?}");
    assert_eq!(auth[0]["operation"], "creation");
    assert_eq!(auth[0]["connectionId"], "hr");
    assert_eq!(auth[0]["endUser"]["endUserId"], "user-7");
    assert_eq!(auth[0]["success"], true);
    assert_eq!(auth[1]["operation"], "override");
    assert_eq!(auth[2]["operation"], "creation");
    assert_eq!(auth[2]["connectionId"], "imported");
    assert_eq!(auth[2]["endUser"]["endUserId"], "user-8");
    assert_eq!(auth[2]["tags"]["plan"], "pro");
    let ids: std::collections::BTreeSet<&str> = auth
        .iter()
        .map(|e| e["deliveryId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "each event its own delivery id");
    for event in &all {
        let raw = event["raw"].as_str().unwrap();
        for secret in [FakePersonio::CLIENT_SECRET, FakePersonio::API_KEY, SECRET] {
            assert!(!raw.contains(secret), "{raw}");
        }
    }
}

#[tokio::test]
async fn a_refused_refresh_is_told_once_sqlite() {
    refused_refresh(Kind::File).await;
}

#[tokio::test]
async fn a_refused_refresh_is_told_once_postgres() {
    refused_refresh(Kind::Postgres).await;
}

/// The mark and its event commit together, on both databases.
async fn refused_refresh(kind: Kind) {
    let oauth = FakeOAuth::start().await;
    let (url, got) = receiver().await;
    let Some(server) = TestServer::start(
        Options::new(&oauth.origin)
            .on(kind)
            .with_catalog(fake_oauth::CATALOG)
            .config(with_webhooks(url)),
    )
    .await
    else {
        return;
    };
    let import = json!({
        "connection_id": "dead",
        "provider_config_key": "acme",
        "connection_config": {"tenant": "acme", "instance_url": "https://api.acme.example"},
        "tokens": {"access_token": "at-old", "refresh_token": "rt-unknown", "expires_at": "2001-01-01T00:00:00Z"},
        "oauth_client": {"client_id": fake_oauth::CLIENT_ID, "client_secret": fake_oauth::CLIENT_SECRET},
        "end_user": {"id": "user-9"},
    });
    let (status, body) = server
        .post("/connections", &server.admin_key, &import)
        .await;
    assert_eq!(status, 201, "{body}");
    for _ in 0..3 {
        let (status, body) = server
            .get(
                "/connections/dead?include_credentials=true",
                &server.admin_key,
            )
            .await;
        assert_eq!(status, 409, "{body}");
    }
    let (status, _) = server
        .send(
            reqwest::Method::GET,
            "/proxy/api/me",
            &server.admin_key,
            None,
            &[("connection-id", "dead")],
        )
        .await;
    assert!(status >= 400);
    let all = events(&got, 2).await;
    // A moment for a wrong second event to arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = {
        let later = got.lock().unwrap().clone();
        assert_eq!(later.len(), all.len(), "{later:?}");
        later
    };
    let refresh: Vec<&Value> = all.iter().filter(|e| e["operation"] == "refresh").collect();
    assert_eq!(refresh.len(), 1, "{all:?}");
    let event = refresh[0];
    assert_eq!(event["success"], false);
    assert_eq!(event["connectionId"], "dead");
    assert_eq!(event["endUser"]["endUserId"], "user-9");
    assert_eq!(event["error"]["type"], "reauthorization_required");
    let raw = event["raw"].as_str().unwrap();
    assert!(
        !raw.contains("rt-unknown") && !raw.contains(fake_oauth::CLIENT_SECRET),
        "{raw}"
    );
    assert_eq!(
        oauth
            .fake
            .refreshes
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}
