//! OAuth 1.0a (OAUTH1) against a fake provider that checks every signature with its own
//! implementation of RFC 5849 §3.4: temporary credentials, the user's authorization, token
//! credentials for the verifier, then signed requests (query and form body params included),
//! with HMAC-SHA1 and PLAINTEXT.

use terapi_test_support as support;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::json;
use terapi_runtime::client::{
    AuthorizationRequest, CallbackError, Connection, Error, OAuthClient, PendingAuthorization,
    Settings, TokenSet,
};
use terapi_runtime::spec::{ParamValues, ProviderSpec};

use support::fake_oauth1::{CATALOG, CONSUMER_KEY, CONSUMER_SECRET, FakeOAuth1};

fn provider(key: &str) -> Arc<ProviderSpec> {
    support::loopback::provider(CATALOG, key)
}

const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn settings(fake: &FakeOAuth1) -> Settings {
    Settings::new().origin(fake.origin.clone())
}

async fn start(fake: &FakeOAuth1, key: &str) -> PendingAuthorization {
    let spec = provider(key);
    let config = ParamValues::from_json(&spec, &json!({}), &json!({})).unwrap();
    Connection::authorize_oauth1(
        spec,
        &config,
        &OAuthClient::new(CONSUMER_KEY, CONSUMER_SECRET),
        AuthorizationRequest::new(REDIRECT).settings(&settings(fake)),
    )
    .await
    .unwrap()
}

async fn follow(url: &str) -> String {
    let http = support::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn three_legs_then_signed_requests() {
    let fake = FakeOAuth1::start().await;
    let pending = start(&fake, "acme-oauth1").await;
    assert_eq!(
        fake.fake.verified.load(Ordering::SeqCst),
        1,
        "temporary credentials"
    );
    let saved = serde_json::to_string(&pending).unwrap();
    assert!(!format!("{pending:?}").contains("temp-secret"));
    let callback = follow(pending.url()).await;
    let query = fake.fake.last_authorize_query.lock().unwrap().clone();
    assert!(query.starts_with("oauth_token=temp-"), "{query}");
    assert!(
        query.contains("scope=read%2Cwrite") && query.contains("expiration=never"),
        "{query}"
    );
    let pending: PendingAuthorization = serde_json::from_str(&saved).unwrap();
    let conn =
        Connection::from_callback(provider("acme-oauth1"), pending, &callback, settings(&fake))
            .await
            .unwrap();
    assert_eq!(
        fake.fake.verified.load(Ordering::SeqCst),
        2,
        "token credentials"
    );
    let me: serde_json::Value = conn
        .get("/api/me")
        .query(&[("q", "a b+c/ü")])
        .send()
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(me["query"], "a b+c/ü");
    let posted: serde_json::Value = conn
        .post("/api/me")
        .form(&[("note", "hi there & more")])
        .send()
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        posted["body"], "hi there & more",
        "a form body is signed too"
    );
    assert_eq!(*fake.fake.last_method.lock().unwrap(), "HMAC-SHA1");
    // The token credentials survive a restart.
    let tokens = conn.tokens().unwrap();
    assert!(tokens.token_secret().is_some());
    let tokens: TokenSet = serde_json::from_str(&serde_json::to_string(&tokens).unwrap()).unwrap();
    let again = Connection::from_tokens(
        provider("acme-oauth1"),
        &json!({}),
        OAuthClient::new(CONSUMER_KEY, CONSUMER_SECRET),
        tokens,
        settings(&fake),
    )
    .unwrap();
    again.get("/api/me").send().await.unwrap();
    // A wrong consumer secret: the provider refuses the signature.
    let wrong = Connection::from_tokens(
        provider("acme-oauth1"),
        &json!({}),
        OAuthClient::new(CONSUMER_KEY, "not-the-secret"),
        conn.tokens().unwrap(),
        settings(&fake),
    )
    .unwrap();
    let err = wrong.get("/api/me").send().await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(!err.to_string().contains("not-the-secret"));
}

#[tokio::test]
async fn plaintext_signatures_and_a_callback_for_other_credentials() {
    let fake = FakeOAuth1::start().await;
    let pending = start(&fake, "acme-plaintext").await;
    let callback = follow(pending.url()).await;
    // The callback must name the temporary credentials the user authorized.
    let forged = callback.replace("oauth_token=temp-", "oauth_token=other-");
    let err = Connection::from_callback(
        provider("acme-plaintext"),
        pending.clone(),
        &forged,
        settings(&fake),
    )
    .await
    .unwrap_err();
    assert_eq!(err, Error::Authorization(CallbackError::StateMismatch));
    let conn = Connection::from_callback(
        provider("acme-plaintext"),
        pending,
        &callback,
        settings(&fake),
    )
    .await
    .unwrap();
    conn.get("/api/me").send().await.unwrap();
    assert_eq!(*fake.fake.last_method.lock().unwrap(), "PLAINTEXT");
}
