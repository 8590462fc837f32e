//! The OAuth 2.0 authorization code flow against a fake provider on loopback: the
//! authorization URL (state, PKCE S256, scopes, the catalog's params), the callback (state,
//! expiry, refusals), the code exchange (the fake checks the PKCE verifier), tokens that
//! survive a restart, refresh tokens that rotate (the sink has them before they are used), a
//! reused refresh token as a typed error, and one refresh for 100 concurrent requests.

use terapi_test_support as support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::json;
use terapi_runtime::client::{
    AuthorizationRequest, CallbackError, Connection, Error, OAuthClient, PendingAuthorization,
    Settings, TokenSet, authorize_json,
};
use terapi_runtime::spec::ProviderSpec;

use support::fake_oauth::{CATALOG, CC_CATALOG, CLIENT_ID, CLIENT_SECRET, FakeOAuth};

fn spec() -> Arc<ProviderSpec> {
    provider("acme")
}

fn provider(key: &str) -> Arc<ProviderSpec> {
    support::loopback::provider(CATALOG, key)
}

fn client() -> OAuthClient {
    OAuthClient::new(CLIENT_ID, CLIENT_SECRET)
}

const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn settings(fake: &FakeOAuth) -> Settings {
    Settings::new().origin(fake.origin.clone())
}

fn query(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

async fn connected(fake: &FakeOAuth) -> Connection {
    let pending = authorize_json(
        spec(),
        &json!({"tenant": "north"}),
        &client(),
        AuthorizationRequest::new(REDIRECT).settings(&settings(fake)),
    )
    .unwrap();
    let callback = support::loopback::follow(pending.url()).await;
    Connection::from_callback(spec(), pending, &callback, settings(fake))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_authorization_url_carries_state_pkce_scopes_and_the_catalogs_params() {
    let pending = authorize_json(
        spec(),
        &json!({"tenant": "north"}),
        &client(),
        AuthorizationRequest::new(REDIRECT).param("login_hint", "ann@example.com"),
    )
    .unwrap();
    let url = url::Url::parse(pending.url()).unwrap();
    assert_eq!(
        (url.scheme(), url.host_str(), url.path()),
        ("https", Some("auth.acme.example"), "/oauth/authorize")
    );
    let q = query(pending.url());
    let names: Vec<&str> = q.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "prompt",
            "audience",
            "code_challenge",
            "code_challenge_method",
            "login_hint"
        ],
        "`access_type: undefined` is left out"
    );
    assert_eq!(param(&q, "response_type"), Some("code"));
    assert_eq!(param(&q, "client_id"), Some(CLIENT_ID));
    assert_eq!(param(&q, "redirect_uri"), Some(REDIRECT));
    assert_eq!(param(&q, "scope"), Some("read,offline_access"));
    assert_eq!(param(&q, "audience"), Some("north"));
    assert_eq!(param(&q, "code_challenge_method"), Some("S256"));
    assert_eq!(param(&q, "code_challenge").unwrap().len(), 43);
    assert_eq!(param(&q, "state"), Some(pending.state()));
    assert!(pending.state().len() >= 43);
    assert!(!pending.url().contains(CLIENT_SECRET));
    // Explicit scopes replace the defaults.
    let other = authorize_json(
        spec(),
        &json!({"tenant": "north"}),
        &client(),
        AuthorizationRequest::new(REDIRECT).scopes(["write"]),
    )
    .unwrap();
    assert_eq!(param(&query(other.url()), "scope"), Some("write"));
    assert_ne!(other.state(), pending.state(), "a new state per flow");
    // A pending flow survives serialization; Debug shows no secret.
    let saved = serde_json::to_string(&pending).unwrap();
    let back: PendingAuthorization = serde_json::from_str(&saved).unwrap();
    assert_eq!(back, pending);
    let debug = format!("{pending:?}");
    assert!(!debug.contains(CLIENT_SECRET) && !debug.contains(pending.state()));
    // The config is validated: every problem at once.
    let err = authorize_json(
        spec(),
        &json!({"tenant": "North!"}),
        &client(),
        AuthorizationRequest::new(REDIRECT),
    )
    .unwrap_err();
    assert!(err.to_string().contains("tenant"), "{err}");
}

