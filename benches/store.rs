//! Criterion benchmarks of `terapi-store`.
//!
//! - `store_request`: one `GET /api/ping` of the fake OAuth provider (axum on 127.0.0.1)
//!   through a connection with a fresh token: `in_memory` (`Connection::from_tokens`) and
//!   `stored_sqlite` / `stored_postgres` (`Connection::from_store`). The store is not on the
//!   path of a request with a fresh token; the target is an overhead of at most 5% at p50.
//! - `store_ops`: `save_connection` (seal + upsert) and `connection` (read + open) of an
//!   OAuth connection, on a SQLite file (WAL, `synchronous=FULL`) and on PostgreSQL
//!   (loopback, `fsync=off` as `.ci/postgres.sh` starts it): the store's throughput is one
//!   over these times.
//! - `store_refresh`: eight store handles (eight database connections, as eight processes
//!   would have) each connect to one connection whose token has expired, and all send a
//!   request at once: the time until all eight have their answer, after exactly one refresh.
//!
//! PostgreSQL cases run when `TERAPI_TEST_POSTGRES_URL` names a server (`eval "$(.ci/postgres.sh
//! start)"`). `benches/report_store.sh` runs this and prints the figures of BENCHMARKS.md.
#![forbid(unsafe_code)]
#![allow(missing_docs)]

use terapi_test_support as support;

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;
use serde_json::json;
use support::fake_oauth::{CATALOG, CLIENT_ID, CLIENT_SECRET, FakeOAuth};
use terapi_runtime::client::{Connection, OAuthClient, Settings, TokenSet};
use terapi_store::{ConnectionRecord, FromStore as _, Keys, Specs, Store};

fn keys() -> Keys {
    Keys::new("bench", &[3; 32]).unwrap()
}

fn tokens(access: &str, refresh: &str, expires_in: i64) -> TokenSet {
    let at = if expires_in >= 0 {
        SystemTime::now() + Duration::from_secs(expires_in as u64)
    } else {
        SystemTime::now() - Duration::from_secs((-expires_in) as u64)
    };
    TokenSet::new(access.to_owned())
        .with_refresh_token(refresh.to_owned())
        .with_expires_at(at)
        .with_metadata("instance_url", "https://eu7.acme.example")
}

fn record(t: TokenSet) -> ConnectionRecord {
    ConnectionRecord::authorized(
        "acme",
        json!({"tenant": "north"}),
        OAuthClient::new(CLIENT_ID, CLIENT_SECRET),
        t,
    )
}

struct Db {
    name: &'static str,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

async fn databases() -> Vec<Db> {
    let dir = tempfile::tempdir().unwrap();
    let mut dbs = vec![Db {
        name: "sqlite",
        url: format!("sqlite:{}", dir.path().join("bench.db").display()),
        _dir: Some(dir),
    }];
    match std::env::var("TERAPI_TEST_POSTGRES_URL") {
        Ok(admin) if !admin.is_empty() => {
            let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            let name = format!("terapi_bench_{}", std::process::id());
            client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
                .await
                .unwrap();
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&format!("/{name}"));
            dbs.push(Db {
                name: "postgres",
                url: url.to_string(),
                _dir: None,
            });
        }
        _ => {
            eprintln!("store bench: TERAPI_TEST_POSTGRES_URL is not set; PostgreSQL cases skipped")
        }
    }
    dbs
}

async fn open(url: &str) -> Store {
    Store::open(url, keys())
        .await
        .unwrap()
        .with_catalog(Specs::from_iter([support::loopback::provider(
            CATALOG, "acme",
        )]))
}

