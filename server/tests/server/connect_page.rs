//! The connect page and the SDK as served (no browser: the browser tests are in `browser/`):
//! the page's Content-Security-Policy and `frame-ancestors`, its language, the embedded
//! files with their ETags, and `POST /oauth/start/{provider}` with its redirect fallback.

use serde_json::{Value, json};
use terapi_test_support::fake_oauth::{self, FakeOAuth};
use terapi_test_support::fake_personio::FakePersonio;

use crate::support::{Options, TestServer};

const APP: &str = "https://app.example.com";

fn plain_client() -> reqwest::Client {
    terapi_test_support::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_page_runs_only_its_own_script_and_is_framed_only_by_connect_origins() {
    let fake = FakePersonio::start().await;
    let server = TestServer::start(
        Options::new(&fake.origin()).config(|c| c.connect_origins = vec![APP.to_owned()]),
    )
    .await
    .unwrap();
    let token = server.session("user-page", &["personio"]).await;
    let response = plain_client()
        .get(format!("{}/connect?session_token={token}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response.headers()[name]
            .to_str()
            .unwrap_or_default()
            .to_owned()
    };
    let csp = header("content-security-policy");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(csp.contains(&format!("frame-ancestors {APP};")), "{csp}");
    assert!(!csp.contains("unsafe") && !csp.contains('*'), "{csp}");
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\""), "{html}");
    // The token is the page's to read from its address; the server never writes it back.
    assert!(!html.contains(&token));
    // Every script is a file of the server's or the JSON block of the settings.
    for (i, _) in html.match_indices("<script") {
        let tag = &html[i..i + html[i..].find('>').unwrap()];
        assert!(
            tag.contains(" src=\"/") || tag.contains("type=\"application/json\""),
            "an inline script: {tag}"
        );
    }
    assert!(html.contains(&format!("\"origins\":[\"{APP}\"]")), "{html}");

    // German on asking; anything else is English.
    let (_, de) = get_text(&server, "/connect?lang=de").await;
    assert!(de.contains("<html lang=\"de\""));
    let (_, other) = get_text(&server, "/connect?lang=%3Cscript%3E").await;
    assert!(other.contains("<html lang=\"en\""));
    assert!(!other.contains("<script>"));
}

#[tokio::test]
async fn without_connect_origins_no_page_may_frame_it() {
    let fake = FakePersonio::start().await;
    let server = TestServer::start(Options::new(&fake.origin()))
        .await
        .unwrap();
    let response = plain_client()
        .get(format!("{}/connect", server.url))
        .send()
        .await
        .unwrap();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none';"), "{csp}");
}