#[tokio::test]
async fn a_user_authorizes_and_the_connection_calls_the_api() {
    let fake = FakeOAuth::start().await;
    let pending = authorize_json(
        spec(),
        &json!({"tenant": "north"}),
        &client(),
        AuthorizationRequest::new(REDIRECT).settings(&settings(&fake)),
    )
    .unwrap();
    assert!(
        pending.url().starts_with(&fake.origin),
        "the origin override applies"
    );
    // The flow may finish in another process: only the JSON crosses.
    let saved = serde_json::to_string(&pending).unwrap();
    let callback = support::loopback::follow(pending.url()).await;
    let pending: PendingAuthorization = serde_json::from_str(&saved).unwrap();
    let conn = Connection::from_callback(spec(), pending, &callback, settings(&fake))
        .await
        .unwrap();
    assert_eq!(fake.fake.exchanges.load(Ordering::SeqCst), 1);
    let body = fake.fake.token_bodies.lock().unwrap()[0].clone();
    let names: Vec<&str> = body.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "grant_type",
            "code",
            "redirect_uri",
            "code_verifier",
            "client_id",
            "client_secret"
        ]
    );
    let tokens = conn.tokens().unwrap();
    let expires_in = tokens
        .expires_at()
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(
        expires_in > Duration::from_secs(3590),
        "`expires_in: \"3600\"` read"
    );
    assert!(tokens.refresh_token().is_some());
    assert_eq!(
        tokens.metadata()["instance_url"],
        "https://eu7.acme.example",
        "token_response_metadata"
    );
    let me: serde_json::Value = conn.get("/api/me").send().await.unwrap().json().unwrap();
    assert_eq!(me["id"], "user-1");
    // Later, in another process: the saved tokens connect again without a token request.
    let saved = serde_json::to_string(&tokens).unwrap();
    assert!(!format!("{tokens:?}").contains(tokens.access_token().expose()));
    let tokens: TokenSet = serde_json::from_str(&saved).unwrap();
    let again = Connection::from_tokens(
        spec(),
        &json!({"tenant": "north"}),
        client(),
        tokens,
        settings(&fake),
    )
    .unwrap();
    again.get("/api/me").send().await.unwrap();
    assert_eq!(again.token_requests(), 0);
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn callbacks_that_do_not_match_are_refused() {
    let fake = FakeOAuth::start().await;
    let start = |valid_for: Duration| {
        authorize_json(
            spec(),
            &json!({"tenant": "north"}),
            &client(),
            AuthorizationRequest::new(REDIRECT)
                .settings(&settings(&fake))
                .valid_for(valid_for),
        )
        .unwrap()
    };
    let minute = Duration::from_secs(60);
    let finish = |pending: PendingAuthorization, url: String| {
        let settings = settings(&fake);
        async move { Connection::from_callback(spec(), pending, &url, settings).await }
    };
    let cases: Vec<(String, CallbackError)> = vec![
        (
            format!("{REDIRECT}?code=c&state=forged"),
            CallbackError::StateMismatch,
        ),
        (format!("{REDIRECT}?code=c"), CallbackError::StateMismatch),
        (
            "http://127.0.0.1:9/elsewhere?code=c".to_owned(),
            CallbackError::WrongRedirect {
                expected: "http://127.0.0.1:9/callback".to_owned(),
            },
        ),
        (
            "http://127.0.0.1:8080/callback?code=c".to_owned(),
            CallbackError::WrongRedirect {
                expected: "http://127.0.0.1:9/callback".to_owned(),
            },
        ),
        ("not a url".to_owned(), CallbackError::NotAUrl),
    ];
    for (url, expected) in cases {
        let err = finish(start(minute), url).await.unwrap_err();
        assert_eq!(err, Error::Authorization(expected));
    }
    let pending = start(minute);
    let state = pending.state().to_owned();
    let err = finish(
        pending,
        format!("{REDIRECT}?error=access_denied&error_description=The+user+said+no&state={state}"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "authorize: the provider refused the authorization: access_denied: The user said no"
    );
    let pending = start(minute);
    let state = pending.state().to_owned();
    let err = finish(pending, format!("{REDIRECT}?state={state}"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Authorization(CallbackError::MissingCode {
            param: "code".into()
        })
    );
    let pending = start(Duration::ZERO);
    let callback = support::loopback::follow(pending.url()).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = finish(pending, callback).await.unwrap_err();
    assert!(
        matches!(err, Error::Authorization(CallbackError::Expired { .. })),
        "{err}"
    );
    // A code is good once: replaying a callback fails at the provider, as a typed error.
    let pending = start(minute);
    let saved = pending.clone();
    let callback = support::loopback::follow(pending.url()).await;
    finish(pending, callback.clone()).await.unwrap();
    let err = finish(saved, callback).await.unwrap_err();
    assert!(err.needs_reauthorization(), "{err}");
    assert_eq!(fake.fake.exchanges.load(Ordering::SeqCst), 1);
}

/// A sink like a store's: it keeps what it is given, and the fake checks it before serving.
fn recording_sink(fake: &FakeOAuth) -> impl terapi_runtime::client::TokenSink {
    let saved = Arc::clone(&fake.fake.saved);
    move |tokens: TokenSet| {
        let saved = Arc::clone(&saved);
        async move {
            // A store takes a while.
            tokio::time::sleep(Duration::from_millis(20)).await;
            saved.lock().unwrap().insert(
                tokens.access_token().expose().to_owned(),
                tokens.refresh_token().map(|r| r.expose().to_owned()),
            );
            Ok::<(), std::io::Error>(())
        }
    }
}

fn expired(access: &str, refresh: &str) -> TokenSet {
    TokenSet::new(access.to_owned())
        .with_refresh_token(refresh.to_owned())
        .with_expires_at(SystemTime::now() - Duration::from_secs(5))
        .with_metadata("instance_url", "https://eu7.acme.example")
}

fn from_tokens(fake: &FakeOAuth, tokens: TokenSet) -> Connection {
    Connection::from_tokens(
        spec(),
        &json!({"tenant": "north"}),
        client(),
        tokens,
        settings(fake),
    )
    .unwrap()
}

#[tokio::test]
async fn a_hundred_requests_on_an_expired_token_make_one_refresh_saved_before_use() {
    let fake = FakeOAuth::start().await;
    let (access, refresh) = fake.issue();
    let conn = from_tokens(&fake, expired(&access, &refresh));
    conn.set_token_sink(recording_sink(&fake));
    let calls = (0..100).map(|_| {
        let conn = conn.clone();
        tokio::spawn(async move { conn.get("/api/me").send().await.map(|r| r.status()) })
    });
    for call in futures_util::future::join_all(calls).await {
        assert_eq!(call.unwrap().unwrap(), 200);
    }
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(conn.token_requests(), 1);
    let used = fake.fake.saved_before_use.lock().unwrap().clone();
    assert_eq!(used.len(), 100);
    assert!(
        used.iter().all(|saved| *saved),
        "every request used a token the sink had saved"
    );
    // The rotated refresh token is the one saved, and the one the connection holds.
    let tokens = conn.tokens().unwrap();
    assert_ne!(tokens.refresh_token().unwrap().expose(), refresh);
    let saved = fake.fake.saved.lock().unwrap().clone();
    assert_eq!(
        saved[tokens.access_token().expose()].as_deref(),
        Some(tokens.refresh_token().unwrap().expose())
    );
}

#[tokio::test]
async fn a_reused_refresh_token_needs_reauthorization_and_never_loops() {
    let fake = FakeOAuth::start().await;
    let (access, refresh) = fake.issue();
    // Two processes with the same saved tokens and no shared store: the first refresh
    // rotates the token, the second finds it used.
    let first = from_tokens(&fake, expired(&access, &refresh));
    let second = from_tokens(&fake, expired(&access, &refresh));
    first.get("/api/me").send().await.unwrap();
    let err = second.get("/api/me").send().await.unwrap_err();
    assert!(err.needs_reauthorization(), "{err}");
    assert_eq!(
        err.to_string(),
        "token: acme: the user has to authorize again: invalid_grant: refresh token reused or revoked"
    );
    assert!(!err.to_string().contains(&refresh));
    let refreshes = fake.fake.refreshes.load(Ordering::SeqCst);
    assert_eq!(refreshes, 2);
    for _ in 0..5 {
        assert_eq!(second.get("/api/me").send().await.unwrap_err(), err);
        assert!(second.verify().await.unwrap_err().needs_reauthorization());
    }
    assert_eq!(
        fake.fake.refreshes.load(Ordering::SeqCst),
        refreshes,
        "no more token requests once the grant is gone"
    );
}

#[tokio::test]
async fn a_401_renews_once_and_a_response_without_refresh_token_keeps_the_old_one() {
    let fake = FakeOAuth::start().await;
    fake.fake.rotate.store(false, Ordering::SeqCst);
    let conn = connected(&fake).await;
    let before = conn.tokens().unwrap();
    fake.revoke_access_tokens();
    conn.get("/api/me").send().await.unwrap();
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 1);
    let after = conn.tokens().unwrap();
    assert_ne!(after.access_token(), before.access_token());
    assert_eq!(after.refresh_token(), before.refresh_token(), "kept");
    assert_eq!(after.metadata(), before.metadata(), "kept");
    let body = fake
        .fake
        .token_bodies
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let names: Vec<&str> = body.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["grant_type", "refresh_token", "client_id", "client_secret"]
    );
}

