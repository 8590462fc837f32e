//! The local server and the request cases shared by `benches/client.rs` (timings) and
//! `benches/client_allocs.rs` (allocation counts): a minimal axum server on `127.0.0.1:0`
//! serving `GET /v1/company/employees` (a fixed JSON body of about 1 KiB), `POST /v1/auth`
//! (a Personio v1 token) and `GET /v1/headers` (the request's header names, for the setup
//! check), and one kept-alive client per case.

use std::net::SocketAddr;
use std::time::Duration;
#[allow(unused_imports)]
use terapi_providers::{Params as _, TypedProvider as _};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use serde_json::{Value, json};
use terapi_providers::client::Settings;
use terapi_providers::{personio, personio_recruiting};

pub(crate) const COMPANY_ID: &str = "33434";
pub(crate) const PARTNER_ID: &str = "ACME";
pub(crate) const APP_ID: &str = "MY_APPLICATION";
const API_KEY: &str = "secret-api-key";
const BEARER: &str = "Bearer secret-api-key";

/// The `personio-recruiting` connection config as JSON.
pub(crate) fn recruiting_config_json() -> Value {
    json!({
        "companyId": COMPANY_ID,
        "company": "company-b",
        "partnerId": PARTNER_ID,
        "appId": APP_ID,
    })
}

/// The `personio-recruiting` credentials as JSON.
pub(crate) fn recruiting_credentials_json() -> Value {
    json!({ "apiKey": API_KEY })
}

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

/// The header names of the request, sorted (route `/v1/headers`).
async fn header_names(headers: HeaderMap) -> String {
    let mut names: Vec<&str> = headers.keys().map(|n| n.as_str()).collect();
    names.sort_unstable();
    names.join(",")
}

/// Starts the server on `runtime`; returns its address and the employees body it serves.
pub(crate) fn start_server(runtime: &tokio::runtime::Runtime) -> (SocketAddr, Bytes) {
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
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("bench server stopped: {e}");
        }
    });
    (addr, body)
}

/// One way of sending the same GET.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Case {
    /// `reqwest` configured as the runtime configures its own client, headers by hand.
    PlainReqwest,
    /// `reqwest::Client` with redirects off only: no `User-Agent`, no per-request timeout.
    PlainReqwestBare,
    /// `personio_recruiting::Connection` (API key).
    ClientApiKey,
    /// `personio::Connection` (OAuth 2.0 client credentials, token cached).
    ClientOauthCached,
}

impl Case {
    /// Every case, in the order the benches run them.
    pub(crate) const ALL: [Case; 4] = [
        Case::PlainReqwest,
        Case::PlainReqwestBare,
        Case::ClientApiKey,
        Case::ClientOauthCached,
    ];

    /// The criterion function name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Case::PlainReqwest => "plain_reqwest",
            Case::PlainReqwestBare => "plain_reqwest_bare",
            Case::ClientApiKey => "client_api_key",
            Case::ClientOauthCached => "client_oauth_cached",
        }
    }
}

/// One kept-alive client per case, all pointed at the local server.
pub(crate) struct Cases {
    url: String,
    headers_url: String,
    plain: reqwest::Client,
    bare: reqwest::Client,
    api_key: personio_recruiting::Connection,
    oauth: personio::Connection,
}

impl Cases {
    /// The clients; nothing is sent yet.
    pub(crate) fn new(addr: SocketAddr) -> Cases {
        let origin = format!("http://{addr}");
        // What `Settings::default()` gives the runtime's own reqwest client.
        terapi_runtime::client::install_tls_provider();
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

    /// The plain GET with the provider's four headers written by hand; `bare` picks the bare
    /// client and leaves out the per-request timeout.
    fn plain_request(&self, bare: bool, url: &str) -> reqwest::RequestBuilder {
        let client = if bare { &self.bare } else { &self.plain };
        let request = client
            .get(url)
            .header(header::AUTHORIZATION, BEARER)
            .header("x-company-id", COMPANY_ID)
            .header("x-personio-partner-id", PARTNER_ID)
            .header("x-personio-app-id", APP_ID);
        if bare {
            request
        } else {
            // The runtime's default per-request timeout.
            request.timeout(Duration::from_secs(30))
        }
    }

    /// Sends `case`'s GET of `/company/employees` and reads the body whole; its length, or
    /// `None` on any error.
    pub(crate) async fn send(&self, case: Case) -> Option<usize> {
        match case {
            Case::PlainReqwest | Case::PlainReqwestBare => {
                let bare = case == Case::PlainReqwestBare;
                let response = self.plain_request(bare, &self.url).send().await.ok()?;
                let body = response.error_for_status().ok()?.bytes().await.ok()?;
                Some(body.len())
            }
            Case::ClientApiKey => {
                let response = self.api_key.get("/company/employees").send().await.ok()?;
                Some(response.bytes().len())
            }
            Case::ClientOauthCached => {
                let response = self.oauth.get("/company/employees").send().await.ok()?;
                Some(response.bytes().len())
            }
        }
    }

    /// The header names the server saw from `case`, sorted and joined by commas.
    async fn header_names(&self, case: Case) -> String {
        let connection = match case {
            Case::PlainReqwest | Case::PlainReqwestBare => {
                return self
                    .plain_request(case == Case::PlainReqwestBare, &self.headers_url)
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .expect("GET /v1/headers")
                    .text()
                    .await
                    .expect("GET /v1/headers body");
            }
            Case::ClientApiKey => &*self.api_key,
            Case::ClientOauthCached => &*self.oauth,
        };
        match connection.get("/headers").send().await {
            Ok(response) => response.text(),
            Err(e) => panic!("{}: GET /v1/headers: {e}", case.name()),
        }
    }

    /// Token requests of the OAuth connection so far.
    pub(crate) fn token_requests(&self) -> u64 {
        self.oauth.token_requests()
    }

    /// Sends every case once and checks it gets `expected`; this also opens the kept-alive
    /// connections and, for OAuth, caches the token. With `verbose`, prints the header names
    /// each case sends (to stderr). Panics when a case fails or when `plain_reqwest` and
    /// `client_api_key` do not send the same header names.
    pub(crate) async fn check(&self, expected: &[u8], verbose: bool) {
        for case in Case::ALL {
            assert_eq!(
                self.send(case).await,
                Some(expected.len()),
                "{}: GET /v1/company/employees",
                case.name()
            );
        }
        assert_eq!(self.token_requests(), 1, "one token request");
        let mut names = Vec::new();
        for case in Case::ALL {
            let sent = self.header_names(case).await;
            if verbose {
                eprintln!("request headers, {:<20} {sent}", case.name());
            }
            names.push(sent);
        }
        assert_eq!(
            names[0], names[2],
            "plain_reqwest and client_api_key send the same header names"
        );
    }
}
