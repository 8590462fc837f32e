//! The harness: a [`TestServer`] on 127.0.0.1 over a fresh store, in front of a fake
//! provider (the origin override sends every provider request there), and keys and sessions
//! made through the store.

#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;
use terapi_runtime::client::{RetryPolicy, Settings};
use terapi_server::{Server, ServerConfig};
use terapi_store::{Keys, Specs, Store};
use terapi_test_support::db::{Db, Kind, db};
use tokio::sync::oneshot;

/// Every scope.
pub const ALL_SCOPES: &[&str] = terapi_store::API_SCOPES;

/// A store key for the tests (32 bytes, base64).
pub const STORE_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// What a test server is built from.
pub struct Options {
    /// The database.
    pub kind: Kind,
    /// Where provider requests go (`http://127.0.0.1:PORT` of a fake).
    pub origin: Option<String>,
    /// Providers besides the repository's catalog (e.g. the fake OAuth provider's).
    pub extra: Vec<terapi_runtime::spec::SpecRef>,
    /// Changes to the configuration.
    pub config: Box<dyn FnOnce(&mut ServerConfig) + Send>,
    /// An existing database to share (another replica).
    pub url: Option<String>,
}

impl Options {
    /// SQLite in memory, in front of `origin`.
    pub fn new(origin: &str) -> Options {
        Options {
            kind: Kind::Memory,
            origin: Some(origin.to_owned()),
            extra: Vec::new(),
            config: Box::new(|_| {}),
            url: None,
        }
    }

    /// On a database of `kind`.
    pub fn on(mut self, kind: Kind) -> Options {
        self.kind = kind;
        self
    }

    /// Another replica over the database at `url`.
    pub fn replica_of(mut self, url: &str) -> Options {
        self.url = Some(url.to_owned());
        self
    }

    /// With the configuration changed by `f`.
    pub fn config(mut self, f: impl FnOnce(&mut ServerConfig) + Send + 'static) -> Options {
        self.config = Box::new(f);
        self
    }

    /// With the providers of `catalog` (a providers.yaml text) too.
    pub fn with_catalog(mut self, catalog: &str) -> Options {
        let loaded = terapi_codegen::load(
            std::path::Path::new("test-catalog.yaml"),
            catalog,
            &terapi_codegen::Options::default(),
        )
        .expect("the test catalog loads");
        for spec in loaded.providers {
            self.extra
                .push(terapi_runtime::spec::SpecRef::from(std::sync::Arc::new(
                    spec,
                )));
        }
        self
    }
}

/// A server on loopback; stopped when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The server's own handle (its store, config).
    pub server: Server,
    /// The database (kept alive with the server).
    pub db: Option<Db>,
    /// The database's URL.
    pub db_url: String,
    /// A key with every scope.
    pub admin_key: String,
    /// The HTTP client of the test.
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

/// Client settings that reach `origin`, with quick retries.
pub fn settings(origin: Option<&str>) -> Settings {
    let settings = Settings::new()
        .retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            max_total_wait: Duration::from_secs(2),
            ..RetryPolicy::DEFAULT
        })
        .timeout(Duration::from_secs(20));
    match origin {
        Some(origin) => settings.origin(origin.to_owned()),
        None => settings,
    }
}

/// The repository's providers and `extra`.
pub fn specs(extra: &[terapi_runtime::spec::SpecRef]) -> Specs {
    let mut specs: Specs = terapi_providers::Provider::ALL
        .iter()
        .map(|p| p.spec())
        .collect();
    for spec in extra {
        specs.insert(spec.clone());
    }
    specs
}

impl TestServer {
    /// Starts a server with `options`; `None` when PostgreSQL was asked for and is not
    /// available outside CI (a printed skip).
    pub async fn start(options: Options) -> Option<TestServer> {
        let (db, url) = match options.url {
            Some(url) => (None, url),
            None => {
                let db = db(options.kind).await?;
                let url = db.url.clone();
                (Some(db), url)
            }
        };
        let specs = specs(&options.extra);
        let keys = Keys::parse(STORE_KEY).expect("the test key parses");
        let store = Store::open(&url, keys)
            .await
            .expect("the store opens")
            .with_catalog(specs.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let public = format!("http://{addr}");
        let mut config = ServerConfig::new(url::Url::parse(&public).unwrap());
        (options.config)(&mut config);
        let integrations = terapi_providers::integrations::integrations()
            .expect("the built-in integrations load")
            .clone();
        let server = Server::new(
            store.clone(),
            specs,
            integrations,
            settings(options.origin.as_deref()),
            config,
        );
        let admin = store
            .create_api_key(
                "test admin",
                &ALL_SCOPES.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
            .await
            .expect("a key is created");
        let (stop, stopped) = oneshot::channel::<()>();
        let running = server.clone();
        let done = tokio::spawn(async move {
            running
                .run(listener, async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Some(TestServer {
            url: public,
            server,
            db,
            db_url: url,
            admin_key: admin.1,
            http: terapi_test_support::http_client().build().unwrap(),
            stop: Some(stop),
            done: Some(done),
        })
    }

    /// A key with exactly `scopes`.
    pub async fn key(&self, scopes: &[&str]) -> String {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        self.server
            .store()
            .create_api_key("test key", &scopes)
            .await
            .expect("a key is created")
            .1
    }

    /// A connect session token for the end user `user`, allowed `providers` (all when empty).
    pub async fn session(&self, user: &str, providers: &[&str]) -> String {
        let body = serde_json::json!({
            "end_user": {"id": user, "email": format!("{user}@example.com")},
            "allowed_integrations": if providers.is_empty() { Value::Null } else { serde_json::json!(providers) },
        });
        let (status, body) = self.post("/connect/sessions", &self.admin_key, &body).await;
        assert_eq!(status, 201, "{body}");
        body["data"]["token"].as_str().expect("a token").to_owned()
    }

    /// `GET path` with `token` (no header when empty): the status and the JSON body
    /// (`Value::Null` when the body is not JSON).
    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, token, None, &[])
            .await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, token, Some(body), &[])
            .await
    }

    /// Any request, with extra headers.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if !token.is_empty() {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("a body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Stops the server and waits until it has drained.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The server's OAuth app for `acme`, the fake OAuth provider of `fake_oauth::CATALOG`.
pub fn acme_oauth_app(config: &mut ServerConfig) {
    use terapi_test_support::fake_oauth;
    config.oauth_apps.insert(
        "acme".to_owned(),
        terapi_server::OAuthApp::new(
            fake_oauth::CLIENT_ID.to_owned(),
            terapi_runtime::Secret::new(fake_oauth::CLIENT_SECRET),
            Vec::new(),
        ),
    );
}
