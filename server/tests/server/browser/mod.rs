//! The connect page and the frontend SDK in a real browser (headless Chromium over
//! WebDriver): the server on loopback in front of the fakes, an application's page on
//! another origin. Slow tier: run with
//! `cargo test -p terapi-server --test server browser -- --ignored --nocapture`
//! (`TERAPI_AXE_JS` = axe-core's axe.min.js for the accessibility checks; screenshots land in
//! `target/connect-screenshots/`, or `$TERAPI_SCREENSHOTS`).

mod app;
mod harness;
mod hostile;
mod oauth;
mod personio;
mod sessions;

use serde_json::{Value, json};
use terapi_test_support::fake_personio::FakePersonio;

use crate::support::{Options, TestServer};
use app::App;
use harness::Browser;

/// A browser, the application's page, and a server (whose connect origins hold the
/// page's origin) in front of the fake Personio.
pub struct Personio {
    pub browser: Browser,
    pub app: App,
    pub fake: FakePersonio,
    pub server: TestServer,
}

impl Personio {
    /// Everything, or `None` when the browser is missing (a printed skip).
    pub async fn start(
        test: &str,
        config: impl FnOnce(&mut terapi_server::ServerConfig) + Send + 'static,
    ) -> Option<Personio> {
        let browser = Browser::start(test).await?;
        let app = App::start().await;
        let fake = FakePersonio::start().await;
        let origin = app.origin.clone();
        let server = TestServer::start(Options::new(&fake.origin()).config(move |c| {
            c.connect_origins = vec![origin];
            config(c);
        }))
        .await
        .expect("a server");
        Some(Personio {
            browser,
            app,
            fake,
            server,
        })
    }
}

impl Personio {
    /// A session of `user` for `providers`, its connect link opened and the form shown (the
    /// session allows one provider); the session token.
    pub async fn open_form(&self, user: &str, providers: &[&str]) -> String {
        let token = self.server.session(user, providers).await;
        self.browser
            .goto(&connect_url(&self.server, &token, ""))
            .await;
        self.browser.wait_screen("form").await;
        token
    }
}

/// Fills Personio's credentials with the ones the fake accepts.
pub async fn fill_credentials(browser: &Browser) {
    browser
        .fill("#field-credentials-client_id", FakePersonio::CLIENT_ID)
        .await;
    browser
        .fill(
            "#field-credentials-client_secret",
            FakePersonio::CLIENT_SECRET,
        )
        .await;
}

/// The connect link for `token` (`lang` when not empty).
pub fn connect_url(server: &TestServer, token: &str, lang: &str) -> String {
    let mut url = url::Url::parse(&format!("{}/connect", server.url)).expect("a URL");
    url.query_pairs_mut().append_pair("session_token", token);
    if !lang.is_empty() {
        url.query_pairs_mut().append_pair("lang", lang);
    }
    url.into()
}

/// Opens the application's page and waits for the SDK.
pub async fn open_app(browser: &Browser, app: &App, server: &TestServer, token: &str) {
    browser.goto(&app.url(&server.url, token)).await;
    let loaded = browser
        .wait_for("window.sdkReady", "the SDK is fetched")
        .await;
    if loaded != json!("loaded") {
        browser
            .fail(&format!("{}/sdk.js did not load: {loaded}", server.url))
            .await;
    }
}

/// Clicks the application's "Connect an account" (the SDK's `openConnectUI`) and enters
/// the connect page's frame.
pub async fn open_connect_ui(browser: &Browser) {
    browser.click("#open").await;
    browser
        .wait_for("window.frames.length > 0", "the SDK's iframe")
        .await;
    browser.screenshot("sdk-modal-opening").await;
    browser.enter_frame().await;
}

/// Leaves the connect page's frame for the application's page.
pub async fn leave_frame(browser: &Browser) {
    browser
        .client
        .clone()
        .enter_parent_frame()
        .await
        .expect("back to the application's page");
}

/// Calls `terapi.auth(provider, connection_id, options)` on the application's page, by a
/// user's click (`click`) or by a script (no user activation), and waits for its outcome.
pub async fn sdk_auth(
    browser: &Browser,
    provider: &str,
    connection_id: &str,
    options: Value,
    click: bool,
) -> Value {
    let before = browser
        .js("return window.results.length;", vec![])
        .await
        .as_u64()
        .unwrap_or(0);
    browser
        .js(
            "window.authArgs = [arguments[0], arguments[1], arguments[2]];",
            vec![json!(provider), json!(connection_id), options],
        )
        .await;
    if click {
        browser.click("#auth").await;
    } else {
        browser.js("window.runAuth();", vec![]).await;
    }
    browser
        .wait_for(
            &format!("window.results.length > {before} && window.results[{before}]"),
            "terapi.auth settles",
        )
        .await
}

/// The message the server's own validation gives for `partnerId` = `value` on `personio`.
pub async fn server_partner_message(server: &TestServer, value: &str) -> String {
    let token = server.session("validator", &["personio"]).await;
    let (status, body) = server
        .post(
            "/auth/personio",
            &token,
            &json!({
                "params": {"partnerId": value, "appId": "MY_APP"},
                "credentials": {"client_id": FakePersonio::CLIENT_ID, "client_secret": FakePersonio::CLIENT_SECRET},
            }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let fields = body["error"]["fields"].as_array().expect("fields");
    fields
        .iter()
        .find(|f| f["param"] == "partnerId")
        .and_then(|f| f["message"].as_str())
        .unwrap_or_else(|| panic!("no partnerId in {body}"))
        .to_owned()
}
