//! OAuth in the browser against the fake OAuth server: through the popup (the page in the
//! SDK's iframe, and the SDK's `auth`), a blocked popup (the page, and the SDK, fall back to
//! a redirect), a popup closed by the user.

use std::time::Duration;

use serde_json::json;
use terapi_test_support::fake_oauth::{self, FakeOAuth};

use super::app::App;
use super::harness::Browser;
use super::{connect_url, leave_frame, open_app, open_connect_ui, sdk_auth};
use crate::support::{Options, TestServer};

const TENANT: &str = "#field-params-tenant";
const SUBMIT: &str = "#connect-submit";

/// A browser, the application's page, and a server whose provider `acme` is an OAuth app
/// of the provider at `provider` (the fake OAuth server, or one that never answers the
/// authorization).
async fn start(test: &str, provider: &str) -> Option<(Browser, App, TestServer)> {
    let browser = Browser::start(test).await?;
    let app = App::start().await;
    let origin = app.origin.clone();
    let server = TestServer::start(
        Options::new(provider)
            .with_catalog(fake_oauth::CATALOG)
            .config(move |c| {
                c.connect_origins = vec![origin];
                crate::support::acme_oauth_app(c);
            }),
    )
    .await
    .expect("a server");
    Some((browser, app, server))
}

