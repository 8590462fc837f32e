//! A fake Personio API server for integration tests, following
//! `../shared/reference/personio-api.md`.
//!
//! It serves, on `127.0.0.1` and a random port:
//! - `POST /v1/auth` (v1 token, JSON or form body, never query parameters),
//! - `POST /v2/auth/token` (OAuth 2.0 client credentials, form body only) and `POST /v2/auth/revoke`,
//! - `GET /v1/company/employees` (`limit` + item `offset` pagination, `updated_since`),
//! - `GET/POST /v1/company/attendances`, `PATCH/DELETE /v1/company/attendances/{id}` and
//!   `GET/POST /v1/company/absence-periods` (`fake_personio/hr/periods.rs`),
//! - `GET /v2/persons`, `/v2/persons/{id}`, `/v2/persons/{id}/employments[/{id}]` (`limit` +
//!   opaque `cursor`, `_meta.links.next`, `updated_at.gt`); `POST /v2/persons` and
//!   `PATCH /v2/persons/{id}/employments/{id}` (`fake_personio/hr/v2_write.rs`),
//! - `POST/GET /v2/webhooks`, `GET/DELETE /v2/webhooks/{id}`, and a delivery loop
//!   (`deliver`) posting the events of every person and employment change,
//! - `POST /v1/recruiting/applications` and `POST /v1/recruiting/applications/documents`
//!   (static API key + `X-Company-ID`; `fake_personio/recruiting.rs`),
//! - `GET /xml?language=..` (the public job feed, no credentials).
//!
//! The HR data is a mutable dataset (`fake_personio/hr.rs`: `update_employee`,
//! `delete_person`, `add_person`, ...). Knobs (`fail_next`, `fail_after`, `redirect_next`,
//! `set_delay`, `set_malformed`, ...) apply before the
//! endpoint logic, and every request is recorded, in arrival order, before anything else happens
//! to it.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

mod hr;
mod recruiting;
pub use hr::Hostile;
pub use hr::TIME_OFF_TYPES;
pub use hr::{Delivery, DeliveryReport, GENERATED_AT_MS};
pub use recruiting::{DOCUMENT_TYPES, FILE_CATEGORIES, MAX_DOCUMENT_BYTES};

/// Largest request body the server reads (the recruiting documents endpoint allows 20 MB).
const BODY_LIMIT: usize = 25 << 20;

/// Languages the public job feed accepts.
const FEED_LANGUAGES: &[&str] = &["en", "de", "fr", "es", "nl", "it", "pt"];

/// Fields an application must carry.
const APPLICATION_REQUIRED: &[&str] = &["first_name", "last_name", "email", "job_position_id"];

/// How `GET /v2/persons` builds its `_meta.links.next.href`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NextLinkMode {
    /// `http://<Host header>/v2/persons?cursor=..&limit=..` (the default).
    #[default]
    Absolute,
    /// `/v2/persons?cursor=..&limit=..`.
    Relative,
    /// `https://evil.example.com/v2/persons?cursor=..&limit=..`: following it leaks the token.
    ForeignHost,
    /// Always the first page's `next` link (absolute): a server stuck on one page.
    Repeat,
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// Header names in lowercase, values lossily decoded, in arrival order (repeated names repeat).
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as (lossy) UTF-8 text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A running fake Personio server. Stops when dropped.
pub struct FakePersonio {
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// One injected failure: the status and an optional `Retry-After` value.
type Failure = (StatusCode, Option<HeaderValue>);

/// One injected redirect: the status and the `Location` value.
type Redirect = (StatusCode, HeaderValue);

/// State shared by the handle and the server.
struct Shared {
    addr: SocketAddr,
    inner: Mutex<Inner>,
}

/// Everything mutable. The lock is only held briefly, never across an `.await`.
struct Inner {
    hr: hr::Hr,
    token_lifetime: u64,
    omit_expires_in: bool,
    token_delay: Duration,
    next_link: NextLinkMode,
    unknown_company: bool,
    echo_credentials: bool,
    failures: Vec<(String, VecDeque<Failure>)>,
    redirects: Vec<(String, VecDeque<Redirect>)>,
    delays: Vec<(String, Duration)>,
    malformed: Vec<String>,

