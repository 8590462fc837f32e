//! The modes whose token the client obtains with the connection's own credentials, against a
//! fake provider on loopback: TWO_STEP (the catalog's login request, its refresh request, a
//! login that sends a JWT the client signed) and JWT (a token the client signs itself, HS256
//! and RS256). Every signature is verified by the fake with other crates (`rsa`, `hmac`).

use terapi_test_support as support;
use terapi_test_support::db;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use serde_json::json;
use terapi_codegen::Options;
use terapi_runtime::client::{Connection, Error, Settings};
use terapi_runtime::spec::ProviderSpec;

use support::fake_tokens::{
    CATALOG, DEV_KEY, FINGERPRINT, FakeTokens, HMAC_KEY_ID, HMAC_SECRET_HEX, PASSWORD,
    PRIVATE_KEY_PEM, USERNAME,
};

/// An older-format catalog's APP_STORE entry (App Store Connect keys): its JWT is made by the
/// mode's own recipe.
const APP_STORE: &str = r#"
acme-app-store:
    display_name: Acme (App Store Connect keys)
    auth_mode: APP_STORE
    authorization_params:
        audience: appstoreconnect-v1
    token_url: https://api.acme.example/v1/apps
    proxy:
        base_url: https://api.acme.example
    docs: https://example.com/acme-app-store
"#;

fn provider(key: &str) -> Arc<ProviderSpec> {
    support::loopback::provider(CATALOG, key)
}

fn connect(fake: &FakeTokens, key: &str, credentials: serde_json::Value) -> Connection {
    Connection::from_json(
        provider(key),
        &json!({}),
        &credentials,
        Settings::new().origin(fake.origin.clone()),
    )
    .unwrap()
}

async fn me(conn: &Connection) -> Result<serde_json::Value, Error> {
    conn.get("/api/me").send().await?.json()
}

fn login(fake: &FakeTokens) -> Connection {
    connect(
        fake,
        "acme-login",
        json!({"username": USERNAME, "password": PASSWORD}),
    )
}

