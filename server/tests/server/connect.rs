//! Connect sessions and connecting: the seed's two calls over HTTP (`POST
//! /auth/personio-recruiting` with exactly its params and credentials, `POST /auth/personio`
//! with client credentials), every problem at once, and OAuth through a session, its
//! callback finished by another replica.

use serde_json::{Value, json};
use terapi_test_support::db::Kind;
use terapi_test_support::fake_oauth::{self, FakeOAuth};
use terapi_test_support::fake_personio::FakePersonio;

use crate::support::{Options, TestServer};

/// The seed's call: `terapi.auth('personio-recruiting', 'test-connection-id', {params, credentials})`.
fn seed_body() -> Value {
    json!({
        "connection_id": "test-connection-id",
        "params": {"companyId": "33434", "partnerId": "YOUR_CUSTOM_NAME", "appId": "UNIQUE_ID", "company": "company-b"},
        "credentials": {"apiKey": "<secure-key>"},
    })
}

#[tokio::test]
async fn the_seeds_recruiting_call_connects_and_records_the_end_user() {
    let fake = FakePersonio::start().await;
    let server = TestServer::start(Options::new(&fake.origin()))
        .await
        .unwrap();
    let token = server.session("user-1", &["personio-recruiting"]).await;
    let (status, body) = server
        .post("/auth/personio-recruiting", &token, &seed_body())
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body,
        json!({"data": {"provider_config_key": "personio-recruiting", "connection_id": "test-connection-id"}})
    );
    let meta = server
        .server
        .store()
        .connection_meta("test-connection-id")
        .await
        .unwrap();
    assert_eq!(meta.end_user.unwrap().id, "user-1");
    // The secret never comes back in any answer, and the stored record has it.
    assert!(!body.to_string().contains("secure-key"));
    let stored = server
        .server
        .store()
        .connection("test-connection-id")
        .await
        .unwrap();
    assert_eq!(stored.record.credentials["apiKey"], "<secure-key>");
}

#[tokio::test]
async fn every_problem_of_params_and_credentials_at_once_and_nothing_is_sent() {
    let fake = FakePersonio::start().await;
    let server = TestServer::start(Options::new(&fake.origin()))
        .await
        .unwrap();
    let token = server.session("user-1", &[]).await;
    let before = fake.requests().len();
    let body = json!({
        "params": {"companyId": "33a", "partnerId": "your-custom-name", "appId": "unique id", "company": "company b"},
        "credentials": {},
    });
    let (status, body) = server
        .post("/auth/personio-recruiting", &token, &body)
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_params");
    let fields = body["error"]["fields"].as_array().unwrap();
    let named: Vec<(&str, &str)> = fields
        .iter()
        .map(|f| (f["section"].as_str().unwrap(), f["param"].as_str().unwrap()))
        .collect();
    for expected in [
        ("params", "companyId"),
        ("params", "company"),
        ("params", "partnerId"),
        ("params", "appId"),
        ("credentials", "apiKey"),
    ] {
        assert!(named.contains(&expected), "{expected:?} in {named:?}");
    }
    let partner = fields.iter().find(|f| f["param"] == "partnerId").unwrap();
    let message = partner["message"].as_str().unwrap();
    assert!(message.contains("is not UPPER_SNAKE_CASE"), "{message}");
    assert!(message.contains("e.g. MY_APPLICATION"), "{message}");
    let company = fields.iter().find(|f| f["param"] == "companyId").unwrap();
    assert!(
        company["message"].as_str().unwrap().contains("pattern"),
        "{company}"
    );
    assert_eq!(fake.requests().len(), before, "nothing was sent");
    assert!(server.server.store().list().await.unwrap().is_empty());
}