#[tokio::test]
async fn without_a_refresh_token_a_refused_token_needs_reauthorization() {
    let fake = FakeOAuth::start().await;
    let (access, _) = fake.issue();
    let conn = from_tokens(
        &fake,
        TokenSet::new(access).with_metadata("instance_url", "https://eu7.acme.example"),
    );
    conn.get("/api/me").send().await.unwrap();
    fake.revoke_access_tokens();
    let err = conn.get("/api/me").send().await.unwrap_err();
    assert!(err.needs_reauthorization(), "{err}");
    assert_eq!(conn.token_requests(), 0);
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_sink_that_fails_keeps_the_tokens_and_saves_them_before_the_next_use() {
    let fake = FakeOAuth::start().await;
    let (access, refresh) = fake.issue();
    let conn = from_tokens(&fake, expired(&access, &refresh));
    let attempts = Arc::new(AtomicU64::new(0));
    let saved = Arc::clone(&fake.fake.saved);
    let counter = Arc::clone(&attempts);
    conn.set_token_sink(move |tokens: TokenSet| {
        let saved = Arc::clone(&saved);
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                return Err(std::io::Error::other("the store is down"));
            }
            saved.lock().unwrap().insert(
                tokens.access_token().expose().to_owned(),
                tokens.refresh_token().map(|r| r.expose().to_owned()),
            );
            Ok(())
        }
    });
    let err = conn.get("/api/me").send().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "token: the renewed tokens could not be saved (tried again with the next request): the store is down"
    );
    assert!(
        fake.fake.saved_before_use.lock().unwrap().is_empty(),
        "nothing used the unsaved token"
    );
    conn.get("/api/me").send().await.unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(
        fake.fake.refreshes.load(Ordering::SeqCst),
        1,
        "the rotated token was kept, not requested again"
    );
    assert_eq!(*fake.fake.saved_before_use.lock().unwrap(), [true]);
}