    token_counter: u64,
    v1_tokens: HashSet<String>,
    v2_tokens: HashSet<String>,
    tokens_issued_v1: usize,
    tokens_issued_v2: usize,
    token_requests_v1: usize,
    token_requests_v2: usize,
    trace_counter: u64,
    requests: Vec<Recorded>,
    applications: Vec<Value>,
    uploaded: Vec<recruiting::Uploaded>,
    uploaded_counter: u64,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            hr: hr::Hr::default(),
            token_lifetime: 86_400,
            omit_expires_in: false,
            token_delay: Duration::ZERO,
            next_link: NextLinkMode::Absolute,
            unknown_company: false,
            echo_credentials: false,
            failures: Vec::new(),
            redirects: Vec::new(),
            delays: Vec::new(),
            malformed: Vec::new(),
            token_counter: 0,
            v1_tokens: HashSet::new(),
            v2_tokens: HashSet::new(),
            tokens_issued_v1: 0,
            tokens_issued_v2: 0,
            token_requests_v1: 0,
            token_requests_v2: 0,
            trace_counter: 0,
            requests: Vec::new(),
            applications: Vec::new(),
            uploaded: Vec::new(),
            uploaded_counter: 0,
        }
    }
}

impl Inner {
    fn next_token(&mut self, prefix: &str) -> String {
        self.token_counter += 1;
        format!("{prefix}{}", self.token_counter)
    }

    fn trace_id(&mut self) -> String {
        self.trace_counter += 1;
        format!("trace-{:08x}", self.trace_counter)
    }

