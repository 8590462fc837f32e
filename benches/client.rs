//! Criterion benchmarks of the HTTP client and of config validation and header rendering.
//!
//! Group `client_request`: one GET of `/v1/company/employees` (a fixed 1 KiB JSON body) from a
//! minimal axum server on `127.0.0.1:0`, read whole, over a kept-alive connection:
//!
//! - `plain_reqwest`: a `reqwest::Client` set up as the runtime sets up its own (redirects
//!   off, 10 s connect timeout, the runtime's `User-Agent`, a 30 s per-request timeout), the
//!   same four provider headers written by hand, the URL given as text;
//! - `plain_reqwest_bare`: the same request from a `reqwest::Client::new()` without the
//!   per-request timeout or `User-Agent` (what a minimal caller would write; for reference);
//! - `client_api_key`: `personio_recruiting::Connection` (API key, headers rendered per
//!   request), `conn.get("/company/employees").send()`;
//! - `client_oauth_cached`: `personio::Connection` (OAuth 2.0 client credentials) after a
//!   warm-up request, so the token comes from the cache.
//!
//! The server and the requests share one multi-thread tokio runtime; each sample runs its
//! iterations inside one `block_on`. Before measuring, the bench checks that every case gets
//! a 200 with the same body and prints the header names each case sends.
//!
//! Group `client_render`: `personio_recruiting::ConnectionConfig::from_json`,
//! `Credentials::from_json`, `proxy_headers` (and `proxy_headers_with` a prepared
//! `RenderContext`, and `RenderContext::new` alone, to split the cost), and the crate-level
//! `Connection::from_json("personio-recruiting", ..)` (connect only, no request).
//!
//! Allocation counts are the other bench target, `benches/client_allocs.rs` (dhat's global
//! allocator would slow every timing here). `benches/report_client.sh` runs both and prints
//! the medians and ratios.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use criterion::Criterion;
use serde_json::{Value, json};
use terapi_providers::client::Settings;
use terapi_providers::{RenderContext, personio, personio_recruiting};

/// The response body of `/v1/company/employees`: about 1 KiB of JSON.
fn employees_body() -> Bytes {
    let employees: Vec<Value> = (1..=4)
        .map(|id| {
            json!({
                "type": "Employee",
                "attributes": {
                    "id": { "label": "ID", "value": id },
                    "first_name": { "label": "First name", "value": format!("First{id}") },
                    "last_name": { "label": "Last name", "value": format!("Last{id}") },
                    "email": { "label": "Email", "value": format!("person{id}@example.com") },
                    "status": { "label": "Status", "value": "active" },
                }
            })
        })
        .collect();
    let body = json!({ "success": true, "metadata": { "total_elements": 4 }, "data": employees });
    Bytes::from(body.to_string())
}

/// The header names of the request, sorted, as the server saw them (route `/v1/headers`).
async fn header_names(headers: HeaderMap) -> String {
    let mut names: Vec<&str> = headers.keys().map(|n| n.as_str()).collect();
    names.sort_unstable();
    names.join(",")
}

/// Starts the server on the runtime and returns its address.
fn start_server(runtime: &tokio::runtime::Runtime) -> (SocketAddr, Bytes) {
    let body = employees_body();
    let served = body.clone();
    let app = Router::new()
        .route(
            "/v1/company/employees",
            get(move || {
                let body = served.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body) }
            }),
        )
        .route(
            "/v1/auth",
            post(|| async {
                axum::Json(json!({
                    "success": true,
                    "data": { "token": "papi-x", "expires_in": 86400 }
                }))
            }),
        )
        .route("/v1/headers", get(header_names));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    runtime.spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (addr, body)
}

const API_KEY: &str = "secret-api-key";
const COMPANY_ID: &str = "33434";
const PARTNER_ID: &str = "ACME";
const APP_ID: &str = "MY_APPLICATION";

fn recruiting_config_json() -> Value {
    json!({
        "companyId": COMPANY_ID,
        "company": "company-b",
        "partnerId": PARTNER_ID,
        "appId": APP_ID,
    })
}

fn recruiting_credentials_json() -> Value {
    json!({ "apiKey": API_KEY })
}

/// The requests the `client_request` cases send.
struct Cases {
    url: String,
    headers_url: String,
    plain: reqwest::Client,
    bare: reqwest::Client,
    api_key: personio_recruiting::Connection,
    oauth: personio::Connection,
}