#[tokio::test]
async fn personio_with_client_credentials_verifies_and_keeps_the_token() {
    let fake = FakePersonio::start().await;
    let server = TestServer::start(Options::new(&fake.origin()))
        .await
        .unwrap();
    let token = server.session("user-2", &["personio"]).await;
    let good = json!({
        "params": {"partnerId": "ACME", "appId": "MY_APP"},
        "credentials": {"client_id": FakePersonio::CLIENT_ID, "client_secret": FakePersonio::CLIENT_SECRET},
    });
    let (status, body) = server.post("/auth/personio", &token, &good).await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["connection_id"].as_str().unwrap().to_owned();
    assert!(!id.is_empty());
    // The verification's token request carries the partner and app headers, as every
    // request to Personio does; a connection without them sends neither header.
    let tokens = fake.requests_to("/v1/auth");
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0].header("x-personio-partner-id"), Some("ACME"));
    assert_eq!(tokens[0].header("x-personio-app-id"), Some("MY_APP"));
    let bare = json!({
        "credentials": {"client_id": FakePersonio::CLIENT_ID, "client_secret": FakePersonio::CLIENT_SECRET},
    });
    let (status, body) = server.post("/auth/personio", &token, &bare).await;
    assert_eq!(status, 201, "{body}");
    let last = fake.requests_to("/v1/auth").pop().unwrap();
    assert_eq!(last.header("x-personio-partner-id"), None, "{last:?}");
    assert_eq!(last.header("x-personio-app-id"), None, "{last:?}");
    let bad_secret = json!({
        "params": {"partnerId": "ACME", "appId": "MY_APP"},
        "credentials": {"client_id": FakePersonio::CLIENT_ID, "client_secret": "wrong"},
    });
    let (status, body) = server.post("/auth/personio", &token, &bad_secret).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_credentials");
    assert!(!body.to_string().contains("wrong\""), "{body}");
    // The UPPER_SNAKE_CASE rule is explained.
    let lower = json!({
        "params": {"partnerId": "acme", "appId": "MY_APP"},
        "credentials": {"client_id": FakePersonio::CLIENT_ID, "client_secret": FakePersonio::CLIENT_SECRET},
    });
    let (status, body) = server.post("/auth/personio", &token, &lower).await;
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["fields"][0]["message"].as_str().unwrap();
    assert!(message.contains("UPPER_SNAKE_CASE"), "{message}");
}

