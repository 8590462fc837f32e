//! Personio's forms: validation as you type with the server's own messages, a connection
//! made through the SDK's iframe, the seed's `terapi.auth(...)`, the keyboard alone, German,
//! the accessibility check in both themes, the session token out of the URL, and the form's
//! timing.

use serde_json::{Value, json};
use terapi_test_support::fake_personio::FakePersonio;

use super::harness::{Browser, ENTER, ESCAPE, TAB};
use super::{
    Personio, connect_url, fill_credentials, leave_frame, open_app, open_connect_ui, sdk_auth,
};

const PARTNER: &str = "#field-params-partnerId";
const PARTNER_ERROR: &str = "#field-params-partnerId-error";
const APP: &str = "#field-params-appId";
const CLIENT_ID: &str = "#field-credentials-client_id";
const CLIENT_SECRET: &str = "#field-credentials-client_secret";
const SUBMIT: &str = "#connect-submit";

/// Fills Personio's form with valid values except the Partner ID.
async fn fill_all_but_partner(browser: &Browser) {
    fill_credentials(browser).await;
    browser.fill(APP, "MY_APP").await;
}

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn personio_validates_as_you_type_connects_and_tells_the_parent() {
    let test = "personio_validates_as_you_type_connects_and_tells_the_parent";
    let Some(env) = Personio::start(test, |_| {}).await else {
        return;
    };
    let Personio {
        browser,
        app,
        fake,
        server,
    } = &env;
    let expected = super::server_partner_message(server, "acme").await;
    let token = server.session("user-browser", &["personio"]).await;
    open_app(browser, app, server, &token).await;
    open_connect_ui(browser).await;
    // A message from anyone but the connect page is not an event.
    leave_frame(browser).await;
    browser
        .js(
            "window.postMessage({terapi: 'connect-ui', type: 'connect', payload: {provider_config_key: 'personio', connection_id: 'forged'}}, '*');",
            vec![],
        )
        .await;
    browser.enter_frame().await;
    // One provider allowed: straight to its form.
    browser.wait_screen("form").await;
    let rendered = browser.form_rendered_ms().await;
    println!("form-rendered (in the SDK's iframe): {rendered:?} ms");
    browser.screenshot("form-personio").await;

    fill_all_but_partner(browser).await;
    browser.fill(PARTNER, "acme").await;
    let shown = browser
        .wait_for(
            &format!("document.querySelector('{PARTNER_ERROR}').textContent.trim()"),
            "the Partner ID's error",
        )
        .await;
    assert_eq!(shown, json!(expected), "the page says what the server says");
    assert!(expected.contains("UPPER_SNAKE_CASE"), "{expected}");
    assert_eq!(
        browser.attr(PARTNER, "aria-invalid").await.as_deref(),
        Some("true")
    );
    let described = browser
        .attr(PARTNER, "aria-describedby")
        .await
        .unwrap_or_default();
    assert!(
        described
            .split_whitespace()
            .any(|id| id == "field-params-partnerId-error"),
        "aria-describedby names the error: {described:?}"
    );
    assert!(!browser.enabled(SUBMIT).await, "Connect is disabled");
    browser.screenshot("form-personio-invalid").await;

    browser.fill(PARTNER, "ACME").await;
    browser
        .wait_for(
            &format!("!document.querySelector('{SUBMIT}').disabled"),
            "Connect is enabled once the Partner ID is fixed",
        )
        .await;
    assert_eq!(
        browser.text(PARTNER_ERROR).await.trim(),
        "",
        "no error left on the Partner ID"
    );
    assert_ne!(
        browser.attr(PARTNER, "aria-invalid").await.as_deref(),
        Some("true")
    );
    let before = fake.token_requests_v1();
    browser.click(SUBMIT).await;
    browser.wait_screen("success").await;
    let success = browser.text("#screen-success").await;
    assert!(success.contains("Personio"), "{success}");
    browser.screenshot("success-personio").await;
    browser.assert_accessible("the success screen").await;

    // Exactly one token request: the verification.
    assert_eq!(fake.token_requests_v1() - before, 1);
    let tokens = fake.requests_to("/v1/auth");
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    // ... with the partner and app headers (providers.yaml's `token_headers`).
    assert_eq!(tokens[0].header("x-personio-partner-id"), Some("ACME"));
    assert_eq!(tokens[0].header("x-personio-app-id"), Some("MY_APP"));

    // The application hears of it.
    leave_frame(browser).await;
    let event = browser
        .wait_for(
            "window.events.find(e => e.type === 'connect')",
            "the application receives `connect`",
        )
        .await;
    assert_eq!(event["payload"]["provider_config_key"], "personio");
    assert_eq!(
        browser
            .js(
                "return window.events.filter(e => e.type === 'connect').length;",
                vec![]
            )
            .await,
        json!(1),
        "the forged message was ignored"
    );
    let id = event["payload"]["connection_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a connection id in {event}"))
        .to_owned();
    let ready = browser
        .js(
            "return window.events.findIndex(e => e.type === 'ready');",
            vec![],
        )
        .await;
    assert!(ready.as_i64().is_some_and(|i| i >= 0), "`ready` came first");
    browser.screenshot("sdk-modal-after-connect").await;

    // Escape in the page closes it: the application hears `close`, the modal goes.
    browser.enter_frame().await;
    browser.keys(ESCAPE).await;
    leave_frame(browser).await;
    browser
        .wait_for(
            "window.events.some(e => e.type === 'close') && !document.querySelector('iframe')",
            "`close` after Escape, and the modal is gone",
        )
        .await;

    let (status, body) = server
        .get(&format!("/connections/{id}"), &server.admin_key)
        .await;
    assert_eq!(status, 200, "{body}");
    let connection = if body.get("data").is_some() {
        &body["data"]
    } else {
        &body
    };
    assert_eq!(connection["end_user"]["id"], "user-browser", "{body}");
    assert_eq!(connection["provider_config_key"], "personio", "{body}");

    // The connection calls Personio with the partner and app headers, on the token the
    // verification got (still one token request).
    let (status, body) = server
        .send(
            reqwest::Method::GET,
            "/proxy/company/employees?limit=1",
            &server.admin_key,
            None,
            &[("Connection-Id", &id), ("Provider-Config-Key", "personio")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let sent = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/company/employees")
        .expect("the proxied request");
    assert_eq!(sent.header("x-personio-partner-id"), Some("ACME"));
    assert_eq!(sent.header("x-personio-app-id"), Some("MY_APP"));
    assert_eq!(fake.token_requests_v1() - before, 1, "one token request");
    env.browser.finish(test).await;
}

/// The seed's options, with `partner` as the Partner ID.
fn seed_options(partner: &str) -> Value {
    json!({
        "params": {"companyId": "33434", "partnerId": partner, "appId": "UNIQUE_ID", "company": "company-b"},
        "credentials": {"apiKey": FakePersonio::API_KEY},
    })
}

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn the_seeds_auth_call_resolves_and_a_lower_case_partner_id_is_refused() {
    let test = "the_seeds_auth_call_resolves_and_a_lower_case_partner_id_is_refused";
    let Some(env) = Personio::start(test, |_| {}).await else {
        return;
    };
    let Personio {
        browser,
        app,
        fake,
        server,
    } = &env;
    let token = server.session("user-seed", &["personio-recruiting"]).await;
    open_app(browser, app, server, &token).await;
    let outcome = sdk_auth(
        browser,
        "personio-recruiting",
        "test-connection-id",
        seed_options("YOUR_CUSTOM_NAME"),
        true,
    )
    .await;
    assert_eq!(
        outcome,
        json!({"ok": {"providerConfigKey": "personio-recruiting", "connectionId": "test-connection-id"}})
    );
    let meta = server
        .server
        .store()
        .connection_meta("test-connection-id")
        .await
        .expect("the connection exists");
    assert_eq!(meta.end_user.expect("an end user").id, "user-seed");

    let before = fake.requests().len();
    let outcome = sdk_auth(
        browser,
        "personio-recruiting",
        "test-connection-id-2",
        seed_options("your_custom_name"),
        true,
    )
    .await;
    let err = &outcome["err"];
    assert_eq!(err["type"], "invalid_params", "{outcome}");
    let message = err["message"].as_str().unwrap_or_default();
    assert!(message.contains("partnerId"), "names the field: {message}");
    let fields = err["fields"].as_array().cloned().unwrap_or_default();
    assert!(
        fields.iter().any(|f| f["param"] == "partnerId"),
        "the fields are attached: {outcome}"
    );
    assert_eq!(fake.requests().len(), before, "nothing reached Personio");
    browser.screenshot("sdk-auth-rejected").await;

    // The same SDK as an ES module, imported from the application's origin.
    let module = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             import(arguments[0]).then(
               (m) => done({same: m.default === m.Terapi, kind: typeof m.default,
                            made: typeof new m.default({host: arguments[1], connectSessionToken: arguments[2]}).auth}),
               (e) => done({error: String(e)}));",
            vec![
                json!(format!("{}/sdk.mjs", server.url)),
                json!(server.url),
                json!(token),
            ],
        )
        .await
        .expect("import /sdk.mjs");
    assert_eq!(
        module,
        json!({"same": true, "kind": "function", "made": "function"})
    );
    env.browser.finish(test).await;
}