impl Cases {
    fn new(addr: SocketAddr) -> Cases {
        let origin = format!("http://{addr}");
        // What `Settings::default()` gives the runtime's own reqwest client.
        let plain = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("terapi-runtime/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("reqwest client");
        let bare = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("reqwest client");
        let api_key = personio_recruiting::Connection::with_settings(
            personio_recruiting::ConnectionConfig::from_json(&recruiting_config_json())
                .expect("valid config"),
            personio_recruiting::Credentials::from_json(&recruiting_credentials_json())
                .expect("valid credentials"),
            Settings::new().origin(origin.clone()),
        )
        .expect("connect personio-recruiting");
        let oauth = personio::Connection::with_settings(
            personio::ConnectionConfig::from_json(&json!({
                "partnerId": PARTNER_ID,
                "appId": APP_ID,
            }))
            .expect("valid config"),
            personio::Credentials::from_json(&json!({
                "client_id": "id",
                "client_secret": "secret",
            }))
            .expect("valid credentials"),
            Settings::new().origin(origin.clone()),
        )
        .expect("connect personio");
        Cases {
            url: format!("{origin}/v1/company/employees"),
            headers_url: format!("{origin}/v1/headers"),
            plain,
            bare,
            api_key,
            oauth,
        }
    }

    fn plain_request(&self, client: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
        client
            .get(url)
            .header(header::AUTHORIZATION, concat!("Bearer ", "secret-api-key"))
            .header("x-company-id", COMPANY_ID)
            .header("x-personio-partner-id", PARTNER_ID)
            .header("x-personio-app-id", APP_ID)
    }

    async fn plain(&self) -> Result<Bytes, reqwest::Error> {
        self.plain_request(&self.plain, &self.url)
            .timeout(Duration::from_secs(30))
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await
    }

    async fn bare(&self) -> Result<Bytes, reqwest::Error> {
        self.plain_request(&self.bare, &self.url)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await
    }

    async fn api_key(&self) -> Result<terapi_providers::client::Response, impl std::fmt::Debug> {
        self.api_key.get("/company/employees").send().await
    }

    async fn oauth(&self) -> Result<terapi_providers::client::Response, impl std::fmt::Debug> {
        self.oauth.get("/company/employees").send().await
    }

    /// Checks every case once (this also opens the kept-alive connections and, for OAuth,
    /// caches the token) and prints the header names each sends.
    async fn check(&self, expected: &[u8]) {
        let plain = self.plain().await.expect("plain_reqwest");
        assert_eq!(&plain[..], expected, "plain_reqwest body");
        let bare = self.bare().await.expect("plain_reqwest_bare");
        assert_eq!(&bare[..], expected, "plain_reqwest_bare body");
        let api_key = self.api_key().await.expect("client_api_key");
        assert_eq!(api_key.bytes(), expected, "client_api_key body");
        let oauth = self.oauth().await.expect("client_oauth_cached");
        assert_eq!(oauth.bytes(), expected, "client_oauth_cached body");
        assert_eq!(self.oauth.token_requests(), 1, "one token request");

        let plain = self
            .plain_request(&self.plain, &self.headers_url)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("plain headers")
            .text()
            .await
            .expect("plain headers body");
        let bare = self
            .plain_request(&self.bare, &self.headers_url)
            .send()
            .await
            .expect("bare headers")
            .text()
            .await
            .expect("bare headers body");
        let api_key = self
            .api_key
            .get("/headers")
            .send()
            .await
            .expect("api key headers")
            .text();
        let oauth = self
            .oauth
            .get("/headers")
            .send()
            .await
            .expect("oauth headers")
            .text();
        eprintln!("request headers, plain_reqwest:       {plain}");
        eprintln!("request headers, plain_reqwest_bare:  {bare}");
        eprintln!("request headers, client_api_key:      {api_key}");
        eprintln!("request headers, client_oauth_cached: {oauth}");
        assert_eq!(plain, api_key, "plain_reqwest and client_api_key send the same headers");
    }
}

/// Times `iters` sequential runs of `f` inside one `block_on`.
fn timed<F, Fut, T>(runtime: &tokio::runtime::Runtime, iters: u64, f: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(f().await);
        }
        start.elapsed()
    })
}

fn request_benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (addr, body) = start_server(&runtime);
    let cases = Cases::new(addr);
    runtime.block_on(cases.check(&body));

    let mut group = c.benchmark_group("client_request");
    group
        .sample_size(200)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("plain_reqwest", |b| {
        b.iter_custom(|iters| {
            timed(&runtime, iters, || async {
                cases.plain().await.map(|b| b.len()).ok()
            })
        })
    });
    group.bench_function("plain_reqwest_bare", |b| {
        b.iter_custom(|iters| {
            timed(&runtime, iters, || async {
                cases.bare().await.map(|b| b.len()).ok()
            })
        })
    });
    group.bench_function("client_api_key", |b| {
        b.iter_custom(|iters| {
            timed(&runtime, iters, || async {
                cases.api_key().await.map(|r| r.bytes().len()).ok()
            })
        })
    });
    group.bench_function("client_oauth_cached", |b| {
        b.iter_custom(|iters| {
            timed(&runtime, iters, || async {
                cases.oauth().await.map(|r| r.bytes().len()).ok()
            })
        })
    });
    group.finish();
    assert_eq!(
        cases.oauth.token_requests(),
        1,
        "the OAuth case used the cached token throughout"
    );
}

fn render_benches(c: &mut Criterion) {
    let config_json = recruiting_config_json();
    let credentials_json = recruiting_credentials_json();
    let config =
        personio_recruiting::ConnectionConfig::from_json(&config_json).expect("valid config");
    let credentials =
        personio_recruiting::Credentials::from_json(&credentials_json).expect("valid credentials");
    let cx = RenderContext::new();

    let mut group = c.benchmark_group("client_render");
    group
        .sample_size(100)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("config_from_json", |b| {
        b.iter(|| personio_recruiting::ConnectionConfig::from_json(black_box(&config_json)))
    });
    group.bench_function("credentials_from_json", |b| {
        b.iter(|| personio_recruiting::Credentials::from_json(black_box(&credentials_json)))
    });
    group.bench_function("proxy_headers", |b| {
        b.iter(|| personio_recruiting::proxy_headers(black_box(&config), black_box(&credentials)))
    });
    group.bench_function("proxy_headers_with_context", |b| {
        b.iter(|| {
            personio_recruiting::proxy_headers_with(
                black_box(&config),
                black_box(&credentials),
                black_box(&cx),
            )
        })
    });
    group.bench_function("render_context_new", |b| b.iter(RenderContext::new));
    group.bench_function("connection_from_json", |b| {
        b.iter(|| {
            terapi_providers::Connection::from_json(
                "personio-recruiting",
                black_box(&config_json),
                black_box(&credentials_json),
            )
        })
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    request_benches(&mut c);
    render_benches(&mut c);
    c.final_summary();
}
