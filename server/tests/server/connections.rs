//! `/connections`: import, read with fresh credentials, list, update, delete; the scopes.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use terapi_test_support::fake_oauth::{self, FakeOAuth};
use terapi_test_support::fake_personio::FakePersonio;

use crate::live_support::{self as support, Running};

async fn personio() -> (FakePersonio, Running) {
    let fake = FakePersonio::start().await;
    let store = support::store("sqlite::memory:").await;
    let running = support::start(store, &fake.origin(), |_| {}).await;
    (fake, running)
}

fn import_body(id: &str) -> Value {
    json!({
        "connection_id": id,
        "provider_config_key": "personio",
        "connection_config": {"partnerId": "ACME", "appId": "MY_APP"},
        "credentials": {"client_id": FakePersonio::CLIENT_ID, "client_secret": FakePersonio::CLIENT_SECRET},
        "end_user": {"id": "user-1", "email": "a@example.com", "display_name": null},
        "tags": {"team": "hr"},
        "metadata": {"plan": "pro"},
    })
}

async fn post(r: &Running, key: &str, body: &Value) -> (u16, Value) {
    let res = support::client()
        .post(format!("{}/connections", r.url))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn get(r: &Running, key: &str, path: &str) -> (u16, Value, String) {
    let res = support::client()
        .get(format!("{}{path}", r.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_personio_connection_reads_with_a_fresh_token() {
    let (fake, r) = personio().await;
    let key = support::key(
        &r.store,
        &["connections:read", "connections:write", "credentials:read"],
    )
    .await;
    let (status, body) = post(&r, &key, &import_body("acme-hr")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["connection_id"], "acme-hr");
    assert_eq!(body["provider_config_key"], "personio");
    // Importing verifies nothing and asks for no token.
    assert_eq!(fake.token_requests_v1(), 0);

    // Without credentials: the config, no secret anywhere.
    let (status, body, text) = get(&r, &key, "/connections/acme-hr").await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        body["connection_config"],
        json!({"partnerId": "ACME", "appId": "MY_APP"})
    );
    assert_eq!(body["auth_mode"], "OAUTH2_CC");
    assert!(body.get("credentials").is_none(), "{text}");
    assert!(!text.contains(FakePersonio::CLIENT_SECRET), "{text}");
    assert_eq!(body["errors"], json!([]));
    assert!(
        body["created_at"].as_str().unwrap().ends_with('Z'),
        "{text}"
    );
    assert_eq!(fake.token_requests_v1(), 0);

    // With credentials: a token obtained once, then the same one while it is fresh.
    let (status, body, text) = get(&r, &key, "/connections/acme-hr?include_credentials=true").await;
    assert_eq!(status, 200, "{text}");
    let creds = &body["credentials"];
    assert_eq!(creds["type"], "OAUTH2_CC");
    let first = creds["access_token"].as_str().unwrap().to_owned();
    assert!(!first.is_empty());
    assert!(creds["expires_at"].as_str().is_some(), "{text}");
    assert!(creds.get("refresh_token").is_none(), "{text}");
    assert_eq!(fake.token_requests_v1(), 1);
    let (_, body, _) = get(&r, &key, "/connections/acme-hr?include_credentials=true").await;
    assert_eq!(body["credentials"]["access_token"], first.as_str());
    assert_eq!(fake.token_requests_v1(), 1);

    // force_refresh: exactly one more token request, and the new token.
    let (status, body, text) = get(
        &r,
        &key,
        "/connections/acme-hr?include_credentials=true&force_refresh=true",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let second = body["credentials"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second, first);
    assert_eq!(fake.token_requests_v1(), 2);
    // The renewed token is the one requests use now (the proxy shares the connection).
    let res = support::client()
        .get(format!("{}/proxy/company/employees", r.url))
        .bearer_auth(support::key(&r.store, &["proxy"]).await)
        .header("Connection-Id", "acme-hr")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(fake.token_requests_v1(), 2);
    let sent = fake
        .requests()
        .into_iter()
        .rfind(|q| q.path == "/v1/company/employees")
        .unwrap();
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {second}").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_need_their_own_scope() {
    let (fake, r) = personio().await;
    let admin = support::key(&r.store, &["admin"]).await;
    assert_eq!(post(&r, &admin, &import_body("c1")).await.0, 201);
    let reader = support::key(&r.store, &["connections:read"]).await;
    for q in [
        "include_credentials=true",
        "force_refresh=true",
        "include_refresh_token=true",
    ] {
        let (status, body, _) = get(&r, &reader, &format!("/connections/c1?{q}")).await;
        assert_eq!(status, 403, "{q}: {:.300}", body.to_string());
        assert_eq!(body["error"]["code"], "forbidden");
    }
    assert_eq!(get(&r, &reader, "/connections/c1").await.0, 200);
    let (status, _, _) = get(&r, &reader, "/connections/c1?include_credentials=maybe").await;
    assert_eq!(status, 400);
    assert_eq!(fake.token_requests_v1(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_names_every_problem_at_once() {
    let (_fake, r) = personio().await;
    let key = support::key(&r.store, &["connections:write", "connections:read"]).await;
    let (status, body) = post(
        &r,
        &key,
        &json!({
            "connection_id": "bad",
            "provider_config_key": "personio",
            "connection_config": {"partnerId": "YOUR-CUSTOM-NAME", "appId": "MY_APP", "extra": "x"},
            "credentials": {"client_id": "id"},
        }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_params");
    let fields = body["error"]["fields"].as_array().unwrap();
    let has = |section: &str, param: &str| {
        fields
            .iter()
            .any(|f| f["section"] == section && f["param"] == param)
    };
    assert!(has("connection_config", "partnerId"), "{body}");
    assert!(has("connection_config", "extra"), "{body}");
    assert!(has("credentials", "client_secret"), "{body}");
    let partner = fields.iter().find(|f| f["param"] == "partnerId").unwrap();
    assert!(
        partner["message"]
            .as_str()
            .unwrap()
            .contains("UPPER_SNAKE_CASE"),
        "{body}"
    );
    // Nothing saved.
    assert_eq!(get(&r, &key, "/connections/bad").await.0, 404);

    // An unknown provider, a bad id, bad JSON, an unknown field.
    let (status, body) = post(
        &r,
        &key,
        &json!({"connection_id": "x", "provider_config_key": "nope"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["fields"][0]["param"], "provider_config_key");
    let mut bad_id = import_body("has space");
    bad_id["connection_id"] = json!("has space");
    assert_eq!(post(&r, &key, &bad_id).await.0, 400);
    let res = support::client()
        .post(format!("{}/connections", r.url))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{\"connection_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let mut unknown = import_body("u");
    unknown["surprise"] = json!(1);
    let (status, body) = post(&r, &key, &unknown).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_body");

    // A second import of one id: 409, the first one kept.
    assert_eq!(post(&r, &key, &import_body("twice")).await.0, 201);
    let mut other = import_body("twice");
    other["connection_config"]["partnerId"] = json!("OTHER");
    let (status, body) = post(&r, &key, &other).await;
    assert_eq!(status, 409, "{body}");
    let (_, body, _) = get(&r, &key, "/connections/twice").await;
    assert_eq!(body["connection_config"]["partnerId"], "ACME");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_listed_in_pages_updated_and_deleted() {
    let (_fake, r) = personio().await;
    let key = support::key(&r.store, &["connections:write", "connections:read"]).await;
    for id in ["c-a", "c-b", "c-c"] {
        let mut body = import_body(id);
        if id == "c-b" {
            body["tags"] = json!({"team": "sales"});
            body["end_user"] = json!({"id": "user-2"});
        }
        assert_eq!(post(&r, &key, &body).await.0, 201);
    }
    let (status, page, text) = get(&r, &key, "/connections?limit=2").await;
    assert_eq!(status, 200, "{text}");
    let ids: Vec<&str> = page["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["connection_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c-a", "c-b"]);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, page, _) = get(&r, &key, &format!("/connections?limit=2&cursor={cursor}")).await;
    assert_eq!(page["connections"].as_array().unwrap().len(), 1);
    assert_eq!(page["connections"][0]["connection_id"], "c-c");
    assert_eq!(page["next_cursor"], Value::Null);
    assert_eq!(page["connections"][0]["tags"], json!({"team": "hr"}));
    assert_eq!(page["connections"][0]["metadata"], json!({"plan": "pro"}));
    // Filters.
    let (_, page, _) = get(&r, &key, "/connections?tag=team:sales").await;
    assert_eq!(page["connections"].as_array().unwrap().len(), 1, "{page}");
    let (_, page, _) = get(&r, &key, "/connections?end_user_id=user-2").await;
    assert_eq!(page["connections"][0]["connection_id"], "c-b", "{page}");
    let (_, page, _) = get(&r, &key, "/connections?provider=acme").await;
    assert_eq!(page["connections"], json!([]));
    for bad in ["limit=0", "limit=100000", "limit=x", "tag=novalue"] {
        assert_eq!(
            get(&r, &key, &format!("/connections?{bad}")).await.0,
            400,
            "{bad}"
        );
    }

    // PATCH: metadata merged (null removes), tags and end user replaced.
    let res = support::client()
        .patch(format!("{}/connections/c-a", r.url))
        .bearer_auth(&key)
        .json(&json!({"metadata": {"plan": null, "seats": 5}, "tags": {"team": "ops"}, "end_user": {"id": "user-9"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let (_, body, _) = get(&r, &key, "/connections/c-a").await;
    assert_eq!(body["metadata"], json!({"seats": 5}));
    assert_eq!(body["tags"], json!({"team": "ops"}));
    assert_eq!(body["end_user"]["id"], "user-9");
    let res = support::client()
        .patch(format!("{}/connections/nope", r.url))
        .bearer_auth(&key)
        .json(&json!({"tags": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);

    // What the store refuses: 422, and an import refused whole.
    let many: serde_json::Map<String, Value> =
        (0..100).map(|i| (format!("t{i}"), json!("v"))).collect();
    let res = support::client()
        .patch(format!("{}/connections/c-a", r.url))
        .bearer_auth(&key)
        .json(&json!({"tags": many}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let mut body = import_body("too-many-tags");
    body["tags"] = Value::Object(many);
    let (status, body) = post(&r, &key, &body).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_metadata");
    assert_eq!(get(&r, &key, "/connections/too-many-tags").await.0, 404);

    // DELETE: 204, then 404.
    let delete = || {
        support::client()
            .delete(format!("{}/connections/c-a", r.url))
            .bearer_auth(&key)
            .send()
    };
    assert_eq!(delete().await.unwrap().status().as_u16(), 204);
    assert_eq!(delete().await.unwrap().status().as_u16(), 404);
    assert_eq!(get(&r, &key, "/connections/c-a").await.0, 404);
}

/// A connection whose refresh token the provider refuses: `reauthorization_required`, as
/// an error of the connection and as a 409 for its credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_grant_says_reauthorization_required() {
    let fake = FakeOAuth::start().await;
    let store = support::store("sqlite::memory:").await;
    let r = support::start(store, &fake.origin, |_| {}).await;
    let key = support::key(&r.store, &["admin"]).await;
    let (status, body) = post(
        &r,
        &key,
        &json!({
            "connection_id": "dead",
            "provider_config_key": "acme",
            "connection_config": {"tenant": "acme", "instance_url": "https://api.acme.example"},
            "tokens": {"access_token": "at-old", "refresh_token": "rt-unknown", "expires_at": "2001-01-01T00:00:00Z"},
            "oauth_client": {"client_id": fake_oauth::CLIENT_ID, "client_secret": fake_oauth::CLIENT_SECRET},
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body, text) = get(&r, &key, "/connections/dead?include_credentials=true").await;
    assert_eq!(status, 409, "{text}");
    assert_eq!(body["error"]["code"], "reauthorization_required");
    assert!(
        !text.contains("rt-unknown") && !text.contains(fake_oauth::CLIENT_SECRET),
        "{text}"
    );
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 1);
    let (status, body, _) = get(&r, &key, "/connections/dead").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["errors"][0]["type"], "reauthorization_required",
        "{body}"
    );
    // Asked again: no other refresh.
    assert_eq!(
        get(&r, &key, "/connections/dead?include_credentials=true")
            .await
            .0,
        409
    );
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 1);

    // A live one: its refresh token only when asked for.
    let (access, refresh) = fake.issue();
    let (status, _) = post(
        &r,
        &key,
        &json!({
            "connection_id": "live",
            "provider_config_key": "acme",
            "connection_config": {"tenant": "acme", "instance_url": "https://api.acme.example"},
            "tokens": {"access_token": access, "refresh_token": refresh, "expires_at": 4_102_444_800u64},
            "oauth_client": {"client_id": fake_oauth::CLIENT_ID, "client_secret": fake_oauth::CLIENT_SECRET},
        }),
    )
    .await;
    assert_eq!(status, 201);
    let (_, body, text) = get(&r, &key, "/connections/live?include_credentials=true").await;
    assert_eq!(
        body["credentials"]["access_token"],
        access.as_str(),
        "{text}"
    );
    assert!(!text.contains(&refresh), "{text}");
    assert!(!text.contains(fake_oauth::CLIENT_SECRET), "{text}");
    let (_, body, _) = get(
        &r,
        &key,
        "/connections/live?include_credentials=true&include_refresh_token=true",
    )
    .await;
    assert_eq!(body["credentials"]["refresh_token"], refresh.as_str());
    // The year 2100, as the client takes it: at most a year from now.
    assert!(
        body["credentials"]["expires_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 1);
    // force_refresh renews through the store: one refresh, a new token.
    let (_, body, _) = get(
        &r,
        &key,
        "/connections/live?include_credentials=true&force_refresh=true",
    )
    .await;
    assert_ne!(body["credentials"]["access_token"], access.as_str());
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 2);

    // Granted without a refresh token: force_refresh answers the token it has (nothing to
    // renew with), and the connection stays usable.
    let (access, _) = fake.issue();
    let (status, _) = post(
        &r,
        &key,
        &json!({
            "connection_id": "no-refresh",
            "provider_config_key": "acme",
            "connection_config": {"tenant": "acme", "instance_url": "https://api.acme.example"},
            "tokens": {"access_token": access, "expires_at": 4_102_444_800u64},
            "oauth_client": {"client_id": fake_oauth::CLIENT_ID, "client_secret": fake_oauth::CLIENT_SECRET},
        }),
    )
    .await;
    assert_eq!(status, 201);
    for _ in 0..2 {
        let (status, body, text) = get(
            &r,
            &key,
            "/connections/no-refresh?include_credentials=true&force_refresh=true",
        )
        .await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(body["credentials"]["access_token"], access.as_str());
    }
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 2);
}

/// Every route of the connections and the proxy: no key, a wrong key, a session token, a key
/// without the scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_checks_the_key_and_its_scope() {
    let (fake, r) = personio().await;
    let admin = support::key(&r.store, &["admin"]).await;
    assert_eq!(post(&r, &admin, &import_body("c1")).await.0, 201);
    let session = support::session(&r.store).await;
    let none = support::key(&r.store, &["records"]).await;
    let routes: [(&str, &str, &str); 7] = [
        ("GET", "/proxy/company/employees", "proxy"),
        ("POST", "/proxy/company/employees", "proxy"),
        ("GET", "/connections", "connections:read"),
        ("GET", "/connections/c1", "connections:read"),
        ("POST", "/connections", "connections:write"),
        ("PATCH", "/connections/c1", "connections:write"),
        ("DELETE", "/connections/c1", "connections:write"),
    ];
    let client = support::client();
    for (method, path, scope) in routes {
        let send = |auth: Option<String>| {
            let mut req = client
                .request(method.parse().unwrap(), format!("{}{path}", r.url))
                .header("Connection-Id", "c1")
                .header("content-type", "application/json")
                .body("{}");
            if let Some(auth) = auth {
                req = req.header("authorization", auth);
            }
            req.send()
        };
        let cases = [
            (None, 401),
            (Some("Bearer tk_nope_nope".to_owned()), 401),
            (Some("Bearer garbage".to_owned()), 401),
            (Some(format!("Bearer {session}")), 403),
            (Some(format!("Bearer {none}")), 403),
        ];
        for (auth, expected) in cases {
            let res = send(auth.clone()).await.unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert_eq!(
                status,
                expected,
                "{method} {path} with {auth:?}: {:.300}",
                body.to_string()
            );
            assert!(body["error"]["code"].is_string(), "{body}");
        }
        // The scope itself lets it through (whatever the route answers then).
        let scoped = support::key(&r.store, &[scope]).await;
        let status = send(Some(format!("Bearer {scoped}")))
            .await
            .unwrap()
            .status()
            .as_u16();
        assert!(
            status != 401 && status != 403,
            "{method} {path} with {scope}: {status}"
        );
    }
    assert_eq!(
        fake.count("/v1/company"),
        2,
        "only the scoped proxy requests went out"
    );
}
