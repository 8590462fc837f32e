//! The client against hostile servers on loopback: bodies too large to hold, endless bodies,
//! error bodies meant to be retried into memory, messages and redirects that echo secrets in
//! other encodings or across the cut of a message, and next links that leave the API.
//!
//! The server is a plain TCP listener that writes raw HTTP/1.1, so it can lie about lengths and
//! stream without end; it counts the body bytes it got to write before the client hung up,
//! which is how the tests see that a body was not read.

use terapi_test_support as support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use futures_util::TryStreamExt as _;
use serde_json::{Value, json};
use terapi_providers::client::{Error, SMALL_BODY_BYTES, Settings, Step};
use terapi_providers::{Connection, RetryPolicy};
use terapi_runtime::paginate::PageError;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const MIB: u64 = 1024 * 1024;
const API_KEY: &str = "hostile-test-api-key-7f3a9c2e5b1d";
const CLIENT_ID: &str = "hostile-client-id";
const CLIENT_SECRET: &str = "hostile-client-secret-4c8e1a7f!/+= x";

/// What the server answers.
#[derive(Clone)]
enum Body {
    /// This text, with its length.
    Text(String),
    /// `Content-Length: n` and then up to `n` bytes of `x`.
    Declared(u64),
    /// Chunked, without end.
    Endless,
}

#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
}

impl Answer {
    fn new(status: u16, body: Body) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body,
        }
    }

    fn json(status: u16, value: &Value) -> Self {
        Answer::new(status, Body::Text(value.to_string()))
            .header("content-type", "application/json")
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A loopback server answering each request by its path.
struct Hostile {
    origin: String,
    /// Body bytes written, over all responses.
    written: Arc<AtomicU64>,
    /// Requests received.
    requests: Arc<AtomicUsize>,
}

impl Hostile {
    async fn start(answer: impl Fn(&str) -> Answer + Send + Sync + 'static) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let origin = format!("http://{}", listener.local_addr().expect("addr"));
        let written = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(answer);
        let (w, r) = (written.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (answer, w, r) = (answer.clone(), w.clone(), r.clone());
                tokio::spawn(async move { serve(stream, &*answer, &w, &r).await });
            }
        });
        Hostile {
            origin,
            written,
            requests,
        }
    }

    fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Serves the requests of one connection until it closes or a write fails.
async fn serve(
    mut stream: TcpStream,
    answer: &(dyn Fn(&str) -> Answer + Send + Sync),
    written: &AtomicU64,
    requests: &AtomicUsize,
) {
    let mut buffer = Vec::new();
    loop {
        // The request head, then as much body as it declares.
        let head_end = loop {
            if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        buffer.drain(..head_end + length);
        requests.fetch_add(1, Ordering::SeqCst);
        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
        let a = answer(&path);
        let mut out = format!("HTTP/1.1 {} Hostile\r\n", a.status);
        for (name, value) in &a.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        match &a.body {
            Body::Text(text) => {
                out.push_str(&format!("content-length: {}\r\n\r\n{text}", text.len()))
            }
            Body::Declared(n) => out.push_str(&format!("content-length: {n}\r\n\r\n")),
            Body::Endless => out.push_str("transfer-encoding: chunked\r\n\r\n"),
        }
        if stream.write_all(out.as_bytes()).await.is_err() {
            return;
        }
        let block = vec![b'x'; 64 * 1024];
        match a.body {
            Body::Text(_) => {}
            Body::Declared(n) => {
                let mut left = n;
                while left > 0 {
                    let part = &block[..left.min(block.len() as u64) as usize];
                    if stream.write_all(part).await.is_err() {
                        return;
                    }
                    written.fetch_add(part.len() as u64, Ordering::SeqCst);
                    left -= part.len() as u64;
                }
            }
            Body::Endless => loop {
                let mut chunk = format!("{:x}\r\n", block.len()).into_bytes();
                chunk.extend_from_slice(&block);
                chunk.extend_from_slice(b"\r\n");
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
                written.fetch_add(block.len() as u64, Ordering::SeqCst);
            },
        }
    }
}

fn settings(server: &Hostile) -> Settings {
    Settings::new()
        .origin(&server.origin)
        .timeout(Duration::from_secs(20))
        .retry(RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(1),
            max_total_wait: Duration::from_secs(5),
            ..RetryPolicy::DEFAULT
        })
}