#[tokio::test]
async fn two_step_logs_in_as_the_catalog_says_and_renews_with_its_refresh_request() {
    let fake = FakeTokens::start().await;
    let conn = login(&fake);
    assert_eq!(
        me(&conn).await.unwrap()["via"],
        "x-auth",
        "`${{credentials.token}}` in a header"
    );
    me(&conn).await.unwrap();
    assert_eq!(
        fake.fake.logins.load(Ordering::SeqCst),
        1,
        "one login, cached"
    );
    let tokens = conn.tokens().unwrap();
    assert!(tokens.refresh_token().is_some());
    let left = tokens
        .expires_at()
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(
        left > Duration::from_secs(3590),
        "`expires: \"1h\"` read: {left:?}"
    );
    // A refused token: the refresh request, with the refresh token the login gave.
    fake.revoke();
    me(&conn).await.unwrap();
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(fake.fake.logins.load(Ordering::SeqCst), 1);
    assert_ne!(
        conn.tokens().unwrap().refresh_token(),
        tokens.refresh_token(),
        "rotated"
    );
    // The refresh token refused too: the credentials log in again.
    let other = login(&fake);
    me(&other).await.unwrap();
    fake.revoke();
    let second = login(&fake);
    me(&second).await.unwrap();
    assert_eq!(fake.fake.logins.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_refused_login_is_one_error_without_the_password() {
    let fake = FakeTokens::start().await;
    let conn = connect(
        &fake,
        "acme-login",
        json!({"username": USERNAME, "password": "wrong-password-77"}),
    );
    let err = me(&conn).await.unwrap_err();
    assert_eq!(err.to_string(), "token: POST /login: HTTP 401: bad login");
    assert!(!format!("{err:?}").contains("wrong-password-77"));
}

#[tokio::test]
async fn a_login_with_a_signed_jwt_is_verified_by_the_provider() {
    let fake = FakeTokens::start().await;
    let conn = connect(
        &fake,
        "acme-service-account",
        json!({"email": "robot@acme.example", "scopes": "read write", "privateKey": PRIVATE_KEY_PEM}),
    );
    assert_eq!(me(&conn).await.unwrap()["via"], "bearer");
    assert_eq!(fake.fake.assertions.load(Ordering::SeqCst), 1);
    let claims = fake.fake.claims.lock().unwrap()[0].clone();
    assert_eq!(claims["iss"], "robot@acme.example");
    assert_eq!(claims["scope"], "read write");
    let life = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(life, 3600, "`expires_in_ms: 3600000`");
    // A key pasted with literal `\n` (as JSON forms and env files carry it) signs the same.
    let pasted = PRIVATE_KEY_PEM.trim().replace('\n', "\\n");
    let conn = connect(
        &fake,
        "acme-service-account",
        json!({"email": "robot@acme.example", "scopes": "read", "privateKey": pasted}),
    );
    me(&conn).await.unwrap();
    // A key that is no key: one error, without the key.
    let conn = connect(
        &fake,
        "acme-service-account",
        json!({"email": "robot@acme.example", "scopes": "read", "privateKey": "not-a-key-secret-123"}),
    );
    let err = me(&conn).await.unwrap_err();
    assert!(err.to_string().starts_with("token: "), "{err}");
    assert!(!err.to_string().contains("not-a-key-secret-123"), "{err}");
}

#[tokio::test]
async fn a_jwt_signed_with_an_hmac_admin_key_is_reused_until_it_is_due() {
    let fake = FakeTokens::start().await;
    let key = format!("{HMAC_KEY_ID}:{HMAC_SECRET_HEX}");
    let conn = connect(&fake, "acme-ghost", json!({"adminKey": key}));
    for _ in 0..3 {
        assert_eq!(me(&conn).await.unwrap()["via"], "ghost-jwt");
    }
    assert_eq!(conn.token_requests(), 1, "signed once for three requests");
    let claims = fake.fake.claims.lock().unwrap()[0].clone();
    assert_eq!(claims["aud"], "/admin/");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );
    // Another secret: the fake refuses the signature.
    let conn = connect(
        &fake,
        "acme-ghost",
        json!({"adminKey": format!("{HMAC_KEY_ID}:00ff00ff")}),
    );
    let err = me(&conn).await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
}

#[tokio::test]
async fn a_key_pair_jwt_names_its_key_by_fingerprint() {
    assert_eq!(
        terapi_runtime::jwt::public_key_fingerprint(PRIVATE_KEY_PEM).unwrap(),
        FINGERPRINT,
        "the same as openssl's"
    );
    let fake = FakeTokens::start().await;
    let conn = connect(
        &fake,
        "acme-keypair",
        json!({"account": "ACME", "user": "ANN", "scope": "a, b,,c", "privateKey": PRIVATE_KEY_PEM}),
    );
    assert_eq!(me(&conn).await.unwrap()["via"], "bearer-jwt");
    let claims = fake.fake.claims.lock().unwrap()[0].clone();
    assert_eq!(claims["iss"], format!("ACME.ANN.{FINGERPRINT}"));
    assert_eq!(claims["sub"], "ACME.ANN");
    assert_eq!(claims["scope"], json!(["a", "b", "c"]));
    // Without the optional scope, the list claim is left out.
    let conn = connect(
        &fake,
        "acme-keypair",
        json!({"account": "ACME", "user": "ANN", "privateKey": PRIVATE_KEY_PEM}),
    );
    me(&conn).await.unwrap();
    let claims = fake.fake.claims.lock().unwrap()[1].clone();
    assert!(claims.get("scope").is_none(), "{claims}");
}

#[tokio::test]
async fn a_bill_session_goes_in_its_own_headers_and_is_renewed_by_logging_in_again() {
    let fake = FakeTokens::start().await;
    let credentials = json!({"username": USERNAME, "password": PASSWORD,
        "organization_id": "org-1", "dev_key": DEV_KEY});
    let conn = connect(&fake, "acme-bill", credentials);
    assert_eq!(me(&conn).await.unwrap()["via"], "bill-session");
    let left = conn
        .tokens()
        .unwrap()
        .expires_at()
        .map(|at| at.duration_since(SystemTime::now()).unwrap_or_default());
    let left = left.expect("a session's lifetime");
    assert!(
        left > Duration::from_secs(2090) && left <= Duration::from_secs(2100),
        "a Bill session lasts 35 minutes: {left:?}"
    );
    fake.revoke();
    assert_eq!(me(&conn).await.unwrap()["via"], "bill-session");
    assert_eq!(fake.fake.logins.load(Ordering::SeqCst), 2);
    // Every credential the mode needs is asked for, at once.
    let err = Connection::from_json(
        provider("acme-bill"),
        &json!({}),
        &json!({}),
        Settings::new(),
    )
    .unwrap_err();
    for key in ["username", "password", "organization_id", "dev_key"] {
        assert!(err.to_string().contains(key), "{err}");
    }
}

#[tokio::test]
async fn an_app_store_key_signs_an_es256_jwt_by_the_modes_recipe() {
    let fake = FakeTokens::start().await;
    let loaded = terapi_codegen::load(
        std::path::Path::new("old.yaml"),
        APP_STORE,
        &Options::default(),
    )
    .expect("loads");
    let spec = Arc::new(loaded.get("acme-app-store").unwrap().clone());
    let conn = Connection::from_json(
        spec,
        &json!({}),
        &json!({"issuerId": "issuer-1", "privateKeyId": "KEY123", "privateKey": support::fake_tokens::EC_PRIVATE_KEY_PEM}),
        Settings::new().origin(fake.origin.clone()),
    )
    .unwrap();
    assert_eq!(me(&conn).await.unwrap()["via"], "bearer-jwt");
    let claims = fake.fake.claims.lock().unwrap()[0].clone();
    assert_eq!(claims["iss"], "issuer-1");
    assert_eq!(claims["aud"], "appstoreconnect-v1");
    assert_eq!(claims["kid"], "KEY123", "the key id in the header");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        900,
        "at most 20 minutes, as App Store Connect takes"
    );
}