/// 40 rounds (after one of warm-up) of 250 requests per case, the order rotating each
/// round, every request timed on its own: `interleaved.<case>.p50=<ns>` lines, and each
/// stored case's overhead over `in_memory` at p50 in %. Less exposed than criterion's one
/// case after another to load that comes and goes.
fn interleaved(runtime: &tokio::runtime::Runtime, cases: &[(String, Connection)]) {
    let mut times: Vec<Vec<u64>> = vec![Vec::new(); cases.len()];
    for round in 0..41 {
        for k in 0..cases.len() {
            let i = (round + k) % cases.len();
            let conn = &cases[i].1;
            runtime.block_on(async {
                for _ in 0..250 {
                    let start = Instant::now();
                    black_box(conn.get("/api/ping").send().await.unwrap().status());
                    if round > 0 {
                        times[i].push(start.elapsed().as_nanos() as u64);
                    }
                }
            });
        }
    }
    let p50: Vec<u64> = times
        .iter_mut()
        .map(|t| {
            t.sort_unstable();
            t[t.len() / 2]
        })
        .collect();
    for ((name, _), p) in cases.iter().zip(&p50) {
        println!("interleaved.{name}.p50={p}");
    }
    for ((name, _), p) in cases.iter().zip(&p50).skip(1) {
        println!(
            "interleaved.{name}.overhead_pct={:.2}",
            (*p as f64 / p50[0] as f64 - 1.0) * 100.0
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let fake = runtime.block_on(FakeOAuth::start());
    let settings = Settings::new().origin(fake.origin.clone());
    let dbs = runtime.block_on(databases());

    // store_request
    let (access, refresh) = fake.issue();
    let spec = support::loopback::provider(CATALOG, "acme");
    let in_memory = Connection::from_tokens(
        spec,
        &json!({"tenant": "north"}),
        OAuthClient::new(CLIENT_ID, CLIENT_SECRET),
        tokens(&access, &refresh, 3600),
        settings.clone(),
    )
    .unwrap();
    let mut cases = vec![("in_memory".to_owned(), in_memory)];
    for db in &dbs {
        let conn = runtime.block_on(async {
            let store = open(&db.url).await;
            store
                .save_connection("bench", &record(tokens(&access, &refresh, 3600)))
                .await
                .unwrap();
            Connection::from_store(&store, "bench", settings.clone())
                .await
                .unwrap()
        });
        cases.push((format!("stored_{}", db.name), conn));
    }
    for (name, conn) in &cases {
        let status = runtime
            .block_on(conn.get("/api/ping").send())
            .unwrap()
            .status();
        assert_eq!(status, 200, "{name}");
    }
    if std::env::var_os("TERAPI_BENCH_INTERLEAVED").is_some() {
        interleaved(&runtime, &cases);
        return;
    }
    let mut group = c.benchmark_group("store_request");
    group
        .sample_size(200)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    for (name, conn) in &cases {
        group.bench_function(name.as_str(), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(conn.get("/api/ping").send().await.unwrap().status());
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
    assert!(
        cases.iter().all(|(_, c)| c.token_requests() == 0),
        "no case refreshed"
    );

    // store_ops
    let mut group = c.benchmark_group("store_ops");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(5));
    for db in &dbs {
        let store = runtime.block_on(open(&db.url));
        let r = record(tokens(&access, &refresh, 3600));
        runtime.block_on(store.save_connection("ops", &r)).unwrap();
        group.bench_function(format!("save_{}", db.name), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(store.save_connection("ops", &r).await.unwrap());
                    }
                    start.elapsed()
                })
            })
        });
        group.bench_function(format!("load_{}", db.name), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(store.connection("ops").await.unwrap());
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();

    // store_refresh
    let mut group = c.benchmark_group("store_refresh");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for db in &dbs {
        let handles: Vec<Store> = runtime.block_on(async {
            let mut v = Vec::new();
            for _ in 0..8 {
                v.push(open(&db.url).await);
            }
            v
        });
        group.bench_function(format!("8_handles_{}", db.name), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (access, refresh) = fake.issue();
                        handles[0]
                            .save_connection("contended", &record(tokens(&access, &refresh, -5)))
                            .await
                            .unwrap();
                        let before = fake.fake.refreshes.load(Ordering::SeqCst);
                        let mut conns = Vec::new();
                        for h in &handles {
                            conns.push(
                                Connection::from_store(h, "contended", settings.clone())
                                    .await
                                    .unwrap(),
                            );
                        }
                        let start = Instant::now();
                        let calls = conns.iter().map(|c| c.get("/api/ping").send());
                        for r in futures_util::future::join_all(calls).await {
                            assert_eq!(r.unwrap().status(), 200);
                        }
                        total += start.elapsed();
                        assert_eq!(
                            fake.fake.refreshes.load(Ordering::SeqCst),
                            before + 1,
                            "one refresh"
                        );
                    }
                    total
                })
            })
        });
    }
    group.finish();
    c.final_summary();
}