#[tokio::test]
async fn an_oauth2_provider_does_not_connect_without_an_authorization() {
    let err = Connection::from_json(
        spec(),
        &json!({"tenant": "north", "instance_url": "https://eu7.acme.example"}),
        &json!({}),
        Settings::new(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "connect: acme (OAUTH2): OAUTH2 connections start from an authorization (`authorize`, then `from_callback`) or from saved tokens (`from_tokens`)"
    );
}

#[tokio::test]
async fn an_mcp_server_registers_a_public_client_and_always_uses_pkce() {
    let fake = FakeOAuth::start().await;
    let mcp = provider("acme-mcp");
    let client = OAuthClient::register(mcp.clone(), REDIRECT, "terapi tests", &settings(&fake))
        .await
        .unwrap();
    assert!(client.id().starts_with("dyn-"), "{client:?}");
    let pending = terapi_runtime::client::authorize(
        mcp.clone(),
        &terapi_runtime::spec::ParamValues::from_json(&mcp, &json!({}), &json!({})).unwrap(),
        &client,
        AuthorizationRequest::new(REDIRECT).settings(&settings(&fake)),
    )
    .unwrap();
    let q = query(pending.url());
    assert_eq!(
        param(&q, "code_challenge_method"),
        Some("S256"),
        "despite `disable_pkce`"
    );
    assert_eq!(param(&q, "resource"), Some("https://mcp.acme.example/mcp"));
    let callback = support::loopback::follow(pending.url()).await;
    let conn = Connection::from_callback(mcp, pending, &callback, settings(&fake))
        .await
        .unwrap();
    let body = fake.fake.token_bodies.lock().unwrap()[0].clone();
    assert!(
        !body.iter().any(|(k, _)| k == "client_secret"),
        "a public client sends no secret: {body:?}"
    );
    conn.get("/api/me").send().await.unwrap();
    // A provider without dynamic registration says so.
    let err = OAuthClient::register(spec(), REDIRECT, "x", &Settings::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("registers no clients dynamically"),
        "{err}"
    );
}

#[tokio::test]
async fn a_generic_mcp_server_is_discovered_registered_and_authorized() {
    let fake = FakeOAuth::start().await;
    let mcp = provider("acme-mcp-generic");
    let config_json = json!({"mcp_server_url": "https://mcp.acme.example/mcp"});
    let config =
        terapi_runtime::spec::ParamValues::from_json(&mcp, &config_json, &json!({})).unwrap();
    let client = OAuthClient::register_discovered(
        mcp.clone(),
        &config,
        REDIRECT,
        "terapi tests",
        &settings(&fake),
    )
    .await
    .unwrap();
    assert!(client.id().starts_with("dyn-"), "{client:?}");
    let pending = Connection::authorize_discovered(
        mcp.clone(),
        &config,
        &client,
        AuthorizationRequest::new(REDIRECT).settings(&settings(&fake)),
    )
    .await
    .unwrap();
    let q = query(pending.url());
    assert!(
        pending
            .url()
            .starts_with(&format!("{}/oauth/authorize?", fake.origin))
    );
    assert_eq!(
        param(&q, "scope"),
        Some("mcp:read mcp:write"),
        "the server's scopes"
    );
    assert_eq!(param(&q, "resource"), Some("https://mcp.acme.example/mcp"));
    assert_eq!(param(&q, "code_challenge_method"), Some("S256"));
    // The pending flow carries what was discovered across processes.
    let pending: PendingAuthorization =
        serde_json::from_str(&serde_json::to_string(&pending).unwrap()).unwrap();
    let callback = support::loopback::follow(pending.url()).await;
    let conn = Connection::from_callback(mcp.clone(), pending, &callback, settings(&fake))
        .await
        .unwrap();
    let exchange = fake.fake.token_bodies.lock().unwrap()[0].clone();
    assert!(
        exchange
            .iter()
            .any(|(k, v)| k == "resource" && v == "https://mcp.acme.example/mcp"),
        "{exchange:?}"
    );
    conn.get("/api/me").send().await.unwrap();
    // Saved and restored, it still knows where to refresh.
    let tokens: TokenSet =
        serde_json::from_str(&serde_json::to_string(&conn.tokens().unwrap()).unwrap()).unwrap();
    let again = Connection::from_tokens(mcp.clone(), &config_json, client, tokens, settings(&fake))
        .unwrap();
    fake.revoke_access_tokens();
    again.get("/api/me").send().await.unwrap();
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 1);
    let refresh = fake
        .fake
        .token_bodies
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(refresh.iter().any(|(k, _)| k == "resource"), "{refresh:?}");
    // The synchronous `authorize` says to discover first.
    let err = terapi_runtime::client::authorize(
        mcp,
        &config,
        &OAuthClient::public("x"),
        AuthorizationRequest::new(REDIRECT),
    )
    .unwrap_err();
    assert!(err.to_string().contains("authorize_discovered"), "{err}");
}

