//! What the connections and proxy tests share: a server over a store for one fake provider,
//! keys with scopes, and a raw HTTP request for paths a URL library would normalise.

use std::time::Duration;

use terapi_runtime::client::{RetryPolicy, Settings};
use terapi_runtime::integration::Integrations;
use terapi_server::{Server, ServerConfig};
use terapi_store::{Keys, Specs, Store};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A server on a loopback port.
pub struct Running {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub store: Store,
    _task: tokio::task::JoinHandle<()>,
}

/// The catalog of the tests: Personio from providers.yaml, the fake OAuth provider's `acme`.
pub fn specs() -> Specs {
    let mut specs = Specs::new();
    specs.insert(terapi_test_support::personio_conn::spec("personio"));
    specs.insert(terapi_test_support::loopback::provider(
        terapi_test_support::fake_oauth::CATALOG,
        "acme",
    ));
    specs
}

/// Client settings that reach `origin`, quick retries, a short timeout.
pub fn settings(origin: &str) -> Settings {
    Settings::new()
        .origin(origin.to_owned())
        .retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            max_total_wait: Duration::from_secs(2),
            ..RetryPolicy::DEFAULT
        })
        .timeout(Duration::from_secs(2))
}

pub fn keys() -> Keys {
    Keys::new("a", &[7; 32]).unwrap()
}

/// A store at `url` with the tests' catalog.
pub async fn store(url: &str) -> Store {
    Store::open(url, keys())
        .await
        .unwrap()
        .with_catalog(specs())
}

/// A server over `store` whose providers are at `origin`, configured by `config`.
pub async fn start(store: Store, origin: &str, config: impl FnOnce(&mut ServerConfig)) -> Running {
    start_with(store, settings(origin), config).await
}

/// A server over `store` with the client `settings`, configured by `config`.
pub async fn start_with(
    store: Store,
    settings: Settings,
    config: impl FnOnce(&mut ServerConfig),
) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    let mut cfg = ServerConfig::new(url.parse().unwrap());
    config(&mut cfg);
    let server = Server::new(
        store.clone(),
        specs(),
        Integrations::default(),
        settings,
        cfg,
    );
    let router = server.router();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Running {
        url,
        store,
        _task: task,
    }
}

/// A secret key with `scopes`.
pub async fn key(store: &Store, scopes: &[&str]) -> String {
    let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    store.create_api_key("test", &scopes).await.unwrap().1
}

/// A connect session token.
pub async fn session(store: &Store) -> String {
    let end_user = terapi_store::EndUser {
        id: "u1".to_owned(),
        email: None,
        display_name: None,
    };
    store
        .create_connect_session(
            &end_user,
            None,
            &Default::default(),
            Duration::from_secs(600),
        )
        .await
        .unwrap()
        .1
}

pub fn client() -> reqwest::Client {
    terapi_test_support::http_client().build().unwrap()
}

/// A request written as is on a new connection (the path not normalised): the status and
/// the body.
pub async fn raw(url: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    raw_body(url, method, path, headers, "").await
}

/// [`raw`] with a body written as is after the headers (e.g. chunked).
pub async fn raw_body(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        text.push_str(&format!("{n}: {v}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
