//! A real browser for the tests: chromedriver on a free loopback port, driving a headless
//! Chromium with a fresh profile, and what the tests ask of it (a screen of the connect page,
//! screenshots, the dark theme, an accessibility check with axe-core, the form's timing).
//!
//! Without chromedriver the tests print a skip line and pass, unless
//! `TERAPI_REQUIRE_BROWSER=1` (CI), where they fail saying what to install.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// Chromium's arguments: headless, nothing fetched from the network, one window size.
const CHROME_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
];

/// Run in every new document of the tab before its own scripts: what its CSP refuses lands
/// in `window.__terapiCsp`.
const CSP_RECORDER: &str = "window.__terapiCsp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__terapiCsp.push(
  e.effectiveDirective + ' refused ' + (e.blockedURI || '(inline)') + ' at ' + (e.sourceFile || '') + ':' + (e.lineNumber || 0)));";

/// How long a screen may take to appear.
pub const SCREEN_TIMEOUT: Duration = Duration::from_secs(15);

/// One browser at a time: two cores, and each Chromium takes several processes.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether a missing browser fails the test (CI) instead of skipping it.
fn required() -> bool {
    std::env::var("TERAPI_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

/// `chromedriver`: `$TERAPI_CHROMEDRIVER` when set (none when it is not a file),
/// `/usr/bin/chromedriver`, or the first on `PATH`.
fn chromedriver() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TERAPI_CHROMEDRIVER") {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let debian = Path::new("/usr/bin/chromedriver");
    if debian.is_file() {
        return Some(debian.to_owned());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("chromedriver"))
        .find(|path| path.is_file())
}

/// A free port on 127.0.0.1 (free when asked; chromedriver binds it right after).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The workspace's target directory: the one this test binary was built in
/// (`<target>/debug/deps/server-…`), else `$CARGO_TARGET_DIR`, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    if let Ok(exe) = std::env::current_exe()
        && let Some(deps) = exe.parent()
        && deps.file_name().is_some_and(|n| n == "deps")
        && let Some(target) = deps.parent().and_then(Path::parent)
    {
        return target.to_owned();
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the server crate is in the workspace");
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    }
}

/// Where screenshots go: `$TERAPI_SCREENSHOTS`, else `<target>/connect-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    let dir = match std::env::var_os("TERAPI_SCREENSHOTS") {
        Some(dir) => PathBuf::from(dir),
        None => target_dir().join("connect-screenshots"),
    };
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("create the screenshot directory {}: {e}", dir.display()));
    dir
}

/// A chromedriver command passed through to the Chrome DevTools Protocol
/// (`POST /session/{id}/goog/cdp/execute`).
#[derive(Debug)]
struct Cdp {
    method: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"cmd": self.method, "params": self.params});
        (http::Method::POST, Some(body.to_string()))
    }
}

/// A headless Chromium under chromedriver; both end when this is dropped (chromedriver
/// runs in its own process group, which is killed).
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    driver: Option<Child>,
    _profile: tempfile::TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
    started: Instant,
}

impl Browser {
    /// A browser, or `None` (a printed skip) when chromedriver is missing and not required.
    pub async fn start(test: &str) -> Option<Browser> {
        let Some(driver_path) = chromedriver() else {
            if required() {
                panic!(
                    "{test}: no chromedriver (looked at $TERAPI_CHROMEDRIVER, /usr/bin/chromedriver, PATH); \
                     install Debian's `chromium` and `chromium-driver` (apt-get install chromium chromium-driver)"
                );
            }
            println!(
                "skipped {test}: no chromedriver (install chromium and chromium-driver; TERAPI_REQUIRE_BROWSER=1 makes this fail)"
            );
            return None;
        };
        let turn = ONE_AT_A_TIME.lock().await;
        let started = Instant::now();
        let port = free_port();
        let driver = {
            use std::os::unix::process::CommandExt as _;
            Command::new(&driver_path)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", driver_path.display()))
        };
        let profile = tempfile::tempdir().expect("a temporary profile directory");
        let webdriver = format!("http://127.0.0.1:{port}");
        let mut guard = DriverGuard(Some(driver));
        wait_until_ready(&webdriver).await;
        let mut args: Vec<String> = CHROME_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut options = json!({
            "args": args,
            // chromedriver turns the popup blocker off by default; the tests need it on (a
            // popup without a user's click is blocked, as in a real browser).
            "excludeSwitches": ["disable-popup-blocking"],
        });
        if let Some(binary) = std::env::var_os("TERAPI_CHROME") {
            options["binary"] = json!(binary.to_string_lossy());
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|e| panic!("{test}: a browser session through chromedriver: {e}"));
        let browser = Browser {
            client,
            driver: guard.0.take(),
            _profile: profile,
            _turn: turn,
            started,
        };
        // Every document of the tab records what its Content-Security-Policy refused.
        browser
            .client
            .issue_cmd(Cdp {
                method: "Page.addScriptToEvaluateOnNewDocument",
                params: json!({"source": CSP_RECORDER}),
            })
            .await
            .unwrap_or_else(|e| panic!("{test}: record CSP violations: {e}"));
        Some(browser)
    }

