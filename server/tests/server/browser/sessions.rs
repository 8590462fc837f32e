//! Sessions as a person meets them: expired (a clear screen, never an endless spinner),
//! missing, the SDK's iframe waiting for the one the application hands over (not for ever),
//! and the server gone while the form is open.

use std::time::{Duration, Instant};

use serde_json::json;
use terapi_test_support::fake_personio::FakePersonio;

use super::{Personio, connect_url, fill_credentials};

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn an_expired_session_shows_a_clear_screen() {
    let test = "an_expired_session_shows_a_clear_screen";
    // Long enough to load the page and fill the form on a busy machine.
    let ttl = Duration::from_secs(5);
    let Some(env) = Personio::start(test, move |c| c.session_ttl = ttl).await else {
        return;
    };
    let Personio {
        browser,
        fake,
        server,
        ..
    } = &env;
    let token = server.session("user-expired", &["personio"]).await;
    let made = Instant::now();
    browser.goto(&connect_url(server, &token, "")).await;
    browser.wait_screen("form").await;
    fill_credentials(browser).await;
    assert!(
        made.elapsed() < ttl,
        "the form took {:?} to load and fill, longer than the session's {ttl:?}: a very busy machine",
        made.elapsed()
    );
    // The session expires while the form is open.
    tokio::time::sleep((ttl + Duration::from_millis(500)).saturating_sub(made.elapsed())).await;
    browser.click("#connect-submit").await;
    browser.expect_error("session_expired").await;
    browser.screenshot("error-session-expired").await;
    browser
        .assert_accessible("the error screen (session expired)")
        .await;
    browser.assert_no_csp_violation().await;
    assert_eq!(fake.token_requests_v1(), 0);

    // Opening the link again: the same screen at once.
    browser.goto(&connect_url(server, &token, "")).await;
    browser.expect_error("session_expired").await;
    env.browser.finish(test).await;
}

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn without_a_session_loading_then_an_error() {
    let test = "without_a_session_loading_then_an_error";
    let Some(env) = Personio::start(test, |_| {}).await else {
        return;
    };
    let Personio {
        browser,
        app,
        server,
        ..
    } = &env;
    // Not framed, no token: the error at once.
    browser.goto(&format!("{}/connect", server.url)).await;
    browser.expect_error("no_session").await;
    browser.screenshot("error-no-session").await;
    browser.assert_no_csp_violation().await;

    // Framed by the application, which hands nothing over: loading, while the page waits.
    browser.goto(&app.url(&server.url, "")).await;
    browser
        .js(
            "const f = document.createElement('iframe');
             f.src = arguments[0]; f.title = 'Connect'; f.width = 480; f.height = 640;
             document.body.appendChild(f);",
            vec![json!(format!(
                "{}/connect?origin={}",
                server.url, app.origin
            ))],
        )
        .await;
    browser
        .wait_for("window.frames.length > 0", "the frame")
        .await;
    browser.enter_frame().await;
    browser.wait_screen("loading").await;
    browser.client.clone().enter_parent_frame().await.unwrap();
    browser.screenshot("loading-framed").await;
    // Not forever: after its 10 s, the page gives up with the error screen.
    browser.enter_frame().await;
    browser.expect_error("no_session").await;
    env.browser.finish(test).await;
}

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn a_server_gone_mid_form_is_a_network_screen_and_the_form_comes_back_as_typed() {
    let test = "a_server_gone_mid_form_is_a_network_screen_and_the_form_comes_back_as_typed";
    let Some(env) = Personio::start(test, |_| {}).await else {
        return;
    };
    env.open_form("user-gone", &["personio"]).await;
    let Personio {
        browser,
        fake,
        server,
        app: _app,
    } = env;
    fill_credentials(&browser).await;
    // The server stops (a deploy, a crash) while the person fills the form.
    server.stop().await;
    let clicked = Instant::now();
    browser.click("#connect-submit").await;
    browser.expect_error("network").await;
    assert!(
        clicked.elapsed() < Duration::from_secs(15),
        "the error came after {:?}",
        clicked.elapsed()
    );
    assert!(browser.text("#retry").await.contains("Try again"));
    browser.screenshot("error-network").await;
    browser
        .assert_accessible("the error screen (network)")
        .await;
    // Back to the form, with what was typed (the secret too) still there.
    browser.click("#retry").await;
    browser.wait_screen("form").await;
    assert_eq!(
        browser
            .js(
                "return document.querySelector('#field-credentials-client_id').value;",
                vec![]
            )
            .await,
        json!(FakePersonio::CLIENT_ID)
    );
    assert_eq!(fake.token_requests_v1(), 0);
    browser.finish(test).await;
}
