//! The connect page and the frontend SDK, embedded in the binary (`server/connect/`, plain
//! HTML, CSS and JavaScript: no build step).
//!
//! - `GET /connect[?session_token=…][&lang=de][&origin=…]`: the page an end user connects an
//!   account in. Its Content-Security-Policy runs only the server's own script and lets only
//!   the configured connect origins frame it; it is never cached and sends no Referer.
//! - `GET /connect/assets/connect.js|connect.css`: its script and style (revalidated by ETag);
//!   `callback.js`, the script of the OAuth callback's page.
//! - `GET /sdk.js` (a classic script: `window.Terapi`) and `GET /sdk.mjs` (an ES module:
//!   `import Terapi from "…/sdk.mjs"`): `new Terapi({host, connectSessionToken})`.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use sha2::Digest as _;

use crate::config::ServerConfig;
use crate::state::Server;

const PAGE: &str = include_str!("../../connect/index.html");
const SCRIPT: &str = include_str!("../../connect/connect.js");
const STYLE: &str = include_str!("../../connect/connect.css");
/// The script of the OAuth callback's page (`/oauth/callback`).
const CALLBACK: &str = include_str!("../../connect/callback.js");
/// The SDK as a classic script: `Terapi` on the global object.
const SDK: &str = concat!(
    "/*! terapi connect SDK */\n(function (root) {\nvar Terapi = (function () {\n",
    include_str!("../../connect/sdk.js"),
    "\n})();\nroot.Terapi = Terapi;\n})(typeof self !== \"undefined\" ? self : this);\n"
);
/// The SDK as an ES module.
const SDK_MODULE: &str = concat!(
    "/*! terapi connect SDK */\nconst Terapi = (function () {\n",
    include_str!("../../connect/sdk.js"),
    "\n})();\nexport { Terapi };\nexport default Terapi;\n"
);

/// The languages of the page (`?lang=`); anything else is English.
const LANGUAGES: &[&str] = &["en", "de"];

pub(crate) fn routes(config: &ServerConfig) -> Router<Server> {
    let pages = Arc::new(Pages::new(config));
    Router::new()
        .route("/connect", get(move |query| page(pages.clone(), query)))
        .route("/connect/assets/connect.js", get(script))
        .route("/connect/assets/connect.css", get(style))
        .route("/connect/assets/callback.js", get(callback))
        .route("/sdk.js", get(sdk))
        .route("/sdk.mjs", get(sdk_module))
}

/// The page filled in for this server, once per language, and its Content-Security-Policy:
/// made when the router is built, so a request only picks one.
struct Pages {
    /// `(lang, html)`, English first.
    html: Vec<(&'static str, Bytes)>,
    csp: HeaderValue,
}

impl Pages {
    fn new(config: &ServerConfig) -> Pages {
        let origins = frame_origins(&config.connect_origins);
        let settings = json!({
            "origins": origins,
            "public_url": config.public_url.as_str().trim_end_matches('/'),
        });
        let filled = PAGE.replace("{{config}}", &script_json(&settings));
        let html = LANGUAGES
            .iter()
            .map(|lang| (*lang, Bytes::from(filled.replace("{{lang}}", lang))))
            .collect();
        let ancestors = if origins.is_empty() {
            "'none'".to_owned()
        } else {
            origins.join(" ")
        };
        let csp = format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors {ancestors}; base-uri 'none'; form-action 'none'"
        );
        Pages {
            html,
            // Only exact origins reach it (`frame_origins`), so it is a valid header value.
            csp: HeaderValue::from_str(&csp)
                .unwrap_or(HeaderValue::from_static("frame-ancestors 'none'")),
        }
    }
}

#[derive(Deserialize)]
struct PageQuery {
    lang: Option<String>,
}

/// The page, in `?lang=` (English by default). Any other query (`session_token`, `origin`)
/// is read by the page's script; the server neither logs nor echoes it.
async fn page(pages: Arc<Pages>, query: Result<Query<PageQuery>, QueryRejection>) -> Response {
    let asked = query.ok().and_then(|Query(q)| q.lang);
    let (_, html) = pages
        .html
        .iter()
        .find(|(lang, _)| {
            asked
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(lang))
        })
        .unwrap_or(&pages.html[0]);
    html_page(StatusCode::OK, html.clone(), pages.csp.clone())
}

