//! The application's page: another origin on loopback (its own port), which loads the
//! server's `/sdk.js`, and whose buttons call the SDK, so that a WebDriver click is a user's
//! click (popups need one; a script run by WebDriver is not, which is how a popup gets
//! blocked). Every SDK event lands in `window.events`, every `auth` outcome in
//! `window.results` (`{ok: value}` or `{err: {type, message, fields}}`); `window.sdkReady` is
//! `loaded` or `failed` once `/sdk.js` has been fetched, and `window.redirected` the result of
//! `Terapi.redirectResult()` (the outcome of an OAuth redirect fallback, or `null`).

use std::collections::HashMap;

use axum::extract::Query;
use axum::response::Html;
use tokio::sync::oneshot;

/// The application's page, served until dropped.
pub struct App {
    /// `http://127.0.0.1:PORT`: add it to the server's `connect_origins`.
    pub origin: String,
    _stop: oneshot::Sender<()>,
}

impl App {
    /// Serves the page on a free loopback port.
    pub async fn start() -> App {
        let app = axum::Router::new().route("/", axum::routing::get(page));
        let (origin, stop) = terapi_test_support::loopback::serve(app).await;
        App {
            origin,
            _stop: stop,
        }
    }

    /// The page for the server at `host` with the session `token`.
    pub fn url(&self, host: &str, token: &str) -> String {
        let mut url = url::Url::parse(&self.origin).expect("the app's origin");
        url.query_pairs_mut()
            .append_pair("host", host)
            .append_pair("token", token);
        url.into()
    }
}

/// The page: `?host=` (the server) and `?token=` (the connect session).
async fn page(Query(query): Query<HashMap<String, String>>) -> Html<String> {
    let host = query.get("host").cloned().unwrap_or_default();
    let config = serde_json::json!({
        "host": host,
        "token": query.get("token").cloned().unwrap_or_default(),
    })
    .to_string()
    .replace('<', "\\u003c");
    let sdk = serde_json::to_string(&format!("{host}/sdk.js"))
        .expect("a string")
        .replace('<', "\\u003c");
    Html(PAGE.replace("{{config}}", &config).replace("{{sdk}}", &sdk))
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>An application</title>
<script>
window.events = [];
window.results = [];
window.sdkLoaded = new Promise((resolve) => {
  const script = document.createElement('script');
  script.src = {{sdk}};
  script.onload = () => resolve(true);
  script.onerror = () => resolve(false);
  document.head.appendChild(script);
});
</script>
</head>
<body>
<main>
<h1>An application</h1>
<button type="button" id="open">Connect an account</button>
<button type="button" id="auth">Connect with terapi.auth</button>
<pre id="log"></pre>
</main>
<script>
const config = {{config}};
function log(line) {
  document.getElementById('log').textContent += line + '\n';
}
// One SDK object for the page, as an application makes it (it learns how each provider
// connects at once, so that `auth` opens an OAuth popup while the click still counts).
let sdk = null;
window.sdkLoaded.then((ok) => {
  if (ok && typeof window.Terapi === 'function') {
    // After a redirect fallback, the result the server put in the address.
    window.redirected = window.Terapi.redirectResult();
    if (config.token) sdk = new window.Terapi({host: config.host, connectSessionToken: config.token});
  }
  window.sdkReady = ok ? 'loaded' : 'failed';
});
function terapi() {
  if (!sdk) throw new Error('window.Terapi is missing: /sdk.js did not load');
  return sdk;
}
// `terapi.auth(...)` with `window.authArgs` = [provider, connectionId, options].
window.runAuth = function () {
  const [provider, connectionId, options] = window.authArgs;
  let call;
  try {
    call = terapi().auth(provider, connectionId, options);
  } catch (e) {
    call = Promise.reject(e);
  }
  call.then(
    (value) => { window.results.push({ok: JSON.parse(JSON.stringify(value))}); log('resolved ' + JSON.stringify(value)); },
    (e) => {
      const err = {type: e && e.type, message: e && e.message, fields: (e && e.fields) || null};
      window.results.push({err});
      log('rejected ' + JSON.stringify(err));
    });
};
window.openUI = function () {
  window.ui = terapi().openConnectUI({
    lang: window.uiLang,
    onEvent: (event) => {
      window.events.push(JSON.parse(JSON.stringify(event)));
      log('event ' + JSON.stringify(event));
    },
  });
};
document.getElementById('open').addEventListener('click', () => window.openUI());
document.getElementById('auth').addEventListener('click', () => window.runAuth());
</script>
</body>
</html>
"#;
