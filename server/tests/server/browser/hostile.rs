//! A hostile catalog: markup and scripts in a provider's display name, a param's title,
//! description and example, and a `javascript:` docs link. The page shows them as text and
//! runs none of them.

use serde_json::json;
use terapi_test_support::fake_personio::FakePersonio;

use super::connect_url;
use super::harness::Browser;
use crate::support::{Options, TestServer};

const CATALOG: &str = r#"
hostile:
    display_name: '<img src=x onerror="window.pwned=1">Hostile'
    auth_mode: API_KEY
    proxy:
        base_url: https://${connectionConfig.region}.hostile.example
        headers:
            authorization: Bearer ${apiKey}
    docs: 'javascript:window.pwned=2'
    connection_config:
        region:
            type: string
            title: '<b onmouseover="window.pwned=3">Region</b>'
            description: '<script>window.pwned=4</script>Where the account lives'
            example: '"><img src=x onerror="window.pwned=5">'
            pattern: '^[a-z]+$'
    credentials:
        apiKey:
            type: string
            title: API key
            secret: true
"#;

#[tokio::test]
#[ignore = "slow tier: a real browser (chromium, chromium-driver)"]
async fn a_hostile_catalogs_text_is_shown_as_text_and_never_run() {
    let test = "a_hostile_catalogs_text_is_shown_as_text_and_never_run";
    let Some(browser) = Browser::start(test).await else {
        return;
    };
    let fake = FakePersonio::start().await;
    let server = TestServer::start(Options::new(&fake.origin()).with_catalog(CATALOG))
        .await
        .expect("a server");
    let token = server.session("user-hostile", &["hostile"]).await;
    browser.goto(&connect_url(&server, &token, "")).await;
    browser.wait_screen("form").await;
    // Hovering the title and waiting a moment give any injected handler its chance.
    browser.find("label[for=\"field-params-region\"]").await;
    browser
        .js(
            "document.querySelector('label[for=\"field-params-region\"]').dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));",
            vec![],
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let found = browser
        .js(
            "return {
                pwned: window.pwned === undefined ? null : window.pwned,
                injected: document.querySelectorAll('main img, main b, main script:not([src])').length,
                heading: document.querySelector('h1').textContent,
                label: document.querySelector('label[for=\"field-params-region\"]').textContent,
                placeholder: document.querySelector('#field-params-region').placeholder,
                scripts: [...document.links].filter(a => !/^https?:/.test(a.href)).map(a => a.href),
            };",
            vec![],
        )
        .await;
    assert_eq!(found["pwned"], json!(null), "{found}");
    assert_eq!(found["injected"], json!(0), "{found}");
    assert!(
        found["heading"]
            .as_str()
            .is_some_and(|h| h.contains("<img src=x")),
        "the display name as text: {found}"
    );
    assert!(
        found["label"]
            .as_str()
            .is_some_and(|l| l.contains("<b onmouseover")),
        "{found}"
    );
    assert_eq!(
        found["placeholder"],
        json!("\"><img src=x onerror=\"window.pwned=5\">")
    );
    assert_eq!(found["scripts"], json!([]), "no javascript: link: {found}");
    browser.assert_no_csp_violation().await;
    browser.screenshot("form-hostile-catalog").await;
    browser.finish(test).await;
}