#[tokio::test]
async fn sessions_are_for_end_user_routes_only_and_limited_to_their_providers() {
    let fake = FakePersonio::start().await;
    let server = TestServer::start(Options::new(&fake.origin()))
        .await
        .unwrap();
    let token = server.session("user-3", &["personio"]).await;
    // A session token where a key is needed.
    let (status, body) = server
        .post(
            "/connect/sessions",
            &token,
            &json!({"end_user": {"id": "x"}}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    // A key where a session is needed.
    let (status, _) = server
        .post("/auth/personio-recruiting", &server.admin_key, &seed_body())
        .await;
    assert_eq!(status, 403);
    // Outside the session's providers.
    let (status, body) = server
        .post("/auth/personio-recruiting", &token, &seed_body())
        .await;
    assert_eq!(status, 403, "{body}");
    // No token, a wrong one.
    assert_eq!(server.post("/auth/personio", "", &json!({})).await.0, 401);
    assert_eq!(
        server
            .post("/auth/personio", "tcs_not-a-session", &json!({}))
            .await
            .0,
        401
    );
    // A key without connections:write cannot create sessions.
    let reader = server.key(&["connections:read"]).await;
    let (status, _) = server
        .post(
            "/connect/sessions",
            &reader,
            &json!({"end_user": {"id": "x"}}),
        )
        .await;
    assert_eq!(status, 403);
    // Sessions are validated: every problem at once.
    let (status, body) = server
        .post(
            "/connect/sessions",
            &server.admin_key,
            &json!({"end_user": {"id": " ", "email": "a\u{7}b"}, "allowed_integrations": ["nope"]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"]["fields"].as_array().unwrap().len(),
        3,
        "{body}"
    );
    // Another end user cannot take over a connection by its id.
    let (status, body) = server
        .post(
            "/auth/personio",
            &token,
            &json!({
                "connection_id": "shared-id",
                "params": {},
                "credentials": {"client_id": FakePersonio::CLIENT_ID, "client_secret": FakePersonio::CLIENT_SECRET},
            }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let other = server.session("user-4", &[]).await;
    let (status, body) = server
        .post(
            "/auth/personio",
            &other,
            &json!({
                "connection_id": "shared-id",
                "params": {},
                "credentials": {"client_id": FakePersonio::CLIENT_ID, "client_secret": FakePersonio::CLIENT_SECRET},
            }),
        )
        .await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let fake = FakePersonio::start().await;
    let server = TestServer::start(
        Options::new(&fake.origin())
            .config(|c| c.session_ttl = std::time::Duration::from_millis(300)),
    )
    .await
    .unwrap();
    let token = server.session("user-5", &[]).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let (status, body) = server
        .post("/auth/personio-recruiting", &token, &seed_body())
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "invalid_session");
}

async fn oauth_replicas(kind: Kind) {
    let oauth = FakeOAuth::start().await;
    let origin = "https://app.example.com";
    let configure = move |c: &mut terapi_server::ServerConfig| {
        c.connect_origins = vec![origin.to_owned()];
        crate::support::acme_oauth_app(c);
    };
    let Some(first) = TestServer::start(
        Options::new(&oauth.origin)
            .on(kind)
            .with_catalog(fake_oauth::CATALOG)
            .config(configure),
    )
    .await
    else {
        return;
    };
    let token = first.session("user-oauth", &["acme"]).await;
    // The browser opens the connect URL on the first replica ...
    let client = terapi_test_support::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let start = format!(
        "{}/oauth/connect/acme?session_token={token}&connection_id=oauth-1&origin={origin}&params={}",
        first.url,
        url_escape(&json!({"tenant": "tenant"}).to_string())
    );
    let response = client.get(&start).send().await.unwrap();
    assert_eq!(response.status(), 303, "{:?}", response.text().await);
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    let authorize = response.headers()["location"].to_str().unwrap().to_owned();
    // ... the provider sends it back with a code ...
    let callback = terapi_test_support::loopback::follow(&authorize).await;
    assert!(
        callback.starts_with(&format!("{}/oauth/callback?", first.url)),
        "{callback}"
    );
    // ... and a second replica over the same store (behind the same public URL) finishes
    // the flow.
    let public = url::Url::parse(&first.url).unwrap();
    let second = TestServer::start(
        Options::new(&oauth.origin)
            .replica_of(&first.db_url)
            .with_catalog(fake_oauth::CATALOG)
            .config(move |c| {
                configure(c);
                c.public_url = public;
            }),
    )
    .await
    .unwrap();
    let query = callback.split_once('?').unwrap().1;
    let response = client
        .get(format!("{}/oauth/callback?{query}", second.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let page = response.text().await.unwrap();
    assert!(page.contains("\"connection_id\":\"oauth-1\""), "{page}");
    assert!(
        page.contains(&format!("\"origins\":[\"{origin}\"]")),
        "{page}"
    );
    assert!(!page.contains("'*'") && !page.contains("\"*\""), "{page}");
    let meta = first
        .server
        .store()
        .connection_meta("oauth-1")
        .await
        .unwrap();
    assert_eq!(meta.end_user.unwrap().id, "user-oauth");
    assert_eq!(
        oauth
            .fake
            .exchanges
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    // The same callback again: the flow was used once.
    let again = client
        .get(format!("{}/oauth/callback?{query}", first.url))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    let page = again.text().await.unwrap();
    assert!(page.contains("\"type\":\"error\""), "{page}");
    assert_eq!(
        oauth
            .fake
            .exchanges
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

fn url_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn oauth_callback_on_another_replica_sqlite_file() {
    oauth_replicas(Kind::File).await;
}

#[tokio::test]
async fn oauth_callback_on_another_replica_postgres() {
    oauth_replicas(Kind::Postgres).await;
}