    /// Ends the session (Chromium quits), then chromedriver; prints how long the browser ran.
    pub async fn finish(mut self, test: &str) {
        let _ = self.client.clone().close().await;
        if let Some(mut driver) = self.driver.take() {
            kill_group(&mut driver);
        }
        println!(
            "browser test {test}: {:.1} s with the browser",
            self.started.elapsed().as_secs_f64()
        );
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Runs `script` like [`Browser::js`]; the error as text (e.g. while the page navigates).
    pub async fn try_js(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.client
            .execute(script, args)
            .await
            .map_err(|e| e.to_string())
    }

    /// Goes to `url`.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("go to {url}: {e}"));
    }

    /// The page's `document.body.dataset.screen` (empty before there is one).
    pub async fn screen(&self) -> String {
        match self
            .try_js(
                "return (document.body && document.body.dataset.screen) || '';",
                vec![],
            )
            .await
        {
            Ok(value) => value.as_str().unwrap_or_default().to_owned(),
            Err(e) => format!("(no answer: {e})"),
        }
    }

    /// Waits for the error screen and checks its `data-error-type`.
    pub async fn expect_error(&self, kind: &str) {
        self.wait_screen("error").await;
        assert_eq!(
            self.attr("#screen-error", "data-error-type")
                .await
                .as_deref(),
            Some(kind),
            "the error screen's type"
        );
    }

    /// Enters the (first) frame of the top-level page: the connect page in the SDK's modal.
    pub async fn enter_frame(&self) {
        self.client
            .clone()
            .enter_frame(0)
            .await
            .expect("enter the connect page's frame");
    }