/// Presses Tab until the focused element matches `css` (at most `max` times); the ids of
/// the elements passed on the way otherwise.
async fn tab_to(browser: &Browser, css: &str, max: usize) {
    let mut passed = Vec::new();
    for _ in 0..max {
        let here = browser
            .js(
                "const a = document.activeElement; return [a.matches(arguments[0]), a.id || a.tagName + (a.dataset.provider ? '[' + a.dataset.provider + ']' : '')];",
                vec![json!(css)],
            )
            .await;
        if here[0] == json!(true) {
            return;
        }
        passed.push(here[1].as_str().unwrap_or_default().to_owned());
        browser.keys(TAB).await;
    }
    browser
        .fail(&format!(
            "Tab did not reach `{css}` in {max} presses; focus went through {passed:?}"
        ))
        .await;
}

/// Whether the focused element shows where the focus is (an outline or a box shadow).
async fn focus_visible(browser: &Browser) -> (String, bool) {
    let value = browser
        .js(
            "const a = document.activeElement; const s = getComputedStyle(a);
             const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
             return [a.id || a.tagName, outline || s.boxShadow !== 'none'];",
            vec![],
        )
        .await;
    (
        value[0].as_str().unwrap_or_default().to_owned(),
        value[1] == json!(true),
    )
}

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn the_whole_flow_by_keyboard_alone() {
    let test = "the_whole_flow_by_keyboard_alone";
    let Some(env) = Personio::start(test, |_| {}).await else {
        return;
    };
    let Personio {
        browser,
        fake,
        server,
        ..
    } = &env;
    let token = server
        .session("user-keys", &["personio", "personio-recruiting"])
        .await;
    browser.goto(&connect_url(server, &token, "")).await;
    browser.wait_screen("providers").await;
    tab_to(browser, "#provider-search", 10).await;
    browser.keys("recruit").await;
    tab_to(browser, "button[data-provider=\"personio-recruiting\"]", 10).await;
    let mut unfocused = Vec::new();
    let (id, visible) = focus_visible(browser).await;
    if !visible {
        unfocused.push(id);
    }
    browser.keys(ENTER).await;
    browser.wait_screen("form").await;

    let values = [
        ("field-params-companyId", "33434"),
        ("field-params-company", "company-b"),
        ("field-params-partnerId", "YOUR_CUSTOM_NAME"),
        ("field-params-appId", "UNIQUE_ID"),
        ("field-credentials-apiKey", FakePersonio::API_KEY),
    ];
    let mut filled = Vec::new();
    let mut submitted = false;
    for _ in 0..40 {
        let id = browser
            .js("return document.activeElement.id;", vec![])
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let (_, visible) = focus_visible(browser).await;
        if !visible && !id.is_empty() {
            unfocused.push(id.clone());
        }
        if let Some((_, value)) = values.iter().find(|(field, _)| *field == id)
            && !filled.contains(&id)
        {
            browser.keys(value).await;
            filled.push(id);
        } else if id == "connect-submit" {
            browser.keys(ENTER).await;
            submitted = true;
            break;
        }
        browser.keys(TAB).await;
    }
    if !submitted {
        browser
            .fail(&format!(
                "Tab never reached an enabled Connect button; filled {filled:?}"
            ))
            .await;
    }
    assert_eq!(filled.len(), values.len(), "every field by Tab: {filled:?}");
    browser.wait_screen("success").await;
    assert_eq!(fake.count("/xml"), 1, "the key was verified once");
    browser.assert_no_csp_violation().await;
    unfocused.dedup();
    assert!(
        unfocused.is_empty(),
        "focused without a visible focus indicator: {unfocused:?}"
    );
    env.browser.finish(test).await;
}

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn german_with_the_catalogs_text_as_written() {
    let test = "german_with_the_catalogs_text_as_written";
    let Some(env) = Personio::start(test, |_| {}).await else {
        return;
    };
    let Personio {
        browser, server, ..
    } = &env;
    let token = env.open_form("user-de", &["personio"]).await;
    browser.fill(PARTNER, "acme").await;
    let english_error = browser
        .wait_for(
            &format!("document.querySelector('{PARTNER_ERROR}').textContent.trim()"),
            "the English error",
        )
        .await;
    let english_submit = browser.text(SUBMIT).await;
    // The README's picture: the whole form, the rule explained under the field.
    browser.fill(APP, "MY_APP").await;
    browser.client.set_window_size(760, 1100).await.unwrap();
    browser.screenshot("readme-personio-form").await;
    browser.client.set_window_size(1280, 900).await.unwrap();

    browser.goto(&connect_url(server, &token, "de")).await;
    browser.wait_screen("form").await;
    assert_eq!(
        browser
            .js("return document.documentElement.lang;", vec![])
            .await,
        json!("de")
    );
    let german_submit = browser.text(SUBMIT).await;
    assert_ne!(german_submit, english_submit, "the button speaks German");
    // The catalog's own text stays as written.
    let label = browser.text("label[for=\"field-params-partnerId\"]").await;
    assert!(label.starts_with("Partner ID"), "{label}");
    let help = browser.text("#field-params-partnerId-help").await;
    assert!(help.starts_with("Identifies your company"), "{help}");
    browser.fill(PARTNER, "acme").await;
    let german_error = browser
        .wait_for(
            &format!("document.querySelector('{PARTNER_ERROR}').textContent.trim()"),
            "the German error",
        )
        .await;
    assert_ne!(german_error, english_error, "the message is German");
    let german = german_error.as_str().unwrap_or_default();
    assert!(
        german.contains("\"acme\"") && german.contains("UPPER_SNAKE_CASE"),
        "{german}"
    );
    println!("German: {german_submit:?}; {german}");
    browser.assert_no_csp_violation().await;
    browser.screenshot("form-personio-de").await;

    // Through the SDK: `openConnectUI({lang: 'de'})`.
    open_app(browser, &env.app, server, &token).await;
    browser.js("window.uiLang = 'de';", vec![]).await;
    open_connect_ui(browser).await;
    browser.wait_screen("form").await;
    assert_eq!(
        browser
            .js("return document.documentElement.lang;", vec![])
            .await,
        json!("de")
    );
    assert_eq!(browser.text(SUBMIT).await, german_submit);
    env.browser.finish(test).await;
}

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn no_serious_accessibility_violation_in_light_and_dark() {
    let test = "no_serious_accessibility_violation_in_light_and_dark";
    let Some(env) = Personio::start(test, |_| {}).await else {
        return;
    };
    let Personio {
        browser, server, ..
    } = &env;
    let token = server.session("user-a11y", &[]).await;
    for dark in [false, true] {
        let theme = if dark { "dark" } else { "light" };
        browser.goto(&connect_url(server, &token, "")).await;
        browser.color_scheme(dark).await;
        browser.wait_screen("providers").await;
        browser.fill("#provider-search", "personio").await;
        browser.screenshot(&format!("providers-{theme}")).await;
        browser
            .assert_accessible(&format!("providers, {theme}"))
            .await;
        browser.click("button[data-provider=\"personio\"]").await;
        browser.wait_screen("form").await;
        browser.fill(PARTNER, "acme").await;
        browser
            .wait_for(
                &format!("document.querySelector('{PARTNER_ERROR}').textContent.trim()"),
                "the Partner ID's error",
            )
            .await;
        browser
            .screenshot(&format!("form-personio-invalid-{theme}"))
            .await;
        browser
            .assert_accessible(&format!("Personio's form with an error, {theme}"))
            .await;
    }
    env.browser.finish(test).await;
}

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn the_session_token_leaves_the_url_after_the_first_load_and_the_csp_holds() {
    let test = "the_session_token_leaves_the_url_after_the_first_load_and_the_csp_holds";
    let Some(env) = Personio::start(test, |_| {}).await else {
        return;
    };
    let Personio { browser, .. } = &env;
    let token = env.open_form("user-url", &["personio"]).await;
    let href = browser.js("return location.href;", vec![]).await;
    let href = href.as_str().unwrap_or_default();
    assert!(
        !href.contains(&token) && !href.contains("session_token"),
        "{href}"
    );
    // Nothing the page fetched carried it in a URL either.
    let fetched = browser
        .js(
            "return performance.getEntriesByType('resource').map(e => e.name);",
            vec![],
        )
        .await;
    assert!(
        !fetched.to_string().contains(&token),
        "the token in a URL fetched: {fetched}"
    );
    browser.assert_no_csp_violation().await;
    // The page's CSP is in force: an inline script is refused.
    browser
        .js(
            "const s = document.createElement('script'); s.textContent = 'window.inlineRan = true;'; document.body.appendChild(s);",
            vec![],
        )
        .await;
    let refused = browser
        .wait_for(
            "window.__terapiCsp.length > 0 && window.__terapiCsp",
            "the CSP refuses an inline script",
        )
        .await;
    assert!(refused.to_string().contains("script-src"), "{refused}");
    assert_eq!(
        browser
            .js("return window.inlineRan === true;", vec![])
            .await,
        json!(false)
    );
    env.browser.finish(test).await;
}

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn the_form_rendered_mark() {
    let test = "the_form_rendered_mark";
    let Some(env) = Personio::start(test, |_| {}).await else {
        return;
    };
    let Personio {
        browser, server, ..
    } = &env;
    let token = server.session("user-timing", &["personio"]).await;
    // Five loads by default; server/benches/report_connect.sh asks for more.
    let runs: usize = std::env::var("TERAPI_FORM_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=500).contains(n))
        .unwrap_or(5);
    let mut times = Vec::new();
    for _ in 0..runs {
        browser.goto(&connect_url(server, &token, "")).await;
        browser.wait_screen("form").await;
        match browser.form_rendered_ms().await {
            Some(ms) => times.push(ms),
            None => browser.fail("no `terapi:form-rendered` mark").await,
        }
    }
    times.sort_by(f64::total_cmp);
    // One line for scripts: `form-rendered ms: median M, all [a, b, ...]` (sorted).
    let all: Vec<String> = times.iter().map(|t| format!("{t:.1}")).collect();
    println!(
        "form-rendered ms: median {:.1}, all [{}]",
        times[times.len() / 2],
        all.join(", ")
    );
    env.browser.finish(test).await;
}

/// The message the server gives for `field` = `value` on `personio-recruiting` (the rest of
/// the seed's values valid).
async fn server_message(server: &crate::support::TestServer, field: &str, value: &str) -> String {
    let token = server.session("validator", &["personio-recruiting"]).await;
    let mut body = seed_options("YOUR_CUSTOM_NAME");
    body["params"][field] = json!(value);
    let (status, answer) = server
        .post("/auth/personio-recruiting", &token, &body)
        .await;
    assert_eq!(status, 422, "{field} = {value:?}: {answer}");
    answer["error"]["fields"]
        .as_array()
        .and_then(|fields| fields.iter().find(|f| f["param"] == field))
        .and_then(|f| f["message"].as_str())
        .unwrap_or_else(|| panic!("{field} = {value:?}: no message in {answer}"))
        .to_owned()
}

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn the_page_words_every_problem_as_the_server_does() {
    let test = "the_page_words_every_problem_as_the_server_does";
    let Some(env) = Personio::start(test, |_| {}).await else {
        return;
    };
    let Personio {
        browser, server, ..
    } = &env;
    let long_lower = "a".repeat(70);
    let long_upper = "A".repeat(65);
    let cases: &[(&str, &str)] = &[
        ("companyId", "33a"),
        ("companyId", ""),
        ("company", "company b"),
        ("company", "-abc"),
        ("company", &long_lower),
        ("partnerId", "acme"),
        ("partnerId", "ACME__X"),
        ("partnerId", &long_upper),
        ("partnerId", &long_lower),
        ("partnerId", "ÄCME"),
        ("partnerId", "AC\"ME"),
        ("partnerId", "A\u{7}B"),
        ("partnerId", "😀X"),
        ("appId", "unique id"),
    ];
    env.open_form("user-words", &["personio-recruiting"]).await;
    let mut differ = Vec::new();
    for (field, value) in cases {
        let expected = server_message(server, field, value).await;
        let input = format!("#field-params-{field}");
        // As typing would: the value, then `input` and `change` events.
        let shown = browser
            .js(
                "const input = document.querySelector(arguments[0]);
                 input.focus();
                 input.value = arguments[1];
                 input.dispatchEvent(new Event('input', {bubbles: true}));
                 input.dispatchEvent(new Event('change', {bubbles: true}));
                 input.blur();
                 return document.querySelector(arguments[0] + '-error').textContent.trim();",
                vec![json!(input), json!(value)],
            )
            .await;
        if shown != json!(expected) {
            differ.push(format!(
                "{field} = {value:?}\n    page:   {shown}\n    server: {expected:?}"
            ));
        }
        assert!(
            !browser.enabled(SUBMIT).await,
            "{field} = {value:?}: Connect is disabled"
        );
        // Back to a valid value.
        let valid = seed_options("YOUR_CUSTOM_NAME")["params"][field].clone();
        browser
            .js(
                "const input = document.querySelector(arguments[0]);
                 input.value = arguments[1];
                 input.dispatchEvent(new Event('input', {bubbles: true}));",
                vec![json!(input), valid],
            )
            .await;
    }
    assert!(
        differ.is_empty(),
        "the page and the server word these differently:\n{}",
        differ.join("\n")
    );
    env.browser.finish(test).await;
}

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn refused_credentials_are_said_on_the_form_masked_and_can_be_fixed() {
    let test = "refused_credentials_are_said_on_the_form_masked_and_can_be_fixed";
    let Some(env) = Personio::start(test, |_| {}).await else {
        return;
    };
    let Personio { browser, fake, .. } = &env;
    let wrong = "wrong-secret-3f9a";
    // The provider quotes the credentials it got; the server masks them.
    fake.set_echo_credentials(true);
    env.open_form("user-refused", &["personio"]).await;
    browser.fill(CLIENT_ID, FakePersonio::CLIENT_ID).await;
    browser.fill(CLIENT_SECRET, wrong).await;
    browser.click(SUBMIT).await;
    let kind = browser
        .wait_for(
            "document.querySelector('#form-error').dataset.errorType",
            "the refusal on the form",
        )
        .await;
    assert_eq!(kind, json!("invalid_credentials"));
    assert_eq!(browser.screen().await, "form", "the form stays");
    assert_eq!(
        browser.attr("#form-error", "role").await.as_deref(),
        Some("alert")
    );
    let said = browser.text("#form-error").await;
    assert!(!said.trim().is_empty());
    let page = browser
        .js("return document.body.innerText;", vec![])
        .await
        .to_string();
    assert!(!page.contains(wrong), "the secret is not shown: {said}");
    browser.screenshot("form-personio-refused").await;

    browser
        .fill(CLIENT_SECRET, FakePersonio::CLIENT_SECRET)
        .await;
    browser.click(SUBMIT).await;
    browser.wait_screen("success").await;
    browser.assert_no_csp_violation().await;
    env.browser.finish(test).await;
}