/// The number of the browser's windows.
async fn windows(browser: &Browser) -> usize {
    browser
        .client
        .windows()
        .await
        .expect("the browser's windows")
        .len()
}

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn oauth_through_the_popup() {
    let test = "oauth_through_the_popup";
    let oauth = FakeOAuth::start().await;
    let Some((browser, app, server)) = start(test, &oauth.origin).await else {
        return;
    };
    let token = server.session("user-oauth", &["acme"]).await;
    open_app(&browser, &app, &server, &token).await;
    open_connect_ui(&browser).await;
    browser.wait_screen("form").await;
    // The automated field is not asked for.
    assert_eq!(
        browser
            .js(
                "return document.querySelectorAll('#field-params-instance_url').length;",
                vec![]
            )
            .await,
        json!(0)
    );
    browser.fill(TENANT, "tenant").await;
    browser.screenshot("form-oauth").await;
    browser.click(SUBMIT).await;
    browser.wait_screen("success").await;
    leave_frame(&browser).await;
    let event = browser
        .wait_for(
            "window.events.find(e => e.type === 'connect')",
            "the application receives `connect`",
        )
        .await;
    assert_eq!(event["payload"]["provider_config_key"], "acme");
    let id = event["payload"]["connection_id"]
        .as_str()
        .expect("a connection id")
        .to_owned();
    let meta = server
        .server
        .store()
        .connection_meta(&id)
        .await
        .expect("the connection exists");
    assert_eq!(meta.end_user.expect("an end user").id, "user-oauth");
    assert_eq!(
        oauth
            .fake
            .exchanges
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(windows(&browser).await, 1, "the popup closed itself");
    browser.screenshot("sdk-modal-after-oauth").await;

    // The close button: the application hears `close`, and the SDK removes its modal.
    browser.enter_frame().await;
    browser.click("#close").await;
    leave_frame(&browser).await;
    browser
        .wait_for(
            "window.events.some(e => e.type === 'close') && !document.querySelector('iframe')",
            "`close`, and the modal is gone",
        )
        .await;

    // The SDK's `auth` for an OAuth provider: the popup, then the result.
    let outcome = sdk_auth(
        &browser,
        "acme",
        "oauth-sdk",
        json!({"params": {"tenant": "tenant"}}),
        true,
    )
    .await;
    assert_eq!(
        outcome,
        json!({"ok": {"providerConfigKey": "acme", "connectionId": "oauth-sdk"}})
    );
    assert_eq!(windows(&browser).await, 1, "the popup closed itself");
    browser.finish(test).await;
}

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn a_blocked_popup_falls_back_to_a_redirect() {
    let test = "a_blocked_popup_falls_back_to_a_redirect";
    let oauth = FakeOAuth::start().await;
    let Some((browser, app, server)) = start(test, &oauth.origin).await else {
        return;
    };
    let token = server.session("user-blocked", &["acme"]).await;
    browser.goto(&connect_url(&server, &token, "")).await;
    browser.wait_screen("form").await;
    browser.fill(TENANT, "tenant").await;
    // Connect without a user's click: the popup blocker refuses `window.open`.
    browser
        .js_without_activation("document.querySelector('#connect-submit').click();")
        .await;
    browser.wait_screen("success").await;
    let href = browser.js("return location.href;", vec![]).await;
    assert!(
        !href.as_str().unwrap_or_default().contains("terapi_result"),
        "the result is cleared from the URL: {href}"
    );
    assert_eq!(windows(&browser).await, 1, "no popup");
    let connections = server.server.store().list().await.expect("the connections");
    assert_eq!(connections.len(), 1, "one connection");
    browser.screenshot("success-after-redirect").await;

    // The SDK without a click: the application's page goes to the provider and comes back
    // with the result in its address, which `Terapi.redirectResult()` reads (and removes).
    open_app(&browser, &app, &server, &token).await;
    browser
        .js_without_activation(
            "window.authArgs = ['acme', 'oauth-blocked', {params: {tenant: 'tenant'}}]; window.runAuth();",
        )
        .await;
    let result = browser
        .wait_for(
            "window.sdkReady && window.redirected",
            "the application's page is back with the result",
        )
        .await;
    assert_eq!(
        result,
        json!({"type": "connect", "provider_config_key": "acme", "connection_id": "oauth-blocked"})
    );
    let href = browser.js("return location.href;", vec![]).await;
    assert!(
        !href.as_str().unwrap_or_default().contains("terapi_result"),
        "the result is removed from the address: {href}"
    );
    assert_eq!(windows(&browser).await, 1, "no popup");
    browser.finish(test).await;
}

/// A provider whose authorization page waits for a person who never comes.
async fn stalling_provider() -> (String, tokio::sync::oneshot::Sender<()>) {
    let app = axum::Router::new().fallback(|| async {
        axum::response::Html(
            "<!doctype html><html lang=\"en\"><title>Sign in to Acme</title><h1>Sign in to Acme</h1></html>",
        )
    });
    terapi_test_support::loopback::serve(app).await
}

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn a_closed_popup_is_an_error() {
    let test = "a_closed_popup_is_an_error";
    let (provider, _stop) = stalling_provider().await;
    let Some((browser, app, server)) = start(test, &provider).await else {
        return;
    };
    let token = server.session("user-closed", &["acme"]).await;
    // In the SDK's iframe: the page shows the error and tells the application.
    open_app(&browser, &app, &server, &token).await;
    let main = browser.client.window().await.expect("the page's window");
    open_connect_ui(&browser).await;
    browser.wait_screen("form").await;
    browser.fill(TENANT, "tenant").await;
    browser.click(SUBMIT).await;
    close_the_popup(&browser, &main).await;
    // Back in the window, the WebDriver context is the top-level page again.
    browser.enter_frame().await;
    browser.expect_error("window_closed").await;
    browser.screenshot("error-window-closed").await;
    browser
        .assert_accessible("the error screen (window closed)")
        .await;
    leave_frame(&browser).await;
    let event = browser
        .wait_for(
            "window.events.find(e => e.type === 'error')",
            "the application receives `error`",
        )
        .await;
    assert_eq!(event["payload"]["type"], "window_closed", "{event}");
    assert!(
        event["payload"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{event}"
    );
    assert!(server.server.store().list().await.unwrap().is_empty());
    browser.js("window.ui.close();", vec![]).await;

    // The SDK's popup closed: `auth` rejects `window_closed`.
    browser
        .js(
            "window.authArgs = ['acme', 'oauth-closed', {params: {tenant: 'tenant'}}];",
            vec![],
        )
        .await;
    browser.click("#auth").await;
    close_the_popup(&browser, &main).await;
    let outcome = browser
        .wait_for("window.results[0]", "terapi.auth settles")
        .await;
    assert_eq!(outcome["err"]["type"], "window_closed", "{outcome}");
    browser.finish(test).await;
}

/// Waits for the popup on the provider's page, closes it, and goes back to `main`.
async fn close_the_popup(browser: &Browser, main: &fantoccini::wd::WindowHandle) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let popup = loop {
        let all = browser.client.windows().await.expect("the windows");
        if let Some(popup) = all.into_iter().find(|w| w != main) {
            break popup;
        }
        if std::time::Instant::now() > deadline {
            browser.fail("no popup opened").await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    browser
        .client
        .switch_to_window(popup)
        .await
        .expect("to the popup");
    // On the provider's page (not about:blank any more), as a person would see it.
    browser
        .wait_for(
            "document.title === 'Sign in to Acme'",
            "the popup reaches the provider",
        )
        .await;
    browser.screenshot("oauth-popup-provider").await;
    browser
        .client
        .close_window()
        .await
        .expect("close the popup");
    browser
        .client
        .switch_to_window(main.clone())
        .await
        .expect("back to the page");
}