async fn get_text(server: &TestServer, path: &str) -> (reqwest::header::HeaderMap, String) {
    let response = plain_client()
        .get(format!("{}{path}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let headers = response.headers().clone();
    (headers, response.text().await.unwrap())
}

#[tokio::test]
async fn the_files_are_served_with_etags_and_the_sdk_in_both_forms() {
    let fake = FakePersonio::start().await;
    let server = TestServer::start(Options::new(&fake.origin()))
        .await
        .unwrap();
    for path in [
        "/connect/assets/connect.js",
        "/connect/assets/connect.css",
        "/connect/assets/callback.js",
        "/sdk.js",
        "/sdk.mjs",
    ] {
        let (headers, body) = get_text(&server, path).await;
        assert!(!body.is_empty(), "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        let etag = headers["etag"].to_str().unwrap().to_owned();
        let again = plain_client()
            .get(format!("{}{path}", server.url))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    let (headers, sdk) = get_text(&server, "/sdk.js").await;
    assert!(sdk.contains("root.Terapi = Terapi;"));
    assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
    // An ES module is fetched with CORS from the application's origin.
    let (headers, module) = get_text(&server, "/sdk.mjs").await;
    assert!(module.contains("export default Terapi;"));
    assert_eq!(headers["access-control-allow-origin"], "*");
}

/// A server with the fake OAuth provider `acme` and an app for it.
async fn oauth_server(oauth: &FakeOAuth) -> TestServer {
    TestServer::start(
        Options::new(&oauth.origin)
            .with_catalog(fake_oauth::CATALOG)
            .config(|c| {
                c.connect_origins = vec![APP.to_owned()];
                crate::support::acme_oauth_app(c);
            }),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn oauth_start_takes_the_session_in_a_header_and_checks_where_results_go() {
    let oauth = FakeOAuth::start().await;
    let server = oauth_server(&oauth).await;
    let token = server.session("user-start", &["acme"]).await;
    let params = json!({"tenant": "tenant"});
    // The page itself (the server's origin) and a connect origin may receive the result.
    for origin in [server.url.as_str(), APP] {
        let (status, body) = server
            .post(
                "/oauth/start/acme",
                &token,
                &json!({"origin": origin, "params": params}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let url = body["data"]["url"].as_str().unwrap();
        assert!(url.starts_with(&oauth.origin), "{url}");
        assert!(!url.contains(&token), "the session token leaked into {url}");
    }
    let refused: [(Value, &str); 5] = [
        (json!({"origin": "https://evil.example"}), "origin"),
        (json!({"origin": "*"}), "origin"),
        (
            json!({"origin": APP, "return_to": "https://evil.example/back"}),
            "return_to",
        ),
        (
            json!({"origin": APP, "return_to": "javascript:alert(1)"}),
            "return_to",
        ),
        (json!({"origin": APP, "params": [1]}), "params"),
    ];
    for (body, named) in refused {
        let (status, answer) = server.post("/oauth/start/acme", &token, &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{message}");
    }
    // A key is not a session; no token is no session; a provider outside the session is 403.
    let (status, _) = server
        .post("/oauth/start/acme", &server.admin_key, &json!({}))
        .await;
    assert_eq!(status, 403);
    let (status, _) = server.post("/oauth/start/acme", "", &json!({})).await;
    assert_eq!(status, 401);
    let other = server.session("user-start", &["personio"]).await;
    let (status, _) = server.post("/oauth/start/acme", &other, &json!({})).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_blocked_popup_falls_back_to_a_redirect_with_the_result_in_the_fragment() {
    use base64::Engine as _;
    let oauth = FakeOAuth::start().await;
    let server = oauth_server(&oauth).await;
    let token = server.session("user-redirect", &["acme"]).await;
    let back = format!("{APP}/settings?tab=accounts#old");
    let (status, body) = server
        .post(
            "/oauth/start/acme",
            &token,
            &json!({"origin": APP, "connection_id": "redirected-1",
                    "params": {"tenant": "tenant"}, "return_to": back}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let authorize = body["data"]["url"].as_str().unwrap();
    let callback = terapi_test_support::loopback::follow(authorize).await;
    let response = plain_client().get(&callback).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap();
    let (page, fragment) = location.split_once('#').unwrap();
    assert_eq!(page, format!("{APP}/settings?tab=accounts"));
    let encoded = fragment.strip_prefix("terapi_result=").unwrap();
    let result: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        result,
        json!({"type": "connect", "provider_config_key": "acme", "connection_id": "redirected-1"})
    );
    let meta = server
        .server
        .store()
        .connection_meta("redirected-1")
        .await
        .unwrap();
    assert_eq!(meta.end_user.unwrap().id, "user-redirect");
}

#[tokio::test]
async fn a_refusal_at_the_provider_is_told_in_words_not_as_a_server_failure() {
    let oauth = FakeOAuth::start().await;
    let server = oauth_server(&oauth).await;
    let token = server.session("user-denied", &["acme"]).await;
    let (status, body) = server
        .post(
            "/oauth/start/acme",
            &token,
            &json!({"origin": APP, "params": {"tenant": "tenant"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let authorize = url::Url::parse(body["data"]["url"].as_str().unwrap()).unwrap();
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    // The user said no at the provider: it sends the browser back with `error`.
    let response = plain_client()
        .get(format!(
            "{}/oauth/callback?error=access_denied&error_description=The+user+declined&state={state}",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let page = response.text().await.unwrap();
    assert!(page.contains("\"type\":\"access_denied\""), "{page}");
    assert!(page.contains("The user declined"), "{page}");
    assert!(!page.contains("store"), "{page}");
    // The flow is spent: the same callback again is an unknown flow, said as such.
    let again = plain_client()
        .get(format!(
            "{}/oauth/callback?code=x&state={state}",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        again.contains("\"type\":\"authorization_failed\""),
        "{again}"
    );
    assert!(!again.contains("store"), "{again}");
}

#[tokio::test]
async fn the_static_files_are_outside_the_rate_limit_and_the_page_is_not() {
    let fake = FakePersonio::start().await;
    let server = TestServer::start(Options::new(&fake.origin()).config(|c| {
        c.rate_limit = terapi_server::RateLimit {
            per_minute: 2,
            burst: 2,
        };
    }))
    .await
    .unwrap();
    let client = plain_client();
    // Many people behind one address load the SDK and the page's files.
    for _ in 0..3 {
        for path in [
            "/sdk.js",
            "/sdk.mjs",
            "/connect/assets/connect.js",
            "/connect/assets/connect.css",
            "/connect/assets/callback.js",
        ] {
            let response = client
                .get(format!("{}{path}", server.url))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
        }
    }
    // The page itself (it reads a session token) stays limited.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = client
            .get(format!("{}/connect", server.url))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}