/// An HTML page of the server's (the connect page, the OAuth callback's): `csp`, never
/// cached, no Referer sent from it, no content sniffing.
pub(crate) fn html_page(status: StatusCode, html: impl Into<Body>, csp: HeaderValue) -> Response {
    let mut response = (status, html.into()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The connect origins that are exactly an origin (`scheme://host[:port]`): only those may
/// frame the page or receive its events (a configured value with more in it never reaches a
/// header).
fn frame_origins(configured: &[String]) -> Vec<String> {
    configured
        .iter()
        .filter(|o| {
            url::Url::parse(o).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https") && u.origin().ascii_serialization() == **o
            })
        })
        .cloned()
        .collect()
}

/// JSON that can stand inside a `<script>` block: `<`, `>` and `&` escaped, so no text in it
/// can end the block.
pub(crate) fn script_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// An embedded file with its ETag.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: HeaderValue,
}

impl Asset {
    fn new(body: &'static str, content_type: &'static str) -> Asset {
        let digest = sha2::Sha256::digest(body.as_bytes());
        let etag = format!("\"{}\"", hex::encode(&digest[..12]));
        Asset {
            body,
            content_type,
            etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\"")),
        }
    }

    /// The file, or 304 when the client has it. `public`: readable from any origin (the SDK,
    /// which an ES module import fetches with CORS).
    fn serve(&self, request: &HeaderMap, public: bool) -> Response {
        let fresh = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|t| t.trim() == "*" || t.trim().as_bytes() == self.etag.as_bytes())
            });
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            (StatusCode::OK, self.body).into_response()
        };
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if public {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            headers.insert(
                "cross-origin-resource-policy",
                HeaderValue::from_static("cross-origin"),
            );
        }
        response
    }
}

static SCRIPT_ASSET: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(SCRIPT, "text/javascript; charset=utf-8"));
static STYLE_ASSET: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(STYLE, "text/css; charset=utf-8"));
static CALLBACK_ASSET: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(CALLBACK, "text/javascript; charset=utf-8"));
static SDK_ASSET: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(SDK, "text/javascript; charset=utf-8"));
static SDK_MODULE_ASSET: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(SDK_MODULE, "text/javascript; charset=utf-8"));

async fn script(headers: HeaderMap) -> Response {
    SCRIPT_ASSET.serve(&headers, false)
}

async fn style(headers: HeaderMap) -> Response {
    STYLE_ASSET.serve(&headers, false)
}

async fn callback(headers: HeaderMap) -> Response {
    CALLBACK_ASSET.serve(&headers, false)
}

async fn sdk(headers: HeaderMap) -> Response {
    SDK_ASSET.serve(&headers, true)
}

async fn sdk_module(headers: HeaderMap) -> Response {
    SDK_MODULE_ASSET.serve(&headers, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_origins_frame_the_page() {
        let configured = vec![
            "https://app.example".to_owned(),
            "https://app.example/path".to_owned(),
            "https://evil.example; script-src *".to_owned(),
            "http://127.0.0.1:8081".to_owned(),
            "javascript:alert(1)".to_owned(),
        ];
        assert_eq!(
            frame_origins(&configured),
            vec!["https://app.example", "http://127.0.0.1:8081"]
        );
    }

    #[test]
    fn script_json_cannot_end_its_block() {
        let text = script_json(&json!({"a": "</script><script>alert(1)</script>&"}));
        assert!(!text.contains('<') && !text.contains('>') && !text.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["a"], "</script><script>alert(1)</script>&");
    }

    #[test]
    fn the_page_and_its_files_fit_the_budget() {
        // The target is 100 KB compressed (server/benches/report_connect.sh prints the gzip
        // figure); the raw bytes staying under it keeps any compression under it too.
        let total = PAGE.len() + SCRIPT.len() + STYLE.len();
        assert!(total <= 100_000, "the connect page is {total} bytes");
    }

    #[test]
    fn both_sdk_forms_wrap_the_same_core() {
        assert!(SDK.contains("root.Terapi = Terapi;"));
        assert!(SDK_MODULE.ends_with("export { Terapi };\nexport default Terapi;\n"));
        assert!(PAGE.contains("{{config}}") && PAGE.contains("{{lang}}"));
    }
}
