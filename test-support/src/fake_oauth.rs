//! A fake OAuth 2.0 provider (RFC 6749 authorization code with PKCE, RFC 7636) for
//! integration tests, on `127.0.0.1` and a random port:
//! - `GET /oauth/authorize`: checks `response_type`, `client_id`, `redirect_uri`, the S256
//!   challenge and `state`, and redirects (302) to the redirect URI with `code` and `state`;
//! - `POST /oauth/token`: `authorization_code` (checks the client, that the code is unused,
//!   the redirect URI, and the PKCE verifier against the challenge, computed here with `sha2`)
//!   and `refresh_token` (refresh tokens rotate and die on use; a reused one is
//!   `invalid_grant`); `expires_in` is a string, and the response carries an `instance_url`
//!   for `token_response_metadata`;
//! - `POST /oauth/token` with `client_credentials` (OAUTH2_CC, [`CC_CATALOG`]): an access token
//!   for the client, counted in `Fake::client_credentials`; `Fake::token_type` replaces the
//!   `token_type` of every token response (a hostile provider's `MAC`, `DPoP`, none);
//! - `GET /api/me`: needs a live access token (else 401), and reports whether the token store
//!   the test shares with it already held that token when the request arrived; `GET
//!   /api/ping` the same check without latency (for benchmarks).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use serde_json::json;
use sha2::Digest as _;
use tokio::sync::oneshot;

/// A catalog whose providers use the fake (through the origin override): `acme` (OAUTH2,
/// with params, scopes and token metadata), `acme-mcp` (MCP_OAUTH2, dynamic registration) and
/// `acme-mcp-generic` (MCP_OAUTH2_GENERIC: everything discovered from its server).
pub const CATALOG: &str = include_str!("../catalogs/oauth2.yaml");

/// An OAUTH2_CC provider on the fake (through the origin override): `acme-cc`, whose token
/// the client asks for with the OAuth client as its credentials.
pub const CC_CATALOG: &str = include_str!("../catalogs/oauth2_cc.yaml");

/// A form body as pairs.
pub type Form = Vec<(String, String)>;

/// The OAuth client the fake knows.
pub const CLIENT_ID: &str = "app-client-1";
/// Its secret.
pub const CLIENT_SECRET: &str = "app-secret-5f1e9c";

#[derive(Default)]
struct Inner {
    /// Code → (challenge, redirect URI).
    codes: HashMap<String, (Option<String>, String)>,
    /// Live refresh tokens.
    refresh_tokens: HashMap<String, ()>,
    /// Live access tokens.
    access_tokens: HashMap<String, ()>,
    /// Clients registered dynamically (public: no secret, PKCE required).
    registered: Vec<String>,
    counter: u64,
}

/// The shared state of the fake.
#[derive(Clone, Default)]
pub struct Fake {
    inner: Arc<Mutex<Inner>>,
    /// Code exchanges answered with tokens.
    pub exchanges: Arc<AtomicU64>,
    /// Refresh requests received (valid or not).
    pub refreshes: Arc<AtomicU64>,
    /// Whether a refresh rotates the refresh token (else the response has none).
    pub rotate: Arc<AtomicBool>,
    /// `expires_in` of new access tokens, in seconds (as a string on the wire).
    pub lifetime_s: Arc<AtomicU64>,
    /// What the test's token sink saved: access token → refresh token.
    pub saved: Arc<Mutex<BTreeMap<String, Option<String>>>>,
    /// For each `GET /api/me`: whether `saved` held its access token on arrival.
    pub saved_before_use: Arc<Mutex<Vec<bool>>>,
    /// The token request bodies, in order.
    pub token_bodies: Arc<Mutex<Vec<Form>>>,
    /// While set, a refresh request is held before it is looked at (nothing rotates): it
    /// never gets an answer.
    pub hang_refreshes: Arc<AtomicBool>,
    /// How long the answer to a refresh waits after the refresh token was rotated (the
    /// window in which a client that dies loses the new one), in milliseconds.
    pub refresh_answer_delay_ms: Arc<AtomicU64>,
    /// Client credentials grants answered with a token.
    pub client_credentials: Arc<AtomicU64>,
    /// When set, the `token_type` of every token response: a string, or JSON `null` to
    /// leave it out.
    pub token_type: Arc<Mutex<Option<serde_json::Value>>>,
    /// How long the answer to a client credentials grant waits, in milliseconds (so that
    /// concurrent users overlap).
    pub client_credentials_delay_ms: Arc<AtomicU64>,
    /// Client credentials grants received (counted before any delay).
    pub client_credentials_asked: Arc<AtomicU64>,
}