    /// The delay of the longest configured prefix matching `path`.
    fn delay_for(&self, path: &str) -> Option<Duration> {
        self.delays
            .iter()
            .filter(|(p, _)| path.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
            .map(|(_, d)| *d)
    }

    /// Consumes the first queued failure whose prefix matches `path`.
    fn take_failure(&mut self, path: &str) -> Option<Failure> {
        self.failures
            .iter_mut()
            .filter(|(p, q)| path.starts_with(p.as_str()) && !q.is_empty())
            .find_map(|(_, q)| q.pop_front())
    }

    /// Consumes the first queued redirect whose prefix matches `path`.
    fn take_redirect(&mut self, path: &str) -> Option<Redirect> {
        self.redirects
            .iter_mut()
            .filter(|(p, q)| path.starts_with(p.as_str()) && !q.is_empty())
            .find_map(|(_, q)| q.pop_front())
    }

    fn is_malformed(&self, path: &str) -> bool {
        self.malformed.iter().any(|p| path.starts_with(p.as_str()))
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FakePersonio {
    /// The v1 / v2 client id the token endpoints accept.
    pub const CLIENT_ID: &'static str = "test-client-id";
    /// The v1 / v2 client secret the token endpoints accept.
    pub const CLIENT_SECRET: &'static str = "test-client-secret-s3cr3t";
    /// The Recruiting API key.
    pub const API_KEY: &'static str = "test-recruiting-key-s3cr3t";
    /// The company id that goes with [`Self::API_KEY`] in `X-Company-ID`.
    pub const COMPANY_ID: &'static str = "33434";

    fn bind() -> (std::net::TcpListener, Arc<Shared>) {
        Self::bind_at(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    fn bind_at(addr: SocketAddr) -> (std::net::TcpListener, Arc<Shared>) {
        let listener = std::net::TcpListener::bind(addr)
            .unwrap_or_else(|e| panic!("bind {addr} for the fake Personio: {e}"));
        listener
            .set_nonblocking(true)
            .expect("make the fake Personio's listener non-blocking");
        let addr = listener
            .local_addr()
            .expect("local address of the fake Personio");
        let shared = Arc::new(Shared {
            addr,
            inner: Mutex::new(Inner::default()),
        });
        (listener, shared)
    }

    fn router(shared: Arc<Shared>) -> Router {
        Router::new().fallback(handle).with_state(shared)
    }

    /// Binds `127.0.0.1:0` and serves on the current tokio runtime (`tokio::spawn`).
    pub async fn start() -> FakePersonio {
        Self::serve(Self::bind())
    }

    /// Binds `127.0.0.1:port` (0: a free port) and serves on the current tokio runtime.
    pub async fn start_on_port(port: u16) -> FakePersonio {
        Self::serve(Self::bind_at(SocketAddr::from(([127, 0, 0, 1], port))))
    }

    fn serve((std_listener, shared): (std::net::TcpListener, Arc<Shared>)) -> FakePersonio {
        let listener = tokio::net::TcpListener::from_std(std_listener)
            .expect("register the fake Personio's listener with tokio");
        let (tx, rx) = oneshot::channel::<()>();
        let app = Self::router(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        FakePersonio {
            shared,
            shutdown: Some(tx),
            thread: None,
        }
    }

    /// Starts on its own thread with its own multi-thread tokio runtime, for tests that are not async.
    /// The server lives until the `FakePersonio` is dropped.
    pub fn start_blocking() -> FakePersonio {
        let (std_listener, shared) = Self::bind();
        let (tx, rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let app = Self::router(shared.clone());
        let thread = std::thread::Builder::new()
            .name("fake-personio".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("build the fake Personio's runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(std_listener)
                        .expect("register the fake Personio's listener with tokio");
                    tokio::spawn(async move {
                        let _ = axum::serve(listener, app).await;
                    });
                    let _ = ready_tx.send(());
                    let _ = rx.await;
                });
                // Dropping the runtime cancels the server and every open connection.
                drop(rt);
            })
            .expect("spawn the fake Personio's thread");
        ready_rx
            .recv()
            .expect("the fake Personio's thread failed to start");
        FakePersonio {
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn origin(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    // ----- knobs -----

    /// Number of v1 employees (ids `1..=n`). Default 250.
    pub fn set_employees(&self, n: usize) {
        self.shared.lock().hr.set_employees(n);
    }

    /// Number of v2 persons (ids `"1"..="n"`). Default 120.
    pub fn set_persons(&self, n: usize) {
        self.shared.lock().hr.set_persons(n);
    }

    /// The `expires_in` handed out by both token endpoints. Default 86400. (Not enforced by the
    /// server: tokens stay valid until [`Self::expire_tokens`].)
    pub fn set_token_lifetime(&self, secs: u64) {
        self.shared.lock().token_lifetime = secs;
    }

    /// v1: leave `expires_in` out of the token response's `data` (older deployments).
    pub fn omit_expires_in(&self, yes: bool) {
        self.shared.lock().omit_expires_in = yes;
    }

    /// Delay before answering token requests (both versions), so concurrent callers overlap. Default 0.
    pub fn set_token_delay(&self, d: Duration) {
        self.shared.lock().token_delay = d;
    }

    /// Every token issued so far (v1 and v2) is now invalid: resource calls with them get 401.
    pub fn expire_tokens(&self) {
        let mut inner = self.shared.lock();
        inner.v1_tokens.clear();
        inner.v2_tokens.clear();
    }

    /// The next `failures.len()` requests to paths starting with `path_prefix` answer these statuses
    /// instead, each with an optional `Retry-After` value, and a JSON error body. Calls append.
    ///
    /// Panics (test setup error) on an invalid status or header value.
    pub fn fail_next(&self, path_prefix: &str, failures: Vec<(u16, Option<String>)>) {
        let parsed: Vec<Failure> = failures
            .into_iter()
            .map(|(code, retry_after)| {
                let status = StatusCode::from_u16(code).expect("fail_next: invalid status code");
                let retry_after = retry_after.map(|v| {
                    HeaderValue::from_str(&v).expect("fail_next: invalid Retry-After value")
                });
                (status, retry_after)
            })
            .collect();
        let mut inner = self.shared.lock();
        match inner.failures.iter_mut().find(|(p, _)| p == path_prefix) {
            Some((_, queue)) => queue.extend(parsed),
            None => inner.failures.push((path_prefix.to_owned(), parsed.into())),
        }
    }

    /// The next request to a path starting with `path_prefix` answers `status` (a 3xx) with
    /// `Location: location` and an empty body, instead of the endpoint's answer. Calls append;
    /// queued redirects are served before queued [`Self::fail_next`] failures.
    ///
    /// Panics (test setup error) on an invalid status or `Location` value.
    pub fn redirect_next(&self, path_prefix: &str, status: u16, location: &str) {
        let status = StatusCode::from_u16(status).expect("redirect_next: invalid status code");
        let location =
            HeaderValue::from_str(location).expect("redirect_next: invalid Location value");
        let mut inner = self.shared.lock();
        match inner.redirects.iter_mut().find(|(p, _)| p == path_prefix) {
            Some((_, queue)) => queue.push_back((status, location)),
            None => inner
                .redirects
                .push((path_prefix.to_owned(), VecDeque::from([(status, location)]))),
        }
    }

    /// Responses on paths starting with `path_prefix` are delayed by `d` (`Duration::ZERO` removes it).
    /// When several prefixes match, the longest wins.
    pub fn set_delay(&self, path_prefix: &str, d: Duration) {
        let mut inner = self.shared.lock();
        inner.delays.retain(|(p, _)| p != path_prefix);
        if !d.is_zero() {
            inner.delays.push((path_prefix.to_owned(), d));
        }
    }

    /// Requests to paths starting with `path_prefix` answer 200 with a truncated JSON body.
    pub fn set_malformed(&self, path_prefix: &str, yes: bool) {
        let mut inner = self.shared.lock();
        inner.malformed.retain(|p| p != path_prefix);
        if yes {
            inner.malformed.push(path_prefix.to_owned());
        }
    }

    /// How `GET /v2/persons` builds its `next` link. Default [`NextLinkMode::Absolute`].
    pub fn set_v2_next_link(&self, mode: NextLinkMode) {
        self.shared.lock().next_link = mode;
    }

    /// The job feed answers 307 to `https://www.personio.com/` (an unknown company).
    pub fn set_unknown_company(&self, yes: bool) {
        self.shared.lock().unknown_company = yes;
    }

    /// When on, 401 answers quote the credentials they received (as some real APIs do), to
    /// test that the client masks them in its errors.
    pub fn set_echo_credentials(&self, yes: bool) {
        self.shared.lock().echo_credentials = yes;
    }

    // ----- observations -----

    /// `POST /v1/auth` requests received (any outcome, injected failures included).
    pub fn token_requests_v1(&self) -> usize {
        self.shared.lock().token_requests_v1
    }

    /// `POST /v2/auth/token` requests received (any outcome, injected failures included).
    pub fn token_requests_v2(&self) -> usize {
        self.shared.lock().token_requests_v2
    }

    /// v1 tokens successfully issued.
    pub fn tokens_issued_v1(&self) -> usize {
        self.shared.lock().tokens_issued_v1
    }

    /// v2 tokens successfully issued.
    pub fn tokens_issued_v2(&self) -> usize {
        self.shared.lock().tokens_issued_v2
    }

    /// Every request received, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// The requests received at exactly `path`, in arrival order.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Number of requests whose path starts with `path_prefix`.
    pub fn count(&self, path_prefix: &str) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .count()
    }

    /// Requests to the job feed (`/xml`) that carried an `Authorization` header (should be 0).
    pub fn feed_requests_with_authorization(&self) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.path == "/xml" && r.header("authorization").is_some())
            .count()
    }

    /// Forgets the requests recorded, the applications accepted and the bytes of the
    /// documents uploaded so far (a long-running fake stays bounded; the documents stay
    /// known, so applications can still name them).
    pub fn clear_recorded(&self) {
        let mut inner = self.shared.lock();
        inner.requests.clear();
        inner.applications.clear();
        for u in &mut inner.uploaded {
            u.bytes = None;
        }
    }

    /// Recruiting applications accepted, as the JSON objects the client sent.
    pub fn applications(&self) -> Vec<Value> {
        self.shared.lock().applications.clone()
    }
}

impl Drop for FakePersonio {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ----- responses -----

fn respond(status: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

fn json(status: StatusCode, value: &Value) -> Response {
    respond(status, "application/json", value.to_string())
}

/// The v1 / recruiting error shape: `{"success":false,"error":{"code":..,"message":..}}`.
fn v1_error(status: StatusCode, code: u16, message: &str) -> Response {
    json(
        status,
        &json!({"success": false, "error": {"code": code, "message": message}}),
    )
}

/// The OAuth 2.0 error shape of `/v2/auth/token`, as `application/problem+json`.
fn oauth_error(shared: &Shared, status: StatusCode, error: &str, description: &str) -> Response {
    let trace_id = shared.lock().trace_id();
    let body = json!({"error": error, "error_description": description, "trace_id": trace_id});
    respond(status, "application/problem+json", body.to_string())
}

/// The v2 resource error shape, as `application/problem+json`.
fn v2_error(shared: &Shared, status: StatusCode, title: &str, detail: &str) -> Response {
    let trace_id = shared.lock().trace_id();
    let body = json!({
        "personio_trace_id": trace_id,
        "errors": [{"title": title, "detail": detail}],
    });
    respond(status, "application/problem+json", body.to_string())
}

fn method_not_allowed(allowed: &str) -> Response {
    let mut response = v1_error(
        StatusCode::METHOD_NOT_ALLOWED,
        405,
        &format!("Method not allowed (use {allowed})"),
    );
    if let Ok(v) = HeaderValue::from_str(allowed) {
        response.headers_mut().insert(header::ALLOW, v);
    }
    response
}

// ----- request helpers -----

/// Parses a query string or form body into decoded pairs (`+` is a space).
pub fn parse_pairs(s: &str) -> Vec<(String, String)> {
    terapi_runtime::url::form_urlencoded::parse(s.as_bytes())
        .into_owned()
        .collect()
}

/// The first value of `key`.
pub fn pair<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn query_pairs(rec: &Recorded) -> Vec<(String, String)> {
    rec.query.as_deref().map(parse_pairs).unwrap_or_default()
}

/// The media type of the request (`Content-Type` without parameters, lowercase).
fn media_type(rec: &Recorded) -> Option<String> {
    rec.header("content-type").map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(rec: &Recorded) -> Option<&str> {
    let value = rec.header("authorization")?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// `http://<Host header>`, or the listening address without one.
fn request_origin(shared: &Shared, rec: &Recorded) -> String {
    match rec.header("host") {
        Some(host) if !host.is_empty() => format!("http://{host}"),
        _ => format!("http://{}", shared.addr),
    }
}

// ----- the handler -----

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (body, too_large) = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => (bytes.to_vec(), false),
        Err(_) => (Vec::new(), true),
    };
    let rec = Recorded {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    };

    let delay = {
        let mut inner = shared.lock();
        inner.requests.push(rec.clone());
        if parts.method == Method::POST {
            match rec.path.as_str() {
                "/v1/auth" => inner.token_requests_v1 += 1,
                "/v2/auth/token" => inner.token_requests_v2 += 1,
                _ => {}
            }
        }
        inner.delay_for(&rec.path)
    };
    if too_large {
        return v1_error(StatusCode::PAYLOAD_TOO_LARGE, 413, "Request body too large");
    }
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }

    let redirect = shared.lock().take_redirect(&rec.path);
    if let Some((status, location)) = redirect {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = status;
        response.headers_mut().insert(header::LOCATION, location);
        return response;
    }
    let failure = shared.lock().take_failure(&rec.path);
    if let Some((status, retry_after)) = failure {
        let message = if status == StatusCode::TOO_MANY_REQUESTS {
            "Too many requests"
        } else {
            status.canonical_reason().unwrap_or("Injected failure")
        };
        let mut response = v1_error(status, status.as_u16(), message);
        if let Some(v) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let malformed = shared.lock().is_malformed(&rec.path);
    if malformed {
        return respond(
            StatusCode::OK,
            "application/json",
            r#"{"success":true,"data":[{"type":"#,
        );
    }

    dispatch(&shared, &rec, &parts.method).await
}

async fn dispatch(shared: &Shared, rec: &Recorded, method: &Method) -> Response {
    if hr::serves(&rec.path) {
        return hr::dispatch(shared, rec, method);
    }
    let expected = match rec.path.as_str() {
        "/v1/auth"
        | "/v2/auth/token"
        | "/v2/auth/revoke"
        | "/v1/recruiting/applications"
        | "/v1/recruiting/applications/documents" => Method::POST,
        "/xml" => Method::GET,
        _ => return v1_error(StatusCode::NOT_FOUND, 404, "Not found"),
    };
    if *method != expected {
        return method_not_allowed(expected.as_str());
    }
    match rec.path.as_str() {
        "/v1/auth" => v1_auth(shared, rec).await,
        "/v2/auth/token" => v2_token(shared, rec).await,
        "/v2/auth/revoke" => v2_revoke(shared, rec),
        "/v1/recruiting/applications" => application(shared, rec),
        "/v1/recruiting/applications/documents" => {
            recruiting_unauthorized(shared, rec).unwrap_or_else(|| recruiting::upload(shared, rec))
        }
        _ => job_feed(shared, rec),
    }
}

/// `POST /v1/auth`.
async fn v1_auth(shared: &Shared, rec: &Recorded) -> Response {
    let query = query_pairs(rec);
    if pair(&query, "client_id").is_some() || pair(&query, "client_secret").is_some() {
        return v1_error(
            StatusCode::BAD_REQUEST,
            400,
            "Credentials must be sent in the request body, never in the query string",
        );
    }
    let (client_id, client_secret) = match media_type(rec).as_deref() {
        Some("application/x-www-form-urlencoded") => {
            let form = parse_pairs(&String::from_utf8_lossy(&rec.body));
            (
                pair(&form, "client_id").map(str::to_owned),
                pair(&form, "client_secret").map(str::to_owned),
            )
        }
        Some("application/json") | None => {
            let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&rec.body) else {
                return v1_error(
                    StatusCode::BAD_REQUEST,
                    400,
                    "The request body must be a JSON object",
                );
            };
            let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
            (field("client_id"), field("client_secret"))
        }
        Some(other) => {
            return v1_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                415,
                &format!("Unsupported content type {other}"),
            );
        }
    };
    let (Some(client_id), Some(client_secret)) = (client_id, client_secret) else {
        return v1_error(
            StatusCode::BAD_REQUEST,
            400,
            "client_id and client_secret are required",
        );
    };

    let delay = shared.lock().token_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    if client_id != FakePersonio::CLIENT_ID || client_secret != FakePersonio::CLIENT_SECRET {
        let message = if shared.lock().echo_credentials {
            format!("Wrong credentials: client {client_id} with secret {client_secret}")
        } else {
            "Wrong credentials".to_owned()
        };
        return v1_error(StatusCode::UNAUTHORIZED, 401, &message);
    }
    let (token, lifetime, omit) = {
        let mut inner = shared.lock();
        let token = inner.next_token("papi-v1-");
        inner.v1_tokens.insert(token.clone());
        inner.tokens_issued_v1 += 1;
        (token, inner.token_lifetime, inner.omit_expires_in)
    };
    let mut data = Map::new();
    data.insert("token".into(), Value::String(token.clone()));
    if !omit {
        data.insert("expires_in".into(), Value::from(lifetime));
    }
    data.insert("scope".into(), Value::from("employees:read"));
    let mut response = json(
        StatusCode::OK,
        &json!({"success": true, "data": Value::Object(data)}),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
        response.headers_mut().insert(header::AUTHORIZATION, v);
    }
    response
}

/// `POST /v2/auth/token`.
async fn v2_token(shared: &Shared, rec: &Recorded) -> Response {
    let query = query_pairs(rec);
    if pair(&query, "client_id").is_some() || pair(&query, "client_secret").is_some() {
        return oauth_error(
            shared,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Credentials must be sent in the form body, never in the query string",
        );
    }
    if media_type(rec).as_deref() != Some("application/x-www-form-urlencoded") {
        return oauth_error(
            shared,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The body must be application/x-www-form-urlencoded",
        );
    }
    let form = parse_pairs(&String::from_utf8_lossy(&rec.body));
    match pair(&form, "grant_type") {
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                shared,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("Unsupported grant_type {other:?}: only client_credentials"),
            );
        }
        None => {
            return oauth_error(
                shared,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            );
        }
    }
    let (Some(client_id), Some(client_secret)) =
        (pair(&form, "client_id"), pair(&form, "client_secret"))
    else {
        return oauth_error(
            shared,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id and client_secret are required",
        );
    };

    let delay = shared.lock().token_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    if client_id != FakePersonio::CLIENT_ID || client_secret != FakePersonio::CLIENT_SECRET {
        return oauth_error(
            shared,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let scope = pair(&form, "scope")
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("personio:persons:read")
        .to_owned();
    let (token, lifetime) = {
        let mut inner = shared.lock();
        let token = inner.next_token("papi-v2-");
        inner.v2_tokens.insert(token.clone());
        inner.tokens_issued_v2 += 1;
        (token, inner.token_lifetime)
    };
    let mut response = json(
        StatusCode::OK,
        &json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": scope,
            "refresh_token": null,
        }),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /v2/auth/revoke`: form `token=...`, 200 with an empty body.
fn v2_revoke(shared: &Shared, rec: &Recorded) -> Response {
    if media_type(rec).as_deref() != Some("application/x-www-form-urlencoded") {
        return oauth_error(
            shared,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The body must be application/x-www-form-urlencoded",
        );
    }
    let form = parse_pairs(&String::from_utf8_lossy(&rec.body));
    let Some(token) = pair(&form, "token") else {
        return oauth_error(
            shared,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    shared.lock().v2_tokens.remove(token);
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::OK;
    response
}

/// The Recruiting API's credentials (the API key as a bearer token and `X-Company-ID`):
/// the 401 answer when they are wrong.
fn recruiting_unauthorized(shared: &Shared, rec: &Recorded) -> Option<Response> {
    let key_ok = bearer(rec) == Some(FakePersonio::API_KEY);
    let company_ok = rec.header("x-company-id").map(str::trim) == Some(FakePersonio::COMPANY_ID);
    if !key_ok || !company_ok {
        let message = if shared.lock().echo_credentials {
            format!(
                "Unauthorized: key {} and/or company id not recognised",
                bearer(rec).unwrap_or_default()
            )
        } else {
            "Unauthorized: key and/or company id not recognised".to_owned()
        };
        return Some(v1_error(StatusCode::UNAUTHORIZED, 401, &message));
    }
    None
}

/// `POST /v1/recruiting/applications`. Its `files` must name uploaded documents (400 in
/// the document's `error_response` shape otherwise).
fn application(shared: &Shared, rec: &Recorded) -> Response {
    if let Some(r) = recruiting_unauthorized(shared, rec) {
        return r;
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&rec.body) else {
        return v1_error(
            StatusCode::BAD_REQUEST,
            400,
            "The request body must be a JSON object",
        );
    };
    let missing: Vec<&str> = APPLICATION_REQUIRED
        .iter()
        .copied()
        .filter(|field| match body.get(*field) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        })
        .collect();
    if !missing.is_empty() {
        return v1_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            &format!("Missing required fields: {}", missing.join(", ")),
        );
    }
    let file_problems = recruiting::check_files(shared, &body);
    if !file_problems.is_empty() {
        return recruiting::field_errors(StatusCode::BAD_REQUEST, &file_problems);
    }
    let id = {
        let mut inner = shared.lock();
        inner.applications.push(Value::Object(body.clone()));
        inner.applications.len()
    };
    let mut data = Map::new();
    data.insert("id".into(), Value::from(id));
    for (k, v) in body {
        if k != "id" {
            data.insert(k, v);
        }
    }
    json(
        StatusCode::CREATED,
        &json!({"success": true, "data": Value::Object(data)}),
    )
}

/// `GET /xml?language=..`: the public job feed.
fn job_feed(shared: &Shared, rec: &Recorded) -> Response {
    if shared.lock().unknown_company {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
        response.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_static("https://www.personio.com/"),
        );
        return response;
    }
    let query = query_pairs(rec);
    let language = pair(&query, "language").unwrap_or("en");
    if !FEED_LANGUAGES.contains(&language) {
        return respond(
            StatusCode::BAD_REQUEST,
            "text/plain; charset=utf-8",
            format!(
                "Unsupported language {language:?}: use one of {}",
                FEED_LANGUAGES.join(", ")
            ),
        );
    }
    respond(
        StatusCode::OK,
        "application/xml; charset=utf-8",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <workzag-jobs><position><id>1</id><name>Engineer</name></position></workzag-jobs>\n",
    )
}
