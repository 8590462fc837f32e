//! Benchmarks of `terapi serve`'s connections and proxy, over loopback against the fake
//! OAuth provider (axum on 127.0.0.1), the server's store a SQLite file.
//!
//! - `proxy`: `GET /api/ping` (no latency at the fake) and `GET /api/me` (5 ms at the fake)
//!   sent `direct` to the fake with the access token, and `proxied` through
//!   `/proxy/{path}` with a secret key and `Connection-Id`. The target is an overhead of at
//!   most 10% at p50.
//! - `connection_read`: `GET /connections/{id}?include_credentials=true` of a connection with
//!   a fresh token (the store read, the key checked, the token from the connection kept in
//!   the process). The target is at most 2 ms at p50.
//!
//! With `TERAPI_BENCH_INTERLEAVED=1` it measures instead single requests of each case in
//! turn (rounds of 200 each, 20 rounds) and prints `interleaved.CASE.p50=NS` and `.p99`
//! lines: `server/benches/report_server.sh` prints those beside their targets.
#![forbid(unsafe_code)]
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;
use serde_json::json;
use terapi_runtime::client::{OAuthClient, RetryPolicy, Settings, TokenSet};
use terapi_runtime::integration::Integrations;
use terapi_server::{Server, ServerConfig};
use terapi_store::{ConnectionRecord, Keys, Specs, Store};
use terapi_test_support::fake_oauth::{CATALOG, CLIENT_ID, CLIENT_SECRET, FakeOAuth};

struct Setup {
    _fake: FakeOAuth,
    _dir: tempfile::TempDir,
    client: reqwest::Client,
    fake_url: String,
    server_url: String,
    access: String,
    key: String,
}

async fn setup() -> Setup {
    let fake = FakeOAuth::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("store.db").display());
    let mut specs = Specs::new();
    specs.insert(terapi_test_support::loopback::provider(CATALOG, "acme"));
    let store = Store::open(&db, Keys::new("bench", &[5; 32]).unwrap())
        .await
        .unwrap()
        .with_catalog(specs.clone());
    let (access, refresh) = fake.issue();
    let tokens = TokenSet::new(access.clone())
        .with_refresh_token(refresh)
        .with_expires_at(SystemTime::now() + Duration::from_secs(3600));
    store
        .create_connection(
            "bench",
            &ConnectionRecord::authorized(
                "acme",
                json!({"tenant": "north", "instance_url": "https://api.acme.example"}),
                OAuthClient::new(CLIENT_ID, CLIENT_SECRET),
                tokens,
            ),
        )
        .await
        .unwrap();
    let key = store
        .create_api_key("bench", &["admin".to_owned()])
        .await
        .unwrap()
        .1;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server_url = format!("http://{}", listener.local_addr().unwrap());
    let settings = Settings::new()
        .origin(fake.origin.clone())
        .retry(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::DEFAULT
        });
    let server = Server::new(
        store,
        specs,
        Integrations::default(),
        settings,
        ServerConfig::new(server_url.parse().unwrap()),
    );
    let router = server.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    terapi_runtime::client::install_tls_provider();
    let client = reqwest::Client::builder().build().unwrap();
    Setup {
        fake_url: fake.origin.clone(),
        _fake: fake,
        _dir: dir,
        client,
        server_url,
        access,
        key,
    }
}

#[derive(Clone, Copy)]
enum Case {
    Direct(&'static str),
    Proxied(&'static str),
    Read,
}

impl Case {
    fn name(self) -> String {
        match self {
            Case::Direct(p) => format!("direct_{}", p.trim_start_matches("/api/")),
            Case::Proxied(p) => format!("proxied_{}", p.trim_start_matches("/api/")),
            Case::Read => "connection_read".to_owned(),
        }
    }
}

async fn one(s: &Setup, case: Case) {
    let request = match case {
        Case::Direct(path) => s
            .client
            .get(format!("{}{path}", s.fake_url))
            .bearer_auth(&s.access),
        Case::Proxied(path) => s
            .client
            .get(format!("{}/proxy{path}", s.server_url))
            .bearer_auth(&s.key)
            .header("Connection-Id", "bench"),
        Case::Read => s
            .client
            .get(format!(
                "{}/connections/bench?include_credentials=true",
                s.server_url
            ))
            .bearer_auth(&s.key),
    };
    let res = request.send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200, "{}", case.name());
    black_box(res.bytes().await.unwrap());
}

const CASES: [Case; 5] = [
    Case::Direct("/api/ping"),
    Case::Proxied("/api/ping"),
    Case::Direct("/api/me"),
    Case::Proxied("/api/me"),
    Case::Read,
];

fn interleaved(rt: &tokio::runtime::Runtime, s: &Setup) {
    let mut times: Vec<Vec<u64>> = vec![Vec::new(); CASES.len()];
    rt.block_on(async {
        for case in CASES {
            for _ in 0..20 {
                one(s, case).await;
            }
        }
        for _ in 0..20 {
            for (i, case) in CASES.iter().enumerate() {
                let rounds = if matches!(case, Case::Direct("/api/me") | Case::Proxied("/api/me")) {
                    50
                } else {
                    200
                };
                for _ in 0..rounds {
                    let started = Instant::now();
                    one(s, *case).await;
                    times[i].push(started.elapsed().as_nanos() as u64);
                }
            }
        }
    });
    for (i, case) in CASES.iter().enumerate() {
        let t = &mut times[i];
        t.sort_unstable();
        let at = |q: f64| t[((t.len() as f64 - 1.0) * q).round() as usize];
        println!("interleaved.{}.p50={}", case.name(), at(0.5));
        println!("interleaved.{}.p99={}", case.name(), at(0.99));
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(setup());
    if std::env::var_os("TERAPI_BENCH_INTERLEAVED").is_some() {
        interleaved(&rt, &s);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("server");
    group.measurement_time(Duration::from_secs(5));
    for case in CASES {
        group.bench_function(case.name(), |b| b.iter(|| rt.block_on(one(&s, case))));
    }
    group.finish();
    c.final_summary();
}