/// A running fake; the server stops when it is dropped.
pub struct FakeOAuth {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// Its state.
    pub fake: Fake,
    _stop: oneshot::Sender<()>,
}

impl FakeOAuth {
    /// Starts a fake on a random loopback port.
    pub async fn start() -> FakeOAuth {
        let fake = Fake::default();
        fake.rotate.store(true, Ordering::SeqCst);
        fake.lifetime_s.store(3600, Ordering::SeqCst);
        let app = Router::new().fallback(handle).with_state(fake.clone());
        let (origin, stop) = super::loopback::serve(app).await;
        FakeOAuth {
            origin,
            fake,
            _stop: stop,
        }
    }

    /// Issues tokens directly, as if a user had authorized earlier: (access, refresh).
    pub fn issue(&self) -> (String, String) {
        let mut inner = self.fake.inner.lock().unwrap();
        issue(&mut inner)
    }

    /// Revokes every live access token (the next API call gets 401).
    pub fn revoke_access_tokens(&self) {
        self.fake.inner.lock().unwrap().access_tokens.clear();
    }
}

fn issue(inner: &mut Inner) -> (String, String) {
    inner.counter += 1;
    let access = format!("at-{}-{}", inner.counter, uuid_like(inner.counter));
    let refresh = format!("rt-{}-{}", inner.counter, uuid_like(inner.counter * 7));
    inner.access_tokens.insert(access.clone(), ());
    inner.refresh_tokens.insert(refresh.clone(), ());
    (access, refresh)
}

fn uuid_like(n: u64) -> String {
    format!("{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

fn pairs(s: &str) -> Vec<(String, String)> {
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

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn invalid(error: &str, description: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"error": error, "error_description": description}),
    )
}

async fn handle(State(fake): State<Fake>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = pairs(request.uri().query().unwrap_or_default());
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let origin = format!("http://{host}");
    match path.as_str() {
        // RFC 9728 for the MCP server at `/mcp`, then RFC 8414 for its authorization server.
        "/.well-known/oauth-protected-resource/mcp" => json_response(
            StatusCode::OK,
            json!({"resource": format!("{origin}/mcp"), "authorization_servers": [format!("{origin}/")],
                "scopes_supported": ["mcp:read", "mcp:write"]}),
        ),
        "/.well-known/oauth-authorization-server" => json_response(
            StatusCode::OK,
            json!({"issuer": format!("{origin}/"),
                "authorization_endpoint": format!("{origin}/oauth/authorize"),
                "token_endpoint": format!("{origin}/oauth/token"),
                "registration_endpoint": format!("{origin}/oauth/register"),
                "code_challenge_methods_supported": ["S256"]}),
        ),
        p if p.ends_with("/api/me") => me(&fake, authorization.as_deref()).await,
        "/oauth/authorize" => authorize(&fake, &query),
        "/oauth/token" => {
            let form = pairs(&String::from_utf8_lossy(&body));
            let refresh = get(&form, "grant_type") == Some("refresh_token");
            if refresh && fake.hang_refreshes.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            let cc_delay = fake.client_credentials_delay_ms.load(Ordering::SeqCst);
            if get(&form, "grant_type") == Some("client_credentials") {
                fake.client_credentials_asked.fetch_add(1, Ordering::SeqCst);
            }
            if get(&form, "grant_type") == Some("client_credentials") && cc_delay > 0 {
                tokio::time::sleep(Duration::from_millis(cc_delay)).await;
            }
            let response = with_token_type(&fake, token(&fake, &form)).await;
            let delay = fake.refresh_answer_delay_ms.load(Ordering::SeqCst);
            if refresh && delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            response
        }
        "/api/me" => me(&fake, authorization.as_deref()).await,
        // `/api/me` without its latency or bookkeeping: for benchmarks.
        "/api/ping" => {
            let token = authorization
                .as_deref()
                .and_then(|a| a.strip_prefix("Bearer "));
            if token.is_some_and(|t| fake.inner.lock().unwrap().access_tokens.contains_key(t)) {
                json_response(StatusCode::OK, json!({"id": "user-1"}))
            } else {
                json_response(StatusCode::UNAUTHORIZED, json!({"error": "invalid_token"}))
            }
        }
        "/oauth/register" => register(&fake, &body),
        _ => json_response(StatusCode::NOT_FOUND, json!({"error": "not_found"})),
    }
}