    /// Waits until `document.body.dataset.screen == screen`; on timeout fails with the
    /// screen shown, the URL, the page's text and a screenshot.
    pub async fn wait_screen(&self, screen: &str) {
        let deadline = Instant::now() + SCREEN_TIMEOUT;
        loop {
            let now = self.screen().await;
            if now == screen {
                return;
            }
            if Instant::now() > deadline {
                self.fail(&format!(
                    "the screen `{screen}` did not appear within {SCREEN_TIMEOUT:?} (it is `{now}`)"
                ))
                .await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the JavaScript expression `condition` is truthy; its last value otherwise.
    pub async fn wait_for(&self, condition: &str, what: &str) -> Value {
        let deadline = Instant::now() + SCREEN_TIMEOUT;
        let script = format!("return ({condition});");
        let mut last_error = String::new();
        loop {
            let value = match self.try_js(&script, vec![]).await {
                Ok(value) => value,
                Err(e) => {
                    // The page may be between two documents.
                    last_error = e;
                    Value::Null
                }
            };
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            if Instant::now() > deadline {
                self.fail(&format!(
                    "{what}: `{condition}` did not hold within {SCREEN_TIMEOUT:?} (last value {value}; last script error: {last_error})"
                ))
                .await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails the test with `message`, the URL, the screen, the page's text and a screenshot.
    pub async fn fail(&self, message: &str) -> ! {
        let url = self
            .client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        let screen = self.screen().await;
        let text = self
            .try_js(
                "return document.body ? document.body.innerText : document.documentElement.outerHTML;",
                vec![],
            )
            .await
            .unwrap_or_else(Value::String);
        let shot = self
            .screenshot(&format!("failure-{}", sanitize(message)))
            .await;
        panic!(
            "{message}\n  url: {url}\n  screen: {screen:?}\n  screenshot: {}\n  page text:\n{}",
            shot.display(),
            text.as_str().unwrap_or_default()
        );
    }

    /// Saves a screenshot of the window as `<screenshots>/<name>.png`; its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let path = screenshot_dir().join(format!("{name}.png"));
        match self.client.screenshot().await {
            Ok(png) => std::fs::write(&path, png)
                .unwrap_or_else(|e| panic!("write {}: {e}", path.display())),
            Err(e) => println!("no screenshot {name}: {e}"),
        }
        path
    }

    /// The element `css`.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => self.fail(&format!("no element `{css}`: {e}")).await,
        }
    }

    /// Types `text` into the element `css` (after clearing it).
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        element
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Clicks the element `css` (a user's click: it gives the page user activation).
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        if let Err(e) = element.click().await {
            self.fail(&format!("click {css}: {e}")).await;
        }
    }

    /// The text of the element `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// Whether the element `css` is enabled.
    pub async fn enabled(&self, css: &str) -> bool {
        self.find(css)
            .await
            .is_enabled()
            .await
            .unwrap_or_else(|e| panic!("is {css} enabled: {e}"))
    }

    /// The attribute `name` of the element `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css)
            .await
            .attr(name)
            .await
            .unwrap_or_else(|e| panic!("attribute {name} of {css}: {e}"))
    }

    /// Runs `script` without user activation: WebDriver runs scripts as if the user had
    /// just clicked, so the script first spends that activation on a popup (which consumes
    /// it) and closes it; a `window.open` in `script` is then blocked like one without a
    /// click. Fails when the popup blocker is off.
    pub async fn js_without_activation(&self, script: &str) {
        let blocked = self
            .js(
                &format!(
                    "const spent = window.open('about:blank', 'terapi-spent', 'popup');
                     if (spent) spent.close();
                     const probe = window.open('about:blank', 'terapi-probe', 'popup');
                     if (probe) {{ probe.close(); return false; }}
                     {script}
                     ;return true;"
                ),
                vec![],
            )
            .await;
        assert_eq!(
            blocked,
            json!(true),
            "a popup without user activation is blocked (is the popup blocker on?)"
        );
    }

    /// Sends `keys` to the focused element (WebDriver key codes, e.g. [`TAB`]).
    pub async fn keys(&self, keys: &str) {
        let focused = self
            .client
            .active_element()
            .await
            .unwrap_or_else(|e| panic!("the focused element: {e}"));
        focused
            .send_keys(keys)
            .await
            .unwrap_or_else(|e| panic!("keys {keys:?}: {e}"));
    }

    /// Fails when the current document's Content-Security-Policy refused anything (an inline
    /// script or style, another origin) since it loaded.
    pub async fn assert_no_csp_violation(&self) {
        let refused = self.js("return window.__terapiCsp || null;", vec![]).await;
        match refused.as_array() {
            Some(list) if list.is_empty() => {}
            Some(_) => self.fail(&format!("the CSP refused: {refused}")).await,
            None => self.fail("no CSP recorder in this document").await,
        }
    }

    /// Emulates `prefers-color-scheme: dark` (`true`) or light for the current tab, through
    /// the DevTools protocol.
    pub async fn color_scheme(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        self.client
            .issue_cmd(Cdp {
                method: "Emulation.setEmulatedMedia",
                params: json!({"features": [{"name": "prefers-color-scheme", "value": value}]}),
            })
            .await
            .unwrap_or_else(|e| panic!("emulate prefers-color-scheme: {value}: {e}"));
        let matches = self
            .js(
                &format!("return matchMedia('(prefers-color-scheme: {value})').matches;"),
                vec![],
            )
            .await;
        assert_eq!(matches, json!(true), "the emulated color scheme is {value}");
    }

    /// `performance.getEntriesByName("terapi:form-rendered")[0].startTime`: milliseconds
    /// from the start of the navigation to the form in the DOM (`None` without the mark).
    pub async fn form_rendered_ms(&self) -> Option<f64> {
        self.js(
            "const e = performance.getEntriesByName('terapi:form-rendered')[0]; return e ? e.startTime : null;",
            vec![],
        )
        .await
        .as_f64()
    }

    /// The axe-core check of the current document: fails on every `serious` or `critical`
    /// violation, listing them. Skipped (printed) without axe-core (`axe_source`), unless
    /// `TERAPI_REQUIRE_BROWSER=1`.
    pub async fn assert_accessible(&self, context: &str) {
        let Some(axe) = axe_source() else {
            return;
        };
        let loaded = self
            .js(
                &format!("{axe}\n;return typeof window.axe === 'object' || typeof window.axe === 'function';"),
                vec![],
            )
            .await;
        assert_eq!(loaded, json!(true), "axe-core loads into the page");
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']})
                   .then(r => done({violations: r.violations.map(v => ({
                       id: v.id, impact: v.impact, help: v.help,
                       nodes: v.nodes.map(n => n.target.join(' ') + ': ' + (n.failureSummary || '')),
                   }))}))
                   .catch(e => done({error: String(e)}));",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("{context}: axe.run: {e}"));
        if let Some(error) = result.get("error") {
            panic!("{context}: axe.run failed: {error}");
        }
        let violations = result["violations"].as_array().cloned().unwrap_or_default();
        let serious: Vec<&Value> = violations
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        let minor: Vec<String> = violations
            .iter()
            .filter(|v| !matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| format!("{} ({})", v["id"], v["impact"]))
            .collect();
        println!(
            "axe {context}: {} serious or critical, others: {minor:?}",
            serious.len()
        );
        if !serious.is_empty() {
            let shot = self.screenshot(&format!("axe-{}", sanitize(context))).await;
            let listed: Vec<String> = serious
                .iter()
                .map(|v| {
                    format!(
                        "- {} ({}): {}\n    {}",
                        v["id"].as_str().unwrap_or_default(),
                        v["impact"].as_str().unwrap_or_default(),
                        v["help"].as_str().unwrap_or_default(),
                        v["nodes"]
                            .as_array()
                            .map(|n| n
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join("\n    "))
                            .unwrap_or_default()
                    )
                })
                .collect();
            panic!(
                "{context}: axe-core finds serious violations (screenshot {}):\n{}",
                shot.display(),
                listed.join("\n")
            );
        }
    }
}

/// axe.min.js from `$TERAPI_AXE_JS`, else from `<target>/axe/axe.min.js` (where `.ci/axe.sh
/// target/axe` puts it); `None` (printed) when neither is there and it is not required.
fn axe_source() -> Option<String> {
    let path = match std::env::var_os("TERAPI_AXE_JS") {
        Some(path) => PathBuf::from(path),
        None => target_dir().join("axe").join("axe.min.js"),
    };
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(e) if required() => panic!(
            "axe-core's axe.min.js at {} ({e}): run `.ci/axe.sh target/axe`, or set TERAPI_AXE_JS",
            path.display()
        ),
        Err(_) => {
            println!(
                "accessibility check skipped: no axe-core at {} (run `.ci/axe.sh target/axe`, or set TERAPI_AXE_JS)",
                path.display()
            );
            None
        }
    }
}

/// A file name out of a sentence.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(60)
        .collect()
}

/// WebDriver's Tab key.
pub const TAB: &str = "\u{e004}";
/// WebDriver's Enter key.
pub const ENTER: &str = "\u{e007}";
/// WebDriver's Escape key.
pub const ESCAPE: &str = "\u{e00c}";

/// Kills chromedriver and everything it started (its process group).
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// Kills chromedriver if the browser never came up.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            kill_group(child);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(mut driver) = self.driver.take() {
            kill_group(&mut driver);
        }
    }
}

/// Waits until chromedriver answers `GET /status`.
async fn wait_until_ready(webdriver: &str) {
    let http = terapi_test_support::http_client()
        .build()
        .expect("an HTTP client");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = http.get(format!("{webdriver}/status")).send().await
            && response.status().is_success()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not answer at {webdriver} within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