/// personio-recruiting (an API key), with `settings` (which lead to the hostile server).
fn recruiting(settings: Settings) -> Connection {
    Connection::from_json_with(
        "personio-recruiting",
        &json!({"companyId": "1234", "company": "acme"}),
        &json!({"apiKey": API_KEY}),
        settings,
    )
    .expect("connect")
}

/// personio-v2 (OAuth client credentials), with `settings`.
fn v2(settings: Settings) -> Connection {
    Connection::from_json_with(
        "personio-v2",
        &json!({}),
        &json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
        settings,
    )
    .expect("connect")
}

fn token() -> Answer {
    Answer::json(
        200,
        &json!({"access_token": "hostile-access-token-0a9b8c7d", "token_type": "Bearer", "expires_in": 3600}),
    )
}

/// The process's peak resident memory (`VmHWM`), in MiB.
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn expect_err<T: std::fmt::Debug>(result: Result<T, Error>) -> Error {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

// ----- bodies -----

#[tokio::test]
async fn a_declared_2_gib_body_is_refused_from_its_length() {
    let server = Hostile::start(|_| Answer::new(200, Body::Declared(2048 * MIB))).await;
    let conn = recruiting(settings(&server));
    let error = expect_err(conn.get("/company/employees").send().await);
    assert!(
        matches!(
            error,
            Error::BodyTooLarge {
                step: Step::Request,
                status: 200,
                limit,
                declared: Some(declared),
                ..
            } if limit == 32 * MIB && declared == 2048 * MIB
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("larger than the limit of 33554432 bytes (it declared 2147483648)"),
        "{error}"
    );
    // Refused from its length: only what the socket buffers took was written, far less than
    // the 32 MiB limit that reading would have reached.
    assert!(
        server.written() < 16 * MIB,
        "{} bytes written",
        server.written()
    );
    eprintln!(
        "2 GiB declared: {} bytes written before the client hung up",
        server.written()
    );
}

#[tokio::test]
async fn an_endless_chunked_body_stops_at_the_limit() {
    let server = Hostile::start(|_| Answer::new(200, Body::Endless)).await;
    let conn = recruiting(settings(&server).max_body_bytes(MIB as usize));
    let error = expect_err(conn.get("/company/employees").send().await);
    assert!(
        matches!(error, Error::BodyTooLarge { limit, declared: None, .. } if limit == MIB),
        "{error:?}"
    );
    assert!(
        server.written() < 64 * MIB,
        "{} bytes written",
        server.written()
    );
}

#[tokio::test]
async fn a_body_within_the_limit_is_read_whole() {
    let body = "y".repeat(300 * 1024);
    let text = body.clone();
    let server = Hostile::start(move |_| Answer::new(200, Body::Text(text.clone()))).await;
    let conn = recruiting(settings(&server).max_body_bytes(300 * 1024));
    let response = conn.get("/company/employees").send().await.expect("ok");
    assert_eq!(response.bytes(), body.as_bytes());
}

#[tokio::test]
async fn a_512_mib_error_body_retried_four_times_is_read_64_kib_at_a_time() {
    let server = Hostile::start(|_| Answer::new(503, Body::Declared(512 * MIB))).await;
    let conn = recruiting(settings(&server));
    let error = expect_err(conn.get("/company/employees").send().await);
    assert!(
        matches!(error, Error::Status { status: 503, .. }),
        "{error:?}"
    );
    assert_eq!(server.requests(), 4);
    // Each attempt reads 64 KiB and hangs up: what was written is what the socket buffers
    // took, far less than 4 × 32 MiB (the success limit).
    assert!(
        server.written() < 4 * 16 * MIB,
        "{} bytes written over 4 attempts",
        server.written()
    );
    eprintln!(
        "4 × 512 MiB error bodies: {} bytes written",
        server.written()
    );
}

#[tokio::test]
async fn a_huge_token_response_is_refused_at_64_kib() {
    let server = Hostile::start(|_| Answer::new(200, Body::Endless)).await;
    let conn = v2(settings(&server));
    let error = expect_err(conn.get("/persons").send().await);
    assert!(
        matches!(error, Error::BodyTooLarge { step: Step::Token, limit, .. } if limit == SMALL_BODY_BYTES as u64),
        "{error:?}"
    );
}

#[tokio::test]
async fn memory_stays_bounded_across_every_body_attack() {
    let server = Hostile::start(|path: &str| {
        if path.contains("declared") {
            Answer::new(200, Body::Declared(4096 * MIB))
        } else if path.contains("error") {
            Answer::new(500, Body::Declared(1024 * MIB))
        } else {
            Answer::new(200, Body::Endless)
        }
    })
    .await;
    let conn = recruiting(settings(&server));
    for path in [
        "/declared",
        "/error",
        "/endless",
        "/declared",
        "/error",
        "/endless",
    ] {
        expect_err(conn.get(path).send().await);
    }
    let peak = peak_rss_mib();
    eprintln!(
        "peak RSS after 4 GiB declared, 1 GiB error (4 attempts) and endless bodies, twice: {peak:?} MiB; {} bytes written",
        server.written()
    );
    if let Some(peak) = peak {
        assert!(peak < 256, "peak RSS {peak} MiB");
    }
}

// ----- secrets in what a server sends back -----

#[tokio::test]
async fn a_secret_across_the_cut_of_a_message_is_masked_whole() {
    let message = format!("{}{API_KEY} and more", "m".repeat(290));
    let server = Hostile::start(move |_| Answer::json(400, &json!({ "message": message }))).await;
    let conn = recruiting(settings(&server));
    let error = expect_err(conn.get("/company/employees").send().await);
    let text = format!("{error} {error:?}");
    assert!(!text.contains(&API_KEY[..8]), "{text}");
    let message = error.provider_message().expect("a message");
    assert!(message.starts_with(&"m".repeat(290)), "{message}");
    assert!(message.contains("***"), "{message}");
}

#[tokio::test]
async fn encoded_forms_of_secrets_are_masked() {
    let percent: String = url::form_urlencoded::byte_serialize(CLIENT_SECRET.as_bytes()).collect();
    let percent20 =
        percent_encoding::utf8_percent_encode(CLIENT_SECRET, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let echoed = format!("got client_secret={percent} or {percent20}, header Basic {basic}");
    let server = Hostile::start(move |_| {
        Answer::json(
            401,
            &json!({"error": "invalid_client", "error_description": echoed}),
        )
    })
    .await;
    let conn = v2(settings(&server));
    let error = expect_err(conn.get("/persons").send().await);
    assert!(
        matches!(error, Error::Token { status: 401, .. }),
        "{error:?}"
    );
    let text = format!("{error} {error:?}");
    for form in [&percent, &percent20, &basic] {
        assert!(!text.contains(form.as_str()), "{form} in {text}");
    }
    assert_eq!(text.matches("***").count(), 6, "{text}");
}

#[tokio::test]
async fn a_redirect_location_is_masked_in_its_path() {
    let location = format!("https://elsewhere.example/keys/{API_KEY}/x?token={API_KEY}");
    let server = Hostile::start(move |_| {
        Answer::new(302, Body::Text(String::new())).header("location", &location)
    })
    .await;
    let conn = recruiting(settings(&server));
    let error = expect_err(conn.get("/company/employees").send().await);
    let Error::Redirect { location, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        location.as_deref(),
        Some("https://elsewhere.example/keys/***/x")
    );
    assert!(!format!("{error} {error:?}").contains(API_KEY));
}

// ----- pagination -----

#[tokio::test]
async fn a_next_link_that_climbs_out_of_the_base_path_is_refused() {
    let server = Hostile::start(|path: &str| {
        if path.starts_with("/v2/auth/token") {
            return token();
        }
        Answer::json(
            200,
            &json!({"_data": [{"id": "1"}], "_meta": {"links": {"next": {"href": "../../internal/admin"}}}}),
        )
    })
    .await;
    let conn = v2(settings(&server));
    let error = expect_err(conn.paginate("/persons").try_collect::<Vec<Value>>().await);
    assert!(
        matches!(
            &error,
            Error::Page { source: PageError::OutsideBase { base, found }, .. }
                if base == "/v2" && found == "/internal/admin"
        ),
        "{error:?}"
    );
    // The first page only: the link was never followed.
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn a_listing_without_end_stops_at_the_page_cap() {
    let pages = Arc::new(AtomicUsize::new(0));
    let counter = pages.clone();
    let server = Hostile::start(move |path: &str| {
        if path.starts_with("/v2/auth/token") {
            return token();
        }
        let n = counter.fetch_add(1, Ordering::SeqCst);
        Answer::json(
            200,
            &json!({"_data": [{"id": n}], "_meta": {"links": {"next": {"href": format!("/v2/persons?cursor={n}")}}}}),
        )
    })
    .await;
    let conn = v2(settings(&server));
    let error = expect_err(
        conn.paginate("/persons")
            .max_pages(5)
            .try_collect::<Vec<Value>>()
            .await,
    );
    assert!(
        matches!(
            error,
            Error::Page {
                source: PageError::TooManyPages { max: 5 },
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(pages.load(Ordering::SeqCst), 5);
}

// ----- token lifetimes -----

#[tokio::test]
async fn odd_token_lifetimes_never_mean_one_token_request_per_call() {
    for expires_in in [
        json!(0),
        json!(-30),
        json!("30"),
        json!(1e300),
        json!("never"),
    ] {
        let tokens = Arc::new(AtomicUsize::new(0));
        let counter = tokens.clone();
        let lifetime = expires_in.clone();
        let server = Hostile::start(move |path: &str| {
            if path.starts_with("/v2/auth/token") {
                counter.fetch_add(1, Ordering::SeqCst);
                return Answer::json(
                    200,
                    &json!({"access_token": "hostile-access-token-0a9b8c7d", "expires_in": lifetime}),
                );
            }
            Answer::json(200, &json!({"_data": []}))
        })
        .await;
        // The default margin is 60 s: longer than a 30 s token's whole life.
        let conn = v2(settings(&server));
        for _ in 0..10 {
            conn.get("/persons").send().await.expect("ok");
        }
        assert_eq!(tokens.load(Ordering::SeqCst), 1, "expires_in {expires_in}");
    }
}

// ----- the authorization flows -----

/// Every metadata, registration, credentials and token response of the authorization flows is
/// read up to 64 KiB, whatever the server streams.
#[tokio::test]
async fn the_authorization_flows_read_at_most_64_kib_per_response() {
    use support::fake_oauth::CATALOG;
    use terapi_runtime::client::{AuthorizationRequest, Connection as Runtime, OAuthClient};
    let server = Hostile::start(|_| Answer::new(200, Body::Endless)).await;
    let settings = settings(&server);
    let too_large = |error: &Error| matches!(error, Error::BodyTooLarge { limit, .. } if *limit == SMALL_BODY_BYTES as u64);
    // RFC 7591 registration (MCP_OAUTH2).
    let mcp = support::loopback::provider(CATALOG, "acme-mcp");
    let error =
        expect_err(OAuthClient::register(mcp, "http://127.0.0.1:9/cb", "t", &settings).await);
    assert!(too_large(&error), "{error:?}");
    // RFC 9728 / RFC 8414 discovery (MCP_OAUTH2_GENERIC).
    let generic = support::loopback::provider(CATALOG, "acme-mcp-generic");
    let config = terapi_runtime::spec::ParamValues::from_json(
        &generic,
        &json!({"mcp_server_url": "https://mcp.example/mcp"}),
        &json!({}),
    )
    .unwrap();
    let error = expect_err(
        Runtime::authorize_discovered(
            generic,
            &config,
            &OAuthClient::public("c"),
            AuthorizationRequest::new("http://127.0.0.1:9/cb").settings(&settings),
        )
        .await,
    );
    assert!(too_large(&error), "{error:?}");
    // The code exchange (OAUTH2), with a pending flow and a callback that match.
    let acme = support::loopback::provider(CATALOG, "acme");
    let pending = terapi_runtime::client::authorize_json(
        acme.clone(),
        &json!({"tenant": "north"}),
        &OAuthClient::new("id", "secret"),
        AuthorizationRequest::new("http://127.0.0.1:9/cb").settings(&settings),
    )
    .unwrap();
    let callback = format!("http://127.0.0.1:9/cb?code=c&state={}", pending.state());
    let error =
        expect_err(Runtime::from_callback(acme, pending, &callback, settings.clone()).await);
    assert!(
        matches!(
            error,
            Error::BodyTooLarge {
                step: Step::Token,
                ..
            }
        ),
        "{error:?}"
    );
    // What the socket buffers took of four endless responses (about 4 MB each, as for the
    // other attacks), not what the client read.
    eprintln!(
        "authorization flows: {} bytes written by the server over {} requests",
        server.written(),
        server.requests()
    );
    assert!(
        server.written() < 8 * MIB * server.requests() as u64,
        "the server wrote {} bytes",
        server.written()
    );
}