#[tokio::test]
async fn a_chain_of_token_requests_reads_each_response_into_the_next() {
    let fake = FakeTokens::start().await;
    let conn = connect(
        &fake,
        "acme-chain",
        json!({"username": USERNAME, "password": PASSWORD}),
    );
    assert_eq!(me(&conn).await.unwrap()["via"], "bearer");
    assert_eq!(fake.fake.logins.load(Ordering::SeqCst), 1);
    let left = conn
        .tokens()
        .unwrap()
        .expires_at()
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(
        left > Duration::from_secs(3590),
        "the last response's lifetime"
    );
    // A step URL with user info is refused before anything is sent to it.
    let conn = connect(&fake, "acme-chain-userinfo", json!({}));
    let err = me(&conn).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "token: step 2 of the token request: its URL needs a host and no user info"
    );
}

/// Three stores opened on one database (three processes' worth) use the connection `id` of
/// `key` one after the other: the token obtained from the credentials is kept, sealed, and
/// reused. Then its stored copy expires and four stores with five concurrent requests each
/// renew it once. `requests` counts the token requests at the fake.
async fn shared_through_a_store(
    kind: db::Kind,
    key: &str,
    credentials: serde_json::Value,
    requests: impl Fn(&FakeTokens) -> u64,
) {
    let Some(db) = db::db(kind).await else {
        return;
    };
    let fake = FakeTokens::start().await;
    let keys = || terapi_store::Keys::new("test", &[7; 32]).unwrap();
    let open = || async {
        terapi_store::Store::open(&db.url, keys())
            .await
            .unwrap()
            .with_catalog(terapi_store::Specs::from_iter([provider(key)]))
    };
    let settings = Settings::new().origin(fake.origin.clone());
    let id = format!("{key}-1");
    let record = terapi_store::ConnectionRecord::new(key, json!({}), credentials);
    open().await.save_connection(&id, &record).await.unwrap();
    for _ in 0..3 {
        let store = open().await;
        let conn = store.connect(&id, settings.clone()).await.unwrap();
        me(&conn).await.unwrap();
    }
    assert_eq!(requests(&fake), 1, "{key} on {kind:?}: one token request");
    let store = open().await;
    let mut record = store.connection(&id).await.unwrap().record;
    let token = record.tokens.take().expect("the token is kept");
    let bytes = db::dump(&db).await;
    assert!(
        !db::contains(&bytes, token.access_token().expose()),
        "{key} on {kind:?}: sealed at rest"
    );
    // The stored token expires: concurrent users renew it once.
    record.tokens = Some(token.with_expires_at(SystemTime::now() - Duration::from_secs(5)));
    store.save_connection(&id, &record).await.unwrap();
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(open().await.connect(&id, settings.clone()).await.unwrap());
    }
    let calls = conns.iter().flat_map(|c| (0..5).map(move |_| me(c)));
    for r in futures_util::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(requests(&fake), 2, "{key} on {kind:?}: renewed once");
}

async fn every_mode_shared_through_a_store(kind: db::Kind) {
    shared_through_a_store(
        kind,
        "acme-login",
        json!({"username": USERNAME, "password": PASSWORD}),
        |f| f.fake.logins.load(Ordering::SeqCst) + f.fake.refreshes.load(Ordering::SeqCst),
    )
    .await;
    shared_through_a_store(
        kind,
        "acme-service-account",
        json!({"email": "robot@acme.example", "scopes": "read", "privateKey": PRIVATE_KEY_PEM}),
        |f| f.fake.assertions.load(Ordering::SeqCst),
    )
    .await;
    shared_through_a_store(
        kind,
        "acme-bill",
        json!({"username": USERNAME, "password": PASSWORD,
            "organization_id": "org-1", "dev_key": DEV_KEY}),
        |f| f.fake.logins.load(Ordering::SeqCst),
    )
    .await;
}

#[tokio::test]
async fn obtained_tokens_outlive_their_process_on_a_sqlite_file() {
    every_mode_shared_through_a_store(db::Kind::File).await;
}

#[tokio::test]
async fn obtained_tokens_outlive_their_process_on_postgres() {
    every_mode_shared_through_a_store(db::Kind::Postgres).await;
}
