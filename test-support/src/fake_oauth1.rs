//! A fake OAuth 1.0a provider (RFC 5849) on `127.0.0.1` and a random port. Every request's
//! signature is checked here by an implementation of §3.4 written for this test (base string,
//! parameter normalization, HMAC-SHA1 with the `hmac` and `sha1` crates, PLAINTEXT), not the
//! runtime's:
//! - `POST /oauth/request_token`: temporary credentials for an `oauth_callback`;
//! - `GET /oauth/authorize?oauth_token=…`: the user's consent, a 302 to the callback with
//!   `oauth_token` and `oauth_verifier`;
//! - `POST /oauth/access_token`: token credentials for the temporary ones and the verifier;
//! - `GET|POST /api/me`: a request signed with the token credentials (query and form body
//!   params signed too).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use tokio::sync::oneshot;

/// A catalog whose providers use the fake (through the origin override): `acme-oauth1`
/// (HMAC-SHA1, request and authorization params, scopes, an optional header param) and
/// `acme-plaintext` (PLAINTEXT).
pub const CATALOG: &str = include_str!("../catalogs/oauth1.yaml");

/// The consumer (the application's client).
pub const CONSUMER_KEY: &str = "consumer-key-1";
/// Its secret (with characters that need encoding).
pub const CONSUMER_SECRET: &str = "cs&secret/+=1";

#[derive(Default)]
struct Inner {
    /// Temporary token → (secret, callback, verifier once authorized).
    temporary: HashMap<String, (String, String, Option<String>)>,
    /// Token → secret.
    tokens: HashMap<String, String>,
    counter: u64,
}

/// The fake's state.
#[derive(Clone, Default)]
pub struct Fake {
    inner: Arc<Mutex<Inner>>,
    /// Signatures checked and found good.
    pub verified: Arc<AtomicU64>,
    /// The signature method of the last good request.
    pub last_method: Arc<Mutex<String>>,
    /// The query of the last authorization request.
    pub last_authorize_query: Arc<Mutex<String>>,
}

/// A running fake; it stops when dropped.
pub struct FakeOAuth1 {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// Its state.
    pub fake: Fake,
    _stop: oneshot::Sender<()>,
}