#[tokio::test]
async fn a_provider_that_needs_no_authorization_says_how_it_connects() {
    let err = terapi_providers::start_authorization(
        "personio",
        &json!({"partnerId": "ACME", "appId": "APP"}),
        &client(),
        AuthorizationRequest::new(REDIRECT),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "authorize: personio (OAUTH2_CC) is not authorized in a browser: it connects with its config and credentials (`Connection::from_json`)"
    );
    let err = terapi_providers::start_authorization(
        "personio-v3",
        &json!({}),
        &client(),
        AuthorizationRequest::new(REDIRECT),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("personio-v2"),
        "did you mean: {err}"
    );
}

/// A `token_type` the client cannot honour (`MAC`, `DPoP`: a proof per request) is refused
/// with an error that names it, at the code exchange, a refresh and a client credentials
/// grant, instead of being sent as a bearer token; an absent one and `bearer` in any case are
/// bearer tokens.
#[tokio::test]
async fn a_token_type_the_client_cannot_send_is_refused_and_bearer_in_any_case_is_not() {
    let fake = FakeOAuth::start().await;
    let set = |t: serde_json::Value| *fake.fake.token_type.lock().unwrap() = Some(t);
    let exchange = || async {
        let pending = authorize_json(
            spec(),
            &json!({"tenant": "north"}),
            &client(),
            AuthorizationRequest::new(REDIRECT).settings(&settings(&fake)),
        )
        .unwrap();
        let callback = support::loopback::follow(pending.url()).await;
        Connection::from_callback(spec(), pending, &callback, settings(&fake)).await
    };
    let cc = || {
        Connection::from_json(
            provider_of(CC_CATALOG, "acme-cc"),
            &json!({}),
            &json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
            settings(&fake),
        )
        .unwrap()
    };
    let refused = |e: &Error, kind: &str| {
        let text = e.to_string();
        assert!(
            text.contains(&format!("`token_type` is `{kind}`")) && text.contains("bearer"),
            "{text}"
        );
    };
    for kind in ["MAC", "DPoP", "dpop"] {
        set(json!(kind));
        refused(&exchange().await.unwrap_err(), kind);
        refused(&cc().get("/api/me").send().await.unwrap_err(), kind);
    }
    // A refresh answered with a MAC token: refused too, and the API never sees it.
    set(json!("Bearer"));
    let conn = exchange().await.unwrap();
    fake.revoke_access_tokens();
    set(json!("MAC"));
    refused(&conn.get("/api/me").send().await.unwrap_err(), "MAC");
    for kind in [
        serde_json::Value::Null,
        json!("BEARER"),
        json!("bearer"),
        json!("Bearer"),
    ] {
        set(kind.clone());
        let conn = exchange().await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(conn.get("/api/me").send().await.unwrap().status(), 200);
        let conn = cc();
        assert_eq!(
            conn.get("/api/me").send().await.unwrap().status(),
            200,
            "{kind}"
        );
    }
}

fn provider_of(catalog: &str, key: &str) -> Arc<ProviderSpec> {
    support::loopback::provider(catalog, key)
}