fn authorize(fake: &Fake, query: &[(String, String)]) -> Response {
    let known = get(query, "client_id").is_some_and(|id| {
        id == CLIENT_ID
            || fake
                .inner
                .lock()
                .unwrap()
                .registered
                .iter()
                .any(|r| r == id)
    });
    if get(query, "response_type") != Some("code") || !known {
        return invalid("invalid_request", "response_type or client_id");
    }
    let (Some(redirect), Some(state)) = (get(query, "redirect_uri"), get(query, "state")) else {
        return invalid("invalid_request", "redirect_uri and state are required");
    };
    let challenge = match (
        get(query, "code_challenge"),
        get(query, "code_challenge_method"),
    ) {
        (Some(c), Some("S256")) => Some(c.to_owned()),
        (None, None) => None,
        _ => return invalid("invalid_request", "PKCE needs S256"),
    };
    let mut inner = fake.inner.lock().unwrap();
    inner.counter += 1;
    let code = format!("code-{}-{}", inner.counter, uuid_like(inner.counter * 3));
    inner
        .codes
        .insert(code.clone(), (challenge, redirect.to_owned()));
    let mut location = url::Url::parse(redirect).unwrap();
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", state);
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, location.as_str())
        .body(Body::empty())
        .unwrap()
}

fn register(fake: &Fake, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(body) else {
        return invalid("invalid_client_metadata", "not JSON");
    };
    if request["token_endpoint_auth_method"] != "none" || !request["redirect_uris"].is_array() {
        return invalid(
            "invalid_client_metadata",
            "a public client with redirect URIs",
        );
    }
    let mut inner = fake.inner.lock().unwrap();
    inner.counter += 1;
    let id = format!("dyn-{}", inner.counter);
    inner.registered.push(id.clone());
    json_response(
        StatusCode::CREATED,
        json!({"client_id": id, "client_id_issued_at": 1_800_000_000}),
    )
}