impl FakeOAuth1 {
    /// Starts a fake on a random loopback port.
    pub async fn start() -> FakeOAuth1 {
        let fake = Fake::default();
        let app = Router::new().fallback(handle).with_state(fake.clone());
        let (origin, stop) = super::loopback::serve(app).await;
        FakeOAuth1 {
            origin,
            fake,
            _stop: stop,
        }
    }
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (§3.6).
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn dec(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The params of an `Authorization: OAuth k="v", …` header, decoded.
fn oauth_params(value: &str) -> Option<Vec<(String, String)>> {
    let rest = value.strip_prefix("OAuth ")?;
    rest.split(',')
        .map(|item| {
            let (k, v) = item.trim().split_once('=')?;
            Some((dec(k), dec(v.trim_matches('"'))))
        })
        .collect()
}

fn form(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Checks a request's signature (§3.4) for the token secret `token_secret`; the oauth params
/// when it is good.
fn check(
    method: &str,
    base_uri: &str,
    query: &[(String, String)],
    body: &[(String, String)],
    authorization: Option<&str>,
    token_secret: &str,
) -> Result<(Vec<(String, String)>, String), String> {
    let oauth = oauth_params(authorization.ok_or("no Authorization")?).ok_or("not OAuth")?;
    if get(&oauth, "oauth_consumer_key") != Some(CONSUMER_KEY) {
        return Err("unknown consumer".into());
    }
    if get(&oauth, "oauth_version").is_some_and(|v| v != "1.0")
        || get(&oauth, "oauth_nonce").is_none_or(str::is_empty)
        || get(&oauth, "oauth_timestamp").is_none_or(|t| t.parse::<u64>().is_err())
    {
        return Err("bad protocol params".into());
    }
    let method_name = get(&oauth, "oauth_signature_method")
        .unwrap_or_default()
        .to_owned();
    let given = get(&oauth, "oauth_signature")
        .ok_or("no signature")?
        .to_owned();
    let mut params: Vec<(String, String)> = oauth
        .iter()
        .filter(|(k, _)| k != "oauth_signature" && k != "realm")
        .chain(query)
        .chain(body)
        .map(|(k, v)| (enc(k), enc(v)))
        .collect();
    params.sort();
    let normalized = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let base = format!("{}&{}&{}", method, enc(base_uri), enc(&normalized));
    let key = format!("{}&{}", enc(CONSUMER_SECRET), enc(token_secret));
    let expected = match method_name.as_str() {
        "HMAC-SHA1" => {
            use hmac::{KeyInit as _, Mac as _};
            let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).unwrap();
            mac.update(base.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        "PLAINTEXT" => key,
        other => return Err(format!("signature method {other}")),
    };
    if expected != given {
        return Err("bad signature".into());
    }
    Ok((oauth, method_name))
}

fn text(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

async fn handle(State(fake): State<Fake>, request: Request) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let raw_query = request.uri().query().unwrap_or_default().to_owned();
    let query = form(&raw_query);
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let body = if is_form {
        form(&String::from_utf8_lossy(&bytes))
    } else {
        Vec::new()
    };
    let base_uri = format!("http://{host}{path}");
    let refuse = |why: String| {
        text(
            StatusCode::UNAUTHORIZED,
            format!("oauth_problem={}", enc(&why)),
        )
    };
    let ok = |fake: &Fake, method_name: String| {
        fake.verified.fetch_add(1, Ordering::SeqCst);
        *fake.last_method.lock().unwrap() = method_name;
    };
    match path.as_str() {
        "/oauth/request_token" => {
            let (oauth, m) = match check(
                &method,
                &base_uri,
                &query,
                &body,
                authorization.as_deref(),
                "",
            ) {
                Ok(r) => r,
                Err(why) => return refuse(why),
            };
            let Some(callback) = get(&oauth, "oauth_callback").map(str::to_owned) else {
                return refuse("no oauth_callback".into());
            };
            ok(&fake, m);
            let mut inner = fake.inner.lock().unwrap();
            inner.counter += 1;
            let token = format!("temp-{}", inner.counter);
            let secret = format!("temp-secret-{}/+", inner.counter);
            inner
                .temporary
                .insert(token.clone(), (secret.clone(), callback, None));
            text(
                StatusCode::OK,
                format!(
                    "oauth_token={}&oauth_token_secret={}&oauth_callback_confirmed=true",
                    enc(&token),
                    enc(&secret)
                ),
            )
        }
        "/oauth/authorize" => {
            *fake.last_authorize_query.lock().unwrap() = raw_query.clone();
            let mut inner = fake.inner.lock().unwrap();
            inner.counter += 1;
            let verifier = format!("verifier-{}", inner.counter);
            let Some(entry) = get(&query, "oauth_token").and_then(|t| inner.temporary.get_mut(t))
            else {
                return text(StatusCode::BAD_REQUEST, "unknown token".into());
            };
            entry.2 = Some(verifier.clone());
            let mut location = url::Url::parse(&entry.1).unwrap();
            location
                .query_pairs_mut()
                .append_pair("oauth_token", get(&query, "oauth_token").unwrap())
                .append_pair("oauth_verifier", &verifier);
            Response::builder()
                .status(StatusCode::FOUND)
                .header(header::LOCATION, location.as_str())
                .body(Body::empty())
                .unwrap()
        }
        "/oauth/access_token" => {
            let oauth = authorization
                .as_deref()
                .and_then(oauth_params)
                .unwrap_or_default();
            let token = get(&oauth, "oauth_token").unwrap_or_default().to_owned();
            let Some((secret, _, verifier)) =
                fake.inner.lock().unwrap().temporary.get(&token).cloned()
            else {
                return refuse("unknown temporary token".into());
            };
            let (oauth, m) = match check(
                &method,
                &base_uri,
                &query,
                &body,
                authorization.as_deref(),
                &secret,
            ) {
                Ok(r) => r,
                Err(why) => return refuse(why),
            };
            if verifier.is_none() || get(&oauth, "oauth_verifier") != verifier.as_deref() {
                return refuse("bad verifier".into());
            }
            ok(&fake, m);
            let mut inner = fake.inner.lock().unwrap();
            inner.temporary.remove(&token);
            inner.counter += 1;
            let access = format!("access-{}", inner.counter);
            let access_secret = format!("access secret {}&", inner.counter);
            inner.tokens.insert(access.clone(), access_secret.clone());
            text(
                StatusCode::OK,
                format!(
                    "oauth_token={}&oauth_token_secret={}&user_id=42",
                    enc(&access),
                    enc(&access_secret)
                ),
            )
        }
        "/api/me" => {
            let oauth = authorization
                .as_deref()
                .and_then(oauth_params)
                .unwrap_or_default();
            let token = get(&oauth, "oauth_token").unwrap_or_default().to_owned();
            let Some(secret) = fake.inner.lock().unwrap().tokens.get(&token).cloned() else {
                return refuse("unknown token".into());
            };
            match check(
                &method,
                &base_uri,
                &query,
                &body,
                authorization.as_deref(),
                &secret,
            ) {
                Ok((_, m)) => {
                    ok(&fake, m);
                    Response::builder()
                        .status(StatusCode::OK)
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(
                            serde_json::json!({"id": 42, "query": get(&query, "q"), "body": get(&body, "note")}).to_string(),
                        ))
                        .unwrap()
                }
                Err(why) => refuse(why),
            }
        }
        _ => text(StatusCode::NOT_FOUND, String::new()),
    }
}