fn token(fake: &Fake, form: &[(String, String)]) -> Response {
    fake.token_bodies.lock().unwrap().push(form.to_vec());
    let public = get(form, "client_id").is_some_and(|id| {
        fake.inner
            .lock()
            .unwrap()
            .registered
            .iter()
            .any(|r| r == id)
    }) && get(form, "client_secret").is_none()
        && (get(form, "code_verifier").is_some()
            || get(form, "grant_type") == Some("refresh_token"));
    if !public
        && (get(form, "client_id") != Some(CLIENT_ID)
            || get(form, "client_secret") != Some(CLIENT_SECRET))
    {
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client", "error_description": "unknown client"}),
        );
    }
    let mut inner = fake.inner.lock().unwrap();
    let lifetime = fake.lifetime_s.load(Ordering::SeqCst).to_string();
    match get(form, "grant_type") {
        Some("authorization_code") => {
            let Some((challenge, redirect)) = get(form, "code").and_then(|c| inner.codes.remove(c))
            else {
                return invalid("invalid_grant", "unknown or used code");
            };
            if get(form, "redirect_uri") != Some(redirect.as_str()) {
                return invalid("invalid_grant", "redirect_uri differs");
            }
            if let Some(challenge) = challenge {
                let Some(verifier) = get(form, "code_verifier") else {
                    return invalid("invalid_grant", "code_verifier missing");
                };
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(verifier.as_bytes()));
                if computed != challenge {
                    return invalid("invalid_grant", "PKCE verification failed");
                }
            }
            let (access, refresh) = issue(&mut inner);
            fake.exchanges.fetch_add(1, Ordering::SeqCst);
            json_response(
                StatusCode::OK,
                json!({"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
                    "expires_in": lifetime, "scope": "read offline_access",
                    "instance_url": "https://eu7.acme.example"}),
            )
        }
        Some("refresh_token") => {
            fake.refreshes.fetch_add(1, Ordering::SeqCst);
            let Some(refresh) = get(form, "refresh_token") else {
                return invalid("invalid_request", "refresh_token missing");
            };
            if inner.refresh_tokens.remove(refresh).is_none() {
                return invalid("invalid_grant", "refresh token reused or revoked");
            }
            let (access, new_refresh) = issue(&mut inner);
            if fake.rotate.load(Ordering::SeqCst) {
                inner.refresh_tokens.remove(&new_refresh);
                inner.refresh_tokens.insert(new_refresh.clone(), ());
                json_response(
                    StatusCode::OK,
                    json!({"access_token": access, "refresh_token": new_refresh,
                        "expires_in": lifetime, "token_type": "bearer"}),
                )
            } else {
                inner.refresh_tokens.remove(&new_refresh);
                // Not rotated: the old one stays valid.
                inner.refresh_tokens.insert(refresh.to_owned(), ());
                json_response(
                    StatusCode::OK,
                    json!({"access_token": access, "expires_in": lifetime}),
                )
            }
        }
        Some("client_credentials") => {
            let (access, refresh) = issue(&mut inner);
            inner.refresh_tokens.remove(&refresh);
            fake.client_credentials.fetch_add(1, Ordering::SeqCst);
            json_response(
                StatusCode::OK,
                json!({"access_token": access, "token_type": "Bearer", "expires_in": lifetime}),
            )
        }
        _ => invalid("unsupported_grant_type", "grant_type"),
    }
}

/// A successful token response with `Fake::token_type` in place of its own, when set.
async fn with_token_type(fake: &Fake, response: Response) -> Response {
    let Some(token_type) = fake.token_type.lock().unwrap().clone() else {
        return response;
    };
    if response.status() != StatusCode::OK {
        return response;
    }
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let mut body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    match token_type {
        serde_json::Value::Null => {
            body.as_object_mut().map(|o| o.remove("token_type"));
        }
        other => body["token_type"] = other,
    }
    json_response(StatusCode::OK, body)
}

async fn me(fake: &Fake, authorization: Option<&str>) -> Response {
    let token = authorization.and_then(|a| a.strip_prefix("Bearer "));
    let live = token.is_some_and(|t| fake.inner.lock().unwrap().access_tokens.contains_key(t));
    if !live {
        return json_response(StatusCode::UNAUTHORIZED, json!({"error": "invalid_token"}));
    }
    let token = token.unwrap_or_default();
    let saved = fake.saved.lock().unwrap().contains_key(token);
    fake.saved_before_use.lock().unwrap().push(saved);
    // A little latency, so that concurrent requests overlap.
    tokio::time::sleep(Duration::from_millis(5)).await;
    json_response(StatusCode::OK, json!({"id": "user-1"}))
}
